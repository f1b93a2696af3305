"""N-band detection parts: MultiBandDetDataPreprocessor, MultiBandResNet (RGB checkpoint adapted to N bands) and
configs/slumps_mask_rcnn.py with the full R-50 model."""
import numpy as np
import pytest
import torch
from helpers.commands import ROOT
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import DefaultScope

import geospatial_mm  # noqa: F401
from geospatial_mm.models.backbones import MultiBandResNet
from geospatial_mm.models.pretrained import InputBandsError, PretrainedMismatchError, adapt_input_conv


@pytest.fixture(autouse=True)
def mmdet_scope():
    """Build in mmdet's registries whatever scope other tests left set."""
    with DefaultScope.overwrite_default_scope('mmdet'):
        yield


def _sample(h, w):
    s = DetDataSample()
    s.set_metainfo(dict(img_shape=(h, w), ori_shape=(h, w), scale_factor=(1.0, 1.0)))
    return s


def test_preprocessor_normalises_each_of_n_bands_and_pads_like_mmdet():
    pre = MODELS.build(dict(type='MultiBandDetDataPreprocessor', mean=[1, 2, 3, 4, 5, 6], std=[1, 2, 1, 2, 1, 2],
                            pad_size_divisor=32))
    imgs = [torch.rand(6, 40, 50) * 10, torch.rand(6, 30, 64) * 10]
    out = pre(dict(inputs=imgs, data_samples=[_sample(40, 50), _sample(30, 64)]), False)
    assert out['inputs'].shape == (2, 6, 64, 64)
    mean = torch.tensor([1, 2, 3, 4, 5, 6.]).view(-1, 1, 1)
    std = torch.tensor([1, 2, 1, 2, 1, 2.]).view(-1, 1, 1)
    assert torch.allclose(out['inputs'][0, :, :40, :50], (imgs[0] - mean) / std)
    assert (out['inputs'][0, :, 40:] == 0).all()  # padded after normalising, as mmdet does
    assert out['data_samples'][0].batch_input_shape == (64, 64)
    with pytest.raises(ValueError, match='has 4 bands, but the data preprocessor has 6 means'):
        pre(dict(inputs=[torch.rand(4, 32, 32)], data_samples=[_sample(32, 32)]), False)
    with pytest.raises(AssertionError, match='1 or 3 values'):  # why the package needs its own preprocessor
        MODELS.build(dict(type='DetDataPreprocessor', mean=[0.] * 6, std=[1.] * 6))


def test_local_standardisation_uses_each_images_own_statistics_without_nodata():
    pre = MODELS.build(dict(type='MultiBandDetDataPreprocessor', local_standardization=True, nodata=0.0))
    img = torch.rand(5, 32, 32) * torch.tensor([1, 10, 100, 1000, 5.]).view(-1, 1, 1) + 1
    img[:, :4] = 0  # nodata rows
    out = pre(dict(inputs=[img], data_samples=[_sample(32, 32)]), False)['inputs'][0]
    valid = out[:, 4:]
    assert torch.allclose(valid.mean(dim=(1, 2)), torch.zeros(5), atol=1e-4)
    assert torch.allclose(valid.std(dim=(1, 2), unbiased=False), torch.ones(5), atol=1e-3)
    assert (out[:, :4] == 0).all()
    scaled = pre(dict(inputs=[img * 3 + 7 * (img != 0)], data_samples=[_sample(32, 32)]), False)['inputs'][0]
    assert torch.allclose(scaled, out, atol=1e-4)  # per-image statistics: brightness and offset do not matter


def test_first_convolution_kernels_are_mapped_and_scaled():
    rgb = torch.randn(8, 3, 7, 7)
    w = adapt_input_conv(rgb, 5, [2, 1, 0, None, None])
    assert w.shape == (8, 5, 7, 7)
    assert torch.allclose(w[:, 0], rgb[:, 2] * 3 / 5) and torch.allclose(w[:, 2], rgb[:, 0] * 3 / 5)
    assert torch.allclose(w[:, 3], rgb.mean(1) * 3 / 5) and torch.allclose(w[:, 4], w[:, 3])
    # an input whose bands all hold one value gets the checkpoint's response to that value on R, G and B
    x5, x3 = torch.full((1, 5, 9, 9), 0.7), torch.full((1, 3, 9, 9), 0.7)
    assert torch.allclose(torch.nn.functional.conv2d(x5, w), torch.nn.functional.conv2d(x3, rgb), atol=1e-5)
    assert torch.equal(adapt_input_conv(rgb, 3), rgb)
    with pytest.raises(InputBandsError, match='channel 3 does not exist'):
        adapt_input_conv(rgb, 2, [3, None])


def _rgb_checkpoint(path, prefix=''):
    """A checkpoint in torchvision's ResNet key layout (with its classifier), from a 3-band mmdet ResNet-18."""
    torch.manual_seed(1)
    rgb = MultiBandResNet(in_channels=3, depth=18, base_channels=8)
    rgb.init_weights()
    sd = {prefix + k: v for k, v in rgb.state_dict().items() if not k.endswith('num_batches_tracked')}
    sd[prefix + 'fc.weight'] = torch.randn(10, 64)
    sd[prefix + 'fc.bias'] = torch.randn(10)
    torch.save(dict(state_dict=sd) if prefix else sd, path)
    return rgb.state_dict()


def test_resnet_loads_an_rgb_checkpoint_strictly_and_adapts_conv1(tmp_path):
    rgb = _rgb_checkpoint(tmp_path / 'resnet18.pth')
    model = MultiBandResNet(in_channels=6, depth=18, base_channels=8, checkpoint=str(tmp_path / 'resnet18.pth'),
                            checkpoint_bands=[2, 1, 0, None, None, None])
    model.init_weights()
    sd = model.state_dict()
    assert torch.allclose(sd['conv1.weight'], adapt_input_conv(rgb['conv1.weight'], 6, [2, 1, 0, None, None, None]))
    for key in ('layer1.0.conv1.weight', 'layer4.1.bn2.running_var', 'bn1.bias'):
        assert torch.equal(sd[key], rgb[key])
    assert model(torch.rand(1, 6, 64, 64))[-1].shape == (1, 64, 2, 2)
    # a detector checkpoint (backbone. keys) works as well
    _rgb_checkpoint(tmp_path / 'detector.pth', prefix='backbone.')
    other = MultiBandResNet(in_channels=4, depth=18, base_channels=8, checkpoint=str(tmp_path / 'detector.pth'))
    other.init_weights()
    assert torch.equal(other.state_dict()['layer2.0.conv2.weight'], rgb['layer2.0.conv2.weight'])


def test_resnet_refuses_a_checkpoint_that_does_not_fit(tmp_path):
    _rgb_checkpoint(tmp_path / 'resnet18.pth')
    sd = torch.load(tmp_path / 'resnet18.pth')
    sd.pop('layer3.0.conv1.weight')
    sd['extra.weight'] = torch.zeros(1)
    torch.save(sd, tmp_path / 'broken.pth')
    model = MultiBandResNet(in_channels=6, depth=18, base_channels=8, checkpoint=str(tmp_path / 'broken.pth'))
    with pytest.raises(PretrainedMismatchError, match=r'broken\.pth: the weights do not match MultiBandResNet: 1 '
                                                      r'missing in the checkpoint: layer3\.0\.conv1\.weight; 1 '
                                                      r'unexpected: extra\.weight'):
        model.init_weights()
    wider = MultiBandResNet(in_channels=6, depth=18, base_channels=16, checkpoint=str(tmp_path / 'resnet18.pth'))
    with pytest.raises(PretrainedMismatchError, match=r'of another shape \(checkpoint vs model\): layer1\.0\.bn1\.bias '
                                                      r'\(8,\) vs \(16,\)'):
        wider.init_weights()
    with pytest.raises(ValueError, match='one entry per input band'):
        MultiBandResNet(in_channels=6, depth=18, checkpoint_bands=[0, 1, 2])


def test_slumps_config_builds_mask_rcnn_r50_on_six_bands_and_predicts():
    cfg = Config.fromfile(ROOT / 'configs' / 'slumps_mask_rcnn.py')
    assert cfg.default_scope == 'mmdet' and cfg.custom_imports['imports'] == ['geospatial_mm']
    assert cfg.model.backbone.get('init_cfg') is None and cfg.model.backbone.checkpoint is None  # nothing downloaded
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert type(model).__name__ == 'MaskRCNN' and model.backbone.depth == 50
    assert model.backbone.conv1.weight.shape == (64, 6, 7, 7)
    assert model.roi_head.mask_head.num_classes == 1 and model.roi_head.bbox_head.num_classes == 1
    model.eval()
    data = model.data_preprocessor(dict(inputs=[torch.rand(6, 64, 64) * 3000], data_samples=[_sample(64, 64)]), False)
    with torch.no_grad():
        result = model.predict(data['inputs'], data['data_samples'])[0]
    assert 'masks' in result.pred_instances
    assert np.all(result.pred_instances.scores.numpy() <= 1)
