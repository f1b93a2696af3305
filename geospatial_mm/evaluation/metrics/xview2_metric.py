"""The xView2 challenge score: 0.3 x localisation F1 + 0.7 x harmonic mean of the four damage-class F1s."""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmseg.registry import METRICS

NUM_GRADES = 4


def _as_tensor(x) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))


def xview2_counts(loc_pred, damage_pred, loc_gt, damage_gt, ignore_index: int = 255) -> np.ndarray:
    """Pixel counts ``(5, 3)``: rows localisation, then damage grades 1-4; columns TP, FP, FN.

    Localisation: building = value > 0, over every pixel whose localisation target is not ``ignore_index``.
    Damage: only on ground-truth building pixels (damage target 1-4; background and ``ignore_index``, i.e.
    un-classified buildings, are not scored), with the damage prediction masked by the predicted buildings (a pixel
    predicted as background counts as grade 0 there).
    """
    loc_pred, damage_pred = _as_tensor(loc_pred), _as_tensor(damage_pred)
    loc_gt, damage_gt = _as_tensor(loc_gt), _as_tensor(damage_gt)
    shapes = {tuple(t.shape) for t in (loc_pred, damage_pred, loc_gt, damage_gt)}
    if len(shapes) != 1:
        raise ValueError(f'xView2 score: prediction and target maps differ in shape: {sorted(shapes)}')
    counts = np.zeros((1 + NUM_GRADES, 3), dtype=np.int64)
    valid = loc_gt != ignore_index
    pred_b = (loc_pred > 0) & valid
    gt_b = (loc_gt > 0) & valid
    counts[0] = [(pred_b & gt_b).sum().item(), (pred_b & ~gt_b).sum().item(), (~pred_b & gt_b).sum().item()]
    scored = (damage_gt >= 1) & (damage_gt <= NUM_GRADES)
    masked = torch.where(loc_pred > 0, damage_pred, torch.zeros_like(damage_pred))[scored]
    target = damage_gt[scored]
    for grade in range(1, NUM_GRADES + 1):
        p, t = masked == grade, target == grade
        counts[grade] = [(p & t).sum().item(), (p & ~t).sum().item(), (~p & t).sum().item()]
    return counts


def f1_score(tp: int, fp: int, fn: int) -> float:
    """2TP / (2TP + FP + FN); 0 when there is no true positive (also for a class absent from target and
    prediction, as the official scoring gives it)."""
    return 0.0 if tp == 0 else 2.0 * tp / (2.0 * tp + fp + fn)


def harmonic_mean(values: Sequence[float]) -> float:
    """Harmonic mean; 0 as soon as one value is 0 (its limit)."""
    values = list(values)
    if any(v <= 0 for v in values):
        return 0.0
    return len(values) / sum(1.0 / v for v in values)


def xview2_score(counts: np.ndarray) -> dict:
    """Score and F1s from pixel counts summed over the whole set (see :func:`xview2_counts`)."""
    counts = np.asarray(counts)
    loc_f1 = f1_score(*counts[0])
    damage_f1s = [f1_score(*counts[g]) for g in range(1, NUM_GRADES + 1)]
    damage_f1 = harmonic_mean(damage_f1s)
    return dict(score=0.3 * loc_f1 + 0.7 * damage_f1, localization_f1=loc_f1, damage_f1=damage_f1,
                damage_f1s=damage_f1s)


@METRICS.register_module()
class XView2Metric(BaseMetric):
    """The xView2 score of mmseg predictions.

    The prediction is ``pred_sem_seg`` (0 background, 1-4 damage grades: what :class:`SiameseChangeHead` predicts,
    damage already masked by the predicted buildings); predicted buildings are its non-zero pixels, unless the data
    sample also carries ``pred_loc_seg``, which then masks the damage. Targets: ``gt_sem_seg`` (damage, 0-4,
    ``ignore_index`` for un-classified buildings) and the localisation target ``gt_loc_seg`` (field
    ``loc_gt_field``). Pixel counts are summed over the whole set (all ranks) before the F1s are taken.

    Reports ``score``, ``localization_f1``, ``damage_f1`` (harmonic mean of the grades' F1s) and ``f1_<grade>`` for
    each grade. A grade without any true positive has F1 0, which makes the damage F1 0 (the official scoring
    does the same); a grade absent from the targets is warned about.
    """

    default_prefix = 'xview2'

    def __init__(self, ignore_index: int = 255, loc_gt_field: str = 'gt_loc_seg', collect_device: str = 'cpu',
                 prefix: str | None = None, **kwargs) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if kwargs:
            raise TypeError(f'XView2Metric got unexpected arguments {sorted(kwargs)}')
        self.ignore_index = ignore_index
        self.loc_gt_field = loc_gt_field

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if self.loc_gt_field not in sample:
                raise KeyError(f'{sample.get("img_path")}: no {self.loc_gt_field!r} (localisation target) in the '
                               'data sample; pack it with PackGeospatialSegInputs(seg_keys=...)')
            pred = sample['pred_sem_seg']['data'].squeeze(0)
            loc_pred = sample['pred_loc_seg']['data'].squeeze(0) if 'pred_loc_seg' in sample else pred
            damage_gt = sample['gt_sem_seg']['data'].squeeze(0).to(pred.device)
            loc_gt = sample[self.loc_gt_field]['data'].squeeze(0).to(pred.device)
            self.results.append(xview2_counts(loc_pred, pred, loc_gt, damage_gt, self.ignore_index))

    def compute_metrics(self, results: list) -> dict:
        counts = np.sum(results, axis=0)
        classes = (self.dataset_meta or {}).get('classes')
        names = list(classes[1:1 + NUM_GRADES]) if classes and len(classes) > NUM_GRADES else \
            [f'grade{g}' for g in range(1, NUM_GRADES + 1)]
        absent = [n for n, row in zip(names, counts[1:]) if row[0] + row[2] == 0]
        if absent:
            warnings.warn(f'xView2 score: no ground-truth pixel of {absent}; their F1 is 0 and so is the damage F1')
        out = xview2_score(counts)
        metrics = dict(score=out['score'], localization_f1=out['localization_f1'], damage_f1=out['damage_f1'])
        metrics.update({f'f1_{n}': f for n, f in zip(names, out['damage_f1s'])})
        return metrics
