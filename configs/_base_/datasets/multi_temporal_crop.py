# HLS multi-temporal crop classification: 224x224 chips, 18 bands = 6 bands (B02, B03, B04, B8A, B11, B12) x 3 dates
# stored date-major; masks 0 = no data, 1-13 = the CDL classes below.
#   data/multi_temporal_crop_classification/training_chips/chip_257_266_merged.tif
#   data/multi_temporal_crop_classification/training_chips/chip_257_266.mask.tif
#   data/multi_temporal_crop_classification/validation_chips/...   (validation is also the test set)
# Splits: data_splits/multi_temporal_crop_classification/{training,validation}_data.txt (chip ids).
dataset_type = 'GeospatialSegDataset'
data_root = 'data/multi_temporal_crop_classification'
splits = '{{ fileDirname }}/../../../data_splits/multi_temporal_crop_classification'
classes = ('Natural Vegetation', 'Forest', 'Corn', 'Soybeans', 'Wetlands', 'Developed/Barren', 'Open Water',
           'Winter Wheat', 'Alfalfa', 'Fallow/Idle Cropland', 'Cotton', 'Sorghum', 'Other')
palette = [[112, 168, 0], [38, 115, 0], [255, 212, 0], [0, 168, 38], [125, 180, 180], [156, 156, 156],
           [77, 112, 163], [168, 112, 0], [255, 168, 227], [191, 191, 122], [255, 38, 38], [255, 158, 15],
           [200, 200, 200]]
num_bands = 6
preview_rgb_bands = [2, 1, 0]  # red, green, blue among the loaded bands (previews of model_inference)
num_frames = 3
crop_size = 224
# per band; applied to each of the three dates
img_norm = dict(means=[494.905781, 815.239594, 924.335066, 2968.881459, 2634.621962, 1739.579917],
                stds=[284.925432, 357.84876, 575.566823, 896.601013, 951.900334, 921.407808])
# the 18 bands as 3 frames of 6; Reshape keeps band and date apart: (18, H, W) -> (6, 3, H, W)
# stac_assets: the HLS S30 asset names of each date's bands, for STAC inputs of model_inference (--group-by)
load_img = dict(type='LoadGeospatialImageFromFile',
                frames=[[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11], [12, 13, 14, 15, 16, 17]],
                stac_assets=['B02', 'B03', 'B04', 'B8A', 'B11', 'B12'])
load_ann = dict(type='LoadGeospatialAnnotations', reduce_zero_label=True, ignore_index=255)
train_pipeline = [
    dict(type='RandomWindow', crop_size=crop_size),
    load_img,
    load_ann,
    dict(type='TorchFromNumpy'),
    dict(type='TorchRandomFlip', prob=0.5),
    dict(type='TorchNormalize', **img_norm),
    dict(type='Reshape', keys=['img'], new_shape=(num_bands, num_frames, -1, -1)),
    dict(type='PackGeospatialSegInputs'),
]
test_pipeline = [
    load_img,
    load_ann,
    dict(type='TorchFromNumpy'),
    dict(type='TorchNormalize', **img_norm),
    dict(type='Reshape', keys=['img'], new_shape=(num_bands, num_frames, -1, -1)),
    dict(type='PackGeospatialSegInputs'),
]
common = dict(type=dataset_type, data_root=data_root, metainfo=dict(classes=classes, palette=palette),
              img_suffix='_merged.tif', seg_map_suffix='.mask.tif')
train_dataloader = dict(
    pin_memory=True,  # page-locked batches: host-to-GPU copies without waiting (ignored without a GPU)
    batch_size=8, num_workers=4, persistent_workers=True, sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(**common, ann_file=splits + '/training_data.txt',
                 data_prefix=dict(img_path='training_chips', seg_map_path='training_chips'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**common, ann_file=splits + '/validation_data.txt',
                 data_prefix=dict(img_path='validation_chips', seg_map_path='validation_chips'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU', 'mFscore'])
test_evaluator = val_evaluator
