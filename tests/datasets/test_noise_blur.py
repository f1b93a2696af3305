"""Gaussian blur and noise on two-channel float images, and mmpretrain's geometric transforms that the MoCo views
use on them."""
import numpy as np
import pytest
from mmcv.transforms import Compose
from mmengine.registry import DefaultScope
from mmpretrain.registry import TRANSFORMS

from geospatial_mm.datasets.transforms import RandomGaussianBlur, RandomGaussianNoise


def image(h=48, w=40, c=2):
    rng = np.random.default_rng(0)
    return rng.uniform(0, 255, (h, w, c)).astype(np.float32)


def test_blur_smooths_every_channel_and_keeps_the_shape():
    img = image()
    np.random.seed(0)
    out = RandomGaussianBlur(sigma=(1.5, 2.0), prob=1.0)(dict(img=img.copy()))['img']
    assert out.shape == img.shape and out.dtype == np.float32
    for c in range(2):  # smoothing lowers the pixel-to-pixel variation, the mean stays
        assert np.abs(np.diff(out[..., c], axis=1)).mean() < 0.5 * np.abs(np.diff(img[..., c], axis=1)).mean()
        assert out[..., c].mean() == pytest.approx(img[..., c].mean(), rel=0.02)
    one = RandomGaussianBlur(sigma=1.0, prob=1.0)(dict(img=image(c=1)))['img']
    assert one.shape == (48, 40, 1)
    np.testing.assert_array_equal(RandomGaussianBlur(prob=0.0)(dict(img=img.copy()))['img'], img)
    with pytest.raises(ValueError, match='sigma must be positive'):
        RandomGaussianBlur(sigma=(0.0, 1.0))


def test_noise_adds_zero_mean_noise_of_the_drawn_std_and_clips():
    img = np.full((200, 200, 2), 100, np.float32)
    np.random.seed(0)
    out = RandomGaussianNoise(std=5.0, prob=1.0)(dict(img=img.copy()))['img']
    noise = out - img
    assert noise.mean() == pytest.approx(0, abs=0.1) and noise.std() == pytest.approx(5.0, rel=0.05)
    assert not np.allclose(noise[..., 0], noise[..., 1])  # independent per channel
    clipped = RandomGaussianNoise(std=300.0, prob=1.0, clip=(0, 255))(dict(img=img.copy()))['img']
    assert clipped.min() == 0 and clipped.max() == 255
    as_int = RandomGaussianNoise(std=1.0, prob=1.0)(dict(img=img.astype(np.uint8)))['img']
    assert as_int.dtype == np.float32
    np.testing.assert_array_equal(RandomGaussianNoise(prob=0.0)(dict(img=img.copy()))['img'], img)
    with pytest.raises(ValueError, match=r'std must be a number >= 0 or a range'):
        RandomGaussianNoise(std=(5, 1))


def test_mmpretrain_view_transforms_keep_two_channels():
    """The MoCo view pipeline mixes mmpretrain's transforms with ours: all must keep (H, W, 2) float32."""
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        pipeline = Compose([TRANSFORMS.build(t) for t in [
            dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.2, 1.0), backend='cv2'),
            dict(type='RandomFlip', prob=1.0, direction='vertical'),
            dict(type='Rotate', magnitude_range=(0, 180), magnitude_std='inf', prob=1.0, pad_val=0,
                 interpolation='bilinear'),
            dict(type='RandomGaussianBlur', prob=1.0),
            dict(type='RandomGaussianNoise', prob=1.0, std=(1.0, 2.0), clip=(0, 255)),
        ]])
    for seed in range(5):
        np.random.seed(seed)
        out = pipeline(dict(img=image()))['img']
        assert out.shape == (32, 32, 2) and out.dtype == np.float32
        assert 0 <= out.min() and out.max() <= 255
