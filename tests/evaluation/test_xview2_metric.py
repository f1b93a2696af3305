"""The xView2 score against values computed by hand on small crafted arrays."""
import numpy as np
import pytest
import torch
from helpers.commands import ROOT

from geospatial_mm.evaluation.metrics import XView2Metric, xview2_counts, xview2_score

LOC_GT = np.array([[1, 1, 0, 0],
                   [1, 1, 0, 0],
                   [0, 0, 1, 1],
                   [0, 0, 1, 1]])
DAMAGE_GT = np.array([[1, 1, 0, 0],
                      [2, 2, 0, 0],
                      [0, 0, 3, 255],  # 255: an un-classified building pixel, not scored for damage
                      [0, 0, 4, 4]])
LOC_PRED = np.array([[1, 1, 0, 0],
                     [1, 0, 0, 0],
                     [0, 0, 1, 1],
                     [1, 0, 1, 1]])
DAMAGE_PRED = np.array([[1, 2, 3, 0],  # the 3 at (0, 2) is outside the predicted buildings: masked to 0
                        [2, 2, 0, 0],  # the 2 at (1, 1) likewise: a missed building pixel
                        [0, 0, 3, 3],
                        [4, 0, 4, 1]])


def test_score_matches_the_hand_computed_value():
    counts = xview2_counts(LOC_PRED, DAMAGE_PRED, LOC_GT, DAMAGE_GT)
    # localisation: TP 7, FP 1 (3,0), FN 1 (1,1) -> F1 14/16
    # damage on the 7 scored pixels, (pred, gt): (1,1) (2,1) (2,2) (0,2) (3,3) (4,4) (1,4)
    expected = np.array([[7, 1, 1],   # localisation
                         [1, 1, 1],   # grade 1: TP (0,0), FP (3,3), FN (0,1) -> F1 1/2
                         [1, 1, 1],   # grade 2: TP (1,0), FP (0,1), FN (1,1) -> F1 1/2
                         [1, 0, 0],   # grade 3 -> F1 1
                         [1, 0, 1]])  # grade 4: FN (3,3) -> F1 2/3
    np.testing.assert_array_equal(counts, expected)
    out = xview2_score(counts)
    assert out['localization_f1'] == pytest.approx(0.875)
    assert out['damage_f1s'] == pytest.approx([0.5, 0.5, 1.0, 2 / 3])
    damage_f1 = 4 / (2 + 2 + 1 + 1.5)
    assert out['damage_f1'] == pytest.approx(damage_f1)
    assert out['score'] == pytest.approx(0.3 * 0.875 + 0.7 * damage_f1)


def test_a_grade_absent_from_target_and_prediction_scores_zero_damage_f1():
    damage_gt = np.where(DAMAGE_GT == 3, 4, DAMAGE_GT)  # no grade 3 anywhere
    damage_pred = np.where(DAMAGE_PRED == 3, 4, DAMAGE_PRED)
    out = xview2_score(xview2_counts(LOC_PRED, damage_pred, LOC_GT, damage_gt))
    assert out['damage_f1s'][2] == 0.0
    assert out['damage_f1'] == 0.0
    assert out['score'] == pytest.approx(0.3 * 0.875)


def test_predicting_no_building_scores_zero_and_perfect_prediction_one():
    zeros = np.zeros_like(LOC_GT)
    assert xview2_score(xview2_counts(zeros, zeros, LOC_GT, DAMAGE_GT))['score'] == 0.0
    perfect_damage = np.where(DAMAGE_GT == 255, 1, DAMAGE_GT)  # any grade where the target is un-classified
    assert xview2_score(xview2_counts(LOC_GT, perfect_damage, LOC_GT, DAMAGE_GT))['score'] == pytest.approx(1.0)


def test_ignored_localisation_pixels_are_not_scored():
    loc_gt = LOC_GT.copy()
    loc_gt[3, 0] = 255  # the false positive becomes unscored
    counts = xview2_counts(LOC_PRED, DAMAGE_PRED, loc_gt, DAMAGE_GT)
    np.testing.assert_array_equal(counts[0], [7, 0, 1])


def sample(pred, loc_gt, damage_gt, pred_loc=None):
    out = dict(img_path='x.png', pred_sem_seg=dict(data=torch.as_tensor(pred)[None]),
               gt_sem_seg=dict(data=torch.as_tensor(damage_gt)[None]),
               gt_loc_seg=dict(data=torch.as_tensor(loc_gt)[None]))
    if pred_loc is not None:
        out['pred_loc_seg'] = dict(data=torch.as_tensor(pred_loc)[None])
    return out


def test_metric_sums_pixel_counts_over_the_set_before_taking_f1():
    metric = XView2Metric()
    metric.dataset_meta = dict(classes=('background', 'no-damage', 'minor-damage', 'major-damage', 'destroyed'))
    # the folded prediction of a Siamese model: damage already masked by the predicted buildings
    folded = np.where(LOC_PRED > 0, DAMAGE_PRED, 0)
    second_gt = np.array([[0, 1], [3, 0]])
    second_pred = np.array([[1, 1], [0, 3]])
    metric.process({}, [sample(folded, LOC_GT, DAMAGE_GT),
                        sample(second_pred, (second_gt > 0).astype(int), second_gt)])
    metrics = metric.compute_metrics(metric.results)
    total = xview2_counts(LOC_PRED, DAMAGE_PRED, LOC_GT, DAMAGE_GT) + \
        xview2_counts(second_pred, second_pred, (second_gt > 0).astype(int), second_gt)
    expected = xview2_score(total)
    assert metrics['score'] == pytest.approx(expected['score'])
    assert metrics['f1_major-damage'] == pytest.approx(expected['damage_f1s'][2])
    assert set(metrics) == {'score', 'localization_f1', 'damage_f1', 'f1_no-damage', 'f1_minor-damage',
                            'f1_major-damage', 'f1_destroyed'}
    per_image = np.mean([xview2_score(xview2_counts(LOC_PRED, DAMAGE_PRED, LOC_GT, DAMAGE_GT))['score'],
                         xview2_score(xview2_counts(second_pred, second_pred, (second_gt > 0).astype(int),
                                                    second_gt))['score']])
    assert metrics['score'] != pytest.approx(per_image)


def test_metric_masks_damage_with_a_separate_localisation_prediction_and_warns_on_absent_grades():
    metric = XView2Metric()
    metric.process({}, [sample(DAMAGE_PRED, LOC_GT, np.where(DAMAGE_GT == 3, 4, DAMAGE_GT), pred_loc=LOC_PRED)])
    with pytest.warns(UserWarning, match='grade3'):
        metrics = metric.compute_metrics(metric.results)
    assert metrics['damage_f1'] == 0.0 and metrics['localization_f1'] == pytest.approx(0.875)


def test_metric_without_the_localisation_target_names_the_field():
    metric = XView2Metric()
    bad = sample(DAMAGE_PRED, LOC_GT, DAMAGE_GT)
    del bad['gt_loc_seg']
    with pytest.raises(KeyError, match='gt_loc_seg'):
        metric.process({}, [bad])


def test_eval_xview2_keeps_the_config_evaluator_settings():
    from mmengine.config import Config

    from geospatial_mm.evaluation import evaluator_from_names
    cfg = Config.fromfile(ROOT / 'configs' / 'xview2_siamese_unet.py')
    cfg.test_evaluator.ignore_index = 254
    evaluator = evaluator_from_names(cfg, ['xview2'])
    assert evaluator['type'] == 'XView2Metric' and evaluator['ignore_index'] == 254
