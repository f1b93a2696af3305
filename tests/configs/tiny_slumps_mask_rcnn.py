# configs/slumps_mask_rcnn.py with a tiny model (ResNet-18 of width 8, a 16-channel FPN, few proposals) for tests and
# the demo data (tools/make_demo_data.py --datasets slumps, tiled at 64 px). Data root on the command line:
#   --cfg-options train_dataloader.dataset.data_root=D val_dataloader.dataset.data_root=D \
#       test_dataloader.dataset.data_root=D val_evaluator.ann_file=D/annotations/instances_val.json \
#       test_evaluator.ann_file=D/annotations/instances_val.json
_base_ = ['../../configs/slumps_mask_rcnn.py']
tile_size = 64
tile_overlap = 16
model = dict(
    backbone=dict(depth=18, base_channels=8),
    neck=dict(in_channels=[8, 16, 32, 64], out_channels=16),
    rpn_head=dict(in_channels=16, feat_channels=16,
                  anchor_generator=dict(scales=[4], strides=[4, 8, 16, 32, 64])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=16),
        bbox_head=dict(in_channels=16, fc_out_channels=64),
        mask_roi_extractor=dict(out_channels=16),
        mask_head=dict(num_convs=2, in_channels=16, conv_out_channels=16)),
    train_cfg=dict(rpn=dict(sampler=dict(num=64)), rpn_proposal=dict(nms_pre=300, max_per_img=100),
                   rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=300, max_per_img=100), rcnn=dict(max_per_img=30)))
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False, batch_sampler=None,
                        sampler=dict(type='InfiniteSampler', shuffle=True))
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = val_dataloader
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=150, val_interval=150)
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20)]
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=0.003, weight_decay=0.0001, _delete_=True))
default_hooks = dict(logger=dict(interval=25),
                     checkpoint=dict(by_epoch=False, interval=150, save_best=None, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
