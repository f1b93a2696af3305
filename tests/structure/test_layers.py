"""The package's imports follow its layers (tests/helpers/layers.py) and form no cycle."""
import shutil

from helpers.commands import ROOT
from helpers.layers import check_layers, import_cycles

PACKAGE = ROOT / 'geospatial_mm'


def test_no_module_imports_from_a_layer_above_or_beside_it():
    violations = check_layers(PACKAGE)
    assert not violations, '\n'.join(map(str, violations))


def test_no_circular_imports():
    assert import_cycles(PACKAGE) == []


def _copy(tmp_path):
    copy = tmp_path / 'geospatial_mm'
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns('__pycache__', '.mim'))
    return copy


def test_a_planted_upward_import_is_found_even_inside_a_function(tmp_path):
    copy = _copy(tmp_path)
    raster = copy / 'io' / 'raster.py'
    raster.write_text(raster.read_text() + '\n\ndef _planted():\n    from geospatial_mm.inference import runner\n')
    tiles = copy / 'io' / 'tiles.py'
    tiles.write_text(tiles.read_text() + '\nfrom ..datasets import transforms\n')
    found = {(v.module, v.imported) for v in check_layers(copy)}
    assert found == {('geospatial_mm.io.raster', 'geospatial_mm.inference'),
                     ('geospatial_mm.io.tiles', 'geospatial_mm.datasets')}


def test_a_planted_sideways_import_and_a_cycle_are_found(tmp_path):
    copy = _copy(tmp_path)
    hook = copy / 'visualization' / 'preview.py'
    hook.write_text(hook.read_text() + '\nfrom geospatial_mm.converters import coco\n')
    assert any(v.module == 'geospatial_mm.visualization.preview' and 'same layer' in v.why
               for v in check_layers(copy))
    atomic = copy / 'io' / 'atomic.py'
    atomic.write_text(atomic.read_text() + '\nfrom .geotiff import GeoTiffWriter\n')  # geotiff imports atomic
    assert ['geospatial_mm.io.atomic', 'geospatial_mm.io.geotiff', 'geospatial_mm.io.atomic'] in \
        import_cycles(copy)
