# MoCo v2 self-supervised pretraining on Hephaestus interferograms (InSAR + coherence, two channels), ResNet-18.
#   mim train mmpretrain configs/hephaestus_mocov2.py \
#       --cfg-options train_dataloader.dataset.data_root=/path/to/Hephaestus_Raw
#   mim train mmpretrain configs/hephaestus_mocov2.py --launcher pytorch --gpus 8        (README: multi-node, SLURM)
# The query encoder ends up as backbone.* in work_dirs/hephaestus_mocov2/epoch_N.pth, which
# configs/hephaestus_multilabel.py loads.
_base_ = [
    './_base_/datasets/hephaestus_interferograms.py',
    './_base_/default_runtime_mmpretrain.py',
]
model = dict(
    type='MoCo',
    queue_len=65536,  # negative keys; must be divisible by the total batch size (GPUs x batch_size)
    feat_dim=128,
    # mmpretrain's momentum is the weight of the query encoder in the key encoder's moving average:
    # key = 0.999 * key + 0.001 * query, i.e. the MoCo momentum m = 0.999
    momentum=0.001,
    data_preprocessor=dict(type='MultiBandSelfSupDataPreprocessor', mean=[127.5, 127.5], std=[127.5, 127.5]),
    backbone=dict(type='ResNet', depth=18, in_channels=2, norm_cfg=dict(type='BN'), zero_init_residual=False),
    neck=dict(type='MoCoV2Neck', in_channels=512, hid_channels=512, out_channels=128, with_avg_pool=True),
    head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'), temperature=0.2))

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.03, weight_decay=1e-4, momentum=0.9))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=200, by_epoch=True, begin=0, end=200)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=200)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
log_processor = dict(window_size=10)
# lr 0.03 is for 256 samples per step (8 GPUs x 32); --auto-scale-lr scales it to the actual total batch size
auto_scale_lr = dict(base_batch_size=256)
