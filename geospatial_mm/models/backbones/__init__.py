from .multiband_resnet import MultiBandResNet
from .prithvi_vit import ARCHS, PrithviViT, sincos_3d

__all__ = ['MultiBandResNet', 'ARCHS', 'PrithviViT', 'sincos_3d']
