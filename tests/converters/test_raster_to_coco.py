"""Raster + class raster -> GeoTIFF tiles + COCO instances (geospatial_mm/converters/raster_to_coco.py and
tools/raster_to_coco.py)."""
import json

import numpy as np
import pytest
import rasterio
from affine import Affine
from helpers.commands import BIN, ROOT, run
from helpers.rasters import write_geotiff
from pycocotools.coco import COCO
from rasterio.transform import from_origin
from scipy import ndimage

from geospatial_mm.converters.coco import encode_segmentation
from geospatial_mm.converters.raster_to_coco import TilingOptions, make_coco_tiles
from geospatial_mm.io import RasterError

CRS = 'EPSG:32608'
LABEL_TRANSFORM = from_origin(512000.0, 7620000.0, 2.0, 2.0)


def crafted_label() -> tuple[np.ndarray, int]:
    """48x64 class raster with 5 instances of 2 classes (one with a hole, one pair touching only at a corner)
    and a component of 2 pixels; returns (label, instances with min_area=4 and 8-connectivity)."""
    label = np.zeros((48, 64), np.uint8)
    label[2:8, 2:10] = 1  # rectangle
    label[12:24, 4:16] = 1  # ring around a 4x4 hole of background
    label[16:20, 8:12] = 0
    label[30:34, 30:34] = 1  # two squares touching at one corner: one instance with 8-connectivity, two with 4
    label[34:38, 34:38] = 1
    label[5:15, 40:45] = 2  # class 2
    label[20:26, 50:60] = 2
    label[40:42, 2] = 1  # 2 pixels: below min_area
    label[44:47, 50:63] = 255  # nodata: never an instance
    return label, 5


def write_pair(tmp_path, label, data=None, data_transform=None, label_transform=LABEL_TRANSFORM, data_crs=CRS):
    """A 5-band data raster (each pixel's value encodes its row and column) and the class raster."""
    if data is None:
        h, w = label.shape
        rows, cols = np.mgrid[:h, :w]
        data = np.stack([rows * 100 + cols + 1000 * b for b in range(5)]).astype(np.uint16)
    data_path = write_geotiff(tmp_path / 'scene.tif', data, crs=data_crs,
                              transform=data_transform or label_transform, nodata=0)
    label_path = write_geotiff(tmp_path / 'site_label.tif', label, crs=CRS, transform=label_transform, nodata=255)
    return data_path, label_path


def test_one_instance_per_connected_component_with_exact_masks_and_holes(tmp_path):
    label, expected = crafted_label()
    data_path, label_path = write_pair(tmp_path, label)
    report = make_coco_tiles([(data_path, label_path)], tmp_path / 'out', ['slump', 'other'],
                             TilingOptions(size=64, overlap=0, min_area=4))
    coco = COCO(str(report.files['train']))  # pycocotools loads it
    assert len(coco.getImgIds()) == 1 and len(coco.getAnnIds()) == expected
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == ['slump', 'other']
    anns = coco.loadAnns(coco.getAnnIds())
    # every instance decodes to exactly one connected component of its class, with the hole left open
    structure = np.ones((3, 3), int)
    for ann in anns:
        mask = coco.annToMask(ann).astype(bool)
        value = ann['category_id']
        components, n = ndimage.label(label == value, structure=structure)
        ids = np.unique(components[mask])
        assert len(ids) == 1 and ids[0] > 0 and np.array_equal(components == ids[0], mask), ann['id']
        assert ann['area'] == mask.sum() and ann['iscrowd'] == 0
        x, y, w, h = ann['bbox']
        rows, cols = np.nonzero(mask)
        assert (x, y, w, h) == (cols.min(), rows.min(), cols.max() - cols.min() + 1, rows.max() - rows.min() + 1)
    ring = next(a for a in anns if a['bbox'][:2] == [4.0, 12.0])
    assert isinstance(ring['segmentation'], dict)  # a polygon would fill the hole: RLE
    assert not coco.annToMask(ring)[16:20, 8:12].any() and coco.annToMask(ring).sum() == 144 - 16
    rectangle = next(a for a in anns if a['bbox'][:2] == [2.0, 2.0])
    assert isinstance(rectangle['segmentation'], list)  # simple shapes stay polygons
    assert sum(a['category_id'] == 2 for a in anns) == 2
    # with 4-connectivity the corner-touching squares are two instances
    report4 = make_coco_tiles([(data_path, label_path)], tmp_path / 'out4', ['slump', 'other'],
                              TilingOptions(size=64, overlap=0, min_area=4, connectivity=4))
    assert len(json.loads(report4.files['train'].read_text())['annotations']) == expected + 1


@pytest.mark.parametrize('seed', range(3))
def test_encoded_segmentation_round_trips_through_pycocotools(seed):
    from pycocotools import mask as mask_utils
    rng = np.random.default_rng(seed)
    mask = ndimage.binary_opening(rng.random((40, 50)) > 0.35, iterations=1)
    components, n = ndimage.label(mask, structure=np.ones((3, 3)))
    for i in range(1, n + 1):
        comp = components == i
        seg = encode_segmentation(comp)
        rle = mask_utils.frPyObjects(seg, 40, 50) if isinstance(seg, list) else dict(seg, counts=seg['counts'])
        decoded = mask_utils.decode(mask_utils.merge(rle) if isinstance(rle, list) else rle).astype(bool)
        assert np.array_equal(decoded, comp)


def test_data_larger_than_the_labels_is_clipped_and_every_tile_is_georeferenced(tmp_path):
    rng = np.random.default_rng(0)
    label = np.zeros((100, 90), np.uint8)
    for _ in range(12):
        r, c = rng.integers(0, 90, 2)
        label[r:r + rng.integers(3, 12), c % 80:c % 80 + rng.integers(3, 12)] = 1
    # the scene is bigger and starts 7 rows above and 11 columns left of the labelled area
    full = np.zeros((130, 120), np.int32)
    rows, cols = np.mgrid[:130, :120]
    full[:] = rows * 200 + cols + 1
    data = np.stack([full, full + 50000]).astype(np.int32)
    data_transform = LABEL_TRANSFORM * Affine.translation(-11, -7)
    data_path, label_path = write_pair(tmp_path, label, data, data_transform)
    report = make_coco_tiles([(data_path, label_path)], tmp_path / 'out', ['slump'],
                             TilingOptions(size=32, overlap=8, bands=[1]), val_fraction=0.25)
    assert set(report.files) == {'train', 'val'}
    for split in ('train', 'val'):
        coco = json.loads(report.files[split].read_text())
        for image in coco['images']:
            row, col, h, w = image['window']
            assert (split == 'train') == (row + h <= 75) and (split == 'val') == (row >= 75)  # no tile crosses
            with rasterio.open(tmp_path / 'out' / 'images' / split / image['file_name']) as src:
                assert src.crs == rasterio.crs.CRS.from_string(CRS)
                assert src.transform == LABEL_TRANSFORM * Affine.translation(col, row)
                assert (src.count, src.height, src.width, src.dtypes[0]) == (1, h, w, 'int32')
                # the tile's pixels are the data's pixels at the same place on the ground
                assert np.array_equal(src.read(1), data[1, row + 7:row + 7 + h, col + 11:col + 11 + w])
            with rasterio.open(tmp_path / 'out' / 'labels' / split / image['file_name']) as src:
                assert src.transform == LABEL_TRANSFORM * Affine.translation(col, row) and src.nodata == 255
                assert np.array_equal(src.read(1), label[row:row + h, col:col + w])
            # each tile's instances are the connected components of its window
            window = label[row:row + h, col:col + w]
            n = sum(int(m.sum() >= 4) for m in _components(window))
            assert sum(a['image_id'] == image['id'] for a in coco['annotations']) == n
    train = json.loads(report.files['train'].read_text())
    starts = sorted({img['window'][1] for img in train['images']})
    assert starts == [0, 24, 48, 58]  # every 24 px, the last tile moved back to end at the edge


def _components(window):
    components, n = ndimage.label(window == 1, structure=np.ones((3, 3)))
    return [components == i for i in range(1, n + 1)]


def test_data_on_another_grid_is_resampled_onto_the_label_grid(tmp_path):
    label = np.zeros((40, 40), np.uint8)
    label[10:20, 10:20] = 1
    # 1 m pixels instead of 2 m, origin half a label pixel off: the grids do not line up
    rows, cols = np.mgrid[:100, :100]
    data = (rows * 100 + cols + 1).astype(np.uint16)[None]
    data_transform = from_origin(512000.0 - 11.0, 7620000.0 + 9.0, 1.0, 1.0)
    data_path, label_path = write_pair(tmp_path, label, data, data_transform)
    report = make_coco_tiles([(data_path, label_path)], tmp_path / 'out', ['slump'], TilingOptions(size=40, overlap=0))
    coco = json.loads(report.files['train'].read_text())
    assert coco['info']['sources'][0]['method'] == 'warp'
    with rasterio.open(tmp_path / 'out' / 'images' / 'train' / coco['images'][0]['file_name']) as src:
        tile = src.read(1)
        assert src.transform == LABEL_TRANSFORM
    # nearest neighbour: each label pixel takes the data pixel under its centre
    for r, c in [(0, 0), (5, 17), (39, 39), (20, 3)]:
        x, y = LABEL_TRANSFORM * (c + 0.5, r + 0.5)
        dr, dc = rasterio.transform.rowcol(data_transform, x, y)
        assert tile[r, c] == data[0, dr, dc], (r, c)


def test_random_tiles_with_a_minimum_of_positive_pixels(tmp_path):
    label, _ = crafted_label()
    data_path, label_path = write_pair(tmp_path, label)
    report = make_coco_tiles([(data_path, label_path)], tmp_path / 'out', ['slump', 'other'],
                             TilingOptions(size=16, random_tiles=6, min_positive=20, seed=3))
    coco = json.loads(report.files['train'].read_text())
    assert len(coco['images']) == 6 and not report.warnings
    windows = [tuple(img['window']) for img in coco['images']]
    assert len(set(windows)) == 6
    for row, col, h, w in windows:
        window = label[row:row + h, col:col + w]
        assert ((window != 0) & (window != 255)).sum() >= 20
    impossible = make_coco_tiles([(data_path, label_path)], tmp_path / 'out2', ['slump', 'other'],
                                 TilingOptions(size=16, random_tiles=4, min_positive=16 * 16))
    assert impossible.tiles['train'] == 0 and 'found 0 of 4 random' in impossible.warnings[0]


def test_bad_inputs_are_refused_with_the_file_named(tmp_path):
    label, _ = crafted_label()
    far = from_origin(600000.0, 7620000.0, 2.0, 2.0)  # the data lies elsewhere
    data_path, label_path = write_pair(tmp_path, label, data_transform=far)
    with pytest.raises(RasterError, match='does not cover the class raster'):
        make_coco_tiles([(data_path, label_path)], tmp_path / 'out', ['slump', 'other'], TilingOptions())
    data_path, label_path = write_pair(tmp_path, label)
    with pytest.raises(RasterError, match=r'site_label.tif: class values \[2\] found, but 1 class name'):
        make_coco_tiles([(data_path, label_path)], tmp_path / 'out', ['slump'], TilingOptions())
    with pytest.raises(RasterError, match='band index 7 out of range'):
        make_coco_tiles([(data_path, label_path)], tmp_path / 'out', ['slump', 'other'], TilingOptions(bands=[7]))
    two_bands = write_geotiff(tmp_path / 'two.tif', np.zeros((2, 48, 64), np.uint8), crs=CRS,
                              transform=LABEL_TRANSFORM)
    with pytest.raises(RasterError, match='two.tif: a class raster has one band'):
        make_coco_tiles([(data_path, two_bands)], tmp_path / 'out', ['slump'], TilingOptions())
    with pytest.raises(ValueError, match='overlap must be'):
        TilingOptions(size=32, overlap=32)
    assert not (tmp_path / 'out' / 'annotations').exists()  # nothing half-written


def test_command_line_tool(tmp_path):
    tool = [BIN / 'python', ROOT / 'tools' / 'raster_to_coco.py']
    label, expected = crafted_label()
    data_path, label_path = write_pair(tmp_path, label)
    args = ['-i', str(data_path), '-l', str(label_path), '-b', '0', '2', '--size', '64', '--overlap', '0']
    proc = run(tool + args + ['-o', str(tmp_path / 'out'), '--classes', 'slump', 'other'])
    assert proc.returncode == 0
    assert f'train: 1 tiles, {expected} instances' in proc.stdout
    with rasterio.open(next((tmp_path / 'out' / 'images' / 'train').glob('*.tif'))) as src:
        assert src.count == 2 and src.descriptions == ('band_0', 'band_2')
    proc = run(tool + args + ['-o', str(tmp_path / 'out2')], check=False)
    assert proc.returncode == 2  # the default classes name only 'slump'
    assert 'class values [2] found' in proc.stderr
