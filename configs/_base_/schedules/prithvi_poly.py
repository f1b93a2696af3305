# Poly decay (power 1) over the whole run times a 1500-iteration linear warm-up from 1e-6 of the base rate: the HLS
# recipes' lr_config (poly + linear warm-up), as two chained mmengine schedulers. Iteration-based by default
# (10000 iterations); epoch-based tasks replace param_scheduler and train_cfg.
max_iters = 10000
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1.5e-5, betas=(0.9, 0.999)))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=0, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=1000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=1000, save_best='mIoU', max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # input (RGB: the config's preview_rgb_bands) | prediction | label figures of validation samples
    visualization=dict(type='GeospatialSegVisualizationHook', draw=True, interval=50))
