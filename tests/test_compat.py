"""The compatibility shims of geospatial_mm.compat."""
import contextlib
import functools
import http.server
import os
import sysconfig
import textwrap
import threading

import pytest
import torch
from helpers.commands import BIN, ROOT, run

import geospatial_mm  # noqa: F401  (applies the shims)
from geospatial_mm.compat import checkpoints as compat
from geospatial_mm.compat.trust import TRUST_ENV


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
    monkeypatch.delenv(TRUST_ENV, raising=False)
    path, marker = evil_checkpoint
    with pytest.raises(compat.UntrustedCheckpointError) as err:
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    message = str(err.value)
    assert str(path) in message
    assert 'system' in message  # the offending global is named
    assert TRUST_ENV in message and '--trust-checkpoint' in message
    with pytest.raises(compat.UntrustedCheckpointError):
        load_checkpoint(torch.nn.Linear(2, 1), str(path), map_location='cpu')
    assert not marker.exists(), 'the pickled code ran'


def test_trusting_explicitly_loads_it(evil_checkpoint, monkeypatch):
    from mmengine.runner.checkpoint import CheckpointLoader
    path, marker = evil_checkpoint
    monkeypatch.setenv(TRUST_ENV, '1')
    ckpt = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert torch.equal(ckpt['state_dict']['w'], torch.ones(2))
    assert marker.exists()  # trusting really unpickles everything, so the refusal above was meaningful


@pytest.mark.slow
def test_tools_test_refuses_it_and_names_the_option(evil_checkpoint, tmp_path, shapes_root):
    from helpers.commands import data_root_options
    path, marker = evil_checkpoint
    proc = run([BIN / 'python', ROOT / 'tools' / 'test.py', ROOT / 'tests' / 'configs' / 'tiny_seg.py', path,
                '--work-dir', tmp_path / 'w', '--cfg-options', *data_root_options(shapes_root)], check=False,
               env={TRUST_ENV: ''})
    assert proc.returncode != 0
    assert 'refused to load' in proc.stderr and '--trust-checkpoint' in proc.stderr
    assert not marker.exists()


def test_plain_state_dicts_and_numpy_history_load_without_trust(tmp_path, monkeypatch):
    import numpy as np
    from mmengine.logging import HistoryBuffer
    from mmengine.runner.checkpoint import CheckpointLoader
    monkeypatch.delenv(TRUST_ENV, raising=False)
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
    monkeypatch.delenv(TRUST_ENV, raising=False)

    class ClimbsThroughGetattr:
        def __reduce__(self):
            return getattr, (HistoryBuffer, '__init__')

    torch.save({'meta': ClimbsThroughGetattr()}, tmp_path / 'climb.pth')
    with pytest.raises((compat.UntrustedCheckpointError, pickle.UnpicklingError)):
        CheckpointLoader.load_checkpoint(str(tmp_path / 'climb.pth'), map_location='cpu')


@pytest.mark.slow
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


# ---------------------------------------------------------------------------------------------- every checkpoint scheme
@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """An empty torch hub cache ($TORCH_HOME/hub/checkpoints) and checkpoints not trusted."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.delenv(TRUST_ENV, raising=False)
    cache = tmp_path / 'torch_home' / 'hub' / 'checkpoints'
    cache.mkdir(parents=True)
    return cache


def _save_evil(path, marker):
    torch.save({'state_dict': {'w': torch.ones(2)}, 'meta': {'payload': _RunsCodeWhenUnpickled(marker)}}, path)
    return path


@contextlib.contextmanager
def _serve(folder):
    """An HTTP server on 127.0.0.1 serving ``folder``; yields its base URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}'
    finally:
        server.shutdown()
        server.server_close()


def test_an_http_checkpoint_is_downloaded_cached_and_loaded_weights_only(tmp_path, hub_cache, monkeypatch):
    from mmengine.runner.checkpoint import CheckpointLoader
    served = tmp_path / 'served'
    served.mkdir()
    torch.save({'state_dict': {'w': torch.arange(3.0)}}, served / 'good-0a1b2c3d.pth')
    marker = tmp_path / 'code_ran'
    _save_evil(served / 'evil-0a1b2c3d.pth', marker)
    with _serve(served) as base:
        ckpt = CheckpointLoader.load_checkpoint(f'{base}/good-0a1b2c3d.pth', map_location='cpu')
        assert torch.equal(ckpt['state_dict']['w'], torch.arange(3.0))
        assert (hub_cache / 'good-0a1b2c3d.pth').is_file()  # cached where torch's own loader keeps it
        with pytest.raises(compat.UntrustedCheckpointError) as err:
            CheckpointLoader.load_checkpoint(f'{base}/evil-0a1b2c3d.pth', map_location='cpu')
    assert f'{base}/evil-0a1b2c3d.pth' in str(err.value) and str(hub_cache / 'evil-0a1b2c3d.pth') in str(err.value)
    assert 'system' in str(err.value) and '--trust-checkpoint' in str(err.value)
    assert not marker.exists(), 'the pickled code ran'
    # the server is gone: the cached copy is used
    again = CheckpointLoader.load_checkpoint(f'{base}/good-0a1b2c3d.pth', map_location='cpu')
    assert torch.equal(again['state_dict']['w'], torch.arange(3.0))
    monkeypatch.setenv(TRUST_ENV, '1')
    CheckpointLoader.load_checkpoint(f'{base}/evil-0a1b2c3d.pth', map_location='cpu')
    assert marker.exists()  # trusted explicitly: loaded as before


def _named_url(scheme_name):
    """The URL that mmengine's tables give for a named checkpoint of each scheme."""
    from mmengine.runner import checkpoint as ckpt_mod
    if scheme_name in ('torchvision://resnet18', 'modelzoo://resnet18'):
        return ckpt_mod.get_torchvision_models()['resnet18']
    if scheme_name.startswith('open-mmlab://'):
        return ckpt_mod.get_external_models()[scheme_name.split('://')[1]]
    return ckpt_mod.get_mmcls_models()[scheme_name.split('://')[1]]


@pytest.mark.parametrize('name', ['torchvision://resnet18', 'modelzoo://resnet18', 'open-mmlab://resnet50_v1c',
                                  'mmcls://resnet18'])
def test_named_url_schemes_never_run_pickled_code(name, tmp_path, hub_cache, monkeypatch):
    """The payload sits in the hub cache under the URL's file name, as a download would leave it (nothing is
    downloaded); mmengine's loaders would unpickle it with weights_only=False."""
    from urllib.parse import urlparse

    from mmengine.runner.checkpoint import CheckpointLoader
    url = _named_url(name)
    marker = tmp_path / 'code_ran'
    _save_evil(hub_cache / os.path.basename(urlparse(url).path), marker)
    with pytest.raises(compat.UntrustedCheckpointError) as err:
        CheckpointLoader.load_checkpoint(name, map_location='cpu')
    assert url in str(err.value) and 'refused to load' in str(err.value)
    assert not marker.exists(), 'the pickled code ran'
    torch.save({'state_dict': {'backbone.w': torch.ones(1), 'w': torch.ones(1)}},
               hub_cache / os.path.basename(urlparse(url).path))
    loaded = CheckpointLoader.load_checkpoint(name, map_location='cpu')  # a legitimate file needs no flag
    assert 'state_dict' in loaded or 'w' in loaded


def test_a_backbone_pretrained_from_torchvision_refuses_the_payload(tmp_path, hub_cache):
    """``pretrained='torchvision://…'`` in a config: mmengine's Pretrained initialiser goes through the same
    loader."""
    from urllib.parse import urlparse

    from mmseg.models.backbones import ResNet
    url = _named_url('torchvision://resnet18')
    marker = tmp_path / 'code_ran'
    _save_evil(hub_cache / os.path.basename(urlparse(url).path), marker)
    backbone = ResNet(depth=18, init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18'))
    with pytest.raises(compat.UntrustedCheckpointError):
        backbone.init_weights()
    assert not marker.exists()


def test_an_open_mmlab_entry_naming_a_local_file_is_loaded_weights_only(tmp_path, monkeypatch):
    """mmengine's open-mmlab loader reads entries of $MMENGINE_HOME/open_mmlab.json that are not URLs from its home
    folder with weights_only=False."""
    from mmengine.runner.checkpoint import CheckpointLoader
    home = tmp_path / 'mmengine_home'
    home.mkdir()
    monkeypatch.setenv('MMENGINE_HOME', str(home))
    monkeypatch.delenv(TRUST_ENV, raising=False)
    (home / 'open_mmlab.json').write_text('{"local_evil": "evil.pth", "local_good": "good.pth"}')
    marker = tmp_path / 'code_ran'
    _save_evil(home / 'evil.pth', marker)
    torch.save({'state_dict': {'w': torch.ones(2)}}, home / 'good.pth')
    with pytest.raises(compat.UntrustedCheckpointError):
        CheckpointLoader.load_checkpoint('open-mmlab://local_evil', map_location='cpu')
    assert not marker.exists()
    assert torch.equal(CheckpointLoader.load_checkpoint('openmmlab://local_good')['state_dict']['w'], torch.ones(2))


def test_every_registered_scheme_loads_weights_only():
    """mmseg, mmdet and mmpretrain are imported too: whatever scheme they register must have a safe loader."""
    import mmdet.models  # noqa: F401
    import mmpretrain.models  # noqa: F401
    import mmseg.models  # noqa: F401
    from mmengine.runner.checkpoint import CheckpointLoader
    schemes = dict(CheckpointLoader._schemes)
    assert {'', 'http://', 'https://', 'torchvision://', 'modelzoo://', 'open-mmlab://', 'openmmlab://', 'mmcls://',
            'pavi://'} <= set(schemes)
    assert all(loader in compat.SAFE_LOADERS for loader in schemes.values()), schemes


def test_a_scheme_registered_later_is_refused_unless_trusted(tmp_path, monkeypatch):
    from mmengine.runner.checkpoint import CheckpointLoader
    marker = tmp_path / 'code_ran'
    path = _save_evil(tmp_path / 'evil.pth', marker)

    def load_from_elsewhere(filename, map_location=None):
        return torch.load(path, map_location=map_location, weights_only=False)

    monkeypatch.delenv(TRUST_ENV, raising=False)
    saved = dict(CheckpointLoader._schemes)
    CheckpointLoader.register_scheme('elsewhere://', load_from_elsewhere)
    try:
        with pytest.raises(compat.UntrustedCheckpointError) as err:
            CheckpointLoader.load_checkpoint('elsewhere://x', map_location='cpu')
        assert "'elsewhere://'" in str(err.value) and TRUST_ENV in str(err.value)
        assert not marker.exists()
        monkeypatch.setenv(TRUST_ENV, '1')
        CheckpointLoader.load_checkpoint('elsewhere://x', map_location='cpu')
        assert marker.exists()
    finally:
        CheckpointLoader._schemes = saved


# ---------------------------------------------------------------------------------------------- transformers
@pytest.mark.slow
def test_a_transformers_that_mmpretrain_cannot_use_does_not_break_the_import(tmp_path):
    from helpers.fake_transformers import install_fake_transformers
    site = install_fake_transformers(tmp_path / 'site')
    env = {'PYTHONPATH': f'{site}{os.pathsep}{os.environ.get("PYTHONPATH", "")}'}
    # the failure users see without the package: mmpretrain's own import, with Python's startup files skipped (the
    # installed geospatial_mm.pth imports the package, and so the shims, whenever Python starts)
    purelib = sysconfig.get_paths()['purelib']
    bare = run([BIN / 'python', '-S', '-c', f'import sys; sys.path.append({purelib!r}); import mmpretrain.models'],
               env=env, check=False)
    assert bare.returncode != 0 and 'NoneType takes no arguments' in bare.stderr
    plain = run([BIN / 'python', '-c', 'import mmpretrain.models; print("imported")'], env=env)
    assert 'imported' in plain.stdout  # with the startup file: a plain import works
    script = textwrap.dedent(f'''
        import geospatial_mm
        import mmpretrain.models
        from mmengine.config import Config
        from mmengine.registry import MODELS, init_default_scope
        cfg = Config.fromfile({str(ROOT / 'configs' / 'hephaestus_multilabel.py')!r})
        cfg.model.backbone.init_cfg = None
        init_default_scope('mmpretrain')
        print('built', type(MODELS.build(cfg.model)).__name__)
    ''')
    proc = run([BIN / 'python', '-c', script], env=env)
    assert 'built ImageClassifier' in proc.stdout
    assert "transformers 5.0.0 lacks what mmpretrain 1.2.0's multi-modal models import" in proc.stderr
    assert 'transformers.modeling_utils.apply_chunking_to_forward' in proc.stderr


# ---------------------------------------------------------------------------------------------- config scope
BASES = sorted(p.relative_to(ROOT / 'configs').as_posix() for p in (ROOT / 'configs' / '_base_').rglob('*.py'))


def test_every_shipped_base_part_is_inherited_by_scope(tmp_path):
    """A config outside the checkout inherits each ``geospatial_mm::_base_/...`` part like an ``mmseg::`` one, in a
    fresh interpreter (the installed startup file, not this test's imports, makes the scope known)."""
    script = textwrap.dedent(f'''
        import json, os
        from mmengine.config import Config
        bases, out, root = {BASES!r}, {str(tmp_path)!r}, {str(ROOT / 'configs')!r}

        def same_files(value):  # split files: the installed copies or the checkout's, by what follows data_splits/
            if isinstance(value, dict):
                return {{k: same_files(v) for k, v in value.items()}}
            if isinstance(value, (list, tuple)):
                return type(value)(same_files(v) for v in value)
            if isinstance(value, str) and 'data_splits' in value:
                assert os.path.exists(value), value
                return 'data_splits' + os.path.normpath(value).split('data_splits', 1)[1]
            return value
        result = {{}}
        for i, base in enumerate(bases):
            path = f'{{out}}/cfg_{{i}}.py'
            with open(path, 'w') as f:
                f.write(f'_base_ = ["geospatial_mm::{{base}}"]\\nmy_key = 1\\n')
            by_scope = same_files(Config.fromfile(path).to_dict())
            direct = same_files(Config.fromfile(f'{{root}}/{{base}}').to_dict())
            result[base] = by_scope.pop('my_key') == 1 and by_scope == direct
        print(json.dumps(result))
    ''')
    proc = run([BIN / 'python', '-c', script], cwd=tmp_path)
    result = __import__('json').loads(proc.stdout.strip().splitlines()[-1])
    assert len(BASES) >= 15 and set(result) == set(BASES)
    assert all(result.values()), [b for b, ok in result.items() if not ok]


def test_an_unknown_scope_still_gets_mmengine_s_own_error(tmp_path):
    (tmp_path / 'cfg.py').write_text('_base_ = ["no_such_package::_base_/default_runtime.py"]\n')
    from mmengine.config import Config
    with pytest.raises(Exception, match='no_such_package'):
        Config.fromfile(tmp_path / 'cfg.py')
