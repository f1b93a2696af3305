#!/usr/bin/env python
"""Write small, learnable synthetic datasets laid out on disk exactly like the real ones.

    python tools/make_demo_data.py OUT [--datasets burn_scars sen1floods11 crop slumps] [--size 512] [--scenes 8 4]

* ``burn_scars``: OUT/hls_burn_scars/{training,validation}/subsetted_512x512_HLS.S30.T<tile>.<yyyyddd>.v1.4_merged.tif
  (6 float32 reflectance bands, nodata -9999) and ``.mask.tif`` (int16: 1 burn scar, 0 unburnt, -1 missing);
  with ``--scene-sizes 512 2048`` also OUT/hls_burn_scars/scenes/ with scenes of those sizes (for model_inference).
* ``sen1floods11``: OUT/sen1floods11/v1.1/data/flood_events/HandLabeled/{S2Hand,LabelHand}/<id>_{S2Hand,LabelHand}.tif
  (13-band int16 Sentinel-2 x 10000; labels int16 1 water, 0 no water, -1 no data), chip ids taken from the real
  split files, and OUT/sen1floods11/splits/{train,val,test,bolivia}_split.txt listing the chips written.
* ``crop``: OUT/multi_temporal_crop_classification/{training,validation}_chips/chip_<r>_<c>_merged.tif (18 int16
  bands = 6 bands x 3 dates) and ``.mask.tif`` (uint8: 0 no data, 1-13 classes), with training_data.txt and
  validation_data.txt beside them.
* ``hephaestus``: OUT/hephaestus/Hephaestus_Raw/<FrameID>/interferograms/<primary>_<secondary>/{InSAR.png,
  Coherence.png} (8-bit PNGs of side ``--size``) and OUT/hephaestus/annotations/<uniqueID>.json in the Hephaestus
  annotation format; TRAIN/VAL annotated interferograms dated 2018-2020/2021, half as many again unannotated. Each
  activity type has its own fringe pattern and each intensity level its fringe count.
* ``sen12ms``: OUT/sen12ms/ROIs{1158_spring,1868_summer,1970_fall,2017_winter}/{s1,s2,lc}_<n>/
  ROIs<..>_<season>_{s1,s2,lc}_<n>_p<k>.tif (s1: 2 float32 dB bands VV VH; s2: 13 uint16 bands; lc: 4 uint8 bands,
  the first IGBP classes at a coarse resolution, as SEN12MS's MODIS labels) with SEN12MS_holdOutScenes.txt listing
  the hold-out scenes written (official hold-out scene numbers), and OUT/dfc2020/ROIs0000_{validation,test}/
  {s1,s2,lc,dfc}_{validation,0}/ROIs0000_<split>_{s1,s2,lc,dfc}_<n>_p<k>.tif (dfc: DFC classes 1-10 at full
  resolution). TRAIN patches go to the SEN12MS training scenes, VAL patches to each of hold-out, validation, test.
* ``slumps``: OUT/slumps/WV02_20160709_M1BS_10300100591D6600-toa_pansharpen.tif (6-band uint16 TOA reflectance
  x 10000, nodata 0) and trialrun_label.tif (uint8 class raster: 1 slump, 0 background) over a --size x --size part
  of it; scenes/slump_scene_000.tif with its class raster in scene_labels/ for model_inference.
* ``xbd``: OUT/xBD/{tier1,tier3,hold,test}/{images,labels}/<disaster>_<id>_{pre,post}_disaster.{png,json}: RGB
  uint8 PNG pairs (no georeference, like the real ones) and xBD label JSONs (building polygons as WKT, with damage
  subtypes in the post labels); tools/xbd_masks.py turns them into targets.

The HLS, Sen1Floods11 and crop rasters are GeoTIFFs with a CRS and transform. The classes differ in their spectra
(and, for the crops, in how the spectra change between dates; for xBD, in how roofs change between the pre and the
post image), with noise, so a model must learn them but a short run can: training beats chance.
Use ``--cfg-options`` to point a config at the demo splits (the README and tools/demo.sh show how).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

ROOT = Path(__file__).resolve().parents[1]
HLS_MEANS = np.array([0.0333, 0.0570, 0.0589, 0.2323, 0.1973, 0.1194])  # B02 B03 B04 B8A B11 B12 reflectance
HLS_STDS = np.array([0.0227, 0.0268, 0.0400, 0.0779, 0.0871, 0.0724])


def write(path: Path, data: np.ndarray, crs: str, transform, nodata=None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = data[None] if data.ndim == 2 else data
    profile = dict(driver='GTiff', width=data.shape[2], height=data.shape[1], count=data.shape[0],
                   dtype=data.dtype.name, crs=crs, transform=transform, nodata=nodata, compress='deflate',
                   tiled=True, blockxsize=128, blockysize=128)
    if data.shape[1] % 16 or data.shape[2] % 16:
        profile.update(tiled=False)
        profile.pop('blockxsize')
        profile.pop('blockysize')
    tmp = path.with_name('.' + path.name + '.tmp')
    with rasterio.open(tmp, 'w', **profile) as dst:
        dst.write(data)
    tmp.replace(path)  # a crash never leaves a half-written file under the final name


def blobs(rng: np.random.Generator, size: int, count: int, radius: tuple[float, float]) -> np.ndarray:
    """Boolean mask of ``count`` random smooth blobs."""
    yy, xx = np.mgrid[:size, :size]
    mask = np.zeros((size, size), bool)
    for _ in range(count):
        cy, cx = rng.uniform(0, size, 2)
        ry, rx = rng.uniform(*radius, 2) * size
        angle = rng.uniform(0, np.pi)
        dy, dx = yy - cy, xx - cx
        u = (dx * np.cos(angle) + dy * np.sin(angle)) / rx
        v = (-dx * np.sin(angle) + dy * np.cos(angle)) / ry
        mask |= u ** 2 + v ** 2 <= 1
    return mask


def missing_strip(rng: np.random.Generator, size: int) -> np.ndarray:
    """Nodata along one image edge in about a third of the scenes (as at swath borders)."""
    mask = np.zeros((size, size), bool)
    if rng.random() < 0.35:
        width = int(rng.integers(size // 16, size // 6))
        side = rng.integers(4)
        if side == 0:
            mask[:width] = True
        elif side == 1:
            mask[-width:] = True
        elif side == 2:
            mask[:, :width] = True
        else:
            mask[:, -width:] = True
    return mask


# ------------------------------------------------------------------------------------------ burn scars
def burn_scar_scene(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A float32 6-band HLS reflectance scene with burn scars and a missing strip, and its int16 mask."""
    # burned ground: darker NIR, brighter SWIR, in reflectance
    burn_shift = np.array([0.0, -0.01, 0.01, -0.12, 0.06, 0.09])
    blob_count = max(1, int(rng.integers(1, 4) * (size / 512) ** 2))
    burned = blobs(rng, size, blob_count, (0.06 * min(1.0, 512 / size), 0.2 * min(1.0, 512 / size)))
    missing = missing_strip(rng, size)
    img = HLS_MEANS[:, None, None] + HLS_STDS[:, None, None] * rng.normal(0, 0.6, (6, size, size))
    img += burn_shift[:, None, None] * burned
    img = np.clip(img, 0.0, 1.0).astype(np.float32)
    img[:, missing] = -9999
    mask = burned.astype(np.int16)
    mask[missing] = -1
    return img, mask


def burn_scars(out: Path, size: int, n_train: int, n_val: int, seed: int, scene_sizes=()) -> Path:
    """Training/validation scenes; with ``scene_sizes``, also ``scenes/`` of that many scenes (of those sizes) for
    tools/model_inference.py."""
    rng = np.random.default_rng(seed)
    root = out / 'hls_burn_scars'
    tiles = ['10SEH', '10SFH', '11SKU', '11SLT', '12SVD', '13SDV']
    splits = [('training', size, n_train), ('validation', size, n_val)]
    splits += [('scenes', s, 1) for s in scene_sizes]
    i = 0
    for split, side, n in splits:
        for _ in range(n):
            tile = tiles[i % len(tiles)]
            date = f'{2018 + i % 4}{100 + 11 * i:03d}'
            name = 'subsetted_512x512' if side == 512 else f'subsetted_{side}x{side}'
            stem = f'{name}_HLS.S30.T{tile}.{date}.v1.4'
            img, mask = burn_scar_scene(rng, side)
            transform = from_origin(300000 + 15360 * i, 4200000, 30, 30)
            write(root / split / f'{stem}_merged.tif', img, 'EPSG:32611', transform, nodata=-9999)
            write(root / split / f'{stem}.mask.tif', mask, 'EPSG:32611', transform)
            i += 1
    return root


# ------------------------------------------------------------------------------------------ Sen1Floods11
S2_BANDS = ['B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8', 'B8A', 'B9', 'B10', 'B11', 'B12']
S2_LAND = np.array([1400, 1200, 1100, 1000, 1300, 2000, 2300, 2500, 2600, 800, 30, 2000, 1300], float)
S2_WATER = np.array([1300, 1100, 900, 700, 600, 500, 450, 400, 380, 200, 10, 150, 100], float)


def read_ids(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def sen1floods11(out: Path, size: int, n_train: int, n_val: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    root = out / 'sen1floods11'
    hand = root / 'v1.1' / 'data' / 'flood_events' / 'HandLabeled'
    split_dir = ROOT / 'data_splits' / 'sen1floods11'
    counts = dict(train=n_train, val=n_val, test=n_val, bolivia=max(1, n_val // 2))
    for split, n in counts.items():
        ids = read_ids(split_dir / f'{split}_split.txt')[:n]
        for k, chip in enumerate(ids):
            water = blobs(rng, size, int(rng.integers(1, 4)), (0.08, 0.3))
            missing = missing_strip(rng, size)
            spectra = np.where(water[None], S2_WATER[:, None, None], S2_LAND[:, None, None])
            img = spectra * (1 + rng.normal(0, 0.15, (13, size, size)))
            img = np.clip(img, 0, 10000).astype(np.int16)
            img[:, missing] = -9999
            label = water.astype(np.int16)
            label[missing] = -1
            transform = from_origin(-60 + 0.05 * k, 10 - 0.01 * k, 0.0001, 0.0001)
            write(hand / 'S2Hand' / f'{chip}_S2Hand.tif', img, 'EPSG:4326', transform, nodata=-9999)
            write(hand / 'LabelHand' / f'{chip}_LabelHand.tif', label, 'EPSG:4326', transform, nodata=-1)
        (root / 'splits').mkdir(parents=True, exist_ok=True)
        (root / 'splits' / f'{split}_split.txt').write_text('\n'.join(ids) + '\n')
    return root


# ------------------------------------------------------------------------------------------ crops
def crop_signatures(rng: np.random.Generator) -> np.ndarray:
    """(13 classes, 3 dates, 6 bands) digital numbers: each class has its own spectrum and seasonal change."""
    base = np.array([500, 800, 900, 3000, 2600, 1700], float)
    sig = np.empty((13, 3, 6))
    for c in range(13):
        spectrum = base * rng.uniform(0.6, 1.4, 6)
        season = rng.uniform(0.6, 1.5, (3, 1))  # greening / harvest differ by class
        sig[c] = spectrum[None] * season
        sig[c, :, 3] *= rng.uniform(0.7, 1.6, 3)  # NIR follows the crop calendar most
    return sig


def crop(out: Path, size: int, n_train: int, n_val: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    root = out / 'multi_temporal_crop_classification'
    sig = crop_signatures(np.random.default_rng(1234))  # fixed per dataset, shared by both splits
    for split, folder, n in (('training_data.txt', 'training_chips', n_train),
                             ('validation_data.txt', 'validation_chips', n_val)):
        ids = []
        for i in range(n):
            chip = f'chip_{rng.integers(0, 400):03d}_{rng.integers(0, 600):03d}'
            while chip in ids:
                chip = f'chip_{rng.integers(0, 400):03d}_{rng.integers(0, 600):03d}'
            ids.append(chip)
            # fields: a coarse grid of parcels, each one class
            cells = 4
            parcel = rng.integers(1, 14, (cells, cells))
            label = np.kron(parcel, np.ones((size // cells + 1, size // cells + 1), int))[:size, :size]
            nodata = missing_strip(rng, size)
            label = np.where(nodata, 0, label).astype(np.uint8)
            img = np.zeros((3, 6, size, size))
            for c in range(1, 14):
                where = label == c
                img[:, :, where] = sig[c - 1][:, :, None]
            img *= 1 + rng.normal(0, 0.12, img.shape)
            img = np.clip(img, 0, 10000).reshape(18, size, size).astype(np.int16)  # date-major, like the real chips
            transform = from_origin(-1000000 + 6720 * i, 2000000, 30, 30)
            write(root / folder / f'{chip}_merged.tif', img, 'EPSG:5070', transform)
            write(root / folder / f'{chip}.mask.tif', label, 'EPSG:5070', transform)
        (root / split).write_text('\n'.join(ids) + '\n')
    return root


# ------------------------------------------------------------------------------------------ Hephaestus InSAR
HEPHAESTUS_FRAMES = ('124D_05291_081406', '083A_05300_151515', '036D_12345_131313', '172A_07010_121313')
HEPHAESTUS_ACTIVITY = ('Mogi', 'Dyke', 'Sill', 'Spheroid', 'Earthquake', 'Unidentified')  # mask values 1-6
HEPHAESTUS_FRINGES = dict(Low=1.5, Medium=3.0, High=6.0)  # fringes (2*pi cycles) at the peak


def _write_atomic(path: Path, save) -> None:
    """``save(tmp)`` writes the file under a temporary name; it is renamed into place when complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name('.' + path.name + '.tmp')
    save(tmp)
    tmp.replace(path)


def _insar_pattern(kind: str, u: np.ndarray, v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Normalised deformation phase (peak about 1) inside the unit disc of (u, v); each activity type has its shape."""
    rho2 = u ** 2 + v ** 2
    bell = np.clip(1 - rho2, 0, None) ** 2
    if kind in ('Mogi', 'Spheroid'):  # concentric (Spheroid: elongated ellipse, set by the axes)
        return bell
    if kind == 'Sill':  # broad plateau, fringes packed at the rim
        return np.clip(1 - rho2 ** 3, 0, None)
    if kind == 'Dyke':  # two lobes of opposite sign across the intrusion
        return 2.6 * u * bell
    if kind == 'Earthquake':  # four-lobed (butterfly) pattern
        return 3.0 * np.sin(2 * np.arctan2(v, u)) * np.sqrt(rho2) * bell
    f1, f2 = rng.uniform(1.5, 3.5, 2)  # Unidentified: an irregular blob
    return bell * (0.6 + 0.4 * np.sin(f1 * u + rng.uniform(0, 6)) * np.cos(f2 * v + rng.uniform(0, 6)))


def _insar_object(rng: np.random.Generator, size: int, kind: str, large: bool) -> dict:
    """Centre, semi-axes (pixels), orientation, class and intensity of one synthetic deformation."""
    semi = rng.uniform(0.22, 0.3) * size if large else rng.uniform(0.09, 0.18) * size
    ratio = dict(Spheroid=0.5, Dyke=0.45, Sill=0.8).get(kind, 1.0)
    a, b = semi, semi * ratio
    margin = 0.6 * b
    cy, cx = rng.uniform(-margin, size + margin, 2)  # may touch or cross the border
    return dict(kind=kind, intensity=str(rng.choice(list(HEPHAESTUS_FRINGES))), cy=cy, cx=cx, a=a, b=b,
                angle=rng.uniform(0, np.pi))


def _insar_polygon(obj: dict, vertices: int = 24) -> list[float]:
    """The object's outline (its ellipse) as a flat [x0, y0, x1, y1, ...] list in pixel coordinates."""
    t = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
    ca, sa = np.cos(obj['angle']), np.sin(obj['angle'])
    x = obj['cx'] + obj['a'] * np.cos(t) * ca - obj['b'] * np.sin(t) * sa
    y = obj['cy'] + obj['a'] * np.cos(t) * sa + obj['b'] * np.sin(t) * ca
    return [round(float(c), 1) for xy in zip(x, y) for c in xy]


def _insar_images(rng: np.random.Generator, size: int, objects: list[dict], low_coherence: bool,
                  orbital: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """Wrapped-phase interferogram and coherence as uint8 images, and the atmospheric fringe level (0-3)."""
    yy, xx = np.mgrid[:size, :size].astype(np.float64)
    atmosphere = rng.integers(0, 4)
    phase = np.full((size, size), rng.uniform(0, 2 * np.pi))
    for _ in range(3):  # smooth atmospheric screen: a few long-wavelength waves
        fy, fx = rng.uniform(-1.5, 1.5, 2) / size
        phase += 0.6 * atmosphere * np.sin(2 * np.pi * (fy * yy + fx * xx) + rng.uniform(0, 2 * np.pi))
    if orbital:
        phase += 2 * np.pi * rng.uniform(1, 2) * (xx * np.cos(rng.uniform(0, 6)) + yy) / size
    for obj in objects:
        ca, sa = np.cos(obj['angle']), np.sin(obj['angle'])
        dx, dy = xx - obj['cx'], yy - obj['cy']
        u = (dx * ca + dy * sa) / obj['a']
        v = (-dx * sa + dy * ca) / obj['b']
        inside = u ** 2 + v ** 2 < 1
        field = np.where(inside, _insar_pattern(obj['kind'], u, v, rng), 0.0)
        phase += 2 * np.pi * HEPHAESTUS_FRINGES[obj['intensity']] * field
    wrapped = np.mod(phase, 2 * np.pi) / (2 * np.pi) * 255
    coherence = 0.75 + 0.15 * np.sin(2 * np.pi * (xx * rng.uniform(0.5, 2) + yy * rng.uniform(0.5, 2)) / size)
    if low_coherence:
        coherence *= 0.45
    coherence = np.clip(coherence + rng.normal(0, 0.08, coherence.shape), 0, 1)
    noise = rng.normal(0, 1, wrapped.shape) * (1 - coherence) * 60  # decorrelation noise where coherence is low
    insar = np.clip(np.round(wrapped + noise), 0, 255).astype(np.uint8)
    return insar, np.round(coherence * 255).astype(np.uint8), int(atmosphere)


def _insar_annotation(uid: int, frame: str, primary: str, secondary: str, objects: list[dict], atmosphere: int,
                      low_coherence: bool, orbital: bool, rng: np.random.Generator) -> dict:
    kinds = [o['kind'] for o in objects]
    if objects:
        caption = f'{len(objects)} deformation pattern(s): {", ".join(kinds)}.'
    else:
        caption = 'No deformation activity can be detected.'
    return dict(
        uniqueID=uid, frameID=frame, primary_date=primary, secondary_date=secondary, corrupted=0,
        processing_error=0, glacier_fringes=0, orbital_fringes=int(orbital), atmospheric_fringes=atmosphere,
        low_coherence=int(low_coherence), no_info=0, image_artifacts=0,
        label=['Deformation'] if objects else ['Non_Deformation'], activity_type=kinds,
        intensity_level=[o['intensity'] for o in objects] if objects else ['None'],
        phase='Unrest' if objects else 'Rest', confidence=round(float(rng.uniform(0.6, 1.0)), 2),
        segmentation_mask=[_insar_polygon(o) for o in objects], is_crowd=int(len(objects) > 1), caption=caption)


def hephaestus(out: Path, size: int, n_train: int, n_val: int, seed: int) -> Path:
    """OUT/hephaestus/Hephaestus_Raw/<FrameID>/interferograms/<primary>_<secondary>/{InSAR.png,Coherence.png} and
    OUT/hephaestus/annotations/<uniqueID>.json: ``n_train`` annotated interferograms dated 2018-2020, ``n_val`` dated
    2021 (split them with ``tools/hephaestus_annotations.py split --val-from 20210101``), and half as many again
    without annotation (for self-supervised pretraining). About 60 % of the annotated ones show deformation (each
    activity type its own fringe pattern, the intensity its fringe count), a quarter of those several (crowd)."""
    from datetime import date, timedelta

    from PIL import Image
    rng = np.random.default_rng(seed)
    root = out / 'hephaestus'
    raw, annotations = root / 'Hephaestus_Raw', root / 'annotations'
    n_unlabeled = (n_train + n_val) // 2
    # dates: training years 2018-2020, validation 2021, unlabeled any; never two equal pairs in a frame
    starts = [date(2018, 1, 1) + timedelta(days=int(d)) for d in np.linspace(0, 1090, n_train, endpoint=False)]
    starts += [date(2021, 1, 1) + timedelta(days=int(d)) for d in np.linspace(0, 360, n_val, endpoint=False)]
    starts += [date(2018, 1, 4) + timedelta(days=int(d)) for d in np.linspace(0, 1450, n_unlabeled, endpoint=False)]
    for i, primary in enumerate(starts):
        annotated = i < n_train + n_val
        frame = HEPHAESTUS_FRAMES[i % len(HEPHAESTUS_FRAMES)]
        secondary = primary + timedelta(days=int(rng.choice([6, 12])))
        while (raw / frame / 'interferograms' / f'{primary:%Y%m%d}_{secondary:%Y%m%d}').exists():
            secondary += timedelta(days=6)  # the next Sentinel-1 acquisition: one folder per date pair
        pair = f'{primary:%Y%m%d}_{secondary:%Y%m%d}'
        objects = []
        if rng.random() < 0.6:
            count = int(rng.choice([2, 3])) if rng.random() < 0.25 else 1
            for _ in range(count):
                kind = HEPHAESTUS_ACTIVITY[int(rng.integers(len(HEPHAESTUS_ACTIVITY)))]
                objects.append(_insar_object(rng, size, kind, large=rng.random() < 0.1))
        low_coherence, orbital = bool(rng.random() < 0.15), bool(rng.random() < 0.2)
        insar, coherence, atmosphere = _insar_images(rng, size, objects, low_coherence, orbital)
        folder = raw / frame / 'interferograms' / pair
        for name, image in (('InSAR.png', insar), ('Coherence.png', coherence)):
            _write_atomic(folder / name, lambda tmp, im=image: Image.fromarray(im).save(tmp, format='PNG'))
        if annotated:
            uid = 10000 + i
            record = _insar_annotation(uid, frame, f'{primary:%Y%m%d}', f'{secondary:%Y%m%d}', objects, atmosphere,
                                       low_coherence, orbital, rng)
            text = json.dumps(record, indent=2) + '\n'
            _write_atomic(annotations / f'{uid}.json', lambda tmp, t=text: tmp.write_text(t))
    return root


# ------------------------------------------------------------------------------------------ SEN12MS / DFC2020
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
DFC_TO_IGBP = {1: [1, 2, 3, 4, 5], 2: [6, 7], 3: [8, 9], 4: [10], 5: [11], 6: [12, 14], 7: [13], 8: [15], 9: [16],
               10: [17]}  # the inverse of the published IGBP -> DFC map
SEASONS = {'ROIs1158_spring': 'EPSG:32633', 'ROIs1868_summer': 'EPSG:32618', 'ROIs1970_fall': 'EPSG:32650',
           'ROIs2017_winter': 'EPSG:32636'}


def land_cover(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """(size, size) DFC codes 1-10: a Voronoi partition of ``cells`` random regions, one class each."""
    yy, xx = np.mgrid[:size, :size]
    centres = rng.uniform(0, size, (cells, 2))
    nearest = np.argmin((yy[None] - centres[:, 0, None, None]) ** 2 + (xx[None] - centres[:, 1, None, None]) ** 2, 0)
    codes = rng.choice(np.arange(1, 11), size=cells, p=DFC_WEIGHTS / DFC_WEIGHTS.sum())
    return codes[nearest].astype(np.uint8)


def s1_s2_patch(rng: np.random.Generator, dfc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sentinel-2 (13, H, W) uint16 digital numbers and Sentinel-1 (2, H, W) float32 dB of a land-cover map."""
    s2 = DFC_S2[dfc - 1].transpose(2, 0, 1) * 10000 * (1 + rng.normal(0, 0.12, (13,) + dfc.shape))
    s2 = np.clip(s2, 0, 65535).astype(np.uint16)
    s1 = DFC_S1[dfc - 1].transpose(2, 0, 1) + rng.normal(0, 1.5, (2,) + dfc.shape)
    s1 = s1.astype(np.float32)
    if rng.random() < 0.2:  # a few missing radar values (NaN), as in some SEN12MS patches
        s1[:, rng.integers(0, dfc.shape[0], 3), rng.integers(0, dfc.shape[1], 3)] = np.nan
    return s2, s1


def coarse_igbp(rng: np.random.Generator, dfc: np.ndarray, block: int) -> np.ndarray:
    """IGBP codes of the majority DFC class of each ``block`` x ``block`` cell (MODIS-like 500 m labels), each
    DFC class drawn from its IGBP classes."""
    size = dfc.shape[0]
    igbp = np.zeros_like(dfc)
    for r in range(0, size, block):
        for c in range(0, size, block):
            cell = dfc[r:r + block, c:c + block]
            major = np.bincount(cell.ravel(), minlength=11).argmax()
            igbp[r:r + block, c:c + block] = rng.choice(DFC_TO_IGBP[int(major)])
    return igbp


def _sen12ms_files(rng, folder: Path, prefix: str, scene: str, patch: int, size: int, crs: str, origin,
                   label: str, file_scene: str | None = None) -> None:
    """One patch: s1, s2, lc (and dfc) files <prefix>_<kind>_<file_scene>_p<patch>.tif in <kind>_<scene>/ folders
    (DFC2020 names the validation folders s2_validation but its files ..._s2_0_p<k>.tif)."""
    cells = max(3, size // 24)
    dfc = land_cover(rng, size, cells)
    s2, s1 = s1_s2_patch(rng, dfc)
    igbp = coarse_igbp(rng, dfc, max(4, size // 16))
    lc = np.stack([igbp, (igbp + 10).astype(np.uint8), (igbp % 7 + 1).astype(np.uint8),
                   (igbp % 5 + 1).astype(np.uint8)])  # IGBP, then LCCS land cover / land use / surface hydrology
    transform = from_origin(origin[0] + 2560 * patch, origin[1], 10, 10)
    files = dict(s1=s1, s2=s2, lc=lc)
    if label == 'dfc':
        files['dfc'] = dfc
    for kind, data in files.items():
        write(folder / f'{kind}_{scene}' / f'{prefix}_{kind}_{file_scene or scene}_p{patch}.tif', data, crs,
              transform)


def sen12ms(out: Path, size: int, n_train: int, n_val: int, seed: int) -> Path:
    """SEN12MS (training scenes and official hold-out scenes) and DFC2020 (validation, test) patches."""
    rng = np.random.default_rng(seed)
    root = out / 'sen12ms'
    holdout_ids = [line.split('/') for line in read_ids(ROOT / 'data_splits' / 'sen12ms' / 'SEN12MS_holdOutScenes.txt')]
    holdout = {}  # season -> its first official hold-out scene number
    for season, folder in holdout_ids:
        holdout.setdefault(season, folder.split('_', 1)[1])
    seasons = list(SEASONS)
    listed = []
    for i, season in enumerate(seasons):
        crs = SEASONS[season]
        train_scene = str(200 + i)  # scene numbers beyond the hold-out list's
        for k in range(i, n_train, len(seasons)):
            _sen12ms_files(rng, root / season, season, train_scene, k, size, crs, (300000, 5000000 - 30000 * i), 'lc')
        held = range(i, n_val, len(seasons))
        if len(held):
            listed.append(f'{season}/s1_{holdout[season]}')
            for k in held:
                _sen12ms_files(rng, root / season, season, holdout[season], k, size, crs,
                               (400000, 5000000 - 30000 * i), 'lc')
    (root / 'SEN12MS_holdOutScenes.txt').write_text('\n'.join(listed) + '\n')
    dfc_root = out / 'dfc2020'
    for split, scene in (('validation', 'validation'), ('test', '0')):
        prefix = f'ROIs0000_{split}'
        for k in range(n_val):
            _sen12ms_files(rng, dfc_root / prefix, prefix, scene, k, size, 'EPSG:32617',
                           (500000 + 100000 * (split == 'test'), 4000000), 'dfc', file_scene='0')
    return root


# ------------------------------------------------------------------------------------------ slumps
SLUMP_SCENE = 'WV02_20160709_M1BS_10300100591D6600-toa_pansharpen'
SLUMP_TUNDRA = np.array([420, 610, 560, 2900, 2300, 1500], float)  # TOA reflectance x 10000, 6 bands
SLUMP_SOIL = np.array([900, 1150, 1350, 1700, 3300, 2900], float)  # bare, wet thaw-slump floor: bright, low NIR


def slump_shapes(rng: np.random.Generator, height: int, width: int, count: int,
                 centres: list | None = None) -> np.ndarray:
    """uint8 class raster (1 slump, 0 background) of ``count`` separate irregular slumps, some with a vegetated
    island (a hole); ``centres`` (row, col, radius) places slumps without a hole there first."""
    yy, xx = np.mgrid[:height, :width]
    label = np.zeros((height, width), np.uint8)
    placed = list(centres or [])
    given = len(placed)
    attempts = 0
    while len(placed) < count and attempts < 200 * count:
        attempts += 1
        r = float(rng.uniform(6, 14))
        cy, cx = rng.uniform(r, height - r), rng.uniform(r, width - r)
        if all((cy - py) ** 2 + (cx - px) ** 2 > (r + pr + 6) ** 2 for py, px, pr in placed):
            placed.append((cy, cx, r))
    for k, (cy, cx, r) in enumerate(placed):
        angle = np.arctan2(yy - cy, xx - cx)
        wobble = 1 + 0.18 * np.sin(3 * angle + rng.uniform(0, 6.3)) + 0.1 * np.sin(5 * angle + rng.uniform(0, 6.3))
        dist = np.hypot((yy - cy) / rng.uniform(0.7, 1.0), xx - cx)
        shape = dist <= r * wobble
        island = r > 9 and rng.random() < 0.35
        if island and k >= given:  # an island of tundra left inside the scar (not in the slumps placed on purpose)
            shape &= np.hypot(yy - cy, xx - cx) > 0.3 * r
        label[shape] = 1
    return label


def slump_image(rng: np.random.Generator, label: np.ndarray) -> np.ndarray:
    """6-band uint16 TOA reflectance x 10000: tundra with patchy texture, bare soil on the slumps."""
    from scipy import ndimage
    h, w = label.shape
    texture = ndimage.gaussian_filter(rng.normal(0, 1, (h, w)), 3) * 6
    img = SLUMP_TUNDRA[:, None, None] * (1 + 0.08 * texture[None])
    img = np.where(label[None] == 1, SLUMP_SOIL[:, None, None], img)
    img *= 1 + rng.normal(0, 0.06, img.shape)
    return np.clip(img, 1, 10000).astype(np.uint16)  # 0 is nodata


def slumps(out: Path, size: int, n_train: int, n_val: int, seed: int) -> Path:
    """A 6-band scene (``<SLUMP_SCENE>.tif``, uint16, nodata 0) larger than its class raster
    (``trialrun_label.tif``, uint8: 1 slump, 0 background), which covers a ``size`` x ``size`` part of it, as in the
    original layout (a label raster drawn over part of a WorldView scene); and ``scenes/slump_scene_000.tif`` (a
    separate ``size`` x ``size`` scene for model_inference) with its class raster in ``scene_labels/``, one slump
    straddling the scene's middle column. ``n_train`` and ``n_val`` are not used: tools/raster_to_coco.py cuts the
    training and validation tiles."""
    rng = np.random.default_rng(seed)
    root = out / 'slumps'
    margin = 24
    full = size + 2 * margin
    label = slump_shapes(rng, full, full, max(2, int(full * full / 1500)))
    label[:, :margin // 2] = 0  # nodata strip at the swath edge, outside the labelled area
    img = slump_image(rng, label)
    img[:, :, :margin // 2] = 0
    origin = (512000.0, 7620000.0)  # UTM 8N, Tuktoyaktuk coastlands; 2 m pixels
    write(root / f'{SLUMP_SCENE}.tif', img, 'EPSG:32608', from_origin(*origin, 2, 2), nodata=0)
    write(root / 'trialrun_label.tif', label[margin:margin + size, margin + 8:margin + 8 + size], 'EPSG:32608',
          from_origin(origin[0] + 2 * (margin + 8), origin[1] - 2 * margin, 2, 2))
    scene_label = slump_shapes(rng, size, size, max(2, int(size * size / 1500)), [(size / 2, size / 2, 13.0)])
    scene_origin = (origin[0] + 2 * full + 1000, origin[1])
    write(root / 'scenes' / 'slump_scene_000.tif', slump_image(rng, scene_label), 'EPSG:32608',
          from_origin(*scene_origin, 2, 2), nodata=0)
    write(root / 'scene_labels' / 'slump_scene_000.tif', scene_label, 'EPSG:32608', from_origin(*scene_origin, 2, 2))
    return root


# ------------------------------------------------------------------------------------------ xBD (xView2)
XBD_DISASTERS = dict(tier1=[('hurricane-harvey', 'flooding'), ('santa-rosa-wildfire', 'fire'),
                            ('mexico-earthquake', 'earthquake'), ('palu-tsunami', 'tsunami')],
                     tier3=[('joplin-tornado', 'wind'), ('woolsey-fire', 'fire'), ('nepal-flooding', 'flooding')],
                     hold=[('hurricane-michael', 'wind'), ('socal-fire', 'fire')],
                     test=[('guatemala-volcano', 'volcano'), ('midwest-flooding', 'flooding')])
XBD_GRADES = ['no-damage', 'minor-damage', 'major-damage', 'destroyed']


def xbd_uid(rng: np.random.Generator) -> str:
    h = ''.join(f'{int(v):x}' for v in rng.integers(0, 16, 32))
    return f'{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}'


def xbd_max_side(size: int) -> float:
    """Buildings are 6 pixels to this many pixels wide (11.5 in 64 px scenes, 32 from 178 px up)."""
    return min(32.0, max(11.0, 0.18 * size))


def xbd_building(rng: np.random.Generator, size: int):
    """A rotated rectangle, an L shape or a building with a courtyard (a polygon with a hole), in pixel
    coordinates; it may cross the image border."""
    from shapely import affinity
    from shapely.geometry import Polygon, box
    side = rng.uniform(6.0, xbd_max_side(size), 2)
    cx, cy = rng.uniform(-0.3 * side[0], size + 0.3 * side[0]), rng.uniform(-0.3 * side[1], size + 0.3 * side[1])
    shape = box(cx - side[0] / 2, cy - side[1] / 2, cx + side[0] / 2, cy + side[1] / 2)
    kind = rng.random()
    if kind < 0.2 and min(side) >= 8:  # L shape: one corner cut off
        shape = shape.difference(box(cx, cy, cx + side[0], cy + side[1]))
    elif kind < 0.3 and min(side) >= 10:  # courtyard
        inner = box(cx - side[0] / 4, cy - side[1] / 4, cx + side[0] / 4, cy + side[1] / 4)
        shape = Polygon(shape.exterior.coords, [inner.exterior.coords])
    return affinity.rotate(shape, rng.uniform(-30, 30), origin='centroid')


def xbd_scene(rng: np.random.Generator, size: int, every_grade: bool = False):
    """Pre and post images (3, H, W) uint8 and the buildings as ``[(polygon, grade or 'un-classified'), ...]``.

    Roofs are grey/red/brown on a textured green-brown ground; after the disaster a building is unchanged
    (no-damage), covered by blue tarps and water (minor), darkened by fire or mud (major) or gone, bare ground
    strewn with debris (destroyed). Lighting differs between the dates. A fifth of the scenes have no damage at all
    and some have no building, as in xBD. With ``every_grade`` the first four buildings have the four grades (so
    that each tier holds every grade).
    """
    from rasterio.features import rasterize
    yy, xx = np.mgrid[:size, :size]
    ground = np.array([95, 110, 70], float) * rng.uniform(0.85, 1.15, 3)
    texture = np.sin(xx / rng.uniform(4, 9) + rng.uniform(0, 6)) * np.cos(yy / rng.uniform(4, 9)) * 12
    pre = ground[:, None, None] + texture[None] + rng.normal(0, 7, (3, size, size))
    post = (ground[:, None, None] + texture[None]) * rng.uniform(0.85, 1.15) + rng.normal(0, 7, (3, size, size))
    buildings, boxes = [], []
    if every_grade or rng.random() > 0.08:
        # 5-8 buildings in a 64 px scene, as many per area of the same mean size in larger ones
        scale = (size / 64) ** 2 * ((6.0 + xbd_max_side(64)) / (6.0 + xbd_max_side(size))) ** 2
        target = int(round(rng.integers(5, 9) * max(1.0, scale)))
        undamaged = not every_grade and rng.random() < 0.2
        for _ in range(40 * target):
            if len(buildings) == target:
                break
            shape = xbd_building(rng, size)
            if shape.is_empty:
                continue
            x0, y0, x1, y1 = shape.bounds
            near = [i for i, (a0, b0, a1, b1) in enumerate(boxes)
                    if a0 <= x1 + 1.5 and x0 - 1.5 <= a1 and b0 <= y1 + 1.5 and y0 - 1.5 <= b1]
            if any(shape.buffer(1.5).intersects(buildings[i][0]) for i in near):
                continue
            if every_grade and len(buildings) < len(XBD_GRADES):
                grade = XBD_GRADES[len(buildings)]
            elif rng.random() < 0.04:
                grade = 'un-classified'
            elif undamaged:
                grade = 'no-damage'
            else:
                grade = XBD_GRADES[int(rng.choice(4, p=[0.4, 0.2, 0.2, 0.2]))]
            buildings.append((shape, grade))
            boxes.append((x0, y0, x1, y1))
    # the buildings do not touch: one rasterisation, each building's pixels read in its bounding window
    index = rasterize([(shape, i + 1) for i, (shape, _) in enumerate(buildings)], out_shape=(size, size), fill=0,
                      dtype='int32') if buildings else None
    for i, (shape, grade) in enumerate(buildings):
        x0, y0, x1, y1 = shape.bounds
        rows = slice(max(0, int(np.floor(y0))), max(0, min(size, int(np.ceil(y1)) + 1)))
        cols = slice(max(0, int(np.floor(x0))), max(0, min(size, int(np.ceil(x1)) + 1)))
        mask = index[rows, cols] == i + 1
        roof = np.array([[170, 170, 175], [180, 90, 70], [150, 120, 90]][int(rng.integers(3))], float)
        roof = roof[:, None] * rng.uniform(0.9, 1.1) + rng.normal(0, 5, (3, int(mask.sum())))
        pre[:, rows, cols][:, mask] = roof
        if grade in ('no-damage', 'un-classified'):
            after = roof
        elif grade == 'minor-damage':
            after = 0.45 * roof + 0.55 * np.array([60.0, 110.0, 215.0])[:, None]
        elif grade == 'major-damage':
            after = 0.35 * roof + 0.2 * np.array([90.0, 60.0, 30.0])[:, None]
        else:  # gone: bare ground strewn with debris
            after = ground[:, None] * 1.15 + rng.normal(0, 25, (3, int(mask.sum())))
        post[:, rows, cols][:, mask] = after
    clip = lambda a: np.clip(np.round(a), 0, 255).astype(np.uint8)  # noqa: E731
    return clip(pre), clip(post), buildings


def xbd_label(buildings, name: str, disaster: str, disaster_type: str, size: int, post: bool,
              rng: np.random.Generator) -> dict:
    """An xBD label: features.xy (pixel WKT) and features.lng_lat (geographic WKT) and the metadata."""
    from shapely import affinity
    lon, lat = rng.uniform(-120, -80), rng.uniform(25, 45)
    xy, lng_lat = [], []
    for shape, grade in buildings:
        props = dict(feature_type='building', uid=xbd_uid(rng))
        if post:
            props['subtype'] = grade
        xy.append(dict(properties=dict(props), wkt=shape.wkt))
        geo = affinity.affine_transform(shape, [5e-6, 0, 0, -5e-6, lon, lat])
        lng_lat.append(dict(properties=dict(props), wkt=geo.wkt))
    meta = dict(sensor='WORLDVIEW02', provider_asset_type='WORLDVIEW02', gsd=2.0, capture_date='2018-10-14T17:00:00Z',
                off_nadir_angle=20.0, pan_resolution=0.5, sun_azimuth=160.0, sun_elevation=50.0, target_azimuth=30.0,
                disaster=disaster, disaster_type=disaster_type, catalog_id=xbd_uid(rng)[:16], original_width=size,
                original_height=size, width=size, height=size, id=xbd_uid(rng),
                img_name=f'{name}_{"post" if post else "pre"}_disaster.png')
    return dict(features=dict(lng_lat=lng_lat, xy=xy), metadata=meta)


def xbd(out: Path, size: int, n_train: int, n_val: int, seed: int) -> Path:
    """OUT/xBD/{tier1,tier3,hold,test}/{images,labels}/<disaster>_<id>_{pre,post}_disaster.{png,json}: ``n_train``
    pairs in tier1, half as many in tier3, ``n_val`` in hold and in test. No targets: tools/xbd_masks.py makes them
    from the labels, as for the real download."""
    import json

    from geospatial_mm.io import write_png
    rng = np.random.default_rng(seed)
    root = out / 'xBD'
    counts = dict(tier1=n_train, tier3=max(2, n_train // 2), hold=n_val, test=n_val)
    for tier, n in counts.items():
        for i in range(n):
            disaster, disaster_type = XBD_DISASTERS[tier][i % len(XBD_DISASTERS[tier])]
            name = f'{disaster}_{i:08d}'
            pre, post, buildings = xbd_scene(rng, size, every_grade=i == 0)
            for when, img in (('pre', pre), ('post', post)):
                write_png(root / tier / 'images' / f'{name}_{when}_disaster.png', img)
                label = xbd_label(buildings, name, disaster, disaster_type, size, when == 'post', rng)
                path = root / tier / 'labels' / f'{name}_{when}_disaster.json'
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name('.' + path.name + '.tmp')
                tmp.write_text(json.dumps(label))
                tmp.replace(path)
    return root


MAKERS = dict(burn_scars=burn_scars, sen1floods11=sen1floods11, crop=crop, hephaestus=hephaestus, sen12ms=sen12ms,
              slumps=slumps, xbd=xbd)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('out', type=Path, help='output folder (datasets go in sub-folders named as the real ones)')
    parser.add_argument('--datasets', nargs='+', choices=sorted(MAKERS), default=sorted(MAKERS))
    parser.add_argument('--size', type=int, default=None,
                        help='raster side in pixels (default: 224 for crops, 256 for SEN12MS / DFC2020, 512 for the '
                        'others; slumps: the labelled part of the scene)')
    parser.add_argument('--scenes', type=int, nargs=2, default=(12, 4), metavar=('TRAIN', 'VAL'))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--scene-sizes', type=int, nargs='+', default=[], metavar='SIDE',
                        help='burn scars only: also write scenes/ with one scene of each side length, for inference')
    args = parser.parse_args(argv)
    for name in args.datasets:
        size = args.size or {'crop': 224, 'sen12ms': 256}.get(name, 512)
        extra = dict(scene_sizes=args.scene_sizes) if name == 'burn_scars' else {}
        path = MAKERS[name](args.out, size, args.scenes[0], args.scenes[1], args.seed, **extra)
        print(f'{name}: {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
