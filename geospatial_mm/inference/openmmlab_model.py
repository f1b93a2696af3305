"""A config of the package and its checkpoint as a :class:`~geospatial_mm.inference.tile_model.TileModel`.

Windows are read through the config's own test pipeline, logits come from the segmentor's own ``encode_decode`` (or
the detector's ``predict``), on the OpenMMLab stack.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn.functional as F
from mmcv.transforms import Compose

from geospatial_mm.config import load_config
from geospatial_mm.io.georef import window_transform
from geospatial_mm.io.raster import Window
from .arrays import Array
from .autocast import DTYPES, autocast
from .input_spec import SamplePaths, Scaling
from .model import build_model, dataset_meta, inference_pipeline, label_loader_cfg, test_dataset_cfg
from .tile_model import Detections, LabelConverter, TileInputs, TileModel, WindowInputs
from .torch_arrays import TorchArrays

if TYPE_CHECKING:
    from mmengine.config import Config
    from mmengine.structures import BaseDataElement


def _tensor(inputs: Array) -> torch.Tensor:
    """A tile's input as this model's pipeline packs it: a torch tensor.

    Returns:
        ``inputs`` itself.
    """
    return cast(torch.Tensor, inputs)


def _sample(item: TileInputs) -> BaseDataElement:
    """A tile's data sample, which this model's pipeline always packs with its input.

    Returns:
        The data sample.
    """
    assert item.meta is not None  # read() packs one with every window
    return item.meta


def host_tensor(view: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A contiguous copy of ``view``, in pinned memory when the model is on a GPU (non-blocking copies).

    Returns:
        The copy.
    """
    if device.type != 'cuda':
        return view.contiguous()
    return torch.empty(view.shape, dtype=view.dtype, pin_memory=True).copy_(view)


def torch_reader_context() -> contextlib.AbstractContextManager[None]:
    """One thread for a reader's torch ops (a per-thread setting; the model's forward keeps its threads).

    Returns:
        A context manager that does nothing.
    """
    torch.set_num_threads(1)
    return contextlib.nullcontext()


class OpenMMLabModel(TileModel):
    """A trained config of the package on the OpenMMLab stack.

    Args:
        config: a config file (or a Config); ``cfg_options`` are merged into it, as ``--cfg-options`` of the tools.
        checkpoint: the trained checkpoint (loaded strictly).
        device: 'cpu', 'cuda', 'cuda:1', ...
        precision: ``'fp32'``, or ``'bf16'`` / ``'fp16'`` to run the model under torch's autocast in that type.
        bands: override the loader's band selection (0-based indices into the input files).
        input_scaling: ``dict(scale=..., offset=..., clip=(low, high))`` replacing the image loader's, for rasters
            of another sensor or product level than the training data (see :func:`.model.inference_pipeline`).

    Raises:
        ValueError: an unknown precision.
    """
    device: torch.device


    def __init__(self, config: str | os.PathLike[str] | Config, checkpoint: str, device: str = 'cpu',
                 precision: str = 'fp32', bands: Sequence[int] | None = None,
                 cfg_options: dict[str, Any] | None = None, input_scaling: Scaling | None = None) -> None:
        if precision not in DTYPES:
            raise ValueError(f'precision must be one of {sorted(DTYPES)}, got {precision!r}')
        self.cfg = load_config(config, cfg_options)
        self.task = 'detection' if self.cfg.get('default_scope') == 'mmdet' else 'segmentation'
        self.network, ckpt_meta = build_model(self.cfg, checkpoint, device)
        self.checkpoint = checkpoint
        self.name = Path(checkpoint).name
        self.device = torch.device(device)
        self.precision = precision
        self.arrays = TorchArrays(self.device)
        if self.device.type == 'cuda':  # tiles come in pinned host memory: copy them while the model runs
            self.network.data_preprocessor._non_blocking = True
        meta = dataset_meta(self.cfg, ckpt_meta)
        self.classes = list(meta['classes'])
        palette = meta.get('palette')
        self.palette = [tuple(int(c) for c in p) for p in palette] if palette else None
        pipeline, self.spec = inference_pipeline(self.cfg, bands, input_scaling)
        self.pipeline = Compose(pipeline)
        self.pointwise = all(getattr(t, 'pointwise', False) for t in self.pipeline.transforms)
        decode_head = getattr(self.network, 'decode_head', None)
        self.out_channels = int(getattr(self.network, 'out_channels', len(self.classes)))
        self.threshold = float(getattr(decode_head, 'threshold', None) or 0.5)
        self.rule = 'binary_sigmoid' if self.out_channels == 1 else getattr(decode_head, 'probability_rule',
                                                                              'softmax')
        self.preview_rgb_bands = list(self.cfg.get('preview_rgb_bands', [0, 1, 2]))
        self.preview_brightness = self.cfg.get('preview_brightness')
        self.label_suffix = test_dataset_cfg(self.cfg).get('seg_map_suffix', '.tif')

    # -- sizes ------------------------------------------------------------------------------------------------
    def tile_and_stride(self, tile: int | None, stride: int | None) -> tuple[int, int]:
        """The sliding window's size and step: the given ones, else the config's.

        Segmentation: the config's sliding-window ``test_cfg`` (else 512 and half of the tile). Detection: the
        config's ``tile_size`` (else 512) and the tile minus its ``tile_overlap`` (else a quarter of the tile); such
        tiles must overlap, or objects cut by their borders could not be merged.

        Returns:
            ``(tile, stride)`` in pixels.

        Raises:
            ValueError: detection tiles that do not overlap.
        """
        if self.task == 'detection':
            tile = int(tile or self.cfg.get('tile_size', 512))
            stride = int(stride or tile - int(self.cfg.get('tile_overlap', tile // 4)))
            if stride == tile:
                raise ValueError(f'tiles of {tile} px every {stride} px do not overlap: objects cut by a tile border '
                                 'could not be merged; choose a stride smaller than the tile')
            return tile, stride
        test_cfg = self.cfg.model.get('test_cfg') or {}
        slide = test_cfg.get('mode') == 'slide'
        crop = test_cfg.get('crop_size') if slide else None
        step = test_cfg.get('stride') if slide else None
        size = int(tile or (crop[0] if crop else 512))
        return size, int(stride or (step[0] if step and not tile else size // 2))

    def default_readers(self) -> int:
        """Reader threads when none are asked for.

        Returns:
            1 on the CPU (the model needs the cores), else up to 4.
        """
        return 1 if self.device.type == 'cpu' else min(4, os.cpu_count() or 1)

    def autocast(self) -> contextlib.AbstractContextManager[object]:
        """Torch's autocast in the model's precision (nothing for fp32).

        Returns:
            A context manager.
        """
        return autocast(self.device.type, self.precision)

    # -- inputs -----------------------------------------------------------------------------------------------
    def read(self, paths: SamplePaths, window: Window) -> WindowInputs:
        """``window`` ``(row, col, h, w)`` of a sample's files through the config's test pipeline.

        Returns:
            The window's input tensor, nodata mask (resized to the window) and data sample.

        Raises:
            RuntimeError: the pipeline dropped the window.
        """
        results: dict[str, Any] = dict(paths)
        results['read_window'] = window
        packed = self.pipeline(results)
        if packed is None:
            raise RuntimeError(f'{next(iter(paths.values()))}: the test pipeline dropped the window {window}')
        sample = packed['data_samples']
        nodata = None
        if 'nodata_mask' in sample:
            mask = sample.nodata_mask.data[0]
            height, width = window[2], window[3]
            if tuple(mask.shape) != (height, width):  # the pipeline resized the tile; logits are resized back
                mask = F.interpolate(mask[None, None].float(), size=(height, width), mode='nearest')[0, 0] > 0
            nodata = mask.numpy()
        return WindowInputs(packed['inputs'], nodata, sample)

    def crop(self, strip: WindowInputs, col: int, width: int, window: Window) -> WindowInputs:
        """The columns ``col:col + width`` of a strip read at once (a tile whose window is ``window``), contiguous.

        Its data sample's shapes and georeference are the tile's.

        Returns:
            The tile's input.
        """
        sample = _sample(strip)
        meta = sample.metainfo
        height = window[2]
        tile_meta = dict(meta, img_shape=(height, width), ori_shape=(height, width))
        geo = meta.get('geo_meta')
        if geo is not None:
            tile_meta['geo_meta'] = dict(geo, window=window, transform=window_transform(
                geo.get('transform'), (0, col, height, width)))
        # contiguous here, in the reader thread: batching strided views costs the model's thread a slow copy
        inputs = host_tensor(_tensor(strip.inputs)[..., col:col + width], self.device)
        nodata = strip.nodata[:, col:col + width] if strip.nodata is not None else None
        return WindowInputs(inputs, nodata, type(sample)(metainfo=tile_meta))

    def pad(self, item: WindowInputs, size: int) -> WindowInputs:
        """The input padded with zeros to ``size`` x ``size`` pixels (a raster smaller than a tile).

        Returns:
            The padded item.
        """
        height, width = item.inputs.shape[-2:]
        item.inputs = F.pad(_tensor(item.inputs), (0, size - width, 0, size - height))
        _sample(item).set_metainfo(dict(img_shape=(size, size), ori_shape=(size, size)))
        return item

    def reader_context(self) -> contextlib.AbstractContextManager[None]:
        """What each reader thread runs in: torch on one thread.

        Returns:
            A context manager that does nothing.
        """
        return torch_reader_context()

    def host(self, item: WindowInputs) -> WindowInputs:
        """The item's input contiguous (and pinned for a GPU).

        Returns:
            The item.
        """
        item.inputs = host_tensor(_tensor(item.inputs), self.device)
        return item

    # -- outputs ----------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def forward(self, batch: Sequence[TileInputs], size: tuple[int, int] | None = None) -> torch.Tensor:
        """The logits of a batch of prepared tiles (the segmentor's own ``encode_decode``).

        Returns:
            ``(B, K, h, w)`` float32 logits on the model's device, resized to ``size`` when given.
        """
        data = self.network.data_preprocessor(dict(inputs=[b.inputs for b in batch],
                                                   data_samples=[b.meta for b in batch]), False)
        metas = [s.metainfo for s in data['data_samples']]
        with self.autocast():
            logits: torch.Tensor = self.network.encode_decode(data['inputs'], metas)
        logits = logits.float()
        if size is not None and tuple(logits.shape[-2:]) != tuple(size):
            logits = F.interpolate(logits, size=size, mode='bilinear', align_corners=False)
        return logits

    @torch.inference_mode()
    def detect(self, batch: Sequence[TileInputs], score_thr: float) -> Detections:
        """The instances above ``score_thr`` of each tile of a batch (the detector's own ``predict``).

        Returns:
            Per tile: ``(masks (n, tile, tile) bool, labels (n,), scores (n,))``.

        Raises:
            RuntimeError: the detector predicts no masks.
        """
        data = self.network.data_preprocessor(dict(inputs=[b.inputs for b in batch],
                                                   data_samples=[b.meta for b in batch]), False)
        with self.autocast():
            results = self.network.predict(data['inputs'], data['data_samples'], rescale=True)
        out: Detections = []
        for result in results:
            pred = result.pred_instances
            keep = pred.scores >= score_thr
            if 'masks' not in pred:
                raise RuntimeError('the detector predicts no masks: whole-raster prediction needs an instance '
                                   'segmentation model (e.g. Mask R-CNN)')
            out.append((pred.masks[keep].bool().cpu().numpy(), pred.labels[keep].cpu().numpy(),
                        pred.scores[keep].float().cpu().numpy()))
        return out

    # -- previews ---------------------------------------------------------------------------------------------
    def label_converter(self) -> LabelConverter:
        """The config's label loader, which turns a label raster's values into class indices for previews.

        Returns:
            The label loader (built in mmengine's TRANSFORMS registry).
        """
        from mmengine.registry import TRANSFORMS
        converter: LabelConverter = TRANSFORMS.build(label_loader_cfg(self.cfg))
        return converter
