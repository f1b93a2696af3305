"""Turn ``--eval METRIC [METRIC ...]`` (the MMSegmentation 0.x habit kept by ``mim test``) into a test evaluator.

MMSegmentation 1.x, MMDetection 3.x and mmpretrain 1.x choose metrics through ``test_evaluator`` in the config. The
builders below take the config's own evaluator as the base, so dataset-specific settings (``ann_file``,
``ignore_index``, ...) survive, and only change which metrics are computed. Task metrics of this package register
themselves with :func:`register_eval_metric`.
"""
from __future__ import annotations

import copy
from typing import Callable

# scope -> metric name -> builder(base_evaluator_or_None, [names]) -> evaluator dict
_BUILDERS: dict[str, dict[str, Callable]] = {'mmseg': {}, 'mmdet': {}, 'mmpretrain': {}}
# names that one evaluator computes together (e.g. IoUMetric's iou_metrics) are grouped by the builder object
EVAL_CHOICES = _BUILDERS


def register_eval_metric(scope: str, names: list[str] | tuple[str, ...], builder: Callable) -> None:
    """Make ``--eval NAME`` available for configs of ``scope``.

    ``builder(base, names)`` receives the config's evaluator of the same type (or None) and every requested name it
    registered, and returns one evaluator config dict.
    """
    table = _BUILDERS.setdefault(scope, {})
    for name in names:
        table[name] = builder


def _evaluators(cfg_evaluator) -> list[dict]:
    if cfg_evaluator is None:
        return []
    if isinstance(cfg_evaluator, dict) and 'metrics' in cfg_evaluator and 'type' not in cfg_evaluator:
        cfg_evaluator = cfg_evaluator['metrics']
    if isinstance(cfg_evaluator, (list, tuple)):
        return [dict(copy.deepcopy(e)) for e in cfg_evaluator]
    return [dict(copy.deepcopy(cfg_evaluator))]


def _find(base: list[dict], *types: str) -> dict | None:
    for evaluator in base:
        if evaluator.get('type') in types:
            return dict(evaluator)
    return None


def evaluator_from_names(cfg, names: list[str]):
    """Return the evaluator config computing ``names`` for ``cfg`` (one dict, or a list of dicts)."""
    scope = cfg.get('default_scope')
    if scope not in _BUILDERS:
        raise ValueError(f'--eval is not supported for default_scope={scope!r}; expected one of {sorted(_BUILDERS)}')
    table = _BUILDERS[scope]
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ValueError(f'unknown --eval metric(s) {unknown} for a {scope} config; choose from {sorted(table)}')
    base = _evaluators(cfg.get('test_evaluator'))
    groups: dict[Callable, list[str]] = {}
    for name in names:
        groups.setdefault(table[name], []).append(name)
    built = [builder(base, group) for builder, group in groups.items()]
    return built[0] if len(built) == 1 else built


# ---------------------------------------------------------------------------------------------- mmseg
def _seg_iou(base, names):
    """mmseg's IoUMetric; with AA (average accuracy, = IoUMetric's mAcc) the AAIoUMetric that also reports it."""
    evaluator = _find(base, 'IoUMetric', 'PerClassIoUMetric', 'AAIoUMetric') or dict(type='IoUMetric')
    metrics = [n for n in names if n != 'AA']
    if 'AA' in names:
        evaluator['type'] = 'AAIoUMetric'
        if not {'mIoU', 'mDice'} & set(metrics):
            metrics.insert(0, 'mIoU')  # computes the per-class accuracy that AA averages
    elif evaluator['type'] == 'AAIoUMetric':
        evaluator['type'] = 'IoUMetric'
    evaluator['iou_metrics'] = metrics
    return evaluator


register_eval_metric('mmseg', ['mIoU', 'mDice', 'mFscore', 'AA'], _seg_iou)


# ---------------------------------------------------------------------------------------------- mmdet
def _det_coco(base, names):
    evaluator = _find(base, 'CocoMetric')
    if evaluator is None:
        raise ValueError('--eval bbox/segm needs a CocoMetric test_evaluator with its ann_file in the config')
    evaluator['metric'] = list(names)
    return evaluator


register_eval_metric('mmdet', ['bbox', 'segm', 'proposal', 'proposal_fast'], _det_coco)


# ---------------------------------------------------------------------------------------------- mmpretrain
def _cls_accuracy(base, names):
    evaluator = _find(base, 'Accuracy') or dict(type='Accuracy')
    topk = sorted({1 if n in ('accuracy', 'top1') else 5 for n in names})
    evaluator['topk'] = tuple(topk)
    return evaluator


def _cls_single_label(base, names):
    evaluator = _find(base, 'SingleLabelMetric') or dict(type='SingleLabelMetric')
    evaluator['items'] = list(names)
    return evaluator


def _cls_multi_label(base, names):
    evaluator = _find(base, 'MultiLabelMetric') or dict(type='MultiLabelMetric')
    items = [n.replace('multilabel-', '') for n in names]
    evaluator['items'] = items
    return evaluator


def _cls_average_precision(base, names):
    return _find(base, 'AveragePrecision') or dict(type='AveragePrecision')


register_eval_metric('mmpretrain', ['accuracy', 'top1', 'top5'], _cls_accuracy)
register_eval_metric('mmpretrain', ['precision', 'recall', 'f1-score'], _cls_single_label)
register_eval_metric('mmpretrain', ['multilabel-precision', 'multilabel-recall', 'multilabel-f1-score'],
                     _cls_multi_label)
register_eval_metric('mmpretrain', ['mAP'], _cls_average_precision)


# ---------------------------------------------------------------------------------------------- xView2 (mmseg)
def _seg_xview2(base, names):
    return _find(base, 'XView2Metric') or dict(type='XView2Metric')


register_eval_metric('mmseg', ['xview2'], _seg_xview2)


# ---------------------------------------------------------------------------------------------- per class
def per_class_evaluator(evaluator):
    """The test evaluator of a config with every metric that can report each class's values doing so: mmseg's
    IoUMetric as :class:`~geospatial_mm.evaluation.metrics.PerClassIoUMetric`, mmdet's CocoMetric as
    :class:`~geospatial_mm.evaluation.metrics.PerClassCocoMetric`, mmpretrain's single- and multi-label metrics
    and AveragePrecision joined by their ``average=None`` twins (whose ``<item>_classwise`` lists
    :func:`name_classwise` names)."""
    out = []
    for e in _evaluators(evaluator):
        kind = e.get('type')
        if kind == 'IoUMetric':
            e['type'] = 'PerClassIoUMetric'
        elif kind == 'CocoMetric':
            e.update(type='PerClassCocoMetric', classwise=True)
        out.append(e)
        if kind in ('SingleLabelMetric', 'MultiLabelMetric', 'AveragePrecision') and \
                e.get('average', 'macro') is not None:
            out.append(dict(copy.deepcopy(e), average=None))
    return out[0] if len(out) == 1 else out


def name_classwise(metrics: dict, classes) -> dict:
    """``metrics`` with each per-class list (``<prefix>/<item>_classwise``, as mmpretrain's metrics give them)
    also spelled out by class name: ``<prefix>/<item>.<class>``, at full precision."""
    out = dict(metrics)
    classes = list(classes or [])
    for key, values in metrics.items():
        if key.endswith('_classwise') and isinstance(values, (list, tuple)) and len(values) == len(classes):
            for name, value in zip(classes, values):
                out[f'{key[:-len("_classwise")]}.{name}'] = float(value)
    return out
