# Land cover from Sentinel-1/2: train on SEN12MS (low-resolution IGBP labels mapped to the DFC2020 classes), validate
# and test on DFC2020 (DFC labels). 256 x 256 patches at 10 m.
#   data/SEN12MS/ROIs1158_spring/{s1_7,s2_7,lc_7}/ROIs1158_spring_{s1,s2,lc}_7_p30.tif  (and ROIs1868_summer,
#   ROIs1970_fall, ROIs2017_winter), data/SEN12MS/SEN12MS_holdOutScenes.txt (copy of data_splits/sen12ms/)
#   data/DFC2020/ROIs0000_validation/{s1,s2,dfc}_validation/ROIs0000_validation_{s1,s2,dfc}_0_p0.tif
#   data/DFC2020/ROIs0000_test/{s1,s2,dfc}_0/ROIs0000_test_{s1,s2,dfc}_0_p0.tif
# Input band groups (LoadSEN12MSImage): 's1' (VV VH), 's2hr' (B2 B3 B4 B8), 's2mr' (B5 B6 B7 B8A B11 B12),
# 's2lr' (B1 B9 B10); Sentinel-2 bands in file order, then Sentinel-1. Changing them changes the channel count
# (model.backbone.in_channels) and where B4 B3 B2 are (preview_rgb_bands).
sen12ms_root = 'data/SEN12MS'
dfc2020_root = 'data/DFC2020'
input_groups = ['s2hr', 's2mr', 's1']  # 12 channels: B2 B3 B4 B5 B6 B7 B8 B8A B11 B12 VV VH
no_savanna = True  # ignore Savanna: 9 classes (False: 10)
preview_rgb_bands = [2, 1, 0]  # B4, B3, B2 among the loaded channels (previews and TensorBoard figures)
preview_brightness = 3  # reflectance x 3, clipped to 0-1
load_img = dict(type='LoadSEN12MSImage', groups=input_groups)
train_pipeline = [
    load_img,
    dict(type='LoadSEN12MSAnnotations', scheme='igbp', no_savanna=no_savanna),
    dict(type='TorchFromNumpy'),
    dict(type='PackGeospatialSegInputs'),
]
test_pipeline = [
    load_img,
    dict(type='LoadSEN12MSAnnotations', scheme='dfc', no_savanna=no_savanna),
    dict(type='TorchFromNumpy'),
    dict(type='PackGeospatialSegInputs'),
]
train_dataloader = dict(
    pin_memory=True,  # page-locked batches: host-to-GPU copies without waiting (ignored without a GPU)
    batch_size=32, num_workers=4, persistent_workers=True, sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='SEN12MSDataset', data_root=sen12ms_root, split='train', no_savanna=no_savanna,
                 pipeline=train_pipeline))
# DFC2020 validation set; the SEN12MS hold-out instead: type='SEN12MSDataset', split='holdout', data_root=sen12ms_root
# and scheme='igbp' in the label loader (pipeline.1.scheme); the DFC2020 test set: split='test'
val_dataloader = dict(
    batch_size=32, num_workers=4, persistent_workers=True, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='DFC2020Dataset', data_root=dfc2020_root, split='validation', no_savanna=no_savanna,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
# average accuracy (AA, = mAcc) and mIoU
val_evaluator = dict(type='AAIoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
