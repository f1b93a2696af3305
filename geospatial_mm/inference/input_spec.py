"""What a model reads from disk: its loader, the files of a sample and how its bands are read from each file.

Built from a config's test pipeline (:func:`geospatial_mm.inference.model.inference_pipeline`) or from an exported
model's metadata (:mod:`geospatial_mm.inference.exported_model`); the runner finds samples by it and the predictors
check inputs against it.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import numpy as np

from geospatial_mm.io.band_reader import BandReader, read_band_groups, read_pair


@dataclass
class InputSpec:
    """What the per-tile pipeline reads: its loader and how samples are laid out on disk."""
    loader: dict
    path_keys: tuple  # e.g. ('img_path',), ('img_path', 'post_img_path') or ('s2_path', 's1_path')
    is_pair: bool
    bands_per_frame: int | None  # C of the (C, T, H, W) input, when the pipeline reshapes to frames
    num_frames: int
    stacked_frames: bool | None  # one file holds every date (True), one file per date (False), unknown (None)
    source_bands: dict | None = None  # band groups from several files: path key -> its bands
    readers: dict | None = None  # path key -> the BandReader arguments its files are read with

    @property
    def multi_source(self) -> bool:
        """Several files of different content per sample (LoadGeospatialBandGroups), in sibling folders."""
        return self.source_bands is not None

    @property
    def band_indices(self) -> list[int] | None:
        if self.loader.get('frames'):
            return [b for frame in self.loader['frames'] for b in frame]
        return self.loader.get('bands')

    def bands_for(self, path_key: str) -> list[int] | None:
        """The 0-based bands read from the file of ``path_key`` (None: all)."""
        return self.source_bands[path_key] if self.multi_source else self.band_indices

    def band_readers(self) -> list[BandReader]:
        """One reader per path key, in the order of ``path_keys`` (their images are concatenated in that order)."""
        return [BandReader(**self.readers[key]) for key in self.path_keys]

    def read(self, readers: list[BandReader], paths: dict, window) -> tuple[np.ndarray, np.ndarray]:
        """``window`` of a sample's files (``{path key: path, or paths of the dates}``) read by ``readers`` (one per
        path key, :meth:`band_readers`): the images concatenated along channels in path-key order, as a config's
        pipeline packs them, ``(C, H, W)`` float32, and the nodata mask ``(H, W)`` (nodata in any file)."""
        files = [paths[key] for key in self.path_keys]
        if self.multi_source:
            loaded, nodata = read_band_groups(readers, files, window)
        elif self.is_pair:
            loaded = read_pair(readers, files, window)
            nodata = np.logical_or.reduce([o['nodata_mask'] for o in loaded])
        else:
            first = files[0]
            loaded = [readers[0].load([first] if isinstance(first, str) else list(first), window)]
            nodata = loaded[0]['nodata_mask']
        image = np.concatenate([o['img'] for o in loaded]) if len(loaded) > 1 else loaded[0]['img']
        return image, nodata

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> 'InputSpec':
        data = dict(data)
        data['path_keys'] = tuple(data['path_keys'])
        return cls(**data)


SCALING_KEYS = ('scale', 'offset', 'clip')


def override_loader(loader: dict, multi_source: bool, bands=None, scaling: dict | None = None) -> dict:
    """A copy of a loader's arguments with the tool's overrides.

    ``bands`` replaces the loader's band selection (``-bands``); for a loader with frames (band groups), the list is
    cut into as many equal groups. ``scaling`` (``scale``, ``offset``, ``clip``) replaces how the loader turns file
    values into the model's units (another sensor's or product level's rasters for the same model). A loader of
    several files of different content (``multi_source``) takes neither: each file has its own settings.
    """
    loader = copy.deepcopy(dict(loader))
    scaling = {k: v for k, v in (scaling or {}).items() if v is not None}
    unknown = sorted(set(scaling) - set(SCALING_KEYS))
    if unknown:
        raise ValueError(f'unknown input scaling {unknown}; expected {SCALING_KEYS}')
    if multi_source:
        if scaling:
            raise ValueError(f'{loader["type"]} reads several files, each with its own scale: set their scaling in '
                             'the config (its sources), not with --input-scale/--input-offset/--input-clip')
        if bands is not None:
            raise ValueError(f'-bands cannot be used with {loader["type"]}, which reads band groups from several '
                             'files: choose its bands in the config')
        return loader
    if 'clip' in scaling:
        scaling['clip'] = [float(c) for c in scaling['clip']]
    loader.update(scaling)
    if bands is not None:
        bands = [int(b) for b in bands]
        if loader.get('frames'):
            groups = len(loader['frames'])
            if len(bands) % groups:
                raise ValueError(f'-bands lists {len(bands)} bands, which do not split into the config\'s {groups} '
                                 'frames')
            size = len(bands) // groups
            loader['frames'] = [bands[i * size:(i + 1) * size] for i in range(groups)]
        else:
            loader['bands'] = bands
    return loader
