import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tests'))
BIN = Path(sys.executable).parent


def run(cmd, cwd=None, env=None, timeout=900, check=True):
    """Run a command of the venv, return the CompletedProcess; on failure show its output in the assertion."""
    full_env = dict(os.environ)
    full_env['PATH'] = f'{BIN}{os.pathsep}{full_env.get("PATH", "")}'
    full_env['PYTHONPATH'] = os.pathsep.join([str(ROOT / 'tests'), full_env.get('PYTHONPATH', '')]).rstrip(os.pathsep)
    full_env.setdefault('OMP_NUM_THREADS', '1')
    full_env.update(env or {})
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd or ROOT, env=full_env, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f'command failed with exit {proc.returncode}: {" ".join(map(str, cmd))}\n'
                             f'--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}')
    return proc


@pytest.fixture(scope='session')
def shapes_root(tmp_path_factory):
    from helpers.shapes_data import make_dataset
    return make_dataset(tmp_path_factory.mktemp('shapes'))


def data_root_options(root):
    return [f'{loader}.dataset.data_root={root}' for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]


def _installed_copy_is_current() -> str | None:
    """The mim entry points run the installed package; tests of a stale install would test old code."""
    import filecmp
    from importlib import metadata
    try:
        installed = Path(metadata.distribution('geospatial_mm').locate_file('geospatial_mm'))
    except metadata.PackageNotFoundError:
        return 'geospatial_mm is not installed: run make install'
    pairs = [(p, installed / p.relative_to(ROOT / 'geospatial_mm')) for p in (ROOT / 'geospatial_mm').rglob('*.py')]
    for folder in ('tools', 'configs', 'data_splits'):
        pairs += [(p, installed / '.mim' / p.relative_to(ROOT)) for p in (ROOT / folder).rglob('*')
                  if p.is_file() and '__pycache__' not in p.parts]
    stale = [str(src.relative_to(ROOT)) for src, dst in pairs if not dst.is_file() or not filecmp.cmp(src, dst, False)]
    if stale:
        return f'the installed geospatial_mm differs from the checkout in {stale[:5]}: run make install'
    return None


def pytest_sessionstart(session):
    problem = _installed_copy_is_current()
    if problem:
        pytest.exit(problem, returncode=4)
