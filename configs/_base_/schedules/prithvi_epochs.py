# The epoch-based Prithvi fine-tuning schedule (Sen1Floods11, multi-temporal crops): prithvi_poly.py's 1500-iteration
# linear warm-up, then poly decay (power 1) over max_epochs, converted to iterations; validation every 5 epochs and a
# checkpoint every 10 (the best by mIoU kept). A config with another length sets max_epochs, train_cfg.max_epochs and
# the PolyLR end. It brings the runtime too (default_runtime.py, logging by epoch).
_base_ = ['./prithvi_poly.py', '../default_runtime.py']
max_epochs = 100
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=True, begin=0, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
default_hooks = dict(checkpoint=dict(by_epoch=True, interval=10, save_best='mIoU', max_keep_ckpts=3),
                     logger=dict(interval=10))
log_processor = dict(by_epoch=True)
