"""TokensToFeatureMap, TemporalSegDataPreProcessor, TemporalEncoderDecoder and the blending weights."""
import numpy as np
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import geospatial_mm  # noqa: F401
from geospatial_mm.io.blending import ramp_1d, tile_weights
from geospatial_mm.models.necks import TokensToFeatureMap


def test_neck_puts_tokens_back_on_the_grid_and_concatenates_frames():
    neck = TokensToFeatureMap(embed_dim=8, out_channels=4, num_frames=2, num_upsamples=2)
    tokens = torch.randn(3, 1 + 2 * 3 * 5, 8)
    out = neck((tokens,), grid=(2, 3, 5))
    assert out[0].shape == (3, 4, 12, 20)
    # the first transposed conv sees channel d*T + t = token (t, h, w)'s feature d: check via a pure-identity path
    with torch.no_grad():
        conv = neck.upsample[0]
        conv.weight.zero_()
        conv.bias.zero_()
        conv.weight[1 * 2 + 1, 0, 0, 0] = 1.0  # channel of feature d=1 at frame t=1 -> output channel 0
    feat = neck.upsample[0](tokens[:, 1:].reshape(3, 2, 3, 5, 8).permute(0, 4, 1, 2, 3).reshape(3, 16, 3, 5))
    grid_tokens = tokens[:, 1:].reshape(3, 2, 3, 5, 8)
    assert torch.allclose(feat[:, 0, ::2, ::2], grid_tokens[:, 1, :, :, 1])
    with pytest.raises(ValueError, match='do not form the grid'):
        neck((tokens,), grid=(2, 4, 5))


def test_blending_weights_peak_in_the_centre_and_never_vanish():
    r = ramp_1d(8)
    assert r.argmax() in (3, 4) and r.min() > 0 and np.allclose(r, r[::-1])
    w = tile_weights(6, 10)
    assert w.shape == (6, 10) and w.min() > 0 and w[3, 5] > w[0, 0]


def _segmentor(num_frames=2, binary=False):
    init_default_scope('mmseg')  # as a runner does for a config with default_scope = 'mmseg'
    cfg = dict(
        type='TemporalEncoderDecoder',
        data_preprocessor=dict(type='TemporalSegDataPreProcessor', mean=[1.0, 2.0, 3.0], std=[2.0, 2.0, 2.0],
                               size_divisor=16, pad_val=0, seg_pad_val=255),
        backbone=dict(type='PrithviViT', arch='tiny', in_chans=3, num_frames=num_frames),
        neck=dict(type='TokensToFeatureMap', embed_dim=64, out_channels=16, num_frames=num_frames),
        decode_head=dict(type='FCNHead', in_channels=16, channels=16, num_convs=1, num_classes=2, in_index=-1,
                         concat_input=False, norm_cfg=dict(type='BN'), align_corners=False,
                         loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
        train_cfg=dict(), test_cfg=dict(mode='slide', crop_size=(32, 32), stride=(16, 16)))
    if binary:  # one sigmoid output, class 1 where it passes the threshold
        cfg['decode_head'].update(out_channels=1, threshold=0.3,
                                  loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0))
    return MODELS.build(ConfigDict(cfg))  # as built from a config file


def _batch(n, frames, h, w):
    inputs = [torch.rand(3, frames, h, w) * 4 for _ in range(n)]
    samples = []
    for _ in range(n):
        s = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w)))
        s.gt_sem_seg = PixelData(data=torch.randint(0, 2, (1, h, w)))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def test_preprocessor_normalises_per_band_for_every_frame_and_keeps_5d():
    model = _segmentor()
    batch = _batch(2, 2, 32, 48)
    out = model.data_preprocessor(batch, training=True)
    x = out['inputs']
    assert x.shape == (2, 3, 2, 32, 48)
    expected = (batch['inputs'][1][2, 1] - 3.0) / 2.0
    assert torch.allclose(x[1, 2, 1], expected)


def test_trains_and_predicts_5d_inputs_with_blended_slide_inference():
    torch.manual_seed(0)
    model = _segmentor()
    data = model.data_preprocessor(_batch(2, 2, 32, 32), training=True)
    losses = model(data['inputs'], data['data_samples'], mode='loss')
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    loss.backward()
    assert model.backbone.patch_embed.proj.weight.grad is not None
    model.eval()
    data = model.data_preprocessor(_batch(1, 2, 48, 64), training=False)
    with torch.no_grad():
        preds = model(data['inputs'], data['data_samples'], mode='predict')
    assert preds[0].pred_sem_seg.data.shape == (1, 48, 64)
    assert preds[0].seg_logits.data.shape == (2, 48, 64)


def test_slide_inference_is_a_weighted_not_plain_average():
    """Make each window's logits constant = its window index; the blend at a pixel is then the weighted mean of the
    indices of the windows covering it, which differs from their plain mean."""
    model = _segmentor()
    model.eval()
    calls = []

    def fake_encode_decode(crop, metas):
        calls.append(len(calls))
        return torch.full((crop.shape[0], 2, *crop.shape[-2:]), float(len(calls) - 1))

    model.encode_decode = fake_encode_decode
    out = model.slide_inference(torch.zeros(1, 3, 2, 32, 48), [dict(img_shape=(32, 48))])
    assert len(calls) == 2  # windows at x=0 and x=16 (crop 32, stride 16)
    w = torch.from_numpy(ramp_1d(32))
    col = 20  # covered by window 0 (local x 20) and window 1 (local x 4)
    expected = (0 * w[20] + 1 * w[4]) / (w[20] + w[4])
    assert torch.allclose(out[0, 0, 10, col], expected)
    assert not torch.allclose(out[0, 0, 10, col], torch.tensor(0.5))
    assert torch.allclose(out[0, 0, 5, 2], torch.tensor(0.0)) and torch.allclose(out[0, 0, 5, 45], torch.tensor(1.0))


def test_binary_head_with_one_sigmoid_output_trains_and_thresholds(recwarn):
    torch.manual_seed(0)
    model = _segmentor(binary=True)
    assert not [w for w in recwarn if 'binary segmentation' in str(w.message)]  # mmseg's suggestion is followed
    batch = _batch(2, 2, 32, 32)
    batch['data_samples'][0].gt_sem_seg.data[0, :4] = 255  # ignored pixels
    data = model.data_preprocessor(batch, training=True)
    losses = model(data['inputs'], data['data_samples'], mode='loss')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert model.backbone.patch_embed.proj.weight.grad is not None
    model.eval()
    data = model.data_preprocessor(_batch(1, 2, 48, 64), training=False)
    with torch.no_grad():
        preds = model(data['inputs'], data['data_samples'], mode='predict')
    logits = preds[0].seg_logits.data
    assert logits.shape == (1, 48, 64)
    expected = (torch.sigmoid(logits) > 0.3).long()  # the head's threshold, on the sigmoid of the one channel
    assert torch.equal(preds[0].pred_sem_seg.data, expected)
