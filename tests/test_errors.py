"""Every error class of the package derives from GeospatialMMError and keeps the built-in type it had, so that
callers catch one type and code that caught the built-in one keeps working."""
import ast
import importlib
from pathlib import Path

import pytest

from geospatial_mm.errors import GeospatialMMError

PACKAGE = Path(__file__).resolve().parents[1] / 'geospatial_mm'
BUILTIN = {'RasterError': ValueError, 'OptionsError': ValueError, 'ExportError': ValueError,
           'ExportedModelError': ValueError, 'AnnotationError': ValueError, 'InputBandsError': ValueError,
           'LabelError': ValueError, 'StacError': ValueError, 'ShardError': ValueError,
           'SetupError': RuntimeError, 'PretrainedMismatchError': RuntimeError, 'UntrustedFileError': RuntimeError,
           'UntrustedCheckpointError': RuntimeError, 'UntrustedModelError': RuntimeError,
           'OpNotProvidedError': NotImplementedError, 'ConfigError': ValueError}


def error_classes():
    """(module, class name) of every class of the package whose name ends in Error or Exception, read from the
    source."""
    found = []
    for path in sorted(PACKAGE.rglob('*.py')):
        tree = ast.parse(path.read_text(encoding='utf-8'))
        module = '.'.join(('geospatial_mm', *path.relative_to(PACKAGE).with_suffix('').parts))
        found += [(module.removesuffix('.__init__'), node.name) for node in tree.body
                  if isinstance(node, ast.ClassDef) and node.name.endswith(('Error', 'Exception'))]
    return found


def test_the_search_finds_the_error_classes():
    assert {name for _, name in error_classes()} == set(BUILTIN) | {'GeospatialMMError'}


@pytest.mark.parametrize('module, name', error_classes())
def test_every_error_class_is_a_geospatial_mm_error_and_keeps_its_builtin_type(module, name):
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, GeospatialMMError)
    if name != 'GeospatialMMError':
        assert issubclass(cls, BUILTIN[name])
        with pytest.raises(GeospatialMMError, match='the message'):
            raise cls('the message')
