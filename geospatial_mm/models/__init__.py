from .backbones import MultiBandResNet, PrithviViT
from .data_preprocessors import TemporalSegDataPreProcessor
from .det_data_preprocessor import MultiBandDetDataPreprocessor
from .multiband_selfsup_preprocessor import MultiBandSelfSupDataPreprocessor
from .necks import TokensToFeatureMap
from .segmentors import TemporalEncoderDecoder
from .strict_pretrained import StrictPretrainedInit

__all__ = ['MultiBandResNet', 'PrithviViT', 'TemporalSegDataPreProcessor', 'MultiBandDetDataPreprocessor',
           'MultiBandSelfSupDataPreprocessor', 'TokensToFeatureMap', 'TemporalEncoderDecoder', 'StrictPretrainedInit']
