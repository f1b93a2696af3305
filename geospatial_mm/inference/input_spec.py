"""What a model reads from disk: its loader, the files of a sample and how its bands are read from each file.

Built from a config's test pipeline (:func:`geospatial_mm.inference.model.inference_pipeline`) or from an exported
model's metadata (:mod:`geospatial_mm.inference.exported_model`); the runner finds samples by it and the predictors
check inputs against it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from geospatial_mm.io.band_reader import BandReader


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

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> 'InputSpec':
        data = dict(data)
        data['path_keys'] = tuple(data['path_keys'])
        return cls(**data)
