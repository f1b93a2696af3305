from .formatting import PackGeospatialDetInputs, PackGeospatialSegInputs
from .hephaestus_loading import LoadHephaestusInterferogram
from .loading import (LoadGeospatialAnnotations, LoadGeospatialBandGroups, LoadGeospatialImageFromFile,
                      LoadGeospatialImagePair, RandomWindow, window_transform)
from .noise_blur import RandomGaussianBlur, RandomGaussianNoise
from .torch_transforms import (CastTensor, Reshape, TorchFromNumpy, TorchNormalize, TorchPermute, TorchRandomCrop,
                               TorchRandomFlip, TorchRandomRotate90, TorchResize)

__all__ = ['PackGeospatialDetInputs', 'PackGeospatialSegInputs', 'LoadGeospatialAnnotations',
           'LoadGeospatialBandGroups', 'LoadGeospatialImageFromFile', 'LoadGeospatialImagePair', 'RandomWindow',
           'window_transform', 'CastTensor', 'Reshape', 'TorchFromNumpy', 'TorchNormalize', 'TorchPermute',
           'TorchRandomCrop', 'TorchRandomFlip', 'TorchRandomRotate90', 'TorchResize', 'LoadHephaestusInterferogram',
           'RandomGaussianBlur', 'RandomGaussianNoise']
