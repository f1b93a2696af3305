# HLS Burn Scar Scenes: 512x512 HLS v1.4 scenes, 6 reflectance bands (B02, B03, B04, B8A, B11, B12), float,
# nodata -9999; masks 1 = burn scar, 0 = not burned, -1 = missing data.
#   data/hls_burn_scars/training/subsetted_512x512_HLS.S30.T10SFH.2017090.v1.4_merged.tif
#   data/hls_burn_scars/training/subsetted_512x512_HLS.S30.T10SFH.2017090.v1.4.mask.tif
#   data/hls_burn_scars/validation/...   (validation is also the test set, as in the original recipe)
dataset_type = 'GeospatialSegDataset'
data_root = 'data/hls_burn_scars'
classes = ('Unburnt land', 'Burn scar')
palette = [[0, 0, 0], [230, 60, 20]]
bands = [0, 1, 2, 3, 4, 5]
preview_rgb_bands = [2, 1, 0]  # red, green, blue among the loaded bands (previews of model_inference)
num_frames = 1
crop_size = 224
img_norm = dict(
    means=[0.033349706741586264, 0.05701185520536176, 0.05889748132001316, 0.2323245113436119, 0.1972854853760658,
           0.11944914225186566],
    stds=[0.02269135568823774, 0.026807560223070237, 0.04004109844362779, 0.07791732423672691, 0.08708738838140137,
          0.07241979477437814])
# stac_assets: the HLS S30 (Sentinel-2) asset names of these bands, for STAC inputs of model_inference (HLS L30,
# Landsat: --assets B02 B03 B04 B05 B06 B07; HLS COGs store reflectance x 10000: --input-scale 0.0001)
load_img = dict(type='LoadGeospatialImageFromFile', bands=bands, nodata=-9999, nodata_replace=0.0,
                stac_assets=['B02', 'B03', 'B04', 'B8A', 'B11', 'B12'])
load_ann = dict(type='LoadGeospatialAnnotations', nodata=-1, ignore_index=255)
train_pipeline = [
    dict(type='RandomWindow', crop_size=crop_size),  # reads only the 224x224 window
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
              img_suffix='_merged.tif', seg_map_suffix='.mask.tif')
train_dataloader = dict(
    pin_memory=True,  # page-locked batches: host-to-GPU copies without waiting (ignored without a GPU)
    batch_size=4, num_workers=4, persistent_workers=True, sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(**common, data_prefix=dict(img_path='training', seg_map_path='training'), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**common, data_prefix=dict(img_path='validation', seg_map_path='validation'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU', 'mFscore'])
test_evaluator = val_evaluator
