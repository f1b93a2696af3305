"""Instances of a class raster in COCO form: every connected component of a class is one instance.

Its segmentation is a COCO polygon when one outline without holes reproduces the component exactly (checked by
rasterising it with pycocotools), otherwise - holes, parts touching only at a corner - a COCO RLE of the exact mask.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np

CONNECTIVITY = {4: np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]]), 8: np.ones((3, 3), int)}


def component_masks(label: np.ndarray, valid: np.ndarray, classes: Sequence[int], connectivity: int = 8,
                    min_area: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """``(class value, boolean mask)`` of every connected component of each class with at least ``min_area``
    pixels, in class order and then in scan order of the components' first pixels."""
    from scipy import ndimage
    for value in classes:
        components, n = ndimage.label((label == value) & valid, structure=CONNECTIVITY[connectivity])
        if not n:
            continue
        areas = np.bincount(components.ravel(), minlength=n + 1)
        for index in range(1, n + 1):
            if areas[index] >= min_area:
                yield value, components == index


def encode_segmentation(mask: np.ndarray) -> dict | list:
    """A COCO segmentation of ``mask``: ``[polygon]`` when one outline without holes rasterises back to exactly the
    mask under pycocotools, otherwise an RLE ``{'size': [h, w], 'counts': str}`` of the exact mask."""
    from pycocotools import mask as mask_utils
    from rasterio.features import shapes
    h, w = mask.shape
    m = mask.astype(np.uint8)
    outlines = [geom['coordinates'] for geom, _ in shapes(m, mask=mask, connectivity=8)]
    if len(outlines) == 1 and len(outlines[0]) == 1:  # one polygon, no interior ring
        polygon = [float(v) for xy in outlines[0][0] for v in xy]
        if len(polygon) >= 6:
            decoded = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([polygon], h, w)))
            if np.array_equal(decoded.astype(bool), mask):
                return [polygon]
    rle = mask_utils.encode(np.asfortranarray(m))
    return {'size': [int(h), int(w)], 'counts': rle['counts'].decode('ascii')}


def annotation(mask: np.ndarray, category_id: int, image_id: int, ann_id: int) -> dict:
    """The COCO annotation of one instance's boolean ``mask``: segmentation, area and bounding box."""
    rows, cols = np.nonzero(mask)
    x0, y0 = int(cols.min()), int(rows.min())
    bbox = [x0, y0, int(cols.max()) - x0 + 1, int(rows.max()) - y0 + 1]
    return dict(id=ann_id, image_id=image_id, category_id=int(category_id), segmentation=encode_segmentation(mask),
                area=int(mask.sum()), bbox=[float(v) for v in bbox], iscrowd=0)


@dataclass
class CocoSplit:
    """The COCO dictionary of one split being filled."""
    name: str
    categories: list
    images: list = field(default_factory=list)
    annotations: list = field(default_factory=list)

    def to_dict(self, info: dict) -> dict:
        return dict(info=dict(info, split=self.name), licenses=[], images=self.images, annotations=self.annotations,
                    categories=self.categories)
