# Sen1Floods11 hand-labelled chips: 512x512 Sentinel-2 L1C (13 bands), labels 1 = water, 0 = no water, -1 = no data.
#   data/sen1floods11/v1.1/data/flood_events/HandLabeled/S2Hand/Ghana_313799_S2Hand.tif
#   data/sen1floods11/v1.1/data/flood_events/HandLabeled/LabelHand/Ghana_313799_LabelHand.tif
# Splits: data_splits/sen1floods11/{train,val,test,bolivia}_split.txt (chip ids). The Bolivia hold-out event:
#   --cfg-options test_dataloader.dataset.ann_file=<checkout>/data_splits/sen1floods11/bolivia_split.txt
dataset_type = 'GeospatialSegDataset'
data_root = 'data/sen1floods11/v1.1/data/flood_events/HandLabeled'
splits = '{{ fileDirname }}/../../../data_splits/sen1floods11'
classes = ('No water', 'Water')
palette = [[200, 200, 200], [20, 80, 230]]
bands = [1, 2, 3, 8, 11, 12]  # B2, B3, B4, B8A, B11, B12 of the 13-band S2 L1C chip
preview_rgb_bands = [2, 1, 0]  # red, green, blue among the loaded bands (previews of model_inference)
num_frames = 1
crop_size = 224
img_norm = dict(means=[0.14245495, 0.13921481, 0.12434631, 0.31420089, 0.20743526, 0.12046503],
                stds=[0.04036231, 0.04186983, 0.05267646, 0.0822221, 0.06834774, 0.05294205])
load_img = dict(type='LoadGeospatialImageFromFile', bands=bands, scale=0.0001, nodata=-9999, nodata_replace=0.0)
load_ann = dict(type='LoadGeospatialAnnotations', nodata=-1, ignore_index=255)
train_pipeline = [
    dict(type='RandomWindow', crop_size=crop_size),
    load_img,
    load_ann,
    dict(type='TorchFromNumpy'),
    dict(type='TorchRandomFlip', prob=0.5),
    dict(type='TorchNormalize', **img_norm),
    dict(type='Reshape', keys=['img'], new_shape=(len(bands), num_frames, -1, -1)),
    dict(type='PackGeospatialSegInputs'),
]
test_pipeline = [
    load_img,
    load_ann,
    dict(type='TorchFromNumpy'),
    dict(type='TorchNormalize', **img_norm),
    dict(type='Reshape', keys=['img'], new_shape=(len(bands), num_frames, -1, -1)),
    dict(type='PackGeospatialSegInputs'),
]
common = dict(type=dataset_type, data_root=data_root, metainfo=dict(classes=classes, palette=palette),
              img_suffix='_S2Hand.tif', seg_map_suffix='_LabelHand.tif',
              data_prefix=dict(img_path='S2Hand', seg_map_path='LabelHand'))
train_dataloader = dict(
    pin_memory=True,  # page-locked batches: host-to-GPU copies without waiting (ignored without a GPU)
    batch_size=4, num_workers=2, persistent_workers=True, sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(**common, ann_file=splits + '/train_split.txt', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**common, ann_file=splits + '/val_split.txt', pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**common, ann_file=splits + '/test_split.txt', pipeline=test_pipeline))
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU', 'mFscore'])
test_evaluator = val_evaluator
