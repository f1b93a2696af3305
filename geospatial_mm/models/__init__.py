from .backbones import MultiBandResNet, PrithviViT
from .data_preprocessors import TemporalSegDataPreProcessor
from .det_data_preprocessor import MultiBandDetDataPreprocessor
from .heads import SiameseChangeHead
from .losses import SoftmaxFocalLoss
from .multiband_selfsup_preprocessor import MultiBandSelfSupDataPreprocessor
from .necks import TokensToFeatureMap
from .segmentors import SiameseEncoderDecoder, TemporalEncoderDecoder
from .strict_pretrained import StrictPretrainedInit

__all__ = ['MultiBandResNet', 'PrithviViT', 'TemporalSegDataPreProcessor', 'MultiBandDetDataPreprocessor',
           'SiameseChangeHead', 'SoftmaxFocalLoss', 'MultiBandSelfSupDataPreprocessor', 'TokensToFeatureMap',
           'SiameseEncoderDecoder', 'TemporalEncoderDecoder', 'StrictPretrainedInit']
