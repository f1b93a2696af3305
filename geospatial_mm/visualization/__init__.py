from .preview import colorize, read_decimated, render_preview, rgb_composite, save_preview
from .geospatial_seg_visualization_hook import GeospatialSegVisualizationHook

__all__ = ['colorize', 'read_decimated', 'render_preview', 'rgb_composite', 'save_preview',
           'GeospatialSegVisualizationHook']
