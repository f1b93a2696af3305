#!/usr/bin/env python
"""Write small, learnable synthetic datasets laid out on disk exactly like the real ones.

    python tools/make_demo_data.py OUT [--datasets burn_scars sen1floods11 crop slumps] [--size 512] [--scenes 8 4]

* ``burn_scars``: OUT/hls_burn_scars/{training,validation}/subsetted_512x512_HLS.S30.T<tile>.<yyyyddd>.v1.4_merged.tif
  (6 float32 reflectance bands, nodata -9999) and ``.mask.tif`` (int16: 1 burn scar, 0 unburnt, -1 missing);
  with ``--scene-sizes 512 2048`` also OUT/hls_burn_scars/scenes/ with scenes of those sizes (for model_inference).
* ``sen1floods11``: OUT/sen1floods11/v1.1/data/flood_events/HandLabeled/{S2Hand,LabelHand}/<id>_{S2Hand,LabelHand}.tif
  (13-band int16 Sentinel-2 x 10000; labels int16 1 water, 0 no water, -1 no data), chip ids taken from the real
  split files, and OUT/sen1floods11/splits/{train,val,test,bolivia}_split.txt listing the chips written.
* ``crop``: OUT/multi_temporal_crop_classification/{training,validation}_chips/chip_<r>_<c>_merged.tif (18 int16
  bands = 6 bands x 3 dates) and ``.mask.tif`` (uint8: 0 no data, 1-13 classes), with training_data.txt and
  validation_data.txt beside them.
* ``hephaestus``: OUT/hephaestus/Hephaestus_Raw/<FrameID>/interferograms/<primary>_<secondary>/{InSAR.png,
  Coherence.png} (8-bit PNGs of side ``--size``) and OUT/hephaestus/annotations/<uniqueID>.json in the Hephaestus
  annotation format; TRAIN/VAL annotated interferograms dated 2018-2020/2021, half as many again unannotated. Each
  activity type has its own fringe pattern and each intensity level its fringe count.
* ``sen12ms``: OUT/sen12ms/ROIs{1158_spring,1868_summer,1970_fall,2017_winter}/{s1,s2,lc}_<n>/
  ROIs<..>_<season>_{s1,s2,lc}_<n>_p<k>.tif (s1: 2 float32 dB bands VV VH; s2: 13 uint16 bands; lc: 4 uint8 bands,
  the first IGBP classes at a coarse resolution, as SEN12MS's MODIS labels) with SEN12MS_holdOutScenes.txt listing
  the hold-out scenes written (official hold-out scene numbers), and OUT/dfc2020/ROIs0000_{validation,test}/
  {s1,s2,lc,dfc}_{validation,0}/ROIs0000_<split>_{s1,s2,lc,dfc}_<n>_p<k>.tif (dfc: DFC classes 1-10 at full
  resolution). TRAIN patches go to the SEN12MS training scenes, VAL patches to each of hold-out, validation, test.
* ``slumps``: OUT/slumps/WV02_20160709_M1BS_10300100591D6600-toa_pansharpen.tif (6-band uint16 TOA reflectance
  x 10000, nodata 0) and trialrun_label.tif (uint8 class raster: 1 slump, 0 background) over a --size x --size part
  of it; scenes/slump_scene_000.tif with its class raster in scene_labels/ for model_inference.
* ``xbd``: OUT/xBD/{tier1,tier3,hold,test}/{images,labels}/<disaster>_<id>_{pre,post}_disaster.{png,json}: RGB
  uint8 PNG pairs (no georeference, like the real ones) and xBD label JSONs (building polygons as WKT, with damage
  subtypes in the post labels); tools/xbd_masks.py turns them into targets.

The HLS, Sen1Floods11 and crop rasters are GeoTIFFs with a CRS and transform. The classes differ in their spectra
(and, for the crops, in how the spectra change between dates; for xBD, in how roofs change between the pre and the
post image), with noise, so a model must learn them but a short run can: training beats chance.
Use ``--cfg-options`` to point a config at the demo splits (the README and tools/demo.sh show how).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # noqa: E402  run from a checkout

from geospatial_mm.demo import MAKERS, default_size  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('out', type=Path, help='output folder (datasets go in sub-folders named as the real ones)')
    parser.add_argument('--datasets', nargs='+', choices=sorted(MAKERS), default=sorted(MAKERS))
    parser.add_argument('--size', type=int, default=None,
                        help='raster side in pixels (default: 224 for crops, 256 for SEN12MS / DFC2020, 512 for the '
                        'others; slumps: the labelled part of the scene)')
    parser.add_argument('--scenes', type=int, nargs=2, default=(12, 4), metavar=('TRAIN', 'VAL'))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--scene-sizes', type=int, nargs='+', default=[], metavar='SIDE',
                        help='burn scars only: also write scenes/ with one scene of each side length, for inference')
    args = parser.parse_args(argv)
    for name in args.datasets:
        extra = dict(scene_sizes=args.scene_sizes) if name == 'burn_scars' else {}
        path = MAKERS[name](args.out, args.size or default_size(name), args.scenes[0], args.scenes[1], args.seed,
                            **extra)
        print(f'{name}: {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
