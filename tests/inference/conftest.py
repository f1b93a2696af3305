import pytest
from helpers.exports import export_tiny


@pytest.fixture(scope='session')
def tiny_pt2(tmp_path_factory):
    """A .pt2 file of tools/export.py: the burn-scars config with a tiny Prithvi, random weights, any batch size."""
    return export_tiny(tmp_path_factory.mktemp('tiny_pt2'), 'pt2')
