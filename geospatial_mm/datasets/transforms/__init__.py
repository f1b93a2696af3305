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
from .sen12ms_loading import LoadSEN12MSAnnotations, LoadSEN12MSImage
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
           'RandomGaussianBlur', 'RandomGaussianNoise', 'LoadSEN12MSImage', 'LoadSEN12MSAnnotations',
           'loader_class']
