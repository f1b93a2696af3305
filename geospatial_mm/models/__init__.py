from .backbones import MultiBandResNet, PrithviViT
from .data_preprocessors import (MultiBandDetDataPreprocessor, MultiBandSelfSupDataPreprocessor,
                                 TemporalSegDataPreProcessor)
from .heads import SiameseChangeHead
from .losses import SoftmaxFocalLoss
from .necks import TokensToFeatureMap
from .pretrained import StrictPretrainedInit
from .segmentors import SiameseEncoderDecoder, TemporalEncoderDecoder

__all__ = ['MultiBandResNet', 'PrithviViT', 'TemporalSegDataPreProcessor', 'MultiBandDetDataPreprocessor',
           'SiameseChangeHead', 'SoftmaxFocalLoss', 'MultiBandSelfSupDataPreprocessor', 'TokensToFeatureMap',
           'SiameseEncoderDecoder', 'TemporalEncoderDecoder', 'StrictPretrainedInit']
