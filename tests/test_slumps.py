"""Slump instance segmentation end to end on demo data laid out like the original's: a 6-band scene and a class
raster -> tools/raster_to_coco.py -> `mim train mmdet` (configs/slumps_mask_rcnn.py with a tiny model) ->
`mim test geospatial_mm --eval segm` -> tools/model_inference.py over a separate scene."""
import json

import numpy as np
import pytest
import rasterio
from helpers.commands import BIN, ROOT, run
from helpers.model_inference import tool
from scipy import ndimage

from geospatial_mm.io.tiles import TileGrid

pytestmark = pytest.mark.slow  # trainings and tool runs in subprocesses (make test-fast skips them)

MIM = BIN / 'mim'
CONFIG = ROOT / 'tests' / 'configs' / 'tiny_slumps_mask_rcnn.py'
SCENE = 'WV02_20160709_M1BS_10300100591D6600-toa_pansharpen.tif'


def data_options(tiles):
    ann = tiles / 'annotations' / 'instances_val.json'
    return [f'{k}.dataset.data_root={tiles}' for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')] + \
        [f'val_evaluator.ann_file={ann}', f'test_evaluator.ann_file={ann}']


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp('slumps')
    run([BIN / 'python', ROOT / 'tools' / 'make_demo_data.py', out / 'demo', '--datasets', 'slumps', '--size', '192'])
    demo, tiles = out / 'demo' / 'slumps', out / 'tiles'
    run([BIN / 'python', ROOT / 'tools' / 'raster_to_coco.py', '-i', demo / SCENE, '-l', demo / 'trialrun_label.tif',
         '-o', tiles, '--size', '64', '--overlap', '16', '--val-fraction', '0.25'])
    work = out / 'work'
    run([MIM, 'train', 'mmdet', CONFIG, '--work-dir', work, '--cfg-options', *data_options(tiles)])
    return demo, tiles, work


def test_tiles_cover_the_labelled_part_of_the_scene(trained):
    demo, tiles, _ = trained
    with rasterio.open(demo / 'trialrun_label.tif') as label, rasterio.open(demo / SCENE) as scene:
        assert (label.width, label.height) == (192, 192) and scene.width > label.width  # the scene is clipped
        train = json.loads((tiles / 'annotations' / 'instances_train.json').read_text())
        assert train['info']['sources'][0]['method'] == 'window'
        first = train['images'][0]
        with rasterio.open(tiles / 'images' / 'train' / first['file_name']) as tile:
            assert tile.count == 6 and tile.transform == label.transform  # the tile at (0, 0) of the label grid
            col, row = ~scene.transform * (label.transform.c, label.transform.f)
            window = rasterio.windows.Window(round(col), round(row), 64, 64)
            assert np.array_equal(tile.read(), scene.read(window=window))


def test_mim_test_eval_segm_reports_mask_map_well_above_chance(trained, tmp_path):
    _, tiles, work = trained
    metrics_file = tmp_path / 'metrics.json'
    proc = run([MIM, 'test', 'geospatial_mm', CONFIG, '--checkpoint', work / 'iter_150.pth', '--eval', 'segm',
                '--metrics-out', metrics_file, '--work-dir', tmp_path / 'test', '--cfg-options', *data_options(tiles)])
    metrics = json.loads(metrics_file.read_text())
    assert 'Evaluate annotation type *segm*' in proc.stdout
    assert not any(k.startswith('coco/bbox') for k in metrics)  # --eval chose the metric
    # an untrained detector scores ~0; 150 iterations on the CPU find most slumps
    assert metrics['coco/segm_mAP'] > 0.25 and metrics['coco/segm_mAP_50'] > 0.6, metrics
    # --metrics-out: each class's AP, at full precision (one class: its AP is the mean)
    assert metrics['coco/segm_AP.slump'] == pytest.approx(metrics['coco/segm_mAP'], abs=1e-12)
    assert metrics['coco/segm_AP50.slump'] == pytest.approx(metrics['coco/segm_mAP_50'], abs=1e-12)
    assert round(metrics['coco/segm_mAP'], 3) != metrics['coco/segm_mAP']  # not mmdet's three decimals
    assert 'slump_precision' not in metrics and 'coco/slump_precision' not in metrics


def test_whole_scene_prediction_is_georeferenced_and_merges_a_slump_cut_by_tile_borders(trained, tmp_path):
    demo, _, work = trained
    out = tmp_path / 'pred'
    tool('-config', work / CONFIG.name, '-ckpt', work / 'iter_150.pth', '-input', demo / 'scenes', '-output', out,
         '--geojson')
    scene = demo / 'scenes' / 'slump_scene_000.tif'
    with rasterio.open(scene) as src, rasterio.open(out / 'slump_scene_000_instances.tif') as pred, \
            rasterio.open(out / 'slump_scene_000_class_score.tif') as cs:
        assert (pred.crs, pred.transform, pred.shape) == (src.crs, src.transform, src.shape)
        assert (cs.crs, cs.transform, cs.count) == (src.crs, src.transform, 2)
        ids, (cls, score) = pred.read(1), cs.read()
    with rasterio.open(demo / 'scene_labels' / 'slump_scene_000.tif') as src:
        truth, n_true = ndimage.label(src.read(1) == 1, structure=np.ones((3, 3)))
    n_pred = int(ids.max())
    assert 0.75 * n_true <= n_pred <= 1.25 * n_true, (n_true, n_pred)
    assert set(np.unique(cls[ids > 0])) == {1.0} and (score[ids > 0] >= 0.5).all()
    # the slump in the middle of the scene is cut by the borders of the 64 px tiles that start at row/col 96
    middle = truth == truth[96, 96]
    rows, cols = np.nonzero(middle)
    cut = [t for t in TileGrid(*ids.shape, 64, 48)
           if rows.min() < t.row <= rows.max() or cols.min() < t.col <= cols.max()]
    assert cut, 'the test needs a slump that tile borders cut'
    found, counts = np.unique(ids[middle & (ids > 0)], return_counts=True)
    assert counts.max() >= 0.7 * middle.sum(), (found, counts)  # detected, and as one instance ...
    assert counts.sum() - counts.max() <= 0.05 * middle.sum(), (found, counts)  # ... not several pieces
    features = json.loads((out / 'slump_scene_000_instances.geojson').read_text())['features']
    assert len(features) == n_pred and features[0]['properties']['class_name'] == 'slump'


def test_detection_specific_options_are_checked_before_anything_runs(trained, tmp_path):
    demo, _, work = trained
    common = ['-config', work / CONFIG.name, '-ckpt', work / 'iter_150.pth', '-input', demo / 'scenes',
              '-output', tmp_path / 'o']
    proc = tool(*common, '--probabilities', check=False)
    assert proc.returncode == 2
    assert '--probabilities is for segmentation configs' in proc.stderr
    assert not (tmp_path / 'o').exists()


def test_mask_rcnn_trains_deterministic_in_bf16_and_predicts_in_bf16_with_mmcvs_ops_from_torchvision(trained,
                                                                                                    tmp_path):
    """Mask R-CNN's RoIAlign (forward and backward) and NMS under torch's deterministic mode (mmengine's
    randomness.deterministic=True) and CPU bfloat16 autocast (tools/train.py --amp), then tested and predicted in
    bf16: whatever serves mmcv's ops (torchvision's kernels with mmcv-lite, the default install)."""
    demo, tiles, _ = trained
    work = tmp_path / 'work'
    train = ("import resource, runpy, sys\n"
             "sys.argv = sys.argv[1:]\n"
             "runpy.run_path(sys.argv[0], run_name='__main__')\n"
             "print('MAXRSS_MB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n")
    options = data_options(tiles) + ['randomness.seed=0', 'randomness.deterministic=True', 'train_cfg.max_iters=8',
                                     'train_cfg.val_interval=8', 'default_hooks.checkpoint.interval=8',
                                     'default_hooks.logger.interval=2']
    proc = run([BIN / 'python', '-c', train, ROOT / 'tools' / 'train.py', CONFIG, '--amp', '--work-dir', work,
                '--cfg-options', *options])
    log = proc.stdout + proc.stderr
    assert 'CPUAutocastOptimWrapper' in (work / CONFIG.name).read_text()
    assert "'deterministic': True" in log or 'deterministic: True' in log
    losses = [float(v) for v in __import__('re').findall(r' loss: ([0-9.]+)', log)]
    assert len(losses) >= 4 and all(np.isfinite(losses)), log[-3000:]
    assert int(log.split('MAXRSS_MB')[-1].split()[0]) < 2500  # no K x C x PH x PW x H x W blow-up
    metrics_file = tmp_path / 'metrics.json'
    run([BIN / 'python', ROOT / 'tools' / 'test.py', work / CONFIG.name, work / 'iter_8.pth', '--eval', 'segm',
         '--metrics-out', metrics_file, '--work-dir', tmp_path / 'test'])
    assert 'coco/segm_mAP' in json.loads(metrics_file.read_text())
    out = tmp_path / 'pred'
    tool('-config', work / CONFIG.name, '-ckpt', work / 'iter_8.pth', '-input', demo / 'scenes', '-output', out,
         '--precision', 'bf16')
    with rasterio.open(out / 'slump_scene_000_instances.tif') as pred:
        assert pred.read(1).shape == (pred.height, pred.width)
