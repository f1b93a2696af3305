# A tiny mmseg config built from the package's GeoTIFF transforms (tests/helpers/geotiff_seg_data.py data).
# Data root on the command line: --cfg-options train_dataloader.dataset.data_root=D val_dataloader.dataset.data_root=D
_base_ = ['../../configs/_base_/default_runtime.py']

data_root = 'data/geotiff_seg'
metainfo = dict(classes=('background', 'burned', 'water'), palette=[[0, 0, 0], [200, 30, 30], [30, 30, 200]])
means = [0.15, 0.15, 0.15, 0.15, 0.15, 0.15]
stds = [0.06, 0.06, 0.06, 0.06, 0.06, 0.06]
train_pipeline = [
    dict(type='RandomWindow', crop_size=48),
    dict(type='LoadGeospatialImageFromFile', scale=0.0001, nodata_replace=0.0),
    dict(type='LoadGeospatialAnnotations', ignore_index=255),
    dict(type='TorchFromNumpy'),
    dict(type='TorchNormalize', means=means, stds=stds),
    dict(type='TorchRandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
    dict(type='TorchRandomRotate90', prob=0.5),
    dict(type='PackGeospatialSegInputs'),
]
test_pipeline = [
    dict(type='LoadGeospatialImageFromFile', scale=0.0001, nodata_replace=0.0),
    dict(type='LoadGeospatialAnnotations', ignore_index=255),
    dict(type='TorchFromNumpy'),
    dict(type='TorchNormalize', means=means, stds=stds),
    dict(type='PackGeospatialSegInputs'),
]
dataset_common = dict(type='GeospatialSegDataset', data_root=data_root, metainfo=metainfo, img_suffix='.tif',
                      seg_map_suffix='.tif')
train_dataloader = dict(
    batch_size=4, num_workers=0, sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(**dataset_common, data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**dataset_common, data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', pad_val=0, seg_pad_val=255, size_divisor=4),
    backbone=dict(type='UNet', in_channels=6, base_channels=8, num_stages=3, strides=(1, 1, 1),
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
train_cfg = dict(type='IterBasedTrainLoop', max_iters=30, val_interval=30)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=30),
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(cudnn_benchmark=False)
visualizer = dict(vis_backends=[dict(type='LocalVisBackend')])  # no TensorBoard files in the tests
randomness = dict(seed=0)
