"""The compatibility shims of geospatial_mm.compat."""
import os
import textwrap

import pytest
import torch
from conftest import BIN, run

import geospatial_mm  # noqa: F401  (applies the shims)
from geospatial_mm import compat


class _RunsCodeWhenUnpickled:
    """Unpickling this calls os.system, which creates a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


@pytest.fixture
def evil_checkpoint(tmp_path):
    marker = tmp_path / 'code_ran'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': torch.ones(2)}, 'meta': {'payload': _RunsCodeWhenUnpickled(marker)}}, path)
    return path, marker


def test_mmengine_refuses_a_checkpoint_that_would_run_code(evil_checkpoint, monkeypatch):
    from mmengine.runner.checkpoint import CheckpointLoader, load_checkpoint
    monkeypatch.delenv(compat.TRUST_ENV, raising=False)
    path, marker = evil_checkpoint
    with pytest.raises(compat.UntrustedCheckpointError) as err:
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    message = str(err.value)
    assert str(path) in message
    assert 'system' in message  # the offending global is named
    assert compat.TRUST_ENV in message and '--trust-checkpoint' in message
    with pytest.raises(compat.UntrustedCheckpointError):
        load_checkpoint(torch.nn.Linear(2, 1), str(path), map_location='cpu')
    assert not marker.exists(), 'the pickled code ran'


def test_trusting_explicitly_loads_it(evil_checkpoint, monkeypatch):
    from mmengine.runner.checkpoint import CheckpointLoader
    path, marker = evil_checkpoint
    monkeypatch.setenv(compat.TRUST_ENV, '1')
    ckpt = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert torch.equal(ckpt['state_dict']['w'], torch.ones(2))
    assert marker.exists()  # trusting really unpickles everything, so the refusal above was meaningful


def test_tools_test_refuses_it_and_names_the_option(evil_checkpoint, tmp_path, shapes_root):
    from conftest import ROOT, data_root_options
    path, marker = evil_checkpoint
    proc = run([BIN / 'python', ROOT / 'tools' / 'test.py', ROOT / 'tests' / 'configs' / 'tiny_seg.py', path,
                '--work-dir', tmp_path / 'w', '--cfg-options', *data_root_options(shapes_root)], check=False,
               env={compat.TRUST_ENV: ''})
    assert proc.returncode != 0
    assert 'refused to load' in proc.stderr and '--trust-checkpoint' in proc.stderr
    assert not marker.exists()


def test_plain_state_dicts_and_numpy_history_load_without_trust(tmp_path, monkeypatch):
    import numpy as np
    from mmengine.logging import HistoryBuffer
    from mmengine.runner.checkpoint import CheckpointLoader
    monkeypatch.delenv(compat.TRUST_ENV, raising=False)
    buffer = HistoryBuffer()
    buffer.update(np.float64(0.5))
    buffer.update(0.25, count=2)
    ckpt = {'meta': {'iter': 3, 'seed': np.int64(7), 'dataset_meta': {'classes': ('a', 'b')}},
            'state_dict': {'w': torch.arange(3.0)},
            'message_hub': {'log_scalars': {'loss': buffer}, 'runtime_info': {'iter': 3}},
            'optimizer': {'state': {0: {'step': torch.tensor(3.0)}}, 'param_groups': [{'lr': 0.1, 'params': [0]}]}}
    torch.save(ckpt, tmp_path / 'ok.pth')
    loaded = CheckpointLoader.load_checkpoint(str(tmp_path / 'ok.pth'), map_location='cpu')
    assert torch.equal(loaded['state_dict']['w'], torch.arange(3.0))
    assert loaded['meta']['seed'] == 7
    assert loaded['message_hub']['log_scalars']['loss'].mean() == pytest.approx(buffer.mean())


def test_allowlist_is_only_history_buffers_and_numpy_reconstruction():
    names = compat._allowlist_names()
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in names
    assert all(n.startswith(('numpy', 'mmengine.logging.history_buffer')) or n == 'builtins.getattr'
               for n in names), names


def test_getattr_in_a_checkpoint_only_reaches_history_buffer_statistics(tmp_path, monkeypatch):
    """A pickled getattr(HistoryBuffer, '__init__') could climb to module globals; it must be refused."""
    import pickle

    from mmengine.logging import HistoryBuffer
    from mmengine.runner.checkpoint import CheckpointLoader
    monkeypatch.delenv(compat.TRUST_ENV, raising=False)

    class ClimbsThroughGetattr:
        def __reduce__(self):
            return getattr, (HistoryBuffer, '__init__')

    torch.save({'meta': ClimbsThroughGetattr()}, tmp_path / 'climb.pth')
    with pytest.raises((compat.UntrustedCheckpointError, pickle.UnpicklingError)):
        CheckpointLoader.load_checkpoint(str(tmp_path / 'climb.pth'), map_location='cpu')


def test_pytorch_launcher_initialises_gloo_without_cuda(tmp_path):
    script = tmp_path / 'init.py'
    script.write_text(textwrap.dedent('''
        import torch
        import geospatial_mm  # noqa: F401
        from mmengine.dist import init_dist, get_dist_info
        from mmengine.model.wrappers import MMDistributedDataParallel
        assert not torch.cuda.is_available()
        init_dist('pytorch', backend='nccl')  # what the configs ask for
        print('backend', torch.distributed.get_backend(), 'dist', get_dist_info())
        ddp = MMDistributedDataParallel(torch.nn.Linear(2, 1), device_ids=[0])
        print('ddp device_ids', ddp.device_ids)
    '''))
    proc = run([BIN / 'python', script], env={'RANK': '0', 'LOCAL_RANK': '0', 'WORLD_SIZE': '1',
                                             'MASTER_ADDR': '127.0.0.1', 'MASTER_PORT': '29517',
                                             'CUDA_VISIBLE_DEVICES': ''})
    assert 'backend gloo dist (0, 1)' in proc.stdout
    assert 'ddp device_ids None' in proc.stdout


def test_mmseg_focal_loss_works_on_cpu_with_class_index_targets():
    """mmseg 1.2.2 keeps the wrong one-hot column on CPU (open-mmlab/mmsegmentation#3249) and crashes; the shim
    computes the sigmoid focal loss of the right one-hot target, with per-class alpha and the ignore index."""
    from mmseg.models.losses import FocalLoss
    torch.manual_seed(0)
    pred = torch.randn(2, 3, 4, 5)
    target = torch.randint(0, 3, (2, 4, 5))
    target[0, 0] = 255
    alpha = [0.1, 0.6, 0.3]
    loss = FocalLoss(gamma=2.0, alpha=alpha)(pred, target)
    p = pred.sigmoid().permute(0, 2, 3, 1).reshape(-1, 3)
    t = target.reshape(-1)
    valid = (t != 255).float()[:, None]
    one_hot = torch.nn.functional.one_hot(torch.where(t == 255, 0, t), 3).float()
    a = torch.tensor(alpha)
    pt = one_hot * p + (1 - one_hot) * (1 - p)
    weight = one_hot * a + (1 - one_hot) * (1 - a)
    expected = (-weight * (1 - pt) ** 2 * pt.log() * valid).mean()
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-7)
    per_pixel = FocalLoss(gamma=2.0, alpha=alpha, reduction='none')(pred, target)
    assert per_pixel.shape == pred.shape and (per_pixel[0, :, 0] == 0).all()
