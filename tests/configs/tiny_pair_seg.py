# A tiny change-detection config on pre/post GeoTIFF pairs, early fusion: both images stacked along channels into a
# 12-band UNet input. For the pre/post path of tools/model_inference.py.
_base_ = ['./tiny_geotiff_seg.py']
load_pair = dict(type='LoadGeospatialImagePair', path_keys=('img_path', 'post_img_path'), keys=('img', 'img_post'),
                 stack=True, scale=0.0001, nodata_replace=0.0)
test_pipeline = [
    load_pair,
    dict(type='TorchFromNumpy'),
    dict(type='TorchNormalize', means=[0.15] * 12, stds=[0.06] * 12),
    dict(type='PackGeospatialSegInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
model = dict(backbone=dict(in_channels=12))
