"""--precision: the model under torch's autocast in bf16, and the int8 .onnx, give the fp32 class map of a trained
model, for a UNet and for Prithvi; auto takes bf16 only where the hardware computes it."""
import json

import numpy as np
import pytest
import rasterio
from helpers.commands import BIN, ROOT, data_root_options, run
from helpers.geotiff_seg_data import make_geotiff_seg_dataset
from helpers.model_inference import tool
from helpers.models import BURN, TINY, TINY_PRITHVI

from geospatial_mm.export import export_model
from geospatial_mm.inference.exported_model import ExportedModel
from geospatial_mm.inference.openmmlab_model import OpenMMLabModel
from geospatial_mm.inference.precision import Precision, choose_precision, cpu_flags
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
        predictor = SegmentationRasterPredictor(model, tile=64, stride=32, probabilities=True)
        out = predictor.predict(sample, tmp_path / precision)
        with rasterio.open(out['classes']) as classes, rasterio.open(out['probabilities']) as probs:
            maps[precision] = (classes.read(1), probs.read())
    fp32, bf16 = maps['fp32'], maps['bf16']
    assert len(set(np.unique(fp32[0])) - {255}) >= 2  # several classes occur: the comparison means something
    agree = (fp32[0] == bf16[0]).mean()
    assert agree >= 0.999, agree
    assert 0 < np.abs(fp32[1] - bf16[1]).max() < 0.1  # bf16 really ran, and stayed close
    with pytest.raises(ValueError, match='precision must be one of'):
        OpenMMLabModel(TINY, str(ckpt), precision='fp8')


PRITHVI = {k: v for k, v in TINY_PRITHVI.items() if 'test_cfg' not in k}  # the config's own tiles: 224 every 112


WEIGHTED = """_base_ = [{base!r}]
# the Lovasz-softmax loss weighs each class's IoU alike: a tiny Prithvi learns the rare burn scars within a few dozen
# iterations (with the config's Dice loss it first predicts background everywhere)
loss = dict(_delete_=True, type='LovaszLoss', loss_type='multi_class', per_image=False, reduction='none')
model = dict(decode_head=dict(loss_decode=loss), auxiliary_head=dict(loss_decode=loss))
"""


@pytest.fixture(scope='module')
def prithvi(tmp_path_factory):
    """The burn-scars config with a tiny Prithvi and the Lovasz loss, trained for 60 iterations on the demo's
    HLS chips; a demo scene of 448² and the folder of the training chips."""
    from geospatial_mm.demo import burn_scars
    data = burn_scars.make(tmp_path_factory.mktemp('hls'), 224, 8, 2, 0, scene_sizes=(448,))
    work = tmp_path_factory.mktemp('prithvi')
    config = work / 'burn_scars_weighted.py'
    config.write_text(WEIGHTED.format(base=str(BURN)))
    options = [f'{k}={v}'.replace(' ', '') for k, v in PRITHVI.items()]
    run([BIN / 'python', ROOT / 'tools' / 'train.py', config, '--work-dir', work, '--cfg-options', *options,
         *data_root_options(data), 'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
         'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
         'val_dataloader.persistent_workers=False', 'test_dataloader.num_workers=0',
         'test_dataloader.persistent_workers=False', 'optim_wrapper.optimizer.lr=0.001',
         'train_cfg.type=IterBasedTrainLoop', 'train_cfg.max_iters=60', 'train_cfg.val_interval=60',
         'default_hooks.checkpoint.by_epoch=False', 'default_hooks.checkpoint.interval=60', 'param_scheduler=[]',
         'randomness.seed=0'])  # one training, always: with a seed drawn per run a few end up predicting one class
    return config, work / 'iter_60.pth', next((data / 'scenes').glob('*_merged.tif')), data / 'training'


def class_map(model, path, folder, tile: int | None, stride: int | None) -> np.ndarray:
    sample = Sample('scene', {'img_path': str(path)}, str(path))
    out = SegmentationRasterPredictor(model, tile=tile, stride=stride).predict(sample, folder)
    with rasterio.open(out['classes']) as src:
        return src.read(1)


@pytest.mark.parametrize('name', ['unet', 'prithvi'])
def test_bf16_and_int8_give_the_fp32_class_map_of_a_trained_model(name, trained, prithvi, tmp_path):
    """bf16 autocast on >= 99.9 % of the pixels, the int8 .onnx (static calibration on the training rasters for the
    UNet's convolutions, dynamic for the ViT's matmuls) on >= 99.5 % of the pixels, against fp32, on a scene that
    neither calibration nor the export's own check saw."""
    if name == 'unet':
        (ckpt, scene), config, options, method, tile, stride, probes = trained, TINY, {}, 'static', 64, 32, 8
        calibration, suffix = scene.parents[1] / 'train', '.tif'
    else:
        (config, ckpt, scene, calibration), options, method, tile, stride, probes = \
            prithvi, PRITHVI, 'dynamic', None, None, 4
        suffix = '_merged.tif'
    maps = {p: class_map(OpenMMLabModel(str(config), str(ckpt), precision=p, cfg_options=options), scene,
                         tmp_path / p, tile, stride) for p in ('fp32', 'bf16')}
    valid = maps['fp32'] != 255
    assert len(set(np.unique(maps['fp32'][valid]))) >= 2  # the model decides something: the comparison means a lot
    assert (maps['bf16'] == maps['fp32'])[valid].mean() >= 0.999
    for fmt, quantize in (('fp32', None), ('int8', 'int8')):
        meta = export_model(str(config), str(ckpt), str(tmp_path / f'{fmt}.onnx'), tile=tile, cfg_options=options,
                            quantize=quantize, calibration=method, min_agreement=99.5, probes=probes,
                            calibration_input=str(calibration), input_type=suffix)
        maps[f'onnx_{fmt}'] = class_map(ExportedModel(str(tmp_path / f'{fmt}.onnx')), scene, tmp_path / f'o{fmt}',
                                        None, stride)
    assert (maps['onnx_fp32'] == maps['fp32'])[valid].mean() >= 0.999
    assert (maps['onnx_int8'] == maps['onnx_fp32'])[valid].mean() >= 0.995
    int8 = ExportedModel(str(tmp_path / 'int8.onnx'))
    assert int8.precision == 'int8' and int8.metadata['quantization'] == meta['quantization']
    assert meta['quantization']['method'] == method and meta['quantization']['probe_source'] == 'rasters'
    assert meta['quantization']['agreement_percent'] >= 99.5


@pytest.mark.parametrize('flags, expected', [
    ({'avx2', 'fma'}, 'fp32'), ({'avx512f', 'avx512_vnni'}, 'fp32'), ({'avx512f', 'avx512_bf16'}, 'bf16'),
    ({'amx_tile', 'amx_bf16'}, 'bf16'), (set(), 'fp32')])
def test_auto_takes_bf16_only_where_the_cpu_computes_it_natively(flags, expected):
    choice = choose_precision('auto', 'cpu', flags=frozenset(flags))
    assert choice.name == expected and choice.reason.startswith('auto: ')
    assert choose_precision('auto', 'cpu', runtime='onnx', flags=frozenset(flags)).name == 'fp32'
    assert choose_precision('bf16', 'cpu', flags=frozenset(flags)) == Precision('bf16', 'asked for')
    with pytest.raises(ValueError, match='precision must be one of'):
        choose_precision('int4', 'cpu')


def test_cpu_flags_are_read_from_the_kernels_report():
    text = 'processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx2 avx512_bf16\n\nprocessor\t: 1\n'
    assert cpu_flags(text) == frozenset({'fpu', 'sse2', 'avx2', 'avx512_bf16'})
    assert cpu_flags('Features\t: fp asimd bf16\n') == frozenset({'fp', 'asimd', 'bf16'})
    assert cpu_flags('') == frozenset()


def test_model_inference_says_which_precision_auto_chose_and_why(trained, tmp_path):
    ckpt, scene = trained
    summary = tmp_path / 'summary.json'
    proc = tool('-config', TINY, '-ckpt', ckpt, '-input', scene, '-output', tmp_path / 'out', '--summary', summary)
    expected = choose_precision('auto', 'cpu')
    report = json.loads(summary.read_text())
    assert (report['precision'], report['precision_reason']) == (expected.name, expected.reason)
    assert f'in {expected.name} ({expected.reason})' in proc.stdout
