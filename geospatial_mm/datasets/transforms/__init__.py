from .formatting import PackGeospatialDetInputs, PackGeospatialSegInputs
from .hephaestus_loading import LoadHephaestusInterferogram
from .loading import (
    LoadGeospatialAnnotations,
    LoadGeospatialBandGroups,
    LoadGeospatialImageFromFile,
    LoadGeospatialImagePair,
    loader_class,
)
from .noise_blur import RandomGaussianBlur, RandomGaussianNoise
from .random_window import RandomWindow
from .torch_transforms import (
    CastTensor,
    Reshape,
    TorchFromNumpy,
    TorchNormalize,
    TorchPermute,
    TorchRandomCrop,
    TorchRandomFlip,
    TorchRandomRotate90,
    TorchResize,
)

__all__ = ['PackGeospatialDetInputs', 'PackGeospatialSegInputs', 'LoadGeospatialAnnotations',
           'LoadGeospatialBandGroups', 'LoadGeospatialImageFromFile', 'LoadGeospatialImagePair', 'RandomWindow',
           'CastTensor', 'Reshape', 'TorchFromNumpy', 'TorchNormalize', 'TorchPermute', 'TorchRandomCrop',
           'TorchRandomFlip', 'TorchRandomRotate90', 'TorchResize', 'LoadHephaestusInterferogram',
           'RandomGaussianBlur', 'RandomGaussianNoise', 'loader_class']
