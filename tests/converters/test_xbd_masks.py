"""geospatial_mm/converters/xbd_masks.py and tools/xbd_masks.py: xBD label JSONs -> localisation and damage targets,
and the train/val/test split."""
import json

import numpy as np
import pytest
import rasterio
from helpers.commands import BIN, ROOT, run

from geospatial_mm.converters import xbd_masks
from geospatial_mm.io import write_png

SIZE = 20
COURTYARD = 'POLYGON ((2 2, 10 2, 10 10, 2 10, 2 2), (4 4, 8 4, 8 8, 4 8, 4 4))'
BORDER = 'POLYGON ((15 -3, 25 -3, 25 4, 15 4, 15 -3))'  # crosses the top and right image borders
UNCLASSIFIED = 'POLYGON ((12 12, 16 12, 16 16, 12 16, 12 12))'
SMALL = 'POLYGON ((1 14, 4 14, 4 18, 1 18, 1 14))'
BUILDINGS = [(COURTYARD, 'minor-damage'), (BORDER, 'destroyed'), (UNCLASSIFIED, 'un-classified'),
             (SMALL, 'no-damage')]


def label(buildings, post, size=SIZE):
    xy = []
    for i, (wkt, subtype) in enumerate(buildings):
        props = dict(feature_type='building', uid=f'uid-{i}')
        if post:
            props['subtype'] = subtype
        xy.append(dict(properties=props, wkt=wkt))
    return dict(features=dict(lng_lat=[], xy=xy), metadata=dict(width=size, height=size, disaster='test-flood'))


def write_sample(tier_dir, name, buildings, size=SIZE, image_size=None):
    for when in ('pre', 'post'):
        path = tier_dir / 'labels' / f'{name}_{when}_disaster.json'
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(label(buildings, when == 'post', size)))
        side = image_size or size
        write_png(tier_dir / 'images' / f'{name}_{when}_disaster.png', np.zeros((3, side, side), np.uint8))


def expected_maps():
    loc = np.zeros((SIZE, SIZE), np.uint8)
    damage = np.zeros((SIZE, SIZE), np.uint8)
    # a pixel is inside when its centre (col + 0.5, row + 0.5) is
    loc[2:10, 2:10] = 1
    loc[4:8, 4:8] = 0  # the courtyard stays background
    damage[loc == 1] = 2
    loc[0:4, 15:20] = 1  # cut at the image border
    damage[0:4, 15:20] = 4
    loc[12:16, 12:16] = 1
    damage[12:16, 12:16] = 255  # un-classified: ignored in damage, a building in localisation
    loc[14:18, 1:4] = 1
    damage[14:18, 1:4] = 1
    return loc, damage


def read(path):
    with rasterio.open(path) as src:
        assert src.count == 1 and src.dtypes[0] == 'uint8'
        return src.read(1)


def test_targets_of_holes_border_and_unclassified_buildings(tmp_path):
    tier = tmp_path / 'xBD' / 'tier1'
    write_sample(tier, 'test-flood_00000001', BUILDINGS)
    summary = xbd_masks.make_targets(tmp_path / 'xBD', ['tier1'])
    assert summary['tier1']['written'] == 2 and summary['tier1']['un-classified'] == 1
    loc, damage = expected_maps()
    np.testing.assert_array_equal(read(tier / 'targets' / 'test-flood_00000001_pre_disaster_target.png'), loc)
    np.testing.assert_array_equal(read(tier / 'targets' / 'test-flood_00000001_post_disaster_target.png'), damage)
    assert sorted(p.name for p in (tier / 'targets').iterdir()) == [
        'test-flood_00000001_post_disaster_target.png', 'test-flood_00000001_pre_disaster_target.png']


def test_existing_targets_are_kept_unless_overwrite(tmp_path):
    tier = tmp_path / 'tier1'
    write_sample(tier, 'a_00000000', BUILDINGS)
    xbd_masks.make_targets(tmp_path, ['tier1'])
    target = tier / 'targets' / 'a_00000000_post_disaster_target.png'
    write_png(target, np.full((SIZE, SIZE), 3, np.uint8))
    assert xbd_masks.make_targets(tmp_path, ['tier1'])['tier1']['kept'] == 2
    assert (read(target) == 3).all()
    assert xbd_masks.make_targets(tmp_path, ['tier1'], overwrite=True)['tier1']['written'] == 2
    np.testing.assert_array_equal(read(target), expected_maps()[1])


def test_a_self_intersecting_polygon_is_repaired_and_counted(tmp_path):
    bowtie = 'POLYGON ((2 2, 12 12, 12 2, 2 12, 2 2))'
    write_sample(tmp_path / 'hold', 'b_00000000', [(bowtie, 'destroyed')])
    summary = xbd_masks.make_targets(tmp_path, ['hold'])
    assert summary['hold']['repaired'] == 2  # pre and post label
    damage = read(tmp_path / 'hold' / 'targets' / 'b_00000000_post_disaster_target.png')
    assert set(np.unique(damage)) == {0, 4} and damage[7, 3] == 4 and damage[3, 7] == 0


def test_bad_labels_are_errors_naming_the_file(tmp_path):
    write_sample(tmp_path / 'tier3', 'c_00000000', [(SMALL, 'partly-damaged')])
    with pytest.raises(xbd_masks.LabelError, match=r'c_00000000_post_disaster\.json: feature uid-0: damage subtype '
                                                   r"'partly-damaged'"):
        xbd_masks.make_targets(tmp_path, ['tier3'])
    write_sample(tmp_path / 'test', 'd_00000000', [(SMALL, 'no-damage')], image_size=24)
    with pytest.raises(xbd_masks.LabelError, match=r'd_00000000_p\w+_disaster\.json: metadata says 20x20 pixels but '
                                                   r'the image .* has 24x24'):
        xbd_masks.make_targets(tmp_path, ['test'])
    (tmp_path / 'tier1' / 'labels').mkdir(parents=True)
    (tmp_path / 'tier1' / 'labels' / 'e_00000000_pre_disaster.json').write_text('{"features": {}}')
    with pytest.raises(xbd_masks.LabelError, match='e_00000000_pre_disaster.json: expected an xBD label'):
        xbd_masks.make_targets(tmp_path, ['tier1'])
    assert not list(tmp_path.rglob('.*.tmp*'))  # no temporary file left behind


@pytest.mark.slow
def test_split_files_follow_the_tiers_and_share_tier3_per_disaster(tmp_path):
    root = tmp_path / 'xBD'
    for tier, names in dict(tier1=['flood_00000000', 'flood_00000001'],
                            tier3=[f'fire_{i:08d}' for i in range(8)] + [f'wind_{i:08d}' for i in range(4)],
                            hold=['quake_00000000'], test=['storm_00000000', 'storm_00000001']).items():
        for name in names:
            write_sample(root / tier, name, BUILDINGS)
    tool = [BIN / 'python', ROOT / 'tools' / 'xbd_masks.py']
    assert run(tool + [root, '--split-dir', root / 'splits', '--seed', '3']).returncode == 0
    splits = {s: (root / 'splits' / f'{s}.txt').read_text().split() for s in ('train', 'val', 'test')}
    assert splits['test'] == ['test/storm_00000000', 'test/storm_00000001']
    val_tier3 = [s for s in splits['val'] if s.startswith('tier3/')]
    assert sorted(s.split('/')[1].split('_')[0] for s in val_tier3) == ['fire', 'fire', 'wind']  # 25 % of each
    assert 'hold/quake_00000000' in splits['val'] and 'tier1/flood_00000000' in splits['train']
    assert sorted(splits['train'] + splits['val']) == sorted(
        [f'tier1/flood_{i:08d}' for i in range(2)] + ['hold/quake_00000000'] +
        [f'tier3/fire_{i:08d}' for i in range(8)] + [f'tier3/wind_{i:08d}' for i in range(4)])
    assert (root / 'tier3' / 'targets' / 'fire_00000007_post_disaster_target.png').is_file()
    again = xbd_masks.make_splits(root, ['tier1'], ['hold'], ['tier3'], ['test'], 0.25, 3)
    assert again['val'] == splits['val']  # the same seed draws the same split
