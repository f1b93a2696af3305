"""Train -> resume -> test through OpenMIM's entry points, and a 2-process CPU job through --launcher pytorch."""
import json
import re

import numpy as np
import pytest
import torch
from helpers.commands import BIN, ROOT, data_root_options, run

pytestmark = pytest.mark.slow  # trainings and tool runs in subprocesses (make test-fast skips them)

CONFIG = ROOT / 'tests' / 'configs' / 'tiny_seg.py'
MIM = BIN / 'mim'


@pytest.fixture(scope='module')
def trained(tmp_path_factory, shapes_root):
    """20 iterations, then resume to 40 (the config's max_iters) from the work dir's latest checkpoint."""
    work = tmp_path_factory.mktemp('work')
    opts = data_root_options(shapes_root)
    first = run([MIM, 'train', 'mmsegmentation', CONFIG, '--work-dir', work, '--cfg-options', *opts,
                 'train_cfg.max_iters=20'])
    assert (work / 'iter_20.pth').is_file(), first.stdout[-3000:]
    assert not (work / 'iter_40.pth').exists()
    resumed = run([MIM, 'train', 'mmsegmentation', CONFIG, '--work-dir', work, '--resume', '--cfg-options', *opts])
    return work, first, resumed


def test_train_through_mim_mmsegmentation_imports_the_package(trained):
    work, first, _ = trained
    log = first.stdout + first.stderr
    assert 'geospatial_mm' in log  # custom_imports is echoed in the config dump
    ckpt = torch.load(work / 'iter_20.pth', map_location='cpu', weights_only=False)
    assert ckpt['meta']['iter'] == 20


def test_resume_continues_from_the_saved_iteration(trained):
    work, _, resumed = trained
    log = resumed.stdout + resumed.stderr
    assert re.search(r'resumed (epoch|iter)|Load checkpoint from .*iter_20\.pth', log), log[-3000:]
    first_logged = [int(m) for m in re.findall(r'Iter\(train\)\s*\[\s*(\d+)/40\]', log)]
    assert first_logged and min(first_logged) > 20, first_logged  # no iteration before 20 was run again
    ckpt = torch.load(work / 'iter_40.pth', map_location='cpu', weights_only=False)
    assert ckpt['meta']['iter'] == 40
    w20 = torch.load(work / 'iter_20.pth', map_location='cpu', weights_only=False)['state_dict']
    changed = [k for k in ckpt['state_dict'] if not torch.equal(ckpt['state_dict'][k], w20[k])]
    assert changed, 'the resumed run did not update any weight'


def _background_only_miou(root):
    """mIoU of predicting background everywhere: IoU_bg = bg fraction, the others 0."""
    from PIL import Image
    files = sorted((root / 'ann_dir' / 'val').glob('*.png'))
    labels = np.concatenate([np.asarray(Image.open(p)).ravel() for p in files])
    return 100 * (labels == 0).mean() / 3


def test_mim_test_eval_miou_reads_back_a_better_than_trivial_score(trained, shapes_root, tmp_path):
    work, _, _ = trained
    out = tmp_path / 'metrics.json'
    proc = run([MIM, 'test', 'geospatial_mm', CONFIG, '--checkpoint', work / 'iter_40.pth', '--eval', 'mIoU', 'mDice',
                '--metrics-out', out, '--work-dir', tmp_path / 'test', '--cfg-options',
                *data_root_options(shapes_root)])
    metrics = json.loads(out.read_text())
    assert set(metrics) >= {'mIoU', 'mDice', 'aAcc'}, metrics
    printed = json.loads(re.search(r'geospatial_mm test metrics: (\{.*\})', proc.stdout).group(1))
    assert printed == metrics
    assert metrics['mIoU'] > _background_only_miou(shapes_root) + 5, metrics


def test_test_rejects_an_unknown_eval_metric(trained, shapes_root, tmp_path):
    work, _, _ = trained
    proc = run([BIN / 'python', ROOT / 'tools' / 'test.py', CONFIG, work / 'iter_40.pth', '--eval', 'bbox',
                '--work-dir', tmp_path, '--cfg-options', *data_root_options(shapes_root)], check=False)
    assert proc.returncode != 0
    assert "unknown --eval metric(s) ['bbox'] for a mmseg config" in proc.stderr


def test_two_process_cpu_job_ends_with_identical_weights(tmp_path, shapes_root):
    work = tmp_path / 'ddp'
    ddp_config = ROOT / 'tests' / 'configs' / 'tiny_seg_ddp.py'
    run([MIM, 'train', 'mmsegmentation', ddp_config, '--launcher', 'pytorch', '--gpus', '2', '--work-dir', work,
         '--cfg-options', *data_root_options(shapes_root), 'train_cfg.max_iters=10', 'train_cfg.val_interval=10'])
    states = [torch.load(work / f'rank{r}_params.pt', map_location='cpu') for r in (0, 1)]
    assert [s['world_size'] for s in states] == [2, 2]
    assert [s['rank'] for s in states] == [0, 1]
    assert states[0]['batches_seen'] != states[1]['batches_seen']  # each rank trained on its own shard
    p0, p1 = states[0]['params'], states[1]['params']
    assert p0.keys() == p1.keys() and len(p0) > 10
    for name in p0:
        assert torch.equal(p0[name], p1[name]), f'{name} differs between the ranks'
    init = states[0]['initial_params']
    assert any(not torch.equal(init[k], p0[k]) for k in p0), 'no parameter was trained'
