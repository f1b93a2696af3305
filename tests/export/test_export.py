"""tools/export.py and tools/model_inference.py -model: every segmentation task exported to .pt2 and .onnx predicts
what the full tool predicts, in a process where the OpenMMLab libraries (and, for .onnx, torch) cannot be imported."""
from __future__ import annotations

import json
import re
import zipfile

import numpy as np
import pytest
import rasterio
from helpers.commands import BIN, ROOT, run, run_main
from helpers.exports import EXPORTS, TINY_PRITHVI, write_inputs
from helpers.model_inference import tool
from helpers.models import BURN, TINY_DET, make_checkpoint

from geospatial_mm.compat.trust import TRUST_ENV
from geospatial_mm.export import ExportError, export_model
from geospatial_mm.export.graph import InputMap, check_input_map, fit_input_map
from geospatial_mm.inference.exported_format import ExportedModelError, read_pt2_metadata
from geospatial_mm.inference.pt2_archive import check_pt2_archive

pytestmark = pytest.mark.slow
TOOL = ROOT / 'tools' / 'model_inference.py'
EXPORT = ROOT / 'tools' / 'export.py'


def tool_args(inputs: dict, output) -> list[str]:
    args = ['-input', str(inputs['input']), '-output', str(output), '-input_type', inputs['input_type'],
            '--probabilities', '--no-progress']
    return args + (['--post-input', str(inputs['post_input'])] if inputs['post_input'] else [])


def full_tool(config, ckpt, options: dict, inputs: dict, output) -> None:
    """What tools/model_inference.py does with the config and checkpoint, through the Python API in this process (the
    overrides include values the command line cannot spell, such as a backbone's arch dict)."""
    from geospatial_mm.apis import init_model, predict
    model = init_model(config, ckpt, cfg_options=options)
    summary = predict(model, inputs['input'], output, input_type=inputs['input_type'],
                      post_input=inputs['post_input'], probabilities=True, progress=False)
    assert summary.exit_status == 0


def light_tool(model_file, inputs: dict, output, block_torch: bool) -> dict:
    """tools/model_inference.py -model in a fresh process where mmcv, mmengine, mmseg, mmdet, mmpretrain (and torch)
    raise on import; returns what it imported of the heavy libraries."""
    also = ['--also', 'torch'] if block_torch else []
    proc = run([BIN / 'python', '-m', 'helpers.blocked_imports', *also, TOOL, '-model', model_file,
                *tool_args(inputs, output)], env={TRUST_ENV: ''})  # exported files load without the trust opt-in
    return json.loads(re.search(r'BLOCKED_IMPORTS (\{.*\})', proc.stdout).group(1))


@pytest.fixture(scope='module', params=sorted(EXPORTS))
def exported(request, tmp_path_factory):
    name = request.param
    config, options, meta = EXPORTS[name]
    folder = tmp_path_factory.mktemp(name)
    ckpt = make_checkpoint(config, folder / 'model.pth', options, dataset_meta=meta)
    files = {fmt: folder / f'{name}.{fmt}' for fmt in ('pt2', 'onnx')}
    checks = {fmt: export_model(str(config), str(ckpt), str(path), cfg_options=options)['check']
              for fmt, path in files.items()}
    inputs = write_inputs(name, folder / 'inputs')
    full_tool(config, ckpt, options, inputs, folder / 'full')
    return name, folder, files, checks, inputs


def outputs(folder):
    pred = next(folder.glob('*_pred.tif'))
    with rasterio.open(pred) as src, rasterio.open(next(folder.glob('*_prob.tif'))) as prob:
        return dict(name=pred.name, classes=src.read(1), colormap=src.colormap(1), crs=src.crs,
                    transform=src.transform, nodata=src.nodata, probabilities=prob.read())


@pytest.mark.parametrize('fmt', ['pt2', 'onnx'])
def test_the_exported_model_predicts_what_the_full_tool_predicts_without_the_openmmlab_stack(exported, fmt,
                                                                                              tmp_path):
    name, folder, files, checks, inputs = exported
    assert checks[fmt]['max_abs_logit_difference'] < 1e-4  # the export's own check on a probe
    imported = light_tool(files[fmt], inputs, tmp_path / 'light', block_torch=fmt == 'onnx')
    assert imported['code'] == 0
    assert imported['imported'] == (['onnxruntime'] if fmt == 'onnx' else ['torch'])
    full, light = outputs(folder / 'full'), outputs(tmp_path / 'light')
    assert light['name'] == full['name']
    assert (light['crs'], light['transform'], light['nodata']) == (full['crs'], full['transform'], full['nodata'])
    assert light['colormap'] == full['colormap']
    nodata = full['classes'] == 255
    assert nodata.any() and np.array_equal(light['classes'] == 255, nodata)
    agree = (light['classes'] == full['classes'])[~nodata].mean()
    assert agree >= 0.999, (name, fmt, agree)
    np.testing.assert_allclose(light['probabilities'], full['probabilities'], atol=1e-4, rtol=0)


def test_every_exported_archive_passes_the_safety_check_and_holds_no_sample_inputs(exported):
    files = exported[2]
    check_pt2_archive(files['pt2'])
    with zipfile.ZipFile(files['pt2']) as archive:
        samples = [i.file_size for i in archive.infolist() if '/data/sample_inputs/' in i.filename]
    assert samples == [0]


def test_metadata_describes_the_inputs_tile_classes_and_probability_rule(exported):
    name, _, files, _, _ = exported
    meta = read_pt2_metadata(files['pt2'])
    config, _, _ = EXPORTS[name]
    assert meta['config'] == config.name and meta['tile'] == 32 and meta['stride'] == 16
    assert meta['input']['batch'] == 'dynamic' and meta['classes']
    rules = {'xview2_siamese': 'building_damage'}
    assert meta['probability_rule'] == rules.get(name, 'softmax')
    spec = meta['spec']
    if name == 'prithvi_3_frames':
        assert meta['input']['frames'] == 3 and meta['input']['channels'] == 18
    if name == 'xview2_siamese':
        assert spec['is_pair'] and spec['path_keys'] == ['img_path', 'post_img_path']
    if name.startswith('dfc2020'):
        assert spec['source_bands'] == {'s2_path': [1, 2, 3, 4, 5, 6, 7, 8, 11, 12], 's1_path': [0, 1]}
        assert spec['readers']['s1_path']['clip'] is not None  # each file's own scaling travels with the model


def test_export_tool_writes_the_file_and_says_what_it_checked(tmp_path):
    ckpt = make_checkpoint(BURN, tmp_path / 'burn.pth', TINY_PRITHVI)
    options = [f'{k}={v}'.replace(' ', '') for k, v in TINY_PRITHVI.items()]
    out = tmp_path / 'deploy' / 'burn_scars.onnx'
    proc = run_main(EXPORT, [BURN, ckpt, out, '--cfg-options', *options])
    assert out.is_file() and f'wrote {out}' in proc.stdout and 'largest logit difference' in proc.stdout
    assert not [p for p in out.parent.iterdir() if p != out]  # no temporary left beside it
    bad = run_main(EXPORT, [BURN, ckpt, tmp_path / 'burn.onnx', '--format', 'torch'], check=False)
    assert bad.returncode == 2 and '--format torch writes a pt2 file' in bad.stderr


def test_int8_is_written_only_above_the_agreement_asked_for_and_records_it(tmp_path):
    """--quantize int8: the class map of the int8 model is compared with fp32's on tiles of the calibration rasters
    before the file is renamed into place; an agreement that cannot be met leaves nothing behind and says why."""
    ckpt = make_checkpoint(BURN, tmp_path / 'burn.pth', TINY_PRITHVI)
    options = [f'{k}={v}'.replace(' ', '') for k, v in TINY_PRITHVI.items()]
    inputs = write_inputs('prithvi_1_frame', tmp_path / 'inputs')
    out = tmp_path / 'deploy' / 'burn_int8.onnx'
    base = [BURN, ckpt, out, '--quantize', 'int8', '--calibration', 'static', '--calibration-input',
            inputs['input'], '--input-type', inputs['input_type'], '--probes', '2', '--cfg-options', *options]
    # no model can agree on more than 100 %
    refused = run_main(EXPORT, base + ['--min-agreement', '100.01'], check=False)
    assert refused.returncode == 2, refused.stderr
    assert re.search(r'the int8 model \(static\) gives the fp32 model\'s class on [\d.]+ % of \d+ pixels of rasters, '
                     r'below --min-agreement 100.01 %: nothing written', refused.stderr)
    assert not out.exists() and not list(out.parent.iterdir())
    proc = run_main(EXPORT, base + ['--min-agreement', '0'])
    assert re.search(r'int8 \(static\): the class map agrees with fp32 on [\d.]+ % of \d+ pixels of rasters',
                     proc.stdout)
    from geospatial_mm.inference.exported_model import ExportedModel
    model = ExportedModel(str(out))
    quantization = model.metadata['quantization']
    assert model.precision == 'int8' and quantization['method'] == 'static'
    assert quantization['probe_source'] == 'rasters'
    assert 0 <= quantization['agreement_percent'] <= 100 and quantization['probe_pixels'] == 2 * 32 * 32
    import onnx
    assert any(n.op_type in ('QuantizeLinear', 'QLinearConv', 'ConvInteger', 'MatMulInteger')
               for n in onnx.load(str(out)).graph.node)  # really quantized
    for extra, message in ((['--probes', '0'], '--probes must be at least 1'),
                           (['--probes', '500'], 'tiles of 32 px, 1000 needed: give more or larger rasters')):
        bad = run_main(EXPORT, base + ['--min-agreement', '0'] + extra, check=False)
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr
    pt2 = run_main(EXPORT, [BURN, ckpt, tmp_path / 'b.pt2', '--quantize', 'int8', '--cfg-options', *options],
                   check=False)
    assert pt2.returncode == 2 and '--quantize int8 writes an .onnx model' in pt2.stderr


def test_detection_configs_are_refused_with_the_reason(tmp_path):
    ckpt = make_checkpoint(TINY_DET, tmp_path / 'det.pth')
    with pytest.raises(ExportError, match=r'detection configs \(Mask R-CNN, default_scope mmdet\) cannot be exported'):
        export_model(str(TINY_DET), str(ckpt), str(tmp_path / 'det.pt2'))
    assert not (tmp_path / 'det.pt2').exists()


def test_a_file_that_is_not_an_export_and_wrong_options_get_clear_errors(tmp_path):
    foreign = tmp_path / 'foreign.pt2'
    foreign.write_bytes(b'not a zip')
    with pytest.raises(ExportedModelError, match='not a readable .pt2 archive'):
        read_pt2_metadata(foreign)
    ckpt = make_checkpoint(BURN, tmp_path / 'burn.pth', TINY_PRITHVI)
    model_file = tmp_path / 'burn.onnx'
    export_model(str(BURN), str(ckpt), str(model_file), cfg_options=TINY_PRITHVI)
    inputs = write_inputs('prithvi_1_frame', tmp_path / 'inputs')
    proc = tool('-model', model_file, *tool_args(inputs, tmp_path / 'o'), '--tile', '64', check=False)
    assert proc.returncode == 2 and 'was exported for tiles of 32 px, not 64' in proc.stderr
    proc = tool('-model', model_file, '-config', BURN, *tool_args(inputs, tmp_path / 'o'), check=False)
    assert proc.returncode == 2 and '-model replaces -config, -ckpt and --cfg-options' in proc.stderr
    proc = tool('-model', model_file, *tool_args(inputs, tmp_path / 'o'), '--precision', 'bf16', check=False)
    assert proc.returncode == 2 and 'an .onnx model runs in fp32' in proc.stderr


def test_the_input_map_is_measured_and_a_pipeline_that_is_not_per_channel_affine_is_refused():
    rng = np.random.default_rng(0)
    read = rng.uniform(0, 1000, (6, 8, 8)).astype(np.float32)
    scale, shift = rng.uniform(0.5, 2, 6), rng.uniform(-3, 3, 6)
    frames = (read * scale[:, None, None] + shift[:, None, None]).reshape(3, 2, 8, 8).transpose(1, 0, 2, 3)
    fitted = fit_input_map(read, frames)  # (C=2, T=3) model input from frame-major read channels
    assert fitted.frames == 3
    np.testing.assert_allclose(fitted.scale, scale, rtol=1e-5)
    np.testing.assert_allclose(fitted.shift, shift, rtol=1e-4, atol=1e-4)
    other = rng.uniform(0, 1000, (6, 8, 8)).astype(np.float32)
    check_input_map(fitted, other, InputMap(scale.astype(np.float32), shift.astype(np.float32), 3).apply(other))
    with pytest.raises(ExportError, match='not a per-channel affine map'):
        check_input_map(fitted, other, np.sqrt(other).reshape(3, 2, 8, 8).transpose(1, 0, 2, 3))
    with pytest.raises(ExportError, match='a resize or crop cannot be exported'):
        fit_input_map(read, read[:, :4, :4])
