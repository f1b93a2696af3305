# A tiny mmseg config for the foundation tests: a 3-stage UNet on 64x64 RGB shapes (tests/helpers/shapes_data.py).
# The data root is set on the command line for each dataloader:
#   --cfg-options train_dataloader.dataset.data_root=D val_dataloader.dataset.data_root=D \
#                 test_dataloader.dataset.data_root=D
_base_ = ['../../configs/_base_/default_runtime.py']

data_root = 'data/shapes'
metainfo = dict(classes=('background', 'rectangle', 'disc'), palette=[[0, 0, 0], [255, 0, 0], [0, 0, 255]])
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]


train_dataloader = dict(
    batch_size=4, num_workers=0, sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='BaseSegDataset', data_root=data_root, metainfo=metainfo, img_suffix='.png',
                 seg_map_suffix='.png', data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='BaseSegDataset', data_root=data_root, metainfo=metainfo, img_suffix='.png',
                 seg_map_suffix='.png', data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[110.0, 110.0, 110.0], std=[40.0, 40.0, 40.0],
                           bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size=(64, 64)),
    backbone=dict(type='UNet', in_channels=3, base_channels=8, num_stages=3, strides=(1, 1, 1),
                  enc_num_convs=(1, 1, 1), dec_num_convs=(1, 1), downsamples=(True, True),
                  enc_dilations=(1, 1, 1), dec_dilations=(1, 1), norm_cfg=norm_cfg,
                  upsample_cfg=dict(type='InterpConv')),
    decode_head=dict(type='FCNHead', in_channels=8, in_index=2, channels=8, num_convs=1, concat_input=False,
                     num_classes=3, norm_cfg=norm_cfg, align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=0.01, weight_decay=0.0))
param_scheduler = []
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40, val_interval=40)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=20),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
env_cfg = dict(cudnn_benchmark=False)
visualizer = dict(vis_backends=[dict(type='LocalVisBackend')])  # no TensorBoard files in the tests
randomness = dict(seed=0)
