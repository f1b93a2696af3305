"""tools/model_inference.py end to end: folders of GeoTIFFs, bad files, kills, ranks, frames, pairs, COG, previews."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import rasterio
from helpers.commands import ROOT
from helpers.model_inference import TOOL, scene, tool, valid_prediction
from helpers.models import CROP, PAIR, TINY, make_checkpoint
from helpers.rasters import write_geotiff
from rasterio.transform import from_origin

pytestmark = pytest.mark.slow  # trainings and tool runs in subprocesses (make test-fast skips them)


@pytest.fixture(scope='module')
def tiny_ckpt(tmp_path_factory):
    return make_checkpoint(TINY, tmp_path_factory.mktemp('ckpt') / 'tiny.pth')


def test_a_corrupt_file_among_good_ones_is_reported_and_the_others_complete(tmp_path, tiny_ckpt):
    inputs = tmp_path / 'in'
    good = [scene(inputs / f'good_{i}.tif', 40 + 10 * i, 50, seed=i) for i in range(2)]
    truncated = inputs / 'broken.tif'
    truncated.write_bytes(good[0].read_bytes()[:2000])  # a cut-off download
    wrong_bands = write_geotiff(inputs / 'three_bands.tif', np.ones((3, 40, 40), np.int16))
    summary = tmp_path / 'summary.json'
    proc = tool('-config', TINY, '-ckpt', tiny_ckpt, '-input', inputs, '-output', tmp_path / 'out', '--tile', 32,
                '--stride', 16, '--summary', summary, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert f'FAILED {truncated}' in out and f'FAILED {wrong_bands}' in out
    assert 'channels cannot be normalised' in out or 'band' in out
    assert 'summary: 4 sample(s): 2 predicted, 0 skipped (outputs existed), 2 failed' in out
    for g in good:
        assert valid_prediction(tmp_path / 'out' / f'{g.stem}_pred.tif', g)
    assert not (tmp_path / 'out' / 'broken_pred.tif').exists()
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == ['good_0_pred.tif', 'good_1_pred.tif']
    report = json.loads(summary.read_text())
    status = {s['name']: s['status'] for s in report['samples']}
    assert status == {'good_0': 'ok', 'good_1': 'ok', 'broken': 'failed', 'three_bands': 'failed'}
    assert all(os.path.getsize(p) > 0 for p in (truncated,))  # inputs untouched
    assert truncated.read_bytes() == good[0].read_bytes()[:2000]


def test_an_explicit_band_out_of_range_names_the_file(tmp_path, tiny_ckpt):
    path = scene(tmp_path / 'in' / 'a.tif', 40, 40)
    proc = tool('-config', TINY, '-ckpt', tiny_ckpt, '-input', tmp_path / 'in', '-output', tmp_path / 'out',
                '-bands', '0,1,2,3,4,6', '--tile', 32, check=False)
    assert proc.returncode == 1
    assert f'{path}: band index 6 out of range: the file has 6 band(s)' in proc.stdout


def test_a_killed_run_then_skip_existing_completes_with_valid_outputs(tmp_path, tiny_ckpt):
    inputs, out = tmp_path / 'in', tmp_path / 'out'
    small = [scene(inputs / f'a_{i}.tif', 48, 48, seed=i) for i in range(2)]
    big = scene(inputs / 'b_big.tif', 1024, 1024, seed=5)
    args = ['-config', TINY, '-ckpt', tiny_ckpt, '-input', inputs, '-output', out, '--tile', 32, '--stride', 16,
            '--batch-size', 4, '--probabilities']
    env = dict(os.environ, PYTHONPATH=str(ROOT / 'tests'), OMP_NUM_THREADS='1')
    proc = subprocess.Popen([sys.executable, str(TOOL), *map(str, args), '--no-progress'], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    while time.time() < deadline and not list(out.glob('.b_big_pred.tif.*.tmp.tif')):
        assert proc.poll() is None, proc.stdout.read().decode()
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # what the killed run left: complete outputs of the small files, no big output under its final name
    assert not (out / 'b_big_pred.tif').exists() and not (out / 'b_big_prob.tif').exists()
    assert list(out.glob('.b_big_pred.tif.*.tmp.tif'))  # it was killed mid-write
    for s in small:
        assert valid_prediction(out / f'{s.stem}_pred.tif', s)
    summary = tmp_path / 'summary.json'
    tool(*args, '--skip-existing', '--summary', summary)
    status = {s['name']: s['status'] for s in json.loads(summary.read_text())['samples']}
    assert status == {'a_0': 'skipped', 'a_1': 'skipped', 'b_big': 'ok'}
    assert valid_prediction(out / 'b_big_pred.tif', big)
    with rasterio.open(out / 'b_big_prob.tif') as src:
        assert src.count == 3 and np.allclose(src.read(window=((500, 520), (0, 1024))).sum(0), 1, atol=1e-5)
    assert not list(out.glob('.*'))  # the killed run's temporary files were cleaned up


def test_pre_post_pairs_from_two_folders_matched_by_name(tmp_path):
    ckpt = make_checkpoint(PAIR, tmp_path / 'pair.pth')
    pre, post = tmp_path / 'pre', tmp_path / 'post'
    for i in range(2):
        scene(pre / f'event_{i:03d}_pre_disaster.tif', 40, 48, seed=i)
        scene(post / f'event_{i:03d}_post_disaster.tif', 40, 48, seed=10 + i)
    scene(pre / 'event_009_pre_disaster.tif', 40, 48)  # no post image
    proc = tool('-config', PAIR, '-ckpt', ckpt, '-input', pre, '--post-input', post, '-output', tmp_path / 'out',
                '--tile', 32, check=False)
    assert proc.returncode == 1
    assert 'event_009_pre_disaster.tif: no post image matches it' in proc.stdout
    for i in range(2):
        assert valid_prediction(tmp_path / 'out' / f'event_{i:03d}_disaster_pred.tif',
                                pre / f'event_{i:03d}_pre_disaster.tif')


def test_multi_temporal_inputs_stacked_or_one_file_per_date(tmp_path):
    opts = {'model.backbone.arch': dict(embed_dim=64, depth=2, num_heads=4, patch_size=16, tubelet_size=1),
            'model.backbone.pretrained': None, 'model.backbone.allow_unexpected_keys': [],
            'model.neck.embed_dim': 64, 'model.neck.out_channels': 24, 'model.decode_head.in_channels': 24,
            'model.decode_head.channels': 8, 'model.auxiliary_head.in_channels': 24,
            'model.auxiliary_head.channels': 8, 'model.test_cfg.crop_size': (32, 32), 'model.test_cfg.stride': (16, 16)}
    cli_opts = [f'{k}={v}' for k, v in opts.items() if k != 'model.backbone.arch'] + [
        'model.backbone.arch.embed_dim=64', 'model.backbone.arch.depth=2', 'model.backbone.arch.num_heads=4']
    ckpt = make_checkpoint(CROP, tmp_path / 'crop.pth', opts)
    rng = np.random.default_rng(0)
    dates = [rng.integers(300, 4000, (6, 48, 64)).astype(np.int16) for _ in range(3)]
    stacked = write_geotiff(tmp_path / 'stacked' / 'chip_001_002_merged.tif', np.concatenate(dates))
    for d, data in enumerate(dates):
        write_geotiff(tmp_path / 'dated' / 'chip_001_002' / f'HLS.T13.202{d}150.tif', data)
    (tmp_path / 'dated' / 'incomplete').mkdir()
    write_geotiff(tmp_path / 'dated' / 'incomplete' / 'HLS.T13.2020150.tif', dates[0])
    common = ['-config', CROP, '-ckpt', ckpt, '--cfg-options', *cli_opts]
    tool(*common, '-input', tmp_path / 'stacked', '-output', tmp_path / 'out_stacked', '-input_type', '_merged.tif')
    # one file per date: the model's frames get the same 18 bands, so the prediction is identical
    loader = ['test_dataloader.dataset.pipeline.0.frames=None',
              'test_dataloader.dataset.pipeline.0.bands=[0,1,2,3,4,5]']
    proc = tool(*common, *loader, '-input', tmp_path / 'dated', '-output', tmp_path / 'out_dated', check=False)
    assert proc.returncode == 1
    assert 'incomplete: expected 3 dates' in proc.stdout
    with rasterio.open(tmp_path / 'out_stacked' / 'chip_001_002_pred.tif') as a, \
            rasterio.open(tmp_path / 'out_dated' / 'chip_001_002_pred.tif') as b:
        assert (a.read(1) == b.read(1)).all() and a.read(1).max() < 13
        assert stacked.exists()


def test_cog_output_keeps_the_colour_table_and_a_preview_png_is_written(tmp_path, tiny_ckpt):
    from PIL import Image
    path = scene(tmp_path / 'in' / 'scene.tif', 300, 260, nodata_rows=20)
    labels = tmp_path / 'labels'
    write_geotiff(labels / 'scene.tif', np.zeros((300, 260), np.uint8), transform=from_origin(300000, 5000000, 10, 10))
    tool('-config', TINY, '-ckpt', tiny_ckpt, '-input', path.parent, '-output', tmp_path / 'out', '--tile', 64,
         '--cog', '--preview-dir', tmp_path / 'preview', '--labels', labels)
    with rasterio.open(tmp_path / 'out' / 'scene_pred.tif') as src:
        assert src.tags(ns='IMAGE_STRUCTURE').get('LAYOUT') == 'COG'
        assert src.overviews(1) and src.colormap(1)[1][:3] == (200, 30, 30)
        assert valid_prediction(tmp_path / 'out' / 'scene_pred.tif', path)
    with Image.open(tmp_path / 'preview' / 'scene_preview.png') as im:
        assert im.size[0] == 1200 and 400 < im.size[1] < 600  # input | prediction | label, 400 px wide each


def test_input_scaling_by_name_makes_another_product_s_values_the_model_s(tmp_path, tiny_ckpt):
    """The same scene stored as 2 x DN + 100 (float32): --input-scale/--input-offset replace the loader's scale
    (1e-4 in the config) and offset, wherever it stands in the pipeline, so the model sees the same values."""
    original = scene(tmp_path / 'a' / 'scene.tif', 64, 80, nodata_rows=5)
    with rasterio.open(original) as src:
        dn, profile = src.read(), src.profile
    other = np.where(dn == -9999, -9999, dn.astype(np.float32) * 2 + 100).astype(np.float32)
    write_geotiff(tmp_path / 'b' / 'scene.tif', other, nodata=-9999, transform=profile['transform'])
    common = ['-config', TINY, '-ckpt', tiny_ckpt, '--tile', 32, '--stride', 16, '--probabilities']
    tool(*common, '-input', tmp_path / 'a', '-output', tmp_path / 'out_a')
    tool(*common, '-input', tmp_path / 'b', '-output', tmp_path / 'out_b', '--input-scale', 0.00005,
         '--input-offset', -0.005)
    tool(*common, '-input', tmp_path / 'b', '-output', tmp_path / 'out_unscaled')

    def probabilities(folder):
        with rasterio.open(folder / 'scene_prob.tif') as src:
            return src.read()
    expected = probabilities(tmp_path / 'out_a')
    np.testing.assert_allclose(probabilities(tmp_path / 'out_b'), expected, atol=1e-4)
    assert np.abs(probabilities(tmp_path / 'out_unscaled') - expected).max() > 0.01  # the config's scale is wrong
    proc = tool(*common, '-input', tmp_path / 'b', '-output', tmp_path / 'out_c', '--input-clip', 10, 5, check=False)
    assert proc.returncode != 0 and 'clip must be (low, high) with low <= high' in proc.stdout + proc.stderr
