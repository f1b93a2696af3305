"""The package's layers, and a check of its imports against them (read from the source, nothing imported).

From the bottom: errors.py (the one error base), after_import.py and lazy_exports.py (import machinery); io/ and compat/
(and version.py); datasets/, models/, evaluation/; visualization/ and converters/; inference/ and demo/; engine/ and
export/; apis/ (the public Python API). A module may import from its own package and from lower layers, never from a
higher layer nor from another package of its own layer, wherever the import stands (a function-level import counts too).
The package's ``__init__`` (its face for configs, which registers everything) may import anything.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

LAYERS = {'errors': -1, 'after_import': -1, 'lazy_exports': -1,
          'io': 0, 'compat': 0, 'version': 0, 'config': 0, 'registration': 5,
          'datasets': 1, 'models': 1, 'evaluation': 1,
          'visualization': 2, 'converters': 2,
          'inference': 3, 'demo': 3,
          'engine': 4, 'export': 4,
          'apis': 5}
PACKAGE = 'geospatial_mm'


@dataclass(frozen=True)
class Violation:
    module: str
    line: int
    imported: str
    why: str

    def __str__(self) -> str:
        return f'{self.module}:{self.line} imports {self.imported}: {self.why}'


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix('').parts)
    if parts[-1] == '__init__':
        parts = parts[:-1]
    return '.'.join([PACKAGE, *parts])


def _imports(tree: ast.AST, module: str, is_package: bool):
    """``(line, absolute module name)`` of every import of the package in ``tree``, relative ones resolved."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split('.')[0] == PACKAGE:
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split('.') if is_package else module.split('.')[:-1]
                base = base[:len(base) - (node.level - 1)]
                target = '.'.join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ''
            if target.split('.')[0] != PACKAGE:
                continue
            if node.module is None or target == PACKAGE:  # from . import x / from geospatial_mm import x
                for alias in node.names:
                    yield node.lineno, f'{target}.{alias.name}'
            else:
                yield node.lineno, target


def _layer_of(name: str) -> tuple[str | None, int | None]:
    parts = name.split('.')
    if len(parts) < 2:
        return None, None
    return parts[1], LAYERS.get(parts[1])


def check_layers(root: str | Path) -> list[Violation]:
    """Every import of ``root`` (the package folder) that breaks the layering, or imports a top-level part that has
    no layer."""
    root = Path(root)
    violations = []
    for path in sorted(root.rglob('*.py')):
        module = _module_name(root, path)
        if module == PACKAGE:
            continue  # the package's face
        own, own_layer = _layer_of(module)
        if own_layer is None:
            violations.append(Violation(module, 0, '-', f'{own!r} is not a layer of the package ({sorted(LAYERS)})'))
            continue
        tree = ast.parse(path.read_text(encoding='utf-8'), str(path))
        for line, imported in _imports(tree, module, path.name == '__init__.py'):
            other, other_layer = _layer_of(imported)
            if other is None or other == own:
                continue
            if other_layer is None:
                violations.append(Violation(module, line, imported, f'{other!r} is not a layer of the package'))
            elif other_layer > own_layer:
                violations.append(Violation(module, line, imported, f'{own} (layer {own_layer}) is below {other} '
                                                                     f'(layer {other_layer})'))
            elif other_layer == own_layer:
                violations.append(Violation(module, line, imported, f'{own} and {other} are packages of the same '
                                                                     f'layer ({own_layer})'))
    return violations


def import_cycles(root: str | Path) -> list[list[str]]:
    """Cycles among the package's modules (module-level and function-level imports alike)."""
    root = Path(root)
    graph: dict[str, set[str]] = {}
    modules = {_module_name(root, p) for p in root.rglob('*.py')}
    for path in root.rglob('*.py'):
        module = _module_name(root, path)
        tree = ast.parse(path.read_text(encoding='utf-8'), str(path))
        edges = set()
        for _, imported in _imports(tree, module, path.name == '__init__.py'):
            while imported and imported not in modules:  # geospatial_mm.io.atomic.write_json -> ...io.atomic
                imported = imported.rpartition('.')[0]
            if imported and imported != module and not module.startswith(imported + '.'):
                edges.add(imported)
        graph[module] = edges
    cycles, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles
