"""Finding the samples of an input: a folder, a file, a URL or GDAL path, or a text file listing rasters.

A sample is a single raster, one sub-folder of dates (multi-temporal), a pre/post pair in two folders matched by name,
or several files in sibling source folders (``s1/`` and ``s2/``) matched by name.
"""
from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from geospatial_mm.io.folders import Listing, list_files
from geospatial_mm.io.names import match_group, token_folder_groups
from geospatial_mm.io.redaction import redact
from geospatial_mm.io.remote import is_gdal_path, remote_name
from .outputs import is_own_output

if TYPE_CHECKING:
    from .input_spec import InputSpec

LIST_SUFFIXES = ('.txt', '.list', '.lst')
_PRE_POST = re.compile(r'(?<![a-z0-9])(pre|post)(?![a-z0-9])', re.IGNORECASE)


@dataclass
class Sample:
    """One prediction.

    Attributes:
        name: the output stem.
        paths: the pipeline's path keys -> a path or a list of paths.
        primary: the raster whose size and georeference the outputs take.
        problem: set when the sample cannot be run at all (reported, not raised).
        extra: whatever a caller attaches to the sample.
    """
    name: str
    paths: dict[str, str | list[str]]
    primary: str
    problem: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def source(self) -> str:
        """What the log, the summary and the outputs' ``source`` tag name the sample by.

        Returns:
            The STAC item(s) of a sample read from STAC (``extra['shown']``), else the primary raster.
        """
        return str(self.extra.get('shown') or self.primary)


def suffix_pattern(input_type: str) -> str:
    """``-input_type`` as a file-name suffix.

    Returns:
        The suffix: 'tif' -> '.tif'; '_merged.tif' and '.tif' stay as they are.

    Raises:
        ValueError: an empty ``input_type``.
    """
    input_type = input_type.strip()
    if not input_type:
        raise ValueError('-input_type must not be empty')
    return input_type if input_type[0] in '._-' else '.' + input_type


def sample_name(filename: str, suffix: str) -> str:
    """The output stem of an input file.

    Returns:
        ``filename`` without ``suffix`` (without its extension when it does not end with ``suffix``).
    """
    return filename[:-len(suffix)] if filename.endswith(suffix) and len(filename) > len(suffix) else Path(filename).stem


Exclude = Callable[[Path], bool]


def _listing(folder: Path, suffix: str, exclude: Exclude | None, left_out: list[Path] | None) -> Listing:
    listing = list_files(folder, suffix, exclude)
    if left_out is not None:
        left_out.extend(listing.left_out)
    return listing


def _unreadable(listing: Listing, suffix: str) -> list[Sample]:
    """Entries that cannot be read (broken links, loops), as samples that fail with the reason."""
    return [Sample(sample_name(p.name, suffix), {}, str(p), problem=why) for p, why in listing.unreadable]


def find_single(folder: str | os.PathLike[str], suffix: str, path_key: str = 'img_path',
                exclude: Exclude | None = None, left_out: list[Path] | None = None) -> list[Sample]:
    """Every ``*<suffix>`` file of ``folder`` is one sample.

    ``exclude``: files that are not inputs, appended to ``left_out``; entries that cannot be read are samples with
    their ``problem``.

    Returns:
        The samples, by path.

    Raises:
        FileNotFoundError: the folder is missing or holds no such file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f'{folder}: input folder not found')
    listing = _listing(folder, suffix, exclude, left_out)
    samples = [Sample(sample_name(p.name, suffix), {path_key: str(p)}, str(p)) for p in listing.files]
    samples = sorted(samples + _unreadable(listing, suffix), key=lambda s: s.primary)
    if not samples:
        raise FileNotFoundError(f'{folder}: no input file ends with {suffix!r}')
    return samples


def find_frame_groups(folder: str | os.PathLike[str], suffix: str, num_frames: int, path_key: str = 'img_path',
                      exclude: Exclude | None = None, left_out: list[Path] | None = None) -> list[Sample]:
    """Every sub-folder of ``folder`` is one multi-temporal sample.

    Its ``*<suffix>`` files, in name order, are the dates (name them so that they sort by date, e.g. with a YYYYMMDD
    or YYYYDOY part).

    Returns:
        The samples, one per sub-folder; one without ``num_frames`` dates has its ``problem``.

    Raises:
        FileNotFoundError: the folder is missing or has no sub-folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f'{folder}: input folder not found')
    samples: list[Sample] = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith('.')):
        listing = _listing(sub, suffix, exclude, left_out)
        files = listing.files
        sample = Sample(sub.name, {path_key: [str(p) for p in files]}, str(files[0]) if files else str(sub))
        if listing.unreadable:
            sample.problem = '; '.join(why for _, why in listing.unreadable)
        elif len(files) != num_frames:
            sample.problem = (f'{sub}: expected {num_frames} dates (files ending with {suffix!r}), found {len(files)}'
                              + (f': {[p.name for p in files]}' if files else ''))
        samples.append(sample)
    if not samples:
        raise FileNotFoundError(f'{folder}: the config takes {num_frames} dates per sample, one file each: put each '
                                'sample\'s files in a sub-folder of the input folder')
    return samples


def _tokens(filename: str) -> set[str]:
    return {m.lower() for m in _PRE_POST.findall(filename)}


def pair_key(filename: str) -> str:
    """The name shared by a pre and a post image.

    Returns:
        ``filename`` with its 'pre' / 'post' tokens removed.
    """
    return _PRE_POST.sub('', filename)


def find_pairs(pre_folder: str | os.PathLike[str], post_folder: str | os.PathLike[str], suffix: str,
               path_keys: Sequence[str] = ('img_path', 'post_img_path'), exclude: Exclude | None = None,
               left_out: list[Path] | None = None) -> list[Sample]:
    """Pre images in one folder, post images in another, matched by name once 'pre'/'post' are removed.

    ``x_pre_disaster.tif`` <-> ``x_post_disaster.tif``; identical names match too. A file whose name has a 'post'
    token is never a pre image and one with a 'pre' token never a post image, so both may be in one folder (as in
    xBD's ``images/``).

    Returns:
        The pairs, and the images without a match as samples with their ``problem``.

    Raises:
        FileNotFoundError: a folder is missing, or the pre folder holds no input file.
    """
    pre_folder, post_folder = Path(pre_folder), Path(post_folder)
    for f in (pre_folder, post_folder):
        if not f.is_dir():
            raise FileNotFoundError(f'{f}: input folder not found')
    pre_listing = _listing(pre_folder, suffix, exclude, left_out)
    same = pre_folder.resolve() == post_folder.resolve()
    post_listing = pre_listing if same else _listing(post_folder, suffix, exclude, left_out)
    broken = _unreadable(pre_listing, suffix) + ([] if same else _unreadable(post_listing, suffix))
    if not any('post' not in _tokens(p.name) for p in pre_listing.files) and not broken:
        raise FileNotFoundError(f'{pre_folder}: no input file ends with {suffix!r}')
    return broken + match_pairs([(p.name, str(p)) for p in pre_listing.files],
                                [(p.name, str(p)) for p in post_listing.files], suffix, path_keys,
                                str(pre_folder), str(post_folder))


def match_pairs(pre_files: Sequence[tuple[str, str]], post_files: Sequence[tuple[str, str]], suffix: str,
                path_keys: Sequence[str], pre_where: str, post_where: str) -> list[Sample]:
    """Pre and post images matched by name once 'pre'/'post' are removed (see :func:`find_pairs`).

    Args:
        pre_files: ``(file name, location)`` of the candidate pre images (a name with a 'post' token is none).
        post_files: the same of the candidate post images (a name with a 'pre' token is none).
        suffix: the input files' suffix.
        path_keys: the loader's keys of the pre and the post image.
        pre_where: where the pre images are (named in problems).
        post_where: where the post images are.

    Returns:
        The pairs, and the images without a match as samples with their ``problem``.
    """
    pre = {pair_key(name): where for name, where in pre_files if 'post' not in _tokens(name)}
    post = {pair_key(name): where for name, where in post_files if 'pre' not in _tokens(name)}
    samples: list[Sample] = []
    for key in sorted(set(pre) | set(post)):
        name = re.sub(r'([_.-])[_.-]+', r'\1', sample_name(key, suffix)).strip('_-.') or key
        if key in pre and key in post:
            samples.append(Sample(name, {path_keys[0]: pre[key], path_keys[1]: post[key]}, pre[key]))
        elif key in pre:
            samples.append(Sample(name, {}, pre[key], problem=f'{pre[key]}: no post image matches it in {post_where}'))
        else:
            samples.append(Sample(name, {}, post[key], problem=f'{post[key]}: no pre image matches it in {pre_where}'))
    return samples


def is_raster_list(path: str) -> bool:
    """Whether ``path`` is a local text file that lists rasters.

    Returns:
        True for a local file whose name ends with one of :data:`LIST_SUFFIXES`.
    """
    return not is_gdal_path(path) and path.lower().endswith(LIST_SUFFIXES) and os.path.isfile(path)


def read_raster_list(path: str) -> list[str]:
    """The rasters that a list file names, one a line: paths, URLs (http, https, s3, gs, az) or GDAL /vsi paths.

    Blank lines and lines starting with '#' are skipped; a relative path is relative to the list's folder.

    Returns:
        The rasters, in the list's order.

    Raises:
        ValueError: the list names no raster, or one twice.
    """
    folder = os.path.dirname(os.path.abspath(path))
    entries: list[str] = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            entries.append(line if is_gdal_path(line) or os.path.isabs(line) else os.path.join(folder, line))
    if not entries:
        raise ValueError(f'{path}: the list names no raster (one path or URL a line)')
    repeated = [e for e, n in Counter(entries).items() if n > 1]
    if repeated:
        raise ValueError(f'{redact(path)}: {redact(repeated[0])} is listed {Counter(entries)[repeated[0]]} times')
    return entries


def raster_name(location: str) -> str:
    """The file name of a raster given by path, URL or GDAL path.

    Returns:
        The name, without a URL's query string.
    """
    return remote_name(location) if is_gdal_path(location) else os.path.basename(location)


def located_rasters(input_path: str) -> list[str] | None:
    """The rasters of an input given as a URL, a GDAL path or a list file; None for a local file or folder.

    Returns:
        The rasters, or None.
    """
    if is_gdal_path(input_path):
        return [input_path]
    return read_raster_list(input_path) if is_raster_list(input_path) else None


def find_located(spec: InputSpec, rasters: list[str], suffix: str, post: list[str] | None,
                 where: str, post_where: str) -> list[Sample]:
    """Samples of rasters given one by one (URLs, GDAL paths, the lines of a list file).

    Each raster is one sample, or pre and post images are matched by name into pairs.

    Returns:
        The samples.

    Raises:
        ValueError: a config that reads several files per sample (source folders, one file per date).
    """
    if spec.is_pair:
        assert post is not None  # checked by discover
        return match_pairs([(raster_name(r), r) for r in rasters], [(raster_name(r), r) for r in post], suffix,
                           spec.path_keys[:2], where, post_where)
    if spec.multi_source or (spec.num_frames > 1 and spec.stacked_frames is False):
        raise ValueError(f'{redact(where)}: a URL or a list of rasters gives one raster per sample, but this config '
                         f'reads {"several source files" if spec.multi_source else f"{spec.num_frames} dates"} per '
                         'sample: give a folder, or STAC items')
    return [Sample(sample_name(raster_name(r), suffix), {spec.path_keys[0]: r}, r) for r in rasters]


def source_token(path_key: str) -> str:
    """The folder token of a loader's path key.

    Returns:
        The token: ``'s2_path'`` -> ``'s2'``.
    """
    return path_key[:-len('_path')] if path_key.endswith('_path') and len(path_key) > 5 else path_key


def find_source_folders(folder: str | os.PathLike[str], suffix: str, path_keys: tuple[str, ...],
                        exclude: Exclude | None = None, left_out: list[Path] | None = None) -> list[Sample]:
    """Samples of several files (a loader with path keys ``s2_path``, ``s1_path``, ...) in sibling folders.

    The folders are named after the keys (``s2/``, ``s1/``, or ``s2_<x>/``, ``s1_<x>/`` pairs of folders), files
    matched by name with the folder tokens ignored (``x_s2_001.tif`` <-> ``x_s1_001.tif``). See
    :mod:`geospatial_mm.io.names`. The first key's file is the primary (its size and georeference go to the outputs).

    Returns:
        The samples; files without their partners are samples with their ``problem``.

    Raises:
        FileNotFoundError: the folder is missing or has none of the source folders.
        ValueError: two samples would write the same outputs.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f'{folder}: input folder not found')
    tokens = [source_token(k) for k in path_keys]
    key_of = dict(zip(tokens, path_keys))
    groups = token_folder_groups(folder, tokens)
    if not groups:
        raise FileNotFoundError(f'{folder}: this config reads {len(tokens)} file(s) per sample ({", ".join(path_keys)}'
                                f'): expected the sub-folders {", ".join(t + "/" for t in tokens)} (or '
                                f'{", ".join(t + "_<name>/" for t in tokens)}), found none')
    samples: list[Sample] = []
    for group, folders in sorted(groups.items()):
        for match in match_group(folders, tokens, suffix, group=group, exclude=exclude, left_out=left_out):
            paths: dict[str, str | list[str]] = {key_of[t]: str(p) for t, p in match.files.items()}
            first = paths.get(path_keys[0]) or next(iter(paths.values()), str(folder))
            primary = first if isinstance(first, str) else str(folder)  # one file per key here
            samples.append(Sample(match.name, paths if not match.problem else {}, primary, problem=match.problem))
    counts = Counter(s.name for s in samples if not s.problem)
    repeated = sorted(n for n, c in counts.items() if c > 1)
    if repeated:
        raise ValueError(f'{folder}: several samples would write the same outputs {repeated[:5]} (files of '
                         'different source-folder groups with the same name)')
    return samples


def discover(spec: InputSpec, input_path: str, input_type: str, post_input: str | None = None,
             left_out: list[Path] | None = None) -> list[Sample]:
    """The samples of ``input_path`` (a folder, or one file) for a model whose inputs ``spec`` describes.

    They are found as tools/model_inference.py finds them (see its help); ``post_input`` is the post-event folder of
    pre/post pairs. Outputs of earlier runs of tools/model_inference.py are not inputs: they are appended to
    ``left_out``.

    Returns:
        The samples.

    Raises:
        ValueError: ``post_input`` is missing for pre/post pairs or given for another input type, or ``input_type``
            is empty.
    """
    suffix = suffix_pattern(input_type)
    exclude, found = is_own_output, left_out
    input_path, post_input = os.fspath(input_path), os.fspath(post_input) if post_input else None
    if spec.is_pair and not post_input:
        raise ValueError('this config takes pre/post image pairs: give the pre-event folder as -input and the '
                         'post-event folder as --post-input')
    located = located_rasters(input_path)
    post_located = located_rasters(post_input) if post_input else None
    if located is not None or post_located is not None:
        if spec.is_pair and (located is None or post_located is None):
            raise ValueError('pre/post pairs from URLs or lists: give both -input and --post-input as a URL or a list '
                             f'file, found {redact(input_path)!r} and {redact(str(post_input))!r}')
        if post_input and not spec.is_pair:
            raise ValueError('--post-input is only for configs that take pre/post pairs (LoadGeospatialImagePair)')
        return find_located(spec, located or [], suffix, post_located, input_path, str(post_input))
    if spec.is_pair:
        if not post_input:
            raise ValueError('this config takes pre/post image pairs: give the pre-event folder as -input and the '
                             'post-event folder as --post-input')
        return find_pairs(input_path, post_input, suffix, spec.path_keys[:2], exclude, found)
    if post_input:
        raise ValueError('--post-input is only for configs that take pre/post pairs (LoadGeospatialImagePair)')
    if spec.multi_source:
        return find_source_folders(input_path, suffix, spec.path_keys, exclude, found)
    path = Path(input_path)
    if path.is_file():
        return [Sample(path.name[:-len(suffix)] if path.name.endswith(suffix) else path.stem,
                       {spec.path_keys[0]: str(path)}, str(path))]
    per_date_files = spec.num_frames > 1 and spec.stacked_frames is False
    if spec.num_frames > 1 and spec.stacked_frames is None and path.is_dir():
        per_date_files = any(p.is_dir() and not p.name.startswith('.') for p in path.iterdir())
    if per_date_files:
        return find_frame_groups(path, suffix, spec.num_frames, spec.path_keys[0], exclude, found)
    return find_single(path, suffix, spec.path_keys[0], exclude, found)
