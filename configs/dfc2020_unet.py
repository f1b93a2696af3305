# UNet for land cover from Sentinel-1/2: trained on SEN12MS, scored on DFC2020 by average accuracy (AA) and mIoU.
# The baseline's UNet settings: RMSprop (lr 0.01, weight decay 5e-4), batch 32, 5000 iterations; S2 high- and
# mid-resolution bands and S1, no Savanna.
#   mim train mmsegmentation configs/dfc2020_unet.py
#   mim test geospatial_mm configs/dfc2020_unet.py --checkpoint CKPT --eval AA mIoU
_base_ = [
    './_base_/models/dfc2020_encoder_decoder.py',
    './_base_/datasets/sen12ms_dfc2020.py',
    './_base_/schedules/dfc2020_baseline.py',
    './_base_/default_runtime.py',
]
num_classes = 9  # 10 with no_savanna = False
in_channels = 12  # channels of input_groups
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    # four 2x down- and up-samplings (bilinear upsampling + convolution), 64 ... 1024 channels
    backbone=dict(type='UNet', in_channels=in_channels, base_channels=64, num_stages=5, strides=(1, 1, 1, 1, 1),
                  enc_num_convs=(2, 2, 2, 2, 2), dec_num_convs=(2, 2, 2, 2), downsamples=(True, True, True, True),
                  enc_dilations=(1, 1, 1, 1, 1), dec_dilations=(1, 1, 1, 1), norm_cfg=norm_cfg,
                  act_cfg=dict(type='ReLU'), upsample_cfg=dict(type='InterpConv'), norm_eval=False),
    # a 1x1 convolution to the classes on the last decoder stage (num_convs=0)
    decode_head=dict(type='FCNHead', in_channels=64, in_index=4, channels=64, num_convs=0, concat_input=False,
                     dropout_ratio=0.0, num_classes=num_classes, norm_cfg=norm_cfg, align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
                                      avg_non_ignore=True)))
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='RMSprop', lr=0.01, weight_decay=5e-4))
