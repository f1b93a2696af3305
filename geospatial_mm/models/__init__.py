from .backbones import MultiBandResNet, PrithviViT
from .data_preprocessors import TemporalSegDataPreProcessor
from .det_data_preprocessor import MultiBandDetDataPreprocessor
from .necks import TokensToFeatureMap
from .segmentors import TemporalEncoderDecoder

__all__ = ['MultiBandResNet', 'PrithviViT', 'TemporalSegDataPreProcessor', 'MultiBandDetDataPreprocessor',
           'TokensToFeatureMap', 'TemporalEncoderDecoder']
