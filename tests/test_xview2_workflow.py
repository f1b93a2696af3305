"""configs/xview2_siamese_unet.py end to end on demo xBD data (tiny encoder): masks and splits from the label JSONs,
class weights from the training targets, `mim train mmsegmentation`, `mim test geospatial_mm --eval xview2`, and
tools/model_inference.py on the test tier's images folder, whose damage maps score what mim test reported."""
import json

import numpy as np
import pytest
import rasterio
from helpers.commands import BIN, ROOT, run
from helpers.model_inference import tool
from helpers.xbd_data import CONFIG, as_cli, make_xbd, tiny_options

from geospatial_mm.evaluation.metrics import xview2_counts, xview2_score

pytestmark = pytest.mark.slow  # trainings and tool runs in subprocesses (make test-fast skips them)

MIM = BIN / 'mim'
EPOCHS = 14  # 14 x 11 iterations of 4 pairs (64 px)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('xview2')
    root = make_xbd(tmp, size=64, n_train=32, n_val=4)
    stats = tmp / 'class_stats.json'
    run([BIN / 'python', ROOT / 'tools' / 'class_weights.py', CONFIG, '--out', stats, '--label-keys', 'seg_map_path',
         'loc_seg_map_path', '--assign', 'seg_map_path=model.decode_head.loss_decode.alpha',
         'loc_seg_map_path=model.decode_head.loss_loc.alpha', '--cfg-options',
         f'train_dataloader.dataset.data_root={root}'])
    weights = json.loads(stats.read_text())['cfg_options']
    options = as_cli(tiny_options(root))
    work = tmp / 'work'
    run([MIM, 'train', 'mmsegmentation', CONFIG, '--work-dir', work, '--cfg-options', *options, *weights,
         'train_dataloader.batch_size=4', f'train_cfg.max_epochs={EPOCHS}', 'train_cfg.val_interval=7',
         'optim_wrapper.optimizer.lr=0.003', 'randomness.seed=0', 'default_hooks.logger.interval=6'])
    return root, work, options


def test_training_runs_the_recipe_and_keeps_the_best_checkpoint(trained):
    _, work, _ = trained
    log = next(work.glob('*/*.log')).read_text()
    assert 'RareClassWeightedSampler on seg_map_path: class weights' in log
    assert 'xview2/score' in log
    assert (work / f'epoch_{EPOCHS}.pth').is_file()
    assert len(list(work.glob('best_xview2_score_epoch_*.pth'))) == 1
    dumped = (work / 'xview2_siamese_unet.py').read_text()
    assert "type='SoftmaxFocalLoss'" in dumped and 'alpha=[' in dumped and "'CosineRestartLR'" in dumped
    assert "type='EarlyStoppingHook'" in dumped


def test_mim_test_reports_the_xview2_score_and_model_inference_agrees(trained, tmp_path):
    root, work, options = trained
    ckpt = work / f'epoch_{EPOCHS}.pth'
    metrics_file = tmp_path / 'metrics.json'
    run([MIM, 'test', 'geospatial_mm', CONFIG, '--checkpoint', ckpt, '--eval', 'xview2', '--metrics-out',
         metrics_file, '--work-dir', tmp_path / 't', '--cfg-options', *options])
    metrics = json.loads(metrics_file.read_text())
    test_ids = (root / 'splits' / 'test.txt').read_text().split()
    targets = [(root / i.split('/')[0] / 'targets' / f'{i.split("/")[1]}_{{}}_disaster_target.png') for i in test_ids]

    def read(path):
        with rasterio.open(path) as src:
            return src.read(1)

    no_building = sum(xview2_counts(np.zeros_like(read(str(t).format('pre'))), np.zeros_like(read(str(t).format(
        'pre'))), read(str(t).format('pre')), read(str(t).format('post'))) for t in targets)
    assert xview2_score(no_building)['score'] == 0.0
    assert metrics['xview2/score'] > 0.5, metrics  # far above predicting no building
    assert metrics['xview2/damage_f1'] > 0.3, metrics  # every grade is found

    out = tmp_path / 'damage'
    images = root / 'test' / 'images'
    tool('-config', CONFIG, '-ckpt', ckpt, '-input', images, '--post-input', images, '-input_type', 'png', '-output',
         out, '--cfg-options', *options)
    counts = 0
    for sample_id, target in zip(test_ids, targets):
        with rasterio.open(out / f'{sample_id.split("/")[1]}_disaster_pred.tif') as src:
            damage = src.read(1)
            assert src.dtypes[0] == 'uint8' and src.colormap(1)[3][:3] == (250, 130, 20)
            assert src.tags()['CLASS_4'] == 'destroyed'
        assert set(np.unique(damage)) <= {0, 1, 2, 3, 4}
        counts = counts + xview2_counts(damage, damage, read(str(target).format('pre')),
                                        read(str(target).format('post')))
    assert xview2_score(counts)['score'] == pytest.approx(metrics['xview2/score'], abs=1e-9)
