"""make lint (run first by make test and make test-fast): ruff with the settings of pyproject.toml passes on the
checkout, and the same settings fail on a planted violation of each family they check."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUFF = Path(sys.executable).with_name('ruff')
PLANTED = {
    'F401': 'import os\n',  # pyflakes: an unused import
    'I001': 'import sys\nimport os\n\nprint(os, sys)\n',  # isort: unsorted imports
    'E501': f'x = {"1 + " * 40}1\n',  # pycodestyle: a line longer than 120 characters
    'W291': 'x = 1 \n',  # pycodestyle: trailing whitespace
}


def ruff(*args, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([str(RUFF), 'check', '--no-cache', *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_the_checkout_passes_make_lint():
    proc = ruff('.')
    assert proc.returncode == 0, proc.stdout[-3000:]


@pytest.mark.parametrize('code', sorted(PLANTED))
def test_a_planted_violation_fails_with_the_projects_settings(code, tmp_path):
    shutil.copy(ROOT / 'pyproject.toml', tmp_path / 'pyproject.toml')
    (tmp_path / 'geospatial_mm').mkdir()
    (tmp_path / 'geospatial_mm' / 'planted.py').write_text(PLANTED[code])
    proc = ruff('.', cwd=tmp_path)
    assert proc.returncode == 1 and code in proc.stdout, proc.stdout
