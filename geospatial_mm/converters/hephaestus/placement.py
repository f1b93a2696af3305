"""Where the crops of a Hephaestus interferogram lie, and the label record of each crop.

An interferogram with deformation polygons gives one crop per polygon, placed at random so that it contains the whole
polygon (in a crowd frame each crop is labelled with every deformation it touches); a polygon larger than the crop is
cut, with a :class:`CropCutsDeformationWarning`. An interferogram without deformation is tiled into non-overlapping
crops.
"""
from __future__ import annotations

import os.path as osp
import warnings
from typing import Iterable, Sequence

import numpy as np

from geospatial_mm.datasets.hephaestus_schema import (
    ACTIVITY_CLASSES,
    DEFORMATION,
    INTENSITY_LEVELS,
    NO_DEFORMATION,
    Annotation,
    AnnotationError,
)
from .masks import Deformation, deformations_in


class CropCutsDeformationWarning(UserWarning):
    """A deformation is larger than the requested crop, so the crop contains only part of it."""


def check_crop_fits(shape: tuple[int, int], size: int, name: str) -> None:
    """An interferogram of ``shape`` smaller than a ``size`` crop is an error naming ``name``."""
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
    check_crop_fits(shape, output_size, name)
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
