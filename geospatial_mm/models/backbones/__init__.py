from .prithvi_loading import PretrainedMismatchError, convert_prithvi_state_dict, load_prithvi_weights
from .prithvi_vit import ARCHS, PrithviViT, sincos_3d

__all__ = ['PretrainedMismatchError', 'convert_prithvi_state_dict', 'load_prithvi_weights', 'ARCHS', 'PrithviViT',
           'sincos_3d']
