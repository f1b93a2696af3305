"""One raster shared by several processes (--split-scene): each predicts a band of rows into a part file, the last to
finish joins them, and the outputs are those of one process: the same pixels, georeference, colour table and tags."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from helpers.commands import BIN, TESTS
from helpers.detection_oracle import assert_one_to_one, oracle_predictor
from helpers.model_inference import TOOL, scene, tool
from helpers.models import TINY, TINY_DET, make_checkpoint
from helpers.rasters import write_geotiff
from rasterio.transform import from_origin

from geospatial_mm.inference.scene_parts import part_bounds
from geospatial_mm.inference.sources import Sample
from geospatial_mm.inference.summary import RunSummary, SampleResult, combine_parts, merge_summaries

TILING = ('--tile', 32, '--stride', 16, '--batch-size', 4)


def assert_same_rasters(a_path, b_path):
    with rasterio.open(a_path) as a, rasterio.open(b_path) as b:
        assert a.profile == b.profile
        assert a.transform == b.transform and a.crs == b.crs
        assert a.tags() == b.tags() and a.descriptions == b.descriptions
        if a.count == 1 and a.dtypes[0] == 'uint8':
            assert a.colormap(1) == b.colormap(1)
        assert a.overviews(1) == b.overviews(1)
        np.testing.assert_array_equal(a.read(), b.read())
        for level in range(len(a.overviews(1))):
            with rasterio.open(a_path, overview_level=level) as ao, rasterio.open(b_path, overview_level=level) as bo:
                np.testing.assert_array_equal(ao.read(), bo.read())


def part_folders(out):
    return [p for p in out.iterdir() if p.name.startswith('.') and '.parts-' in p.name] if out.is_dir() else []


@pytest.fixture(scope='module')
def tiny_ckpt(tmp_path_factory):
    return make_checkpoint(TINY, tmp_path_factory.mktemp('ckpt') / 'tiny.pth')


@pytest.fixture
def big(tmp_path):
    """A raster of 600 rows: two parts of 256 and 344 rows (parts start at multiples of the output's 256-row
    blocks)."""
    return scene(tmp_path / 'in' / 'big.tif', 600, 90, nodata_rows=3, seed=5)


@pytest.mark.parametrize('extra', [('--probabilities',), ('--cog',)])
def test_two_shards_share_a_raster_and_the_later_joins_it_as_one_process_writes_it(tmp_path, tiny_ckpt, big, extra):
    out = tmp_path / 'out'
    args = ('-config', TINY, '-ckpt', tiny_ckpt, '-input', big, '-output', out, *TILING, *extra)
    first = tool(*args, '--shard', '0/2', '--split-scene', '--summary', tmp_path / 's0.json')
    assert 'shard 0/2 takes 0 and its part of 1 shared raster(s)' in first.stdout, first.stdout
    assert 'part 0/2 (rows 0-256) written; waiting for part(s) 1/2' in first.stdout, first.stdout
    assert not list(out.glob('*.tif'))  # nothing under a final name before the last part
    [folder] = part_folders(out)
    assert sorted(p.name for p in folder.glob('*.tif')) == (
        ['part_0000_of_0002.classes.tif', 'part_0000_of_0002.probabilities.tif'] if '--probabilities' in extra
        else ['part_0000_of_0002.classes.tif'])
    with rasterio.open(folder / 'part_0000_of_0002.classes.tif') as part, rasterio.open(big) as src:
        assert (part.height, part.width) == (256, 90) and part.transform == src.transform
    second = tool(*args, '--shard', '1/2', '--split-scene', '--summary', tmp_path / 's1.json')
    assert f'part 1/2 (rows 256-600) written; joined -> {out / "big_pred.tif"}' in second.stdout, second.stdout
    assert not part_folders(out) and not list(out.glob('.*'))  # the parts are removed after the join
    tool(*args, '-output', tmp_path / 'one')
    names = sorted(p.name for p in (tmp_path / 'one').glob('*.tif'))
    assert names == sorted(p.name for p in out.glob('*.tif')) and names
    for name in names:
        assert_same_rasters(tmp_path / 'one' / name, out / name)
    # each shard's summary records its part; merged, the raster is one sample, joined by shard 1
    summaries = [RunSummary.from_dict(json.loads((tmp_path / f's{i}.json').read_text())) for i in (0, 1)]
    assert [s.samples[0].part for s in summaries] == [[0, 2], [1, 2]]
    assert [s.exit_status for s in summaries] == [0, 0]
    merged, problems = merge_summaries(summaries)
    assert not problems and len(merged.samples) == 1 and merged.samples[0].joined and merged.exit_status == 0


def test_two_ranks_share_the_files_and_a_raster_and_write_what_one_process_writes(tmp_path, tiny_ckpt, big):
    """torchrun with two ranks: the small files go to one rank each, every file once; the one raster above the
    threshold is shared by both; every output equals that of one process."""
    summary = tmp_path / 'summary.json'
    small = [scene(tmp_path / 'in' / f's{i}.tif', 40, 40, seed=i).stem for i in range(4)]
    proc = subprocess.run(
        [BIN / 'torchrun', '--nproc_per_node', '2', '--master_port', str(29600 + os.getpid() % 1000), TOOL, '-config',
         TINY, '-ckpt', tiny_ckpt, '-input', tmp_path / 'in', '-output', tmp_path / 'out', *map(str, TILING),
         '--launcher', 'pytorch', '--split-above', '0.05', '--probabilities', '--summary', summary, '--no-progress'],
        capture_output=True, text=True, timeout=600, env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(summary.read_text())
    assert report['world_size'] == 2 and report['failed'] == 0
    # the 0.05-megapixel threshold shares the 600 x 90 raster (0.054 Mpx), not the 40 x 40 ones
    records = {s['name']: s for s in report['samples']}
    assert sorted(records) == sorted(['big', *small])  # every file, each once
    assert records['big']['joined'] and records['big']['part'][1] == 2
    assert all(records[n]['part'] is None for n in small) and {records[n]['rank'] for n in small} == {0, 1}
    tool('-config', TINY, '-ckpt', tiny_ckpt, '-input', tmp_path / 'in', '-output', tmp_path / 'one', *TILING,
         '--probabilities')
    for name in ['big', *small]:
        for kind in ('pred', 'prob'):
            assert_same_rasters(tmp_path / 'one' / f'{name}_{kind}.tif', tmp_path / 'out' / f'{name}_{kind}.tif')
    assert not part_folders(tmp_path / 'out')


def test_a_part_killed_while_written_is_redone_alone_by_skip_existing(tmp_path, tiny_ckpt):
    path = scene(tmp_path / 'in' / 'tall.tif', 1400, 120, seed=7)
    out = tmp_path / 'out'
    args = ['-config', TINY, '-ckpt', tiny_ckpt, '-input', path, '-output', out, *TILING, '--split-scene',
            '--skip-existing']
    tool(*args, '--shard', '0/2')
    [folder] = part_folders(out)
    cmd = [BIN / 'python', TOOL, *map(str, args), '--shard', '1/2', '--no-progress']
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, PYTHONPATH=str(TESTS), OMP_NUM_THREADS='1'))
    try:
        deadline = time.monotonic() + 300
        while not list(folder.glob('.part_0001_of_0002.classes.tif.*.tmp*')):  # part 1 is being written
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.stdout else ''
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=60)
    assert not (out / 'tall_pred.tif').exists() and (folder / 'part_0000_of_0002.classes.tif').is_file()
    assert not (folder / 'part_0001_of_0002.classes.tif').exists()
    again = tool(*args, '--shard', '0/2')  # shard 0 again: its part is there, the other one is not
    assert 'part 0/2 (rows 0-768) exists; waiting for part(s) 1/2' in again.stdout, again.stdout
    redo = tool(*args, '--shard', '1/2')
    assert 'part 1/2 (rows 768-1400) written; joined' in redo.stdout, redo.stdout
    assert 'outputs exist, skipped' in tool(*args, '--shard', '0/2').stdout
    assert not list(out.glob('.*'))  # parts, lock and the killed process's temporary file are gone
    tool('-config', TINY, '-ckpt', tiny_ckpt, '-input', path, '-output', tmp_path / 'one', *TILING)
    assert_same_rasters(tmp_path / 'one' / 'tall_pred.tif', out / 'tall_pred.tif')


def test_rasters_are_shared_only_with_several_processes_and_above_the_threshold(tmp_path, tiny_ckpt, big):
    args = ('-config', TINY, '-ckpt', tiny_ckpt, '-input', big, *TILING)
    assert 'part' not in tool(*args, '-output', tmp_path / 'a', '--split-scene').stdout  # one process: whole
    shard = tool(*args, '-output', tmp_path / 'b', '--shard', '0/2')  # 0.054 Mpx < the default 256 Mpx
    assert 'shard 0/2 takes 1;' in shard.stdout and 'part' not in shard.stdout, shard.stdout
    other = tool(*args, '-output', tmp_path / 'c', '--shard', '1/2', '--split-above', '0.01')
    assert 'shard 1/2 takes 0 and its part of 1 shared raster(s)' in other.stdout, other.stdout
    never = tool(*args, '-output', tmp_path / 'd', '--shard', '1/2', '--no-split-scene', '--split-above', '0.01')
    assert 'shard 1/2 takes 0;' in never.stdout, never.stdout


def test_part_bounds_cover_the_rows_in_block_multiples():
    assert part_bounds(600, 2, 256) == [(0, 256), (256, 600)]  # the multiple of 256 nearest to 300
    assert part_bounds(4096, 2, 256) == [(0, 2048), (2048, 4096)]
    assert part_bounds(1000, 3, 256) == [(0, 256), (256, 768), (768, 1000)]
    assert part_bounds(300, 4, 256) == [(0, 256), (256, 300)]  # too short for four
    assert part_bounds(450, 10, 256) == [(0, 256), (256, 450)]
    assert part_bounds(10, 3) == [(0, 3), (3, 7), (7, 10)]
    assert part_bounds(5, 1) == [(0, 5)]
    with pytest.raises(ValueError):
        part_bounds(0, 2)


def test_records_of_parts_combine_into_one_per_raster():
    def part(i, status='ok', joined=False, error=None):
        return SampleResult('r', 'r.tif', part=[i, 3], status=status, joined=joined, error=error)
    [done] = combine_parts([part(0), part(1, joined=True), part(2)])
    assert done.joined and done.status == 'ok'
    [lost] = combine_parts([part(0), part(2)])  # part 1 never ran
    assert lost.status == 'failed' and 'part(s) 1/3 of the raster were not predicted' in lost.error
    [broken] = combine_parts([part(0), part(1, 'failed', error='RasterError: bad'), part(2)])
    assert broken.status == 'failed' and 'part 1/3: RasterError: bad' in broken.error
    [unjoined] = combine_parts([part(0), part(1), part(2)])
    assert unjoined.status == 'failed' and 'never joined' in unjoined.error
    [mine] = combine_parts([part(1)], other_processes=True)  # a shard's own run: another shard may join
    assert mine.status == 'ok' and not mine.joined
    [skipped] = combine_parts([part(0), part(1, 'skipped')])  # the outputs were there already
    assert skipped.status == 'skipped'
def same_instance_outputs(one, joined):
    for key in ('instances', 'class_score'):
        assert_same_rasters(one[key], joined[key])
    if 'geojson' in one:
        assert json.loads(Path(one['geojson']).read_text()) == json.loads(Path(joined['geojson']).read_text())


def test_instances_across_part_borders_stay_whole_as_one_process_stitches_them(tmp_path):
    """Each part holds the detector's instances of its tile rows; the join stitches every tile in the grid's order
    with the rule of one process, so objects cut by the parts' borders (and by column strips) merge as they do
    there: the same ids, classes, scores and polygons."""
    ckpt = make_checkpoint(TINY_DET, tmp_path / 'det.pth')
    truth = np.zeros((400, 700), np.int32)
    truth[150:260, 40:60] = 1  # crosses the border of two parts of the 8 tile rows (rows 192-256 are in both)
    truth[180:230, 240:300] = 2  # crosses a part border and a column strip's border (256)
    truth[200:215, 500:640] = 3  # crosses the part border and the second strip's border (512)
    truth[215:230, 500:640] = 4  # touching it: never one with it
    truth[20:30, 10:20] = 5  # inside one tile
    path = write_geotiff(tmp_path / 'tall.tif', np.ones((6, *truth.shape), np.uint16), crs='EPSG:32608',
                         transform=from_origin(513000.0, 7610000.0, 2.0, 2.0))
    sample = Sample('tall', {'img_path': str(path)}, str(path))
    predictor = oracle_predictor(ckpt, truth, batch_size=3, geojson=True)
    predictor.band_width = 256
    one = predictor.predict(sample, tmp_path / 'one')
    metas = predictor.check(sample)
    parts = predictor.split(metas[0], 2)
    assert [p.bounds for p in parts] == [(0, 4), (4, 8)] and parts[0].unit == 'tile rows'  # tiles every 48 px
    folder = predictor.part_folder(sample, metas, tmp_path / 'out')
    files = [folder.files(p, predictor.part_kinds()) for p in parts]
    folder.path.mkdir(parents=True)
    for part, part_files in zip(parts, files):
        predictor.predict_part(sample, metas, part, part_files)
    joined = predictor.output_paths(sample, tmp_path / 'out')
    predictor.join(sample, metas, parts, files, joined)
    same_instance_outputs(one, joined)
    with rasterio.open(joined['instances']) as src:
        assert src.tags()['instances'] == '5'
        assert_one_to_one(truth, src.read(1))


def test_two_shards_detect_instances_in_one_raster_as_one_process_does(tmp_path):
    """The tiny Mask R-CNN with random weights, every instance scoring at least 0.05 kept: many instances, cut by
    the tiles' and the parts' borders."""
    ckpt = make_checkpoint(TINY_DET, tmp_path / 'det.pth')
    path = write_geotiff(tmp_path / 'in' / 'tiles.tif', np.random.default_rng(3).integers(
        0, 3000, (6, 300, 160)).astype(np.uint16), crs='EPSG:32608')
    args = ('-config', TINY_DET, '-ckpt', ckpt, '-input', path, '--score-thr', 0.05, '--geojson', '--split-scene')
    first = tool(*args, '-output', tmp_path / 'out', '--shard', '0/2')
    assert 'part 0/2 (tile rows 0-3) written; waiting for part(s) 1/2' in first.stdout, first.stdout
    second = tool(*args, '-output', tmp_path / 'out', '--shard', '1/2')
    assert 'part 1/2 (tile rows 3-6) written; joined' in second.stdout, second.stdout
    tool(*args, '-output', tmp_path / 'one')
    names = ('tiles_instances.tif', 'tiles_class_score.tif', 'tiles_instances.geojson')
    one = {k: tmp_path / 'one' / n for k, n in zip(('instances', 'class_score', 'geojson'), names)}
    same_instance_outputs(one, {k: tmp_path / 'out' / n for k, n in zip(one, names)})
    with rasterio.open(one['instances']) as src:
        assert int(src.tags()['instances']) > 3, src.tags()  # a real test: instances were found and stitched
    assert not part_folders(tmp_path / 'out')
