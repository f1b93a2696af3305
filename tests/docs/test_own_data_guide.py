"""docs/own_data.md, run as written: its bash blocks in order, in one shell, on a generated Landsat-8 scene with a
cloud label raster and a Sentinel-2 L1C scene; then what each step promises is checked on what it wrote."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
import rasterio
import rasterio.windows
from helpers.clouds import landsat_scene, sentinel2_scene
from helpers.commands import ROOT, run
from PIL import Image

pytestmark = pytest.mark.slow
GUIDE = ROOT / 'docs' / 'own_data.md'
ITERS = 8  # validations every 2 iterations: mIoU about 89, 94, 96 at 4, 6, 8 iterations (the 16-channel UNet)


def bash_blocks(text: str) -> list[str]:
    return re.findall(r'^```bash\n(.*?)^```', text, flags=re.S | re.M)


@pytest.fixture(scope='module')
def guide_run(tmp_path_factory):
    data = tmp_path_factory.mktemp('clouds')
    landsat_scene(data / 'landsat.tif', data / 'landsat_clouds.tif')
    s2_clouds = sentinel2_scene(data / 'sentinel2_l1c.tif')
    blocks = bash_blocks(GUIDE.read_text())
    assert len(blocks) == 8
    script = 'set -euo pipefail\n' + '\n'.join(blocks)
    proc = run(['bash', '-c', script], env={'DATA': str(data), 'ITERS': str(ITERS)}, timeout=1500)
    return data, proc, s2_clouds


def test_chips_of_different_splits_share_no_pixel_and_skip_the_fill_corner(guide_run):
    data, _, _ = guide_run
    chips = data / 'chips'
    ids = {s: (chips / 'splits' / f'{s}.txt').read_text().split() for s in ('train', 'val', 'test')}
    assert all(ids.values())
    with rasterio.open(data / 'landsat_clouds.tif') as src:
        owner = np.full((src.height, src.width), '', object)
        scene = src.transform
    for split, names in ids.items():
        for name in names:
            with rasterio.open(chips / 'ann_dir' / f'{name}.tif') as chip:
                window = rasterio.windows.from_bounds(*chip.bounds, transform=scene)
                rows = slice(round(window.row_off), round(window.row_off + window.height))
                cols = slice(round(window.col_off), round(window.col_off + window.width))
            assert set(np.unique(owner[rows, cols])) <= {'', split}
            owner[rows, cols] = split
            assert (chips / 'img_dir' / f'{name}.tif').is_file()
    assert owner[0, 0] == ''  # the fill corner yields no chip (--min-valid 0.5)


def test_band_stats_are_in_reflectance_and_reach_the_config(guide_run):
    data, _, _ = guide_run
    stats = json.loads((data / 'chips' / 'band_stats.json').read_text())
    assert len(stats['mean']) == 6 and 0.05 < stats['mean'][0] < 0.5 and stats['min'][0] > -0.1
    from mmengine.config import Config
    cfg = Config.fromfile(data / 'work' / 'clouds.py')
    normalize = [t for t in cfg.train_dataloader.dataset.pipeline if t['type'] == 'TorchNormalize'][0]
    assert np.allclose(normalize['means'], stats['mean'], rtol=1e-5)
    assert cfg.default_scope == 'mmseg' and cfg.model.decode_head.out_channels == 1


def test_binary_training_does_not_ask_for_out_channels_1(guide_run):
    data, proc, _ = guide_run
    log = proc.stdout + proc.stderr
    assert 'For binary segmentation, we suggest' not in log  # mmseg's warning for two-channel binary heads
    assert sorted(p.name for p in (data / 'work').glob('best_mIoU_iter_*.pth'))


def test_metrics_out_has_every_class_at_full_precision(guide_run):
    data, _, _ = guide_run
    metrics = json.loads((data / 'test_metrics.json').read_text())
    for name in ('IoU', 'Acc', 'Fscore', 'Precision', 'Recall'):
        for cls in ('clear', 'cloud'):
            assert 0 <= metrics[f'{name}.{cls}'] <= 100
    assert metrics['IoU.cloud'] > 50  # bright clouds over land: learnt in a few iterations
    assert abs(metrics['mIoU'] - (metrics['IoU.clear'] + metrics['IoU.cloud']) / 2) < 1e-6


def test_landsat_prediction_is_georeferenced_with_colour_table_nodata_and_probabilities(guide_run):
    data, _, _ = guide_run
    with rasterio.open(data / 'landsat.tif') as src, rasterio.open(data / 'predictions' / 'landsat_pred.tif') as pred:
        assert (pred.crs, pred.transform, pred.shape) == (src.crs, src.transform, src.shape)
        classes = pred.read(1)
        fill = src.read(1) == 0
        colormap = pred.colormap(1)
        assert pred.nodata == 255
    assert (classes[fill] == 255).all() and set(np.unique(classes[~fill])) <= {0, 1}
    assert colormap[1][:3] == (255, 255, 255) and colormap[255][:3] not in {(255, 255, 255), (60, 110, 60)}
    with rasterio.open(data / 'landsat_clouds.tif') as lab:
        label = lab.read(1)
    valid = label != 255
    iou = ((classes == 1) & (label == 1) & valid).sum() / (((classes == 1) | (label == 1)) & valid).sum()
    assert iou > 0.5
    with rasterio.open(data / 'predictions' / 'landsat_prob.tif') as prob:
        p = prob.read()
    assert p.shape[0] == 2 and np.allclose(p[:, ~fill].sum(0), 1, atol=1e-5)
    assert ((p[1] > 0.5) == (classes == 1))[~fill].mean() > 0.999
    preview = np.asarray(Image.open(data / 'previews' / 'landsat_preview.png').convert('RGB'))
    nodata_colour = np.array(colormap[255][:3])
    assert (preview == nodata_colour).all(-1).sum() > 1000  # the fill corner, in the colour table's nodata colour


def test_another_sensor_is_predicted_with_its_own_scaling(guide_run):
    data, _, s2_clouds = guide_run
    with rasterio.open(data / 'sentinel2_l1c.tif') as src, \
            rasterio.open(data / 'predictions' / 'sentinel2_l1c_pred.tif') as pred:
        assert (pred.crs, pred.transform, pred.shape) == (src.crs, src.transform, src.shape)
        classes = pred.read(1)
    iou = ((classes == 1) & s2_clouds).sum() / ((classes == 1) | s2_clouds).sum()
    assert iou > 0.5
