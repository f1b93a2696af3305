# Slump tiles written by tools/raster_to_coco.py: N-band GeoTIFF tiles and COCO instance files.
#   data/slumps/images/{train,val}/<label name>_r<row>_c<col>.tif
#   data/slumps/annotations/instances_{train,val}.json
# Images load through the GeoTIFF layer (every band of the tiles as float32; nodata -> 0) and are normalised by the
# model's MultiBandDetDataPreprocessor; mmdet's LoadAnnotations decodes the polygons and RLEs.
dataset_type = 'CocoDataset'
data_root = 'data/slumps/'
metainfo = dict(classes=('slump',), palette=[(220, 20, 60)])
tile_size = 256  # the tiles' size, also the window of tools/model_inference.py
tile_overlap = 64  # pixels shared by neighbouring windows in tools/model_inference.py

train_pipeline = [
    dict(type='LoadGeospatialImageFromFile', nodata_replace=0.0),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.75, direction=['horizontal', 'vertical', 'diagonal']),
    dict(type='PackGeospatialDetInputs'),
]
test_pipeline = [
    dict(type='LoadGeospatialImageFromFile', nodata_replace=0.0),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackGeospatialDetInputs'),
]
train_dataloader = dict(
    pin_memory=True,  # page-locked batches: host-to-GPU copies without waiting (ignored without a GPU)
    batch_size=2, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_train.json', data_prefix=dict(img='images/train/'),
                 filter_cfg=dict(filter_empty_gt=True, min_size=8), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_val.json', data_prefix=dict(img='images/val/'), test_mode=True,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val.json',
                     metric=['bbox', 'segm'], format_only=False)
test_evaluator = val_evaluator
