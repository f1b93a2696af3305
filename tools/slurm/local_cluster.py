#!/usr/bin/env python
"""A one-node SLURM cluster on this machine, for the tests, the docs and CI.

Debian's ``slurm-wlm`` and ``munge`` are installed with apt-get where they are missing (as root only). munged,
slurmctld and slurmd then run as root for one node with this machine's CPU count and memory, with everything they
use (slurm.conf, munge key and socket, state and spool folders, logs, pid files) in one temporary folder, listening
on free ports of 127.0.0.1 only. Clients find the cluster through ``SLURM_CONF``.

As a module (with tools/slurm on ``sys.path``)::

    from local_cluster import LocalSlurmCluster
    with LocalSlurmCluster() as cluster:           # installs if needed, starts, waits until the node is idle
        cluster.run(['srun', '-n2', 'hostname'])    # a command with SLURM_CONF set
        env = cluster.environ()                     # os.environ plus what a client needs

``start`` raises :class:`SlurmUnavailable` (saying why) where the cluster cannot run at all: not root, no apt-get,
the install failed. The daemons are stopped by ``stop``, at the end of a ``with`` block, at interpreter exit and on
SIGTERM/SIGHUP; jobs still running are cancelled first. If the process that started them is killed outright, the
kernel sends them SIGTERM (``PR_SET_PDEATHSIG``) and a watchdog process kills the job steps left behind and removes
the folder.

As a command line::

    eval "$(python tools/slurm/local_cluster.py start)"      # leave it running; prints 'export SLURM_CONF=...'
    python tools/slurm/local_cluster.py status               # exit 0 while it runs
    python tools/slurm/local_cluster.py stop
    python tools/slurm/local_cluster.py run -- srun -n2 hostname   # start, run the command, stop; its exit status

``start`` records the cluster in a state file (``--state``, by default ``local-slurm.json`` in the system's
temporary folder) that ``status`` and ``stop`` read.
"""
from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

PACKAGES = ('slurm-wlm', 'munge')
# program -> the Debian package that provides it
PROGRAMS = {'munged': 'munge', 'slurmctld': 'slurm-wlm', 'slurmd': 'slurm-wlm', 'sinfo': 'slurm-wlm',
            'scontrol': 'slurm-wlm', 'srun': 'slurm-wlm', 'sbatch': 'slurm-wlm', 'squeue': 'slurm-wlm',
            'scancel': 'slurm-wlm'}
SBIN_PATH = os.pathsep.join(['/usr/local/sbin', '/usr/sbin', '/sbin'])  # the daemons live here on Debian
DEFAULT_STATE = Path(tempfile.gettempdir()) / 'local-slurm.json'
DAEMONS = ('slurmd', 'slurmctld', 'munged')  # stopping order


class SlurmUnavailable(RuntimeError):
    """The local cluster cannot run on this machine (not root, no apt-get, an install that failed); the message says
    why."""


def _tail(text: str, lines: int = 15) -> str:
    return '\n'.join(text.strip().splitlines()[-lines:])


def find_program(name: str) -> str | None:
    """Path of ``name`` on PATH or in the sbin folders (where Debian puts the daemons), or None."""
    return shutil.which(name) or shutil.which(name, path=SBIN_PATH)


def missing_programs() -> list[str]:
    """The programs of :data:`PROGRAMS` that are not installed."""
    return [name for name in PROGRAMS if find_program(name) is None]


def require_root() -> None:
    """Raise :class:`SlurmUnavailable` unless this process runs as root."""
    if os.geteuid() != 0:
        raise SlurmUnavailable(
            f'the local SLURM cluster needs root (it installs packages with apt-get and runs munged, slurmctld and '
            f'slurmd with SlurmUser=root); this process runs as uid {os.geteuid()}')


@contextlib.contextmanager
def _no_service_starts():
    """Keep package scripts from starting system-wide munge/slurm services during the install (Debian's
    policy-rc.d protocol: exit status 101 forbids every start); an existing policy is left as it is."""
    policy = Path('/usr/sbin/policy-rc.d')
    if policy.exists():
        yield
        return
    policy.write_text('#!/bin/sh\n# written for the duration of an apt-get install of slurm-wlm and munge\nexit 101\n')
    policy.chmod(0o755)
    try:
        yield
    finally:
        policy.unlink(missing_ok=True)


def install(timeout: float = 900, log: Callable[[str], None] = print) -> None:
    """Install Debian's slurm-wlm and munge with apt-get (``apt-get update`` first, non-interactive).

    Raises :class:`SlurmUnavailable` when not root, without apt-get, or when apt-get fails (its output's end in the
    message)."""
    require_root()
    apt_get = shutil.which('apt-get')
    if apt_get is None:
        raise SlurmUnavailable(f'{", ".join(missing_programs())} not installed and there is no apt-get to install '
                               f'{" and ".join(PACKAGES)} with (not a Debian-like system)')
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    commands = [[apt_get, 'update', '-q'],
                [apt_get, 'install', '-y', '-q', '--no-install-recommends', *PACKAGES]]
    with _no_service_starts():
        for cmd in commands:
            log(f'local SLURM: {" ".join(cmd)}')
            try:
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                                      stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired as exc:
                raise SlurmUnavailable(f'{" ".join(cmd)} did not finish within {timeout:.0f} s') from exc
            if proc.returncode != 0:
                raise SlurmUnavailable(f'{" ".join(cmd)} failed with exit status {proc.returncode}, so '
                                       f'{" and ".join(PACKAGES)} cannot be installed:\n'
                                       f'{_tail(proc.stdout + proc.stderr)}')
    still_missing = missing_programs()
    if still_missing:
        raise SlurmUnavailable(f'apt-get installed {" and ".join(PACKAGES)} but {still_missing} are still not found '
                               f'on PATH or in {SBIN_PATH}')


def ensure_installed(allow_install: bool = True, log: Callable[[str], None] = print) -> None:
    """Install slurm-wlm and munge where a program of theirs is missing (see :func:`install`)."""
    missing = missing_programs()
    if not missing:
        return
    if not allow_install:
        raise SlurmUnavailable(f'{missing} not installed (packages {" and ".join(PACKAGES)})')
    log(f'local SLURM: {missing} not installed; installing {" and ".join(PACKAGES)}')
    install(log=log)


def free_ports(count: int, host: str = '127.0.0.1') -> list[int]:
    """``count`` distinct TCP ports that are free on ``host`` now (held open together while they are chosen)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def machine_resources() -> tuple[int, int]:
    """This machine's CPU count and memory in MiB, from the OS (what slurmd itself measures)."""
    cpus = os.cpu_count() or 1
    memory_mb = os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') // 2 ** 20
    return cpus, int(memory_mb)


def _host_name() -> str:
    """This machine's short host name (slurmctld runs only where SlurmctldHost names it)."""
    return socket.gethostname().split('.')[0]


def _node_name() -> str:
    """The node's name: this machine's short host name where it resolves (jobs get it in SLURM_NODELIST, and
    mmengine's slurm launcher connects to it), else ``localhost``."""
    name = _host_name()
    try:
        socket.gethostbyname(name)
    except OSError:
        return 'localhost'
    return name


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f'/proc/{pid}/cmdline').read_bytes().decode(errors='replace').split('\0')
    except OSError:
        return []


def _environ_of(pid: int) -> dict[str, str]:
    try:
        raw = Path(f'/proc/{pid}/environ').read_bytes().decode(errors='replace')
    except OSError:
        return {}
    return dict(item.split('=', 1) for item in raw.split('\0') if '=' in item)


def _with_descendants(pids: Iterable[int]) -> list[int]:
    """``pids`` and every process below them."""
    children: dict[int, list[int]] = {}
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / 'stat').read_text().rsplit(')', 1)[-1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], list(pids)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.append(pid)
            todo.extend(children.get(pid, []))
    return found


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        stat = Path(f'/proc/{pid}/stat').read_text()
    except OSError:
        return False
    return stat.rsplit(')', 1)[-1].split()[0] != 'Z'


class LocalSlurmCluster:
    """One SLURM node on this machine, in a temporary folder (see the module's doc).

    ``start()`` / ``stop()``, or a ``with`` block. ``env`` is what a client needs (``SLURM_CONF``); ``environ()`` is
    ``os.environ`` plus it; ``run(cmd)`` runs a command with it. ``detach=True`` (the command line's ``start``)
    leaves the daemons running when this process ends; otherwise they are stopped at exit, on SIGTERM/SIGHUP, and
    receive SIGTERM if this process dies without stopping them.
    """

    def __init__(self, root: str | os.PathLike | None = None, *, cpus: int | None = None,
                 memory_mb: int | None = None, partition: str = 'local', max_array_size: int = 1001,
                 start_timeout: float = 90, allow_install: bool = True, keep_files: bool = False,
                 detach: bool = False, log: Callable[[str], None] = print) -> None:
        machine_cpus, machine_memory = machine_resources()
        self.cpus = cpus or machine_cpus
        self.memory_mb = memory_mb or machine_memory
        self.partition = partition
        self.max_array_size = max_array_size
        self.start_timeout = start_timeout
        self.allow_install = allow_install
        self.keep_files = keep_files
        self.detach = detach
        self.log = log
        self._given_root = Path(root) if root is not None else None
        self.root: Path | None = None
        self.node = _node_name()
        self.pids: dict[str, int] = {}
        self.ports: dict[str, int] = {}
        self.version: str | None = None
        self.start_seconds: float | None = None  # from the daemons' start to an idle node
        self.install_seconds: float | None = None  # checking for (and installing) the packages
        self._processes: dict[str, subprocess.Popen] = {}
        self._previous_handlers: dict[int, object] = {}
        self._watchdog: subprocess.Popen | None = None
        self._lock = threading.RLock()  # a signal may arrive while stop() runs

    # paths -----------------------------------------------------------------------------------------------------
    @property
    def conf(self) -> Path:
        return self._path('slurm.conf')

    @property
    def munge_socket(self) -> Path:
        return self._path('munge', 'munge.socket')

    @property
    def log_dir(self) -> Path:
        return self._path('log')

    def _path(self, *parts: str) -> Path:
        if self.root is None:
            raise RuntimeError('the local SLURM cluster has no folder yet: call start() first')
        return self.root.joinpath(*parts)

    # client side -----------------------------------------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        """What a client command needs: ``SLURM_CONF``."""
        return {'SLURM_CONF': str(self.conf)}

    def environ(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """``os.environ`` without the variables of any SLURM job this process runs in, plus :attr:`env` (and
        ``extra``), with the sbin folders on PATH."""
        env = {k: v for k, v in os.environ.items() if not k.startswith('SLURM_')}
        env.update(self.env)
        env['PATH'] = os.pathsep.join(p for p in (env.get('PATH', ''), SBIN_PATH) if p)
        env.update(extra or {})
        return env

    def run(self, cmd: Sequence[str | os.PathLike], timeout: float = 120, check: bool = True,
            env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
        """Run ``cmd`` as a client of this cluster (its output captured as text); with ``check``, a failure raises
        an error with the command and its output."""
        cmd = [str(c) for c in cmd]
        proc = subprocess.run(cmd, env=self.environ(env), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, **kwargs)
        if check and proc.returncode != 0:
            raise RuntimeError(f'{" ".join(cmd)} failed with exit status {proc.returncode} on the local SLURM '
                               f'cluster ({self.conf}):\n--- stdout ---\n{_tail(proc.stdout, 40)}\n'
                               f'--- stderr ---\n{_tail(proc.stderr, 40)}')
        return proc

    def node_state(self) -> str | None:
        """The node's state as ``sinfo`` shows it (``idle``, ``mix``, ``alloc``, ``down*`` ...), or None when
        sinfo cannot reach slurmctld."""
        proc = self.run(['sinfo', '-h', '-N', '-n', self.node, '-o', '%t'], timeout=20, check=False)
        state = proc.stdout.strip()
        return state if proc.returncode == 0 and state else None

    def jobs(self) -> list[str]:
        """The ids of the cluster's jobs that are pending or running (``squeue``)."""
        proc = self.run(['squeue', '-h', '-o', '%i'], timeout=20, check=False)
        return proc.stdout.split() if proc.returncode == 0 else []

    # life cycle ------------------------------------------------------------------------------------------------
    def __enter__(self) -> LocalSlurmCluster:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> LocalSlurmCluster:
        """Install where needed, start munged, slurmctld and slurmd, and wait until ``sinfo`` shows the node idle.

        Raises :class:`SlurmUnavailable` where the cluster cannot run at all, ``RuntimeError`` (with the daemons'
        log ends) when a daemon fails; nothing is left running either way."""
        if self.pids:
            raise RuntimeError(f'the local SLURM cluster in {self.root} is already started')
        require_root()
        installing = time.monotonic()
        ensure_installed(self.allow_install, log=self.log)
        self.install_seconds = time.monotonic() - installing
        started = time.monotonic()
        if self._given_root is not None:
            self._given_root.mkdir(parents=True, exist_ok=True)
            self.root = self._given_root
        else:
            self.root = Path(tempfile.mkdtemp(prefix='local-slurm-'))
        if not self.detach:
            atexit.register(self.stop)
            self._install_signal_handlers()
        try:
            self._write_files()
            if not self.detach:
                self._start_watchdog()
            self._start_munged()
            self._spawn('slurmctld', [find_program('slurmctld'), '-D', '-i', '-f', str(self.conf)])
            self._wait_for(lambda: self.node_state() is not None, 'slurmctld to answer sinfo')
            self._spawn('slurmd', [find_program('slurmd'), '-D', '-f', str(self.conf), '-N', self.node])
            self._wait_for(lambda: self.node_state() == 'idle', f'node {self.node} to be idle')
            self.version = self.run(['sinfo', '--version'], timeout=20).stdout.strip()
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - started
        self.log(f'local SLURM: {self.version} running in {self.root} (node {self.node}, {self.cpus} CPUs, '
                 f'{self.memory_mb} MiB, partition {self.partition}, slurmctld port {self.ports["slurmctld"]}), '
                 f'started in {self.start_seconds:.1f} s')
        return self

    def _write_files(self) -> None:
        for sub in ('munge', 'state', 'spool', 'log', 'run'):
            self._path(sub).mkdir(mode=0o700, exist_ok=True)
        self.root.chmod(0o700)
        key = self._path('munge', 'munge.key')
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self.ports = dict(zip(('slurmctld', 'slurmd'), free_ports(2)))
        self.conf.write_text(self.slurm_conf())
        self.conf.chmod(0o644)

    def slurm_conf(self) -> str:
        """The cluster's slurm.conf."""
        root = self.root
        return '\n'.join([
            '# A one-node cluster on this machine (tools/slurm/local_cluster.py)',
            f'ClusterName=local{os.getpid()}',
            f'SlurmctldHost={_host_name()}(127.0.0.1)',
            f'SlurmctldPort={self.ports["slurmctld"]}',
            f'SlurmdPort={self.ports["slurmd"]}',
            'SlurmUser=root',
            'SlurmdUser=root',
            'AuthType=auth/munge',
            'CredType=cred/munge',
            f'AuthInfo=socket={self.munge_socket}',
            f'StateSaveLocation={root / "state"}',
            f'SlurmdSpoolDir={root / "spool"}',
            f'SlurmctldPidFile={root / "run" / "slurmctld.pid"}',
            f'SlurmdPidFile={root / "run" / "slurmd.pid"}',
            f'SlurmctldLogFile={root / "log" / "slurmctld.log"}',
            f'SlurmdLogFile={root / "log" / "slurmd.log"}',
            'SlurmctldDebug=info',
            'SlurmdDebug=info',
            'ProctrackType=proctrack/linuxproc',
            'TaskPlugin=task/none',
            'JobAcctGatherType=jobacct_gather/none',
            'AccountingStorageType=accounting_storage/none',
            'JobCompType=jobcomp/none',
            'MpiDefault=none',
            'SwitchType=switch/none',
            'SchedulerType=sched/backfill',
            'SelectType=select/cons_tres',
            'SelectTypeParameters=CR_CPU',
            f'MaxArraySize={self.max_array_size}',
            'ReturnToService=2',
            'SlurmdParameters=config_overrides',
            'CommunicationParameters=NoCtldInAddrAny,NoInAddrAny',  # listen on 127.0.0.1 (above), not on all
            'InactiveLimit=0',
            'KillWait=5',
            'MinJobAge=300',
            'SlurmdTimeout=60',
            'SlurmctldTimeout=60',
            'Waittime=0',
            f'NodeName={self.node} NodeHostname={_host_name()} NodeAddr=127.0.0.1 '
            f'CPUs={self.cpus} RealMemory={self.memory_mb} State=UNKNOWN',
            f'PartitionName={self.partition} Nodes={self.node} Default=YES MaxTime=INFINITE State=UP',
            '',
        ])

    def _spawn(self, name: str, cmd: list[str]) -> None:
        log_file = open(self.log_dir / f'{name}.out', 'ab')
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                                    cwd=self.root, start_new_session=True, env=self._daemon_env(),
                                    preexec_fn=None if self.detach else _parent_death_signal())
        finally:
            log_file.close()
        self._processes[name] = proc
        self.pids[name] = proc.pid
        if self._watchdog is not None:
            self._state_file.write_text(json.dumps(self.state()))

    @property
    def _state_file(self) -> Path:
        """What the watchdog reads (see :func:`_watchdog`)."""
        return self._path('cluster.json')

    def _start_watchdog(self) -> None:
        """A process that stops the cluster if this one dies without stopping it (see :func:`_watchdog`)."""
        with open(self.log_dir / 'watchdog.out', 'ab') as log_file:
            self._watchdog = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), '_watchdog', str(self.root)], stdin=subprocess.PIPE,
                stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True, env=self._daemon_env())
        self._state_file.write_text(json.dumps(self.state()))

    def _stop_watchdog(self) -> None:
        if self._watchdog is None:
            return
        if self.root is not None:
            self._state_file.unlink(missing_ok=True)  # nothing left for it to do
        with contextlib.suppress(OSError):
            self._watchdog.stdin.close()
        try:
            self._watchdog.wait(30)
        except subprocess.TimeoutExpired:
            self._watchdog.kill()
            self._watchdog.wait(5)
        self._watchdog = None

    def _daemon_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith('SLURM_')}
        env['SLURM_CONF'] = str(self.conf)
        env['PATH'] = os.pathsep.join(p for p in (env.get('PATH', ''), SBIN_PATH) if p)
        return env

    def _start_munged(self) -> None:
        munge = self._path('munge')
        self._spawn('munged', [find_program('munged'), '--foreground', '--force',
                               f'--key-file={munge / "munge.key"}', f'--socket={self.munge_socket}',
                               f'--pid-file={self._path("run", "munged.pid")}',
                               f'--log-file={self.log_dir / "munged.log"}', f'--seed-file={munge / "munged.seed"}'])
        self._wait_for(lambda: self.munge_socket.is_socket(), f'munged to create {self.munge_socket}')

    def _wait_for(self, ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            for name, proc in self._processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(f'{name} exited with status {proc.returncode} while waiting for {what}\n'
                                       f'{self.log_report()}')
            if ready():
                return
            time.sleep(0.3)
        raise RuntimeError(f'timed out after {self.start_timeout:.0f} s waiting for {what}\n{self.log_report()}')

    def log_report(self, lines: int = 12) -> str:
        """The last lines of each daemon's logs."""
        parts = []
        if self.root is None or not self.log_dir.is_dir():
            return ''
        for path in sorted(self.log_dir.iterdir()):
            text = path.read_text(errors='replace')
            if text.strip():
                parts.append(f'--- {path} ---\n{_tail(text, lines)}')
        return '\n'.join(parts)

    def stop(self, cancel_jobs: bool = True) -> None:
        """Cancel the cluster's jobs (unless ``cancel_jobs`` is False), stop slurmd, slurmctld and munged (SIGTERM,
        then SIGKILL), kill any job step left behind with its processes, and remove the folder (unless
        ``keep_files`` or a folder given by the caller). Idempotent."""
        with self._lock:
            if self.pids:
                if cancel_jobs:
                    self._cancel_jobs()
                for name in DAEMONS:
                    pid = self.pids.get(name)
                    if pid is not None:
                        self._terminate(name, pid)
                self._end_orphaned_steps()
                self.pids.clear()
                self._processes.clear()
            self._stop_watchdog()
            self._restore_signal_handlers()
            with contextlib.suppress(ValueError):
                atexit.unregister(self.stop)
            if self.root is not None and not self.keep_files and self._given_root is None:
                shutil.rmtree(self.root, ignore_errors=True)

    def _cancel_jobs(self, timeout: float = 30) -> None:
        """Cancel every job while slurmctld runs, and wait (bounded) until they have ended; the steps that
        outlive this are killed by :meth:`_end_orphaned_steps`."""
        if 'slurmctld' not in self.pids or not _alive(self.pids['slurmctld']) or self.root is None:
            return
        try:
            if not self.jobs():
                return
            self.run(['scancel', '--full', '-p', self.partition], timeout=20, check=False)
            deadline = time.monotonic() + timeout
            while self.jobs() and time.monotonic() < deadline:
                time.sleep(0.5)
        except (subprocess.SubprocessError, OSError) as exc:
            self.log(f'local SLURM: cancelling the jobs failed ({exc}); their steps are killed instead')

    def _owns(self, name: str, pid: int) -> bool:
        """Whether ``pid`` is still this cluster's ``name`` (not a reused pid)."""
        cmd = _cmdline(pid)
        marker = str(self.munge_socket) if name == 'munged' else str(self.conf)
        return bool(cmd) and Path(cmd[0]).name == name and any(marker in arg for arg in cmd)

    def _terminate(self, name: str, pid: int, timeout: float = 15) -> None:
        proc = self._processes.get(name)
        if not self._owns(name, pid):
            if proc is not None:
                proc.poll()  # reap it
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                return
            if proc is None and not _alive(pid):
                return
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)

    def _end_orphaned_steps(self, timeout: float = 10) -> None:
        """Kill the job steps (slurmstepd and the processes of their jobs) of this cluster that outlived slurmd:
        slurmstepd keeps its job running when slurmd stops, and jobs are only cancelled while slurmctld runs."""
        steps = self.step_pids()
        for pid in _with_descendants(steps):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while any(_alive(pid) for pid in steps) and time.monotonic() < deadline:
            time.sleep(0.1)

    def step_pids(self) -> list[int]:
        """The slurmstepd processes of this cluster."""
        if self.root is None:
            return []
        found = []
        for entry in Path('/proc').iterdir():
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            cmd = _cmdline(pid)
            if cmd and cmd[0].startswith('slurmstepd') and _environ_of(pid).get('SLURM_CONF') == str(self.conf):
                found.append(pid)
        return found

    # signals ---------------------------------------------------------------------------------------------------
    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGHUP):
            self._previous_handlers[sig] = signal.signal(sig, self._on_signal)

    def _restore_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, handler in self._previous_handlers.items():
            if signal.getsignal(sig) == self._on_signal:
                signal.signal(sig, handler)
        self._previous_handlers.clear()

    def _on_signal(self, signum, frame) -> None:
        previous = self._previous_handlers.get(signum, signal.SIG_DFL)
        self.stop()
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    # records for other processes ------------------------------------------------------------------------------
    def state(self) -> dict:
        """What another process needs to query or stop this cluster (:meth:`from_state`)."""
        return dict(root=str(self.root), remove_root=self._given_root is None and not self.keep_files,
                    conf=str(self.conf), node=self.node, partition=self.partition, pids=self.pids, ports=self.ports,
                    version=self.version, cpus=self.cpus, memory_mb=self.memory_mb)

    @classmethod
    def from_state(cls, state: dict) -> LocalSlurmCluster:
        """The cluster that :meth:`state` describes, to query or stop it from another process (the command line's
        ``status`` and ``stop``, the watchdog)."""
        cluster = cls(None if state['remove_root'] else state['root'], cpus=state['cpus'],
                      memory_mb=state['memory_mb'], partition=state['partition'], detach=True)
        cluster.root = Path(state['root'])
        cluster.node = state['node']
        cluster.pids = {name: int(pid) for name, pid in state['pids'].items()}
        cluster.ports = state['ports']
        cluster.version = state['version']
        return cluster

    def running(self) -> dict[str, bool]:
        """Whether each daemon still runs."""
        return {name: self._owns(name, pid) and _alive(pid) for name, pid in self.pids.items()}


def _parent_death_signal() -> Callable[[], None]:
    """A function for a child to run before exec: receive SIGTERM when the thread that started it dies (Linux
    prctl PR_SET_PDEATHSIG), so that a killed test run leaves no daemon behind. The C function is looked up here, in
    the parent, so that the child only calls it."""
    import ctypes
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    return lambda: prctl(1, signal.SIGTERM, 0, 0, 0)  # 1: PR_SET_PDEATHSIG


def _watchdog(root: Path) -> int:
    """Run beside a cluster that is not detached, in a session of its own: wait until the process that started
    the cluster closes the pipe on this one's stdin (it does so after stopping the cluster) or dies (killed with
    SIGKILL, say), then stop whatever of the cluster is left from the record it keeps in ``root/cluster.json``
    (nothing, after a normal stop, which removes the record first)."""
    sys.stdin.buffer.read()
    record = root / 'cluster.json'
    if not record.is_file():
        return 0
    cluster = LocalSlurmCluster.from_state(json.loads(record.read_text()))
    cluster.log = _stderr
    _stderr(f'local SLURM: the process that started the cluster in {root} ended without stopping it; stopping it')
    started = time.monotonic()
    cluster.stop(cancel_jobs=False)  # the daemons already had SIGTERM from the kernel: no slurmctld to ask
    _stderr(f'local SLURM: stopped in {time.monotonic() - started:.1f} s')
    return 0


# command line ------------------------------------------------------------------------------------------------------
def _read_state(path: Path) -> dict:
    if not path.is_file():
        raise SystemExit(f'no local SLURM cluster recorded in {path} (start one with: {sys.argv[0]} start)')
    return json.loads(path.read_text())


def _start(args) -> int:
    if args.state.exists():
        cluster = LocalSlurmCluster.from_state(_read_state(args.state))
        if any(cluster.running().values()):
            print(f'a local SLURM cluster recorded in {args.state} is running; stop it first', file=sys.stderr)
            return 1
        args.state.unlink()
    cluster = LocalSlurmCluster(args.dir, detach=True, start_timeout=args.timeout, log=_stderr)
    cluster.start()
    args.state.write_text(json.dumps(cluster.state(), indent=2) + '\n')
    print(f'export SLURM_CONF={cluster.conf}')
    return 0


def _stop(args) -> int:
    state = _read_state(args.state)
    cluster = LocalSlurmCluster.from_state(state)
    daemons = dict(cluster.pids)
    cluster.stop()
    args.state.unlink()
    left = {name: pid for name, pid in daemons.items() if cluster._owns(name, pid) and _alive(pid)}
    if left:
        _stderr(f'local SLURM: {left} still run after stopping the cluster in {state["root"]}')
        return 1
    _stderr(f'local SLURM cluster in {state["root"]} stopped')
    return 0


def _status(args) -> int:
    state = _read_state(args.state)
    cluster = LocalSlurmCluster.from_state(state)
    running = cluster.running()
    print(f'{state["version"]} in {state["root"]}')
    print(f'export SLURM_CONF={state["conf"]}')
    for name, alive in running.items():
        print(f'{name:10s} pid {state["pids"][name]:>7}  {"running" if alive else "not running"}')
    if all(running.values()):
        print(cluster.run(['sinfo'], timeout=20, check=False).stdout.rstrip())
        return 0
    return 1


def _run(args) -> int:
    with LocalSlurmCluster(args.dir, start_timeout=args.timeout, log=_stderr) as cluster:
        try:
            # the command ends with this process (SIGTERM), as the cluster does
            return subprocess.run(args.command, env=cluster.environ(), preexec_fn=_parent_death_signal()).returncode
        except OSError as exc:
            _stderr(f'local SLURM: cannot run {args.command[0]!r}: {exc}')
            return 127


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Iterable[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ['_watchdog']:
        return _watchdog(Path(argv[1]))
    command = argv[argv.index('--') + 1:] if '--' in argv else []
    argv = argv[:argv.index('--')] if '--' in argv else argv
    parser = argparse.ArgumentParser(
        description='A one-node SLURM cluster on this machine (root; Debian packages slurm-wlm and munge)',
        usage='%(prog)s {start,stop,status} [options] | %(prog)s run [options] -- CMD [ARG ...]')
    parser.add_argument('action', choices=['start', 'stop', 'status', 'run'],
                        help='start: leave a cluster running; stop, status: of the cluster that start recorded; '
                             'run: start a cluster, run CMD with SLURM_CONF set, stop it, exit with CMD\'s status')
    parser.add_argument('--dir', type=Path, help='folder for the configuration, state and logs (default: a new '
                                                  'temporary folder, removed at stop)')
    parser.add_argument('--state', type=Path, default=DEFAULT_STATE,
                        help=f'where start records the cluster for status and stop (default {DEFAULT_STATE})')
    parser.add_argument('--timeout', type=float, default=90, help='seconds to wait for each daemon (default 90)')
    args = parser.parse_args(argv)
    if args.action == 'run' and not command:
        parser.error('run needs a command after --')
    if args.action != 'run' and command:
        parser.error(f'{args.action} takes no command')
    args.command = command
    try:
        return {'start': _start, 'stop': _stop, 'status': _status, 'run': _run}[args.action](args)
    except SlurmUnavailable as exc:
        _stderr(f'local SLURM cluster unavailable: {exc}')
        return 2


if __name__ == '__main__':
    sys.exit(main())
