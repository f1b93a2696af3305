"""Export trained segmentation configs to self-describing model files (tools/export.py).

The files run without the OpenMMLab stack through :mod:`geospatial_mm.inference.exported_model`.
"""
from geospatial_mm.lazy_exports import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    'ExportError': '.graph', 'TileGraph': '.graph', 'export_model': '.exporter',
})
