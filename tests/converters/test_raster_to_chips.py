"""Raster + label raster -> segmentation chips and split files (geospatial_mm/converters/raster_to_chips.py)."""
import numpy as np
import pytest
import rasterio
from helpers.commands import BIN, ROOT, run
from helpers.rasters import write_geotiff
from rasterio.transform import from_origin

from geospatial_mm.converters.raster_to_chips import ChipOptions, cfg_options, make_chips

TRANSFORM = from_origin(400000, 5000000, 10, 10)


def scene(tmp_path, height=300, width=260, nodata_rows=0):
    rng = np.random.default_rng(0)
    label = np.zeros((height, width), np.uint8)
    label[50:150, 40:200] = 1
    data = rng.integers(100, 3000, (4, height, width)).astype(np.int16)
    data[2][label == 1] += 2000
    data[:, :nodata_rows] = -9999
    img = write_geotiff(tmp_path / 'scene.tif', data, nodata=-9999, transform=TRANSFORM)
    lab = write_geotiff(tmp_path / 'scene_label.tif', label, nodata=255, transform=TRANSFORM)
    return img, lab


def footprints(out, ids, size):
    """Pixels covered by the chips of ``ids`` (from their names)."""
    cover = np.zeros((300, 260), bool)
    for chip in ids:
        row, col = int(chip.split('_r')[1].split('_')[0]), int(chip.split('_c')[1])
        with rasterio.open(out / 'img_dir' / f'{chip}.tif') as src:
            h, w = src.height, src.width
        cover[row:row + h, col:col + w] = True
    return cover


@pytest.mark.parametrize('split', ['blocks', 'stripes'])
def test_chips_of_two_splits_share_no_pixel_even_when_chips_overlap(tmp_path, split):
    img, lab = scene(tmp_path)
    out = tmp_path / 'chips'
    report = make_chips([(img, lab)], out, ChipOptions(size=32, overlap=8, split=split, region=64, seed=3))
    assert set(report.splits) == {'train', 'val', 'test'} and all(report.splits.values())
    covers = {name: footprints(out, ids, 32) for name, ids in report.splits.items()}
    for a in covers:
        for b in covers:
            if a < b:
                assert not (covers[a] & covers[b]).any(), (a, b)
    total = sum(report.counts.values())
    assert report.counts['train'] > report.counts['val'] and report.counts['train'] / total > 0.5


def test_chips_are_georeferenced_windows_of_both_rasters_and_the_dataset_reads_them(tmp_path):
    img, lab = scene(tmp_path, nodata_rows=40)
    out = tmp_path / 'chips'
    report = make_chips([(img, lab)], out, ChipOptions(size=64, bands=[2, 0], split='none', min_valid=0.9))
    ids = report.splits['all']
    assert report.skipped > 0  # the chips of the nodata rows were left out
    with rasterio.open(img) as src:
        full = src.read([3, 1])
    for chip in ids:
        row, col = int(chip.split('_r')[1].split('_')[0]), int(chip.split('_c')[1])
        with rasterio.open(out / 'img_dir' / f'{chip}.tif') as c, rasterio.open(out / 'ann_dir' / f'{chip}.tif') as a:
            assert c.count == 2 and c.nodata == -9999 and c.crs == a.crs and c.transform == a.transform
            assert c.transform == TRANSFORM @ TRANSFORM.translation(col, row)
            np.testing.assert_array_equal(c.read(), full[:, row:row + 64, col:col + 64])
            assert row >= 40 - 64 * 0.1  # at most a tenth of a kept chip is nodata
    from geospatial_mm.datasets import GeospatialSegDataset
    dataset = GeospatialSegDataset(data_root=str(out), data_prefix=dict(img_path='img_dir', seg_map_path='ann_dir'),
                                   ann_file='splits/all.txt', metainfo=dict(classes=('bg', 'fg'),
                                                                            palette=[[0, 0, 0], [1, 1, 1]]),
                                   pipeline=[])
    assert len(dataset) == len(ids)


def test_the_tool_writes_chips_and_prints_the_options_for_a_config(tmp_path):
    img, lab = scene(tmp_path)
    out = tmp_path / 'chips'
    proc = run([BIN / 'python', ROOT / 'tools' / 'raster_to_chips.py', '-i', img, '-l', lab, '-o', out, '--size',
                '64', '--split', 'stripes', '--fractions', 'train=0.75', 'val=0.25', '--region', '64'])
    assert 'train: ' in proc.stdout and 'val: ' in proc.stdout
    line = next(x for x in proc.stdout.splitlines() if x.startswith('--cfg-options '))
    assert f'train_dataloader.dataset.data_root={out}' in line and 'val_dataloader.dataset.ann_file=splits/val.txt' \
        in line
    bad = run([BIN / 'python', ROOT / 'tools' / 'raster_to_chips.py', '-i', img, '-l', lab, '-o', out,
               '--fractions', 'train=0.5', 'val=0.2'], check=False)
    assert bad.returncode == 2 and 'must be positive and sum to 1' in bad.stderr
    assert cfg_options(out, make_chips([(img, lab)], tmp_path / 'again', ChipOptions(size=64, split='none')))
