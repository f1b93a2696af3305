"""Input | prediction | label figures of validation and test samples, logged through mmengine's visualizer.

MMSegmentation's ``SegVisualizationHook`` re-reads each image file as an 8-bit RGB picture, which a multi-band
GeoTIFF is not. This hook draws from the model's own input tensor instead (the chosen bands as an RGB composite, with
a brightness factor or a percentile stretch), the predicted and the ground-truth class maps in the dataset's palette,
and the class legend, and hands the figure to the runner's visualizer: ``TensorboardVisBackend`` shows it in
TensorBoard (one image per sample, a slider over the validation steps), ``LocalVisBackend`` writes PNGs.
"""
from __future__ import annotations

import os.path as osp
from typing import Sequence

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from .preview import colorize, has_nodata, render_preview, rgb_composite


@HOOKS.register_module()
class GeospatialSegVisualizationHook(Hook):
    """Every ``interval``-th validation/test batch, log its first ``max_samples`` samples as input RGB | prediction |
    label figures with a legend of the classes.

    Args:
        draw: draw at all (as in mmseg's hook).
        interval: every how many batches of a validation or test run.
        rgb_bands: 0-based indices among the model's input channels for red, green and blue; None: the config's
            ``preview_rgb_bands`` (as for tools/model_inference.py previews), else 0, 1, 2.
        brightness: multiply the (0-1 reflectance) values by this and clip to 0-1; None: the config's
            ``preview_brightness``, and without one, stretch each band between its 2nd and 98th percentile.
        max_samples: samples drawn per drawn batch.
    """

    def __init__(self, draw: bool = True, interval: int = 50, rgb_bands: Sequence[int] | None = None,
                 brightness: float | None = None, max_samples: int = 1) -> None:
        if rgb_bands is not None and len(rgb_bands) != 3:
            raise ValueError(f'rgb_bands needs three channel indices, got {list(rgb_bands)}')
        if interval < 1 or max_samples < 1:
            raise ValueError('interval and max_samples must be at least 1')
        self.draw = draw
        self.interval = interval
        self.rgb_bands = [int(b) for b in rgb_bands] if rgb_bands is not None else None
        self.brightness = brightness
        self.max_samples = max_samples

    def before_run(self, runner) -> None:
        cfg = getattr(runner, 'cfg', None) or {}
        if self.rgb_bands is None:
            self.rgb_bands = [int(b) for b in cfg.get('preview_rgb_bands', (0, 1, 2))]
            if len(self.rgb_bands) != 3:
                raise ValueError(f'preview_rgb_bands needs three channel indices, got {self.rgb_bands}')
        if self.brightness is None:
            self.brightness = cfg.get('preview_brightness')

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._log(runner, batch_idx, data_batch, outputs, 'val')

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._log(runner, batch_idx, data_batch, outputs, 'test')

    def figure(self, inputs: torch.Tensor, sample, classes: Sequence[str], palette) -> np.ndarray:
        """The ``(H, W, 3)`` uint8 figure of one sample (``inputs``: its ``(C, H, W)`` or ``(C, T, H, W)`` tensor)."""
        image = inputs.detach().float().cpu()
        image = image[:, 0] if image.ndim == 4 else image  # first frame of a multi-temporal input
        bands = self.rgb_bands if self.rgb_bands is not None else [0, 1, 2]
        if max(bands) >= image.shape[0]:
            raise ValueError(f'rgb_bands {bands} out of range for an input of {image.shape[0]} channels')
        invalid = sample.nodata_mask.data[0].cpu().numpy() if 'nodata_mask' in sample else None
        rgb = rgb_composite(image[bands].numpy(), invalid, self.brightness)
        maps = [('prediction', sample.pred_sem_seg.data[0].cpu().numpy())]
        if 'gt_sem_seg' in sample:
            maps.append(('label', sample.gt_sem_seg.data[0].cpu().numpy()))
        panels = [('input (RGB)', rgb)] + [(name, colorize(values, palette)) for name, values in maps]
        nodata = any(has_nodata(values, len(classes)) for _, values in maps)
        title = osp.basename(sample.metainfo.get('img_path', '') or '')
        return render_preview(panels, classes, palette, title=title or None, show_nodata=nodata)

    def _log(self, runner, batch_idx: int, data_batch, outputs, mode: str) -> None:
        if not self.draw or not outputs or not self.every_n_inner_iters(batch_idx, self.interval):
            return
        if not is_main_process():  # the visualizer writes on rank 0 only: draw nothing elsewhere
            return
        meta = runner.visualizer.dataset_meta or {}
        classes = list(meta.get('classes') or [])
        palette = meta.get('palette') or [tuple(np.random.default_rng(i).integers(0, 256, 3)) for i in
                                          range(len(classes))]
        for inputs, sample in list(zip(data_batch['inputs'], outputs))[:self.max_samples]:
            name = osp.splitext(osp.basename(sample.metainfo.get('img_path', '') or f'batch{batch_idx}'))[0]
            runner.visualizer.add_image(f'{mode}_{name}', self.figure(inputs, sample, classes, palette),
                                        step=runner.iter)
