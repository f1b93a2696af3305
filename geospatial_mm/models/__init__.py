from .backbones import PrithviViT
from .data_preprocessors import TemporalSegDataPreProcessor
from .multiband_selfsup_preprocessor import MultiBandSelfSupDataPreprocessor
from .necks import TokensToFeatureMap
from .segmentors import TemporalEncoderDecoder
from .strict_pretrained import StrictPretrainedInit

__all__ = ['PrithviViT', 'TemporalSegDataPreProcessor', 'TokensToFeatureMap', 'TemporalEncoderDecoder',
           'MultiBandSelfSupDataPreprocessor', 'StrictPretrainedInit']
