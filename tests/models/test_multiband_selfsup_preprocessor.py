"""Two-channel inputs for mmpretrain: the self-supervised preprocessor (mmengine's takes only 1 or 3 means), the
classification one (which takes any), and a MoCo step on InSAR-like views."""
import pytest
import torch
from mmpretrain.models.utils.data_preprocessor import ClsDataPreprocessor, SelfSupDataPreprocessor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from geospatial_mm.models import MultiBandSelfSupDataPreprocessor

MEAN, STD = [127.5, 100.0], [127.5, 50.0]


def views(batch=4, channels=2, size=32):
    g = torch.Generator().manual_seed(0)
    return [torch.randint(0, 256, (batch, channels, size, size), generator=g, dtype=torch.uint8) for _ in range(2)]


def test_mmpretrain_selfsup_preprocessor_refuses_two_channel_means():
    with pytest.raises(AssertionError, match='`mean` should have 1 or 3 values'):
        SelfSupDataPreprocessor(mean=MEAN, std=STD)


def test_views_are_normalised_per_channel():
    pre = MultiBandSelfSupDataPreprocessor(mean=MEAN, std=STD)
    inputs = views()
    out = pre(dict(inputs=inputs, data_samples=[DataSample() for _ in range(4)]))
    assert isinstance(out['inputs'], list) and len(out['inputs']) == 2
    for raw, normed in zip(inputs, out['inputs']):
        assert normed.dtype == torch.float32 and normed.shape == raw.shape
        for c in range(2):
            torch.testing.assert_close(normed[:, c], (raw[:, c].float() - MEAN[c]) / STD[c])
    assert MODELS.get('MultiBandSelfSupDataPreprocessor') is MultiBandSelfSupDataPreprocessor


def test_wrong_channel_count_and_channel_flips_are_refused():
    pre = MultiBandSelfSupDataPreprocessor(mean=MEAN, std=STD)
    with pytest.raises(ValueError, match=r'an input has 3 channels \(shape \(4, 3, 32, 32\)\) but mean/std have 2'):
        pre(dict(inputs=views(channels=3), data_samples=None))
    with pytest.raises(ValueError, match='to_rgb makes no sense for multi-band inputs'):
        MultiBandSelfSupDataPreprocessor(mean=MEAN, std=STD, to_rgb=True)
    with pytest.raises(ValueError, match='one value per channel, found 2 means and 1 stds'):
        MultiBandSelfSupDataPreprocessor(mean=MEAN, std=[1.0])


def test_classification_preprocessor_takes_two_channel_means():
    pre = ClsDataPreprocessor(mean=MEAN, std=STD)
    x = views()[0]
    out = pre(dict(inputs=x, data_samples=[DataSample().set_gt_label([0, 3]) for _ in range(4)]))
    torch.testing.assert_close(out['inputs'][:, 1], (x[:, 1].float() - MEAN[1]) / STD[1])


def test_moco_step_on_two_channel_views_updates_the_queue():
    from mmengine.registry import DefaultScope

    import geospatial_mm  # noqa: F401
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(dict(
            type='MoCo', queue_len=16, feat_dim=8, momentum=0.001,
            data_preprocessor=dict(type='MultiBandSelfSupDataPreprocessor', mean=MEAN, std=STD),
            backbone=dict(type='ResNet', depth=18, in_channels=2, zero_init_residual=False),
            neck=dict(type='MoCoV2Neck', in_channels=512, hid_channels=32, out_channels=8),
            head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'), temperature=0.2)))
    queue = model.queue.clone()
    data = model.data_preprocessor(dict(inputs=views(), data_samples=[DataSample() for _ in range(4)]), True)
    losses = model(**data, mode='loss')
    assert torch.isfinite(losses['loss'])
    assert int(model.queue_ptr) == 4 and not torch.equal(model.queue[:, :4], queue[:, :4])
    torch.testing.assert_close(model.queue[:, 4:], queue[:, 4:])
