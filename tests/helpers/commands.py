"""Running the package's commands from the tests: the checkout, the virtual environment's programs, and ``run``."""
from __future__ import annotations

import os
import subprocess
import sys
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
