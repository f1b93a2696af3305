"""GeospatialSegDataset, the packers, and a config built from the GeoTIFF transforms training through mim."""
import re

import numpy as np
import pytest
import torch
from helpers.commands import BIN, ROOT, run
from helpers.geotiff_seg_data import CLASSES, make_geotiff_seg_dataset
from helpers.rasters import ramp, write_geotiff

from geospatial_mm.datasets import GeospatialSegDataset
from geospatial_mm.datasets.transforms import PackGeospatialDetInputs, PackGeospatialSegInputs

METAINFO = dict(classes=CLASSES, palette=[[0, 0, 0], [255, 0, 0], [0, 0, 255]])


@pytest.fixture(scope='module')
def geo_root(tmp_path_factory):
    return make_geotiff_seg_dataset(tmp_path_factory.mktemp('geoseg'), n_train=6, n_val=3)


def _dataset(root, **kw):
    kw.setdefault('data_prefix', dict(img_path='img_dir/train', seg_map_path='ann_dir/train'))
    return GeospatialSegDataset(data_root=str(root), metainfo=METAINFO, pipeline=[], **kw)


def test_lists_images_with_their_labels_and_metainfo(geo_root):
    ds = _dataset(geo_root)
    assert len(ds) == 6
    info = ds.get_data_info(0)
    assert info['img_path'].endswith('img_dir/train/scene_000.tif')
    assert info['seg_map_path'].endswith('ann_dir/train/scene_000.tif')
    assert info['sample_id'] == 'scene_000'
    assert ds.metainfo['classes'] == CLASSES and ds.metainfo['palette'] == METAINFO['palette']


def test_glob_and_split_file_select_samples(geo_root, tmp_path):
    assert len(_dataset(geo_root, img_glob='scene_00[12].tif')) == 2
    split = tmp_path / 'split.txt'
    split.write_text('# chosen scenes\nscene_004\n\nscene_001, extra column\n')
    ds = _dataset(geo_root, ann_file=str(split))
    assert [ds.get_data_info(i)['sample_id'] for i in range(len(ds))] == ['scene_004', 'scene_001']


def test_image_without_label_names_both(tmp_path):
    write_geotiff(tmp_path / 'img' / 'a.tif', ramp(2, 4, 4, 'int16'))
    (tmp_path / 'lab').mkdir()
    with pytest.raises(FileNotFoundError, match=r'img/a\.tif: no label found for this image, expected .*lab/a\.tif'):
        GeospatialSegDataset(data_root=str(tmp_path), metainfo=METAINFO,
                             data_prefix=dict(img_path='img', seg_map_path='lab'))


def test_split_id_without_image_and_missing_classes(geo_root, tmp_path):
    split = tmp_path / 'split.txt'
    split.write_text('scene_000\nscene_999\n')
    with pytest.raises(FileNotFoundError, match=r"split\.txt: sample 'scene_999' has no image, expected .*scene_999"):
        _dataset(geo_root, ann_file=str(split))
    with pytest.raises(ValueError, match='needs metainfo=dict\\(classes='):
        GeospatialSegDataset(data_root=str(geo_root), data_prefix=dict(img_path='img_dir/train'))


def test_without_label_folder_samples_have_no_label(geo_root):
    ds = _dataset(geo_root, data_prefix=dict(img_path='img_dir/val'), test_mode=True)
    assert len(ds) == 3 and 'seg_map_path' not in ds.get_data_info(0)


def test_full_pipeline_packs_seg_inputs_with_geo_meta(geo_root):
    pipeline = [dict(type='RandomWindow', crop_size=32),
                dict(type='LoadGeospatialImageFromFile', scale=0.0001),
                dict(type='LoadGeospatialAnnotations'),
                dict(type='TorchFromNumpy'),
                dict(type='TorchRandomFlip', prob=1.0),
                dict(type='PackGeospatialSegInputs')]
    ds = GeospatialSegDataset(data_root=str(geo_root), metainfo=METAINFO, pipeline=pipeline,
                              data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'))
    sample = ds[0]
    inputs, data_sample = sample['inputs'], sample['data_samples']
    assert inputs.shape == (6, 32, 32) and inputs.dtype == torch.float32
    assert data_sample.gt_sem_seg.data.shape == (1, 32, 32) and data_sample.gt_sem_seg.data.dtype == torch.int64
    assert data_sample.nodata_mask.data.shape == (1, 32, 32)
    ignored = data_sample.gt_sem_seg.data[0] == 255
    assert torch.equal(ignored, data_sample.nodata_mask.data[0])  # label nodata exactly where the image is nodata
    meta = data_sample.metainfo
    assert meta['geo_meta']['crs'] and len(meta['geo_meta']['transform']) == 6
    assert meta['img_channels'] == [6] and meta['flip'] is True


def test_pair_inputs_are_concatenated_with_split_info():
    results = dict(img=torch.zeros(3, 4, 4), img_post=torch.ones(3, 4, 4), img_keys=['img', 'img_post'],
                   gt_seg_map=np.zeros((4, 4), np.int64))
    packed = PackGeospatialSegInputs()(results)
    assert packed['inputs'].shape == (6, 4, 4)
    assert torch.equal(packed['inputs'][3:], torch.ones(3, 4, 4))
    assert packed['data_samples'].metainfo['img_keys'] == ['img', 'img_post']
    assert packed['data_samples'].metainfo['img_channels'] == [3, 3]


def test_det_packer_takes_an_n_band_tensor():
    results = dict(img=torch.rand(5, 16, 16), img_id=1, img_path='x.tif', ori_shape=(16, 16), img_shape=(16, 16),
                   gt_bboxes=np.array([[1, 2, 8, 9]], np.float32), gt_bboxes_labels=np.array([0]),
                   gt_ignore_flags=np.array([False]))
    packed = PackGeospatialDetInputs()(results)
    assert packed['inputs'].shape == (5, 16, 16)
    assert torch.equal(packed['inputs'], results['img'])
    assert packed['data_samples'].gt_instances.bboxes.shape == (1, 4)


@pytest.mark.slow
def test_geotiff_config_trains_through_mim(tmp_path, geo_root):
    config = ROOT / 'tests' / 'configs' / 'tiny_geotiff_seg.py'
    opts = [f'{k}.dataset.data_root={geo_root}' for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    proc = run([BIN / 'mim', 'train', 'mmsegmentation', config, '--work-dir', tmp_path / 'w', '--cfg-options', *opts])
    assert (tmp_path / 'w' / 'iter_30.pth').is_file()
    log = proc.stdout + proc.stderr
    losses = [float(x) for x in re.findall(r'Iter\(train\).*?loss: ([0-9.]+)', log)]
    assert len(losses) >= 3 and losses[-1] < 0.7 * losses[0], losses
    assert 'mIoU' in log


@pytest.mark.slow
def test_a_config_outside_the_checkout_inherits_package_bases_and_trains_with_tools_train(tmp_path, geo_root):
    source = (ROOT / 'tests' / 'configs' / 'tiny_geotiff_seg.py').read_text()
    local_base = "_base_ = ['../../configs/_base_/default_runtime.py']"
    assert local_base in source
    config = tmp_path / 'elsewhere' / 'my_config.py'
    config.parent.mkdir()
    config.write_text(source.replace(local_base, "_base_ = ['geospatial_mm::_base_/default_runtime.py']"))
    opts = [f'{k}.dataset.data_root={geo_root}' for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    run([BIN / 'python', ROOT / 'tools' / 'train.py', config, '--work-dir', tmp_path / 'w', '--cfg-options', *opts,
         'train_cfg.max_iters=4', 'train_cfg.val_interval=4'], cwd=tmp_path)
    assert (tmp_path / 'w' / 'iter_4.pth').is_file()
    dumped = (tmp_path / 'w' / 'my_config.py').read_text()
    assert "default_scope = 'mmseg'" in dumped and "_scope_='geospatial_mm'" not in dumped


def test_mmpretrain_pack_inputs_takes_the_channel_first_tensors_and_geo_meta(tmp_path):
    from mmengine.dataset import Compose
    img = write_geotiff(tmp_path / 'insar.tif', ramp(2, 32, 32, 'float32'))
    pipeline = Compose([dict(type='LoadGeospatialImageFromFile'), dict(type='TorchFromNumpy'),
                        dict(type='TorchRandomFlip', prob=1.0),
                        dict(type='mmpretrain.PackInputs', meta_keys=('img_path', 'geo_meta', 'flip'))])
    packed = pipeline(dict(img_path=str(img), gt_label=1))
    assert packed['inputs'].shape == (2, 32, 32) and packed['inputs'].dtype == torch.float32
    assert packed['data_samples'].gt_label.tolist() == [1]
    assert packed['data_samples'].metainfo['geo_meta']['crs']
