"""Listing the files of a folder that a tool or dataset reads.

Hidden files (and so every temporary file of :mod:`geospatial_mm.io.atomic`) are left out, entries that cannot be read
(a link to nothing, a loop of links) are returned with the reason, never dropped silently, and a caller can leave out
files it knows are not inputs.
"""
from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


@dataclass
class Listing:
    """The entries of a folder whose names end with a suffix."""
    files: list[Path] = field(default_factory=list)  # regular files (or links to one), sorted by name
    unreadable: list[tuple[Path, str]] = field(default_factory=list)  # (entry, why it cannot be read)
    left_out: list[Path] = field(default_factory=list)  # files the caller's ``exclude`` turned away


def link_problem(path: str | os.PathLike[str]) -> str | None:
    """Why the entry ``path`` cannot be read as a file.

    Returns:
        The reason, naming the entry (a symbolic link whose target does not exist, a loop of links, a folder or a
        link to one, another error of the file system), or None when it can be read.
    """
    path = Path(path)
    try:
        os.stat(path)
    except OSError as exc:
        target = os.readlink(path) if path.is_symlink() else None
        if exc.errno == errno.ELOOP:
            return f'{path}: a loop of symbolic links ({path} -> {target})'
        if target is not None and exc.errno == errno.ENOENT:
            return f'{path}: a broken symbolic link: its target {target} does not exist'
        return f'{path}: cannot be read ({exc.strerror})'
    if path.is_dir():
        return f'{path}: a folder, not a file' + (f' (a link to {os.readlink(path)})' if path.is_symlink() else '')
    return None


def list_files(folder: str | os.PathLike[str], suffix: str,
               exclude: Callable[[Path], bool] | None = None) -> Listing:
    """The entries of ``folder`` whose names end with ``suffix``, hidden ones (``.name``) aside.

    Args:
        folder: the folder.
        suffix: the end of the names to list (e.g. ``'.tif'``).
        exclude: called on each readable file; True leaves it out (into ``left_out``).

    Returns:
        The readable files, the entries that cannot be read with the reason, and the files ``exclude`` left out.
    """
    listing = Listing()
    for entry in sorted(Path(folder).iterdir()):
        if entry.name.startswith('.') or not entry.name.endswith(suffix):
            continue
        problem = link_problem(entry)
        if problem is not None:
            if not (entry.is_dir() and not entry.is_symlink()):  # a plain sub-folder named like a file is not an entry
                listing.unreadable.append((entry, problem))
            continue
        if exclude is not None and exclude(entry):
            listing.left_out.append(entry)
            continue
        listing.files.append(entry)
    return listing
