"""SEN12MS / DFC2020: band groups and class map against the published tables, layouts, splits, errors."""
import shutil

import numpy as np
import pytest
from helpers.commands import BIN, ROOT, run
from helpers.rasters import write_geotiff

from geospatial_mm.datasets import (
    DFC2020Dataset,
    LoadSEN12MSAnnotations,
    LoadSEN12MSImage,
    S1S2FolderDataset,
    SEN12MSDataset,
)
from geospatial_mm.datasets.sen12ms_schema import dfc_metainfo
from geospatial_mm.io import RasterError
from geospatial_mm.io.names import strip_tokens

# The baseline's published tables (facts restated here independently of the package's constants).
S2_FILE_ORDER = ['B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8', 'B8A', 'B9', 'B10', 'B11', 'B12']
GROUPS = {'s2hr': ['B2', 'B3', 'B4', 'B8'], 's2mr': ['B5', 'B6', 'B7', 'B8A', 'B11', 'B12'],
          's2lr': ['B1', 'B9', 'B10']}
IGBP_TO_DFC_NAMES = {
    1: 'Forest', 2: 'Forest', 3: 'Forest', 4: 'Forest', 5: 'Forest',  # evergreen/deciduous needle-/broadleaf, mixed
    6: 'Shrubland', 7: 'Shrubland',  # closed, open shrublands
    8: 'Savanna', 9: 'Savanna',  # woody savannas, savannas
    10: 'Grassland', 11: 'Wetlands', 12: 'Croplands', 13: 'Urban/Built-up',
    14: 'Croplands',  # cropland/natural vegetation mosaics
    15: 'Snow/Ice', 16: 'Barren', 17: 'Water'}
DFC_COLOURS = {'Forest': '#009900', 'Shrubland': '#c6b044', 'Savanna': '#fbff13', 'Grassland': '#b6ff05',
               'Wetlands': '#27ff87', 'Croplands': '#c24f44', 'Urban/Built-up': '#a5a5a5', 'Snow/Ice': '#69fff8',
               'Barren': '#f9ffa4', 'Water': '#1c0dff'}


def _s2_s1(tmp_path, size=4):
    s2 = np.stack([np.full((size, size), 500 * (i + 1), np.uint16) for i in range(13)])  # band i holds 500 (i+1)
    s2[3, 0, 0] = 12000  # above the 0-10000 range
    s1 = np.full((2, size, size), -5.0, np.float32)
    s1[1] = -30.0  # VH below -25 dB
    s1[0, 1, 1] = np.nan
    return (write_geotiff(tmp_path / 's2' / 'x_s2_1.tif', s2), write_geotiff(tmp_path / 's1' / 'x_s1_1.tif', s1),
            s2)


@pytest.mark.parametrize('groups', [['s2hr'], ['s2mr'], ['s2lr'], ['s2lr', 's2hr'], ['s2hr', 's2mr', 's2lr', 's1'],
                                    ['s1']])
def test_band_groups_read_the_published_bands_in_file_order_then_s1(tmp_path, groups):
    p2, p1, s2 = _s2_s1(tmp_path)
    loader = LoadSEN12MSImage(groups=groups)
    out = loader(dict(s2_path=str(p2), s1_path=str(p1)))
    names = sorted((b for g in groups if g != 's1' for b in GROUPS[g]), key=S2_FILE_ORDER.index)
    names += ['VV', 'VH'] if 's1' in groups else []
    assert loader.channel_names == names and list(out['geo_meta']['band_names']) == names
    img = out['img']
    assert img.shape == (4, 4, len(names))
    for c, name in enumerate(names):
        if name in ('VV', 'VH'):
            continue
        expected = min(500 * (S2_FILE_ORDER.index(name) + 1), 10000) / 10000  # clipped to 0-10000, scaled to 0-1
        assert img[1, 1, c] == pytest.approx(expected)
        if name == 'B4':
            assert img[0, 0, c] == pytest.approx(1.0)  # 12000 clipped to 10000
    if 's1' in groups:
        vv, vh = img[..., -2], img[..., -1]
        assert vv[0, 0] == pytest.approx(-5 / 25 + 1) and vh[0, 0] == pytest.approx(0.0)  # -30 dB clipped to -25
        assert vv[1, 1] == pytest.approx(1.0)  # NaN -> 0 dB -> 1
        assert not out['nodata_mask'].any()


def test_unknown_band_group_is_refused():
    with pytest.raises(ValueError, match=r"unknown band group\(s\) \['s2xx'\]"):
        LoadSEN12MSImage(groups=['s2hr', 's2xx'])


@pytest.mark.parametrize('no_savanna', [False, True])
def test_igbp_labels_map_to_the_dfc_classes_of_the_published_table(tmp_path, no_savanna):
    lc = np.zeros((4, 3, 6), np.uint8)  # 4 bands like SEN12MS lc; band 1 is IGBP
    lc[0].flat[:18] = np.arange(18)  # 0 (no label) and 1-17
    lc[1:] = 99  # LCCS bands are not read
    path = write_geotiff(tmp_path / 'lc.tif', lc)
    out = LoadSEN12MSAnnotations(scheme='igbp', no_savanna=no_savanna)(dict(seg_map_path=str(path)))
    label = out['gt_seg_map']
    classes = dfc_metainfo(no_savanna)['classes']
    assert label.flat[0] == 255  # no label
    for igbp, name in IGBP_TO_DFC_NAMES.items():
        if no_savanna and name == 'Savanna':
            assert label.flat[igbp] == 255, igbp
        else:
            assert classes[label.flat[igbp]] == name, igbp
    assert len(classes) == (9 if no_savanna else 10)


@pytest.mark.parametrize('no_savanna', [False, True])
def test_dfc_labels_become_zero_based_class_indices(tmp_path, no_savanna):
    codes = np.arange(11, dtype=np.uint8).reshape(1, 11)  # 0 and DFC codes 1-10
    path = write_geotiff(tmp_path / 'dfc.tif', codes)
    label = LoadSEN12MSAnnotations(scheme='dfc', no_savanna=no_savanna)(dict(seg_map_path=str(path)))['gt_seg_map']
    names = list(DFC_COLOURS)
    classes = dfc_metainfo(no_savanna)['classes']
    assert label[0, 0] == 255
    for code in range(1, 11):
        expected = 255 if no_savanna and names[code - 1] == 'Savanna' else classes.index(names[code - 1])
        assert label[0, code] == expected


def test_label_values_outside_the_scheme_name_the_file(tmp_path):
    path = write_geotiff(tmp_path / 'lc.tif', np.array([[1, 18, 200]], np.uint8))
    with pytest.raises(RasterError, match=rf'{path}: label values must be IGBP codes 0-17 .*found \[18, 200\]'):
        LoadSEN12MSAnnotations(scheme='igbp')(dict(seg_map_path=str(path)))
    with pytest.raises(RasterError, match='must be DFC codes 0-10'):
        LoadSEN12MSAnnotations(scheme='dfc')(dict(seg_map_path=str(path)))


def test_palette_is_the_published_colour_map():
    meta = dfc_metainfo(False)
    assert list(meta['classes']) == list(DFC_COLOURS)
    assert ['#%02x%02x%02x' % tuple(c) for c in meta['palette']] == list(DFC_COLOURS.values())
    nosav = dfc_metainfo(True)
    assert 'Savanna' not in nosav['classes'] and [251, 255, 19] not in nosav['palette']


def test_strip_tokens_keeps_tokens_inside_longer_words():
    assert strip_tokens('ROIs1158_spring_s1_7_p30.tif', ['s1', 's2', 'lc']) == 'ROIs1158_spring_7_p30.tif'
    assert strip_tokens('image_S2_001.tif', ['s1', 's2']) == 'image_001.tif'
    assert strip_tokens('image_001.tif', ['s1', 's2']) == 'image_001.tif'
    assert strip_tokens('s2_scene.tif', ['s2']) == 'scene.tif'


# ---------------------------------------------------------------------------------------------- layouts
@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp('sen12ms_demo')
    run([BIN / 'python', ROOT / 'tools' / 'make_demo_data.py', out, '--datasets', 'sen12ms', '--size', '16',
         '--scenes', '8', '4'])
    return out


def test_sen12ms_train_and_holdout_follow_the_hold_out_scene_list(demo):
    root = demo / 'sen12ms'
    listed = (root / 'SEN12MS_holdOutScenes.txt').read_text().split()
    assert listed and all(line in (ROOT / 'data_splits' / 'sen12ms' / 'SEN12MS_holdOutScenes.txt').read_text()
                          for line in listed)  # official scene ids
    train = SEN12MSDataset(data_root=str(root), split='train', no_savanna=True)
    holdout = SEN12MSDataset(data_root=str(root), split='holdout', no_savanna=True)
    assert len(train) == 8 and len(holdout) == 4
    held_scenes = {tuple(line.replace('s1_', 's2_').split('/')) for line in listed}
    for ds, inside in ((train, False), (holdout, True)):
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            s2 = info['s2_path']
            season, folder = s2.split('/')[-3:-1]
            assert ((season, folder) in held_scenes) is inside
            assert info['img_path'] == s2
            assert info['s1_path'] == s2.replace('/s2_', '/s1_').replace('_s2_', '_s1_')
            assert info['seg_map_path'] == s2.replace('/s2_', '/lc_').replace('_s2_', '_lc_')
    assert train.metainfo['classes'] == dfc_metainfo(True)['classes']
    assert train[0]['sample_id'].startswith('ROIs') and '_s2_' not in train[0]['sample_id']


def test_sen12ms_errors_name_what_is_missing(demo, tmp_path):
    root = tmp_path / 'sen12ms'
    shutil.copytree(demo / 'sen12ms', root)
    s1_file = next((root / 'ROIs1970_fall').glob('s1_2*/*.tif'))
    s1_file.unlink()
    with pytest.raises(FileNotFoundError, match='no s1 file matches it in'):
        SEN12MSDataset(data_root=str(root), split='train')
    (root / 'SEN12MS_holdOutScenes.txt').write_text('ROIs1158_spring/s1_999\n')
    with pytest.raises(FileNotFoundError, match=r"hold-out scene\(s\) \['999'\] listed in"):
        SEN12MSDataset(data_root=str(root), split='holdout')
    (root / 'SEN12MS_holdOutScenes.txt').write_text('spring_63\n')
    with pytest.raises(ValueError, match=r'SEN12MS_holdOutScenes.txt:1: expected a scene like ROIs1158_spring/s1_63'):
        SEN12MSDataset(data_root=str(root), split='train')
    (root / 'SEN12MS_holdOutScenes.txt').write_text('ROIs1158_spring/s1_63\n')
    with pytest.raises(FileNotFoundError, match=r"season folder\(s\) \['ROIs9999_autumn'\] not found"):
        SEN12MSDataset(data_root=str(root), seasons=['ROIs9999_autumn'])
    (root / 'SEN12MS_holdOutScenes.txt').unlink()
    with pytest.raises(FileNotFoundError, match='hold-out scene list not found .*data_splits/sen12ms'):
        SEN12MSDataset(data_root=str(root))


@pytest.mark.parametrize('split', ['validation', 'test'])
def test_dfc2020_layout(demo, split):
    ds = DFC2020Dataset(data_root=str(demo / 'dfc2020'), split=split, no_savanna=False)
    assert len(ds) == 4 and len(ds.metainfo['classes']) == 10
    info = ds.get_data_info(0)
    assert f'/ROIs0000_{split}/s2_' in info['s2_path'] and info['seg_map_path'].endswith(
        info['s2_path'].rsplit('/', 1)[1].replace('_s2_', '_dfc_'))
    assert '/dfc_' in info['seg_map_path'] and '/s1_' in info['s1_path']


def test_unlabeled_s1_s2_folders_match_with_or_without_tokens(tmp_path):
    data = np.zeros((2, 4, 4), np.float32)
    for name2, name1 in (('a_s2_001.tif', 'a_s1_001.tif'), ('b_002.tif', 'b_002.tif')):
        write_geotiff(tmp_path / 's2' / name2, data)
        write_geotiff(tmp_path / 's1' / name1, data)
    ds = S1S2FolderDataset(data_root=str(tmp_path), no_savanna=True)
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    pairs = sorted((d['s2_path'].rsplit('/', 1)[1], d['s1_path'].rsplit('/', 1)[1]) for d in infos)
    assert pairs == [('a_s2_001.tif', 'a_s1_001.tif'), ('b_002.tif', 'b_002.tif')]
    assert all('seg_map_path' not in d for d in infos)
    write_geotiff(tmp_path / 's1' / 'c_s1_003.tif', data)  # an S1 patch without its S2 patch
    with pytest.raises(FileNotFoundError, match='c_s1_003.tif: no s2 file matches it'):
        S1S2FolderDataset(data_root=str(tmp_path))
