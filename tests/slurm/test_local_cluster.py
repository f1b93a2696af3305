"""The one-node SLURM cluster of tools/slurm/local_cluster.py: two tasks at once, job arrays, the machine's resources,
and that stopping it (its API, its command line, or the death of the process that started it) leaves nothing
running."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from helpers.local_slurm import SCRIPT, LocalSlurmCluster, local_cluster

pytestmark = pytest.mark.slurm  # each test asks for the session cluster: skipped (failed in CI) where it cannot run

# each task says it started, then waits (bounded) until every task has: only tasks that run at once all succeed
MEET = ('touch {dir}/started.$SLURM_PROCID; for i in $(seq 300); do '
        '[ $(ls {dir} | grep -c started) -ge $SLURM_NTASKS ] && '
        'echo "task $SLURM_PROCID of $SLURM_NTASKS on $(hostname) met the others" && exit 0; sleep 0.1; done; exit 1')


def test_srun_runs_two_tasks_at_once(slurm_cluster, tmp_path):
    proc = slurm_cluster.run(['srun', '-n2', '-c1', '-t', '2', 'bash', '-c', MEET.format(dir=tmp_path)], timeout=120)
    lines = sorted(proc.stdout.splitlines())
    assert len(lines) == 2, proc.stdout + proc.stderr
    assert lines[0].startswith('task 0 of 2 on ') and lines[1].startswith('task 1 of 2 on '), lines


def test_job_array_runs_every_task(slurm_cluster, tmp_path):
    job = slurm_cluster.run(['sbatch', '--parsable', '--array=0-3', '-n1', '-t', '2', '-o', tmp_path / 'task_%a.out',
                             '--wrap', 'echo "array task $SLURM_ARRAY_TASK_ID of job $SLURM_ARRAY_JOB_ID"'],
                            timeout=60).stdout.strip()
    deadline = time.monotonic() + 120
    while slurm_cluster.run(['squeue', '-h', '-j', job], timeout=30).stdout.strip():
        assert time.monotonic() < deadline, f'array job {job} did not end within 120 s'
        time.sleep(0.3)
    outputs = [(tmp_path / f'task_{i}.out').read_text().split() for i in range(4)]
    assert [words[2] for words in outputs] == ['0', '1', '2', '3'], outputs
    assert len({words[-1] for words in outputs}) == 1  # one array job


def test_the_node_has_this_machines_cpus_and_memory_and_reports_its_version(slurm_cluster):
    cpus, memory_mb = os.cpu_count(), os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') // 2 ** 20
    proc = slurm_cluster.run(['sinfo', '-h', '-N', '-o', '%N %c %m %t %P'], timeout=30)
    node, node_cpus, node_memory, state, partition = proc.stdout.split()
    assert (node, int(node_cpus), int(node_memory)) == (slurm_cluster.node, cpus, memory_mb)
    assert state in ('idle', 'mix', 'alloc') and partition == f'{slurm_cluster.partition}*'
    assert slurm_cluster.version.startswith('slurm')
    assert slurm_cluster.run(['scontrol', '--version'], timeout=30).stdout.strip() == slurm_cluster.version
    config = slurm_cluster.run(['scontrol', 'show', 'config'], timeout=30).stdout
    assert str(slurm_cluster.root) in config  # state, spool and logs in the cluster's folder


def _daemon_pids(root):
    """Processes whose command line or SLURM_CONF refers to the cluster folder ``root``."""
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        pid = int(entry)
        if local_cluster._alive(pid) and (any(str(root) in arg for arg in local_cluster._cmdline(pid)) or
                                          str(root) in local_cluster._environ_of(pid).get('SLURM_CONF', '')):
            found.append(pid)
    return found


def test_stop_cancels_running_jobs_and_leaves_no_process(slurm_cluster, tmp_path):
    """A second cluster beside the session's: a job still running when it stops is cancelled, nothing of the
    cluster runs afterwards, and its folder is gone."""
    cluster = LocalSlurmCluster(log=lambda message: None).start()
    try:
        root = cluster.root
        job = subprocess.Popen(['srun', '-n1', '-t', '2', 'sleep', '300'], env=cluster.environ(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while not cluster.step_pids() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert cluster.step_pids(), 'the job never started'
        assert set(cluster.pids) == {'munged', 'slurmctld', 'slurmd'}
    finally:
        cluster.stop()
    job.communicate(timeout=60)
    assert _daemon_pids(root) == []
    assert not root.exists()
    assert slurm_cluster.node_state() in ('idle', 'mix')  # the session's cluster is untouched


def test_command_line_start_status_stop(slurm_cluster, tmp_path):
    state = tmp_path / 'cluster.json'
    tool = [sys.executable, SCRIPT]
    started = subprocess.run([*tool, 'start', '--state', state], capture_output=True, text=True, timeout=300)
    assert started.returncode == 0, started.stderr
    record = json.loads(state.read_text())
    try:
        assert started.stdout.strip() == f'export SLURM_CONF={record["conf"]}'
        status = subprocess.run([*tool, 'status', '--state', state], capture_output=True, text=True, timeout=60)
        assert status.returncode == 0, status.stdout + status.stderr
        assert record['version'] in status.stdout and ' idle ' in status.stdout
        env = {k: v for k, v in os.environ.items() if not k.startswith('SLURM_')}
        hosts = subprocess.run(['srun', '-n2', '-t', '1', 'hostname'], env={**env, 'SLURM_CONF': record['conf']},
                               capture_output=True, text=True, timeout=120)
        assert hosts.returncode == 0 and len(hosts.stdout.split()) == 2, hosts.stdout + hosts.stderr
    finally:
        stopped = subprocess.run([*tool, 'stop', '--state', state], capture_output=True, text=True, timeout=120)
    assert stopped.returncode == 0, stopped.stderr
    assert not state.exists() and _daemon_pids(record['root']) == []
    status = subprocess.run([*tool, 'status', '--state', state], capture_output=True, text=True, timeout=60)
    assert status.returncode != 0 and 'no local SLURM cluster recorded' in status.stderr


def test_command_line_run_starts_runs_and_stops(slurm_cluster, tmp_path):
    proc = subprocess.run([sys.executable, SCRIPT, 'run', '--dir', tmp_path / 'cluster', '--',
                           'bash', '-c', 'echo "conf=$SLURM_CONF"; srun -n2 -t 1 hostname; exit 3'],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 3, proc.stderr  # the command's exit status
    lines = proc.stdout.splitlines()
    assert lines[0] == f'conf={tmp_path / "cluster" / "slurm.conf"}' and len(lines) == 3, proc.stdout
    assert 'slurm-wlm' in proc.stderr  # the version it ran
    assert _daemon_pids(tmp_path / 'cluster') == []
    assert (tmp_path / 'cluster' / 'log' / 'slurmctld.log').is_file()  # a folder given by the caller is kept


def test_a_killed_owner_leaves_no_process_behind(slurm_cluster, tmp_path):
    """SIGKILL of the process that started a cluster, while a batch job runs: the daemons (told by the kernel) and
    the watchdog (which ends the job) stop everything."""
    owner = tmp_path / 'owner.py'
    owner.write_text(
        'import subprocess, sys, time\n'
        f'sys.path.insert(0, {str(SCRIPT.parent)!r})\n'
        'import local_cluster\n'
        'cluster = local_cluster.LocalSlurmCluster(log=lambda message: None).start()\n'
        "cluster.run(['sbatch', '-n1', '-t', '2', '-o', '/dev/null', '--wrap', 'sleep 300'])\n"
        'for _ in range(300):\n'
        '    if cluster.step_pids():\n'
        '        break\n'
        '    time.sleep(0.2)\n'
        'print(cluster.root, flush=True)\n'
        'time.sleep(300)\n')
    proc = subprocess.Popen([sys.executable, owner], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        root = proc.stdout.readline().strip()
        assert root, proc.stderr.read()
        assert len(_daemon_pids(root)) >= 5  # munged, slurmctld, slurmd, the watchdog, the job's step and sleep
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    deadline = time.monotonic() + 120
    while (_daemon_pids(root) or os.path.exists(root)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _daemon_pids(root) == [], [local_cluster._cmdline(pid) for pid in _daemon_pids(root)]
    assert not os.path.exists(root)
