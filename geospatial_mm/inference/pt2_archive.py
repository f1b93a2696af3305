"""What a ``.pt2`` archive may hold, checked before torch reads it.

``torch.export.load`` (torch 2.14) executes code stored in an archive in these places, each of which
tests/inference/test_pt2_archive.py fills with a payload:

* ``data/sample_inputs/<model>.pt``: ``torch.load(weights_only=True)``, and on failure ``weights_only=False``
  (``torch/_export/serde/serialize.py``, ``deserialize_torch_artifact``);
* a weight or constant that its JSON config (``data/weights/<model>_weights_config.json``,
  ``data/constants/<model>_constants_config.json``) marks ``use_pickle``: ``torch.load(weights_only=False)``
  (``torch/export/pt2_archive/_package.py``, ``_load_state_dict`` and ``_load_constants``);
* custom objects (``data/constants/custom_obj_*``: TorchScript's unpickler, which builds registered C++ classes) and
  opaque objects (``data/constants/opaque_obj_*``: ``pickle.loads``);
* the legacy layouts ``data/weights/<model>.pt`` and ``data/constants/<model>.pt`` (``deserialize_torch_artifact``,
  with the same fallback), and the torch 2.7 zip layout (``serialized_*.pt`` at the root), which
  ``torch.export.load`` reads when the archive cannot be read as a current one;
* ``data/aotinductor/``: compiled shared libraries that torch loads and runs;
* ``models/<model>.json``: every symbolic-shape expression (``expr_str``) goes through ``sympy.sympify``, which
  evaluates Python; the program's ``guards_code`` is compiled and run by ``ExportedProgram.module()``.

:func:`check_pt2_archive` reads the zip's directory and JSON with the standard library and accepts only the layout
that ``torch.export.save`` writes for a plain program: raw (unpickled) weights and tensor constants, empty or
weights-only sample inputs (their content is checked by the torch runtime, which loads them with
``weights_only=True`` and never falls back), extra text files, no guards code, and symbolic expressions made only of
symbols, numbers, arithmetic and comparisons and a fixed list of sympy functions. Anything else is refused, naming the
file and the member, with the checkpoints' opt-in; a member this check does not know (a later torch's layout) is
refused too, so a new place that unpickles cannot slip through unreviewed. Files of tools/export.py pass it.
"""
from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from geospatial_mm.compat.trust import UntrustedFileError, refusal
from .exported_format import ExportedModelError

ARCHIVE_FORMAT = 'pt2'
ARCHIVE_VERSIONS = ('0',)  # the archive versions whose layout this check knows (torch 2.9 - 2.14 write '0')

# the members of an archive, relative to its root folder
_KNOWN = [re.compile(pattern) for pattern in (
    r'archive_format|archive_version|byteorder|\.data/version|\.data/serialization_id',  # records of the archive
    r'models/[A-Za-z0-9_.-]+\.json',  # a serialized program
    r'data/weights/[A-Za-z0-9_.-]+_weights_config\.json', r'data/weights/weight_\d+',  # its raw weights
    r'data/constants/[A-Za-z0-9_.-]+_constants_config\.json', r'data/constants/tensor_\d+',  # raw tensor constants
    r'data/sample_inputs/[A-Za-z0-9_.-]+\.pt',  # sample inputs (checked by the torch runtime)
    r'extra/[^/]+',  # extra files, read as text
)]
# members whose presence alone means code would run, with what
_DANGEROUS = {
    'data/aotinductor/': 'compiled native code (AOTInductor shared libraries), which torch loads and runs',
    'data/executorch/': 'an ExecuTorch program',
    'data/constants/custom_obj_': 'a custom object, unpickled by TorchScript\'s unpickler',
    'data/constants/opaque_obj_': 'an opaque object, unpickled with pickle.loads',
}
# sympy names that symbolic-shape expressions of exported programs use (torch's deserializer adds its own functions)
# (sympy's printed form, srepr, names the classes: Mul(Integer(2), Symbol('s0', integer=True)))
_SYMPY_NAMES = frozenset((
    'Symbol', 'Integer', 'Rational', 'Float', 'Add', 'Mul', 'Max', 'Min', 'Abs', 'Eq', 'Ne', 'Lt', 'Le', 'Gt', 'Ge',
    'Equality', 'Unequality', 'StrictLessThan', 'LessThan', 'StrictGreaterThan', 'GreaterThan', 'And', 'Or', 'Not',
    'oo', 'zoo', 'nan', 'true', 'false', 'True', 'False', 'precision', 'floor', 'ceiling', 'Mod', 'FloorDiv',
    'ModularIndexing', 'Where',
    'PythonMod', 'CleanDiv', 'CeilToInt', 'FloorToInt', 'CeilDiv', 'LShift', 'RShift',
    'IsNonOverlappingAndDenseIndicator', 'TruncToFloat', 'TruncToInt', 'RoundToInt', 'RoundDecimal', 'ToFloat',
    'Identity', 'integer', 'positive', 'negative', 'nonnegative', 'nonpositive', 'real', 'finite'))
_SYMBOL = r'[a-z]+\d+'  # s0, s77, u3, zuf0: the shape symbols torch names
_NUMBER = r'-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?'
_TOKEN = re.compile(rf"\s+|(?P<number>{_NUMBER[2:]})|'(?P<string>{_SYMBOL}|{_NUMBER})'"
                    r"|(?P<name>[A-Za-z][A-Za-z0-9_]*)|(?P<op>//|==|!=|<=|>=|[-+*/%(),=<>&|~])")
MAX_EXPRESSION = 2000  # characters of one symbolic expression


class UntrustedModelError(UntrustedFileError):
    """A model file whose loading would execute code stored in it (and it is not trusted)."""


def check_pt2_archive(path: str | Path) -> None:
    """Refuse ``path`` unless torch can load it without executing anything stored in it (see the module's notes).

    Raises:
        UntrustedModelError: a member that would be unpickled, compiled code, guards code or an expression beyond the
            safe grammar, or a layout this check does not know; the message names the file and the member.
        ExportedModelError: not a readable zip archive.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            _check_members(archive, str(path))
    except (zipfile.BadZipFile, OSError) as exc:
        raise ExportedModelError(f'{path}: not a readable .pt2 archive ({exc})') from exc


def untrusted_member(path: str, member: str, why: str) -> UntrustedModelError:
    """The refusal of ``member`` of the archive ``path``: ``why`` says what would run.

    Returns:
        The error, for the caller to raise.
    """
    return UntrustedModelError(refusal(f'{path} (member {member})', why))


def _check_members(archive: zipfile.ZipFile, path: str) -> None:
    names = archive.namelist()
    folded = [name.lower() for name in names]
    if len(set(folded)) != len(folded):  # torch's zip reader matches names ignoring case and takes the first
        twice = next(name for name, low in zip(names, folded) if folded.count(low) > 1)
        raise untrusted_member(path, twice, 'the archive holds this name twice (ignoring case): torch could read '
                               'another member than the one checked')
    roots = {name.split('/', 1)[0] for name in names}
    if len(roots) != 1 or any('/' not in name for name in names):
        raise untrusted_member(path, names[0] if names else '-', 'not the layout of an archive of '
                               'torch.export.save (one root folder); torch would read it as a torch 2.7 archive, whose '
                               'members it unpickles')
    root = roots.pop()
    files = {name[len(root) + 1:]: name for name in names if not name.endswith('/')}
    version = _text(archive, files, 'archive_version', path).strip()
    if _text(archive, files, 'archive_format', path).strip() != ARCHIVE_FORMAT or version not in ARCHIVE_VERSIONS:
        raise untrusted_member(path, files['archive_version'], f'archive version {version!r}: this check knows the '
                               f'layout of versions {list(ARCHIVE_VERSIONS)} only')
    for relative, member in files.items():
        for prefix, what in _DANGEROUS.items():
            if relative.startswith(prefix):
                raise untrusted_member(path, member, f'it holds {what}')
        if not any(pattern.fullmatch(relative) for pattern in _KNOWN):
            raise untrusted_member(path, member, 'a member this check does not know (a legacy or newer layout, '
                                   'whose content torch may unpickle)')
    for relative, member in files.items():
        if relative.endswith('_weights_config.json') or relative.endswith('_constants_config.json'):
            _check_payload_config(_json(archive, member, path), relative, member, files, path)
        elif relative.startswith('models/'):
            _check_program(_json(archive, member, path), member, path)


def _text(archive: zipfile.ZipFile, files: Mapping[str, str], relative: str, path: str) -> str:
    if relative not in files:
        raise untrusted_member(path, relative, f'no {relative} record: not an archive of torch.export.save')
    return archive.read(files[relative]).decode('utf-8', errors='replace')


def _json(archive: zipfile.ZipFile, member: str, path: str) -> Any:  # JSON of any shape, checked by the caller
    try:
        return json.loads(archive.read(member))
    except (ValueError, UnicodeDecodeError) as exc:
        raise untrusted_member(path, member, f'not valid JSON ({exc})') from exc


def _check_payload_config(config: Any, relative: str, member: str, files: Mapping[str, str], path: str) -> None:
    """Every weight or constant is a raw tensor record that exists; nothing is pickled."""
    entries = config.get('config') if isinstance(config, dict) else None
    if not isinstance(entries, dict):
        raise untrusted_member(path, member, 'not a payload config of torch.export.save')
    folder, prefix = ('data/weights/', 'weight_') if 'weights_config' in relative else ('data/constants/', 'tensor_')
    for fqn, entry in entries.items():
        if not isinstance(entry, dict):
            raise untrusted_member(path, member, f'entry {fqn!r} is not a payload description')
        if entry.get('use_pickle'):
            raise untrusted_member(path, member, f'{fqn!r} is stored pickled (use_pickle), which torch unpickles with '
                          'weights_only=False')
        name = entry.get('path_name')
        if not isinstance(name, str) or not re.fullmatch(rf'{prefix}\d+', name) or folder + name not in files:
            raise untrusted_member(path, member, f'{fqn!r} refers to {name!r}, not a raw tensor record of the archive')


def _check_program(program: Any, member: str, path: str) -> None:
    """No guards code; every symbolic expression within the safe grammar."""
    if not isinstance(program, dict):
        raise untrusted_member(path, member, 'not a serialized exported program')
    if program.get('guards_code'):
        raise untrusted_member(path, member, 'it holds guards_code, Python source that ExportedProgram.module() '
                               'compiles and runs')
    for expression in _expressions(program):
        problem = expression_problem(expression)
        if problem:
            raise untrusted_member(path, member, f'the symbolic expression {expression[:80]!r} {problem} (torch '
                                   'evaluates these with sympy.sympify, which runs Python)')


def _expressions(node: Any) -> Iterator[str]:
    """Every ``expr_str`` value in a serialized program."""
    stack: list[Any] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == 'expr_str':
                    yield value if isinstance(value, str) else repr(value)
                else:
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)


def expression_problem(text: str) -> str | None:
    """Why a symbolic expression is outside the grammar torch writes for shapes.

    The grammar: symbols (``s0``, ``Symbol('s0', integer=True)``), numbers, ``+ - * / // %``, comparisons, ``& | ~`` and
    the sympy functions and classes of the deserializer and of sympy's printed form (``Mul(Integer(2), Symbol('s0'))``,
    ``Float('1.5', precision=53)``). No attribute access, subscripts, other strings or names, and no powers (whose
    evaluation time has no bound).

    Returns:
        Why, or None when the expression is within the grammar.
    """
    if len(text) > MAX_EXPRESSION:
        return f'is longer than {MAX_EXPRESSION} characters'
    if re.search(r'\*\s*\*', text):
        return 'raises to a power'
    position = 0
    for match in _TOKEN.finditer(text):
        if match.start() != position:
            break
        position = match.end()
        name = match.group('name')
        if name is not None and name not in _SYMPY_NAMES and not re.fullmatch(_SYMBOL, name):
            return f'names {name!r}, which is neither a shape symbol nor a known sympy function'
    if position != len(text):
        return f'has {text[position:position + 10]!r} at character {position}, outside the grammar of shape ' \
               'expressions'
    return None
