from geospatial_mm.lazy_exports import lazy_exports
from .preview import colorize, read_decimated, render_preview, rgb_composite, save_preview

__getattr__, __dir__, _lazy = lazy_exports(__name__, {
    'GeospatialSegVisualizationHook': '.geospatial_seg_visualization_hook'})
__all__ = ['colorize', 'read_decimated', 'render_preview', 'rgb_composite', 'save_preview', *_lazy]
