# Instance segmentation of slumps on N-band imagery: MMDetection's Mask R-CNN R-50 FPN, first convolution on N bands.
#   python tools/raster_to_coco.py -i scene.tif -l label.tif -o data/slumps --size 256 --overlap 64 --val-fraction 0.2
#   mim train mmdet configs/slumps_mask_rcnn.py --launcher pytorch --gpus 8
#   mim test geospatial_mm configs/slumps_mask_rcnn.py --checkpoint work_dirs/slumps_mask_rcnn/epoch_12.pth --eval segm
#   python tools/model_inference.py -config work_dirs/slumps_mask_rcnn/slumps_mask_rcnn.py -ckpt K -input scenes/ \
#       -output predictions/ --geojson
# Bands: num_bands is the tiles' band count (tools/raster_to_coco.py -b); on the command line set
# model.backbone.in_channels. From an RGB ImageNet ResNet-50 (a local file, e.g. torchvision's resnet50-0676ba61.pth):
#   --cfg-options model.backbone.checkpoint=/path/resnet50.pth "model.backbone.checkpoint_bands=[2,1,0,None,None,None]"
# (the input band holding red, green, blue takes that channel's kernel; see geospatial_mm/models/backbones/
# multiband_resnet.py). Without it the backbone trains from scratch, with batch statistics (norm_eval=False).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
    './_base_/datasets/slumps_coco.py',
]
custom_imports = dict(imports=['geospatial_mm'], allow_failed_imports=False)
default_scope = 'mmdet'
num_bands = 6

model = dict(
    # per-image, per-band standardisation (the original's local standardisation); for fixed statistics use
    # mean=[...], std=[...] (one value per band) and local_standardization=False
    data_preprocessor=dict(_delete_=True, type='MultiBandDetDataPreprocessor', local_standardization=True,
                           nodata=0.0, pad_mask=True, pad_size_divisor=32),
    backbone=dict(_delete_=True, type='MultiBandResNet', depth=50, in_channels=num_bands, num_stages=4,
                  out_indices=(0, 1, 2, 3), frozen_stages=-1, norm_cfg=dict(type='BN', requires_grad=True),
                  norm_eval=False, style='pytorch', checkpoint=None, checkpoint_bands=None),
    roi_head=dict(bbox_head=dict(num_classes=1), mask_head=dict(num_classes=1)))

default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3, save_best='coco/segm_mAP',
                                     rule='greater'))
