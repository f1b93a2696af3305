# xBD (xView2 building damage): pre/post disaster RGB PNG pairs of 1024x1024 pixels, as downloaded, plus the targets
# and split files that tools/xbd_masks.py writes from the label JSONs:
#   data/xBD/<tier>/images/<disaster>_<id>_{pre,post}_disaster.png          (tier: tier1, tier3, hold, test)
#   data/xBD/<tier>/labels/<disaster>_<id>_{pre,post}_disaster.json
#   data/xBD/<tier>/targets/<disaster>_<id>_pre_disaster_target.png         localisation: 0 background, 1 building
#   data/xBD/<tier>/targets/<disaster>_<id>_post_disaster_target.png        damage: 0-4, 255 un-classified (ignored)
#   data/xBD/splits/{train,val,test}.txt   train: tier1 + 75 % of tier3, val: hold + 25 % of tier3, test: test
dataset_type = 'XBDDataset'
data_root = 'data/xBD'
# classes and palette: XBDDataset's (background, no-damage, minor-damage, major-damage, destroyed)
preview_rgb_bands = [0, 1, 2]  # the pre image's red, green, blue (previews of model_inference)
crop_size = 512
# ImageNet statistics of 0-255 RGB (the ResNet encoder's pretraining), applied to the pre and the post image
img_norm = dict(means=[123.675, 116.28, 103.53], stds=[58.395, 57.12, 57.375])
load_pair = dict(type='LoadGeospatialImagePair', path_keys=('img_path', 'post_img_path'), keys=('img', 'img_post'))
load_damage = dict(type='LoadGeospatialAnnotations', ignore_index=255)  # seg_map_path -> gt_seg_map
load_loc = dict(type='LoadGeospatialAnnotations', path_key='loc_seg_map_path', key='gt_loc_seg_map', ignore_index=255)
# the pair is concatenated along channels (pre, post); the damage target is mmseg's gt_sem_seg
pack = dict(type='PackGeospatialSegInputs', seg_keys=dict(gt_seg_map='gt_sem_seg', gt_loc_seg_map='gt_loc_seg'))
train_pipeline = [
    dict(type='RandomWindow', crop_size=crop_size),  # the same window of both images and both targets
    load_pair,
    load_damage,
    load_loc,
    dict(type='TorchFromNumpy'),
    dict(type='TorchRandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
    dict(type='TorchRandomRotate90', prob=0.5),
    dict(type='TorchNormalize', **img_norm),
    pack,
]
test_pipeline = [
    load_pair,
    load_damage,
    load_loc,
    dict(type='TorchFromNumpy'),
    dict(type='TorchNormalize', **img_norm),
    pack,
]
common = dict(type=dataset_type, data_root=data_root)
train_dataloader = dict(
    pin_memory=True,  # page-locked batches: host-to-GPU copies without waiting (ignored without a GPU)
    batch_size=8, num_workers=4, persistent_workers=True,
    # images holding rare damage grades are drawn more often; stats_file: the JSON of tools/class_weights.py
    # (else the damage targets are read once when training starts)
    sampler=dict(type='RareClassWeightedSampler', label_key='seg_map_path', power=0.5, stats_file=None),
    dataset=dict(**common, ann_file='splits/train.txt', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**common, ann_file='splits/val.txt', pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**common, ann_file='splits/test.txt', pipeline=test_pipeline))
val_evaluator = dict(type='XView2Metric', ignore_index=255)
test_evaluator = val_evaluator
