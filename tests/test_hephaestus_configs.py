"""The Hephaestus configs on demo data: MoCo v2 pretraining through `mim train mmpretrain`, the multi-label
classifier initialised from its backbone (every key), trained the same way, and evaluated through `mim test`."""
import json
import re

import numpy as np
import pytest
import torch
from helpers.commands import BIN, ROOT, run

from geospatial_mm.compat.checkpoints import safe_torch_load

pytestmark = pytest.mark.slow  # trainings and tool runs in subprocesses (make test-fast skips them)

MIM = BIN / 'mim'
MOCO = ROOT / 'configs' / 'hephaestus_mocov2.py'
MULTILABEL = ROOT / 'configs' / 'hephaestus_multilabel.py'
CROP = 64  # demo crops and MoCo views (the configs' 224 works too, only slower)
EPOCHS = 3  # enough for the checks below (Deformation AP and mean AP well above the positive rates)


def loader_options(*loaders, root=None):
    opts = []
    for loader in loaders:
        opts += [f'{loader}.num_workers=0', f'{loader}.persistent_workers=False']
        if root is not None:
            opts.append(f'{loader}.dataset.data_root={root}')
    return opts


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    """Demo frames and annotations, cut into crops and split by date with the annotation CLI."""
    out = tmp_path_factory.mktemp('hephaestus')
    run([BIN / 'python', ROOT / 'tools' / 'make_demo_data.py', out, '--datasets', 'hephaestus', '--size', '160',
         '--scenes', '96', '32'])
    root = out / 'hephaestus'
    tool = ROOT / 'tools' / 'hephaestus_annotations.py'
    crops = run([BIN / 'python', tool, 'save-crops', root / 'annotations', root / 'Hephaestus_Raw', root / 'crops',
                 '--out-size', CROP])
    assert re.search(r'\d+ crops from 128 annotations', crops.stdout), crops.stdout
    run([BIN / 'python', tool, 'split', root / 'crops', '--val-from', '20210101'])
    return root


@pytest.fixture(scope='module')
def moco(demo, tmp_path_factory):
    work = tmp_path_factory.mktemp('moco')
    proc = run([MIM, 'train', 'mmpretrain', MOCO, '--work-dir', work, '--cfg-options',
                *loader_options('train_dataloader', root=demo / 'Hephaestus_Raw'), 'train_dataloader.batch_size=8',
                'model.queue_len=64', 'train_cfg.max_epochs=1', 'randomness.seed=0',
                f'train_dataloader.dataset.pipeline.1.transforms.0.0.scale={CROP}'])
    return work, proc


def test_mocov2_trains_through_mim_and_saves_a_checkpoint(moco):
    work, proc = moco
    log = proc.stdout + proc.stderr
    losses = [float(v) for v in re.findall(r'Epoch\(train\)\s+\[1\]\[\s*\d+/\d+\].*?loss: ([\d.]+)', log)]
    assert losses and all(np.isfinite(losses)), log[-3000:]
    ckpt = safe_torch_load(str(work / 'epoch_1.pth'))  # loads without trusting pickled code
    state = ckpt['state_dict']
    assert {k.split('.')[0] for k in state} == {'backbone', 'encoder_k', 'neck', 'queue', 'queue_ptr'}
    assert state['backbone.conv1.weight'].shape == (64, 2, 7, 7)  # InSAR + coherence
    assert state['queue'].shape == (128, 64)
    iterations = ckpt['meta']['iter']
    assert int(state['queue_ptr']) == (iterations * 8) % 64
    # the key encoder trails the query encoder by the momentum update
    assert not torch.equal(state['backbone.conv1.weight'], state['encoder_k.module.0.conv1.weight'])


def test_multilabel_backbone_is_initialised_from_every_moco_key(moco):
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    work, _ = moco
    cfg = Config.fromfile(str(MULTILABEL))
    cfg.model.backbone.init_cfg.checkpoint = str(work / 'epoch_1.pth')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    source = {k[len('backbone.'):]: v for k, v in safe_torch_load(str(work / 'epoch_1.pth'))['state_dict'].items()
              if k.startswith('backbone.')}
    loaded = model.backbone.state_dict()
    assert loaded.keys() == source.keys() and len(loaded) > 100
    different = [k for k in loaded if not torch.equal(loaded[k], source[k])]
    assert not different, different


@pytest.fixture(scope='module')
def multilabel(demo, moco, tmp_path_factory):
    work = tmp_path_factory.mktemp('multilabel')
    ssl, _ = moco
    proc = run([MIM, 'train', 'mmpretrain', MULTILABEL, '--work-dir', work, '--cfg-options',
                *loader_options('train_dataloader', 'val_dataloader', 'test_dataloader', root=demo / 'crops'),
                f'model.backbone.init_cfg.checkpoint={ssl / "epoch_1.pth"}', 'train_dataloader.batch_size=16',
                f'train_cfg.max_epochs={EPOCHS}', 'randomness.seed=0'])
    return work, proc


def test_multilabel_trains_from_the_moco_backbone(multilabel, moco):
    work, proc = multilabel
    log = proc.stdout + proc.stderr
    ssl, _ = moco
    assert f'loaded 120 tensors of backbone. from {ssl / "epoch_1.pth"} into ResNet: every key matched' in log
    assert (work / f'epoch_{EPOCHS}.pth').is_file()
    assert re.search(rf'Epoch\(val\) \[{EPOCHS}\].*multi-label/mAP', log), log[-3000:]


def val_positive_rates(crops):
    from geospatial_mm.datasets import HephaestusCrops
    ds = HephaestusCrops(data_root=str(crops), ann_file='val.txt')
    targets = np.zeros((len(ds), len(ds.metainfo['classes'])))
    for i in range(len(ds)):
        targets[i, ds.get_cat_ids(i)] = 1
    return targets.mean(0)


def test_mim_test_reports_multilabel_metrics_better_than_chance(multilabel, demo, tmp_path):
    work, train = multilabel
    out = tmp_path / 'metrics.json'
    proc = run([MIM, 'test', 'geospatial_mm', MULTILABEL, '--checkpoint', work / f'epoch_{EPOCHS}.pth', '--eval',
                'multilabel-f1-score', 'multilabel-precision', 'multilabel-recall', 'mAP', '--metrics-out', out,
                '--work-dir', tmp_path / 'test', '--cfg-options',
                *loader_options('test_dataloader', root=demo / 'crops')])
    metrics = json.loads(out.read_text())
    assert json.loads(re.search(r'geospatial_mm test metrics: (\{.*\})', proc.stdout).group(1)) == metrics
    for item in ('precision', 'recall', 'f1-score'):
        assert 0 <= metrics[f'multi-label/{item}'] <= 100
    ap = np.array(metrics['multi-label/AP_classwise'])  # --metrics-out adds the per-class values
    from geospatial_mm.datasets import HephaestusCrops
    classes = HephaestusCrops.METAINFO['classes']
    assert [metrics[f'multi-label/AP.{c}'] for c in classes] == list(ap)
    for item in ('precision', 'recall', 'f1-score'):
        assert all(0 <= metrics[f'multi-label/{item}.{c}'] <= 100 for c in classes)
    rates = val_positive_rates(demo / 'crops')
    assert len(ap) == 10 and (rates > 0).all()  # every class occurs in the demo's validation crops
    # the macro mAP of the last validation during training is the mean of these class APs
    last_val = re.findall(r'Epoch\(val\) \[\d+\].*?multi-label/mAP: ([\d.]+)', train.stdout + train.stderr)[-1]
    assert ap.mean() == pytest.approx(float(last_val), abs=1e-3)
    # a random ranking has an AP equal to the positive rate: the model must rank better
    assert ap[0] > 100 * rates[0] + 25, (ap, rates)  # Deformation
    assert ap.mean() > 100 * rates.mean() + 5, (ap, rates)
