from geospatial_mm.lazy_exports import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    'MultiBandDetDataPreprocessor': '.multiband_det_data_preprocessor',
    'MultiBandSelfSupDataPreprocessor': '.multiband_selfsup_data_preprocessor',
    'TemporalSegDataPreProcessor': '.temporal_seg_data_preprocessor'})
