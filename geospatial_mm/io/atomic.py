"""Writing files atomically: a file appears under its final name only when it is complete.

Every file the package writes goes through this module. It is first written as a hidden temporary in the same folder,
``.<name>.<pid>.tmp<ext>``, and renamed onto its final name when complete (a rename within one file system is
atomic). A run that crashes or is killed leaves at most such a hidden temporary, never a file under the final name;
:func:`remove_stale_temporaries` deletes the temporaries of processes that no longer run, and :func:`atomic_path`
calls it before each write. Listings of input folders leave hidden files out, so temporaries are never inputs.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path
from typing import Iterator, Mapping, Sequence, SupportsFloat, TypeAlias

JSONValue: TypeAlias = 'str | int | float | bool | None | Sequence[JSONValue] | Mapping[str, JSONValue]'
"""A value of JSON's own types (lists, tuples and dicts of them), which ``json.dumps`` writes as it is."""
JSONLike: TypeAlias = 'str | int | float | bool | None | SupportsFloat | Sequence[JSONLike] | Mapping[str, JSONLike]'
"""What :func:`write_json_atomic` writes: a :data:`JSONValue` that may also hold numbers of other types (numpy
scalars), which are written as floats."""

_TEMPORARY = re.compile(r'^\.(?P<name>.+)\.(?P<pid>\d+)\.tmp(?P<ext>.*)$')


def temporary_path(final: str | os.PathLike[str], ext: str = '') -> Path:
    """The temporary of ``final`` for this process.

    Args:
        final: the final path.
        ext: appended to the temporary's name: it lets a writer that picks its format by the file name see the
            right one, e.g. ``'.png'``.

    Returns:
        ``.<name>.<pid>.tmp<ext>`` beside ``final``.
    """
    final = Path(final)
    return final.with_name(f'.{final.name}.{os.getpid()}.tmp{ext}')


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(final: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporaries of ``final`` left by processes that no longer run.

    Returns:
        The temporaries deleted.
    """
    final = Path(final)
    removed: list[Path] = []
    if not final.parent.is_dir():
        return removed
    for tmp in final.parent.glob(f'.{glob_escape(final.name)}.*.tmp*'):
        match = _TEMPORARY.match(tmp.name)
        if match is None or match['name'] != final.name:
            continue
        pid = int(match['pid'])
        if pid != os.getpid() and not _pid_alive(pid):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def glob_escape(name: str) -> str:
    """``name`` as a glob pattern that matches only itself.

    Returns:
        ``name`` with the glob characters ``*``, ``?`` and ``[`` escaped as ``[*]``, ``[?]`` and ``[[]``.
    """
    return re.sub(r'([*?\[])', r'[\1]', name)


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike[str], ext: str | None = None) -> Iterator[Path]:
    """A temporary path that becomes ``final`` when the block ends without an error.

    ``with atomic_path(path) as tmp:`` write ``tmp``; when the block ends without an error ``tmp`` is renamed to
    ``path``, otherwise it (and a GDAL ``.aux.xml`` side file) is deleted. ``ext`` defaults to ``path``'s suffix.

    Yields:
        The temporary to write (:func:`temporary_path`).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(final)
    tmp = temporary_path(final, final.suffix if ext is None else ext)
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + '.aux.xml').unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically.

    Returns:
        ``path``.
    """
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json_atomic(path: str | os.PathLike[str], obj: JSONLike, indent: int | None = 2) -> Path:
    """JSON (numpy scalars and other numbers as floats) written atomically.

    Returns:
        ``path``.
    """
    return write_text_atomic(path, json.dumps(obj, indent=indent, default=float))


def missing_folders(folder: str | os.PathLike[str]) -> list[Path]:
    """What creating ``folder`` would add.

    Returns:
        ``folder`` and those of its parents that do not exist, outermost first.
    """
    missing: list[Path] = []
    folder = Path(folder).absolute()
    while not folder.exists() and not folder.is_symlink() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing[::-1]


def remove_empty_folders(folders: list[Path]) -> None:
    """Remove those of ``folders`` (as :func:`missing_folders` lists them) that are still empty, innermost first."""
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:  # not empty (or gone): keep it and its parents
            return


def check_writable_folder(folder: str | os.PathLike[str], what: str = 'output folder') -> Path:
    """Create ``folder`` (and its parents) if needed and check that files can be written and renamed in it.

    Args:
        folder: the folder.
        what: what the folder is, for the error message.

    Returns:
        ``folder`` as a path.

    Raises:
        OSError: naming the folder and the problem: it cannot be created, or a file cannot be written in it.
        NotADirectoryError: ``folder`` exists and is not a folder.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(exc.errno, f'{folder}: the {what} cannot be created ({exc.strerror})') from None
    if not folder.is_dir():
        raise NotADirectoryError(f'{folder}: the {what} is not a folder')
    probe = folder / f'.geospatial_mm-write-check.{os.getpid()}'  # one per process: ranks check at once
    try:
        with atomic_path(probe) as tmp:
            tmp.write_bytes(b'')
        probe.unlink(missing_ok=True)
    except OSError as exc:
        raise OSError(exc.errno, f'{folder}: cannot write in the {what} ({exc.strerror})') from None
    return folder
