# Labelled Hephaestus crops (tools/hephaestus_annotations.py save-crops, then split) for multi-label classification:
# targets Deformation, the six activity types and the three intensity levels of what each crop contains.
data_root = 'data/hephaestus/crops'
meta_keys = ('sample_idx', 'img_path', 'ori_shape', 'img_shape', 'flip', 'flip_direction', 'crop_id', 'frame_id',
             'primary_date', 'secondary_date')
train_pipeline = [
    dict(type='LoadHephaestusInterferogram'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PackInputs', meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadHephaestusInterferogram'),
    dict(type='PackInputs', meta_keys=meta_keys),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='HephaestusCrops', data_root=data_root, ann_file='train.txt', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='HephaestusCrops', data_root=data_root, ann_file='val.txt', pipeline=test_pipeline))
test_dataloader = val_dataloader
# macro-averaged precision / recall / F1 at a 0.5 threshold, and mean average precision over the classes
val_evaluator = [dict(type='MultiLabelMetric', average='macro'), dict(type='AveragePrecision')]
test_evaluator = val_evaluator
