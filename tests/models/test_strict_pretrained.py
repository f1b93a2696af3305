"""StrictPretrained: the prefix part of a checkpoint loads into a module only when every key matches."""
import pytest
import torch
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS

import geospatial_mm  # noqa: F401  (registers StrictPretrained)


def resnet(checkpoint=None, in_channels=2, prefix='backbone.'):
    init_cfg = dict(type='StrictPretrained', checkpoint=str(checkpoint), prefix=prefix) if checkpoint else None
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(dict(type='ResNet', depth=18, in_channels=in_channels, zero_init_residual=False,
                                 init_cfg=init_cfg))


@pytest.fixture
def source(tmp_path):
    """A checkpoint in mmengine's layout: backbone.* next to other parts."""
    torch.manual_seed(0)
    backbone = resnet()
    for p in backbone.state_dict().values():
        p.copy_(torch.randn_like(p.float()).to(p.dtype))
    state = {f'backbone.{k}': v for k, v in backbone.state_dict().items()}
    state['neck.mlp.0.weight'] = torch.zeros(4, 4)
    path = tmp_path / 'ssl.pth'
    torch.save(dict(state_dict=state, meta=dict(epoch=1)), path)
    return path, backbone.state_dict()


def test_every_backbone_key_is_loaded(source):
    path, expected = source
    model = resnet(path)
    model.init_weights()
    loaded = model.state_dict()
    assert loaded.keys() == expected.keys()
    for key in expected:
        assert torch.equal(loaded[key], expected[key]), key


def test_mismatches_are_errors_naming_the_file_and_keys(source, tmp_path):
    path, _ = source
    with pytest.raises(RuntimeError, match=r"ssl\.pth: the weights under 'backbone\.' do not match ResNet: 1 of "
                       r'another shape \(checkpoint vs model\): conv1\.weight \(64, 2, 7, 7\) vs \(64, 3, 7, 7\)'):
        resnet(path, in_channels=3).init_weights()
    state = torch.load(path)['state_dict']
    del state['backbone.layer4.1.bn2.weight']
    state['backbone.extra.weight'] = torch.zeros(1)
    torch.save(dict(state_dict=state), tmp_path / 'partial.pth')
    with pytest.raises(RuntimeError, match=r'1 missing in the checkpoint: layer4\.1\.bn2\.weight; 1 unexpected: '
                       r'extra\.weight'):
        resnet(tmp_path / 'partial.pth').init_weights()
    with pytest.raises(RuntimeError, match=r"ssl\.pth: no key starts with 'encoder\.'; the checkpoint holds "
                       r"\['backbone', 'neck'\]"):
        resnet(path, prefix='encoder.').init_weights()
