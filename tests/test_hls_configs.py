"""The three HLS configs on demo data: CPU training through mim's pytorch launcher with a tiny backbone, validating
with each config's test pipeline and metric. Burn scars, the entry point of the docs, trains with 2 processes and is
then tested through mim test --eval; the others, whose distributed code and test entry point are the same, train with
1 process and are judged by their validation."""
import json
import re

import pytest
from helpers.commands import BIN, ROOT, run

pytestmark = pytest.mark.slow  # trainings and tool runs in subprocesses (make test-fast skips them)

MIM = BIN / 'mim'


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp('demo')
    run([BIN / 'python', ROOT / 'tools' / 'make_demo_data.py', out, '--size', '224', '--scenes', '4', '2'])
    return out


def tiny_options(frames: int) -> list[str]:
    ch = 16 * frames
    opts = ['model.backbone.arch=tiny', 'model.backbone.pretrained=None', 'model.neck.embed_dim=64',
            f'model.neck.out_channels={ch}', f'model.decode_head.in_channels={ch}', 'model.decode_head.channels=8',
            f'model.auxiliary_head.in_channels={ch}', 'model.auxiliary_head.channels=8',
            'train_dataloader.batch_size=2']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.num_workers=0', f'{loader}.persistent_workers=False']
    return opts


def data_options(config: str, demo) -> list[str]:
    if config == 'burn_scars':
        root = demo / 'hls_burn_scars'
        return [f'{k}.dataset.data_root={root}' for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    if config == 'sen1floods11':
        root = demo / 'sen1floods11'
        hand = root / 'v1.1' / 'data' / 'flood_events' / 'HandLabeled'
        opts = [f'{k}.dataset.data_root={hand}' for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
        return opts + [f'train_dataloader.dataset.ann_file={root}/splits/train_split.txt',
                       f'val_dataloader.dataset.ann_file={root}/splits/val_split.txt',
                       f'test_dataloader.dataset.ann_file={root}/splits/test_split.txt']
    root = demo / 'multi_temporal_crop_classification'
    opts = [f'{k}.dataset.data_root={root}' for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    return opts + [f'train_dataloader.dataset.ann_file={root}/training_data.txt',
                   f'val_dataloader.dataset.ann_file={root}/validation_data.txt',
                   f'test_dataloader.dataset.ann_file={root}/validation_data.txt']


SCHEDULE = {
    'burn_scars': (['train_cfg.max_iters=4', 'train_cfg.val_interval=4', 'default_hooks.checkpoint.interval=4'],
                   'iter_4.pth'),
    'sen1floods11': (['train_cfg.max_epochs=1', 'train_cfg.val_interval=1', 'default_hooks.checkpoint.interval=1'],
                     'epoch_1.pth'),
    'multi_temporal_crop_classification': (['train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
                                            'default_hooks.checkpoint.interval=1'], 'epoch_1.pth'),
}


PROCESSES = {'burn_scars': 2, 'sen1floods11': 1, 'multi_temporal_crop_classification': 1}


@pytest.mark.parametrize('config', sorted(SCHEDULE))
def test_config_trains_through_the_pytorch_launcher_on_the_cpu_and_validates(config, demo, tmp_path):
    frames = 3 if config == 'multi_temporal_crop_classification' else 1
    schedule, ckpt_name = SCHEDULE[config]
    opts = tiny_options(frames) + data_options(config, demo)
    cfg = ROOT / 'configs' / f'{config}.py'
    run([MIM, 'train', 'mmsegmentation', cfg, '--launcher', 'pytorch', '--gpus', str(PROCESSES[config]),
         '--work-dir', tmp_path / 'w', '--cfg-options', *opts, *schedule])
    ckpt = tmp_path / 'w' / ckpt_name
    assert ckpt.is_file()
    log = next((tmp_path / 'w').glob('*/*.log')).read_text()
    assert re.search(r'\(val\).*mIoU: \d+\.\d+', log), log[-3000:]  # the config's test pipeline and metric
    if config != 'burn_scars':
        return
    metrics_file = tmp_path / 'metrics.json'
    run([MIM, 'test', 'geospatial_mm', cfg, '--checkpoint', ckpt, '--eval', 'mIoU', '--metrics-out', metrics_file,
         '--work-dir', tmp_path / 't', '--cfg-options', *opts])
    metrics = json.loads(metrics_file.read_text())
    assert 0.0 <= metrics['mIoU'] <= 100.0 and 'aAcc' in metrics
