# Prithvi-100M fine-tuned for burn scars on HLS Burn Scar Scenes (the HLS foundation recipe on MMSegmentation 1.x).
#   mim train mmsegmentation configs/burn_scars.py --launcher pytorch --gpus 8 \
#       --cfg-options model.backbone.pretrained=/path/to/Prithvi_100M.pt
#   mim test geospatial_mm configs/burn_scars.py --checkpoint work_dirs/burn_scars/best_mIoU_iter_N.pth --eval mIoU
_base_ = [
    './_base_/models/prithvi_fcn.py',
    './_base_/datasets/hls_burn_scars.py',
    './_base_/schedules/prithvi_poly.py',
    './_base_/default_runtime.py',
]
# Dice loss on both heads; label -1 (missing data) is mapped to the ignore index 255 by the annotation loader
loss = dict(type='DiceLoss', use_sigmoid=False, loss_weight=1.0, ignore_index=255)
model = dict(
    backbone=dict(in_chans=6, num_frames=1),
    decode_head=dict(num_classes=2, loss_decode=loss),
    auxiliary_head=dict(num_classes=2, loss_decode=loss))
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1.3e-5, betas=(0.9, 0.999)))
