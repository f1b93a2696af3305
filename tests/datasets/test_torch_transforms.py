"""Torch* transforms: one random draw for every image and map, so pixels stay aligned; exact arithmetic."""
import numpy as np
import pytest
import torch

from geospatial_mm.datasets.transforms import (
    CastTensor,
    Reshape,
    TorchFromNumpy,
    TorchNormalize,
    TorchPermute,
    TorchRandomCrop,
    TorchRandomFlip,
    TorchRandomRotate90,
    TorchResize,
)


def coded_sample(h=40, w=30):
    """Image bands hold each pixel's row and column; the label, the post image and the nodata mask are functions of
    them, so alignment can be checked after any geometric transform."""
    rows, cols = np.mgrid[:h, :w].astype(np.float32)
    img = np.stack([rows, cols, rows * 0 + 1], axis=-1)
    return dict(img=img, img_post=img + 1000, img_keys=['img', 'img_post'],
                gt_seg_map=((rows * 7 + cols * 3) % 5).astype(np.int64), seg_fields=['gt_seg_map'],
                nodata_mask=((rows + cols) % 4 == 0), img_shape=(h, w))


def assert_aligned(results):
    img, post = results['img'], results['img_post']
    rows, cols = img[0], img[1]
    assert torch.equal(post - img, torch.full_like(img, 1000))
    assert torch.equal(results['gt_seg_map'], ((rows * 7 + cols * 3) % 5).long())
    assert torch.equal(results['nodata_mask'], (rows + cols) % 4 == 0)


def test_from_numpy_makes_channels_first_tensors():
    out = TorchFromNumpy()(coded_sample())
    assert out['img'].shape == (3, 40, 30) and out['img'].dtype == torch.float32
    assert out['gt_seg_map'].shape == (40, 30) and out['gt_seg_map'].dtype == torch.int64
    assert out['nodata_mask'].dtype == torch.bool
    assert_aligned(out)


@pytest.mark.parametrize('seed', range(12))
def test_crop_flip_rotate_keep_images_labels_and_masks_aligned(seed):
    np.random.seed(seed)
    results = TorchFromNumpy()(coded_sample())
    for t in (TorchRandomCrop(crop_size=(17, 11)), TorchRandomRotate90(prob=0.75),
              TorchRandomFlip(prob=0.5, direction=['horizontal', 'vertical'])):
        results = t(results)
    assert_aligned(results)
    k = results['rotate90_k']
    assert results['img'].shape[1:] == ((17, 11) if k % 2 == 0 else (11, 17))
    assert results['img_shape'] == tuple(results['img'].shape[1:])


def test_random_draws_vary_between_samples():
    draws = set()
    for seed in range(20):
        np.random.seed(seed)
        out = TorchRandomFlip(prob=0.5, direction=['horizontal', 'vertical'])(TorchFromNumpy()(coded_sample()))
        out = TorchRandomRotate90(prob=0.5)(out)
        draws.add((out['flip_direction'], out['rotate90_k']))
    assert len(draws) >= 5


def test_flip_directions_are_exact():
    base = TorchFromNumpy()(coded_sample())
    h = TorchRandomFlip(prob=1.0, direction='horizontal')(dict(base))
    assert torch.equal(h['img'], torch.flip(base['img'], dims=(-1,)))
    v = TorchRandomFlip(prob=1.0, direction='vertical')(dict(base))
    assert torch.equal(v['img'], torch.flip(base['img'], dims=(-2,)))
    assert torch.equal(v['gt_seg_map'], torch.flip(base['gt_seg_map'], dims=(-2,)))


def test_crop_cat_max_ratio_rejects_single_class_crops():
    label = torch.zeros(64, 64, dtype=torch.long)
    label[:16, :16] = 1

    def hits(ratio):
        count = 0
        for seed in range(30):
            np.random.seed(seed)
            out = TorchRandomCrop(16, cat_max_ratio=ratio)(dict(img=torch.zeros(2, 64, 64), gt_seg_map=label.clone(),
                                                                 seg_fields=['gt_seg_map']))
            count += int(out['gt_seg_map'].max() == 1)
        return count

    plain, retried = hits(1.0), hits(0.95)
    assert plain <= 6 and retried >= plain + 8, (plain, retried)


def test_normalize_per_band_and_repeated_over_frames():
    img = torch.stack([torch.full((4, 4), 10.0), torch.full((4, 4), 20.0)])
    out = TorchNormalize(means=[10, 10], stds=[1, 5])(dict(img=img.clone()))
    assert torch.allclose(out['img'][0], torch.zeros(4, 4)) and torch.allclose(out['img'][1], torch.full((4, 4), 2.))
    frames = torch.cat([img, img + 1])  # two frames of two bands, frame-major
    out = TorchNormalize(means=[10, 20], stds=[2, 2])(dict(img=frames))
    assert out['img'][:, 0, 0].tolist() == [0.0, 0.0, 0.5, 0.5]
    out = TorchNormalize(means=[10, 20], stds=[2, 2])(dict(img=torch.stack([img, img + 1], dim=1)))  # (C, T, H, W)
    assert out['img'][:, :, 0, 0].tolist() == [[0.0, 0.5], [0.0, 0.5]]
    with pytest.raises(ValueError, match='3 channels cannot be normalised with 2 means'):
        TorchNormalize(means=[0, 0], stds=[1, 1])(dict(img=torch.zeros(3, 2, 2)))


def test_reshape_frames_round_trip():
    c, t = 3, 2
    frames = torch.stack([torch.full((4, 5), float(10 * ti + ci)) for ti in range(t) for ci in range(c)])  # (C*T,H,W)
    out = Reshape(keys=['img'], new_shape=(c, t, -1, -1))(dict(img=frames))
    assert out['img'].shape == (c, t, 4, 5)
    assert out['img'][2, 1, 0, 0] == 12.0  # band 2 of frame 1
    back = Reshape(keys=['img'], new_shape=(c * t, -1, -1))(out)
    assert torch.equal(back['img'], frames)
    with pytest.raises(ValueError, match=r'cannot reshape \(6, 4, 5\) to \(4, 2, 4, 5\)'):
        Reshape(keys=['img'], new_shape=(4, 2, -1, -1))(dict(img=frames))


def test_permute_cast_and_resize():
    img = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).view(2, 3, 4, 5)
    out = TorchPermute(keys=['img'], order=(1, 0, 2, 3))(dict(img=img))
    assert out['img'].shape == (3, 2, 4, 5) and torch.equal(out['img'][1, 0], img[0, 1])
    out = CastTensor(keys=['img'], dtype='float16')(out)
    assert out['img'].dtype == torch.float16
    with pytest.raises(ValueError, match="unknown torch dtype 'float99'"):
        CastTensor(keys=['img'], dtype='float99')
    sample = TorchFromNumpy()(coded_sample(8, 6))
    out = TorchResize(scale=(16, 12))(sample)
    assert out['img'].shape == (3, 16, 12) and out['img_post'].shape == (3, 16, 12)
    assert out['gt_seg_map'].shape == (16, 12) and out['gt_seg_map'].dtype == torch.int64
    assert set(out['gt_seg_map'].unique().tolist()) <= set(range(5))  # nearest: no blended labels
    assert out['nodata_mask'].dtype == torch.bool
    temporal = TorchResize(scale=(6, 6))(dict(img=torch.rand(3, 2, 12, 12)))
    assert temporal['img'].shape == (3, 2, 6, 6)
