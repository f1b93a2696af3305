from . import transforms
from .geospatial_seg import GeospatialSegDataset, read_split_file
from .hephaestus import HephaestusCrops, HephaestusInterferograms
from .paired_folders import PairedFolderSegDataset, match_group, strip_tokens, token_folder_groups
from .sen12ms import (DFC2020Dataset, LoadSEN12MSAnnotations, LoadSEN12MSImage, S1S2FolderDataset,
                      SEN12MSDataset)

__all__ = ['transforms', 'GeospatialSegDataset', 'read_split_file', 'HephaestusCrops', 'HephaestusInterferograms',
           'PairedFolderSegDataset', 'match_group', 'strip_tokens', 'token_folder_groups', 'DFC2020Dataset',
           'LoadSEN12MSAnnotations', 'LoadSEN12MSImage', 'S1S2FolderDataset', 'SEN12MSDataset']
