"""What a model reads from disk: its loader, the files of a sample and how its bands are read from each file.

Built from a config's test pipeline (:func:`geospatial_mm.inference.model.inference_pipeline`) or from an exported
model's metadata (:mod:`geospatial_mm.inference.exported_model`); the runner finds samples by it and the predictors
check inputs against it.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import NDArray

from geospatial_mm.io.band_reader import BandReader, LoadedImage, ReaderArgs, read_band_groups, read_pair
from geospatial_mm.io.raster import Window

# a pipeline step's arguments as a config gives them (``type`` and the transform's keyword arguments): config data
LoaderArgs: TypeAlias = dict[str, Any]
# the files of a sample: path key -> a path, or the paths of the dates
SamplePaths: TypeAlias = Mapping[str, str | Sequence[str]]
# what replaces a loader's scaling: ``scale``, ``offset`` and ``clip`` (low, high); None keeps the loader's
Scaling: TypeAlias = Mapping[str, float | Sequence[float] | None]


@dataclass
class InputSpec:
    """What the per-tile pipeline reads: its loader and how samples are laid out on disk."""
    loader: LoaderArgs
    path_keys: tuple[str, ...]  # e.g. ('img_path',), ('img_path', 'post_img_path') or ('s2_path', 's1_path')
    is_pair: bool
    bands_per_frame: int | None  # C of the (C, T, H, W) input, when the pipeline reshapes to frames
    num_frames: int
    stacked_frames: bool | None  # one file holds every date (True), one file per date (False), unknown (None)
    source_bands: dict[str, list[int]] | None = None  # band groups from several files: path key -> its bands
    readers: dict[str, ReaderArgs] | None = None  # path key -> the BandReader arguments its files are read with

    @property
    def multi_source(self) -> bool:
        """Several files of different content per sample (LoadGeospatialBandGroups), in sibling folders."""
        return self.source_bands is not None

    @property
    def band_indices(self) -> list[int] | None:
        """The 0-based bands the loader reads from each file (its frames' bands in order; None: all)."""
        if self.loader.get('frames'):
            return [int(b) for frame in self.loader['frames'] for b in frame]
        bands = self.loader.get('bands')
        return None if bands is None else list(bands)

    def bands_for(self, path_key: str) -> list[int] | None:
        """The 0-based bands read from the file of ``path_key``.

        Returns:
            The bands (None: all).
        """
        return self.source_bands[path_key] if self.source_bands is not None else self.band_indices

    def band_readers(self) -> list[BandReader]:
        """One reader per path key, in the order of ``path_keys`` (their images are concatenated in that order).

        Returns:
            The readers.

        Raises:
            ValueError: the spec has no reader arguments.
        """
        if self.readers is None:
            raise ValueError('this input spec has no reader arguments (readers)')
        readers = self.readers
        return [BandReader(**readers[key]) for key in self.path_keys]

    def read(self, readers: Sequence[BandReader], paths: SamplePaths,
             window: Window) -> tuple[NDArray[Any], NDArray[np.bool_]]:
        """``window`` of a sample's files (``{path key: path, or paths of the dates}``) read by ``readers``.

        ``readers`` are one per path key (:meth:`band_readers`).

        Returns:
            The images concatenated along channels in path-key order, as a config's pipeline packs them, ``(C, H,
            W)`` float32, and the nodata mask ``(H, W)`` (nodata in any file).
        """
        files = [paths[key] for key in self.path_keys]
        loaded: list[LoadedImage]
        if self.multi_source:
            loaded, nodata = read_band_groups(readers, [_one(f) for f in files], window)
        elif self.is_pair:
            loaded = read_pair(readers, [_one(f) for f in files], window)
            nodata = np.logical_or.reduce([o['nodata_mask'] for o in loaded])
        else:
            first = files[0]
            loaded = [readers[0].load([first] if isinstance(first, str) else list(first), window)]
            nodata = loaded[0]['nodata_mask']
        image = np.concatenate([o['img'] for o in loaded]) if len(loaded) > 1 else loaded[0]['img']
        return image, nodata

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data (an exported model's ``spec`` metadata).

        Returns:
            Every field under its own name.
        """
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InputSpec:
        """The spec of :meth:`to_dict`'s data (``path_keys`` may be a list, as JSON has it).

        Returns:
            The spec.
        """
        data = dict(data)
        data['path_keys'] = tuple(data['path_keys'])
        return cls(**data)


SCALING_KEYS = ('scale', 'offset', 'clip')


def _one(path: str | Sequence[str]) -> str:
    """The path of a file that is read alone (pairs and band groups have one file per path key)."""
    return path if isinstance(path, str) else path[0]


def override_loader(loader: Mapping[str, Any], multi_source: bool, bands: Sequence[int] | None = None,
                    scaling: Scaling | None = None) -> LoaderArgs:
    """A copy of a loader's arguments with the tool's overrides.

    ``bands`` replaces the loader's band selection (``-bands``); for a loader with frames (band groups), the list is
    cut into as many equal groups. ``scaling`` (``scale``, ``offset``, ``clip``) replaces how the loader turns file
    values into the model's units (another sensor's or product level's rasters for the same model). A loader of
    several files of different content (``multi_source``) takes neither: each file has its own settings.

    Returns:
        The loader's arguments with the overrides.

    Raises:
        ValueError: an unknown scaling key, an override a loader of several files does not take, or bands that do not
            split into the loader's frames.
    """
    args: LoaderArgs = copy.deepcopy(dict(loader))
    given = {k: v for k, v in (scaling or {}).items() if v is not None}
    unknown = sorted(set(given) - set(SCALING_KEYS))
    if unknown:
        raise ValueError(f'unknown input scaling {unknown}; expected {SCALING_KEYS}')
    if multi_source:
        if given:
            raise ValueError(f'{args["type"]} reads several files, each with its own scale: set their scaling in '
                             'the config (its sources), not with --input-scale/--input-offset/--input-clip')
        if bands is not None:
            raise ValueError(f'-bands cannot be used with {args["type"]}, which reads band groups from several '
                             'files: choose its bands in the config')
        return args
    clip = given.get('clip')
    if isinstance(clip, Sequence):
        given['clip'] = [float(c) for c in clip]
    args.update(given)
    if bands is not None:
        chosen = [int(b) for b in bands]
        if args.get('frames'):
            groups = len(args['frames'])
            if len(chosen) % groups:
                raise ValueError(f'-bands lists {len(chosen)} bands, which do not split into the config\'s {groups} '
                                 'frames')
            size = len(chosen) // groups
            args['frames'] = [chosen[i * size:(i + 1) * size] for i in range(groups)]
        else:
            args['bands'] = chosen
    return args
