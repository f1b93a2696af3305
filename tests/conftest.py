import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tests'))  # the helpers package


@pytest.fixture(scope='session')
def shapes_root(tmp_path_factory):
    from helpers.shapes_data import make_dataset
    return make_dataset(tmp_path_factory.mktemp('shapes'))


def _installed_copy_is_current() -> str | None:
    """The mim entry points run the installed package; tests of a stale install would test old code. An editable
    install (make develop) is the checkout itself."""
    import filecmp
    import importlib.util
    spec = importlib.util.find_spec('geospatial_mm')
    if spec is None or not spec.submodule_search_locations:
        return 'geospatial_mm is not installed: run make install (or make develop)'
    installed = Path(list(spec.submodule_search_locations)[0]).resolve()
    if installed == (ROOT / 'geospatial_mm').resolve():
        links = [ROOT / 'geospatial_mm' / '.mim' / name for name in ('tools', 'configs', 'data_splits')]
        missing = [str(p) for p in links if not p.is_dir()]
        return f'editable install without its OpenMIM links {missing}: run make develop' if missing else None
    pairs = [(p, installed / p.relative_to(ROOT / 'geospatial_mm')) for p in (ROOT / 'geospatial_mm').rglob('*.py')]
    for folder in ('tools', 'configs', 'data_splits'):
        pairs += [(p, installed / '.mim' / p.relative_to(ROOT)) for p in (ROOT / folder).rglob('*')
                  if p.is_file() and '__pycache__' not in p.parts]
    stale = [str(src.relative_to(ROOT)) for src, dst in pairs if not dst.is_file() or not filecmp.cmp(src, dst, False)]
    if stale:
        return (f'the installed geospatial_mm differs from the checkout in {stale[:5]}: run make install (or make '
                'develop once, for an install that follows the checkout)')
    return None


def pytest_configure(config):
    workers = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1'))
    if workers > 1:  # pytest -n N (make test): one core per worker, for its own torch and the commands it runs
        os.environ.setdefault('OMP_NUM_THREADS', '1')
        os.environ.setdefault('MKL_NUM_THREADS', '1')
    config.addinivalue_line('markers', 'slow: runs trainings, subprocess tools or large rasters (make test-fast skips '
                                       'them; make test runs everything)')
    config.addinivalue_line('markers', 'slurm: runs on a one-node SLURM cluster started on this machine (make '
                                       'test-slurm runs them; make test and make test-fast leave them out)')


def pytest_sessionstart(session):
    problem = _installed_copy_is_current()
    if problem:
        pytest.exit(problem, returncode=4)
