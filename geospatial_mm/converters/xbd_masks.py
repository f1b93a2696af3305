"""xBD label JSONs -> localisation and damage targets, and train/val/test split files (``tools/xbd_masks.py``).

For every ``<tier>/labels/<disaster>_<id>_{pre,post}_disaster.json`` :func:`make_targets` writes
``<tier>/targets/<disaster>_<id>_{pre,post}_disaster_target.png`` (uint8, the image's size):

* pre: localisation, 0 background, 1 building (every building polygon);
* post: damage, 0 background, then :data:`~geospatial_mm.datasets.xbd.XBD_DAMAGE_VALUES` (1 no-damage,
  2 minor-damage, 3 major-damage, 4 destroyed, 255 un-classified: ignored in training and scoring).

Polygons are the ``features.xy`` WKT polygons in pixel coordinates; a pixel belongs to a polygon when its centre is
inside it (GDAL's rasterisation), so holes stay background and parts beyond the image border are cut off.
Overlapping polygons are burnt in file order (the later one wins). Invalid polygons (self-intersections) are
repaired with shapely's make_valid and counted. The image size comes from the label's metadata and is checked
against the image when it is there. Targets are written atomically; existing targets are kept unless
``overwrite``. Inputs are only read.

:func:`make_splits` draws train/val/test lists of ``<tier>/<disaster>_<id>`` ids (what ``XBDDataset(ann_file=...)``
reads) and :func:`write_splits` writes them as ``train.txt``, ``val.txt`` and ``test.txt``.
"""
from __future__ import annotations

import json
import random
import warnings
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from geospatial_mm.datasets.xbd import POST, PRE, XBD_DAMAGE_VALUES
from geospatial_mm.errors import GeospatialMMError
from geospatial_mm.io import read_meta, write_png
from geospatial_mm.io.atomic import write_text_atomic


class LabelError(GeospatialMMError, ValueError):
    """A label file that cannot be turned into a target; the message names the file."""


# ------------------------------------------------------------------------------------------------------------ targets
def read_label(path: Path) -> dict:
    """An xBD label JSON, checked to hold a ``features.xy`` list."""
    try:
        with open(path) as f:
            label = json.load(f)
    except json.JSONDecodeError as exc:
        raise LabelError(f'{path}: not valid JSON ({exc})') from None
    features = label.get('features') if isinstance(label, dict) else None
    if not isinstance(features, dict) or not isinstance(features.get('xy'), list):
        raise LabelError(f'{path}: expected an xBD label with a features.xy list, found keys '
                         f'{sorted(label) if isinstance(label, dict) else type(label).__name__}')
    return label


def image_size(label: dict, path: Path, image: Path | None) -> tuple[int, int]:
    """(height, width) from the label's metadata, checked against the image when there is one."""
    meta = label.get('metadata') or {}
    size = (meta.get('height'), meta.get('width'))
    if image is not None and image.is_file():
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', message='Dataset has no geotransform')
            img = read_meta(image)
        if None not in size and tuple(size) != (img.height, img.width):
            raise LabelError(f'{path}: metadata says {size[0]}x{size[1]} pixels but the image {image} has '
                             f'{img.height}x{img.width}')
        return img.height, img.width
    if None in size:
        raise LabelError(f'{path}: no metadata.width/height and no image {image} to take the size from')
    return int(size[0]), int(size[1])


def label_shapes(label: dict, path: Path, kind: str) -> tuple[list, Counter]:
    """``[(polygon, value), ...]`` to burn and counts of what was found, for a 'pre' or 'post' label."""
    from shapely import make_valid, wkt
    from shapely.errors import ShapelyError
    shapes, stats = [], Counter()
    for i, feature in enumerate(label['features']['xy']):
        props = feature.get('properties') or {}
        uid = props.get('uid', f'#{i}')
        if props.get('feature_type', 'building') != 'building':
            stats[f'not burnt ({props.get("feature_type")})'] += 1
            continue
        try:
            geom = wkt.loads(feature['wkt'])
        except (KeyError, ShapelyError) as exc:
            raise LabelError(f'{path}: feature {uid}: no readable WKT polygon ({exc})') from None
        if geom.geom_type not in ('Polygon', 'MultiPolygon'):
            raise LabelError(f'{path}: feature {uid}: expected a polygon, found {geom.geom_type}')
        if not geom.is_valid:
            geom = make_valid(geom)
            stats['repaired'] += 1
        if kind == 'pre':
            value = 1
        else:
            subtype = props.get('subtype')
            if subtype not in XBD_DAMAGE_VALUES:
                raise LabelError(f'{path}: feature {uid}: damage subtype {subtype!r}, expected one of '
                                 f'{sorted(XBD_DAMAGE_VALUES)}')
            value = XBD_DAMAGE_VALUES[subtype]
            stats[subtype] += 1
        if not geom.is_empty:
            shapes.append((geom, value))
        stats['buildings'] += 1
    return shapes, stats


def rasterize_label(path: Path, kind: str, image: Path | None = None) -> tuple[np.ndarray, Counter]:
    """The target of one label file (``kind``: 'pre' -> localisation, 'post' -> damage)."""
    from rasterio.features import rasterize
    label = read_label(path)
    height, width = image_size(label, path, image)
    shapes, stats = label_shapes(label, path, kind)
    if not shapes:
        return np.zeros((height, width), np.uint8), stats
    return rasterize(shapes, out_shape=(height, width), fill=0, dtype='uint8'), stats


def target_path(label: Path) -> Path:
    """``<tier>/targets/<label name>_target.png`` of ``<tier>/labels/<label name>.json``."""
    return label.parent.parent / 'targets' / (label.stem + '_target.png')


def write_target(label: Path, overwrite: bool = False) -> tuple[str, Counter]:
    """Write the target of one label file unless it exists (and not ``overwrite``): ``('written', counts)`` or
    ``('kept', Counter())``."""
    out = target_path(label)
    if out.is_file() and not overwrite:
        return 'kept', Counter()
    kind = 'pre' if label.stem.endswith(PRE) else 'post'
    image = label.parent.parent / 'images' / (label.stem + '.png')
    mask, stats = rasterize_label(label, kind, image)
    write_png(out, mask)
    return 'written', stats


def _write_target_job(job: tuple[str, bool]) -> tuple[str, Counter]:
    return write_target(Path(job[0]), job[1])


def tier_labels(root: Path, tier: str) -> list[Path]:
    """The pre and post label files of ``tier``, sorted."""
    folder = root / tier / 'labels'
    if not folder.is_dir():
        raise FileNotFoundError(f'{folder}: labels folder of tier {tier!r} not found')
    labels = sorted(p for p in folder.glob('*_disaster.json') if p.stem.endswith((PRE, POST)))
    if not labels:
        raise FileNotFoundError(f'{folder}: no *_pre_disaster.json / *_post_disaster.json label')
    return labels


def make_targets(root: Path, tiers: list[str], overwrite: bool = False, workers: int = 1) -> dict:
    """Write the targets of ``tiers`` (with ``workers`` processes); returns counts per tier."""
    summary = {}
    for tier in tiers:
        jobs = [(str(p), overwrite) for p in tier_labels(root, tier)]
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                results = list(pool.map(_write_target_job, jobs, chunksize=16))
        else:
            results = [_write_target_job(job) for job in jobs]
        outcome = Counter(r[0] for r in results)
        stats = sum((r[1] for r in results), Counter())
        summary[tier] = dict(labels=len(jobs), written=outcome['written'], kept=outcome['kept'], **stats)
    return summary


# ------------------------------------------------------------------------------------------------------------- splits
def tier_samples(root: Path, tier: str) -> list[str]:
    """``<tier>/<disaster>_<id>`` of every pre image that has its post image."""
    folder = root / tier / 'images'
    if not folder.is_dir():
        raise FileNotFoundError(f'{folder}: image folder of tier {tier!r} not found')
    ids = []
    for pre in sorted(folder.glob(f'*{PRE}.png')):
        name = pre.name[:-len(PRE + '.png')]
        if not (folder / f'{name}{POST}.png').is_file():
            raise FileNotFoundError(f'{pre}: no post image {folder / (name + POST + ".png")}')
        ids.append(f'{tier}/{name}')
    return ids


def disaster_of(sample_id: str) -> str:
    """The disaster of ``<tier>/<disaster>_<id>``."""
    return sample_id.split('/', 1)[1].rsplit('_', 1)[0]


def make_splits(root: Path, train_tiers, val_tiers, split_tiers, test_tiers, val_fraction: float,
                seed: int) -> dict[str, list[str]]:
    """Train/val/test ids; each disaster of ``split_tiers`` gives ``val_fraction`` of its samples to val."""
    if not 0.0 <= val_fraction <= 1.0:
        raise ValueError(f'--val-fraction must be in [0, 1], got {val_fraction}')
    splits = dict(train=[], val=[], test=[])
    for tiers, split in ((train_tiers, 'train'), (val_tiers, 'val'), (test_tiers, 'test')):
        for tier in tiers:
            splits[split] += tier_samples(root, tier)
    rng = random.Random(seed)
    for tier in split_tiers:
        by_disaster: dict[str, list[str]] = {}
        for sample in tier_samples(root, tier):
            by_disaster.setdefault(disaster_of(sample), []).append(sample)
        for disaster in sorted(by_disaster):
            samples = by_disaster[disaster]
            rng.shuffle(samples)
            n_val = int(round(val_fraction * len(samples)))
            splits['val'] += sorted(samples[:n_val])
            splits['train'] += sorted(samples[n_val:])
    return splits


def write_splits(split_dir: Path, splits: dict[str, list[str]]) -> None:
    """``<split_dir>/<split>.txt`` of every split that has ids, one id a line."""
    split_dir = Path(split_dir)
    split_dir.mkdir(parents=True, exist_ok=True)
    for name, ids in splits.items():
        if ids:
            write_text_atomic(split_dir / f'{name}.txt', ''.join(f'{i}\n' for i in ids))
