"""Streaming inference with the Siamese xView2 model: pairs from one xBD images/ folder, blended folded logits, the
head's probabilities."""
import numpy as np
import rasterio
import torch
from helpers.models import make_checkpoint
from helpers.xbd_data import CONFIG, TINY

from geospatial_mm.inference.openmmlab_model import OpenMMLabModel
from geospatial_mm.inference.segmentation import SegmentationRasterPredictor
from geospatial_mm.inference.sources import find_pairs
from geospatial_mm.io import write_png

OPTIONS = dict(TINY, **{'model.test_cfg.crop_size': (32, 32), 'model.test_cfg.stride': (16, 16)})


def test_pre_and_post_images_in_one_folder_pair_up(tmp_path):
    for name in ('joplin-tornado_00000001', 'joplin-tornado_00000002', 'moore-tornado_00000000'):
        for when in ('pre', 'post'):
            write_png(tmp_path / f'{name}_{when}_disaster.png', np.zeros((3, 4, 4), np.uint8))
    (tmp_path / 'moore-tornado_00000000_post_disaster.png').unlink()
    samples = find_pairs(tmp_path, tmp_path, '.png')
    good = {s.name: s.paths for s in samples if not s.problem}
    assert good == {f'joplin-tornado_0000000{i}_disaster': dict(
        img_path=str(tmp_path / f'joplin-tornado_0000000{i}_pre_disaster.png'),
        post_img_path=str(tmp_path / f'joplin-tornado_0000000{i}_post_disaster.png')) for i in (1, 2)}
    [missing] = [s for s in samples if s.problem]
    assert missing.problem.startswith(f'{tmp_path}/moore-tornado_00000000_pre_disaster.png: no post image')


def test_streamed_damage_map_equals_the_segmentors_sliding_window(tmp_path):
    """Tiles of a pair blended in a rolling band give mmseg's slide inference of the same model (what mim test
    runs): the same damage classes and, through the head's own conversion, the same probabilities."""
    from mmcv.transforms import Compose

    from geospatial_mm.inference.model import test_dataset_cfg
    from geospatial_mm.models.heads.siamese_change_head import SiameseChangeHead
    ckpt = make_checkpoint(CONFIG, tmp_path / 'siamese.pth', OPTIONS)
    rng = np.random.default_rng(0)
    pre = rng.integers(0, 255, (3, 80, 112), dtype=np.uint8)
    post = pre.copy()
    post[:, 20:50, 30:70] = 40
    paths = dict(img_path=str(write_png(tmp_path / 'in' / 'x_00000000_pre_disaster.png', pre)),
                 post_img_path=str(write_png(tmp_path / 'in' / 'x_00000000_post_disaster.png', post)))
    predictor = SegmentationRasterPredictor(OpenMMLabModel(CONFIG, str(ckpt), cfg_options=OPTIONS), batch_size=4,
                                            probabilities=True)
    assert (predictor.tile, predictor.stride) == (32, 16)
    [sample] = find_pairs(tmp_path / 'in', tmp_path / 'in', '.png')
    outputs = predictor.predict(sample, tmp_path / 'out')
    with rasterio.open(outputs['classes']) as src:
        classes = src.read(1)
        colormap = src.colormap(1)
    with rasterio.open(outputs['probabilities']) as src:
        probs = src.read()

    pipeline = Compose([t for t in test_dataset_cfg(predictor.model.cfg)['pipeline']
                        if t['type'] != 'LoadGeospatialAnnotations'])
    packed = pipeline(dict(paths))
    model = predictor.model.network
    with torch.no_grad():
        data = model.data_preprocessor(dict(inputs=[packed['inputs']], data_samples=[packed['data_samples']]), False)
        logits = model.slide_inference(data['inputs'], [s.metainfo for s in data['data_samples']])[0].numpy()
    np.testing.assert_array_equal(classes, logits.argmax(0))
    assert len(np.unique(classes)) > 1
    np.testing.assert_allclose(probs, SiameseChangeHead.probabilities_from_logits(logits), atol=2e-5)
    np.testing.assert_allclose(probs.sum(0), 1.0, atol=1e-5)
    assert colormap[4][:3] == (220, 20, 30) and colormap[1][:3] == (40, 180, 60)
