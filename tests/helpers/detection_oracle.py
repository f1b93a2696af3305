"""A detection model that detects the true objects: the tiny Mask R-CNN config's model (tiles read by its own test
pipeline) with its detector replaced by the objects of an id raster inside each tile's window. It tests everything
around the detector: tiling, stitching of objects cut by tile borders, outputs."""
from __future__ import annotations

import numpy as np

from geospatial_mm.inference.detection import DetectionRasterPredictor
from geospatial_mm.inference.openmmlab_model import OpenMMLabModel
from .models import TINY_DET


def truth_instances(height=150, width=170) -> np.ndarray:
    """Instance ids (0 none): objects cut by tile borders of a 64 px / 48 px-stride grid in every way."""
    ids = np.zeros((height, width), np.int32)
    ids[20:30, 5:160] = 1  # long: crosses 3 borders, no tile sees it whole
    ids[52:74, 52:74] = 2  # around a tile corner: cut by the borders of 4 tiles
    ids[100:140, 10:40] = 3  # crosses a horizontal border
    ids[110:125, 20:30] = 0  # ... and has a hole
    ids[60:70, 120:140] = 4  # two objects that touch along an edge: never one
    ids[70:80, 120:140] = 5
    ids[5:10, 5:10] = 6  # inside one tile
    ids[95:140, 90:100] = 7  # crosses rows of tiles; the class raster says it is class 1 (the others 0)
    return ids


def oracle(ids: np.ndarray, window, classes=None):
    """Masks of the objects inside ``window`` (cut by its edges), their classes and scores."""
    row, col, h, w = window
    part = ids[row:row + h, col:col + w]
    present = [i for i in np.unique(part) if i]
    masks = np.stack([part == i for i in present]) if present else np.zeros((0, h, w), bool)
    labels = np.array([classes.get(i, 0) if classes else 0 for i in present], np.int64)
    return masks, labels, np.linspace(0.9, 0.6, len(present)).astype(np.float32)


class OracleModel(OpenMMLabModel):
    """The detection config's model with the detector replaced by the true objects of each tile's window."""
    truth: np.ndarray = None
    tile: int = None

    def detect(self, batch, score_thr):
        tile = self.tile or self.tile_and_stride(None, None)[0]  # the predictor's (default: the config's)
        out = []
        for item in batch:
            row, col, h, w = item.meta.metainfo['geo_meta']['window']
            masks, labels, scores = oracle(self.truth, (row, col, h, w))
            padded = np.zeros((len(masks), tile, tile), bool)
            padded[:, :h, :w] = masks
            keep = scores >= score_thr
            out.append((padded[keep], labels[keep], scores[keep]))
        return out


def oracle_predictor(ckpt, truth, **options) -> DetectionRasterPredictor:
    """The detection predictor of the tiny Mask R-CNN config whose detector sees the objects of ``truth``."""
    model = OracleModel(TINY_DET, str(ckpt))
    predictor = DetectionRasterPredictor(model, **options)
    model.truth, model.tile = truth, predictor.tile
    return predictor


def assert_one_to_one(truth, predicted):
    """Every true object is exactly one predicted instance, pixel for pixel, and nothing else was predicted."""
    pairs = {(int(a), int(b)) for a, b in zip(truth.ravel(), predicted.ravel())}
    assert all((a == 0) == (b == 0) for a, b in pairs), 'an object pixel was lost or a background pixel predicted'
    objects = [(a, b) for a, b in pairs if a]
    assert len({a for a, _ in objects}) == len(objects) == len({b for _, b in objects}), sorted(objects)
