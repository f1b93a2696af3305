"""Hephaestus deformation polygons rasterised: one :class:`Deformation` per polygon, and class masks of a whole
interferogram or of a window of it.

Mask values are the activity classes: 0 background, 1 Mogi, 2 Dyke, 3 Sill, 4 Spheroid, 5 Earthquake, 6 Unidentified.
Where polygons overlap, the later one in the annotation wins.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from geospatial_mm.datasets.hephaestus_schema import ACTIVITY_CLASSES, Annotation, AnnotationError


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
