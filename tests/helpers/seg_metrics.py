"""Running an mmseg segmentation metric on label and prediction arrays, as the test loop feeds it."""
from __future__ import annotations

import torch


def evaluate(metric, gt, pred, classes) -> dict:
    """``metric``'s results for the maps ``gt[i]``, ``pred[i]`` (numpy ``(H, W)`` each) of a dataset of
    ``classes``."""
    metric.dataset_meta = dict(classes=tuple(classes))
    samples = [dict(pred_sem_seg=dict(data=torch.from_numpy(p)[None]), gt_sem_seg=dict(data=torch.from_numpy(g)[None]))
               for g, p in zip(gt, pred)]
    metric.process({}, samples)
    return metric.evaluate(len(samples))
