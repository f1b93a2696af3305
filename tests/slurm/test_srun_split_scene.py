"""One raster shared by the tasks of an ``srun -n 2`` on the local SLURM cluster (--split-scene): each task predicts
its part as a shard of SLURM_PROCID of SLURM_NTASKS, with no process group; the later one joins, and the outputs are
those of one process."""
import numpy as np
import pytest
import rasterio
from helpers.commands import BIN, TESTS
from helpers.model_inference import TOOL, scene, tool
from helpers.models import TINY, make_checkpoint

pytestmark = pytest.mark.slurm


def test_srun_tasks_share_one_raster_and_write_what_one_process_writes(slurm_cluster, tmp_path):
    ckpt = make_checkpoint(TINY, tmp_path / 'tiny.pth')
    path = scene(tmp_path / 'in' / 'wide.tif', 700, 300, nodata_rows=2, seed=11)
    args = ['-config', TINY, '-ckpt', ckpt, '-input', path, '--tile', 32, '--stride', 16, '--batch-size', 4,
            '--probabilities', '--cog']
    proc = slurm_cluster.run(['srun', '-N1', '-n2', '-c1', '-t', '10', '--label', BIN / 'python', TOOL, *args,
                              '-output', tmp_path / 'out', '--split-scene', '--no-progress'],
                             env={'PYTHONPATH': str(TESTS), 'OMP_NUM_THREADS': '1'}, timeout=600)
    log = proc.stdout + proc.stderr
    assert '0: ' in log and 'shard 0/2 takes 0 and its part of 1 shared raster(s)' in log, log[-3000:]
    assert 'shard 1/2 takes 0 and its part of 1 shared raster(s)' in log, log[-3000:]
    # one task joins; the other found the later part missing, or the parts joined when it came to the lock
    assert log.count('joined -> ') == 1, log[-3000:]
    assert 'waiting for part(s)' in log or 'joined by another process' in log, log[-3000:]
    tool(*args, '-output', tmp_path / 'one')
    for name in ('wide_pred.tif', 'wide_prob.tif'):
        with rasterio.open(tmp_path / 'one' / name) as a, rasterio.open(tmp_path / 'out' / name) as b:
            assert a.profile == b.profile and a.tags() == b.tags() and a.overviews(1) == b.overviews(1)
            np.testing.assert_array_equal(a.read(), b.read())
    assert not list((tmp_path / 'out').glob('.*'))  # no part, lock or temporary file left
