"""mmcv's ops served by torchvision (geospatial_mm/compat/mmcv_ext.py) give what compiled mmcv 2.1.0 gives: roi_align
forward and backward and nms keep sets against reference outputs of the compiled ops (tests/compat/mmcv_ops/,
made by its make_references.py), through mmcv's own Python API; every other op raises naming itself; mmcv.ops and
the libraries import without compiled mmcv, and mmengine sees a full mmcv."""
from __future__ import annotations

import ast
import importlib.util
import json
import shutil
import sys
from pathlib import Path

import mmcv
import numpy as np
import pytest
import torch
from helpers.commands import BIN, ROOT, run

from geospatial_mm.compat import mmcv_ext as provider
from geospatial_mm.compat.mmcv_lite import PROVIDER_FILE

REFERENCES = Path(__file__).parent / 'mmcv_ops' / 'references.npz'
sys.path.insert(0, str(REFERENCES.parent))
from make_references import roi_align_inputs  # noqa: E402  (the generator of the reference inputs)

REF = np.load(REFERENCES)
META = json.loads(str(REF['meta']))
COMPILED = sorted(Path(mmcv.__file__).parent.glob('_ext*.so'))


def ref(*key) -> torch.Tensor:
    return torch.from_numpy(REF['/'.join(key)])


def run_roi_align(ext, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """A reference case through ``ext`` as mmcv's RoIAlign function calls it (keyword names, in-place outputs)."""
    case = META['roi_align'][name]
    features, rois, grad = ref('roi_align', name, 'features'), ref('roi_align', name, 'rois'), \
        ref('roi_align', name, 'grad_output')
    size = case['size']
    output = features.new_full((rois.shape[0], features.shape[1], *size), float('nan'))
    empty = features.new_zeros(0)
    ext.roi_align_forward(features, rois, output, empty, empty, aligned_height=size[0], aligned_width=size[1],
                          spatial_scale=case['spatial_scale'], sampling_ratio=case['sampling_ratio'], pool_mode=1,
                          aligned=case['aligned'])
    grad_input = features.new_zeros(features.shape)
    ext.roi_align_backward(grad, rois, empty, empty, grad_input, aligned_height=size[0], aligned_width=size[1],
                           spatial_scale=case['spatial_scale'], sampling_ratio=case['sampling_ratio'], pool_mode=1,
                           aligned=case['aligned'])
    return output, grad_input


@pytest.fixture
def provided(monkeypatch):
    """mmcv's ops modules calling the provider, whichever mmcv is installed."""
    import mmcv.ops  # noqa: F401  (its modules; mmcv.ops.roi_align is also the name of a function there)
    for module in ('mmcv.ops.roi_align', 'mmcv.ops.nms'):
        monkeypatch.setattr(sys.modules[module], 'ext_module', provider)


def test_the_references_cover_what_the_issue_lists():
    cases = META['roi_align'].values()
    assert {c['aligned'] for c in cases} == {True, False} and {c['sampling_ratio'] for c in cases} == {0, 2}
    assert len({c['spatial_scale'] for c in cases}) == 4
    assert {REF[f'roi_align/{n}/features'].dtype.name for n in META['roi_align']} == {'float32', 'float64'}
    rois = REF['roi_align/float32_scale0.25_ratio2_aligned/rois']
    assert len(set(rois[:, 0])) == 3 and (rois[:, 1] < 0).any()  # several images; partly outside
    assert REF['roi_align/float32_no_rois/rois'].shape == (0, 5)
    assert {'ties', 'at_threshold_half', 'at_threshold_third', 'at_threshold_offset1', 'no_boxes',
            'batched_one_class', 'batched_many_classes'} <= set(META['nms'])


@pytest.mark.parametrize('name', sorted(META['roi_align']))
def test_roi_align_forward_and_backward_match_compiled_mmcv(name):
    output, grad_input = run_roi_align(provider, name)
    assert output.dtype == ref('roi_align', name, 'output').dtype
    assert (output - ref('roi_align', name, 'output')).abs().max().item() <= 1e-6 if output.numel() else True
    assert (grad_input - ref('roi_align', name, 'grad_input')).abs().max().item() <= 1e-5


@pytest.mark.parametrize('name', ['float32_scale0.25_ratio0_aligned', 'float64_scale0.5_ratio2_unaligned'])
def test_mmcv_roi_align_module_with_autograd_matches_compiled_mmcv(name, provided):
    from mmcv.ops import RoIAlign
    case = META['roi_align'][name]
    features = ref('roi_align', name, 'features').clone().requires_grad_(True)
    layer = RoIAlign(tuple(case['size']), case['spatial_scale'], case['sampling_ratio'], 'avg', case['aligned'])
    output = layer(features, ref('roi_align', name, 'rois'))
    output.backward(ref('roi_align', name, 'grad_output'))
    torch.testing.assert_close(output.detach(), ref('roi_align', name, 'output'), atol=1e-6, rtol=0)
    torch.testing.assert_close(features.grad, ref('roi_align', name, 'grad_input'), atol=1e-5, rtol=0)


@pytest.mark.parametrize('name', sorted(META['nms']))
def test_nms_keeps_what_compiled_mmcv_keeps(name, provided):
    from mmcv.ops import batched_nms, nms
    case = META['nms'][name]
    boxes, scores = ref('nms', name, 'boxes'), ref('nms', name, 'scores')
    if case['batched']:
        _, keep = batched_nms(boxes, scores, ref('nms', name, 'idxs'),
                              dict(type='nms', iou_threshold=case['iou'], offset=case['offset']))
    else:
        dets, keep = nms(boxes, scores, case['iou'], offset=case['offset'])
        assert dets.shape == (len(keep), 5)
    assert keep.tolist() == REF[f'nms/{name}/keep'].tolist()  # the same boxes, in the same order


def test_max_pooling_is_an_error_that_names_itself(provided):
    from mmcv.ops import roi_align
    features, rois = (torch.from_numpy(a) for a in roi_align_inputs('float32', 1.0, 0))
    with pytest.raises(provider.OpNotProvidedError, match=r"roi_align with pool_mode='max' is not provided"):
        roi_align(features, rois, (7, 7), 1.0, 0, 'max', True)


def test_every_name_mmcv_loads_exists_and_an_unprovided_op_says_how_to_get_it():
    from mmcv.utils import ext_loader
    names = set(provider.NOT_PROVIDED) | {'roi_align_forward', 'roi_align_backward', 'nms', 'get_compiler_version',
                                          'get_compiling_cuda_version'}
    assert len(names) == 112
    asked = set()
    for path in Path(mmcv.__file__).parent.rglob('*.py'):  # every ext_loader.load_ext('_ext', [names]) of mmcv
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, 'attr', '') == 'load_ext' and len(node.args) == 2:
                asked.update(e.value for e in node.args[1].elts)
    assert asked == names  # every name mmcv's modules ask for, and only those
    for name in names:
        assert callable(getattr(provider, name)), name
    ext_loader.load_ext('_ext', sorted(names))  # what mmcv asserts of the module it imports
    with pytest.raises(NotImplementedError) as err:
        provider.deform_conv_forward(torch.zeros(1))
    message = str(err.value)
    assert 'mmcv op deform_conv_forward is not provided' in message
    assert 'GEOSPATIAL_MM_MMCV=full make install' in message


def test_the_version_functions_say_what_serves_the_ops():
    assert 'torchvision' in provider.get_compiler_version() and 'mmcv-lite' in provider.get_compiler_version()
    import torchvision
    cuda = provider.get_compiling_cuda_version()
    assert cuda == 'not available' if torchvision.version.cuda is None else torch.version.cuda in cuda


def lite_environment(tmp_path) -> dict:
    """The environment of a Python whose mmcv has no compiled ops: the installed one when it is mmcv-lite, else a
    copy of the installed mmcv's Python files without its compiled module, first on the path."""
    if not COMPILED:
        return {}
    if not (tmp_path / 'mmcv').is_dir():
        shutil.copytree(Path(mmcv.__file__).parent, tmp_path / 'mmcv', ignore=shutil.ignore_patterns('_ext*.so'))
    return {'PYTHONPATH': str(tmp_path)}


def test_without_compiled_mmcv_its_ops_and_the_libraries_import_and_mmengine_sees_full_mmcv(tmp_path):
    script = ("import mmcv, mmcv.ops, mmseg.models, mmdet.models, mmpretrain.models, json\n"
              "from mmengine.utils.dl_utils import mmcv_full_available\n"
              "import mmcv._ext as ext\n"
              "print(json.dumps(dict(full=mmcv_full_available(), ext=ext.__file__, mmcv=mmcv.__file__)))\n")
    proc = run([BIN / 'python', '-c', script], env=lite_environment(tmp_path))
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result['full'] is True and Path(result['ext']).resolve() == PROVIDER_FILE.resolve()
    stack = run([BIN / 'python', ROOT / 'tools' / 'install' / 'check_stack.py'], env=lite_environment(tmp_path))
    assert "roi_align and nms served by torchvision's kernels through geospatial_mm" in stack.stdout


def test_deterministic_mode_does_not_build_the_huge_tensor_of_torchvisions_python_path(tmp_path):
    """Under torch's deterministic mode, torchvision.ops.roi_align computes through a K x C x PH x PW x H x W tensor
    (here 256 x 64 x 7 x 7 x 96 x 96 floats: 29 GB); the provider calls the op itself."""
    script = ("import resource, torch, geospatial_mm\n"
              "from mmcv.ops import RoIAlign\n"
              "torch.use_deterministic_algorithms(True)\n"
              "x = torch.randn(2, 64, 96, 96, requires_grad=True)\n"
              "r = torch.cat([torch.randint(0, 2, (256, 1)).float(), torch.rand(256, 2) * 300,\n"
              "               torch.rand(256, 2) * 300 + 300], 1)\n"
              "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
              "RoIAlign((7, 7), 0.25, 0, 'avg', True)(x, r).sum().backward()\n"
              "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n")
    proc = run([BIN / 'python', '-c', script], env=lite_environment(tmp_path))
    assert int(proc.stdout.strip().splitlines()[-1]) < 300  # MB of peak memory added


@pytest.mark.skipif(not COMPILED, reason='needs full mmcv with its compiled ops (GEOSPATIAL_MM_MMCV=full make install)')
def test_compiled_mmcv_gives_the_references_and_what_the_provider_gives():
    spec = importlib.util.spec_from_file_location('mmcv._ext', COMPILED[0])
    compiled = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compiled)
    for name in META['roi_align']:
        for got, key in zip(run_roi_align(compiled, name), ('output', 'grad_input')):
            assert torch.equal(got, ref('roi_align', name, key)), (name, key)
    for name, case in META['nms'].items():
        if not case['batched']:
            args = (ref('nms', name, 'boxes'), ref('nms', name, 'scores'))
            kept = compiled.nms(*args, iou_threshold=case['iou'], offset=case['offset'])
            assert kept.tolist() == REF[f'nms/{name}/keep'].tolist() == provider.nms(
                *args, iou_threshold=case['iou'], offset=case['offset']).tolist(), name
    rng = np.random.default_rng(123)  # and fresh inputs beyond the references
    features = torch.from_numpy(rng.normal(0, 1, (2, 3, 20, 24)).astype(np.float32))
    corners = rng.uniform(-10, 150, (40, 2))
    rois = torch.from_numpy(np.concatenate([rng.integers(0, 2, (40, 1)), corners,
                                            corners + rng.uniform(1, 80, (40, 2))], 1).astype(np.float32))
    outputs = []
    for ext in (compiled, provider):
        out = features.new_zeros(40, 3, 5, 5)
        ext.roi_align_forward(features, rois, out, out[:0], out[:0], aligned_height=5, aligned_width=5,
                              spatial_scale=0.125, sampling_ratio=0, pool_mode=1, aligned=True)
        outputs.append(out)
    torch.testing.assert_close(outputs[0], outputs[1], atol=1e-6, rtol=0)


def test_mixed_precision_tensors_are_computed_in_float32_and_written_in_their_own_type():
    name = 'float32_scale0.5_ratio0_aligned'
    case = META['roi_align'][name]
    features, rois = ref('roi_align', name, 'features').bfloat16(), ref('roi_align', name, 'rois')
    size = case['size']
    output = features.new_zeros((rois.shape[0], features.shape[1], *size))
    grad_input = features.new_zeros(features.shape)
    args = dict(aligned_height=size[0], aligned_width=size[1], spatial_scale=case['spatial_scale'],
                sampling_ratio=case['sampling_ratio'], pool_mode=1, aligned=case['aligned'])
    provider.roi_align_forward(features, rois, output, output[:0], output[:0], **args)
    provider.roi_align_backward(ref('roi_align', name, 'grad_output').bfloat16(), rois, output[:0], output[:0],
                                grad_input, **args)
    assert output.dtype == grad_input.dtype == torch.bfloat16
    expected = torch.zeros_like(output, dtype=torch.float32)
    provider.roi_align_forward(features.float(), rois, expected, expected[:0], expected[:0], **args)
    torch.testing.assert_close(output.float(), expected.bfloat16().float(), atol=0, rtol=0)
    torch.testing.assert_close(grad_input.float(), ref('roi_align', name, 'grad_input'), atol=0.05, rtol=0.02)
