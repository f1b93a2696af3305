# Multi-label classification of Hephaestus crops (Deformation, 6 activity types, 3 intensity levels) with the
# ResNet-18 pretrained by configs/hephaestus_mocov2.py.
#   python tools/hephaestus_annotations.py save-crops annotations/ Hephaestus_Raw/ data/hephaestus/crops
#   python tools/hephaestus_annotations.py split data/hephaestus/crops --val-from 20210101
#   mim train mmpretrain configs/hephaestus_multilabel.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/hephaestus_mocov2/epoch_200.pth
#   mim test geospatial_mm configs/hephaestus_multilabel.py --checkpoint work_dirs/hephaestus_multilabel/epoch_N.pth \
#       --eval multilabel-f1-score mAP
# From scratch instead: --cfg-options model.backbone.init_cfg=None
_base_ = [
    './_base_/datasets/hephaestus_crops.py',
    './_base_/default_runtime_mmpretrain.py',
]
mocov2_checkpoint = 'work_dirs/hephaestus_mocov2/epoch_200.pth'
num_classes = 10  # Deformation, Mogi, Dyke, Sill, Spheroid, Earthquake, Unidentified, Low, Medium, High
model = dict(
    type='ImageClassifier',
    # mmpretrain's ClsDataPreprocessor takes one mean/std per channel for any channel count
    data_preprocessor=dict(type='ClsDataPreprocessor', mean=[127.5, 127.5], std=[127.5, 127.5]),
    backbone=dict(
        type='ResNet', depth=18, in_channels=2, norm_cfg=dict(type='BN'),
        zero_init_residual=False,  # would zero BN weights after the pretrained ones are loaded
        # the MoCo query encoder: every key of the backbone must match (an error names the mismatches)
        init_cfg=dict(type='StrictPretrained', checkpoint=mocov2_checkpoint, prefix='backbone.')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='MultiLabelLinearClsHead', num_classes=num_classes, in_channels=512, thr=0.5,
              loss=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)))

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=30, by_epoch=True, begin=0, end=30, eta_min=1e-5)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=30, val_interval=1)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2, save_best='multi-label/mAP', rule='greater'))
log_processor = dict(window_size=10)
auto_scale_lr = dict(base_batch_size=32)
