"""XBDDataset, the xView2 config's pipelines (pair + two targets), RareClassWeightedSampler and
tools/class_weights.py on demo xBD data."""
import json

import numpy as np
import pytest
import rasterio
import torch
from helpers.commands import BIN, ROOT, run
from helpers.xbd_data import CONFIG, make_xbd

from geospatial_mm.datasets import RareClassWeightedSampler, XBDDataset, label_histogram


@pytest.fixture(scope='module')
def xbd_root(tmp_path_factory):
    return make_xbd(tmp_path_factory.mktemp('xbd'), size=64, n_train=8, n_val=2)


@pytest.fixture(scope='module')
def cfg():
    from mmengine.config import Config
    return Config.fromfile(CONFIG)


def dataset(root, pipeline=(), **kwargs):
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    kwargs.setdefault('ann_file', 'splits/train.txt')
    return XBDDataset(data_root=str(root), pipeline=list(pipeline), **kwargs)


def test_samples_from_a_split_file_or_from_tiers(xbd_root):
    ds = dataset(xbd_root)
    ids = (xbd_root / 'splits' / 'train.txt').read_text().split()
    assert len(ds) == len(ids) == 8 + 4  # tier1 + tier3 (its disasters are too small to give val a 25 % share)
    info = ds.get_data_info(0)
    name = ids[0].split('/')[1]
    tier = xbd_root / ids[0].split('/')[0]
    assert info['img_path'] == str(tier / 'images' / f'{name}_pre_disaster.png')
    assert info['post_img_path'] == str(tier / 'images' / f'{name}_post_disaster.png')
    assert info['seg_map_path'] == str(tier / 'targets' / f'{name}_post_disaster_target.png')
    assert info['loc_seg_map_path'] == str(tier / 'targets' / f'{name}_pre_disaster_target.png')
    assert len(dataset(xbd_root, ann_file=None, tiers=['hold', 'test'])) == 4
    assert ds.metainfo['classes'] == ('background', 'no-damage', 'minor-damage', 'major-damage', 'destroyed')


def test_a_missing_target_or_a_wrong_setup_is_an_error(xbd_root, tmp_path):
    split = tmp_path / 'split.txt'
    split.write_text('hold/hurricane-michael_00000000\nhold/nowhere_00000009\n')
    with pytest.raises(FileNotFoundError, match=r"split.txt: sample 'hold/nowhere_00000009': .*"
                                                r'nowhere_00000009_pre_disaster.png not found'):
        dataset(xbd_root, ann_file=str(split))
    target = xbd_root / 'hold' / 'targets' / 'socal-fire_00000001_post_disaster_target.png'
    moved = target.rename(tmp_path / target.name)
    try:
        with pytest.raises(FileNotFoundError, match='post_disaster_target.png not found .*tools/xbd_masks.py'):
            dataset(xbd_root, ann_file=None, tiers=['hold'])
        assert len(dataset(xbd_root, ann_file=None, tiers=['hold'], with_labels=False)) == 2
    finally:
        moved.rename(target)
    with pytest.raises(ValueError, match='either ann_file'):
        dataset(xbd_root, tiers=['hold'])


def read(path):
    with rasterio.open(path) as src:
        return src.read()


def test_test_pipeline_packs_pre_then_post_and_both_targets(xbd_root, cfg):
    ds = dataset(xbd_root, cfg.test_pipeline, ann_file=None, tiers=['hold'])
    packed = ds[0]
    info = ds.get_data_info(0)
    sample = packed['data_samples']
    assert packed['inputs'].shape == (6, 64, 64) and sample.img_channels == [3, 3]
    means, stds = np.array(cfg.img_norm['means']), np.array(cfg.img_norm['stds'])
    for image, part in ((read(info['img_path']), packed['inputs'][:3]), (read(info['post_img_path']),
                                                                           packed['inputs'][3:])):
        np.testing.assert_allclose(part.numpy(), (image - means[:, None, None]) / stds[:, None, None], atol=1e-4)
    np.testing.assert_array_equal(sample.gt_sem_seg.data[0].numpy(), read(info['seg_map_path'])[0])
    np.testing.assert_array_equal(sample.gt_loc_seg.data[0].numpy(), read(info['loc_seg_map_path'])[0])


def test_train_pipeline_keeps_images_and_targets_aligned(xbd_root, cfg):
    """One flip/turn draw per sample, applied to both images and both targets (the 64 px images are smaller than
    the 512 window, so the window is the whole image). The pipeline stops before packing, to see the draws."""
    from mmcv.transforms import Compose
    assert cfg.train_pipeline[-1]['type'] == 'PackGeospatialSegInputs'
    ds = dataset(xbd_root)
    pipeline = Compose(cfg.train_pipeline[:-1])
    means, stds = np.array(cfg.img_norm['means']), np.array(cfg.img_norm['stds'])
    np.random.seed(0)
    turned = 0
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        results = pipeline(dict(info))

        def redo(array):
            array = torch.as_tensor(np.asarray(array, dtype=np.float64))
            if results['flip']:
                array = torch.flip(array, dims=(-1 if results['flip_direction'] == 'horizontal' else -2,))
            return torch.rot90(array, results['rotate90_k'], dims=(-2, -1)).numpy()

        for key, path_key in (('img', 'img_path'), ('img_post', 'post_img_path')):
            normalised = (read(info[path_key]) - means[:, None, None]) / stds[:, None, None]
            np.testing.assert_allclose(results[key].numpy(), redo(normalised), atol=1e-4)
        np.testing.assert_array_equal(results['gt_seg_map'].numpy(), redo(read(info['seg_map_path'])[0]))
        np.testing.assert_array_equal(results['gt_loc_seg_map'].numpy(), redo(read(info['loc_seg_map_path'])[0]))
        turned += bool(results['flip'] or results['rotate90_k'])
    assert turned > 0


@pytest.mark.slow
def test_class_weights_tool_and_the_sampler_agree(xbd_root, tmp_path):
    out = tmp_path / 'stats.json'
    proc = run([BIN / 'python', ROOT / 'tools' / 'class_weights.py', CONFIG, '--out', out, '--label-keys',
                'seg_map_path', 'loc_seg_map_path', '--assign', 'seg_map_path=model.decode_head.loss_decode.alpha',
                'loc_seg_map_path=model.decode_head.loss_loc.alpha',
                '--cfg-options', f'train_dataloader.dataset.data_root={xbd_root}'])
    stats = json.loads(out.read_text())
    ds = dataset(xbd_root)
    damage = stats['labels']['seg_map_path']
    loc = stats['labels']['loc_seg_map_path']
    total = sum(label_histogram(ds.get_data_info(i)['seg_map_path'], 5) for i in range(len(ds)))
    assert damage['pixel_counts'] == total.tolist() and loc['num_classes'] == 2
    assert sum(loc['pixel_counts']) == len(ds) * 64 * 64  # nothing ignored in localisation
    assert sum(damage['weights']) == pytest.approx(1.0)
    freq = np.array(damage['pixel_counts']) / sum(damage['pixel_counts'])
    np.testing.assert_allclose(damage['weights'], (1 / freq) / (1 / freq).sum())
    assert f'train_dataloader.sampler.stats_file={out}' in stats['cfg_options']
    assert stats['cfg_options'][0].startswith('model.decode_head.loss_decode.alpha=[0.0')
    assert '--cfg-options model.decode_head.loss_decode.alpha=' in proc.stdout

    scanned = RareClassWeightedSampler(ds, seed=1)
    from_file = RareClassWeightedSampler(ds, stats_file=str(out), seed=1)
    assert torch.equal(scanned.weights, from_file.weights)
    counts = np.array([damage['per_sample'][ds.get_data_info(i)['sample_id']] for i in range(len(ds))])
    # weight of an image = (1 / frequency) ** 0.5 of its rarest class, relative to the most frequent class
    class_w = np.sqrt(freq.max() / freq)
    expected = np.where(counts > 0, class_w[None], 0).max(1)
    np.testing.assert_allclose(scanned.weights.numpy(), expected)
    assert len(set(expected.round(6))) > 2  # the demo images differ in their rarest class
    del stats['labels']['seg_map_path']['per_sample'][ds.get_data_info(2)['sample_id']]
    out.write_text(json.dumps(stats))
    with pytest.raises(KeyError, match='no class counts for sample'):
        RareClassWeightedSampler(ds, stats_file=str(out))


def test_sampler_draws_rare_class_images_more_often_and_splits_the_draws_across_ranks(xbd_root, monkeypatch):
    import geospatial_mm.datasets.rare_class_weighted_sampler as samplers
    ds = dataset(xbd_root)
    sampler = RareClassWeightedSampler(ds, seed=5, num_samples=4000)
    draws = np.bincount(list(sampler), minlength=len(ds))
    np.testing.assert_allclose(draws / 4000, sampler.weights.numpy() / sampler.weights.sum().item(), atol=0.03)
    first = list(sampler)
    assert first == list(sampler)  # one epoch, one draw
    sampler.set_epoch(1)
    assert list(sampler) != first
    sampler.set_epoch(0)
    ranks = []
    for rank in range(2):
        monkeypatch.setattr(samplers, 'get_dist_info', lambda rank=rank: (rank, 2))
        ranks.append(list(RareClassWeightedSampler(ds, seed=5, num_samples=4000)))
    assert len(ranks[0]) == len(ranks[1]) == 2000
    interleaved = [i for pair in zip(*ranks) for i in pair]
    assert interleaved == first
