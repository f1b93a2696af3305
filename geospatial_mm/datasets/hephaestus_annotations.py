"""Hephaestus InSAR annotations: reading them, polygons -> class masks, crops around deformations, tiling of frames
without deformation, and ``save_crops`` for a whole annotation folder.

The raw dataset is laid out as ``<root>/<FrameID>/interferograms/<primary>_<secondary>/{InSAR.png, Coherence.png}``
with one annotation JSON per labelled interferogram (fields below). Polygon vertices are pixel coordinates of the
interferogram, ``x`` the column and ``y`` the row, given either flat (``[x0, y0, x1, y1, ...]``) or as pairs
(``[[x0, y0], [x1, y1], ...]``); a polygon may also be a list of flat parts. The i-th polygon has the i-th
``activity_type`` and ``intensity_level`` (a single intensity applies to every polygon).

Mask values are the activity classes: 0 background, 1 Mogi, 2 Dyke, 3 Sill, 4 Spheroid, 5 Earthquake, 6 Unidentified.
Where polygons overlap, the later one in the annotation wins.

``save_crops`` writes, for every annotation of a folder::

    <out>/images/<crop_id>/{InSAR.png, Coherence.png}   the crop of both images, as read (8- or 16-bit)
    <out>/masks/<crop_id>.png                             class mask of the crop (uint8, values 0-6)
    <out>/labels/<crop_id>.json                           the crop's labels (see :func:`crop_record`)
    <out>/crops.txt                                       every crop id written

Interferograms with deformation polygons give one crop per polygon, placed at random so that it contains the whole
polygon (a crowd frame gives several crops, each labelled with every deformation it touches); a polygon larger than
the crop is cut, with a :class:`CropCutsDeformationWarning`. Interferograms without deformation are tiled into
non-overlapping crops. Every file is written under a temporary name and renamed into place.
"""
from __future__ import annotations

import json
import os
import os.path as osp
import re
import warnings
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from geospatial_mm.io import png
from geospatial_mm.io.atomic import write_text_atomic

from .hephaestus_schema import (ACTIVITY_CLASSES, COHERENCE_FILE, DEFORMATION, INSAR_FILE, INTENSITY_LEVELS,
                                NO_DEFORMATION, Annotation, AnnotationError, read_annotation, read_interferogram)

class CropCutsDeformationWarning(UserWarning):
    """A deformation is larger than the requested crop, so the crop contains only part of it."""


# ------------------------------------------------------------------------------------------------------ masks
@dataclass
class Deformation:
    """One polygon rasterised: its class (1-6), intensity, bounding box (rows r0:r1, cols c0:c1) and the mask
    inside that box."""
    index: int
    class_index: int
    intensity: str | None
    bbox: tuple[int, int, int, int]
    mask: np.ndarray

    @property
    def name(self) -> str:
        return ACTIVITY_CLASSES[self.class_index - 1]


def rasterize_deformations(annotation: Annotation, shape: tuple[int, int]) -> list[Deformation]:
    """Rasterise every polygon of ``annotation`` on an image of ``shape`` (pixels the polygon covers, its outline
    included). A polygon that covers no pixel of the image is an error."""
    from PIL import Image, ImageDraw
    height, width = shape
    out = []
    for index, parts in enumerate(annotation.polygons):
        xy = np.concatenate(parts)
        c0, r0 = np.floor(xy.min(axis=0)).astype(int)
        c1, r1 = np.floor(xy.max(axis=0)).astype(int) + 1
        c0, r0, c1, r1 = max(c0, 0), max(r0, 0), min(c1, width), min(r1, height)
        if c0 >= c1 or r0 >= r1:
            raise AnnotationError(
                f'{annotation.path}: segmentation_mask[{index}] spans x {xy[:, 0].min():g}..{xy[:, 0].max():g}, '
                f'y {xy[:, 1].min():g}..{xy[:, 1].max():g}, outside the {height}x{width} interferogram')
        canvas = Image.new('1', (c1 - c0, r1 - r0), 0)
        draw = ImageDraw.Draw(canvas)
        for part in parts:
            draw.polygon([(float(x) - c0, float(y) - r0) for x, y in part], fill=1, outline=1)
        mask = np.asarray(canvas, dtype=bool)
        rows, cols = np.nonzero(mask)
        if not len(rows):
            raise AnnotationError(f'{annotation.path}: segmentation_mask[{index}] covers no pixel of the '
                                  f'{height}x{width} interferogram')
        tight = (r0 + rows.min(), c0 + cols.min(), r0 + rows.max() + 1, c0 + cols.max() + 1)
        mask = mask[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
        out.append(Deformation(index=index, class_index=ACTIVITY_CLASSES.index(annotation.activity_type[index]) + 1,
                               intensity=annotation.intensity_of(index), bbox=tuple(int(v) for v in tight),
                               mask=mask))
    return out


def _overlap(bbox: tuple[int, int, int, int], window: tuple[int, int, int, int]):
    """Intersection of a bbox (r0, c0, r1, c1) and a window (row, col, h, w), as slices into both; None if empty."""
    row, col, h, w = window
    r0, c0 = max(bbox[0], row), max(bbox[1], col)
    r1, c1 = min(bbox[2], row + h), min(bbox[3], col + w)
    if r0 >= r1 or c0 >= c1:
        return None
    in_window = (slice(r0 - row, r1 - row), slice(c0 - col, c1 - col))
    in_mask = (slice(r0 - bbox[0], r1 - bbox[0]), slice(c0 - bbox[1], c1 - bbox[1]))
    return in_window, in_mask


def class_mask(deformations: Iterable[Deformation], shape: tuple[int, int],
               window: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """The uint8 class mask (0 background, 1-6 activity classes) of the whole image or of ``window``
    ``(row, col, h, w)``; later polygons are drawn over earlier ones."""
    window = window or (0, 0, shape[0], shape[1])
    mask = np.zeros(window[2:], dtype=np.uint8)
    for d in deformations:
        hit = _overlap(d.bbox, window)
        if hit is not None:
            in_window, in_mask = hit
            mask[in_window][d.mask[in_mask]] = d.class_index
    return mask


def segmentation_mask(annotation: Annotation, shape: tuple[int, int]) -> np.ndarray:
    """Polygons -> the class mask of an interferogram of ``shape`` (0 background, 1-6 activity classes)."""
    return class_mask(rasterize_deformations(annotation, shape), shape)


def deformations_in(deformations: Iterable[Deformation], window: tuple[int, int, int, int]) -> list[Deformation]:
    """The deformations with at least one pixel inside ``window`` (row, col, h, w)."""
    found = []
    for d in deformations:
        hit = _overlap(d.bbox, window)
        if hit is not None and d.mask[hit[1]].any():
            found.append(d)
    return found


# ------------------------------------------------------------------------------------------------------ crops
def _check_fits(shape: tuple[int, int], size: int, name: str) -> None:
    if shape[0] < size or shape[1] < size:
        raise AnnotationError(f'{name}: the interferogram is {shape[0]}x{shape[1]} pixels, smaller than the '
                              f'{size}x{size} crop')


def _crop_start(lo: int, hi: int, extent: int, size: int, rng: np.random.Generator) -> int:
    """A random start of a ``size`` crop along one axis of ``extent`` pixels that contains [lo, hi), or lies inside
    it when the object is longer than the crop."""
    if hi - lo <= size:
        first, last = max(0, hi - size), min(lo, extent - size)
    else:
        first, last = lo, min(hi - size, extent - size)
    return int(rng.integers(first, last + 1))


def crop_around_object(deformations: Sequence[Deformation], shape: tuple[int, int], output_size: int = 224,
                       index: int = 0, rng: np.random.Generator | int | None = None,
                       name: str = '<interferogram>') -> tuple[int, int, int, int]:
    """A random ``output_size`` square window ``(row, col, h, w)`` of an image of ``shape`` that contains the whole
    deformation ``deformations[index]`` (other deformations may fall into it too).

    When the deformation is larger than the window along an axis, a :class:`CropCutsDeformationWarning` is issued and
    the window lies within the deformation's extent along that axis, cutting it.
    """
    _check_fits(shape, output_size, name)
    if not 0 <= index < len(deformations):
        raise AnnotationError(f'{name}: no deformation {index}; the annotation has {len(deformations)} polygon(s)')
    rng = np.random.default_rng(rng)
    target = deformations[index]
    r0, c0, r1, c1 = target.bbox
    if r1 - r0 > output_size or c1 - c0 > output_size:
        warnings.warn(f'{name}: deformation {index} ({target.name}) spans {r1 - r0}x{c1 - c0} pixels, more than the '
                      f'{output_size}x{output_size} crop; the crop cuts it', CropCutsDeformationWarning, stacklevel=2)
    row = _crop_start(r0, r1, shape[0], output_size, rng)
    col = _crop_start(c0, c1, shape[1], output_size, rng)
    return row, col, output_size, output_size


def image_tiling(shape: tuple[int, int], tile_size: int = 224) -> list[tuple[int, int, int, int]]:
    """Non-overlapping ``tile_size`` windows ``(row, col, h, w)`` covering an image of ``shape`` from its top-left
    corner, row by row; the remainder at the right and bottom edges (less than a tile) is left out."""
    if tile_size <= 0:
        raise ValueError(f'tile_size must be positive, found {tile_size}')
    return [(r, c, tile_size, tile_size) for r in range(0, shape[0] - tile_size + 1, tile_size)
            for c in range(0, shape[1] - tile_size + 1, tile_size)]


def _in_order(names: Iterable[str], order: Sequence[str]) -> list[str]:
    names = set(names)
    return [n for n in order if n in names]


def crop_record(annotation: Annotation, crop_id: str, window: tuple[int, int, int, int],
                deformations: Sequence[Deformation], target: int | None = None, cut: bool = False) -> dict:
    """The label file of one crop.

    ``label`` is ``['Deformation']`` when any deformation touches the crop, else ``['Non_Deformation']``;
    ``activity_type`` and ``intensity_level`` list the distinct classes and intensities of the deformations in the
    crop (``objects``: their polygon indices); ``is_crowd`` is 1 when the crop holds more than one. ``target`` is the
    polygon the crop was placed around (None for tiles) and ``cut`` says the crop cuts it. The annotation's dates,
    phase, confidence, caption and quality flags are kept.
    """
    inside = deformations_in(deformations, window)
    record = dict(
        crop_id=crop_id, annotation=osp.basename(annotation.path), uniqueID=annotation.unique_id,
        frameID=annotation.frame_id, primary_date=annotation.primary_date, secondary_date=annotation.secondary_date,
        window=[int(v) for v in window],
        label=[DEFORMATION] if inside else [NO_DEFORMATION],
        activity_type=_in_order((d.name for d in inside), ACTIVITY_CLASSES),
        intensity_level=_in_order((d.intensity for d in inside if d.intensity), INTENSITY_LEVELS),
        objects=[d.index for d in inside], target=target, cut=bool(cut), is_crowd=int(len(inside) > 1),
        phase=annotation.phase, confidence=annotation.confidence, caption=annotation.caption)
    record.update(annotation.flags)
    return record


# ------------------------------------------------------------------------------------------------------ writing
def write_crop(out: str, crop_id: str, image: np.ndarray, mask: np.ndarray, record: dict,
               files: Sequence[str] = (INSAR_FILE, COHERENCE_FILE)) -> None:
    """Write one crop: its images (one PNG per channel of ``image``), class mask and label file."""
    for channel, name in enumerate(files):
        png.write_png(osp.join(out, 'images', crop_id, name), np.ascontiguousarray(image[..., channel]))
    png.write_png(osp.join(out, 'masks', f'{crop_id}.png'), mask)
    write_text_atomic(osp.join(out, 'labels', f'{crop_id}.json'), json.dumps(record, indent=2) + '\n')


@dataclass
class CropSummary:
    """What :func:`save_crops` did."""
    crop_ids: list[str] = field(default_factory=list)
    annotations: int = 0
    object_crops: int = 0
    tiles: int = 0
    cut: list[str] = field(default_factory=list)  # crop ids whose target deformation is larger than the crop
    skipped: list[str] = field(default_factory=list)  # 'file: reason'

    def __str__(self) -> str:
        return (f'{len(self.crop_ids)} crops from {self.annotations} annotations: {self.object_crops} around '
                f'deformations ({len(self.cut)} cut), {self.tiles} tiles without deformation; '
                f'{len(self.skipped)} annotation(s) skipped')


def crops_of_annotation(deformations: Sequence[Deformation], image_shape: tuple[int, int], out_size: int,
                        rng: np.random.Generator, name: str = '<interferogram>'
                        ) -> list[tuple[tuple[int, int, int, int], int | None, bool]]:
    """The crop windows of one interferogram: ``(window, target polygon or None, cut)`` for each - one around every
    deformation, or non-overlapping tiles when there is none."""
    if not deformations:
        return [(window, None, False) for window in image_tiling(image_shape, out_size)]
    crops = []
    for d in deformations:
        window = crop_around_object(deformations, image_shape, out_size, d.index, rng, name)
        r0, c0, r1, c1 = d.bbox
        crops.append((window, d.index, r1 - r0 > out_size or c1 - c0 > out_size))
    return crops


def save_crops(annotation_folder: str | os.PathLike, raw_insar_path: str | os.PathLike, save_path: str | os.PathLike,
               out_size: int = 224, seed: int | None = 0, files: Sequence[str] = (INSAR_FILE, COHERENCE_FILE),
               verbose: bool = False) -> CropSummary:
    """Crops, masks and label files for every annotation JSON of ``annotation_folder`` (see the module doc).

    Annotations whose labels claim a deformation that has no polygon cannot be placed in a crop: they are skipped
    with a warning and listed in the summary (``skipped``). ``seed`` makes the crop placement reproducible.
    """
    annotation_folder, raw_root, out = (os.fspath(p) for p in (annotation_folder, raw_insar_path, save_path))
    if not osp.isdir(annotation_folder):
        raise AnnotationError(f'{annotation_folder}: annotation folder not found')
    names = sorted(n for n in os.listdir(annotation_folder) if n.endswith('.json'))
    if not names:
        raise AnnotationError(f'{annotation_folder}: expected annotation *.json files, found none')
    rng = np.random.default_rng(seed)
    summary = CropSummary()
    for name in names:
        annotation = read_annotation(osp.join(annotation_folder, name))
        summary.annotations += 1
        claims = [n for n in annotation.label if n != NO_DEFORMATION] + annotation.activity_type
        if not annotation.polygons and claims:
            reason = (f'{annotation.path}: labelled {claims} but has no deformation polygon; it cannot be placed in a '
                      f'crop and is skipped')
            warnings.warn(reason, stacklevel=2)
            summary.skipped.append(reason)
            continue
        folder = annotation.interferogram_dir(raw_root)
        if not osp.isdir(folder):
            raise AnnotationError(f'{annotation.path}: its interferogram folder {folder} does not exist')
        image = read_interferogram(folder, files)
        shape = image.shape[:2]
        _check_fits(shape, out_size, osp.join(folder, files[0]))
        deformations = rasterize_deformations(annotation, shape)
        crops = crops_of_annotation(deformations, shape, out_size, rng, annotation.path)
        if not crops:
            raise AnnotationError(f'{folder}: no {out_size}-pixel tile fits the {shape[0]}x{shape[1]} interferogram')
        for k, (window, target, cut) in enumerate(crops):
            crop_id = f'{annotation.unique_id}_{k:03d}'
            row, col, h, w = window
            record = crop_record(annotation, crop_id, window, deformations, target, cut)
            write_crop(out, crop_id, image[row:row + h, col:col + w], class_mask(deformations, shape, window), record,
                       files)
            summary.crop_ids.append(crop_id)
            if target is None:
                summary.tiles += 1
            else:
                summary.object_crops += 1
            if cut:
                summary.cut.append(crop_id)
        if verbose:
            print(f'{name}: {len(crops)} crop(s)')
    write_text_atomic(osp.join(out, 'crops.txt'), ''.join(f'{c}\n' for c in summary.crop_ids))
    return summary


def split_crops(save_path: str | os.PathLike, val_from: str, crop_ids: Sequence[str] | None = None) -> dict:
    """Temporal split of a crop folder: crops whose primary date is before ``val_from`` (YYYYMMDD) go to
    ``train.txt``, the others to ``val.txt`` (both written in ``save_path``). Returns the two id lists."""
    out = os.fspath(save_path)
    if not re.fullmatch(r'\d{8}', str(val_from)):
        raise ValueError(f'val_from must be a date YYYYMMDD, found {val_from!r}')
    if crop_ids is None:
        index = osp.join(out, 'crops.txt')
        if not osp.isfile(index):
            raise AnnotationError(f'{index}: crop index not found (written by save_crops)')
        with open(index, encoding='utf-8') as f:
            crop_ids = [line.strip() for line in f if line.strip()]
    splits = dict(train=[], val=[])
    for crop_id in crop_ids:
        path = osp.join(out, 'labels', f'{crop_id}.json')
        if not osp.isfile(path):
            raise AnnotationError(f'{path}: label file of crop {crop_id} not found')
        with open(path, encoding='utf-8') as f:
            date = json.load(f)['primary_date']
        splits['train' if date < str(val_from) else 'val'].append(crop_id)
    for name, ids in splits.items():
        write_text_atomic(osp.join(out, f'{name}.txt'), ''.join(f'{c}\n' for c in ids))
    return splits
