"""Per-class values of --metrics-out: PerClassIoUMetric against a confusion matrix, the evaluator that tools/test.py
builds for it, and mmpretrain's per-class lists named by class."""
import numpy as np
import pytest
from helpers.seg_metrics import evaluate as evaluate_metric
from mmseg.evaluation import IoUMetric

from geospatial_mm.evaluation import name_classwise, per_class_evaluator
from geospatial_mm.evaluation.metrics import PerClassIoUMetric

CLASSES = ('clear', 'cloud', 'shadow')


def confusion(gt: np.ndarray, pred: np.ndarray, k: int, ignore: int = 255) -> np.ndarray:
    keep = gt != ignore
    cm = np.zeros((k, k))
    np.add.at(cm, (gt[keep], pred[keep]), 1)
    return cm


def evaluate(metric, gt, pred):
    return evaluate_metric(metric, gt, pred, CLASSES)


def test_every_class_value_matches_the_confusion_matrix_at_full_precision():
    rng = np.random.default_rng(1)
    gt = rng.choice([0, 1, 2], size=(3, 17, 23), p=[0.5, 0.3, 0.2])
    pred = np.where(rng.random(gt.shape) < 0.25, rng.integers(0, 3, gt.shape), gt)
    gt[1, :2] = 255
    cm = confusion(gt, pred, 3)
    tp, fp, fn = np.diag(cm), cm.sum(0) - np.diag(cm), cm.sum(1) - np.diag(cm)
    expected = dict(IoU=tp / (tp + fp + fn), Acc=tp / (tp + fn), Precision=tp / (tp + fp), Recall=tp / (tp + fn))
    expected['Fscore'] = 2 * expected['Precision'] * expected['Recall'] / (expected['Precision'] + expected['Recall'])
    metrics = evaluate(PerClassIoUMetric(iou_metrics=['mIoU', 'mFscore']), gt, pred)
    for name, values in expected.items():
        for cls, value in zip(CLASSES, values):
            assert metrics[f'{name}.{cls}'] == pytest.approx(100 * value, rel=1e-6)
        assert metrics[f'm{name}'] == pytest.approx(100 * values.mean(), rel=1e-6)
    plain = evaluate(IoUMetric(iou_metrics=['mIoU', 'mFscore']), gt, pred)
    assert set(plain) < set(metrics) and plain['mIoU'] == round(metrics['mIoU'], 2)


def test_the_test_evaluator_for_metrics_out_asks_every_metric_for_its_classes():
    assert per_class_evaluator(dict(type='IoUMetric', iou_metrics=['mIoU']))['type'] == 'PerClassIoUMetric'
    assert per_class_evaluator(dict(type='AAIoUMetric'))['type'] == 'AAIoUMetric'  # already per class
    coco = per_class_evaluator(dict(type='CocoMetric', metric=['segm']))
    assert coco['type'] == 'PerClassCocoMetric' and coco['classwise'] is True
    labels = per_class_evaluator([dict(type='MultiLabelMetric'), dict(type='AveragePrecision', average=None)])
    assert [(e['type'], e.get('average', 'macro')) for e in labels] == [
        ('MultiLabelMetric', 'macro'), ('MultiLabelMetric', None), ('AveragePrecision', None)]


def test_per_class_lists_are_named_by_class():
    metrics = {'single-label/precision': 50.0, 'single-label/precision_classwise': [40.0, 60.0, 50.0],
               'other_classwise': [1.0]}
    named = name_classwise(metrics, CLASSES)
    assert named['single-label/precision.cloud'] == 60.0 and named['single-label/precision'] == 50.0
    assert 'other.clear' not in named  # not one value per class
