from geospatial_mm.lazy_exports import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    'MultiBandResNet': '.multiband_resnet', 'ARCHS': '.prithvi_vit', 'PrithviViT': '.prithvi_vit',
    'sincos_3d': '.prithvi_vit'})
