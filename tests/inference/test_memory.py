"""keep_freed_memory: glibc's malloc reuses freed heap memory instead of faulting pages in anew."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = '''
import resource, sys
import numpy as np
from geospatial_mm.inference.memory import keep_freed_memory
applied = False
if sys.argv[1] == '1':
    applied = keep_freed_memory()
    assert keep_freed_memory() == applied  # once per process, same answer
rng = np.random.default_rng(0)
start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(40):  # buffers of 1-39 MB allocated, written and freed, as batches and strips of a streamed raster
    bufs = [np.ones(int(s) << 18, np.float32) for s in rng.integers(1, 40, 6)]
    del bufs
print(applied, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start) / 40)
'''


def _glibc() -> bool:
    try:
        return sys.platform.startswith('linux') and bool(os.confstr('CS_GNU_LIBC_VERSION'))
    except (AttributeError, ValueError, OSError):
        return False


linux_glibc = pytest.mark.skipif(not _glibc(), reason='a setting of the GNU C library')


def run(flag: str, **env) -> tuple[bool, float]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith('MALLOC_') and k != 'GLIBC_TUNABLES'}
    out = subprocess.run([sys.executable, '-c', SCRIPT, flag], env=dict(clean, **env), capture_output=True,
                         text=True, check=True).stdout.split()
    return out[0] == 'True', float(out[1])


@linux_glibc
@pytest.mark.slow
def test_freed_memory_is_reused_instead_of_faulted_in_again():
    applied, faults_kept = run('1')
    assert applied
    default_applied, faults_default = run('0')
    assert not default_applied
    thp = Path('/sys/kernel/mm/transparent_hugepage/enabled')
    if thp.exists() and '[always]' in thp.read_text():
        assert faults_kept <= faults_default * 1.1  # huge pages everywhere: few faults either way
    else:
        assert faults_kept < faults_default / 3, (faults_kept, faults_default)


@linux_glibc
def test_malloc_settings_from_the_environment_are_left_alone():
    applied, _ = run('1', MALLOC_TRIM_THRESHOLD_='1000000')
    assert not applied
