from .multiband_resnet import MultiBandResNet, adapt_first_conv
from .prithvi_loading import PretrainedMismatchError, convert_prithvi_state_dict, load_prithvi_weights
from .prithvi_vit import ARCHS, PrithviViT, sincos_3d

__all__ = ['MultiBandResNet', 'adapt_first_conv', 'PretrainedMismatchError', 'convert_prithvi_state_dict',
           'load_prithvi_weights', 'ARCHS', 'PrithviViT', 'sincos_3d']
