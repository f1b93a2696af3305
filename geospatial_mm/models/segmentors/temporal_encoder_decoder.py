"""EncoderDecoder for ``(B, C, T, H, W)`` inputs, with blended sliding-window inference."""
from __future__ import annotations

import inspect
from typing import List

import torch
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS

from geospatial_mm.io.blending import tile_weights


def _coords(batch_img_metas: List[dict] | None, key: str, device) -> torch.Tensor | None:
    if not batch_img_metas or key not in batch_img_metas[0]:
        return None
    return torch.as_tensor([meta[key] for meta in batch_img_metas], dtype=torch.float32, device=device)


@MODELS.register_module()
class TemporalEncoderDecoder(EncoderDecoder):
    """mmseg's EncoderDecoder, extended to 5-D inputs and to backbones that take temporal/location coordinates.

    * Inputs may be ``(B, C, H, W)`` or ``(B, C, T, H, W)``; only the last two dimensions are tiled.
    * ``temporal_coords`` ``(T, 2)`` and ``location_coords`` ``(2,)`` found in the samples' metainfo are passed to
      the backbone when it accepts them (Prithvi-EO-2.0 TL variants).
    * The neck receives the token grid when it accepts one (non-square inputs).
    * ``test_cfg=dict(mode='slide', crop_size=..., stride=...)`` blends overlapping windows with weights that fall off
      towards each window's edges (:func:`geospatial_mm.io.blending.tile_weights`), instead of a plain average.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        params = inspect.signature(self.backbone.forward).parameters
        self._backbone_takes_coords = 'temporal_coords' in params
        self._neck_takes_grid = self.with_neck and 'grid' in inspect.signature(self.neck.forward).parameters

    def _token_grid(self, inputs: torch.Tensor) -> tuple[int, int, int] | None:
        """The backbone's token grid of ``inputs``, for a backbone that tells it (PrithviViT.token_grid)."""
        token_grid = getattr(self.backbone, 'token_grid', None)
        return token_grid(inputs.shape) if token_grid is not None else None

    def extract_feat(self, inputs: torch.Tensor, batch_img_metas: List[dict] | None = None) -> List[torch.Tensor]:
        if self._backbone_takes_coords:
            x = self.backbone(inputs, temporal_coords=_coords(batch_img_metas, 'temporal_coords', inputs.device),
                              location_coords=_coords(batch_img_metas, 'location_coords', inputs.device))
        else:
            x = self.backbone(inputs)
        if self.with_neck:
            x = self.neck(x, grid=self._token_grid(inputs)) if self._neck_takes_grid else self.neck(x)
        return x

    def encode_decode(self, inputs: torch.Tensor, batch_img_metas: List[dict]) -> torch.Tensor:
        x = self.extract_feat(inputs, batch_img_metas)
        return self.decode_head.predict(x, batch_img_metas, self.test_cfg)

    def loss(self, inputs: torch.Tensor, data_samples) -> dict:
        x = self.extract_feat(inputs, [s.metainfo for s in data_samples])
        losses = dict()
        losses.update(self._decode_head_forward_train(x, data_samples))
        if self.with_auxiliary_head:
            losses.update(self._auxiliary_head_forward_train(x, data_samples))
        return losses

    def _forward(self, inputs: torch.Tensor, data_samples=None) -> torch.Tensor:
        metas = [s.metainfo for s in data_samples] if data_samples is not None else None
        return self.decode_head.forward(self.extract_feat(inputs, metas))

    def slide_inference(self, inputs: torch.Tensor, batch_img_metas: List[dict]) -> torch.Tensor:
        h_stride, w_stride = self.test_cfg.stride
        h_crop, w_crop = self.test_cfg.crop_size
        h_img, w_img = inputs.shape[-2:]
        h_crop, w_crop = min(h_crop, h_img), min(w_crop, w_img)
        h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1
        w_grids = max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1
        preds = inputs.new_zeros((inputs.shape[0], self.out_channels, h_img, w_img))
        weight_sum = inputs.new_zeros((1, 1, h_img, w_img))
        weights = torch.from_numpy(tile_weights(h_crop, w_crop)).to(device=inputs.device, dtype=inputs.dtype)
        weights = weights[None, None]
        for h_idx in range(h_grids):
            for w_idx in range(w_grids):
                y2 = min(h_idx * h_stride + h_crop, h_img)
                x2 = min(w_idx * w_stride + w_crop, w_img)
                y1, x1 = y2 - h_crop, x2 - w_crop
                crop = inputs[..., y1:y2, x1:x2]
                metas = [dict(meta, img_shape=crop.shape[-2:]) for meta in batch_img_metas]
                logits = self.encode_decode(crop, metas)
                preds[..., y1:y2, x1:x2] += logits * weights
                weight_sum[..., y1:y2, x1:x2] += weights
        return preds / weight_sum
