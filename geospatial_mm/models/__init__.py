from .backbones import PrithviViT
from .data_preprocessors import TemporalSegDataPreProcessor
from .heads import SiameseChangeHead
from .losses import SoftmaxFocalLoss
from .necks import TokensToFeatureMap
from .segmentors import SiameseEncoderDecoder, TemporalEncoderDecoder

__all__ = ['PrithviViT', 'TemporalSegDataPreProcessor', 'SiameseChangeHead', 'SoftmaxFocalLoss', 'TokensToFeatureMap',
           'SiameseEncoderDecoder', 'TemporalEncoderDecoder']
