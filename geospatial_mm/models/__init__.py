from .backbones import PrithviViT
from .data_preprocessors import TemporalSegDataPreProcessor
from .necks import TokensToFeatureMap
from .segmentors import TemporalEncoderDecoder

__all__ = ['PrithviViT', 'TemporalSegDataPreProcessor', 'TokensToFeatureMap', 'TemporalEncoderDecoder']
