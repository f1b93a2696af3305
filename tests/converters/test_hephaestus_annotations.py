"""Hephaestus annotation tools on crafted polygons: masks, crops around objects (at the border, larger than the crop),
tiling, crowd frames, save_crops and the temporal split."""
import hashlib
import json
import warnings

import numpy as np
import pytest
from helpers.commands import BIN, ROOT, run
from helpers.hephaestus import annotation, rect, write_annotation, write_interferogram
from PIL import Image

from geospatial_mm.converters.hephaestus.masks import class_mask, rasterize_deformations, segmentation_mask
from geospatial_mm.converters.hephaestus.placement import CropCutsDeformationWarning, crop_around_object, image_tiling
from geospatial_mm.converters.hephaestus.writing import save_crops, split_crops
from geospatial_mm.datasets.hephaestus_schema import (
    ACTIVITY_CLASSES,
    AnnotationError,
    read_annotation,
    read_interferogram,
)


def load(tmp_path, record):
    return read_annotation(write_annotation(tmp_path / 'ann', record))


def contains(window, bbox):
    row, col, h, w = window
    return row <= bbox[0] and col <= bbox[1] and bbox[2] <= row + h and bbox[3] <= col + w


def inside_image(window, shape):
    row, col, h, w = window
    return row >= 0 and col >= 0 and row + h <= shape[0] and col + w <= shape[1]


# ------------------------------------------------------------------------------------------------------ masks
def test_polygons_become_masks_with_the_class_indices_1_to_6(tmp_path):
    polygons = [rect(2 + 6 * i, 3, 5 + 6 * i, 7) for i in range(6)]
    ann = load(tmp_path, annotation(1, polygons, ACTIVITY_CLASSES, ['Low'] * 6))
    mask = segmentation_mask(ann, (12, 40))
    assert mask.dtype == np.uint8 and mask.shape == (12, 40)
    for i in range(6):  # outline included: rows 3-7, cols x0-x1
        assert (mask[3:8, 2 + 6 * i:6 + 6 * i] == i + 1).all(), ACTIVITY_CLASSES[i]
    assert (mask > 0).sum() == 6 * 5 * 4
    assert ACTIVITY_CLASSES == ('Mogi', 'Dyke', 'Sill', 'Spheroid', 'Earthquake', 'Unidentified')


def test_polygon_forms_flat_pairs_and_parts_rasterise_alike(tmp_path):
    flat = rect(1, 1, 6, 4)
    pairs = [[flat[i], flat[i + 1]] for i in range(0, len(flat), 2)]
    masks = [segmentation_mask(load(tmp_path, annotation(k, [p], ['Sill'])), (8, 8))
             for k, p in enumerate([flat, pairs])]
    np.testing.assert_array_equal(masks[0], masks[1])
    parts = segmentation_mask(load(tmp_path, annotation(3, [[rect(0, 0, 1, 1), rect(5, 5, 6, 6)]], ['Dyke'])), (8, 8))
    assert (parts[0:2, 0:2] == 2).all() and (parts[5:7, 5:7] == 2).all() and (parts == 2).sum() == 8


def test_overlapping_polygons_the_later_one_wins_and_objects_keep_their_own_pixels(tmp_path):
    ann = load(tmp_path, annotation(1, [rect(0, 0, 5, 5), rect(3, 3, 8, 8)], ['Mogi', 'Earthquake']))
    objects = rasterize_deformations(ann, (10, 10))
    mask = class_mask(objects, (10, 10))
    assert mask[4, 4] == 5 and mask[1, 1] == 1 and mask[7, 7] == 5
    assert [o.bbox for o in objects] == [(0, 0, 6, 6), (3, 3, 9, 9)]  # rows r0:r1, cols c0:c1
    np.testing.assert_array_equal(class_mask(objects, (10, 10), window=(2, 3, 4, 5)), mask[2:6, 3:8])


def test_polygon_crossing_the_border_is_clipped_and_one_outside_is_an_error(tmp_path):
    ann = load(tmp_path, annotation(1, [rect(-5, -5, 2, 3)], ['Mogi']))
    objects = rasterize_deformations(ann, (10, 10))
    assert objects[0].bbox == (0, 0, 4, 3)
    ann = load(tmp_path, annotation(2, [rect(20, 20, 30, 30)], ['Mogi']))
    with pytest.raises(AnnotationError, match=r'2\.json: segmentation_mask\[0\] spans .* outside the 10x10'):
        rasterize_deformations(ann, (10, 10))


@pytest.mark.parametrize('change,message', [
    (dict(activity_type=['Mogi', 'Dyke']), r"1 polygon\(s\) in segmentation_mask but 2 activity_type"),
    (dict(activity_type=['Volcano']), r"unknown activity_type 'Volcano'"),
    (dict(intensity_level=['Huge']), r"unknown intensity_level 'Huge'"),
    (dict(primary_date='2020-01-01'), r"primary_date must be a date YYYYMMDD, found '2020-01-01'"),
    (dict(segmentation_mask=[[1, 2, 3, 4]]), r'segmentation_mask\[0\]: a polygon needs at least 3'),
    (dict(label='Deformation'), r"'label' must be list, found str"),
])
def test_bad_annotations_are_refused_naming_the_file(tmp_path, change, message):
    record = annotation(7, [rect(0, 0, 3, 3)], ['Mogi'])
    record.update(change)
    with pytest.raises(AnnotationError, match=r'7\.json: .*' + message):
        load(tmp_path, record)
    record = annotation(8)
    del record['frameID']
    with pytest.raises(AnnotationError, match=r"8\.json: the field 'frameID' is missing"):
        load(tmp_path, record)


# ------------------------------------------------------------------------------------------------------ crops
@pytest.mark.parametrize('corner,fixed_row,fixed_col', [
    ('top-left', 0, 0), ('bottom-right', 60 - 32, 80 - 32), ('left-edge', None, 0), ('top-edge', 0, None)])
def test_crop_around_an_object_at_the_border_contains_it_and_stays_inside(tmp_path, corner, fixed_row, fixed_col):
    h, w = 60, 80
    box = {'top-left': rect(0, 0, 9, 6), 'bottom-right': rect(70, 50, 79, 59), 'left-edge': rect(0, 25, 4, 34),
           'top-edge': rect(40, 0, 47, 3)}[corner]
    objects = rasterize_deformations(load(tmp_path, annotation(1, [box], ['Dyke'])), (h, w))
    rows, cols = set(), set()
    for seed in range(40):
        window = crop_around_object(objects, (h, w), 32, 0, rng=seed)
        assert window[2:] == (32, 32)
        assert contains(window, objects[0].bbox) and inside_image(window, (h, w)), window
        rows.add(window[0])
        cols.add(window[1])
    # against the border the crop has one position; along a free axis it is drawn at random
    assert rows == {fixed_row} if fixed_row is not None else len(rows) > 5
    assert cols == {fixed_col} if fixed_col is not None else len(cols) > 5


def test_object_larger_than_the_crop_warns_and_the_crop_cuts_it(tmp_path):
    objects = rasterize_deformations(load(tmp_path, annotation(5, [rect(10, 5, 69, 24)], ['Sill'])), (40, 90))
    assert objects[0].bbox == (5, 10, 25, 70)  # 20 rows, 60 columns
    for seed in range(20):
        with pytest.warns(CropCutsDeformationWarning, match=r'5\.json: deformation 0 \(Sill\) spans 20x60 pixels, '
                          r'more than the 32x32 crop'):
            row, col, h, w = crop_around_object(objects, (40, 90), 32, 0, rng=seed, name='5.json')
        assert inside_image((row, col, h, w), (40, 90))
        assert row <= 5 and row + 32 >= 25  # rows: the whole object
        assert 10 <= col and col + 32 <= 70  # columns: a cut within the object
        assert class_mask(objects, (40, 90), (row, col, h, w)).any(axis=0).all()  # object spans the crop width


def test_crop_larger_than_the_interferogram_and_a_missing_object_are_errors(tmp_path):
    objects = rasterize_deformations(load(tmp_path, annotation(1, [rect(1, 1, 3, 3)], ['Mogi'])), (20, 30))
    with pytest.raises(AnnotationError, match='the interferogram is 20x30 pixels, smaller than the 32x32 crop'):
        crop_around_object(objects, (20, 30), 32, 0)
    with pytest.raises(AnnotationError, match='no deformation 1; the annotation has 1 polygon'):
        crop_around_object(objects, (20, 30), 16, 1)


def test_tiling_is_non_overlapping_and_leaves_the_remainder_out():
    tiles = image_tiling((70, 100), 32)
    assert tiles == [(r, c, 32, 32) for r in (0, 32) for c in (0, 32, 64)]
    cover = np.zeros((70, 100), int)
    for r, c, h, w in tiles:
        cover[r:r + h, c:c + w] += 1
    assert cover.max() == 1 and cover.sum() == 6 * 32 * 32
    assert image_tiling((20, 20), 32) == []


# ------------------------------------------------------------------------------------------------------ save_crops
@pytest.fixture
def annotated(tmp_path):
    """A crowd frame (three objects, two of them close), a single object at the border, a frame without
    deformation, and one labelled as deformation without a polygon."""
    ann, raw = tmp_path / 'annotations', tmp_path / 'raw'
    records = [
        annotation(100, [rect(5, 5, 14, 14), rect(20, 8, 27, 15), rect(60, 45, 75, 58)], ['Mogi', 'Dyke', 'Earthquake'],
                   ['Low', 'High', 'Medium'], dates=('20200101', '20200107')),
        annotation(101, [rect(88, 0, 95, 9)], ['Sill'], ['High'], dates=('20210301', '20210313')),
        annotation(102, dates=('20200201', '20200213'), frame='083A_05300_151515'),
        annotation(103, label=['Deformation'], intensity=['None'], dates=('20200301', '20200313')),
    ]
    images = {}
    for k, record in enumerate(records):
        write_annotation(ann, record)
        images[record['uniqueID']] = write_interferogram(raw, record, 64, 96, seed=k)
    return ann, raw, images


def tree_digest(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob('*')) if p.is_file()}


def test_save_crops_writes_crops_masks_and_labels_for_the_whole_folder(tmp_path, annotated):
    ann, raw, images = annotated
    before = tree_digest(ann), tree_digest(raw)
    out = tmp_path / 'crops'
    with pytest.warns(UserWarning, match=r"103\.json: labelled \['Deformation'\] but has no deformation polygon"):
        summary = save_crops(ann, raw, out, out_size=32, seed=3)
    assert (tree_digest(ann), tree_digest(raw)) == before  # inputs untouched
    assert not [p for p in out.rglob('*') if p.name.startswith('.') or p.suffix == '.tmp']  # no temporary left
    assert summary.object_crops == 4 and summary.tiles == 6 and len(summary.skipped) == 1 and not summary.cut
    assert (out / 'crops.txt').read_text().split() == summary.crop_ids
    assert summary.crop_ids[:4] == ['100_000', '100_001', '100_002', '101_000']

    for crop_id in summary.crop_ids:
        record = json.loads((out / 'labels' / f'{crop_id}.json').read_text())
        row, col, h, w = record['window']
        assert (h, w) == (32, 32)
        insar, coherence = images[record['uniqueID']]
        crop = read_interferogram(out / 'images' / crop_id)
        np.testing.assert_array_equal(crop[..., 0], insar[row:row + h, col:col + w])
        np.testing.assert_array_equal(crop[..., 1], coherence[row:row + h, col:col + w])
        source = read_annotation(ann / record['annotation'])
        expected_mask = segmentation_mask(source, (64, 96))[row:row + h, col:col + w]
        np.testing.assert_array_equal(np.asarray(Image.open(out / 'masks' / f'{crop_id}.png')), expected_mask)
        present = sorted(set(np.unique(expected_mask)) - {0})
        assert record['activity_type'] == [ACTIVITY_CLASSES[c - 1] for c in present]
        assert record['label'] == (['Deformation'] if present else ['Non_Deformation'])
        assert record['frameID'] == source.frame_id and record['primary_date'] == source.primary_date
        assert record['atmospheric_fringes'] == 1 and record['confidence'] == 0.8  # annotation fields kept


def test_crowd_frame_gives_one_crop_per_object_each_labelled_with_all_it_contains(tmp_path, annotated):
    ann, raw, _ = annotated
    out = tmp_path / 'crops'
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)  # the skipped annotation 103
        save_crops(ann, raw, out, out_size=32, seed=0)
    records = [json.loads((out / 'labels' / f'100_{k:03d}.json').read_text()) for k in range(3)]
    assert [r['target'] for r in records] == [0, 1, 2]
    full = rasterize_deformations(read_annotation(ann / '100.json'), (64, 96))
    for r in records:
        assert contains(r['window'], full[r['target']].bbox)  # the whole target is in its crop
        assert r['target'] in r['objects']
        assert r['is_crowd'] == int(len(r['objects']) > 1)
        names = [ACTIVITY_CLASSES[full[i].class_index - 1] for i in r['objects']]
        assert r['activity_type'] == [c for c in ACTIVITY_CLASSES if c in names]
        levels = {('Low', 'High', 'Medium')[i] for i in r['objects']}
        assert r['intensity_level'] == [lv for lv in ('Low', 'Medium', 'High') if lv in levels]
    # the Mogi and the Dyke lie 6 px apart: any 32 px crop holding the whole Mogi sees part of the Dyke
    assert records[0]['objects'] == [0, 1] and records[0]['is_crowd'] == 1
    assert records[2]['objects'] == [2] and records[2]['activity_type'] == ['Earthquake']
    tiles = [json.loads(p.read_text()) for p in sorted((out / 'labels').glob('102_*.json'))]
    assert len(tiles) == 6 and all(t['label'] == ['Non_Deformation'] and t['target'] is None for t in tiles)


def test_save_crops_reports_cut_objects_and_missing_interferograms(tmp_path):
    ann, raw = tmp_path / 'ann', tmp_path / 'raw'
    record = annotation(9, [rect(0, 0, 50, 10)], ['Dyke'])
    write_annotation(ann, record)
    write_interferogram(raw, record, 40, 60)
    with pytest.warns(CropCutsDeformationWarning, match='spans 11x51 pixels'):
        summary = save_crops(ann, raw, tmp_path / 'out', out_size=32)
    assert summary.cut == ['9_000'] and json.loads((tmp_path / 'out/labels/9_000.json').read_text())['cut'] is True
    write_annotation(ann, annotation(10, [rect(0, 0, 5, 5)], ['Mogi'], frame='999X_00000_000000'))
    with pytest.raises(AnnotationError, match=r'10\.json: its interferogram folder .*999X_00000_000000.* does not '
                       r'exist'):
        save_crops(ann, raw, tmp_path / 'out2', out_size=32)


def test_interferogram_images_must_have_the_same_size(tmp_path):
    record = annotation(1)
    write_interferogram(tmp_path, record, 20, 30)
    folder = tmp_path / record['frameID'] / 'interferograms' / '20200101_20200113'
    Image.fromarray(np.zeros((20, 31), np.uint8)).save(folder / 'Coherence.png')
    with pytest.raises(AnnotationError, match=r'Coherence\.png: size 20x31 differs from InSAR\.png \(20x30\)'):
        read_interferogram(folder)
    (folder / 'InSAR.png').write_bytes(b'not a png')
    with pytest.raises(AnnotationError, match=r'InSAR\.png: not a readable image'):
        read_interferogram(folder)


def test_temporal_split_by_primary_date(tmp_path, annotated):
    ann, raw, _ = annotated
    out = tmp_path / 'crops'
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        summary = save_crops(ann, raw, out, out_size=32)
    splits = split_crops(out, '20210101')
    assert splits['val'] == ['101_000']  # the only annotation dated 2021
    assert sorted(splits['train'] + splits['val']) == sorted(summary.crop_ids)
    assert (out / 'train.txt').read_text().split() == splits['train']


def run_cli(*args):
    """tools/hephaestus_annotations.py in a subprocess."""
    return run([BIN / 'python', ROOT / 'tools' / 'hephaestus_annotations.py', *args])


def test_cli_masks_writes_one_class_mask_per_annotation(tmp_path, annotated):
    ann, raw, _ = annotated
    proc = run_cli('masks', ann, raw, tmp_path / 'masks')
    assert proc.returncode == 0
    assert 'wrote 4 masks' in proc.stdout
    for uid in (100, 101, 102, 103):
        mask = np.asarray(Image.open(tmp_path / 'masks' / f'{uid}.png'))
        np.testing.assert_array_equal(mask, segmentation_mask(read_annotation(ann / f'{uid}.json'), (64, 96)))
    assert set(np.unique(np.asarray(Image.open(tmp_path / 'masks' / '100.png')))) == {0, 1, 2, 5}
