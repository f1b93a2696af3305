# xView2 / xBD building damage assessment from pre- and post-disaster images: a Siamese ResNet-50 UNet.
#   python tools/xbd_masks.py data/xBD --split-dir data/xBD/splits           # targets and splits from the labels
#   python tools/class_weights.py configs/xview2_siamese_unet.py --out data/xBD/class_stats.json \
#       --label-keys seg_map_path loc_seg_map_path --num-classes loc_seg_map_path=2 \
#       --assign seg_map_path=model.decode_head.loss_decode.alpha loc_seg_map_path=model.decode_head.loss_loc.alpha
#   mim train mmsegmentation configs/xview2_siamese_unet.py --cfg-options <the options class_weights.py printed>
#   mim test geospatial_mm configs/xview2_siamese_unet.py --checkpoint work_dirs/xview2_siamese_unet/best_*.pth \
#       --eval xview2
#   python tools/model_inference.py -config configs/xview2_siamese_unet.py -ckpt K -input data/xBD/test/images \
#       --post-input data/xBD/test/images -input_type png -output damage/
_base_ = [
    './_base_/models/siamese_unet_r50.py',
    './_base_/datasets/xbd.py',
    './_base_/default_runtime.py',
]
# Epoch-based: AdamW, cosine annealing with warm restarts (T_0 = 10 epochs, T_mult = 2: cycles of 10, 20, 40
# epochs, annealed per iteration), early stopping when the validation xView2 score has not improved by 0.001 for 10
# epochs; the best checkpoint by that score is kept.
max_epochs = 70
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4))
param_scheduler = [
    dict(type='CosineRestartLR', periods=[10, 20, 40], restart_weights=[1.0, 1.0, 1.0], eta_min=1e-6, by_epoch=True,
         begin=0, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
log_processor = dict(by_epoch=True)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=True),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, save_best='xview2/score', rule='greater',
                    max_keep_ckpts=3))
custom_hooks = [
    dict(type='EarlyStoppingHook', monitor='xview2/score', rule='greater', min_delta=0.001, patience=10, strict=True),
]
