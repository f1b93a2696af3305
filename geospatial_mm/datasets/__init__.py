from . import transforms
from .class_stats import inverse_frequency_weights, label_histogram, load_class_stats
from .geospatial_seg import GeospatialSegDataset, read_split_file
from .hephaestus import HephaestusCrops, HephaestusInterferograms
from .paired_folders import PairedFolderSegDataset
from .rare_class_weighted_sampler import RareClassWeightedSampler
from .sen12ms import (DFC2020Dataset, LoadSEN12MSAnnotations, LoadSEN12MSImage, S1S2FolderDataset,
                      SEN12MSDataset)
from .xbd import XBD_CLASSES, XBD_DAMAGE_VALUES, XBD_PALETTE, XBDDataset

__all__ = ['transforms', 'GeospatialSegDataset', 'read_split_file', 'HephaestusCrops', 'HephaestusInterferograms',
           'PairedFolderSegDataset', 'DFC2020Dataset',
           'LoadSEN12MSAnnotations', 'LoadSEN12MSImage', 'S1S2FolderDataset', 'SEN12MSDataset',
           'RareClassWeightedSampler', 'XBDDataset', 'XBD_CLASSES', 'XBD_DAMAGE_VALUES', 'XBD_PALETTE',
           'inverse_frequency_weights', 'label_histogram', 'load_class_stats']
