from . import transforms
from .geospatial_seg import GeospatialSegDataset, read_split_file

__all__ = ['transforms', 'GeospatialSegDataset', 'read_split_file']
