"""SEN12MS and DFC2020 land cover from Sentinel-1 and Sentinel-2: band groups, the IGBP -> DFC class map, datasets.

Layouts on disk (GeoTIFF patches of 256 x 256 pixels at 10 m)::

    SEN12MS root/ROIs1158_spring/s1_7/ROIs1158_spring_s1_7_p30.tif   2 bands, float32 dB: VV, VH
                                /s2_7/ROIs1158_spring_s2_7_p30.tif   13 bands, uint16: B1 ... B12 (with B8A)
                                /lc_7/ROIs1158_spring_lc_7_p30.tif   4 bands, uint8: IGBP, LCCS_LC, LCCS_LU, LCCS_SH
            root/ROIs1868_summer/..., ROIs1970_fall/..., ROIs2017_winter/...
            root/SEN12MS_holdOutScenes.txt                          the official hold-out scenes (ROIs1158_spring/s1_63)
    DFC2020 root/ROIs0000_validation/{s1,s2,dfc}_validation/ROIs0000_validation_{s1,s2,dfc}_0_p0.tif
            root/ROIs0000_test/{s1,s2,dfc}_0/ROIs0000_test_{s1,s2,dfc}_0_p0.tif     (dfc: DFC classes 1-10)
    unlabeled pairs: root/s1/<name>.tif and root/s2/<name>.tif ('_s1_' / '_s2_' in the names ignored when matching)

SEN12MS labels are MODIS IGBP classes (17), mapped to the 10 DFC2020 classes; with ``no_savanna`` the class Savanna
is ignored in training and scoring and the later classes move up by one. Class indices are 0-based (DFC class 1 is
index 0); 255 is ignored.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Sequence

import numpy as np
from mmengine.logging import print_log
from mmengine.registry import TRANSFORMS
from mmseg.registry import DATASETS

from geospatial_mm.io import RasterError, RasterMeta
from geospatial_mm.io.names import folder_token
from .paired_folders import PairedFolderSegDataset
from .transforms.loading import LoadGeospatialAnnotations, LoadGeospatialBandGroups

# -- the published tables ------------------------------------------------------------------------------------------
S2_BANDS = ('B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8', 'B8A', 'B9', 'B10', 'B11', 'B12')  # file order
S1_BANDS = ('VV', 'VH')
BAND_GROUPS = {
    's2hr': ('B2', 'B3', 'B4', 'B8'),  # 10 m
    's2mr': ('B5', 'B6', 'B7', 'B8A', 'B11', 'B12'),  # 20 m
    's2lr': ('B1', 'B9', 'B10'),  # 60 m
    's1': S1_BANDS,
}
S2_CLIP = (0.0, 10000.0)  # digital numbers, scaled to 0-1 reflectance
S1_CLIP = (-25.0, 0.0)  # dB, scaled to 0-1; NaN becomes 0 dB first

DFC_CLASSES = ('Forest', 'Shrubland', 'Savanna', 'Grassland', 'Wetlands', 'Croplands', 'Urban/Built-up', 'Snow/Ice',
               'Barren', 'Water')  # DFC codes 1-10
DFC_PALETTE = [[0, 153, 0], [198, 176, 68], [251, 255, 19], [182, 255, 5], [39, 255, 135], [194, 79, 68],
               [165, 165, 165], [105, 255, 248], [249, 255, 164], [28, 13, 255]]
IGBP_CLASSES = ('Evergreen Needleleaf Forests', 'Evergreen Broadleaf Forests', 'Deciduous Needleleaf Forests',
                'Deciduous Broadleaf Forests', 'Mixed Forests', 'Closed Shrublands', 'Open Shrublands',
                'Woody Savannas', 'Savannas', 'Grasslands', 'Permanent Wetlands', 'Croplands',
                'Urban and Built-up Lands', 'Cropland/Natural Vegetation Mosaics', 'Permanent Snow and Ice',
                'Barren', 'Water Bodies')  # IGBP codes 1-17
IGBP_TO_DFC = {1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 2, 7: 2, 8: 3, 9: 3, 10: 4, 11: 5, 12: 6, 13: 7, 14: 6, 15: 8,
               16: 9, 17: 10}
SAVANNA = 3  # DFC code
IGNORE_INDEX = 255


def dfc_metainfo(no_savanna: bool = False) -> dict:
    """Classes and palette of the training classes."""
    keep = [i for i in range(len(DFC_CLASSES)) if not (no_savanna and i + 1 == SAVANNA)]
    return dict(classes=tuple(DFC_CLASSES[i] for i in keep), palette=[list(DFC_PALETTE[i]) for i in keep])


def dfc_code_to_index(no_savanna: bool = False) -> dict[int, int]:
    """DFC code (0 = no label, 1-10) -> class index (0-based; 255 ignored)."""
    out = {0: IGNORE_INDEX}
    for code in range(1, len(DFC_CLASSES) + 1):
        if no_savanna and code == SAVANNA:
            out[code] = IGNORE_INDEX
        else:
            out[code] = code - 1 - int(no_savanna and code > SAVANNA)
    return out


def label_map(scheme: str, no_savanna: bool = False) -> dict[int, int]:
    """Raw label value -> class index, for ``scheme`` 'igbp' (SEN12MS lc band 1) or 'dfc' (DFC2020 dfc files)."""
    to_index = dfc_code_to_index(no_savanna)
    if scheme == 'dfc':
        return to_index
    if scheme == 'igbp':
        return {0: IGNORE_INDEX, **{igbp: to_index[dfc] for igbp, dfc in IGBP_TO_DFC.items()}}
    raise ValueError(f"unknown label scheme {scheme!r}; expected 'igbp' (SEN12MS) or 'dfc' (DFC2020)")


def band_indices(groups: Sequence[str]) -> tuple[list[int], list[int]]:
    """0-based (S2 bands in file order, S1 bands) of the chosen ``groups`` (names of :data:`BAND_GROUPS`)."""
    unknown = [g for g in groups if g not in BAND_GROUPS]
    if unknown or not groups:
        raise ValueError(f'unknown band group(s) {unknown or list(groups)}; choose from {sorted(BAND_GROUPS)}')
    if len(set(groups)) != len(groups):
        raise ValueError(f'band groups {list(groups)} repeat a group')
    s2 = sorted(S2_BANDS.index(b) for g in groups if g != 's1' for b in BAND_GROUPS[g])
    s1 = [S1_BANDS.index(b) for b in S1_BANDS] if 's1' in groups else []
    return s2, s1


# -- transforms ----------------------------------------------------------------------------------------------------
@TRANSFORMS.register_module()
class LoadSEN12MSImage(LoadGeospatialBandGroups):
    """The chosen band groups of a SEN12MS / DFC2020 sample as one float32 image: the Sentinel-2 bands of the groups
    in file order (clipped to 0-10000, divided by 10000), then Sentinel-1 VV, VH (NaN -> 0 dB, clipped to -25-0 dB,
    mapped to 0-1 by x / 25 + 1).

    Args:
        groups: any of ``'s2hr'`` (B2 B3 B4 B8), ``'s2mr'`` (B5 B6 B7 B8A B11 B12), ``'s2lr'`` (B1 B9 B10), ``'s1'``.
        s2_key, s1_key: where the sample's Sentinel-2 / Sentinel-1 paths are.
    """

    def __init__(self, groups: Sequence[str] = ('s2hr', 's2mr', 's1'), s2_key: str = 's2_path',
                 s1_key: str = 's1_path', **kwargs) -> None:
        self.groups = list(groups)
        s2, s1 = band_indices(self.groups)
        sources = []
        if s2:
            sources.append(dict(path_key=s2_key, bands=s2, clip=S2_CLIP, scale=1 / 10000))
        if s1:
            sources.append(dict(path_key=s1_key, bands=s1, nan_replace=0.0, clip=S1_CLIP, scale=1 / 25, offset=1.0))
        super().__init__(sources=sources, **kwargs)

    @property
    def channel_names(self) -> list[str]:
        s2, s1 = band_indices(self.groups)
        return [S2_BANDS[b] for b in s2] + [S1_BANDS[b] for b in s1]

    def transform(self, results: dict) -> dict:
        results = super().transform(results)
        results['geo_meta']['band_names'] = tuple(self.channel_names)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(groups={self.groups}, channels={self.channel_names})'


@TRANSFORMS.register_module()
class LoadSEN12MSAnnotations(LoadGeospatialAnnotations):
    """Land-cover labels as class indices: ``scheme='igbp'`` reads the IGBP band of SEN12MS ``lc`` files and maps
    it to the DFC classes, ``scheme='dfc'`` reads DFC2020 ``dfc`` files (DFC codes). 0 (no label) is ignored; with
    ``no_savanna`` so is Savanna, and the later classes move up by one. A value outside the scheme is an error
    naming the file and the values found."""

    def __init__(self, scheme: str = 'igbp', no_savanna: bool = False, **kwargs) -> None:
        if kwargs.get('label_map') is not None or kwargs.get('reduce_zero_label'):
            raise ValueError('LoadSEN12MSAnnotations makes its own label map; do not give label_map or '
                             'reduce_zero_label')
        self.scheme = scheme
        self.no_savanna = no_savanna
        kwargs.setdefault('ignore_index', IGNORE_INDEX)
        super().__init__(band=0, label_map=label_map(scheme, no_savanna), **kwargs)

    def convert(self, raw: np.ndarray, meta: RasterMeta, path: str, label_map: dict | None = None) -> np.ndarray:
        valid_codes = np.asarray(sorted(self.label_map))
        values = np.unique(raw[np.isfinite(raw)] if raw.dtype.kind == 'f' else raw)
        nodata = self.nodata if self.nodata is not None else meta.nodata
        skip = set(self.ignore_values) | ({nodata} if nodata is not None else set())
        bad = [v for v in values.tolist() if v not in skip and v not in valid_codes]
        if bad:
            names = 'IGBP codes 0-17' if self.scheme == 'igbp' else 'DFC codes 0-10'
            raise RasterError(f'{path}: label values must be {names} (0: no label), found {bad[:10]}')
        return super().convert(raw, meta, path)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(scheme={self.scheme!r}, no_savanna={self.no_savanna})'


# -- datasets ------------------------------------------------------------------------------------------------------
def _dfc_kwargs(no_savanna: bool, kwargs: dict) -> dict:
    expected = dfc_metainfo(no_savanna)
    metainfo = dict(kwargs.pop('metainfo', None) or {})
    classes = metainfo.get('classes')
    if classes is not None and len(classes) != len(expected['classes']):
        raise ValueError(f'metainfo gives {len(classes)} classes, but the DFC classes '
                         f'{"without" if no_savanna else "with"} Savanna are {len(expected["classes"])}')
    return dict(kwargs, metainfo=dict(expected, **metainfo))


@DATASETS.register_module()
class SEN12MSDataset(PairedFolderSegDataset):
    """SEN12MS triplets (s1, s2, lc) of the four season folders, split by the official hold-out scene list.

    Args:
        split: ``'train'`` (every scene not in the list) or ``'holdout'`` (the listed scenes).
        ann_file: the hold-out scene list (``SEN12MS_holdOutScenes.txt``, lines like ``ROIs1158_spring/s1_63``);
            relative paths are under ``data_root``. The package ships it in ``data_splits/sen12ms/``.
        seasons: season folders to use; None: every ``ROIs<n>_<spring|summer|fall|winter>`` folder of the root.
        no_savanna: the 9 classes without Savanna (else 10).
        sources: path key -> folder token (``s2_path``: ``s2`` is the primary; drop ``s1_path`` for S2-only data).
    """
    SEASON_PATTERN = re.compile(r'ROIs\d+_(spring|summer|fall|winter)$')

    def __init__(self, split: str = 'train', ann_file: str = 'SEN12MS_holdOutScenes.txt',
                 seasons: Sequence[str] | None = None, no_savanna: bool = False,
                 sources: dict | None = None, **kwargs) -> None:
        if split not in ('train', 'holdout'):
            raise ValueError(f"SEN12MSDataset split must be 'train' or 'holdout', got {split!r}")
        self.split = split
        self.seasons = list(seasons) if seasons is not None else None
        self.no_savanna = no_savanna
        sources = sources or dict(s2_path='s2', s1_path='s1', seg_map_path='lc')
        super().__init__(sources=sources, ann_file=ann_file, **_dfc_kwargs(no_savanna, kwargs))

    def holdout_scenes(self) -> set[tuple[str, str]]:
        """``{(season folder, scene number)}`` of the hold-out list."""
        path = Path(self.ann_file)
        if not path.is_file():
            raise FileNotFoundError(f'{path}: SEN12MS hold-out scene list not found (SEN12MS_holdOutScenes.txt; a '
                                    'copy is in data_splits/sen12ms/)')
        scenes = set()
        for n, line in enumerate(path.read_text().splitlines(), 1):
            line = line.split(',')[0].strip()
            if not line:
                continue
            parts = line.split('/')
            found = folder_token(parts[-1], ('s1', 's2', 'lc')) if len(parts) == 2 else None
            if not found or not found[1]:
                raise ValueError(f'{path}:{n}: expected a scene like ROIs1158_spring/s1_63, found {line!r}')
            scenes.add((parts[0], found[1]))
        if not scenes:
            raise ValueError(f'{path}: lists no scene')
        return scenes

    def scene_folders(self, root: Path) -> list[Path]:
        if not root.is_dir():
            raise FileNotFoundError(f'{root}: SEN12MS folder not found')
        if self.seasons is not None:
            missing = [s for s in self.seasons if not (root / s).is_dir()]
            if missing:
                raise FileNotFoundError(f'{root}: season folder(s) {missing} not found')
            return [root / s for s in self.seasons]
        found = sorted(p for p in root.iterdir() if p.is_dir() and self.SEASON_PATTERN.match(p.name))
        if not found:
            raise FileNotFoundError(f'{root}: no SEN12MS season folder (ROIs1158_spring, ROIs1868_summer, '
                                    'ROIs1970_fall, ROIs2017_winter)')
        print_log(f'SEN12MS {self.split}: season folders {[p.name for p in found]}', logger='current',
                  level=logging.INFO)
        return found

    def load_data_list(self) -> list[dict]:
        self._holdout = self.holdout_scenes()
        return super().load_data_list()

    def select_groups(self, scene: Path, groups: dict[str, dict[str, Path]]) -> list[str]:
        listed = {number for season, number in self._holdout if season == scene.name}
        if self.split == 'train':
            return sorted(g for g in groups if g not in listed)
        missing = sorted(listed - set(groups), key=lambda x: (len(x), x))
        if missing:
            raise FileNotFoundError(f'{scene}: hold-out scene(s) {missing} listed in {self.ann_file} not found '
                                    f'(expected {scene}/s2_{missing[0]})')
        return sorted(listed)


@DATASETS.register_module()
class DFC2020Dataset(PairedFolderSegDataset):
    """The DFC2020 validation or test patches (s1, s2 and dfc labels in DFC codes).

    Args:
        split: ``'validation'`` (root/ROIs0000_validation) or ``'test'`` (root/ROIs0000_test).
        no_savanna: the 9 classes without Savanna (else 10).
        sources: path key -> folder token; without ``seg_map_path`` the patches are read without labels.
    """

    def __init__(self, split: str = 'validation', no_savanna: bool = False, sources: dict | None = None,
                 **kwargs) -> None:
        if split not in ('validation', 'test'):
            raise ValueError(f"DFC2020Dataset split must be 'validation' or 'test', got {split!r}")
        self.split = split
        self.no_savanna = no_savanna
        sources = sources or dict(s2_path='s2', s1_path='s1', seg_map_path='dfc')
        super().__init__(sources=sources, **_dfc_kwargs(no_savanna, kwargs))

    def scene_folders(self, root: Path) -> list[Path]:
        scene = root / f'ROIs0000_{self.split}'
        if not scene.is_dir():
            raise FileNotFoundError(f'{scene}: DFC2020 {self.split} folder not found')
        return [scene]


@DATASETS.register_module()
class S1S2FolderDataset(PairedFolderSegDataset):
    """Unlabeled Sentinel-1/Sentinel-2 patches: ``root/s1/`` and ``root/s2/`` (or ``s1_<x>``/``s2_<x>`` folder
    pairs), matched by name with '_s1_' / '_s2_' ignored; the DFC classes for the model's outputs."""

    def __init__(self, no_savanna: bool = False, sources: dict | None = None, **kwargs) -> None:
        self.no_savanna = no_savanna
        super().__init__(sources=sources or dict(s2_path='s2', s1_path='s1'), **_dfc_kwargs(no_savanna, kwargs))
