# Prithvi ViT encoder + tokens-to-feature-map neck + FCN decode and auxiliary heads (the HLS fine-tuning recipe).
# Task configs set in_chans, num_frames, num_classes, the loss and the pretrained file.
# (Prithvi-100M: embed_dim 768; one frame, so the neck and heads see 768 channels)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='TemporalEncoderDecoder',
    data_preprocessor=dict(type='TemporalSegDataPreProcessor', size_divisor=16, pad_val=0, seg_pad_val=255),
    backbone=dict(
        type='PrithviViT',
        arch='prithvi_100m',
        in_chans=6,
        num_frames=1,
        img_size=224,
        # a local copy of Prithvi_100M.pt (no download at run time); set it with
        # --cfg-options model.backbone.pretrained=/path/to/Prithvi_100M.pt, or None to train from scratch
        pretrained='checkpoints/Prithvi_100M.pt'),
    neck=dict(type='TokensToFeatureMap', embed_dim=768, out_channels=768, num_frames=1, num_upsamples=4),
    decode_head=dict(type='FCNHead', in_channels=768, in_index=-1, channels=256, num_convs=1,
                     concat_input=False, dropout_ratio=0.1, num_classes=2, norm_cfg=norm_cfg, align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(type='FCNHead', in_channels=768, in_index=-1, channels=256, num_convs=2,
                        concat_input=False, dropout_ratio=0.1, num_classes=2, norm_cfg=norm_cfg, align_corners=False,
                        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    # sliding window 224 / stride 112; overlaps blended with edge-decaying weights
    test_cfg=dict(mode='slide', crop_size=(224, 224), stride=(112, 112)))
