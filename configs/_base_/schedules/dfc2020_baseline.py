# The DFC2020 baseline's schedule: 5000 iterations (one SEN12MS epoch at batch 32), constant learning rate,
# validation and a checkpoint every 1000 iterations (best by AA), input | prediction | label figures of the
# validation samples through the visualizer (TensorBoard with default_runtime's TensorboardVisBackend).
max_iters = 5000
param_scheduler = []
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=1000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=1000, save_best='AA', rule='greater',
                    max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # RGB bands and brightness: the config's preview_rgb_bands / preview_brightness
    visualization=dict(type='GeospatialSegVisualizationHook', draw=True, interval=10))
