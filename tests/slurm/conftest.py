"""The session's one-node SLURM cluster (tools/slurm/local_cluster.py) for the tests marked ``slurm``.

It starts once, at the first test that asks for it, and stops at the end of the session, whatever the tests did.
Where it cannot run at all (not root, no apt-get, an install that failed) the tests are skipped with the reason;
when the environment variable CI is set (``CI=true``) they fail instead, so that CI proves they ran.
"""
import os

import pytest
from helpers.local_slurm import LocalSlurmCluster, SlurmUnavailable, running_in_ci

CLUSTER = pytest.StashKey[str]()


@pytest.fixture(scope='session')
def slurm_cluster(request):
    cluster = LocalSlurmCluster()
    try:
        cluster.start()
    except SlurmUnavailable as exc:
        if running_in_ci():
            pytest.fail(f'CI={os.environ["CI"]}, so the SLURM tests must run, but: {exc}', pytrace=False)
        pytest.skip(f'SLURM tests skipped: {exc}')
    request.config.stash[CLUSTER] = (
        f'{cluster.version}: one node ({cluster.node}, {cluster.cpus} CPUs, {cluster.memory_mb} MiB), '
        f'partition {cluster.partition}, started in {cluster.start_seconds:.1f} s')
    try:
        yield cluster
    finally:
        cluster.stop()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    info = config.stash.get(CLUSTER, None)
    if info is not None:
        terminalreporter.write_sep('-', 'local SLURM cluster')
        terminalreporter.write_line(info)
