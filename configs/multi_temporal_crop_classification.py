# Prithvi (6 blocks, 8 heads, as in the original recipe) fine-tuned for crop classification on 3-date HLS chips.
#   mim train mmsegmentation configs/multi_temporal_crop_classification.py --launcher pytorch --gpus 8 \
#       --cfg-options model.backbone.pretrained=/path/to/Prithvi_100M.pt
#   mim test geospatial_mm configs/multi_temporal_crop_classification.py --checkpoint CKPT --eval mIoU
_base_ = [
    './_base_/models/prithvi_fcn.py',
    './_base_/datasets/multi_temporal_crop.py',
    './_base_/schedules/prithvi_epochs.py',
]
num_frames = 3
embed_dim = 768
class_weight = [0.386375, 0.661126, 0.548184, 0.640482, 0.876862, 0.925186, 3.249462, 1.542289, 2.175141, 2.272419,
                3.062762, 3.626097, 1.198702]
loss = dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0, class_weight=class_weight,
            avg_non_ignore=True)
model = dict(
    backbone=dict(
        # the first 6 of Prithvi-100M's 12 blocks, attention in 8 heads; the checkpoint's blocks 6-11 are left
        # unused on purpose, so they are allowed explicitly (any other unmatched key is still an error)
        arch=dict(_delete_=True, embed_dim=embed_dim, depth=6, num_heads=8, patch_size=16, tubelet_size=1),
        in_chans=6, num_frames=num_frames,
        allow_unexpected_keys=['blocks.6.*', 'blocks.7.*', 'blocks.8.*', 'blocks.9.*', 'blocks.10.*', 'blocks.11.*']),
    neck=dict(embed_dim=embed_dim, out_channels=embed_dim * num_frames, num_frames=num_frames),
    decode_head=dict(in_channels=embed_dim * num_frames, num_classes=13, loss_decode=loss),
    auxiliary_head=dict(in_channels=embed_dim * num_frames, num_classes=13, loss_decode=loss))
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1.5e-5, weight_decay=0.05, betas=(0.9, 0.999)))
max_epochs = 80
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=True, begin=0, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
