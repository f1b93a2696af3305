# Siamese UNet: one ResNet-50 encoder with shared weights over the pre and the post image, the two feature pyramids
# fused level by level, UNet decoders for localisation (pre pyramid) and damage (fused pyramids), up to full
# resolution. Any mmseg backbone that returns a pyramid fits (set decode_head.in_channels to its widths).
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='SiameseEncoderDecoder',
    num_images=2,
    data_preprocessor=dict(type='SegDataPreProcessor', size_divisor=32, pad_val=0, seg_pad_val=255),
    backbone=dict(
        type='MultiBandResNet', depth=50, in_channels=3, num_stages=4, out_indices=(0, 1, 2, 3), style='pytorch',
        norm_cfg=norm_cfg, norm_eval=False,
        # ImageNet weights, loaded strictly (a local file, or a URL: torchvision://resnet50), e.g. torchvision's
        # resnet50 state dict: --cfg-options model.backbone.checkpoint=/path/to/resnet50.pth
        checkpoint=None),
    decode_head=dict(
        type='SiameseChangeHead', in_channels=[256, 512, 1024, 2048], decoder_channels=(256, 128, 64, 32, 16),
        fusion='concat', num_classes=5, dropout_ratio=0.1, norm_cfg=norm_cfg, align_corners=False, ignore_index=255,
        # multi-class focal loss (gamma 2) with per-class weights alpha from inverse class frequency of the training
        # targets: tools/class_weights.py computes them and prints them as --cfg-options (None: every class 1)
        loss_decode=dict(type='SoftmaxFocalLoss', gamma=2.0, alpha=None, loss_weight=1.0),
        loss_loc=dict(type='SoftmaxFocalLoss', gamma=2.0, alpha=None, loss_weight=1.0)),
    train_cfg=dict(),
    # whole 1024x1024 xBD images; larger scenes in 1024 windows blended with a 512 stride
    test_cfg=dict(mode='slide', crop_size=(1024, 1024), stride=(512, 512)))
