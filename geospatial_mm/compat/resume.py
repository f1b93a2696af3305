"""``--resume`` without a usable ``last_checkpoint``.

mmengine's auto-resume reads only the work dir's ``last_checkpoint`` file; without it (a kill between the checkpoint
and that file, a copied work dir) training silently starts over. It resumes from the newest complete checkpoint
instead, or stops with an error when none is complete.
"""
from __future__ import annotations

import logging
import os
import os.path as osp
import re

_NUMBERED_CHECKPOINT = re.compile(r'^(iter|epoch)_(\d+)\.pth$')


def checkpoint_complete(path: str) -> bool:
    """Whether ``path`` is a whole checkpoint file: torch saves a zip archive whose directory is written last, so a
    file cut short by a kill has none."""
    import zipfile
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith('data.pkl') for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def find_resumable_checkpoint(work_dir: str) -> str | None:
    """The checkpoint that ``--resume`` (without a file) continues from.

    mmengine reads only the work dir's ``last_checkpoint`` file, and without it (a kill between writing the
    checkpoint and that file, a copied work dir) starts training over from the first iteration. Here: the file named
    by ``last_checkpoint`` when it is complete, else the newest complete ``iter_N.pth`` / ``epoch_N.pth`` of the work
    dir (said in the log). Checkpoints that are all incomplete are an error; a work dir without any checkpoint starts
    from the beginning, with a warning.
    """
    from mmengine.logging import print_log
    record = osp.join(work_dir, 'last_checkpoint')
    recorded = None
    if osp.isfile(record):
        with open(record) as f:
            recorded = f.read().strip() or None
        if recorded and checkpoint_complete(recorded):
            return recorded
    numbered = []
    if osp.isdir(work_dir):
        for name in os.listdir(work_dir):
            match = _NUMBERED_CHECKPOINT.match(name)
            if match:
                path = osp.join(work_dir, name)
                numbered.append((int(match.group(2)), os.path.getmtime(path), path))
    for _, _, path in sorted(numbered, reverse=True):
        if checkpoint_complete(path):
            why = (f'{record} names {recorded}, which is missing or incomplete' if recorded else
                   f'{work_dir} has no last_checkpoint file')
            print_log(f'--resume: {why}; resuming from the newest complete checkpoint {path}', logger='current',
                      level=logging.WARNING)
            return path
    if numbered or recorded:
        found = [p for _, _, p in sorted(numbered, reverse=True)] or [recorded]
        raise RuntimeError(f'{work_dir}: --resume found no complete checkpoint to continue from (incomplete or '
                           f'missing: {", ".join(found[:5])}). Give one with --resume CKPT, or remove them to start '
                           'over.')
    print_log(f'--resume: {work_dir} holds no checkpoint yet; training starts from the beginning', logger='current',
              level=logging.WARNING)
    return None


def patch_find_latest_checkpoint(module) -> None:
    """Make mmengine's auto-resume (``resume=True`` without ``load_from``) use :func:`find_resumable_checkpoint`:
    ``module`` is ``mmengine.runner.checkpoint``, which defines ``find_latest_checkpoint``, or
    ``mmengine.runner.runner``, which imports it."""
    module.find_latest_checkpoint = find_resumable_checkpoint
