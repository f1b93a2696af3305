from . import transforms
from .class_stats import inverse_frequency_weights, label_histogram, load_class_stats
from .geospatial_seg import GeospatialSegDataset, read_split_file
from .samplers import RareClassWeightedSampler
from .xbd import XBD_CLASSES, XBD_DAMAGE_VALUES, XBD_PALETTE, XBDDataset

__all__ = ['transforms', 'GeospatialSegDataset', 'read_split_file', 'RareClassWeightedSampler', 'XBDDataset',
           'XBD_CLASSES', 'XBD_DAMAGE_VALUES', 'XBD_PALETTE', 'inverse_frequency_weights', 'label_histogram',
           'load_class_stats']
