"""Exported .pt2 files load without executing anything stored in them unless the user trusts the file: a payload in
each place where torch.export.load (torch 2.14) runs code does not run without the opt-in, and does with it."""
from __future__ import annotations

import logging
import os

import pytest
import torch
from helpers.commands import BIN, ROOT, run
from helpers.model_inference import scene
from helpers.pt2_payloads import VECTORS, poison, read_members, torch_pickle, with_member, write_members

from geospatial_mm.compat.trust import TRUST_ENV
from geospatial_mm.inference.exported_model import ExportedModel
from geospatial_mm.inference.exported_torch import weights_only_loads
from geospatial_mm.inference.pt2_archive import UntrustedModelError, check_pt2_archive, expression_problem

TOOL = ROOT / 'tools' / 'model_inference.py'


@pytest.fixture
def exported(tiny_pt2):
    return tiny_pt2


@pytest.fixture
def untrusted(monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)


def load_and_run(path) -> None:
    """What -model does with a .pt2 file: load it, build its module, run a tile batch."""
    model = ExportedModel(str(path))
    model.runtime.run([torch.zeros(model.channels, 32, 32)])


def test_an_exported_archive_passes_the_check_and_holds_no_sample_inputs(exported, untrusted):
    check_pt2_archive(exported)
    sample_inputs = [data for name, data in read_members(exported).items() if '/data/sample_inputs/' in name]
    assert sample_inputs == [b'']  # nothing for torch to unpickle
    load_and_run(exported)


@pytest.mark.parametrize('vector', sorted(VECTORS))
def test_a_payload_does_not_run_without_the_trust_opt_in(exported, vector, tmp_path, untrusted):
    marker = tmp_path / 'ran'
    path = poison(exported, tmp_path / f'{vector}.pt2', vector, marker)
    with pytest.raises(UntrustedModelError) as err:
        load_and_run(path)
    message = str(err.value)
    assert str(path) in message and 'member' in message
    assert TRUST_ENV in message and '--trust-checkpoint' in message
    assert not marker.exists()


@pytest.mark.parametrize('vector', sorted(VECTORS))
def test_with_the_trust_opt_in_torch_loads_what_the_check_refuses(exported, vector, tmp_path, monkeypatch):
    """The payloads are real: trusted, torch executes them (custom objects reach TorchScript's unpickler, which
    refuses a Python global, so nothing runs there: their refusal is about what registered classes could do)."""
    monkeypatch.setenv(TRUST_ENV, '1')
    marker = tmp_path / 'ran'
    path = poison(exported, tmp_path / f'{vector}.pt2', vector, marker)
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger('torch.export').addHandler(handler)
    try:
        load_and_run(path)
    except Exception:  # a poisoned file may fail after its payload ran; the marker tells
        pass
    finally:
        logging.getLogger('torch.export').removeHandler(handler)
    if VECTORS[vector] == 'jit':
        assert not marker.exists()
        assert any('io.open' in str(r.exc_info[1]) for r in records if r.exc_info), 'not unpickled by torch'
    else:
        assert marker.exists()


@pytest.mark.parametrize('member, why', [
    ('data/aotinductor/model/model.so', 'compiled native code'),
    ('data/executorch/model.pte', 'ExecuTorch'),
    ('data/weights/model.pt', 'does not know'),  # the legacy weights file, unpickled by torch
    ('data/constants/model.pt', 'does not know'),
    ('xl_model_weights/model_param_config', 'does not know'),
    ('data/mtia/model.bin', 'does not know'),
])
def test_compiled_code_and_members_the_check_does_not_know_are_refused(exported, member, why, tmp_path, untrusted):
    path = with_member(exported, tmp_path / 'extra.pt2', member, b'\0' * 16)
    with pytest.raises(UntrustedModelError, match=why) as err:
        check_pt2_archive(path)
    assert member in str(err.value)


def test_an_archive_version_the_check_does_not_know_is_refused(exported, tmp_path, untrusted):
    members = read_members(exported)
    name = next(n for n in members if n.endswith('/archive_version'))
    members[name] = b'1'
    with pytest.raises(UntrustedModelError, match=r"archive version '1'"):
        check_pt2_archive(write_members(tmp_path / 'v1.pt2', members))


def test_sample_inputs_of_plain_tensors_load_weights_only(exported, tmp_path, untrusted):
    members = read_members(exported)
    name = next(n for n in members if '/data/sample_inputs/' in n)
    members[name] = torch_pickle(((torch.zeros(2, 6, 32, 32),), {}))
    load_and_run(write_members(tmp_path / 'samples.pt2', members))


def test_loads_inside_torch_are_held_to_weights_only_and_the_environment_is_restored(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    monkeypatch.delenv('TORCH_FORCE_WEIGHTS_ONLY_LOAD', raising=False)
    marker = tmp_path / 'ran'
    from helpers.pt2_payloads import OpenMarker
    path = tmp_path / 'payload.pt'
    path.write_bytes(torch_pickle(OpenMarker(marker)))
    with weights_only_loads():
        with pytest.raises(Exception, match='Weights only load failed'):
            torch.load(path, weights_only=False)
    assert not marker.exists()
    assert os.environ['TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'] == '1' and 'TORCH_FORCE_WEIGHTS_ONLY_LOAD' not in os.environ


@pytest.mark.parametrize('expression', [
    "Symbol('s77', positive=True, integer=True)", 's0 + 2*s1 - 1', 'Max(1, s0)', 'FloorDiv(s0, 2) + Mod(s1, 16)',
    'Eq(s0, 3) & Ne(s1, 0)', '1.5*s0 <= 4096', 'CeilToInt(ToFloat(s0)/2)',
    "Mul(Integer(2), Symbol('s96', positive=True, integer=True))", "Float('1.5', precision=53)",
    "StrictLessThan(Symbol('s0'), Integer(4))", '-oo'])
def test_shape_expressions_torch_writes_are_within_the_grammar(expression):
    assert expression_problem(expression) is None


@pytest.mark.parametrize('expression', [
    "__import__('os').system('id')", 's0.__class__', '().__class__.__bases__', "open('x', 'w')", 'lambda: 1',
    "Symbol('x y')", "Float('x')", 's0[0]', '9**9**9**9', 'Pow(s0, 99999999)', 'getattr(s0, "x")', 's0; s1',
    's0 if s1 else s2', '"s0"', 'x' * 3000])
def test_anything_else_in_a_shape_expression_is_refused(expression):
    assert expression_problem(expression)


def test_model_inference_refuses_a_payload_unless_trusted(exported, tmp_path):
    marker = tmp_path / 'ran'
    path = poison(exported, tmp_path / 'model.pt2', 'pickled_weight', marker)
    scene(tmp_path / 'in' / 'a_merged.tif', 40, 40)
    args = [BIN / 'python', TOOL, '-model', path, '-input', tmp_path / 'in', '-output', tmp_path / 'out',
            '-input_type', '_merged.tif', '--no-progress']
    proc = run(args, check=False, env={TRUST_ENV: ''})
    assert proc.returncode == 2, proc.stderr
    assert str(path) in proc.stderr and "'payload' is stored pickled" in proc.stderr
    assert '--trust-checkpoint' in proc.stderr
    assert not marker.exists() and not (tmp_path / 'out').exists()
    run(args + ['--trust-checkpoint'], check=False, env={TRUST_ENV: ''})
    assert marker.exists()


def test_a_member_name_twice_is_refused(exported, tmp_path, untrusted):
    """torch's zip reader finds a name ignoring case and takes the first entry; the check must see what torch reads."""
    import zipfile
    members = read_members(exported)
    name = next(n for n in members if n.endswith('_weights_config.json'))
    target = tmp_path / 'twice.pt2'
    with zipfile.ZipFile(target, 'w') as archive:
        archive.writestr(name.upper().replace('.JSON', '.json'), b'{}')
        for member, data in members.items():
            archive.writestr(member, data)
    with pytest.raises(UntrustedModelError, match='holds this name twice'):
        check_pt2_archive(target)
