"""Several files per sample for model_inference: sibling source folders matched by name, and their previews."""
import numpy as np
import pytest
from helpers.commands import ROOT
from helpers.rasters import write_geotiff
from mmengine.config import Config

from geospatial_mm.inference.model import inference_pipeline, label_loader_cfg
from geospatial_mm.inference.sources import find_source_folders
from geospatial_mm.inference.tile_model import TileModel

KEYS = ('s2_path', 's1_path')
DATA = np.zeros((1, 4, 4), np.uint8)


def names(samples):
    return sorted((s.name, {k: p.rsplit('/', 2)[-2] + '/' + p.rsplit('/', 1)[1] for k, p in s.paths.items()},
                   s.problem) for s in samples)


def test_s1_s2_folders_matched_with_the_tokens_ignored(tmp_path):
    for name2, name1 in (('x_s2_001.tif', 'x_s1_001.tif'), ('y.tif', 'y.tif')):
        write_geotiff(tmp_path / 's2' / name2, DATA)
        write_geotiff(tmp_path / 's1' / name1, DATA)
    samples = find_source_folders(tmp_path, '.tif', KEYS)
    assert names(samples) == [('x_001', {'s2_path': 's2/x_s2_001.tif', 's1_path': 's1/x_s1_001.tif'}, None),
                              ('y', {'s2_path': 's2/y.tif', 's1_path': 's1/y.tif'}, None)]
    assert all(s.primary == s.paths['s2_path'] for s in samples)


def test_dfc2020_and_sen12ms_folder_groups(tmp_path):
    scene = tmp_path / 'ROIs0000_validation'
    for kind in ('s1', 's2', 'dfc', 'lc'):  # dfc and lc are not inputs: ignored
        for k in range(2):
            write_geotiff(scene / f'{kind}_validation' / f'ROIs0000_validation_{kind}_0_p{k}.tif', DATA)
    assert [s.name for s in find_source_folders(scene, '.tif', KEYS)] == ['ROIs0000_validation_0_p0',
                                                                         'ROIs0000_validation_0_p1']
    season = tmp_path / 'ROIs1158_spring'
    for n in (7, 63):
        for kind in ('s1', 's2'):
            write_geotiff(season / f'{kind}_{n}' / f'ROIs1158_spring_{kind}_{n}_p1.tif', DATA)
    samples = find_source_folders(season, '.tif', KEYS)
    assert [(s.name, s.paths['s1_path'].rsplit('/', 2)[-2]) for s in samples] == [
        ('ROIs1158_spring_63_p1', 's1_63'), ('ROIs1158_spring_7_p1', 's1_7')]


def test_missing_partners_are_problems_of_their_sample(tmp_path):
    write_geotiff(tmp_path / 's2' / 'a_s2_1.tif', DATA)
    write_geotiff(tmp_path / 's2' / 'b_s2_2.tif', DATA)
    write_geotiff(tmp_path / 's1' / 'a_s1_1.tif', DATA)
    write_geotiff(tmp_path / 's1' / 'c_s1_3.tif', DATA)
    samples = {s.name: s for s in find_source_folders(tmp_path, '.tif', KEYS)}
    assert samples['a_1'].problem is None
    assert samples['b_2'].problem == f'{tmp_path}/s2/b_s2_2.tif: no s1 file matches it in {tmp_path}/s1'
    assert samples['c_3'].problem == f'{tmp_path}/s1/c_s1_3.tif: no s2 file matches it in {tmp_path}/s2'
    assert samples['c_3'].primary == f'{tmp_path}/s1/c_s1_3.tif'


def test_an_input_folder_without_source_folders_says_what_it_expects(tmp_path):
    write_geotiff(tmp_path / 'scene.tif', DATA)
    with pytest.raises(FileNotFoundError, match=r'reads 2 file\(s\) per sample \(s2_path, s1_path\): expected the '
                                                r'sub-folders s2/, s1/'):
        find_source_folders(tmp_path, '.tif', KEYS)


def test_preview_rgb_comes_from_b4_b3_b2_of_the_s2_file_and_labels_use_the_dfc_scheme():
    cfg = Config.fromfile(ROOT / 'configs' / 'dfc2020_unet.py')
    _, spec = inference_pipeline(cfg)
    assert spec.path_keys == KEYS and spec.source_bands['s1_path'] == [0, 1]
    model = TileModel()
    model.spec, model.preview_rgb_bands = spec, cfg.preview_rgb_bands
    panels = model.preview_panels()
    assert [(key, band) for key, band, _ in panels[0][1]] == [('s2_path', 3), ('s2_path', 2), ('s2_path', 1)]
    loader = panels[0][1][0][2]
    values, _ = loader.convert(np.array([[[2500, 12000]]], np.uint16))
    np.testing.assert_allclose(values, [[[0.25, 1.0]]])  # the model's scaling: clipped to 10000, / 10000
    assert label_loader_cfg(cfg) == dict(type='LoadSEN12MSAnnotations', scheme='dfc', no_savanna=True)
    with pytest.raises(ValueError, match='-bands cannot be used with LoadSEN12MSImage'):
        inference_pipeline(cfg, bands=[0, 1, 2])
    with pytest.raises(ValueError, match='LoadSEN12MSImage reads several files, each with its own scale'):
        inference_pipeline(cfg, scaling=dict(scale=0.001))
