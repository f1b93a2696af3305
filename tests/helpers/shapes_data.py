"""A tiny, learnable segmentation dataset in the mmseg folder layout (img_dir/{train,val}, ann_dir/{train,val}).

Class 1 is a bright-red rectangle, class 2 a bright-blue disc, on a noisy grey background; a model that learns the
colours beats the all-background prediction within a few dozen iterations.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ('background', 'rectangle', 'disc')
PALETTE = [[0, 0, 0], [255, 0, 0], [0, 0, 255]]


def make_sample(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    img = rng.normal(110, 20, (size, size, 3))
    label = np.zeros((size, size), np.uint8)
    y0, x0 = rng.integers(0, size // 2, 2)
    h, w = rng.integers(size // 5, size // 2, 2)
    label[y0:y0 + h, x0:x0 + w] = 1
    cy, cx = rng.integers(size // 4, 3 * size // 4, 2)
    r = rng.integers(size // 8, size // 4)
    yy, xx = np.mgrid[:size, :size]
    label[(yy - cy) ** 2 + (xx - cx) ** 2 <= r ** 2] = 2
    img[label == 1] += (90, -40, -40)
    img[label == 2] += (-40, -40, 90)
    return np.clip(img, 0, 255).astype(np.uint8), label


def make_dataset(root: str | Path, n_train: int = 16, n_val: int = 4, size: int = 64, seed: int = 0) -> Path:
    root = Path(root)
    rng = np.random.default_rng(seed)
    for split, n in (('train', n_train), ('val', n_val)):
        (root / 'img_dir' / split).mkdir(parents=True, exist_ok=True)
        (root / 'ann_dir' / split).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            img, label = make_sample(rng, size)
            Image.fromarray(img).save(root / 'img_dir' / split / f'{i:03d}.png')
            Image.fromarray(label).save(root / 'ann_dir' / split / f'{i:03d}.png')
    return root


if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('root')
    make_dataset(parser.parse_args().root)
