"""The metadata of exported models is checked by one schema before it is used: each field out of range or of the
wrong type is an error naming the file, the field and the value, before any raster is read."""
from __future__ import annotations

import copy
import math

import pytest
from helpers.commands import ROOT
from helpers.model_inference import tool
from helpers.pt2_payloads import with_metadata

from geospatial_mm.inference.exported_format import (
    LIMITS,
    ExportedModelError,
    check_metadata,
    parse_metadata,
    read_pt2_metadata,
)

TOOL = ROOT / 'tools' / 'model_inference.py'


def set_field(meta: dict, field: str, value) -> None:
    *parents, last = field.split('.')
    node = meta
    for part in parents:
        node = node[part]
    node[last] = value


@pytest.fixture
def meta(tiny_pt2):
    return copy.deepcopy(read_pt2_metadata(tiny_pt2))


def test_the_exported_metadata_passes(meta):
    check_metadata(meta, 'model.pt2')
    assert meta['tile'] == 32 and meta['spec']['path_keys'] == ['img_path']


BAD = [  # field, value, what the message says is expected
    ('tile', 0, 'an integer from 1 to 4096'), ('tile', -224, 'from 1'), ('tile', 1_000_000, 'to 4096'),
    ('tile', 224.5, 'an integer'), ('tile', True, 'an integer'), ('tile', '224', 'an integer'),
    ('stride', 0, 'from 1 to 32'), ('stride', 33, 'from 1 to 32'),
    ('input.channels', 0, 'from 1 to 1024'), ('input.channels', 10 ** 6, 'to 1024'),
    ('input.channels', 7, 'a list of 7 items'),  # input.normalisation holds 6
    ('input.batch', 0, 'from 1 to 4096'), ('input.batch', 10 ** 6, 'to 4096'), ('input.batch', 'all', 'an integer'),
    ('input.frames', 0, 'from 1 to 64'), ('input.dtype', 'float64', "['float32']"),
    ('input.normalisation.scale', [1.0] * 5, 'a list of 6 items'),
    ('input.normalisation.shift', [0.0] * 5 + [math.nan], 'a finite number'),
    ('classes', [], 'a list of 1 to 255 class names'), ('classes', [f'c{i}' for i in range(256)], '1 to 255'),
    ('classes', [0, 1], 'class names'), ('palette', [[0, 0, 0]], 'a list of 2 items'),
    ('palette', [[0, 0, 0], [0, 256, 0]], 'from 0 to 255'), ('palette', [[0, 0, 0], [0, -1, 0]], 'from 0 to 255'),
    ('palette', [[0, 0, 0], [0, 0]], 'a list of 3 items'),
    ('probability_rule', 'exec', "one of ['binary_sigmoid', 'building_damage', 'softmax']"),
    ('out_channels', 3, '2 for 2 classes and the softmax rule'), ('threshold', 'high', 'a finite number'),
    ('task', 'detection', "['segmentation']"), ('runtime', 'tensorrt', "['onnx', 'torch']"),
    ('spec.readers.img_path.bands', [0, -1, 2, 3, 4, 5], 'from 0 to 65535'),
    ('spec.readers.img_path.bands', [0, 1, 2, 3, 4, 70000], 'from 0 to 65535'),
    ('spec.readers.img_path.bands', 'all', 'a list'), ('spec.readers.img_path.backend', 'gdal', 'one of'),
    ('spec.readers.img_path.clip', [5, 1], 'low <= high'), ('spec.readers.img_path.scale', 'x', 'a finite number'),
    ('spec.readers.img_path.frames', [[0, 1], [2]], 'band groups of equal length'),
    ('spec.readers.img_path.nan_is_nodata', 'yes', 'true or false'),
    ('spec.readers.img_path.gdal_options', {}, 'reader arguments among'),
    ('spec.readers', {}, 'the reader arguments of each path key'),
    ('spec.path_keys', [], 'distinct non-empty names'), ('spec.path_keys', ['img_path', 'img_path'], 'distinct'),
    ('spec.path_keys', ['img_path', 'post_img_path'], 'one path key for one file'),
    ('spec.is_pair', 'yes', 'true or false'), ('spec.num_frames', 0, 'from 1 to 64'),
    ('spec.loader', None, "the loader's arguments"), ('spec.code', 'x', 'fields among'),
    ('preview.rgb_bands', [0, 1, 99], 'from 0 to 5'), ('preview.brightness', -1, 'a positive number'),
]


@pytest.mark.parametrize('field, value, expected', BAD, ids=[f'{f}={str(v)[:12]}' for f, v, _ in BAD])
def test_a_bad_field_is_an_error_naming_the_file_the_field_and_the_value(meta, field, value, expected):
    set_field(meta, field, value)
    with pytest.raises(ExportedModelError) as err:
        check_metadata(meta, 'downloads/model.pt2')
    message = str(err.value)
    assert message.startswith(f'downloads/model.pt2: metadata field {field.split(".")[0]}')  # the field, or its item
    assert ' = ' in message and expected in message


def test_the_channels_must_be_those_the_readers_read(meta):
    set_field(meta, 'input.channels', 7)
    for key in ('scale', 'shift'):
        meta['input']['normalisation'][key].append(1.0)
    with pytest.raises(ExportedModelError, match='input.channels = 7: expected 6, the channels that spec.readers read'):
        check_metadata(meta, 'model.pt2')


def test_a_missing_field_is_named(meta):
    del meta['input']['channels']
    with pytest.raises(ExportedModelError, match='metadata field input.channels is missing'):
        check_metadata(meta, 'model.pt2')


def test_a_static_batch_is_bounded_by_what_it_allocates(meta):
    set_field(meta, 'input.batch', 4096)
    set_field(meta, 'tile', 4096)
    set_field(meta, 'stride', 4096)
    with pytest.raises(ExportedModelError, match='a batch of at most 1073741824 float32 values'):
        check_metadata(meta, 'model.pt2')
    assert 4096 * 6 * 4096 ** 2 > LIMITS['batch_elements']


def test_the_binary_rule_takes_one_logit_for_two_classes(meta):
    set_field(meta, 'probability_rule', 'binary_sigmoid')
    set_field(meta, 'out_channels', 1)
    check_metadata(meta, 'model.pt2')
    set_field(meta, 'classes', ['a', 'b', 'c'])
    set_field(meta, 'palette', None)
    with pytest.raises(ExportedModelError, match='two classes for the binary_sigmoid rule'):
        check_metadata(meta, 'model.pt2')


def test_nan_is_a_valid_nodata_value(meta):
    set_field(meta, 'spec.readers.img_path.nodata', math.nan)
    check_metadata(meta, 'model.pt2')


def test_the_onnx_metadata_goes_through_the_same_schema(meta):
    import json
    set_field(meta, 'tile', 1_000_000)
    with pytest.raises(ExportedModelError, match=r'model.onnx: metadata field tile = 1000000'):
        parse_metadata(json.dumps(meta), 'model.onnx')


def test_model_inference_stops_on_a_bad_field_before_reading_any_raster(tiny_pt2, tmp_path):
    bad = with_metadata(tiny_pt2, tmp_path / 'huge_tile.pt2', lambda m: set_field(m, 'tile', 1_000_000))
    (tmp_path / 'in').mkdir()
    (tmp_path / 'in' / 'scene_merged.tif').write_bytes(b'not a raster')  # reading it would fail that sample (exit 1)
    proc = tool('-model', bad, '-input', tmp_path / 'in', '-output', tmp_path / 'out', '-input_type', '_merged.tif',
                check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f'{bad}: metadata field tile = 1000000: expected an integer from 1 to 4096' in proc.stderr
    assert not (tmp_path / 'out').exists()
