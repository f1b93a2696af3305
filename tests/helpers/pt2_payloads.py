"""Copies of a ``.pt2`` archive with a payload in each place where ``torch.export.load`` (torch 2.14) executes what an
archive holds (geospatial_mm/inference/pt2_archive.py lists them). A payload creates a marker file when it runs: an
unpickled ``open(marker, 'w')``, or the same call in the Python that torch evaluates."""
from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import torch


class OpenMarker:
    """Pickles as ``open(marker, 'w')``: unpickling it creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, 'w')


def torch_pickle(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def read_members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info.filename) for info in archive.infolist()}


def write_members(path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return Path(path)


def _edit_json(members: dict, name: str, edit) -> None:
    data = json.loads(members[name])
    edit(data)
    members[name] = json.dumps(data).encode()


def _add_entry(members: dict, root: str, config: str, path_name: str, payload: bytes) -> None:
    folder = 'weights' if config == 'weights' else 'constants'
    entry = dict(path_name=path_name, is_param=False, use_pickle=True, tensor_meta=None)
    _edit_json(members, f'{root}/data/{folder}/model_{config}_config.json',
               lambda d: d['config'].__setitem__('payload', entry))
    members[f'{root}/data/{folder}/{path_name}'] = payload


def _first_expression(node):
    if isinstance(node, dict):
        for key, value in node.items():
            found = value if key == 'expr_str' else _first_expression(value)
            if found:
                return found
    elif isinstance(node, list):
        for value in node:
            found = _first_expression(value)
            if found:
                return found
    return None


def _poison_expression(members: dict, root: str, marker: Path) -> None:
    name = f'{root}/models/model.json'
    program = json.loads(members[name])
    expression = _first_expression(program)
    assert expression, 'the program has no symbolic expression (export it with a dynamic batch)'
    text = members[name].decode()
    members[name] = text.replace(json.dumps(expression), json.dumps(f'open({str(marker)!r}, "w") and {expression}'),
                                 1).encode()


def _legacy_layout(members: dict, root: str, marker: Path) -> dict:
    """The torch 2.7 layout that torch.export.load falls back to when the archive is not a current one."""
    return {'version': b'8.20', 'serialized_exported_program.json': members[f'{root}/models/model.json'],
            'serialized_state_dict.pt': torch_pickle(OpenMarker(marker)),
            'serialized_constants.pt': torch_pickle({}), 'serialized_example_inputs.pt': torch_pickle(((), {})),
            f'{root}/extra/geospatial_mm.json': members[f'{root}/extra/geospatial_mm.json']}


# where code runs in torch 2.14 -> how to put a payload there; whether it runs while the archive loads ('load'), when
# the program first runs ('run'), or is handed to TorchScript's unpickler, which knows no Python globals ('jit')
VECTORS = {
    'sample_inputs': 'load', 'pickled_weight': 'load', 'pickled_constant': 'load', 'opaque_object': 'load',
    'custom_object': 'jit', 'sympy_expression': 'load', 'guards_code': 'run', 'legacy_layout': 'load',
}


def poison(source, target, vector: str, marker: Path) -> Path:
    """A copy of the archive ``source`` at ``target`` with a payload in ``vector`` (a key of :data:`VECTORS`)."""
    members = read_members(source)
    root = next(iter(members)).split('/')[0]
    if vector == 'sample_inputs':
        members[f'{root}/data/sample_inputs/model.pt'] = torch_pickle(OpenMarker(marker))
    elif vector == 'pickled_weight':
        _add_entry(members, root, 'weights', 'weight_999', torch_pickle(OpenMarker(marker)))
    elif vector == 'pickled_constant':
        _add_entry(members, root, 'constants', 'tensor_999', torch_pickle(OpenMarker(marker)))
    elif vector == 'opaque_object':
        _add_entry(members, root, 'constants', 'opaque_obj_0', pickle.dumps(OpenMarker(marker)))
    elif vector == 'custom_object':
        _add_entry(members, root, 'constants', 'custom_obj_0', torch_pickle(OpenMarker(marker)))
    elif vector == 'sympy_expression':
        _poison_expression(members, root, marker)
    elif vector == 'guards_code':  # torch builds guards only for a program with sample inputs: plain tensors here
        _edit_json(members, f'{root}/models/model.json',
                   lambda d: d.__setitem__('guards_code', [f'open({str(marker)!r}, "w") is not None']))
        meta = json.loads(members[f'{root}/extra/geospatial_mm.json'])
        tiles = torch.zeros(2, meta['input']['channels'], meta['tile'], meta['tile'])
        members[f'{root}/data/sample_inputs/model.pt'] = torch_pickle(((tiles,), {}))
    elif vector == 'legacy_layout':
        members = _legacy_layout(members, root, marker)
    else:
        raise KeyError(vector)
    return write_members(target, members)


def with_member(source, target, relative: str, data: bytes) -> Path:
    """A copy of the archive with one more member (``relative`` to its root folder)."""
    members = read_members(source)
    root = next(iter(members)).split('/')[0]
    members[f'{root}/{relative}'] = data
    return write_members(target, members)


def with_metadata(source, target, edit) -> Path:
    """A copy of an exported ``.pt2`` whose geospatial_mm metadata ``edit(meta)`` changed."""
    members = read_members(source)
    name = next(n for n in members if n.endswith('/extra/geospatial_mm.json'))
    _edit_json(members, name, edit)
    return write_members(target, members)
