"""mmcv's compiled ops module, ``mmcv._ext``, served by torchvision's kernels where mmcv-lite has none.

mmcv-lite 2.1.0 is mmcv without compiled ops; ``import mmcv.ops`` (which mmseg, mmdet and mmpretrain do when they
import their models) then fails, because mmcv's ext loader imports ``mmcv._ext`` and asserts that all of its 112
names exist. The models of this package call three of them, and torchvision, installed anyway, ships the same
algorithms for the CPU and CUDA:

* ``roi_align_forward`` / ``roi_align_backward`` (Mask R-CNN's RoI extractors, and mask targets through
  ``BitmapMasks.crop_and_resize``): mmcv's CPU kernel and torchvision's are the same code, with the same
  ``[batch, x1, y1, x2, y2]`` rois, adaptive sampling for ``sampling_ratio=0`` and -0.5 shift for ``aligned``. They
  are called as the ops ``torch.ops.torchvision.roi_align`` / ``_roi_align_backward``, not through
  ``torchvision.ops.roi_align``, whose Python path under deterministic mode (mmengine's
  ``randomness.deterministic=True``) builds a K x C x PH x PW x H x W tensor.
* ``nms`` (RPN proposals and ``multiclass_nms`` through ``batched_nms``), with mmcv's ``offset`` 0 or 1 and its
  order of boxes of equal score.
* ``get_compiler_version`` / ``get_compiling_cuda_version`` (environment reports), saying what serves the ops.

Every other name exists, as mmcv's loader requires, and raises when called with a message naming the op and how to
get full mmcv. Arguments keep mmcv's names, and outputs are written into the tensors mmcv passes, as its kernels do.
Under mixed precision, RoIAlign computes in float32 and writes into mmcv's bfloat16 / float16 tensors: torchvision's
CPU kernels take neither type (nor do compiled mmcv's CPU kernels take bfloat16).
This file is imported as ``mmcv._ext`` by the finder of :mod:`.mmcv_lite` only when no compiled module is installed;
it imports nothing of geospatial_mm.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
import torchvision

from geospatial_mm.errors import GeospatialMMError

PROVIDER = f'torchvision {torchvision.__version__}'
FULL_MMCV = 'GEOSPATIAL_MM_MMCV=full make install (docs/install.md)'
AVG_POOL = 1  # mmcv's pool_mode: 0 'max', 1 'avg'

# mmcv 2.1.0's compiled names other than the ones above (mmcv/ops/*.py, ext_loader.load_ext('_ext', [...]))
NOT_PROVIDED = (
    'active_rotated_filter_backward', 'active_rotated_filter_forward', 'assign_score_withk_backward',
    'assign_score_withk_forward', 'ball_query_forward', 'bbox_overlaps', 'bezier_align_backward',
    'bezier_align_forward', 'bias_act', 'border_align_backward', 'border_align_forward', 'box_iou_quadri',
    'box_iou_rotated', 'carafe_backward', 'carafe_forward', 'carafe_naive_backward', 'carafe_naive_forward',
    'chamfer_distance_backward', 'chamfer_distance_forward', 'contour_expand', 'convex_giou', 'convex_iou',
    'correlation_backward', 'correlation_forward', 'deform_conv_backward_input', 'deform_conv_backward_parameters',
    'deform_conv_forward', 'deform_roi_pool_backward', 'deform_roi_pool_forward',
    'diff_iou_rotated_sort_vertices_forward', 'dynamic_point_to_voxel_backward', 'dynamic_point_to_voxel_forward',
    'dynamic_voxelize_forward', 'filtered_lrelu', 'filtered_lrelu_act_', 'furthest_point_sampling_forward',
    'furthest_point_sampling_with_dist_forward', 'fused_bias_leakyrelu', 'fused_indice_conv_forward',
    'gather_points_backward', 'gather_points_forward', 'get_indice_pairs_2d_backward', 'get_indice_pairs_2d_forward',
    'get_indice_pairs_3d_backward', 'get_indice_pairs_3d_forward', 'get_indice_pairs_4d_forward',
    'group_points_backward', 'group_points_forward', 'hard_voxelize_forward', 'indice_conv_backward',
    'indice_conv_forward', 'indice_maxpool_backward', 'indice_maxpool_forward', 'iou3d_boxes_overlap_bev_forward',
    'iou3d_nms3d_forward', 'iou3d_nms3d_normal_forward', 'knn_forward', 'masked_col2im_forward',
    'masked_im2col_forward', 'min_area_polygons', 'modulated_deform_conv_backward', 'modulated_deform_conv_forward',
    'ms_deform_attn_backward', 'ms_deform_attn_forward', 'nms_match', 'nms_quadri', 'nms_rotated', 'pixel_group',
    'points_in_boxes_all_forward', 'points_in_boxes_cpu_forward', 'points_in_boxes_part_forward',
    'points_in_polygons_forward', 'prroi_pool_backward', 'prroi_pool_coor_backward', 'prroi_pool_forward',
    'psamask_backward', 'psamask_forward', 'riroi_align_rotated_backward', 'riroi_align_rotated_forward',
    'roi_align_rotated_backward', 'roi_align_rotated_forward', 'roi_pool_backward', 'roi_pool_forward',
    'roiaware_pool3d_backward', 'roiaware_pool3d_forward', 'roipoint_pool3d_forward', 'rotated_feature_align_backward',
    'rotated_feature_align_forward', 'sigmoid_focal_loss_backward', 'sigmoid_focal_loss_forward',
    'softmax_focal_loss_backward', 'softmax_focal_loss_forward', 'softnms', 'stack_ball_query_forward',
    'stack_group_points_backward', 'stack_group_points_forward', 'sync_bn_backward_data', 'sync_bn_backward_param',
    'sync_bn_forward_mean', 'sync_bn_forward_output', 'sync_bn_forward_var', 'three_interpolate_backward',
    'three_interpolate_forward', 'three_nn_forward', 'tin_shift_backward', 'tin_shift_forward', 'upfirdn2d',
)


class OpNotProvidedError(GeospatialMMError, NotImplementedError):
    """An mmcv op that only mmcv's compiled extension has."""


def get_compiler_version() -> str:
    """What compiled the ops: nothing here (mmcv-lite), torchvision's kernels serve them."""
    return f'none (mmcv-lite): roi_align and nms from {PROVIDER}\'s kernels'


def get_compiling_cuda_version() -> str:
    """The CUDA version of the kernels that serve the ops ('not available' for a CPU-only torchvision)."""
    return f'{torch.version.cuda} ({PROVIDER})' if torchvision.version.cuda else 'not available'


def _check_pool_mode(pool_mode: int) -> None:
    if int(pool_mode) != AVG_POOL:
        raise OpNotProvidedError(f"mmcv op roi_align with pool_mode='max' is not provided by {PROVIDER} (it has "
                                 f"'avg' only); for 'max', install full mmcv: {FULL_MMCV}")


def roi_align_forward(input: torch.Tensor, rois: torch.Tensor, output: torch.Tensor, argmax_y: torch.Tensor,
                      argmax_x: torch.Tensor, aligned_height: int, aligned_width: int, spatial_scale: float,
                      sampling_ratio: int, pool_mode: int, aligned: bool) -> None:
    """RoIAlign of ``rois`` ``(K, 5)`` on ``input`` ``(N, C, H, W)`` into ``output`` ``(K, C, PH, PW)``, 'avg'
    pooling (``argmax_y`` / ``argmax_x`` are for 'max' and untouched)."""
    _check_pool_mode(pool_mode)
    x = input.to(_compute_dtype(input))
    result = torch.ops.torchvision.roi_align(x, rois.to(x.dtype), float(spatial_scale), int(aligned_height),
                                             int(aligned_width), int(sampling_ratio), bool(aligned))
    output.copy_(result)


def roi_align_backward(grad_output: torch.Tensor, rois: torch.Tensor, argmax_y: torch.Tensor, argmax_x: torch.Tensor,
                       grad_input: torch.Tensor, aligned_height: int, aligned_width: int, spatial_scale: float,
                       sampling_ratio: int, pool_mode: int, aligned: bool) -> None:
    """The gradient of :func:`roi_align_forward`, added into ``grad_input`` ``(N, C, H, W)`` as mmcv's kernel adds
    it."""
    _check_pool_mode(pool_mode)
    batch, channels, height, width = grad_input.shape
    grad = grad_output.to(_compute_dtype(grad_output))
    with _atomic_adds_allowed(grad):
        result = torch.ops.torchvision._roi_align_backward(
            grad, rois.to(grad.dtype), float(spatial_scale), int(aligned_height), int(aligned_width), batch, channels,
            height, width, int(sampling_ratio), bool(aligned))
    grad_input.add_(result)


def _compute_dtype(tensor: torch.Tensor) -> torch.dtype:
    """float32 for bfloat16 and float16 tensors (mixed precision: torchvision's CPU kernels have neither, and the
    sums of a bin's samples keep float32's precision), else the tensor's own type."""
    return torch.float32 if tensor.dtype in (torch.bfloat16, torch.float16) else tensor.dtype


@contextlib.contextmanager
def _atomic_adds_allowed(tensor: torch.Tensor) -> Iterator[None]:
    """torchvision's CUDA backward adds with atomics and, under torch's deterministic mode (mmengine's
    ``randomness.deterministic=True``), refuses to run; mmcv's CUDA kernel adds with atomics silently. As mmcv, let it
    run, with torch's warning instead of its error."""
    if not (tensor.is_cuda and torch.are_deterministic_algorithms_enabled()
            and not torch.is_deterministic_algorithms_warn_only_enabled()):
        yield
        return
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(True, warn_only=False)


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float, offset: int) -> torch.Tensor:
    """Indices of the boxes ``(N, 4)`` kept by non-maximum suppression, by decreasing score, as mmcv's op gives them.

    ``offset`` 1 counts a box's edges as pixels (width ``x2 - x1 + 1``): torchvision has no offset, and moving ``x2``
    and ``y2`` one pixel out gives the same areas and overlaps. Boxes of equal score are taken in the order of mmcv's
    own sort, which is not torchvision's (stable) one. The threshold is compared in float32, as mmcv's kernels take
    it (torchvision's in float64: an overlap of exactly 1/3 against ``iou_threshold=1/3`` would differ).
    """
    if int(offset) not in (0, 1):
        raise ValueError(f'nms offset must be 0 or 1, got {offset}')
    if boxes.numel() == 0:
        return boxes.new_zeros(0, dtype=torch.long)
    if int(offset):
        boxes = torch.cat([boxes[:, :2], boxes[:, 2:4] + 1], 1)
    order = scores.sort(0, descending=True)[1]  # mmcv's order of ties
    threshold = torch.tensor(float(iou_threshold), dtype=torch.float32).item()
    keep = torch.ops.torchvision.nms(boxes[order], scores[order], threshold)
    return order[keep]


def _not_provided(name: str):
    def op(*args, **kwargs):
        raise OpNotProvidedError(f'mmcv op {name} is not provided: mmcv-lite has no compiled ops, and {PROVIDER} '
                                 f'serves only roi_align and nms. Install full mmcv, with its compiled ops: '
                                 f'{FULL_MMCV}')
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f'mmcv\'s {name}: not provided without full mmcv (raises {OpNotProvidedError.__name__}).'
    return op


globals().update({name: _not_provided(name) for name in NOT_PROVIDED})
