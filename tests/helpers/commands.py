"""Running the package's commands from the tests: the checkout, the virtual environment's programs, and ``run``."""
from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import subprocess
import sys
import traceback
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / 'tests'
BIN = Path(sys.executable).parent


def run(cmd, cwd=None, env=None, timeout=900, check=True):
    """Run a command of the venv, return the CompletedProcess; on failure show its output in the assertion."""
    full_env = dict(os.environ)
    full_env['PATH'] = f'{BIN}{os.pathsep}{full_env.get("PATH", "")}'
    full_env['PYTHONPATH'] = os.pathsep.join([str(TESTS), full_env.get('PYTHONPATH', '')]).rstrip(os.pathsep)
    full_env.setdefault('OMP_NUM_THREADS', '1')
    full_env.update(env or {})
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd or ROOT, env=full_env, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f'command failed with exit {proc.returncode}: {" ".join(map(str, cmd))}\n'
                             f'--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}')
    return proc


def data_root_options(root):
    """``--cfg-options`` that point every dataloader of a config at ``root``."""
    loaders = ('train_dataloader', 'val_dataloader', 'test_dataloader')
    return [f'{loader}.dataset.data_root={root}' for loader in loaders]


def run_main(script, args, check=True) -> subprocess.CompletedProcess:
    """A tool's ``main(argv)`` in this process, with its output and exit status captured as a process's would be (the
    stack is imported once per test process instead of once per run); the environment is restored afterwards (tools
    set LOCAL_RANK, and the trust variable with --trust-checkpoint). For tools whose output is their own prints:
    a tool that logs through mmengine's logger, or whose run must start from a fresh process, runs with :func:`run`."""
    argv = [str(a) for a in args]
    environ = dict(os.environ)
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = tool_main(str(script))(argv)
            except SystemExit as exc:  # argparse's errors (2), sys.exit(n)
                code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
            except Exception:  # what an uncaught exception does to a process
                traceback.print_exc()
                code = 1
    finally:
        os.environ.clear()
        os.environ.update(environ)
    proc = subprocess.CompletedProcess([Path(script).name, *argv], code or 0, out.getvalue(), err.getvalue())
    if check and proc.returncode != 0:
        raise AssertionError(f'{Path(script).name} {" ".join(argv)} failed with exit {proc.returncode}\n'
                             f'--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}')
    return proc


@cache
def tool_main(script: str):
    """``main`` of a tool script, loaded once per test process."""
    spec = importlib.util.spec_from_file_location(f'tool_{Path(script).stem}', script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main
