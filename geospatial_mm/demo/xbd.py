"""Demo data laid out like xBD (the xView2 building damage dataset), as downloaded::

    <out>/xBD/{tier1,tier3,hold,test}/images/<disaster>_<id>_{pre,post}_disaster.png
    <out>/xBD/{tier1,tier3,hold,test}/labels/<disaster>_<id>_{pre,post}_disaster.json

As in the real dataset, the images are RGB uint8 PNGs without georeference and the labels are xBD label JSONs: the
buildings as WKT polygons in pixel (``features.xy``) and geographic (``features.lng_lat``) coordinates, with their
damage subtype (:data:`geospatial_mm.datasets.xbd.XBD_DAMAGE_VALUES`) in the post-disaster labels, and the image
metadata. There are no targets: tools/xbd_masks.py makes them from the labels, as for the real download. Roofs change
between the pre and the post image according to their damage grade.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from rasterio.features import rasterize
from shapely import affinity
from shapely.geometry import Polygon, box

from geospatial_mm.datasets.xbd import POST, PRE, XBD_CLASSES, XBD_TIERS
from geospatial_mm.io.atomic import write_json_atomic
from geospatial_mm.io.png import write_png

DISASTERS = dict(tier1=[('hurricane-harvey', 'flooding'), ('santa-rosa-wildfire', 'fire'),
                        ('mexico-earthquake', 'earthquake'), ('palu-tsunami', 'tsunami')],
                 tier3=[('joplin-tornado', 'wind'), ('woolsey-fire', 'fire'), ('nepal-flooding', 'flooding')],
                 hold=[('hurricane-michael', 'wind'), ('socal-fire', 'fire')],
                 test=[('guatemala-volcano', 'volcano'), ('midwest-flooding', 'flooding')])  # per tier, in turn
GRADES = list(XBD_CLASSES[1:])  # the damage subtypes: no-damage ... destroyed
UNCLASSIFIED = 'un-classified'  # the subtype of buildings whose damage was not assessed
ROOFS = [[170, 170, 175], [180, 90, 70], [150, 120, 90]]  # grey, red, brown
TARP = np.array([60.0, 110.0, 215.0])  # blue tarps and water on minor damage
CHAR = np.array([90.0, 60.0, 30.0])  # fire or mud on major damage


def uid(rng: np.random.Generator) -> str:
    """A random UUID-formatted hex string, like the uids of xBD labels."""
    h = ''.join(f'{int(v):x}' for v in rng.integers(0, 16, 32))
    return f'{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}'


def max_side(size: int) -> float:
    """Buildings are 6 pixels to this many pixels wide (11.5 in 64 px scenes, 32 from 178 px up)."""
    return min(32.0, max(11.0, 0.18 * size))


def building(rng: np.random.Generator, size: int) -> Polygon:
    """A rotated rectangle, an L shape or a building with a courtyard (a polygon with a hole), in pixel
    coordinates; it may cross the image border."""
    side = rng.uniform(6.0, max_side(size), 2)
    cx, cy = rng.uniform(-0.3 * side[0], size + 0.3 * side[0]), rng.uniform(-0.3 * side[1], size + 0.3 * side[1])
    shape = box(cx - side[0] / 2, cy - side[1] / 2, cx + side[0] / 2, cy + side[1] / 2)
    kind = rng.random()
    if kind < 0.2 and min(side) >= 8:  # L shape: one corner cut off
        shape = shape.difference(box(cx, cy, cx + side[0], cy + side[1]))
    elif kind < 0.3 and min(side) >= 10:  # courtyard
        inner = box(cx - side[0] / 4, cy - side[1] / 4, cx + side[0] / 4, cy + side[1] / 4)
        shape = Polygon(shape.exterior.coords, [inner.exterior.coords])
    return affinity.rotate(shape, rng.uniform(-30, 30), origin='centroid')


def scene(rng: np.random.Generator, size: int, every_grade: bool = False) -> tuple[np.ndarray, np.ndarray, list]:
    """Pre and post images ``(3, size, size)`` uint8 and the buildings as ``[(polygon, subtype), ...]``.

    Roofs are grey/red/brown on a textured green-brown ground; after the disaster a building is unchanged
    (no-damage), covered by blue tarps and water (minor), darkened by fire or mud (major) or gone, bare ground
    strewn with debris (destroyed). Lighting differs between the dates. A fifth of the scenes have no damage at all
    and some have no building, as in xBD. With ``every_grade`` the first four buildings have the four grades (so
    that each tier holds every grade).
    """
    yy, xx = np.mgrid[:size, :size]
    ground = np.array([95, 110, 70], float) * rng.uniform(0.85, 1.15, 3)
    texture = np.sin(xx / rng.uniform(4, 9) + rng.uniform(0, 6)) * np.cos(yy / rng.uniform(4, 9)) * 12
    pre = ground[:, None, None] + texture[None] + rng.normal(0, 7, (3, size, size))
    post = (ground[:, None, None] + texture[None]) * rng.uniform(0.85, 1.15) + rng.normal(0, 7, (3, size, size))
    buildings, boxes = [], []
    if every_grade or rng.random() > 0.08:
        # 5-8 buildings in a 64 px scene, as many per area of the same mean size in larger ones
        scale = (size / 64) ** 2 * ((6.0 + max_side(64)) / (6.0 + max_side(size))) ** 2
        target = int(round(rng.integers(5, 9) * max(1.0, scale)))
        undamaged = not every_grade and rng.random() < 0.2
        for _ in range(40 * target):
            if len(buildings) == target:
                break
            shape = building(rng, size)
            if shape.is_empty:
                continue
            x0, y0, x1, y1 = shape.bounds
            near = [i for i, (a0, b0, a1, b1) in enumerate(boxes)
                    if a0 <= x1 + 1.5 and x0 - 1.5 <= a1 and b0 <= y1 + 1.5 and y0 - 1.5 <= b1]
            if any(shape.buffer(1.5).intersects(buildings[i][0]) for i in near):
                continue  # buildings keep 1.5 pixels apart
            if every_grade and len(buildings) < len(GRADES):
                grade = GRADES[len(buildings)]
            elif rng.random() < 0.04:
                grade = UNCLASSIFIED
            elif undamaged:
                grade = GRADES[0]
            else:
                grade = GRADES[int(rng.choice(4, p=[0.4, 0.2, 0.2, 0.2]))]
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
        roof = np.array(ROOFS[int(rng.integers(len(ROOFS)))], float)
        roof = roof[:, None] * rng.uniform(0.9, 1.1) + rng.normal(0, 5, (3, int(mask.sum())))
        pre[:, rows, cols][:, mask] = roof
        if grade in (GRADES[0], UNCLASSIFIED):
            after = roof
        elif grade == GRADES[1]:
            after = 0.45 * roof + 0.55 * TARP[:, None]
        elif grade == GRADES[2]:
            after = 0.35 * roof + 0.2 * CHAR[:, None]
        else:  # destroyed: bare ground strewn with debris
            after = ground[:, None] * 1.15 + rng.normal(0, 25, (3, int(mask.sum())))
        post[:, rows, cols][:, mask] = after
    return to_uint8(pre), to_uint8(post), buildings


def to_uint8(image: np.ndarray) -> np.ndarray:
    """``image`` rounded and clipped to 0-255, as uint8."""
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def label(buildings: list, name: str, disaster: str, disaster_type: str, size: int, post: bool,
          rng: np.random.Generator) -> dict:
    """The xBD label of one image: the buildings in ``features.xy`` (pixel WKT) and ``features.lng_lat``
    (geographic WKT; the damage subtype only in post-disaster labels), and the image metadata."""
    lon, lat = rng.uniform(-120, -80), rng.uniform(25, 45)
    xy, lng_lat = [], []
    for shape, grade in buildings:
        props = dict(feature_type='building', uid=uid(rng))
        if post:
            props['subtype'] = grade
        xy.append(dict(properties=dict(props), wkt=shape.wkt))
        geo = affinity.affine_transform(shape, [5e-6, 0, 0, -5e-6, lon, lat])
        lng_lat.append(dict(properties=dict(props), wkt=geo.wkt))
    meta = dict(sensor='WORLDVIEW02', provider_asset_type='WORLDVIEW02', gsd=2.0, capture_date='2018-10-14T17:00:00Z',
                off_nadir_angle=20.0, pan_resolution=0.5, sun_azimuth=160.0, sun_elevation=50.0, target_azimuth=30.0,
                disaster=disaster, disaster_type=disaster_type, catalog_id=uid(rng)[:16], original_width=size,
                original_height=size, width=size, height=size, id=uid(rng),
                img_name=f'{name}{POST if post else PRE}.png')
    return dict(features=dict(lng_lat=lng_lat, xy=xy), metadata=meta)


def make(out: Path, size: int, n_train: int, n_val: int, seed: int) -> Path:
    """Write ``n_train`` image pairs of ``size`` pixels in tier1, half as many (at least 2) in tier3 and ``n_val``
    in hold and in test, each with its pre and post labels; returns ``<out>/xBD``. The first pair of each tier holds
    every damage grade."""
    rng = np.random.default_rng(seed)
    root = Path(out) / 'xBD'
    counts = dict(zip(XBD_TIERS, (n_train, max(2, n_train // 2), n_val, n_val)))
    for tier, n in counts.items():
        for i in range(n):
            disaster, disaster_type = DISASTERS[tier][i % len(DISASTERS[tier])]
            name = f'{disaster}_{i:08d}'
            pre, post, buildings = scene(rng, size, every_grade=i == 0)
            for suffix, img in ((PRE, pre), (POST, post)):
                write_png(root / tier / 'images' / f'{name}{suffix}.png', img)
                record = label(buildings, name, disaster, disaster_type, size, suffix == POST, rng)
                write_json_atomic(root / tier / 'labels' / f'{name}{suffix}.json', record, indent=None)
    return root
