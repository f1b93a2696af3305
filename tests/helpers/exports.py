"""Tiny versions of the configs that tools/export.py must export (Prithvi with 1 and 3 frames, the land-cover UNet
and DeepLabv3+, the Siamese xView2 model), as config overrides, and rasters of their inputs."""
from __future__ import annotations

import numpy as np

from geospatial_mm.datasets.sen12ms_schema import dfc_metainfo
from geospatial_mm.export import export_model
from .commands import ROOT
from .models import BURN, CROP, TINY_PRITHVI, make_checkpoint
from .rasters import write_geotiff
from .xbd_data import CONFIG as XVIEW2
from .xbd_data import TINY as TINY_XVIEW2

DFC_UNET = ROOT / 'configs' / 'dfc2020_unet.py'
DFC_DEEPLAB = ROOT / 'configs' / 'dfc2020_deeplabv3plus.py'
WINDOW = {'model.test_cfg.crop_size': (32, 32), 'model.test_cfg.stride': (16, 16)}
TINY_CROP = {'model.backbone.arch': dict(embed_dim=64, depth=2, num_heads=4, patch_size=16, tubelet_size=1),
             'model.backbone.pretrained': None, 'model.backbone.allow_unexpected_keys': [],
             'model.neck.embed_dim': 64, 'model.neck.out_channels': 24, 'model.decode_head.in_channels': 24,
             'model.decode_head.channels': 8, 'model.auxiliary_head.in_channels': 24,
             'model.auxiliary_head.channels': 8, **WINDOW}
TINY_UNET = {'model.backbone.base_channels': 8, 'model.backbone.num_stages': 3, 'model.backbone.strides': [1, 1, 1],
             'model.backbone.enc_num_convs': [1, 1, 1], 'model.backbone.dec_num_convs': [1, 1],
             'model.backbone.downsamples': [True, True], 'model.backbone.enc_dilations': [1, 1, 1],
             'model.backbone.dec_dilations': [1, 1], 'model.decode_head.in_channels': 8,
             'model.decode_head.channels': 8, 'model.decode_head.in_index': 2, **WINDOW}
TINY_DEEPLAB = {'model.backbone.depth': 18, 'model.backbone.base_channels': 8, 'model.backbone.stem_channels': 8,
                'model.decode_head.in_channels': 64, 'model.decode_head.channels': 16,
                'model.decode_head.c1_in_channels': 8, 'model.decode_head.c1_channels': 8, **WINDOW}
# name -> (config, overrides, the checkpoint's dataset_meta or None for the config's): every segmentation task the
# export must cover (DFC2020's classes are set by its dataset, from no_savanna)
EXPORTS = {'prithvi_1_frame': (BURN, TINY_PRITHVI, None), 'prithvi_3_frames': (CROP, TINY_CROP, None),
           'dfc2020_unet': (DFC_UNET, TINY_UNET, dfc_metainfo(no_savanna=True)),
           'dfc2020_deeplabv3plus': (DFC_DEEPLAB, TINY_DEEPLAB, dfc_metainfo(no_savanna=True)),
           'xview2_siamese': (XVIEW2, dict(TINY_XVIEW2, **WINDOW), None)}


def write_inputs(name: str, folder, height: int = 70, width: int = 90, seed: int = 0) -> dict:
    """Input rasters of the config ``name`` (with a nodata corner) in the layout tools/model_inference.py takes:
    ``{'input': folder, 'post_input': folder or None}``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    if name == 'prithvi_1_frame':  # HLS reflectance, float, nodata -9999
        data = rng.uniform(0.0, 0.4, (6, height, width)).astype(np.float32)
        data[:, :6, :9] = -9999
        write_geotiff(folder / 'scene_merged.tif', data, nodata=-9999, tiled=True, block=16)
        return dict(input=folder, post_input=None, input_type='_merged.tif')
    if name == 'prithvi_3_frames':  # three dates of six bands stacked, int16 reflectance x 10000
        data = rng.integers(300, 4000, (18, height, width)).astype(np.int16)
        data[:, :6, :9] = -9999
        write_geotiff(folder / 'chip_merged.tif', data, nodata=-9999, tiled=True, block=16)
        return dict(input=folder, post_input=None, input_type='_merged.tif')
    if name.startswith('dfc2020'):  # Sentinel-2 (13 bands) and Sentinel-1 (2 bands) in sibling folders
        s2 = rng.integers(1, 10000, (13, height, width)).astype(np.uint16)
        s2[:, :6, :9] = 0  # the Sentinel-2 file's nodata
        s1 = rng.uniform(-30, 0, (2, height, width)).astype(np.float32)
        s1[:, 20:24, 30:40] = np.nan  # S1 NaN: 0 dB, not nodata
        write_geotiff(folder / 's2' / 'roi_s2_1.tif', s2, nodata=0, tiled=True, block=16)
        write_geotiff(folder / 's1' / 'roi_s1_1.tif', s1, tiled=True, block=16)
        return dict(input=folder, post_input=None, input_type='tif')
    pre = rng.integers(1, 256, (3, height, width)).astype(np.uint8)  # xView2: RGB pre/post pairs
    post = np.clip(pre.astype(int) + rng.integers(-60, 60, pre.shape), 1, 255).astype(np.uint8)
    post[:, :6, :9] = 0  # outside the post image's footprint (its nodata)
    write_geotiff(folder / 'pre' / 'joplin_00000001_pre_disaster.tif', pre, nodata=0, tiled=True, block=16)
    write_geotiff(folder / 'post' / 'joplin_00000001_post_disaster.tif', post, nodata=0, tiled=True, block=16)
    return dict(input=folder / 'pre', post_input=folder / 'post', input_type='tif')


def export_tiny(folder, fmt: str = 'pt2'):
    """tools/export.py's file (``fmt``: 'pt2' or 'onnx') of the burn-scars config with a tiny Prithvi and random
    weights, for any batch size, in ``folder``."""
    ckpt = make_checkpoint(BURN, folder / 'model.pth', TINY_PRITHVI)
    output = folder / f'burn_scars.{fmt}'
    export_model(str(BURN), str(ckpt), str(output), cfg_options=TINY_PRITHVI)
    return output
