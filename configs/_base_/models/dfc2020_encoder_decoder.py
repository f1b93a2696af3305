# What the two land-cover models share: mmseg's EncoderDecoder on inputs that are already scaled to 0-1 (no mean/std),
# 256 x 256 windows (one per DFC2020 / SEN12MS patch; larger rasters in tools/model_inference.py are tiled so).
# The task configs add the backbone and the decode head.
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', pad_val=0, seg_pad_val=255, size_divisor=16),
    train_cfg=dict(),
    test_cfg=dict(mode='slide', crop_size=(256, 256), stride=(128, 128)))
