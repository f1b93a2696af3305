"""The one-node SLURM cluster of tools/slurm/local_cluster.py, loaded from its file for the tests (tools/ holds
command lines, not a package)."""
from __future__ import annotations

import importlib.util
import os
import sys

from helpers.commands import ROOT

SCRIPT = ROOT / 'tools' / 'slurm' / 'local_cluster.py'


def _load():
    name = 'local_cluster'
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, SCRIPT)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


local_cluster = _load()
LocalSlurmCluster = local_cluster.LocalSlurmCluster
SlurmUnavailable = local_cluster.SlurmUnavailable


def running_in_ci() -> bool:
    """Whether the environment variable CI says this is a CI run (``true``, ``1``, ...; not empty, ``0``,
    ``false`` or ``no``)."""
    return os.environ.get('CI', '').strip().lower() not in ('', '0', 'false', 'no')
