"""Streaming prediction over rasters of any size.

The predictors, the models they run, a run's options and summary (:mod:`geospatial_mm.apis` is the public entry);
names are imported from their modules on first use, so that an exported model runs without the OpenMMLab libraries.
"""
from geospatial_mm.lazy_exports import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    'RasterPredictor': '.predictor', 'SegmentationRasterPredictor': '.segmentation',
    'DetectionRasterPredictor': '.detection', 'TileModel': '.tile_model', 'WindowInputs': '.tile_model',
    'OpenMMLabModel': '.openmmlab_model', 'ExportedModel': '.exported_model',
    'PredictOptions': '.options', 'RunSummary': '.summary', 'SampleResult': '.summary',
    'Sample': '.sources', 'discover': '.sources', 'find_frame_groups': '.sources', 'find_pairs': '.sources',
    'find_single': '.sources', 'RollingBand': '.rolling_band', 'RowBandAccumulator': '.rolling_band',
})
