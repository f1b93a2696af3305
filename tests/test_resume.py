"""--resume without a usable last_checkpoint: the newest complete checkpoint, or a clear error; never a silent
start from iteration 1."""
import re

import pytest
import torch
from helpers.commands import BIN, ROOT, data_root_options, run

pytestmark = pytest.mark.slow  # trainings and tool runs in subprocesses (make test-fast skips them)

CONFIG = ROOT / 'tests' / 'configs' / 'tiny_seg.py'
TRAIN = ROOT / 'tools' / 'train.py'


def _iterations(proc, total):
    return [int(m) for m in re.findall(rf'Iter\(train\)\s*\[\s*(\d+)/{total}\]', proc.stdout + proc.stderr)]


def test_resume_without_last_checkpoint_continues_from_the_newest_complete_one(tmp_path, shapes_root):
    work = tmp_path / 'work'
    run([BIN / 'python', TRAIN, CONFIG, '--work-dir', work, '--cfg-options', *data_root_options(shapes_root),
         'default_hooks.checkpoint.interval=10', 'train_cfg.val_interval=1000', 'train_cfg.max_iters=20'])
    assert (work / 'iter_10.pth').is_file() and (work / 'iter_20.pth').is_file()
    (work / 'last_checkpoint').unlink()  # killed between the checkpoint and this file, or a copied work dir
    whole = (work / 'iter_20.pth').read_bytes()
    (work / 'iter_20.pth').write_bytes(whole[:len(whole) // 2])  # and the newest checkpoint cut short
    proc = run([BIN / 'python', TRAIN, CONFIG, '--work-dir', work, '--resume', '--cfg-options',
                *data_root_options(shapes_root), 'default_hooks.checkpoint.interval=10',
                'train_cfg.val_interval=1000', 'train_cfg.max_iters=30', 'default_hooks.logger.interval=5'])
    log = proc.stdout + proc.stderr
    assert re.search(r'has no last_checkpoint file; resuming from the newest complete checkpoint .*iter_10\.pth', log)
    done = _iterations(proc, 30)
    assert done and min(done) > 10, done  # iterations 1-10 were not run again
    assert torch.load(work / 'iter_30.pth', map_location='cpu', weights_only=False)['meta']['iter'] == 30


def test_resume_with_no_complete_checkpoint_stops_with_an_error(tmp_path, shapes_root):
    work = tmp_path / 'work'
    work.mkdir()
    (work / 'iter_10.pth').write_bytes(b'PK\x03\x04 cut short')
    proc = run([BIN / 'python', TRAIN, CONFIG, '--work-dir', work, '--resume', '--cfg-options',
                *data_root_options(shapes_root), 'train_cfg.max_iters=5'], check=False)
    assert proc.returncode != 0
    assert 'found no complete checkpoint to continue from' in proc.stderr and 'iter_10.pth' in proc.stderr
    assert not (work / 'iter_5.pth').exists()
