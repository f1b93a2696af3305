"""Demo data laid out like SEN12MS and DFC2020 (land cover from Sentinel-1 and Sentinel-2)::

    <out>/sen12ms/ROIs{1158_spring,1868_summer,1970_fall,2017_winter}/{s1,s2,lc}_<n>/<season>_{s1,s2,lc}_<n>_p<k>.tif
    <out>/sen12ms/SEN12MS_holdOutScenes.txt                          the hold-out scenes written
    <out>/dfc2020/ROIs0000_validation/{s1,s2,lc,dfc}_validation/ROIs0000_validation_{s1,s2,lc,dfc}_0_p<k>.tif
    <out>/dfc2020/ROIs0000_test/{s1,s2,lc,dfc}_0/ROIs0000_test_{s1,s2,lc,dfc}_0_p<k>.tif

As in the real patches (10 m, UTM): s1 holds VV and VH as float32 dB (a few NaN, as in some SEN12MS patches), s2 the
13 Sentinel-2 bands as uint16 digital numbers, lc 4 uint8 bands of which the first holds IGBP classes at a coarse,
MODIS-like resolution, and the DFC2020 dfc files the DFC classes 1-10 at full resolution. The land cover is a mosaic
of regions of one DFC class each, with the spectra and backscatter of that class; the IGBP label of a coarse cell is
one of the IGBP classes that :data:`geospatial_mm.datasets.sen12ms_schema.IGBP_TO_DFC` maps to the cell's majority DFC
class. Training patches go to one scene per season beyond the official hold-out list, validation patches to the
first official hold-out scene of each season (listed in SEN12MS_holdOutScenes.txt) and to DFC2020's validation and
test folders.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from rasterio.transform import from_origin

from geospatial_mm.datasets.geospatial_seg import read_split_file
from geospatial_mm.datasets.sen12ms_schema import IGBP_TO_DFC
from geospatial_mm.io.atomic import write_text_atomic
from geospatial_mm.io.geotiff import write_geotiff
from . import DATA_SPLITS

HOLDOUT_FILE = DATA_SPLITS / 'sen12ms' / 'SEN12MS_holdOutScenes.txt'
# Per DFC class (Forest ... Water): Sentinel-2 reflectance of B1 ... B12 (13 bands) and Sentinel-1 VV, VH in dB.
DFC_S2 = np.array([
    [0.03, 0.03, 0.05, 0.03, 0.08, 0.22, 0.28, 0.30, 0.32, 0.10, 0.005, 0.14, 0.07],  # Forest
    [0.05, 0.06, 0.08, 0.09, 0.13, 0.20, 0.23, 0.25, 0.27, 0.09, 0.005, 0.25, 0.17],  # Shrubland
    [0.06, 0.07, 0.10, 0.12, 0.16, 0.21, 0.24, 0.26, 0.27, 0.09, 0.005, 0.30, 0.22],  # Savanna
    [0.04, 0.05, 0.08, 0.06, 0.12, 0.28, 0.34, 0.36, 0.38, 0.11, 0.005, 0.24, 0.13],  # Grassland
    [0.04, 0.05, 0.06, 0.05, 0.07, 0.12, 0.14, 0.15, 0.16, 0.06, 0.004, 0.08, 0.04],  # Wetlands
    [0.06, 0.07, 0.11, 0.09, 0.16, 0.33, 0.42, 0.45, 0.46, 0.13, 0.006, 0.30, 0.18],  # Croplands
    [0.10, 0.11, 0.13, 0.15, 0.17, 0.19, 0.20, 0.21, 0.22, 0.08, 0.006, 0.25, 0.22],  # Urban/Built-up
    [0.80, 0.82, 0.80, 0.78, 0.75, 0.72, 0.70, 0.68, 0.66, 0.30, 0.050, 0.10, 0.08],  # Snow/Ice
    [0.14, 0.16, 0.21, 0.26, 0.29, 0.31, 0.32, 0.33, 0.34, 0.12, 0.008, 0.40, 0.36],  # Barren
    [0.06, 0.05, 0.04, 0.03, 0.02, 0.015, 0.012, 0.01, 0.009, 0.005, 0.002, 0.005, 0.004],  # Water
])
DFC_S1 = np.array([[-7.5, -13.0], [-9.0, -16.0], [-9.5, -16.5], [-10.5, -17.5], [-6.0, -15.0], [-12.0, -18.5],
                   [-3.0, -10.0], [-13.0, -22.0], [-15.0, -24.0], [-21.0, -27.0]])
DFC_WEIGHTS = np.array([0.16, 0.10, 0.06, 0.14, 0.07, 0.15, 0.10, 0.03, 0.08, 0.11])  # class frequencies
# the inverse of the published map: DFC code -> its IGBP codes, in ascending order (the draws depend on the order)
DFC_TO_IGBP = {dfc: [igbp for igbp in sorted(IGBP_TO_DFC) if IGBP_TO_DFC[igbp] == dfc]
               for dfc in sorted(set(IGBP_TO_DFC.values()))}
SEASONS = {'ROIs1158_spring': 'EPSG:32633', 'ROIs1868_summer': 'EPSG:32618', 'ROIs1970_fall': 'EPSG:32650',
           'ROIs2017_winter': 'EPSG:32636'}  # season folder -> the CRS of its demo scenes
DFC2020_CRS = 'EPSG:32617'


def land_cover(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """``(size, size)`` uint8 DFC codes 1-10: a Voronoi partition into ``cells`` random regions of one class each."""
    yy, xx = np.mgrid[:size, :size]
    centres = rng.uniform(0, size, (cells, 2))
    nearest = np.argmin((yy[None] - centres[:, 0, None, None]) ** 2 + (xx[None] - centres[:, 1, None, None]) ** 2, 0)
    codes = rng.choice(np.arange(1, 11), size=cells, p=DFC_WEIGHTS / DFC_WEIGHTS.sum())
    return codes[nearest].astype(np.uint8)


def s1_s2_patch(rng: np.random.Generator, dfc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sentinel-2 ``(13, H, W)`` uint16 digital numbers and Sentinel-1 ``(2, H, W)`` float32 dB of the land cover
    ``dfc``; a fifth of the radar patches miss a few values (NaN)."""
    s2 = DFC_S2[dfc - 1].transpose(2, 0, 1) * 10000 * (1 + rng.normal(0, 0.12, (13,) + dfc.shape))
    s2 = np.clip(s2, 0, 65535).astype(np.uint16)
    s1 = DFC_S1[dfc - 1].transpose(2, 0, 1) + rng.normal(0, 1.5, (2,) + dfc.shape)
    s1 = s1.astype(np.float32)
    if rng.random() < 0.2:
        s1[:, rng.integers(0, dfc.shape[0], 3), rng.integers(0, dfc.shape[1], 3)] = np.nan
    return s2, s1


def coarse_igbp(rng: np.random.Generator, dfc: np.ndarray, block: int) -> np.ndarray:
    """IGBP codes in ``block`` x ``block`` cells (MODIS-like 500 m labels): each cell one of the IGBP classes of its
    majority DFC class, drawn at random."""
    size = dfc.shape[0]
    igbp = np.zeros_like(dfc)
    for r in range(0, size, block):
        for c in range(0, size, block):
            cell = dfc[r:r + block, c:c + block]
            major = np.bincount(cell.ravel(), minlength=11).argmax()
            igbp[r:r + block, c:c + block] = rng.choice(DFC_TO_IGBP[int(major)])
    return igbp


def write_patch(rng: np.random.Generator, folder: Path, prefix: str, scene: str, patch: int, size: int, crs: str,
                origin: tuple[float, float], with_dfc: bool = False, file_scene: str | None = None) -> None:
    """Write patch ``patch``: ``<folder>/<kind>_<scene>/<prefix>_<kind>_<file_scene>_p<patch>.tif`` for the kinds
    s1, s2, lc (and dfc with ``with_dfc``). ``file_scene`` defaults to ``scene``; DFC2020 differs (its validation
    folders are s2_validation, its files ..._s2_0_p<k>.tif)."""
    dfc = land_cover(rng, size, max(3, size // 24))
    s2, s1 = s1_s2_patch(rng, dfc)
    igbp = coarse_igbp(rng, dfc, max(4, size // 16))
    lc = np.stack([igbp, (igbp + 10).astype(np.uint8), (igbp % 7 + 1).astype(np.uint8),
                   (igbp % 5 + 1).astype(np.uint8)])  # IGBP, then LCCS land cover / land use / surface hydrology
    transform = from_origin(origin[0] + 2560 * patch, origin[1], 10, 10)
    files = dict(s1=s1, s2=s2, lc=lc)
    if with_dfc:
        files['dfc'] = dfc
    for kind, data in files.items():
        write_geotiff(folder / f'{kind}_{scene}' / f'{prefix}_{kind}_{file_scene or scene}_p{patch}.tif', data,
                      crs=crs, transform=transform)


def make(out: Path, size: int, n_train: int, n_val: int, seed: int) -> Path:
    """Write ``n_train`` SEN12MS training patches and ``n_val`` hold-out patches (both dealt round the four seasons)
    and ``n_val`` DFC2020 validation and test patches each, of ``size`` pixels; returns ``<out>/sen12ms`` (DFC2020
    is beside it, in ``<out>/dfc2020``)."""
    rng = np.random.default_rng(seed)
    out = Path(out)
    root = out / 'sen12ms'
    holdout = {}  # season -> its first official hold-out scene number
    for line in read_split_file(str(HOLDOUT_FILE)):
        season, folder = line.split('/')
        holdout.setdefault(season, folder.split('_', 1)[1])
    listed = []
    for i, (season, crs) in enumerate(SEASONS.items()):
        train_scene = str(200 + i)  # scene numbers beyond the hold-out list's
        for k in range(i, n_train, len(SEASONS)):
            write_patch(rng, root / season, season, train_scene, k, size, crs, (300000, 5000000 - 30000 * i))
        held = range(i, n_val, len(SEASONS))
        if len(held):
            listed.append(f'{season}/s1_{holdout[season]}')
            for k in held:
                write_patch(rng, root / season, season, holdout[season], k, size, crs, (400000, 5000000 - 30000 * i))
    write_text_atomic(root / 'SEN12MS_holdOutScenes.txt', '\n'.join(listed) + '\n')
    for split, scene in (('validation', 'validation'), ('test', '0')):
        prefix = f'ROIs0000_{split}'
        for k in range(n_val):
            write_patch(rng, out / 'dfc2020' / prefix, prefix, scene, k, size, DFC2020_CRS,
                        (500000 + 100000 * (split == 'test'), 4000000), with_dfc=True, file_scene='0')
    return root
