# Prithvi-100M fine-tuned for flood mapping on Sen1Floods11 (Sentinel-2, 6 of 13 bands), 100 epochs.
#   mim train mmsegmentation configs/sen1floods11.py --launcher pytorch --gpus 8 \
#       --cfg-options model.backbone.pretrained=/path/to/Prithvi_100M.pt
#   mim test geospatial_mm configs/sen1floods11.py --checkpoint CKPT --eval mIoU
#   Bolivia hold-out: add --cfg-options \
#       test_dataloader.dataset.ann_file=<checkout>/data_splits/sen1floods11/bolivia_split.txt
_base_ = [
    './_base_/models/prithvi_fcn.py',
    './_base_/datasets/sen1floods11.py',
    './_base_/schedules/prithvi_epochs.py',
]
loss = dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0, class_weight=[0.3, 0.7],
            avg_non_ignore=True)
model = dict(
    backbone=dict(in_chans=6, num_frames=1),
    decode_head=dict(num_classes=2, loss_decode=loss),
    auxiliary_head=dict(num_classes=2, loss_decode=loss))
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1.5e-5, weight_decay=0.05, betas=(0.9, 0.999)))
