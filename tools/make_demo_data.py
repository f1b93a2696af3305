#!/usr/bin/env python
"""Write small, learnable synthetic datasets laid out on disk exactly like the real ones.

    python tools/make_demo_data.py OUT [--datasets burn_scars sen1floods11 crop] [--size 512] [--scenes 8 4]

* ``burn_scars``: OUT/hls_burn_scars/{training,validation}/subsetted_512x512_HLS.S30.T<tile>.<yyyyddd>.v1.4_merged.tif
  (6 float32 reflectance bands, nodata -9999) and ``.mask.tif`` (int16: 1 burn scar, 0 unburnt, -1 missing);
  with ``--scene-sizes 512 2048`` also OUT/hls_burn_scars/scenes/ with scenes of those sizes (for model_inference).
* ``sen1floods11``: OUT/sen1floods11/v1.1/data/flood_events/HandLabeled/{S2Hand,LabelHand}/<id>_{S2Hand,LabelHand}.tif
  (13-band int16 Sentinel-2 x 10000; labels int16 1 water, 0 no water, -1 no data), chip ids taken from the real
  split files, and OUT/sen1floods11/splits/{train,val,test,bolivia}_split.txt listing the chips written.
* ``crop``: OUT/multi_temporal_crop_classification/{training,validation}_chips/chip_<r>_<c>_merged.tif (18 int16
  bands = 6 bands x 3 dates) and ``.mask.tif`` (uint8: 0 no data, 1-13 classes), with training_data.txt and
  validation_data.txt beside them.
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


MAKERS = dict(burn_scars=burn_scars, sen1floods11=sen1floods11, crop=crop, xbd=xbd)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('out', type=Path, help='output folder (datasets go in sub-folders named as the real ones)')
    parser.add_argument('--datasets', nargs='+', choices=sorted(MAKERS), default=sorted(MAKERS))
    parser.add_argument('--size', type=int, default=None,
                        help='raster side in pixels (default: 512 for burn scars and Sen1Floods11, 224 for crops)')
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
