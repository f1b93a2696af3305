"""Small, learnable synthetic datasets laid out on disk exactly like the real ones, for demos and tests.

One module per dataset, each with ``make(out, size, n_train, n_val, seed, ...) -> Path`` that writes the dataset
under ``out`` (in the folder the real one is named after) and returns that folder; the same arguments always write
the same files. :data:`MAKERS` names them; a module is imported when its maker is first called, so that importing
this package adds no import of its own (the makers use rasterio, shapely, scipy and the dataset modules, which import
the OpenMMLab libraries). ``tools/make_demo_data.py`` is the command line over it.
"""
from __future__ import annotations

import importlib
from pathlib import Path


class LazyMaker:
    """``make`` of the module ``geospatial_mm.demo.<name>``, imported on the first call."""

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def module(self):
        return importlib.import_module(f'{__name__}.{self.name}')

    def __call__(self, out: Path, size: int, n_train: int, n_val: int, seed: int, **kwargs) -> Path:
        return self.module.make(out, size, n_train, n_val, seed, **kwargs)

    def __repr__(self) -> str:
        return f'{__name__}.{self.name}.make'


MAKERS = dict(burn_scars=LazyMaker('burn_scars'), sen1floods11=LazyMaker('sen1floods11'), crop=LazyMaker('crop'),
              hephaestus=LazyMaker('hephaestus'), sen12ms=LazyMaker('sen12ms'), slumps=LazyMaker('slumps'),
              xbd=LazyMaker('xbd'))
# the package's copy of the checkout's data_splits/ (setup.py places it there; a link in an editable install)
DATA_SPLITS = Path(__file__).resolve().parents[1] / '.mim' / 'data_splits'
DEFAULT_SIZES = dict(crop=224, sen12ms=256)  # the real datasets' sides; 512 for the others


def default_size(name: str) -> int:
    """The side in pixels of the real rasters of dataset ``name`` (224 for the crop chips, 256 for SEN12MS and
    DFC2020, 512 for the others; slumps: the labelled part of the scene)."""
    return DEFAULT_SIZES.get(name, 512)


__all__ = ['DATA_SPLITS', 'MAKERS', 'DEFAULT_SIZES', 'LazyMaker', 'default_size']
