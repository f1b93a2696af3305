"""Model parts for mmseg, mmdet and mmpretrain configs (names imported from their modules on first use)."""
from geospatial_mm.lazy_exports import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    'MultiBandResNet': '.backbones.multiband_resnet', 'PrithviViT': '.backbones.prithvi_vit',
    'TemporalSegDataPreProcessor': '.data_preprocessors.temporal_seg_data_preprocessor',
    'MultiBandDetDataPreprocessor': '.data_preprocessors.multiband_det_data_preprocessor',
    'MultiBandSelfSupDataPreprocessor': '.data_preprocessors.multiband_selfsup_data_preprocessor',
    'SiameseChangeHead': '.heads.siamese_change_head', 'SoftmaxFocalLoss': '.losses.softmax_focal_loss',
    'TokensToFeatureMap': '.necks.tokens_to_feature_map', 'StrictPretrainedInit': '.pretrained.strict_pretrained',
    'SiameseEncoderDecoder': '.segmentors.siamese_encoder_decoder',
    'TemporalEncoderDecoder': '.segmentors.temporal_encoder_decoder',
})
