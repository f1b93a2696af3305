#!/usr/bin/env python
"""Reference outputs of compiled mmcv 2.1.0's ``roi_align`` (forward and backward) and ``nms``, for the tests of the
torchvision provider of ``mmcv._ext`` (tests/compat/test_mmcv_ops.py).

Run it where mmcv is installed with its compiled ops (``GEOSPATIAL_MM_MMCV=full make install``); it writes
``references.npz`` beside itself: every case's inputs, parameters and outputs, so that the tests replay the inputs
through the provider and compare. The inputs come from seeded generators here; the parameters are listed in
:data:`ROI_ALIGN_CASES` and :func:`nms_cases`.

    python tests/compat/mmcv_ops/make_references.py
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / 'references.npz'
# (name, dtype, spatial_scale, sampling_ratio, aligned, output size): every combination the tests must cover
ROI_ALIGN_CASES = [
    (f'{dtype}_scale{scale}_ratio{ratio}_{"aligned" if aligned else "unaligned"}', dtype, scale, ratio, aligned,
     (7, 7) if scale != 0.125 else (14, 14))
    for dtype in ('float32', 'float64') for scale in (1.0, 0.5, 0.25, 0.125) for ratio in (0, 2)
    for aligned in (True, False)
] + [('float32_no_rois', 'float32', 0.25, 0, True, (7, 7))]  # an empty (0, 5) rois tensor


def compiled_ext():
    """mmcv's compiled ``_ext`` module itself (never the provider), or an error saying how to get it."""
    import mmcv
    folder = Path(mmcv.__file__).parent
    found = sorted(folder.glob('_ext*.so')) + sorted(folder.glob('_ext*.pyd'))
    if not found:
        raise SystemExit(f'{folder} has no compiled _ext: install full mmcv (GEOSPATIAL_MM_MMCV=full make install)')
    spec = importlib.util.spec_from_file_location('mmcv._ext', found[0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def roi_align_inputs(dtype: str, scale: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A batch of 3 feature maps of 4 channels and rois on all three images, some partly or wholly outside the map,
    some smaller than a bin, one of zero size; in the image coordinates that ``scale`` maps to the feature map."""
    rng = np.random.default_rng(seed)
    height, width = 13, 17
    features = rng.normal(0, 1, (3, 4, height, width)).astype(dtype)
    size = np.array([width, height, width, height]) / scale
    rois = []
    for i in range(12):
        x1, y1 = rng.uniform(-0.2, 0.9, 2) * size[:2]
        w, h = rng.uniform(0.05, 0.8, 2) * size[:2]
        rois.append([i % 3, x1, y1, x1 + w, y1 + h])
    rois.append([1, 0.3 * size[0], 0.3 * size[1], 0.3 * size[0] + 0.4, 0.3 * size[1] + 0.3])  # smaller than a bin
    rois.append([2, 0.5 * size[0], 0.5 * size[1], 0.5 * size[0], 0.5 * size[1]])  # zero size
    rois.append([0, -0.5 * size[0], -0.5 * size[1], -0.1 * size[0], -0.1 * size[1]])  # wholly outside
    rois.append([2, 0.6 * size[0], 0.7 * size[1], 1.4 * size[0], 1.3 * size[1]])  # past the far edges
    return features, np.array(rois, dtype=dtype)


def case_inputs(name: str, dtype: str, scale: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    features, rois = roi_align_inputs(dtype, scale, seed)
    return (features, rois[:0]) if name.endswith('no_rois') else (features, rois)


def roi_align_reference(ext, features: np.ndarray, rois: np.ndarray, grad: np.ndarray, size, scale, ratio,
                        aligned) -> tuple[np.ndarray, np.ndarray]:
    """The compiled op's output and gradient of the features, called as mmcv's RoIAlign function calls it."""
    x = torch.from_numpy(features)
    r = torch.from_numpy(rois)
    output = x.new_zeros((r.shape[0], x.shape[1], *size))
    empty = x.new_zeros(0)
    ext.roi_align_forward(x, r, output, empty, empty, aligned_height=size[0], aligned_width=size[1],
                          spatial_scale=scale, sampling_ratio=ratio, pool_mode=1, aligned=aligned)
    grad_input = x.new_zeros(x.shape)
    ext.roi_align_backward(torch.from_numpy(grad), r, empty, empty, grad_input, aligned_height=size[0],
                           aligned_width=size[1], spatial_scale=scale, sampling_ratio=ratio, pool_mode=1,
                           aligned=aligned)
    return output.numpy(), grad_input.numpy()


def nms_cases() -> dict[str, dict]:
    """Boxes ``(N, 4)`` float32 and scores for NMS: random overlaps, exact score ties, IoU exactly at the threshold
    (0.5 and 1/3 of boxes whose areas are exact in float32), offset 1, no boxes, one box, and ``idxs`` of one class
    and of many for ``batched_nms``."""
    rng = np.random.default_rng(7)
    cases = {}
    xy = rng.uniform(0, 100, (200, 2))
    wh = rng.uniform(5, 40, (200, 2))
    boxes = np.concatenate([xy, xy + wh], 1).astype(np.float32)
    scores = rng.uniform(0, 1, 200).astype(np.float32)
    for threshold in (0.3, 0.5, 0.7):
        for offset in (0, 1):
            cases[f'random_iou{threshold}_offset{offset}'] = dict(boxes=boxes, scores=scores, iou=threshold,
                                                                  offset=offset)
    tied = np.round(scores * 4) / 4  # five distinct values: many exact ties
    cases['ties'] = dict(boxes=boxes, scores=tied.astype(np.float32), iou=0.5, offset=0)
    # IoU exactly 0.5: [0,0,4,4] and [0,0,4,2] (intersection 8, union 16); 1/3: [0,0,4,4] and [2,0,6,4]
    at = np.array([[0, 0, 4, 4], [0, 0, 4, 2], [10, 10, 14, 14], [12, 10, 16, 14], [20, 20, 24, 24],
                   [20, 20, 24, 24]], np.float32)
    at_scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.5], np.float32)
    cases['at_threshold_half'] = dict(boxes=at, scores=at_scores, iou=0.5, offset=0)
    cases['at_threshold_third'] = dict(boxes=at, scores=at_scores, iou=1 / 3, offset=0)
    # with offset 1: [0,0,3,3] (area 16) and [0,0,3,1] (area 8): IoU 0.5
    cases['at_threshold_offset1'] = dict(boxes=at - np.array([0, 0, 1, 1], np.float32), scores=at_scores, iou=0.5,
                                         offset=1)
    cases['no_boxes'] = dict(boxes=np.zeros((0, 4), np.float32), scores=np.zeros(0, np.float32), iou=0.5, offset=0)
    cases['one_box'] = dict(boxes=boxes[:1], scores=scores[:1], iou=0.5, offset=0)
    for name, classes in (('batched_one_class', 1), ('batched_many_classes', 7)):
        cases[name] = dict(boxes=boxes, scores=scores, iou=0.5, offset=0,
                           idxs=rng.integers(0, classes, 200).astype(np.int64))
    return cases


def nms_reference(ext, case: dict) -> np.ndarray:
    """The compiled op's kept indices; ``batched_nms`` cases through mmcv's ``batched_nms`` on the compiled op."""
    boxes, scores = torch.from_numpy(case['boxes']), torch.from_numpy(case['scores'])
    if 'idxs' in case:
        from mmcv.ops import batched_nms
        _, keep = batched_nms(boxes, scores, torch.from_numpy(case['idxs']),
                              dict(type='nms', iou_threshold=case['iou'], offset=case['offset']))
        return keep.numpy()
    return ext.nms(boxes, scores, iou_threshold=float(case['iou']), offset=case['offset']).numpy()


def main() -> int:
    ext = compiled_ext()
    sys.modules['mmcv._ext'] = ext  # mmcv.ops (batched_nms) on the compiled op
    arrays, meta = {}, dict(mmcv_compiler=ext.get_compiler_version(), torch=torch.__version__, roi_align={}, nms={})
    for seed, (name, dtype, scale, ratio, aligned, size) in enumerate(ROI_ALIGN_CASES):
        features, rois = case_inputs(name, dtype, scale, seed)
        grad = np.random.default_rng(1000 + seed).normal(0, 1, (len(rois), features.shape[1], *size)).astype(dtype)
        output, grad_input = roi_align_reference(ext, features, rois, grad, size, scale, ratio, aligned)
        for key, value in dict(features=features, rois=rois, grad_output=grad, output=output,
                               grad_input=grad_input).items():
            arrays[f'roi_align/{name}/{key}'] = value
        meta['roi_align'][name] = dict(spatial_scale=scale, sampling_ratio=ratio, aligned=aligned, size=list(size))
    for name, case in nms_cases().items():
        for key in ('boxes', 'scores', 'idxs'):
            if key in case:
                arrays[f'nms/{name}/{key}'] = case[key]
        arrays[f'nms/{name}/keep'] = nms_reference(ext, case)
        meta['nms'][name] = dict(iou=case['iou'], offset=case['offset'], batched='idxs' in case)
    arrays['meta'] = np.array(json.dumps(meta))
    np.savez_compressed(OUTPUT, **arrays)
    print(f'wrote {OUTPUT}: {len(meta["roi_align"])} roi_align cases, {len(meta["nms"])} nms cases '
          f'(mmcv compiled with {meta["mmcv_compiler"]}, torch {meta["torch"]})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
