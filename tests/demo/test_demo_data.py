"""geospatial_mm.demo and tools/make_demo_data.py: each maker writes the layout its dataset class reads, the same
seed writes the same data and another seed other data, the labels follow the package's class tables, and importing
the package stays light."""
from __future__ import annotations

import inspect
import json
import runpy
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio

from geospatial_mm.demo import DEFAULT_SIZES, MAKERS, default_size

ROOT = Path(__file__).resolve().parents[2]
SIZE = 32  # pixels: every maker works at this side, and quickly
N_TRAIN, N_VAL = 4, 2


def make(name: str, out: Path, seed: int = 0, size: int = SIZE, **kwargs) -> Path:
    return MAKERS[name](out, size, N_TRAIN, N_VAL, seed, **kwargs)


def read_tif(path: Path) -> tuple[np.ndarray, dict]:
    with rasterio.open(path) as src:
        return src.read(), dict(dtype=src.dtypes[0], count=src.count, nodata=src.nodata, crs=src.crs,
                                transform=src.transform)


def snapshot(root: Path) -> dict[str, tuple]:
    """Every file under ``root`` by relative path: rasters as their pixels and georeference (not their encoding),
    other files as their bytes."""
    files = {}
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', rasterio.errors.NotGeoreferencedWarning)
        for path in sorted(p for p in root.rglob('*') if p.is_file()):
            if path.suffix in ('.tif', '.png'):
                data, meta = read_tif(path)
                files[str(path.relative_to(root))] = (data.dtype.str, data.shape, data.tobytes(), repr(meta))
            else:
                files[str(path.relative_to(root))] = (path.read_bytes(),)
    return files


def build_seg_dataset(config: str, loader: str, data_root: Path, ann_file: Path | None = None):
    """The ``loader`` dataset of a task's dataset config, on ``data_root``, with its own (test) pipeline."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    init_default_scope('mmseg')
    cfg = Config.fromfile(ROOT / 'configs' / '_base_' / 'datasets' / f'{config}.py')
    ds_cfg = cfg[loader].dataset
    ds_cfg.data_root = str(data_root)
    if ann_file is not None:
        ds_cfg.ann_file = str(ann_file)
    return DATASETS.build(ds_cfg)


# ----------------------------------------------------------------------------------------------- the package
def test_makers_table_and_signatures():
    assert list(MAKERS) == ['burn_scars', 'sen1floods11', 'crop', 'hephaestus', 'sen12ms', 'slumps', 'xbd']
    for name, maker in MAKERS.items():
        params = list(inspect.signature(maker.module.make).parameters)
        assert params[:5] == ['out', 'size', 'n_train', 'n_val', 'seed'], name
        assert maker.module.__name__ == f'geospatial_mm.demo.{name}'
    assert 'scene_sizes' in inspect.signature(MAKERS['burn_scars'].module.make).parameters
    assert default_size('crop') == 224 and default_size('sen12ms') == 256 and default_size('xbd') == 512
    assert set(DEFAULT_SIZES) <= set(MAKERS)


def test_importing_the_demo_package_imports_no_maker_and_no_openmmlab_library():
    code = ('import sys, geospatial_mm; before = set(sys.modules); import geospatial_mm.demo; '
            'print(" ".join(sorted(set(sys.modules) - before)))')
    added = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True,
                           cwd=ROOT).stdout.split()
    assert 'geospatial_mm.demo' in added
    heavy = [m for m in added if m.split('.')[0] in ('mmseg', 'mmdet', 'mmpretrain', 'mmengine', 'torch', 'rasterio',
                                                       'shapely', 'scipy')
             or (m.startswith('geospatial_mm.demo.'))]
    assert heavy == []


@pytest.mark.parametrize('name', list(MAKERS))
def test_same_seed_same_files_other_seed_other_data(name, tmp_path):
    first = make(name, tmp_path / 'a', seed=3)
    again = make(name, tmp_path / 'b', seed=3)
    other = make(name, tmp_path / 'c', seed=4)
    assert first.name == again.name == other.name
    a, b, c = snapshot(first), snapshot(again), snapshot(other)
    assert a and a == b
    rasters = [k for k in a if k.endswith(('.tif', '.png'))]
    assert rasters
    assert any(k not in c or a[k] != c[k] for k in rasters)
    assert not [k for k in a if Path(k).name.startswith('.')], 'temporary files left behind'


def test_the_command_line_writes_what_make_writes(tmp_path, capsys):
    tool = runpy.run_path(str(ROOT / 'tools' / 'make_demo_data.py'), run_name='make_demo_data')
    out = tmp_path / 'cli'
    assert tool['main']([str(out), '--datasets', 'burn_scars', 'sen1floods11', '--size', str(SIZE), '--scenes',
                         str(N_TRAIN), str(N_VAL), '--seed', '5', '--scene-sizes', '48']) == 0
    assert capsys.readouterr().out.splitlines() == [f'burn_scars: {out / "hls_burn_scars"}',
                                                     f'sen1floods11: {out / "sen1floods11"}']
    direct = tmp_path / 'direct'
    make('burn_scars', direct, seed=5, scene_sizes=[48])
    make('sen1floods11', direct, seed=5)
    for folder in ('hls_burn_scars', 'sen1floods11'):
        assert snapshot(out / folder) == snapshot(direct / folder)
    assert [p.name for p in (out / 'hls_burn_scars' / 'scenes').iterdir()] and all(
        p.name.startswith('subsetted_48x48_') for p in (out / 'hls_burn_scars' / 'scenes').iterdir())
    # without --size, the real datasets' sides
    assert tool['main']([str(out), '--datasets', 'crop', '--scenes', '1', '1']) == 0
    data, _ = read_tif(next((out / 'multi_temporal_crop_classification' / 'training_chips').glob('*_merged.tif')))
    assert data.shape == (18, 224, 224)
    with pytest.raises(SystemExit) as exit_info:
        tool['main']([str(out), '--datasets', 'nothing'])
    assert exit_info.value.code == 2


# ----------------------------------------------------------------------------------------------- the layouts
def test_burn_scars_layout_loads_with_the_burn_scars_config(tmp_path):
    root = make('burn_scars', tmp_path)
    assert len(list((root / 'training').glob('subsetted_32x32_HLS.S30.T*.v1.4_merged.tif'))) == N_TRAIN
    ds = build_seg_dataset('hls_burn_scars', 'val_dataloader', root)
    assert len(ds) == N_VAL
    img, meta = read_tif(Path(ds.get_data_info(0)['img_path']))
    mask, mask_meta = read_tif(Path(ds.get_data_info(0)['seg_map_path']))
    assert img.shape == (6, SIZE, SIZE) and meta['dtype'] == 'float32' and meta['nodata'] == -9999
    assert mask_meta['dtype'] == 'int16' and set(np.unique(mask)) <= {-1, 0, 1}
    assert meta['crs'] == mask_meta['crs'] and meta['transform'] == mask_meta['transform']
    sample = ds[0]
    assert tuple(sample['inputs'].shape) == (6, 1, SIZE, SIZE)
    assert set(np.unique(sample['data_samples'].gt_sem_seg.data.numpy())) <= {0, 1, 255}


def test_burn_scars_are_learnable(tmp_path):
    root = make('burn_scars', tmp_path, size=64)
    nir = {0: [], 1: []}
    for path in (root / 'training').glob('*_merged.tif'):
        img, _ = read_tif(path)
        mask, _ = read_tif(path.with_name(path.name.replace('_merged.tif', '.mask.tif')))
        assert ((img[0] == -9999) == (mask[0] == -1)).all()  # nodata where the mask says missing
        for value in (0, 1):
            nir[value].append(img[3][mask[0] == value])
    assert np.concatenate(nir[1]).mean() < np.concatenate(nir[0]).mean() - 0.05  # burned: darker NIR


def test_sen1floods11_layout_loads_with_the_sen1floods11_config(tmp_path):
    root = make('sen1floods11', tmp_path)
    splits = {p.name: p.read_text().split() for p in (root / 'splits').iterdir()}
    assert {k: len(v) for k, v in splits.items()} == {'train_split.txt': N_TRAIN, 'val_split.txt': N_VAL,
                                                      'test_split.txt': N_VAL, 'bolivia_split.txt': 1}
    official = (ROOT / 'data_splits' / 'sen1floods11' / 'bolivia_split.txt').read_text().split()
    assert splits['bolivia_split.txt'] == official[:1]
    ds = build_seg_dataset('sen1floods11', 'val_dataloader', root / 'v1.1' / 'data' / 'flood_events' / 'HandLabeled',
                           root / 'splits' / 'val_split.txt')
    assert len(ds) == N_VAL
    img, meta = read_tif(Path(ds.get_data_info(0)['img_path']))
    label, label_meta = read_tif(Path(ds.get_data_info(0)['seg_map_path']))
    assert img.shape == (13, SIZE, SIZE) and meta['dtype'] == 'int16' and meta['nodata'] == -9999
    assert label_meta['dtype'] == 'int16' and label_meta['nodata'] == -1 and str(label_meta['crs']) == 'EPSG:4326'
    water, land = img[:, label[0] == 1], img[:, label[0] == 0]
    assert water[7].mean() < 0.5 * land[7].mean()  # water is dark in NIR (B8)
    assert ds[0]['inputs'].shape[-2:] == (SIZE, SIZE)


def test_crop_layout_loads_with_the_crop_config(tmp_path):
    root = make('crop', tmp_path)
    ids = (root / 'validation_data.txt').read_text().split()
    assert len(ids) == N_VAL and len((root / 'training_data.txt').read_text().split()) == N_TRAIN
    ds = build_seg_dataset('multi_temporal_crop', 'val_dataloader', root, root / 'validation_data.txt')
    assert len(ds) == N_VAL
    img, meta = read_tif(root / 'validation_chips' / f'{ids[0]}_merged.tif')
    mask, mask_meta = read_tif(root / 'validation_chips' / f'{ids[0]}.mask.tif')
    assert img.shape == (18, SIZE, SIZE) and meta['dtype'] == 'int16' and mask_meta['dtype'] == 'uint8'
    assert set(np.unique(mask)) <= set(range(14))
    assert tuple(ds[0]['inputs'].shape) == (6, 3, SIZE, SIZE)


def test_hephaestus_layout_reads_with_the_hephaestus_schema(tmp_path):
    from geospatial_mm.datasets import HephaestusInterferograms
    from geospatial_mm.datasets.hephaestus_schema import (
        ACTIVITY_CLASSES,
        INTENSITY_LEVELS,
        read_annotation,
        read_interferogram,
    )
    root = make('hephaestus', tmp_path)
    ds = HephaestusInterferograms(data_root=str(root / 'Hephaestus_Raw'))
    assert len(ds) == N_TRAIN + N_VAL + (N_TRAIN + N_VAL) // 2
    annotations = sorted((root / 'annotations').glob('*.json'))
    assert len(annotations) == N_TRAIN + N_VAL
    dates = []
    for path in annotations:
        ann = read_annotation(path)
        assert set(ann.activity_type) <= set(ACTIVITY_CLASSES)
        assert all(ann.intensity_of(i) in INTENSITY_LEVELS for i in range(len(ann.activity_type)))
        assert len(ann.polygons) == len(ann.activity_type)
        images = read_interferogram(ann.interferogram_dir(root / 'Hephaestus_Raw'))
        assert images.shape == (SIZE, SIZE, 2) and images.dtype == np.uint8
        dates.append(ann.primary_date)
    assert sum(d < '20210101' for d in dates) == N_TRAIN  # training before 2021, validation in 2021


def test_sen12ms_layout_loads_with_the_sen12ms_datasets(tmp_path):
    from geospatial_mm.datasets import DFC2020Dataset, SEN12MSDataset
    root = make('sen12ms', tmp_path, size=16)
    assert len(SEN12MSDataset(data_root=str(root), split='train')) == N_TRAIN
    assert len(SEN12MSDataset(data_root=str(root), split='holdout')) == N_VAL
    for split in ('validation', 'test'):
        ds = DFC2020Dataset(data_root=str(tmp_path / 'dfc2020'), split=split)
        assert len(ds) == N_VAL
        s1, s1_meta = read_tif(Path(ds.get_data_info(0)['s1_path']))
        s2, s2_meta = read_tif(Path(ds.get_data_info(0)['s2_path']))
        assert s1.shape == (2, 16, 16) and s1_meta['dtype'] == 'float32'
        assert s2.shape == (13, 16, 16) and s2_meta['dtype'] == 'uint16'


def test_sen12ms_igbp_labels_map_through_the_package_table_to_the_dfc_labels(tmp_path):
    from geospatial_mm.datasets.sen12ms_schema import IGBP_TO_DFC
    make('sen12ms', tmp_path, size=32)
    pairs = sorted((tmp_path / 'dfc2020').glob('*/dfc_*/*.tif'))
    assert len(pairs) == 2 * N_VAL
    block = 4  # max(4, 32 // 16)
    for dfc_path in pairs:
        dfc, _ = read_tif(dfc_path)
        lc, lc_meta = read_tif(Path(str(dfc_path).replace('dfc_', 'lc_')))
        assert lc.shape == (4, 32, 32) and lc_meta['dtype'] == 'uint8'
        igbp = lc[0]
        for r in range(0, 32, block):
            for c in range(0, 32, block):
                cell = igbp[r:r + block, c:c + block]
                assert (cell == cell[0, 0]).all()  # one IGBP class per coarse cell
                majority = np.bincount(dfc[0, r:r + block, c:c + block].ravel(), minlength=11).argmax()
                assert IGBP_TO_DFC[int(cell[0, 0])] == majority
    igbp_seen = set()
    for lc_path in (tmp_path / 'sen12ms').glob('*/lc_*/*.tif'):
        igbp_seen |= set(np.unique(read_tif(lc_path)[0][0]).tolist())
    assert igbp_seen <= set(IGBP_TO_DFC)


def test_slumps_label_covers_part_of_the_scene_on_its_grid(tmp_path):
    from geospatial_mm.demo.slumps import SCENE
    root = make('slumps', tmp_path, size=64)
    scene, scene_meta = read_tif(root / f'{SCENE}.tif')
    label, label_meta = read_tif(root / 'trialrun_label.tif')
    assert scene.shape[0] == 6 and scene_meta['dtype'] == 'uint16' and scene_meta['nodata'] == 0
    assert label.shape == (1, 64, 64) and label_meta['dtype'] == 'uint8' and set(np.unique(label)) == {0, 1}
    assert scene_meta['crs'] == label_meta['crs']
    col = (label_meta['transform'].c - scene_meta['transform'].c) / scene_meta['transform'].a
    row = (label_meta['transform'].f - scene_meta['transform'].f) / scene_meta['transform'].e
    assert label_meta['transform'].a == scene_meta['transform'].a and col == round(col) and row == round(row)
    assert 0 <= col and col + 64 <= scene.shape[2] and 0 <= row and row + 64 <= scene.shape[1]
    part = scene[:, int(row):int(row) + 64, int(col):int(col) + 64]
    assert part[3][label[0] == 1].mean() < part[3][label[0] == 0].mean()  # slump floors: low NIR
    inference, _ = read_tif(root / 'scenes' / 'slump_scene_000.tif')
    scene_label, _ = read_tif(root / 'scene_labels' / 'slump_scene_000.tif')
    assert inference.shape == (6, 64, 64) and scene_label[0][:, 32].any()  # a slump straddles the middle column


def test_xbd_layout_and_labels(tmp_path):
    from shapely import wkt

    from geospatial_mm.datasets import XBD_DAMAGE_VALUES, XBDDataset
    from geospatial_mm.datasets.xbd import XBD_CLASSES, XBD_TIERS
    root = make('xbd', tmp_path, size=64)
    ds = XBDDataset(data_root=str(root), tiers=list(XBD_TIERS), with_labels=False, pipeline=[])
    assert len(ds) == N_TRAIN + max(2, N_TRAIN // 2) + 2 * N_VAL
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        for key, when in (('img_path', 'pre'), ('post_img_path', 'post')):
            image = Path(info[key])
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', rasterio.errors.NotGeoreferencedWarning)
                data, _ = read_tif(image)
            assert data.shape == (3, 64, 64) and data.dtype == np.uint8
            label = json.loads((image.parent.parent / 'labels' / image.with_suffix('.json').name).read_text())
            assert label['metadata']['img_name'] == image.name
            xy, lng_lat = label['features']['xy'], label['features']['lng_lat']
            assert len(xy) == len(lng_lat)
            for feature in xy:
                assert wkt.loads(feature['wkt']).is_valid
                assert ('subtype' in feature['properties']) == (when == 'post')
                if when == 'post':
                    assert feature['properties']['subtype'] in XBD_DAMAGE_VALUES
    for tier in XBD_TIERS:  # the first pair of each tier holds every damage grade
        first = sorted((root / tier / 'labels').glob('*_00000000_post_disaster.json'))
        assert len(first) == 1
        grades = {f['properties']['subtype'] for f in json.loads(first[0].read_text())['features']['xy']}
        assert set(XBD_CLASSES[1:]) <= grades
