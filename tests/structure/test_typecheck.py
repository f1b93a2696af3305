"""make typecheck (run by make test and make test-fast after make lint): mypy with the settings of pyproject.toml passes
on the checkout, and the same settings fail on a planted type error in a checked package. In the checked packages,
ruff's docstring rules (pydocstyle) hold and every public function's docstring has the Returns:, Yields: and Raises:
sections for what it returns, yields and raises; elsewhere neither is asked for yet."""
import ast
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# the checked packages (io, inference, export, apis)
CHECKED = tomllib.loads((ROOT / 'pyproject.toml').read_text())['tool']['mypy']['files']
TIMEOUT = 300  # a cold mypy cache reads torch's types (about 40 s on one core); a warm one takes seconds

# a return of the wrong type, and a function without annotations
PLANTED_TYPE_ERRORS = '''"""A planted module."""


def name(count: int) -> str:
    """The count as a name.

    Returns:
        The name.
    """
    return count


def untyped(value):
    """Its argument.

    Returns:
        ``value``.
    """
    return value
'''
PLANTED_TYPE_CODES = ('[return-value]', '[no-untyped-def]')
# a public function and a public class without a docstring, and a summary that runs over two lines
PLANTED_DOCSTRINGS = '''"""A planted module."""


def undocumented(count: int) -> int:
    return count


class Undocumented:
    pass


def long_summary(count: int) -> int:
    """Twice the count, which this summary says
    over two lines.

    Returns:
        Twice the count.
    """
    return 2 * count
'''
PLANTED_DOC_CODES = ('D103', 'D101', 'D205')
# documented functions without the sections for what they return, yield and raise, and what needs none
PLANTED_SECTIONS = '''"""A planted module."""
from typing import Iterator


def no_returns(count: int) -> int:
    """Twice the count."""
    return 2 * count


def no_yields(count: int) -> Iterator[int]:
    """The numbers up to the count.

    Returns:
        Nothing: it yields.
    """
    yield from range(count)


def no_raises(count: int) -> None:
    """Check the count.

    Raises:
        TypeError: never.
    """
    if count < 0:
        raise ValueError(f'{count} < 0')


def _private(count: int) -> int:
    """Needs no sections."""
    return count


class Public:
    """A class."""

    @property
    def size(self) -> int:
        """A property, documented as an attribute."""
        return 1

    def method(self) -> int:
        """A method without Returns."""
        return 2

    def __len__(self) -> int:
        return 3
'''
PLANTED_SECTION_PROBLEMS = ['no_returns: no Returns: section', 'no_yields: no Yields: section',
                            'no_raises: Raises: does not name ValueError', 'Public.method: no Returns: section']
# the sections check does what pydoclint's DOC201, DOC402 and DOC501 do, which ruff has only in its preview mode (and
# preview changes ruff's output for every rule)
SECTION = re.compile(r'^(Args|Arguments|Attributes|Returns|Yields|Raises|Note|Notes|Example|Examples):\s*$')


def sections(doc: str) -> dict[str, str]:
    """The Google-style sections of a docstring: ``{name: text}``."""
    found: dict[str, str] = {}
    name = None
    for line in doc.splitlines():
        match = SECTION.match(line)
        if match:
            name = match[1]
            found[name] = ''
        elif name is not None:
            found[name] += line + '\n'
    return found


def _own_nodes(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.AST]:
    """The nodes of a function's body, those of nested functions, classes and lambdas aside."""
    nodes: list[ast.AST] = []
    stack: list[ast.AST] = list(function.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        nodes.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return nodes


def _function_problems(function: ast.FunctionDef | ast.AsyncFunctionDef, qualname: str) -> list[str]:
    doc = ast.get_docstring(function)
    if doc is None:  # ruff's D rules report it
        return []
    found = sections(doc)
    nodes = _own_nodes(function)
    problems = []
    decorators = {ast.unparse(d) for d in function.decorator_list}
    annotation = ast.unparse(function.returns) if function.returns is not None else ''
    if any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in nodes):
        if 'Yields' not in found and annotation not in ('Iterator[None]', 'Generator[None, None, None]'):
            problems.append(f'{qualname}: no Yields: section')
    elif 'property' not in decorators and any(
            isinstance(n, ast.Return) and n.value is not None
            and not (isinstance(n.value, ast.Constant) and n.value.value is None) for n in nodes):
        if 'Returns' not in found:
            problems.append(f'{qualname}: no Returns: section')
    for node in nodes:
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            name = exc.attr if isinstance(exc, ast.Attribute) else ast.unparse(exc)
            if not name.lstrip('_')[:1].isupper():
                # a stored or caught exception raised again (``raise self._error``), or one a function builds
                # (``raise untrusted_member(...)``): its class is not known here, so a Raises: section is asked for,
                # not its name
                if 'Raises' not in found:
                    problems.append(f'{qualname}: no Raises: section for {name}')
                continue
            if not re.search(rf'^\s*{re.escape(name)}\b', found.get('Raises', ''), re.MULTILINE):
                problems.append(f'{qualname}: Raises: does not name {name}')
    return sorted(set(problems), key=problems.index)


def section_problems(text: str) -> list[str]:
    """``function: what is missing`` for each public function or method (of a public class) whose docstring lacks
    a Returns:, Yields: or Raises: section for what it returns (a value), yields or raises; a property is documented
    as an attribute and needs no Returns:."""
    problems: list[str] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef) and not child.name.startswith('_'):
                visit(child, f'{prefix}{child.name}.')
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) and not child.name.startswith('_'):
                problems.extend(_function_problems(child, prefix + child.name))
    visit(ast.parse(text), '')
    return problems


def mypy(*args, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / 'mypy'), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=TIMEOUT)


def ruff(*args, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / 'ruff'), 'check', '--no-cache', *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=TIMEOUT)


def planted_tree(root: Path, files: dict[str, str]) -> Path:
    """A copy of the project's settings with a package of the same name holding ``files`` (path -> text) and the
    checked packages, as make typecheck finds them."""
    shutil.copy(ROOT / 'pyproject.toml', root / 'pyproject.toml')
    for checked in ('geospatial_mm', *CHECKED):
        package = Path(checked)
        for folder in (package, *package.parents[:-1]):
            (root / folder).mkdir(parents=True, exist_ok=True)
            (root / folder / '__init__.py').write_text('"""A planted package."""\n')
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def test_the_checkout_passes_make_typecheck():
    proc = mypy()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_a_planted_type_error_fails_with_the_projects_settings(tmp_path):
    root = planted_tree(tmp_path, {'geospatial_mm/io/planted.py': PLANTED_TYPE_ERRORS})
    proc = mypy(cwd=root)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    for code in PLANTED_TYPE_CODES:
        assert 'geospatial_mm/io/planted.py' in proc.stdout and code in proc.stdout, proc.stdout


def test_modules_outside_the_checked_packages_are_read_but_not_checked(tmp_path):
    """A checked module may import from the rest of the package, whose own findings are not reported; a wrong use
    of what it imports is."""
    uses = ('"""Uses the rest of the package."""\nfrom geospatial_mm.models.loose import name, untyped\n\n'
            'COUNT: int = name(1)\nVALUE = untyped(2)\n')
    root = planted_tree(tmp_path, {'geospatial_mm/models/__init__.py': '',
                                   'geospatial_mm/models/loose.py': PLANTED_TYPE_ERRORS,
                                   'geospatial_mm/io/uses.py': uses})
    proc = mypy(cwd=root)
    found = [line for line in proc.stdout.splitlines() if ': error:' in line]
    assert proc.returncode == 1 and len(found) == 2, proc.stdout  # the wrong type and the call of an untyped function
    assert all(line.startswith('geospatial_mm/io/uses.py:') for line in found), proc.stdout
    assert any('[assignment]' in line for line in found) and any('[no-untyped-call]' in line for line in found)


@pytest.mark.parametrize('package', ['io', 'inference', 'export', 'apis'])
def test_missing_and_malformed_docstrings_fail_ruff_in_the_checked_packages(package, tmp_path):
    root = planted_tree(tmp_path, {f'geospatial_mm/{package}/planted.py': PLANTED_DOCSTRINGS})
    proc = ruff('.', cwd=root)
    assert proc.returncode == 1, proc.stdout
    for code in PLANTED_DOC_CODES:
        assert code in proc.stdout, proc.stdout


@pytest.mark.parametrize('path', ['geospatial_mm/models/planted.py', 'geospatial_mm/planted.py', 'tools/planted.py',
                                  'tests/io/test_planted.py'])
def test_the_same_file_passes_outside_the_checked_packages(path, tmp_path):
    root = planted_tree(tmp_path, {path: PLANTED_DOCSTRINGS})
    proc = ruff('.', cwd=root)
    assert proc.returncode == 0, proc.stdout


def checked_files() -> list[Path]:
    """The files of the checked packages."""
    return [path for entry in CHECKED for path in sorted((ROOT / entry).rglob('*.py'))]


def test_the_checked_packages_are_the_typed_ones():
    """mypy checks the typed packages as a whole, and its strict override names the same packages."""
    assert CHECKED == ['geospatial_mm/io', 'geospatial_mm/inference', 'geospatial_mm/export', 'geospatial_mm/apis']
    assert all((ROOT / entry).is_dir() for entry in CHECKED), CHECKED
    overrides = tomllib.loads((ROOT / 'pyproject.toml').read_text())['tool']['mypy']['overrides']
    checked = [o['module'] for o in overrides if o.get('follow_imports') == 'normal']
    assert checked == [[entry.replace('/', '.') + '.*' for entry in CHECKED]], overrides


def test_public_functions_of_the_checked_packages_document_what_they_return_yield_and_raise():
    problems = [f'{path.relative_to(ROOT)}: {problem}' for path in checked_files()
                for problem in section_problems(path.read_text())]
    assert not problems, '\n'.join(problems)


def test_a_planted_docstring_without_its_sections_is_found():
    assert section_problems(PLANTED_SECTIONS) == PLANTED_SECTION_PROBLEMS
