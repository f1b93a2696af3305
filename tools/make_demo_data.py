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
* ``slumps``: OUT/slumps/WV02_20160709_M1BS_10300100591D6600-toa_pansharpen.tif (6-band uint16 TOA reflectance
  x 10000, nodata 0) and trialrun_label.tif (uint8 class raster: 1 slump, 0 background) over a --size x --size part
  of it; scenes/slump_scene_000.tif with its class raster in scene_labels/ for model_inference.

Every raster is a GeoTIFF with a CRS and transform. The classes differ in their spectra (and, for the crops, in how
the spectra change between dates), with noise, so a model must learn them but a short run can: training beats chance.
Use ``--cfg-options`` to point a config at the demo splits (the README and tools/demo.sh show how).
"""
from __future__ import annotations

import argparse
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


MAKERS = dict(burn_scars=burn_scars, sen1floods11=sen1floods11, crop=crop, slumps=slumps)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('out', type=Path, help='output folder (datasets go in sub-folders named as the real ones)')
    parser.add_argument('--datasets', nargs='+', choices=sorted(MAKERS), default=sorted(MAKERS))
    parser.add_argument('--size', type=int, default=None,
                        help='raster side in pixels (default: 224 for crops, 512 for the others; slumps: the labelled '
                        'part of the scene)')
    parser.add_argument('--scenes', type=int, nargs=2, default=(12, 4), metavar=('TRAIN', 'VAL'))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--scene-sizes', type=int, nargs='+', default=[], metavar='SIDE',
                        help='burn scars only: also write scenes/ with one scene of each side length, for inference')
    args = parser.parse_args(argv)
    for name in args.datasets:
        size = args.size or (224 if name == 'crop' else 512)
        extra = dict(scene_sizes=args.scene_sizes) if name == 'burn_scars' else {}
        path = MAKERS[name](args.out, size, args.scenes[0], args.scenes[1], args.seed, **extra)
        print(f'{name}: {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
