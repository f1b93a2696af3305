"""model_inference never overwrites or reads its own outputs, stops early on an unusable output folder, and reports
entries that cannot be read."""
import json
import os

import numpy as np
import pytest
import rasterio
from helpers.model_inference import scene, tool, valid_prediction
from helpers.models import TINY, make_checkpoint

from geospatial_mm.inference.outputs import is_own_output

pytestmark = pytest.mark.slow  # trainings and tool runs in subprocesses (make test-fast skips them)


@pytest.fixture(scope='module')
def tiny_ckpt(tmp_path_factory):
    return make_checkpoint(TINY, tmp_path_factory.mktemp('ckpt') / 'tiny.pth')


def test_an_input_named_like_an_output_is_never_overwritten(tmp_path, tiny_ckpt):
    """-output equal to -input, holding s.tif and the user's own s_pred.tif: the prediction of s.tif would replace
    s_pred.tif, so that sample fails; s_pred.tif is an input like any other."""
    folder = tmp_path / 'scenes'
    s = scene(folder / 's.tif', 40, 40, seed=1)
    user = scene(folder / 's_pred.tif', 40, 40, seed=2)
    before = user.read_bytes()
    proc = tool('-config', TINY, '-ckpt', tiny_ckpt, '-input', folder, '-output', folder, '--tile', 32, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f'FAILED {s}' in proc.stdout and 'would overwrite an input' in proc.stdout
    assert user.read_bytes() == before  # untouched
    assert valid_prediction(folder / 's_pred_pred.tif', user)
    assert 'summary: 2 sample(s): 1 predicted, 0 skipped (outputs existed), 1 failed' in proc.stdout


def test_a_second_run_in_the_same_folder_does_not_take_its_outputs_as_inputs(tmp_path, tiny_ckpt):
    folder = tmp_path / 'scenes'
    a = scene(folder / 'a.tif', 40, 40, seed=1)
    first = tool('-config', TINY, '-ckpt', tiny_ckpt, '-input', folder, '-output', folder, '--tile', 32,
                 '--probabilities')
    assert 'summary: 1 sample(s): 1 predicted' in first.stdout
    assert is_own_output(folder / 'a_pred.tif') and is_own_output(folder / 'a_prob.tif')
    assert not is_own_output(a)
    second = tool('-config', TINY, '-ckpt', tiny_ckpt, '-input', folder, '-output', folder, '--tile', 32,
                  '--probabilities')
    assert 'left out 2 file(s) written by an earlier run of model_inference (not inputs): a_pred.tif, a_prob.tif' \
        in second.stdout
    assert 'summary: 1 sample(s): 1 predicted' in second.stdout  # a, predicted again over its own outputs
    assert sorted(p.name for p in folder.iterdir()) == ['a.tif', 'a_pred.tif', 'a_prob.tif']
    assert valid_prediction(folder / 'a_pred.tif', a)


def test_a_file_in_the_way_of_an_output_is_not_overwritten(tmp_path, tiny_ckpt):
    """A file of the user's under an output name in the output folder (not an input) is left alone too."""
    a = scene(tmp_path / 'in' / 'a.tif', 40, 40)
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'a_pred.tif').write_text('notes')
    proc = tool('-config', TINY, '-ckpt', tiny_ckpt, '-input', a.parent, '-output', out, '--tile', 32, check=False)
    assert proc.returncode == 1
    assert 'a_pred.tif: a file that is not an output of model_inference is in the way' in proc.stdout
    assert (out / 'a_pred.tif').read_text() == 'notes'


@pytest.mark.parametrize('case', ['cannot be created', 'read-only'])
def test_an_unusable_output_folder_stops_before_reading_anything(tmp_path, tiny_ckpt, case):
    a = scene(tmp_path / 'in' / 'a.tif', 40, 40)
    if case == 'cannot be created':
        (tmp_path / 'a_file').write_text('x')
        out = tmp_path / 'a_file' / 'preds'
    else:
        out = read_only_folder(tmp_path)
    missing_ckpt = tmp_path / 'no_such.pth'  # were anything read first, this would be the error
    proc = tool('-config', TINY, '-ckpt', missing_ckpt, '-input', a.parent, '-output', out, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f'{out}: ' in proc.stderr and ('cannot be created' in proc.stderr or 'cannot write' in proc.stderr)
    assert 'checkpoint' not in proc.stderr and 'sample(s)' not in proc.stdout


def test_a_run_that_stops_at_set_up_leaves_no_folder_it_created(tmp_path, tiny_ckpt):
    """The folders are checked first (by creating them); a problem found next (here a missing checkpoint) stops the
    run with status 2, and the folders it created, still empty, are removed again. A folder that existed stays."""
    a = scene(tmp_path / 'in' / 'a.tif', 40, 40)
    kept = tmp_path / 'existing'
    kept.mkdir()
    proc = tool('-config', TINY, '-ckpt', tmp_path / 'no_such.pth', '-input', a.parent,
                '-output', tmp_path / 'new' / 'preds', '--preview-dir', kept / 'previews', '--summary',
                kept / 'reports' / 'summary.json', check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert 'no_such.pth' in proc.stderr
    assert not (tmp_path / 'new').exists()
    assert kept.is_dir() and list(kept.iterdir()) == []


def read_only_folder(tmp_path):
    """A folder nobody may write in: a plain read-only folder for a normal user; as root (who may write anyway) the
    read-only proc file system."""
    if os.geteuid() != 0:
        folder = tmp_path / 'read_only'
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    return '/proc/self/fdinfo'


@pytest.mark.parametrize('kind', ['dangling', 'loop'])
def test_links_that_cannot_be_read_are_failed_samples_with_their_reason(tmp_path, tiny_ckpt, kind):
    folder = tmp_path / 'in'
    good = scene(folder / 'good.tif', 40, 40)
    bad = folder / 'bad.tif'
    if kind == 'dangling':
        bad.symlink_to(folder / 'gone.tif')
    else:
        bad.symlink_to(folder / 'other.tif')
        (folder / 'other.tif').symlink_to(bad)
    summary = tmp_path / 'summary.json'
    proc = tool('-config', TINY, '-ckpt', tiny_ckpt, '-input', folder, '-output', tmp_path / 'out', '--tile', 32,
                '--summary', summary, check=False)
    assert proc.returncode == 1
    reason = 'broken symbolic link' if kind == 'dangling' else 'loop of symbolic links'
    assert f'FAILED {bad}' in proc.stdout and reason in proc.stdout
    report = json.loads(summary.read_text())
    failed = {s['name']: s['error'] for s in report['samples'] if s['status'] == 'failed'}
    assert 'bad' in failed and reason in failed['bad']
    assert report['failed'] == (1 if kind == 'dangling' else 2) and report['ok'] == 1
    assert valid_prediction(tmp_path / 'out' / 'good_pred.tif', good)


def test_geotiff_outputs_carry_the_producer_mark(tmp_path, tiny_ckpt):
    a = scene(tmp_path / 'in' / 'a.tif', 40, 40)
    tool('-config', TINY, '-ckpt', tiny_ckpt, '-input', a.parent, '-output', tmp_path / 'out', '--tile', 32)
    with rasterio.open(tmp_path / 'out' / 'a_pred.tif') as src:
        assert src.tags()['GEOSPATIAL_MM_PRODUCER'] == 'geospatial_mm model_inference'
        assert src.read(1).dtype == np.uint8
