from . import transforms
from .geospatial_seg import GeospatialSegDataset, read_split_file
from .hephaestus import HephaestusCrops, HephaestusInterferograms

__all__ = ['transforms', 'GeospatialSegDataset', 'read_split_file', 'HephaestusCrops', 'HephaestusInterferograms']
