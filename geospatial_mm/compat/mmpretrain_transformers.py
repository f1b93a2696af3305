"""mmpretrain beside a transformers it cannot use.

mmpretrain 1.2.0 only checks that transformers >= 4.28 is installed before importing its multi-modal models, whose
imports from transformers newer releases no longer provide (``import mmpretrain`` then fails with ``TypeError:
NoneType takes no arguments``). Right after ``mmpretrain.utils.dependency`` is imported, those imports are tried;
when one fails, mmpretrain is told that the multi-modal dependencies are missing, so it registers placeholders for
those models, as it does without transformers.
"""
from __future__ import annotations

import logging
import os
import os.path as osp

# mmpretrain modules that import transformers at their top when WITH_MULTIMODAL is set
_MMPRETRAIN_TRANSFORMERS_USERS = ('models/multimodal', 'models/utils/huggingface.py', 'models/utils/tokenizer.py')


def _transformers_imports(package_dir: str) -> set[tuple[str, str | None]]:
    """``(module, name)`` for every top-level ``from transformers... import name`` (``name`` None for ``import
    transformers...``) of mmpretrain's multi-modal code, read from its source."""
    import ast
    found: set[tuple[str, str | None]] = set()
    files = []
    for part in _MMPRETRAIN_TRANSFORMERS_USERS:
        path = osp.join(package_dir, part)
        if osp.isdir(path):
            files += [osp.join(root, f) for root, _, names in os.walk(path) for f in names if f.endswith('.py')]
        elif osp.isfile(path):
            files.append(path)
    for path in files:
        with open(path, encoding='utf-8') as f:
            tree = ast.parse(f.read(), path)
        statements = list(tree.body)
        while statements:  # module level, including the bodies of module-level try/if blocks
            node = statements.pop()
            if isinstance(node, (ast.Try, ast.If)):
                statements += node.body + getattr(node, 'orelse', []) + [
                    s for handler in getattr(node, 'handlers', []) for s in handler.body]
            elif isinstance(node, ast.ImportFrom) and (node.module or '').split('.')[0] == 'transformers' \
                    and not node.level:
                found.update((node.module, alias.name) for alias in node.names)
            elif isinstance(node, ast.Import):
                found.update((alias.name, None) for alias in node.names if alias.name.split('.')[0] == 'transformers')
    return found


def transformers_problem(package_dir: str) -> str | None:
    """What mmpretrain's multi-modal code needs from the installed transformers and does not find, or None."""
    import importlib
    for module_name, name in sorted(_transformers_imports(package_dir), key=lambda t: (t[0], t[1] or '')):
        try:
            module = importlib.import_module(module_name)
            if name is not None and not hasattr(module, name):
                importlib.import_module(f'{module_name}.{name}')  # a sub-module imported by name
        except Exception as exc:  # any failure means mmpretrain's import of it would fail too
            what = f'{module_name}.{name}' if name else module_name
            return f'{what} ({type(exc).__name__}: {exc})'
    return None


def disable_unusable_multimodal(dependency) -> None:
    """Run right after ``mmpretrain.utils.dependency`` is imported."""
    if not getattr(dependency, 'WITH_MULTIMODAL', False):
        return
    problem = transformers_problem(osp.dirname(osp.dirname(dependency.__file__)))
    if problem is None:
        return
    dependency.WITH_MULTIMODAL = False
    from importlib.metadata import version
    logging.getLogger('geospatial_mm').warning(
        'transformers %s lacks what mmpretrain 1.2.0\'s multi-modal models import (%s): those models (BLIP, CLIP, '
        'OFA, ...) are left out so that mmpretrain imports', version('transformers'), problem)
