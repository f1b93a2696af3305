# DeepLabv3+ (ResNet-101, output stride 16) for land cover from Sentinel-1/2: trained on SEN12MS, scored on DFC2020
# by average accuracy (AA) and mIoU. The settings of the baseline's published models: S2 high- and mid-resolution
# bands and S1, no Savanna, SGD (lr 0.001, momentum 0.9, weight decay 5e-4, 10x lr for ASPP and decoder), batch 32,
# 5000 iterations.
#   mim train mmsegmentation configs/dfc2020_deeplabv3plus.py
#   mim test geospatial_mm configs/dfc2020_deeplabv3plus.py --checkpoint CKPT --eval AA mIoU
# ImageNet weights (the baseline's --pretrained_backbone), e.g. a local torchvision ResNet-101 file, loaded strictly:
#   --cfg-options model.backbone.checkpoint=/path/to/resnet101.pth
#   The stem convolution takes the 12 channels: B4, B3, B2 take the red, green and blue kernels, the other bands their
#   mean, all scaled by 3/12 (checkpoint_bands; see geospatial_mm/models/backbones/multiband_resnet.py).
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
    # input channels (input_groups, S2 in file order): B2 B3 B4 B5 B6 B7 B8 B8A B11 B12 VV VH; an RGB checkpoint's
    # R, G, B kernels go to B4, B3, B2
    backbone=dict(type='MultiBandResNet', depth=101, in_channels=in_channels, num_stages=4, out_indices=(0, 1, 2, 3),
                  strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2), style='pytorch', contract_dilation=True,
                  norm_cfg=norm_cfg, norm_eval=False, checkpoint=None,
                  checkpoint_bands=[2, 1, 0, None, None, None, None, None, None, None, None, None]),
    decode_head=dict(type='DepthwiseSeparableASPPHead', in_channels=2048, in_index=3, channels=256,
                     dilations=(1, 6, 12, 18), c1_in_channels=256, c1_channels=48, dropout_ratio=0.1,
                     num_classes=num_classes, norm_cfg=norm_cfg, align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
                                      avg_non_ignore=True)))
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=5e-4),
                     paramwise_cfg=dict(custom_keys={'decode_head': dict(lr_mult=10.0)}))
