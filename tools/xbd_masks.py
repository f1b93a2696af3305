#!/usr/bin/env python
"""Turn xBD label JSONs into localisation and damage targets, and optionally write train/val/test split files.

    python tools/xbd_masks.py data/xBD                       # every tier found: tier1 tier3 hold test
    python tools/xbd_masks.py data/xBD --tiers tier1 hold --workers 8
    python tools/xbd_masks.py data/xBD --split-dir data/xBD/splits --val-fraction 0.25 --seed 0

For every ``<tier>/labels/<disaster>_<id>_{pre,post}_disaster.json`` it writes
``<tier>/targets/<disaster>_<id>_{pre,post}_disaster_target.png`` (uint8, the image's size):

* pre: localisation, 0 background, 1 building (every building polygon);
* post: damage, 0 background, 1 no-damage, 2 minor-damage, 3 major-damage, 4 destroyed, 255 un-classified
  (ignored in training and scoring).

Polygons are the ``features.xy`` WKT polygons in pixel coordinates; a pixel belongs to a polygon when its centre is
inside it (GDAL's rasterisation), so holes stay background and parts beyond the image border are cut off.
Overlapping polygons are burnt in file order (the later one wins). Invalid polygons (self-intersections) are
repaired with shapely's make_valid and counted. The image size comes from the label's metadata and is checked
against the image when it is there. Targets are written under a temporary name and renamed; existing targets are
kept unless --overwrite. Inputs are only read.

--split-dir writes ``train.txt``, ``val.txt`` and ``test.txt`` of ``<tier>/<disaster>_<id>`` ids (what
``XBDDataset(ann_file=...)`` reads): by default train = tier1 + 75 % of tier3, val = hold + 25 % of tier3 (drawn per
disaster with --seed), test = test — the split of the original project.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import warnings
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # noqa: E402  run from a checkout

from geospatial_mm.datasets.xbd import POST, PRE, XBD_DAMAGE_VALUES as DAMAGE_VALUES, XBD_TIERS as TIERS  # noqa: E402


class LabelError(ValueError):
    """A label file that cannot be turned into a target; the message names the file."""


def read_label(path: Path) -> dict:
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
        from geospatial_mm.io import read_meta
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
            if subtype not in DAMAGE_VALUES:
                raise LabelError(f'{path}: feature {uid}: damage subtype {subtype!r}, expected one of '
                                 f'{sorted(DAMAGE_VALUES)}')
            value = DAMAGE_VALUES[subtype]
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
    return label.parent.parent / 'targets' / (label.stem + '_target.png')


def _one(args: tuple[str, bool]) -> tuple[str, Counter]:
    label, overwrite = Path(args[0]), args[1]
    out = target_path(label)
    if out.is_file() and not overwrite:
        return 'kept', Counter()
    kind = 'pre' if label.stem.endswith(PRE) else 'post'
    image = label.parent.parent / 'images' / (label.stem + '.png')
    mask, stats = rasterize_label(label, kind, image)
    from geospatial_mm.io import write_png
    write_png(out, mask)
    return 'written', stats


def tier_labels(root: Path, tier: str) -> list[Path]:
    folder = root / tier / 'labels'
    if not folder.is_dir():
        raise FileNotFoundError(f'{folder}: labels folder of tier {tier!r} not found')
    labels = sorted(p for p in folder.glob('*_disaster.json') if p.stem.endswith((PRE, POST)))
    if not labels:
        raise FileNotFoundError(f'{folder}: no *_pre_disaster.json / *_post_disaster.json label')
    return labels


def make_targets(root: Path, tiers: list[str], overwrite: bool = False, workers: int = 1) -> dict:
    """Write the targets of ``tiers``; returns counts per tier."""
    summary = {}
    for tier in tiers:
        jobs = [(str(p), overwrite) for p in tier_labels(root, tier)]
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                results = list(pool.map(_one, jobs, chunksize=16))
        else:
            results = [_one(job) for job in jobs]
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
    split_dir.mkdir(parents=True, exist_ok=True)
    for name, ids in splits.items():
        if not ids:
            continue
        path = split_dir / f'{name}.txt'
        tmp = path.with_name(f'.{path.name}.{os.getpid()}.tmp')
        tmp.write_text(''.join(f'{i}\n' for i in ids))
        os.replace(tmp, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('root', type=Path, help='the xBD folder holding tier1/ tier3/ hold/ test/')
    parser.add_argument('--tiers', nargs='+', choices=TIERS, help='tiers to make targets for (default: all found)')
    parser.add_argument('--overwrite', action='store_true', help='rewrite targets that exist')
    parser.add_argument('--workers', type=int, default=1, help='processes (default 1)')
    parser.add_argument('--split-dir', type=Path, help='also write train.txt, val.txt, test.txt here')
    parser.add_argument('--train-tiers', nargs='*', choices=TIERS, help='(default: tier1)')
    parser.add_argument('--val-tiers', nargs='*', choices=TIERS, help='(default: hold)')
    parser.add_argument('--split-tiers', nargs='*', choices=TIERS,
                        help='tiers shared between train and val by --val-fraction (default: tier3)')
    parser.add_argument('--test-tiers', nargs='*', choices=TIERS, help='(default: test)')
    parser.add_argument('--val-fraction', type=float, default=0.25)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        parser.error(f'{args.root}: folder not found')
    tiers = args.tiers or [t for t in TIERS if (args.root / t).is_dir()]
    if not tiers:
        parser.error(f'{args.root}: none of the tiers {TIERS} is there')
    try:
        summary = make_targets(args.root, tiers, args.overwrite, max(1, args.workers))
        for tier, counts in summary.items():
            print(f'{tier}: ' + ', '.join(f'{k} {v}' for k, v in counts.items()))
        if args.split_dir:
            present = [t for t in TIERS if (args.root / t).is_dir()]
            defaults = dict(train_tiers=['tier1'], val_tiers=['hold'], split_tiers=['tier3'], test_tiers=['test'])
            pick = []
            for key, default in defaults.items():  # a tier asked for must be there; a default one may be missing
                given = getattr(args, key)
                pick.append(given if given is not None else [t for t in default if t in present])
            splits = make_splits(args.root, *pick, args.val_fraction, args.seed)
            write_splits(args.split_dir, splits)
            print(f'splits in {args.split_dir}: ' + ', '.join(f'{k} {len(v)}' for k, v in splits.items()))
    except (LabelError, FileNotFoundError, ValueError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
