"""Datasets of the package's tasks and their transforms (names imported from their modules on first use)."""
from geospatial_mm.lazy_exports import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    'GeospatialSegDataset': '.geospatial_seg', 'read_split_file': '.geospatial_seg',
    'HephaestusCrops': '.hephaestus', 'HephaestusInterferograms': '.hephaestus',
    'PairedFolderSegDataset': '.paired_folders',
    'RareClassWeightedSampler': '.rare_class_weighted_sampler',
    'DFC2020Dataset': '.dfc2020', 'LoadSEN12MSAnnotations': '.transforms.sen12ms_loading',
    'LoadSEN12MSImage': '.transforms.sen12ms_loading', 'S1S2FolderDataset': '.s1s2_folder',
    'SEN12MSDataset': '.sen12ms',
    'XBDDataset': '.xbd', 'XBD_CLASSES': '.xbd', 'XBD_DAMAGE_VALUES': '.xbd', 'XBD_PALETTE': '.xbd',
    'inverse_frequency_weights': '.class_stats', 'label_histogram': '.class_stats', 'load_class_stats': '.class_stats',
})
