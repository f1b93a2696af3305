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

from typing import Sequence

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


def dfc_dataset_kwargs(no_savanna: bool, kwargs: dict) -> dict:
    """A DFC dataset's keyword arguments with the DFC classes and palette as its metainfo (the given metainfo
    may rename them, not change their number)."""
    expected = dfc_metainfo(no_savanna)
    metainfo = dict(kwargs.pop('metainfo', None) or {})
    classes = metainfo.get('classes')
    if classes is not None and len(classes) != len(expected['classes']):
        raise ValueError(f'metainfo gives {len(classes)} classes, but the DFC classes '
                         f'{"without" if no_savanna else "with"} Savanna are {len(expected["classes"])}')
    return dict(kwargs, metainfo=dict(expected, **metainfo))
