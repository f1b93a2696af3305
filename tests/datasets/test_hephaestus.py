"""Hephaestus datasets and the interferogram loader: listing, two-channel stacking, multi-label targets, errors."""
import warnings

import numpy as np
import pytest
from helpers.hephaestus import annotation, rect, write_annotation, write_interferogram
from mmpretrain.registry import DATASETS, TRANSFORMS

from geospatial_mm.converters.hephaestus.writing import save_crops
from geospatial_mm.datasets import HephaestusCrops, HephaestusInterferograms
from geospatial_mm.datasets.hephaestus_schema import MULTILABEL_CLASSES, AnnotationError
from geospatial_mm.datasets.transforms import LoadHephaestusInterferogram


@pytest.fixture
def raw(tmp_path):
    root = tmp_path / 'raw'
    images = {}
    for k, (frame, dates) in enumerate([('124D_05291_081406', ('20200101', '20200107')),
                                        ('124D_05291_081406', ('20200107', '20200113')),
                                        ('083A_05300_151515', ('20210101', '20210113'))]):
        images[frame, dates] = write_interferogram(root, annotation(k, frame=frame, dates=dates), 24, 40, seed=k)
    return root, images


def test_interferograms_are_listed_by_frame_and_date_pair(raw):
    root, _ = raw
    ds = HephaestusInterferograms(data_root=str(root))
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert [(i['frame_id'], i['primary_date'], i['secondary_date']) for i in infos] == [
        ('083A_05300_151515', '20210101', '20210113'), ('124D_05291_081406', '20200101', '20200107'),
        ('124D_05291_081406', '20200107', '20200113')]
    assert infos[0]['img_path'] == str(root / '083A_05300_151515' / 'interferograms' / '20210101_20210113')
    (root / 'list.txt').write_text('124D_05291_081406/interferograms/20200107_20200113\n083A_05300_151515\n')
    listed = HephaestusInterferograms(data_root=str(root), ann_file='list.txt')
    assert [listed.get_data_info(i)['primary_date'] for i in range(len(listed))] == ['20200107', '20210101']
    assert DATASETS.get('HephaestusInterferograms') is HephaestusInterferograms


def test_interferogram_listing_errors_name_the_folder(raw, tmp_path):
    root, _ = raw
    folder = root / '124D_05291_081406' / 'interferograms' / '20200101_20200107'
    (folder / 'Coherence.png').unlink()
    with pytest.raises(AnnotationError, match=r'20200101_20200107: expected InSAR\.png, Coherence\.png in the '
                       r'interferogram folder, Coherence\.png missing'):
        HephaestusInterferograms(data_root=str(root))
    (root / '124D_05291_081406' / 'interferograms' / 'notes').mkdir()
    with pytest.raises(AnnotationError, match=r'interferograms/notes: expected an interferogram folder'):
        HephaestusInterferograms(data_root=str(root), files=('InSAR.png',))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(AnnotationError, match=r'empty: expected <FrameID>/interferograms/<primary>_<secondary>/ '
                       r'folders, found none'):
        HephaestusInterferograms(data_root=str(tmp_path / 'empty'))


def test_loader_stacks_insar_and_coherence_as_two_float_channels(raw):
    root, images = raw
    ds = HephaestusInterferograms(data_root=str(root), pipeline=[dict(type='LoadHephaestusInterferogram')])
    sample = ds[1]
    insar, coherence = images['124D_05291_081406', ('20200101', '20200107')]
    assert sample['img'].dtype == np.float32 and sample['img'].shape == (24, 40, 2)
    np.testing.assert_array_equal(sample['img'][..., 0], insar)
    np.testing.assert_array_equal(sample['img'][..., 1], coherence)
    assert sample['img_shape'] == (24, 40) and sample['frame_id'] == '124D_05291_081406'
    single = LoadHephaestusInterferogram(files=('Coherence.png',), to_float32=False)(dict(img_path=sample['img_path']))
    assert single['img'].dtype == np.uint8 and single['img'].shape == (24, 40, 1)
    assert TRANSFORMS.get('LoadHephaestusInterferogram') is LoadHephaestusInterferogram


def test_crops_dataset_turns_labels_into_multilabel_indices(tmp_path):
    ann, raw = tmp_path / 'ann', tmp_path / 'raw'
    records = [annotation(1, [rect(2, 2, 9, 9), rect(40, 20, 47, 27)], ['Dyke', 'Earthquake'], ['Low', 'High']),
               annotation(2, frame='083A_05300_151515')]
    for record in records:
        write_annotation(ann, record)
        write_interferogram(raw, record, 32, 64)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        summary = save_crops(ann, raw, tmp_path / 'crops', out_size=16)
    ds = HephaestusCrops(data_root=str(tmp_path / 'crops'))
    assert ds.metainfo['classes'] == MULTILABEL_CLASSES
    assert MULTILABEL_CLASSES == ('Deformation', 'Mogi', 'Dyke', 'Sill', 'Spheroid', 'Earthquake', 'Unidentified',
                                  'Low', 'Medium', 'High')
    labels = {ds.get_data_info(i)['crop_id']: ds.get_cat_ids(i) for i in range(len(ds))}
    assert list(labels) == summary.crop_ids
    assert labels['1_000'] == [0, 2, 7] and labels['1_001'] == [0, 5, 9]  # Deformation + Dyke/Low, + Earthquake/High
    assert all(labels[c] == [] for c in summary.crop_ids if c.startswith('2_'))  # tiles: no target
    binary = HephaestusCrops(data_root=str(tmp_path / 'crops'), classes=['Non_Deformation', 'Deformation'])
    assert binary.get_cat_ids(0) == [1] and binary.get_cat_ids(len(binary) - 1) == [0]
    (tmp_path / 'crops' / 'val.txt').write_text('1_001\n')
    assert len(HephaestusCrops(data_root=str(tmp_path / 'crops'), ann_file='val.txt')) == 1
    (tmp_path / 'crops' / 'labels' / '1_001.json').unlink()
    with pytest.raises(AnnotationError, match=r'1_001\.json: label file of crop 1_001 \(listed in .*val\.txt\) not '
                       r'found'):
        HephaestusCrops(data_root=str(tmp_path / 'crops'), ann_file='val.txt')
