"""Trusting a file whose loading could execute code stored in it: one opt-in, one refusal message.

Checkpoints (:mod:`.checkpoints`) and exported ``.pt2`` programs (:mod:`geospatial_mm.inference.pt2_archive`) load
without executing anything stored in them unless the user says they trust the file, with
``GEOSPATIAL_MM_TRUST_CHECKPOINTS=1`` or a tool's ``--trust-checkpoint``; a refusal names the file, what in it would
have run, and how to opt in. Standard library only: the light prediction path imports it without torch.
"""
from __future__ import annotations

import os

from geospatial_mm.errors import GeospatialMMError

TRUST_ENV = 'GEOSPATIAL_MM_TRUST_CHECKPOINTS'  # trust checkpoints and model files that need more than weights
TRUST_TOOLS = 'tools/train.py, tools/test.py, tools/export.py or tools/model_inference.py'


class UntrustedFileError(GeospatialMMError, RuntimeError):
    """Loading a checkpoint or model file would execute code stored in it, and the file is not trusted."""


def files_trusted() -> bool:
    """Whether the user trusts checkpoints and model files that need more than weights to load."""
    return os.environ.get(TRUST_ENV, '').lower() in ('1', 'true', 'yes')


def refusal(name: str, why: str) -> str:
    """The message of a refused file: ``name`` (the file, and where it came from), ``why`` (what would run)."""
    return (f'{name}: refused to load: {why}. Loading it could execute code stored in the file. If you trust where it '
            f'comes from, set {TRUST_ENV}=1 or pass --trust-checkpoint to {TRUST_TOOLS}.')
