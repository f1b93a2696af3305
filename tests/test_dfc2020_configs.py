"""SEN12MS -> DFC2020 configs on demo data: mim train (tiny models), mim test --eval AA mIoU, TensorBoard figures,
and model_inference on an unlabeled s1/ + s2/ folder pair with previews."""
import json
import shutil

import numpy as np
import pytest
import rasterio
from helpers.commands import BIN, ROOT, run
from helpers.model_inference import tool
from PIL import Image

from geospatial_mm.datasets.sen12ms_schema import dfc_code_to_index, dfc_metainfo

pytestmark = pytest.mark.slow  # trainings and tool runs in subprocesses (make test-fast skips them)

MIM = BIN / 'mim'
TINY = {
    'dfc2020_unet': ['model.backbone.base_channels=8', 'model.backbone.num_stages=3', 'model.backbone.strides=[1,1,1]',
                     'model.backbone.enc_num_convs=[1,1,1]', 'model.backbone.dec_num_convs=[1,1]',
                     'model.backbone.downsamples=[True,True]', 'model.backbone.enc_dilations=[1,1,1]',
                     'model.backbone.dec_dilations=[1,1]', 'model.decode_head.in_channels=8',
                     'model.decode_head.channels=8', 'model.decode_head.in_index=2'],
    # ResNet-18 with 8 base channels (stages of 8, 16, 32, 64), still output stride 16
    'dfc2020_deeplabv3plus': ['model.backbone.depth=18', 'model.backbone.base_channels=8',
                              'model.backbone.stem_channels=8', 'model.decode_head.in_channels=64',
                              'model.decode_head.channels=16', 'model.decode_head.c1_in_channels=8',
                              'model.decode_head.c1_channels=8', 'optim_wrapper.optimizer.lr=0.01'],
}
ITERS = 60
SIZE = 64


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp('dfc_demo')
    run([BIN / 'python', ROOT / 'tools' / 'make_demo_data.py', out, '--datasets', 'sen12ms', '--size', SIZE,
         '--scenes', '24', '8'])
    return out


def options(config, demo):
    opts = TINY[config] + [f'model.test_cfg.crop_size=[{SIZE},{SIZE}]',
                           f'model.test_cfg.stride=[{SIZE // 2},{SIZE // 2}]',
                           f'train_dataloader.dataset.data_root={demo / "sen12ms"}']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.num_workers=0', f'{loader}.persistent_workers=False', f'{loader}.batch_size=4']
    opts += [f'{loader}.dataset.data_root={demo / "dfc2020"}' for loader in ('val_dataloader', 'test_dataloader')]
    return opts


@pytest.fixture(scope='module')
def trained(demo, tmp_path_factory):
    """Train each config once (on first use): ITERS iterations, validated on the DFC2020 demo validation set."""
    done = {}

    def train(config):
        if config not in done:
            work = tmp_path_factory.mktemp(config)
            run([MIM, 'train', 'mmsegmentation', ROOT / 'configs' / f'{config}.py', '--work-dir', work,
                 '--cfg-options', *options(config, demo), f'train_cfg.max_iters={ITERS}',
                 f'train_cfg.val_interval={ITERS}', f'default_hooks.checkpoint.interval={ITERS}',
                 'default_hooks.visualization.interval=1', 'randomness.seed=0'])
            done[config] = work
        return done[config]
    return train


def chance_aa(demo) -> float:
    """AA of predicting one class everywhere: 100 / the number of classes in the validation labels."""
    to_index = dfc_code_to_index(no_savanna=True)
    present = set()
    for path in (demo / 'dfc2020' / 'ROIs0000_validation' / 'dfc_validation').glob('*.tif'):
        with rasterio.open(path) as src:
            present |= {to_index[int(v)] for v in np.unique(src.read(1))} - {255}
    return 100 / len(present)


@pytest.mark.parametrize('config', sorted(TINY))
def test_config_trains_on_demo_data_and_reports_aa_and_miou_through_mim_test(config, demo, trained, tmp_path):
    work = trained(config)
    ckpt = work / f'iter_{ITERS}.pth'
    assert ckpt.is_file() and list(work.glob('best_AA_iter_*.pth'))
    metrics_file = tmp_path / 'metrics.json'
    proc = run([MIM, 'test', 'geospatial_mm', ROOT / 'configs' / f'{config}.py', '--checkpoint', ckpt, '--eval', 'AA',
                'mIoU', '--metrics-out', metrics_file, '--work-dir', tmp_path / 't', '--cfg-options',
                *options(config, demo)])
    metrics = json.loads(metrics_file.read_text())
    assert {'AA', 'mIoU', 'mAcc', 'aAcc'} <= set(metrics) and metrics['AA'] == metrics['mAcc']
    print(f'{config}: {metrics}')
    assert metrics['AA'] > 1.5 * chance_aa(demo), metrics  # the demo is learnable: a short run beats chance
    assert 0 < metrics['mIoU'] <= 100
    assert 'Savanna' not in proc.stdout.split('per class results')[-1]  # no_savanna: 9 classes

    # the validation figures went to TensorBoard through the visualizer
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = list(work.glob('*/vis_data/events.out.tfevents.*'))
    assert len(events) == 1
    acc = EventAccumulator(str(events[0]), size_guidance={'images': 0})
    acc.Reload()
    tags = acc.Tags()['images']
    assert len(tags) == 2 and all(t.startswith('val_ROIs0000_validation_s2_') for t in tags)  # 8 patches, 4 a batch
    image = acc.Images(tags[0])[0]
    assert image.width == 1200 and 400 < image.height < 600 and image.step == ITERS  # three 400 px panels, legend


def test_model_inference_on_an_s1_s2_folder_pair_writes_predictions_and_previews(demo, trained, tmp_path):
    config = 'dfc2020_unet'
    ckpt = trained(config) / f'iter_{ITERS}.pth'
    scene = demo / 'dfc2020' / 'ROIs0000_validation'
    inputs = tmp_path / 'unlabeled'
    for token in ('s1', 's2'):  # the unlabeled layout: s1/ and s2/, names with '_s1_' / '_s2_'
        shutil.copytree(scene / f'{token}_validation', inputs / token)
    summary = tmp_path / 'summary.json'
    tool('-config', ROOT / 'configs' / f'{config}.py', '-ckpt', ckpt, '-input', inputs, '-output', tmp_path / 'out',
         '--preview-dir', tmp_path / 'previews', '--labels', scene / 'dfc_validation', '--summary', summary,
         '--cfg-options', *TINY[config],
         f'model.test_cfg.crop_size=[{SIZE},{SIZE}]', f'model.test_cfg.stride=[{SIZE // 2},{SIZE // 2}]')
    report = json.loads(summary.read_text())
    assert report['ok'] == 8 and report['failed'] == 0
    meta = dfc_metainfo(no_savanna=True)
    for s2 in sorted((inputs / 's2').glob('*.tif')):
        name = s2.name.replace('_s2_', '_')[:-len('.tif')]
        with rasterio.open(s2) as src, rasterio.open(tmp_path / 'out' / f'{name}_pred.tif') as pred:
            assert (pred.width, pred.height, pred.crs, pred.transform) == (src.width, src.height, src.crs,
                                                                           src.transform)
            assert pred.read(1).max() < len(meta['classes'])
            assert pred.colormap(1)[0][:3] == tuple(meta['palette'][0])
        with Image.open(tmp_path / 'previews' / f'{name}_preview.png') as im:
            assert im.size[0] == 1200 and 400 < im.size[1] < 600  # input | prediction | label, 400 px wide each
            preview = np.asarray(im.convert('RGB'))
    legend = preview[int(0.88 * preview.shape[0]):].reshape(-1, 3)  # the strip below the panels
    colours, counts = np.unique(legend, axis=0, return_counts=True)
    found = {tuple(c): n for c, n in zip(colours.tolist(), counts)}
    for name, colour in zip(meta['classes'], meta['palette']):
        assert found.get(tuple(colour), 0) >= 20, f'legend patch of {name} {colour} missing'
    assert (251, 255, 19) not in found  # Savanna's colour: not a class without Savanna


def test_deeplabv3plus_stem_takes_its_12_bands_from_an_rgb_checkpoint(tmp_path):
    """The config's MultiBandResNet loads a torchvision-layout RGB ResNet strictly and gives B4, B3, B2 the red, green
    and blue kernels and the other nine bands their mean, all scaled by 3/12 (a ResNet-18 of the same layout here)."""
    import torch
    from mmengine.config import Config
    from mmseg.registry import MODELS

    from geospatial_mm.models.pretrained import adapt_input_conv
    cfg = Config.fromfile(ROOT / 'configs' / 'dfc2020_deeplabv3plus.py')
    backbone = dict(cfg.model.backbone, depth=18, base_channels=8, stem_channels=8)
    assert backbone['type'] == 'MultiBandResNet' and backbone['checkpoint'] is None
    rgb = MODELS.build(dict(backbone, in_channels=3, checkpoint_bands=None))
    torch.manual_seed(0)
    rgb.init_weights()
    state = {k: v for k, v in rgb.state_dict().items() if not k.endswith('num_batches_tracked')}
    state['fc.weight'] = torch.zeros(1000, 64)  # torchvision's classifier, left aside
    torch.save(state, tmp_path / 'resnet_rgb.pth')
    model = MODELS.build(dict(backbone, checkpoint=str(tmp_path / 'resnet_rgb.pth')))
    model.init_weights()
    stem = model.state_dict()['conv1.weight']
    expected = adapt_input_conv(state['conv1.weight'], 12, [2, 1, 0] + [None] * 9)
    assert stem.shape == (8, 12, 7, 7) and torch.equal(stem, expected)
    assert torch.allclose(stem[:, 2], state['conv1.weight'][:, 0] * 3 / 12)  # B4 takes the red kernel
    assert torch.equal(model.state_dict()['layer3.1.conv2.weight'], state['layer3.1.conv2.weight'])
