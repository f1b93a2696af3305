"""Average accuracy (the DFC2020 score) is IoUMetric's mAcc: checked on crafted arrays against a confusion matrix."""
import numpy as np
import pytest
from helpers.seg_metrics import evaluate as evaluate_metric
from mmengine.config import Config
from mmseg.evaluation import IoUMetric

from geospatial_mm.evaluation import evaluator_from_names
from geospatial_mm.evaluation.metrics import AAIoUMetric

CLASSES = ('a', 'b', 'c', 'd')


def average_accuracy(gt: np.ndarray, pred: np.ndarray, num_classes: int, ignore: int = 255) -> float:
    """AA as the DFC2020 baseline defines it: the confusion matrix (rows: ground truth) normalised by its rows, the
    sum of its diagonal divided by the number of classes with ground-truth pixels."""
    keep = gt != ignore
    cm = np.zeros((num_classes, num_classes))
    np.add.at(cm, (gt[keep], pred[keep]), 1)
    rows = cm.sum(axis=1)
    recall = np.divide(np.diag(cm), rows, out=np.zeros(num_classes), where=rows > 0)
    return 100 * recall.sum() / (rows > 0).sum()


def crafted():
    rng = np.random.default_rng(0)
    gt = rng.choice([0, 1, 2], size=(2, 20, 30), p=[0.6, 0.3, 0.1])  # class 3 ('d') never in the ground truth
    pred = gt.copy()
    flip = rng.random(gt.shape) < 0.3
    pred[flip] = rng.integers(0, 4, flip.sum())  # errors, including predictions of the absent class 3
    gt[0, :3] = 255  # ignored pixels
    assert (pred == 3).any() and not (gt == 3).any()
    return gt, pred


def evaluate(metric, gt, pred):
    return evaluate_metric(metric, gt, pred, CLASSES)


def test_mmseg_macc_is_the_average_accuracy_over_classes_present_in_the_ground_truth():
    gt, pred = crafted()
    expected = average_accuracy(gt.ravel(), pred.ravel(), len(CLASSES))
    mmseg = evaluate(IoUMetric(iou_metrics=['mIoU']), gt, pred)
    assert mmseg['mAcc'] == pytest.approx(expected, abs=0.005)  # mmseg rounds to 2 decimals
    # the absent class counted as 0 (a mean over all 4 classes) would be clearly different
    assert abs(mmseg['mAcc'] - expected * 3 / 4) > 10
    ours = evaluate(AAIoUMetric(iou_metrics=['mIoU']), gt, pred)
    # unrounded (the areas are summed in float32)
    assert ours['AA'] == pytest.approx(expected, rel=1e-6) and ours['AA'] == ours['mAcc']
    assert ours['mIoU'] == pytest.approx(mmseg['mIoU'], abs=0.005)


def test_perfect_and_constant_predictions():
    gt, _ = crafted()
    assert evaluate(AAIoUMetric(), gt, gt.copy())['AA'] == 100.0
    constant = np.zeros_like(gt)  # everything class 0: recall 1 for class 0, 0 for classes 1 and 2
    assert evaluate(AAIoUMetric(), gt, constant)['AA'] == pytest.approx(100 / 3, abs=0.005)


def test_settings_that_would_change_the_meaning_of_aa_are_refused():
    with pytest.raises(ValueError, match='nan_to_num would count the absent ones'):
        AAIoUMetric(nan_to_num=0)
    with pytest.raises(ValueError, match="needs 'mIoU' or 'mDice'"):
        AAIoUMetric(iou_metrics=['mFscore'])


def test_eval_names_build_one_evaluator_keeping_the_config_settings():
    cfg = Config(dict(default_scope='mmseg', test_evaluator=dict(type='AAIoUMetric', iou_metrics=['mIoU'],
                                                                 ignore_index=250)))
    both = evaluator_from_names(cfg, ['AA', 'mIoU'])
    assert both == dict(type='AAIoUMetric', iou_metrics=['mIoU'], ignore_index=250)
    assert evaluator_from_names(cfg, ['AA', 'mFscore'])['iou_metrics'] == ['mIoU', 'mFscore']
    assert evaluator_from_names(cfg, ['mIoU']) == dict(type='IoUMetric', iou_metrics=['mIoU'], ignore_index=250)
    plain = Config(dict(default_scope='mmseg', test_evaluator=dict(type='IoUMetric', ignore_index=7)))
    assert evaluator_from_names(plain, ['AA']) == dict(type='AAIoUMetric', iou_metrics=['mIoU'], ignore_index=7)
