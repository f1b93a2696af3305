"""Matching the files of one sample across sibling folders, one folder per source, by name.

The layout of SEN12MS, DFC2020 and of unlabeled Sentinel-1/Sentinel-2 folder pairs::

    root/s1/x_s1_001.tif    root/s2/x_s2_001.tif      (or root/s1/x_001.tif and root/s2/x_001.tif)
    scene/s1_7/ROIs1158_spring_s1_7_p30.tif   scene/s2_7/...   scene/lc_7/...        (SEN12MS)
    ROIs0000_validation/s1_validation/ROIs0000_validation_s1_0_p0.tif   .../s2_validation/...   .../dfc_validation/...

Each source has a *token* (``s1``, ``s2``, ``lc``, ``dfc``). Its folder is named after the token, alone or followed by
``_<group>`` (``s2``, ``s2_7``, ``s2_validation``); folders of the same group belong together. Within a group, files
match when their names are equal once every token standing as a word of its own (between ``_``, ``.``, ``-`` or the
ends of the name) is removed: ``x_s1_001.tif`` and ``x_s2_001.tif`` both become ``x_001.tif``, and ``ROIs1158``
keeps its ``s1`` (it is part of a longer word).
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .folders import list_files

_SEPARATORS = '_.-'


@functools.lru_cache(maxsize=64)
def _token_regex(tokens: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = '|'.join(re.escape(t) for t in sorted(tokens, key=len, reverse=True))
    return re.compile(rf'(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])', re.IGNORECASE)


def strip_tokens(name: str, tokens: Sequence[str]) -> str:
    """``name`` without the tokens that stand as words of their own, separators collapsed.

    ``strip_tokens('ROIs1158_spring_s2_7_p30.tif', ['s1', 's2'])`` -> ``'ROIs1158_spring_7_p30.tif'``.

    Returns:
        The name without its tokens, or ``name`` itself when nothing else would be left.
    """
    out = _token_regex(tuple(tokens)).sub('', name)
    out = re.sub(rf'([{_SEPARATORS}])[{_SEPARATORS}]+', r'\1', out)
    return out.strip(_SEPARATORS) or name


def folder_token(name: str, tokens: Sequence[str]) -> tuple[str, str] | None:
    """The token and group of a source folder named ``name``.

    Returns:
        ``(token, group)`` (``'s2_7'`` -> ``('s2', '7')``, ``'s2'`` -> ``('s2', '')``), or None for a folder of no
        token.
    """
    for token in sorted(tokens, key=len, reverse=True):
        if name == token:
            return token, ''
        if name.startswith(token + '_') and len(name) > len(token) + 1:
            return token, name[len(token) + 1:]
    return None


def token_folder_groups(root: str | Path, tokens: Sequence[str]) -> dict[str, dict[str, Path]]:
    """The source folders directly under ``root`` (folders of other tokens are not looked at).

    Returns:
        ``{group: {token: folder}}``.

    Raises:
        FileNotFoundError: ``root`` is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f'{root}: folder not found')
    groups: dict[str, dict[str, Path]] = {}
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith('.')):
        found = folder_token(sub.name, tokens)
        if found:
            token, group = found
            groups.setdefault(group, {})[token] = sub
    return groups


@dataclass
class Match:
    """Files of one sample.

    Attributes:
        name: the primary file's name without tokens and suffix.
        files: token -> path.
        problem: why the sample is incomplete (then ``files`` holds the file the problem is about and may lack the
            primary), or None.
    """
    name: str
    files: dict[str, Path]
    problem: str | None = None


def match_group(folders: dict[str, Path], tokens: Sequence[str], suffix: str, group: str = '',
                exclude: Callable[[Path], bool] | None = None, left_out: list[Path] | None = None) -> list[Match]:
    """Match the ``*<suffix>`` files of one group's ``folders`` (token -> folder) by name.

    ``tokens[0]`` is the primary source: every one of its files is a sample. A sample missing the file of another
    token gets a ``problem``, as does a file of another source that no primary file matches, a file whose name
    matches another's of the same folder, and an entry that cannot be read (a broken link). ``exclude`` leaves out
    files that are not inputs (appended to ``left_out``).

    Returns:
        One match per sample, and one with a ``problem`` for each file or entry that is not part of a sample.
    """
    listings = {token: list_files(folder, suffix, exclude) for token, folder in folders.items()}
    if left_out is not None:
        left_out.extend(p for listing in listings.values() for p in listing.left_out)
    unreadable = [Match(_stem(strip_tokens(p.name, tokens), suffix), {token: p}, why)
                  for token, listing in listings.items() for p, why in listing.unreadable]
    return unreadable + _match_files({t: listing.files for t, listing in listings.items()}, folders, tokens, suffix,
                                     group)


def _match_files(files: dict[str, list[Path]], folders: dict[str, Path], tokens: Sequence[str], suffix: str,
                 group: str) -> list[Match]:
    primary = tokens[0]
    expected = primary + (f'_{group}' if group else '')
    if primary not in folders:
        orphans = [(token, p) for token, paths in files.items() for p in paths]
        if not orphans:
            return [Match(group or primary, {}, f'{", ".join(map(str, folders.values()))}: no {expected} folder '
                                                'beside it')]
        return [Match(_stem(strip_tokens(p.name, tokens), suffix), {token: p},
                      f'{p}: no {expected} folder beside {p.parent}') for token, p in orphans]
    by_token: dict[str, dict[str, Path]] = {}
    matches: list[Match] = []
    for token in tokens:
        if token not in folders:
            continue
        keyed: dict[str, Path] = {}
        for p in files[token]:
            key = strip_tokens(p.name, tokens)
            if key in keyed:
                matches.append(Match(_stem(key, suffix), {token: p}, f'{p}: its name matches {keyed[key].name} of '
                                     f'the same folder once the tokens {list(tokens)} are removed'))
                continue
            keyed[key] = p
        by_token[token] = keyed
    for key, path in sorted(by_token[primary].items()):
        sample = {primary: path}
        problem = None
        for token in tokens[1:]:
            partner = by_token.get(token, {}).get(key)
            if partner is not None:
                sample[token] = partner
            elif problem is None:
                where = folders.get(token)
                problem = (f'{path}: no {token} file matches it in {where}' if where is not None else
                           f'{path}: no {token} folder for it (expected {token}' + (f'_{group}' if group else '') +
                           f' beside {path.parent})')
        matches.append(Match(_stem(key, suffix), sample, problem))
    for token in tokens[1:]:
        for key, path in sorted(by_token.get(token, {}).items()):
            if key not in by_token[primary]:
                matches.append(Match(_stem(key, suffix), {token: path}, f'{path}: no {primary} file matches it in '
                                     f'{folders[primary]}'))
    return matches


def _stem(key: str, suffix: str) -> str:
    stem = key[:-len(suffix)] if key.endswith(suffix) and len(key) > len(suffix) else Path(key).stem
    return stem.strip(_SEPARATORS) or key
