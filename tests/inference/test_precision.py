"""--precision: the model under torch's autocast in bf16 gives the fp32 class map, on the CPU too."""
import numpy as np
import pytest
import rasterio
from helpers.commands import BIN, ROOT, data_root_options, run
from helpers.geotiff_seg_data import make_geotiff_seg_dataset
from helpers.models import TINY

from geospatial_mm.inference.openmmlab_model import OpenMMLabModel
from geospatial_mm.inference.segmentation import SegmentationRasterPredictor
from geospatial_mm.inference.sources import Sample

pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """The tiny GeoTIFF UNet trained for 60 iterations (a model with real decisions, not random near-ties), and a
    160 x 160 scene made like its data."""
    root = make_geotiff_seg_dataset(tmp_path_factory.mktemp('data'), n_train=8, n_val=2, size=160, seed=1)
    work = tmp_path_factory.mktemp('work')
    run([BIN / 'python', ROOT / 'tools' / 'train.py', TINY, '--work-dir', work, '--cfg-options',
         *data_root_options(root), 'train_cfg.max_iters=60', 'train_cfg.val_interval=60',
         'default_hooks.checkpoint.interval=60'])
    return work / 'iter_60.pth', root / 'img_dir' / 'val' / 'scene_000.tif'


def test_bf16_gives_the_fp32_class_map_on_at_least_999_of_1000_pixels(trained, tmp_path):
    ckpt, path = trained
    sample = Sample('scene', {'img_path': str(path)}, str(path))
    maps = {}
    for precision in ('fp32', 'bf16'):
        model = OpenMMLabModel(TINY, str(ckpt), precision=precision)
        predictor = SegmentationRasterPredictor(model, tile=64, stride=32)
        out = predictor.predict(sample, tmp_path / precision, probabilities=True)
        with rasterio.open(out['classes']) as classes, rasterio.open(out['probabilities']) as probs:
            maps[precision] = (classes.read(1), probs.read())
    fp32, bf16 = maps['fp32'], maps['bf16']
    assert len(set(np.unique(fp32[0])) - {255}) >= 2  # several classes occur: the comparison means something
    agree = (fp32[0] == bf16[0]).mean()
    assert agree >= 0.999, agree
    assert 0 < np.abs(fp32[1] - bf16[1]).max() < 0.1  # bf16 really ran, and stayed close
    with pytest.raises(ValueError, match='precision must be one of'):
        OpenMMLabModel(TINY, str(ckpt), precision='fp8')
