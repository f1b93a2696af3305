"""Where the local SLURM cluster cannot run, the SLURM tests are skipped with the reason, and fail when CI is set.
Run as a user without root (a user namespace of its own: ``unshare -U``, where this process's uid shows as 65534)."""
import shutil
import subprocess

import pytest
from helpers.commands import BIN, ROOT

pytestmark = pytest.mark.slow  # pytest in subprocesses; needs no cluster, so not marked slurm


def _pytest_without_root(ci: str | None):
    unshare = shutil.which('unshare')
    if unshare is None or subprocess.run([unshare, '-U', 'true'], capture_output=True, timeout=30).returncode != 0:
        pytest.skip('unshare -U (a user namespace without root) is not available here')
    env_args = ['env', '-u', 'CI'] + ([f'CI={ci}'] if ci is not None else [])
    return subprocess.run([unshare, '-U', *env_args, BIN / 'pytest', ROOT / 'tests' / 'slurm' / 'test_local_cluster.py',
                           '-m', 'slurm', '-k', 'srun_runs_two_tasks', '-p', 'no:cacheprovider', '-q', '-rs'],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_slurm_tests_are_skipped_with_the_reason_without_root():
    proc = _pytest_without_root(ci=None)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert '1 skipped' in proc.stdout, proc.stdout
    assert ('SLURM tests skipped: the local SLURM cluster needs root (it installs packages with apt-get and runs '
            'munged, slurmctld and slurmd with SlurmUser=root); this process runs as uid 65534') in proc.stdout


def test_slurm_tests_fail_without_root_when_ci_is_set():
    proc = _pytest_without_root(ci='true')
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert '1 error' in proc.stdout and 'skipped' not in proc.stdout, proc.stdout
    assert 'CI=true, so the SLURM tests must run, but: the local SLURM cluster needs root' in proc.stdout
