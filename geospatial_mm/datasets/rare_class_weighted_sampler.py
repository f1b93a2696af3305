"""A training sampler that draws images holding rare classes more often."""
from __future__ import annotations

import math
from typing import Iterator

import numpy as np
import torch
from mmengine.dist import get_dist_info, sync_random_seed
from mmengine.logging import MMLogger
from mmengine.registry import DATA_SAMPLERS
from torch.utils.data import Sampler

from .class_stats import inverse_frequency_weights, label_histogram, load_class_stats, sample_key


@DATA_SAMPLERS.register_module()
class RareClassWeightedSampler(Sampler):
    """Draw images (with replacement) with probability proportional to the weight of the rarest class they hold.

    Class weights are ``(1 / pixel frequency) ** power`` over the dataset's labels ``label_key``; an image's weight is
    the largest weight among the classes it holds at least ``min_pixels`` pixels of. With ``power=1`` an image with
    a class 100 times rarer than another image's rarest class is drawn 100 times as often; ``power=0.5`` (default)
    makes that 10 times.

    The per-image class counts come from ``stats_file`` (written by ``tools/class_weights.py``; every sample of the
    dataset must be in it) or, without one, from reading every label once when the sampler is built. An epoch has
    ``num_samples`` draws (default: the dataset's length), shared across ranks; the draws depend on ``seed`` and
    the epoch only, so every rank agrees on them.
    """

    def __init__(self, dataset, label_key: str = 'seg_map_path', stats_file: str | None = None, power: float = 0.5,
                 min_pixels: int = 1, num_classes: int | None = None, ignore_index: int = 255,
                 num_samples: int | None = None, seed: int | None = None) -> None:
        rank, world_size = get_dist_info()
        self.rank, self.world_size = rank, world_size
        self.seed = sync_random_seed() if seed is None else seed
        self.epoch = 0
        if num_classes is None:
            num_classes = len(dataset.metainfo['classes'])
        infos = [dataset.get_data_info(i) for i in range(len(dataset))]
        if not infos:
            raise ValueError('RareClassWeightedSampler: the dataset is empty')
        missing = [i for i, info in enumerate(infos) if label_key not in info]
        if missing:
            raise KeyError(f'RareClassWeightedSampler: sample {infos[missing[0]].get("img_path")} has no '
                           f'{label_key!r}; set label_key to the path key of the labels to weight by')
        counts = self._counts(infos, label_key, stats_file, num_classes, ignore_index)
        class_weights = np.asarray(inverse_frequency_weights(counts.sum(0), power))
        positive = class_weights[class_weights > 0]
        class_weights = class_weights / positive.min()  # the most frequent class weighs 1
        holds = counts >= max(1, min_pixels)
        weights = np.where(holds, class_weights[None], 0.0).max(1)
        weights[weights == 0] = 1.0  # an image of ignored pixels only: as likely as one of the most frequent class
        self.class_weights = class_weights
        self.weights = torch.as_tensor(weights, dtype=torch.float64)
        self.num_samples = int(num_samples) if num_samples is not None else len(infos)
        self.per_rank = math.ceil(self.num_samples / world_size)
        self.total_size = self.per_rank * world_size
        share = (holds * weights[:, None]).sum(0) / weights.sum()
        MMLogger.get_current_instance().info(
            f'RareClassWeightedSampler on {label_key}: class weights {np.round(class_weights, 3).tolist()}; share of '
            f'drawn images holding each class {np.round(share, 3).tolist()} (unweighted '
            f'{np.round(holds.mean(0), 3).tolist()})')

    @staticmethod
    def _counts(infos: list[dict], label_key: str, stats_file: str | None, num_classes: int,
                ignore_index: int) -> np.ndarray:
        if stats_file is None:
            return np.stack([label_histogram(info[label_key], num_classes, ignore_index) for info in infos])
        per_sample = load_class_stats(stats_file, label_key)['per_sample']
        rows = []
        for info in infos:
            key = sample_key(info, label_key)
            if key not in per_sample:
                raise KeyError(f'{stats_file}: no class counts for sample {key!r}; rerun tools/class_weights.py on '
                               'this dataset')
            row = per_sample[key]
            if len(row) != num_classes:
                raise ValueError(f'{stats_file}: sample {key!r} has {len(row)} class counts, expected {num_classes}')
            rows.append(row)
        return np.asarray(rows, dtype=np.int64)

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        draws = torch.multinomial(self.weights, self.total_size, replacement=True, generator=generator).tolist()
        return iter(draws[self.rank:self.total_size:self.world_size])

    def __len__(self) -> int:
        return self.per_rank

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
