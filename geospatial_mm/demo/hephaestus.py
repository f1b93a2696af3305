"""Demo data laid out like Hephaestus (InSAR interferograms of volcanic and seismic deformation)::

    <out>/hephaestus/Hephaestus_Raw/<FrameID>/interferograms/<primary>_<secondary>/InSAR.png
    <out>/hephaestus/Hephaestus_Raw/<FrameID>/interferograms/<primary>_<secondary>/Coherence.png
    <out>/hephaestus/annotations/<uniqueID>.json

As in the real dataset, the interferogram is an 8-bit grey PNG of the wrapped phase, the coherence another, and each
annotated interferogram has one JSON in the Hephaestus annotation format (labels, activity types and intensity
levels of :mod:`geospatial_mm.datasets.hephaestus_schema`, the quality flags, one polygon per deformation in pixel
coordinates). Each activity type has its own fringe pattern and each intensity level its number of fringes; the
atmosphere, orbital ramps and low coherence add the disturbances that the quality flags record. Training
interferograms date from 2018-2020 and validation ones from 2021, so that ``tools/hephaestus_annotations.py split
--val-from 20210101`` separates them; half as many again have no annotation (for self-supervised pretraining).
"""
from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from geospatial_mm.datasets.hephaestus_schema import (
    ACTIVITY_CLASSES,
    COHERENCE_FILE,
    DEFORMATION,
    INSAR_FILE,
    INTENSITY_LEVELS,
    NO_DEFORMATION,
    QUALITY_FLAGS,
)
from geospatial_mm.io.atomic import write_text_atomic
from geospatial_mm.io.png import write_png

FRAMES = ('124D_05291_081406', '083A_05300_151515', '036D_12345_131313', '172A_07010_121313')
FRINGES = dict(zip(INTENSITY_LEVELS, (1.5, 3.0, 6.0)))  # fringes (2*pi cycles) at the peak, per intensity level
ELONGATION = dict(Spheroid=0.5, Dyke=0.45, Sill=0.8)  # minor / major semi-axis (1 for the other activity types)
FIRST_ID = 10000  # uniqueID of the first annotation


def pattern(kind: str, u: np.ndarray, v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Normalised deformation phase (peak about 1) inside the unit disc of ``(u, v)``, shaped by the activity type
    ``kind``."""
    rho2 = u ** 2 + v ** 2
    bell = np.clip(1 - rho2, 0, None) ** 2
    if kind in ('Mogi', 'Spheroid'):  # concentric (Spheroid: elongated ellipse, set by the axes)
        return bell
    if kind == 'Sill':  # broad plateau, fringes packed at the rim
        return np.clip(1 - rho2 ** 3, 0, None)
    if kind == 'Dyke':  # two lobes of opposite sign across the intrusion
        return 2.6 * u * bell
    if kind == 'Earthquake':  # four-lobed (butterfly) pattern
        return 3.0 * np.sin(2 * np.arctan2(v, u)) * np.sqrt(rho2) * bell
    f1, f2 = rng.uniform(1.5, 3.5, 2)  # Unidentified: an irregular blob
    return bell * (0.6 + 0.4 * np.sin(f1 * u + rng.uniform(0, 6)) * np.cos(f2 * v + rng.uniform(0, 6)))


def deformation(rng: np.random.Generator, size: int, kind: str, large: bool) -> dict:
    """One deformation of activity type ``kind``: its centre, semi-axes (pixels), orientation and intensity level.
    It may touch or cross the image border."""
    semi = rng.uniform(0.22, 0.3) * size if large else rng.uniform(0.09, 0.18) * size
    a, b = semi, semi * ELONGATION.get(kind, 1.0)
    margin = 0.6 * b
    cy, cx = rng.uniform(-margin, size + margin, 2)
    return dict(kind=kind, intensity=str(rng.choice(list(FRINGES))), cy=cy, cx=cx, a=a, b=b,
                angle=rng.uniform(0, np.pi))


def polygon(obj: dict, vertices: int = 24) -> list[float]:
    """The outline (the ellipse) of deformation ``obj`` as a flat ``[x0, y0, x1, y1, ...]`` list in pixels."""
    t = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
    ca, sa = np.cos(obj['angle']), np.sin(obj['angle'])
    x = obj['cx'] + obj['a'] * np.cos(t) * ca - obj['b'] * np.sin(t) * sa
    y = obj['cy'] + obj['a'] * np.cos(t) * sa + obj['b'] * np.sin(t) * ca
    return [round(float(c), 1) for xy in zip(x, y) for c in xy]


def images(rng: np.random.Generator, size: int, objects: list[dict], low_coherence: bool,
           orbital: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """The wrapped-phase interferogram and the coherence of ``objects`` as ``(size, size)`` uint8 images, and the
    strength of the atmospheric fringes (0-3)."""
    yy, xx = np.mgrid[:size, :size].astype(np.float64)
    atmosphere = rng.integers(0, 4)
    phase = np.full((size, size), rng.uniform(0, 2 * np.pi))
    for _ in range(3):  # smooth atmospheric screen: a few long-wavelength waves
        fy, fx = rng.uniform(-1.5, 1.5, 2) / size
        phase += 0.6 * atmosphere * np.sin(2 * np.pi * (fy * yy + fx * xx) + rng.uniform(0, 2 * np.pi))
    if orbital:
        phase += 2 * np.pi * rng.uniform(1, 2) * (xx * np.cos(rng.uniform(0, 6)) + yy) / size
    for obj in objects:
        ca, sa = np.cos(obj['angle']), np.sin(obj['angle'])
        dx, dy = xx - obj['cx'], yy - obj['cy']
        u = (dx * ca + dy * sa) / obj['a']
        v = (-dx * sa + dy * ca) / obj['b']
        inside = u ** 2 + v ** 2 < 1
        field = np.where(inside, pattern(obj['kind'], u, v, rng), 0.0)
        phase += 2 * np.pi * FRINGES[obj['intensity']] * field
    wrapped = np.mod(phase, 2 * np.pi) / (2 * np.pi) * 255
    coherence = 0.75 + 0.15 * np.sin(2 * np.pi * (xx * rng.uniform(0.5, 2) + yy * rng.uniform(0.5, 2)) / size)
    if low_coherence:
        coherence *= 0.45
    coherence = np.clip(coherence + rng.normal(0, 0.08, coherence.shape), 0, 1)
    noise = rng.normal(0, 1, wrapped.shape) * (1 - coherence) * 60  # decorrelation noise where coherence is low
    insar = np.clip(np.round(wrapped + noise), 0, 255).astype(np.uint8)
    return insar, np.round(coherence * 255).astype(np.uint8), int(atmosphere)


def annotation(uid: int, frame: str, primary: str, secondary: str, objects: list[dict], atmosphere: int,
               low_coherence: bool, orbital: bool, rng: np.random.Generator) -> dict:
    """The Hephaestus annotation record of one interferogram (its fields in the order of the published files)."""
    kinds = [o['kind'] for o in objects]
    if objects:
        caption = f'{len(objects)} deformation pattern(s): {", ".join(kinds)}.'
    else:
        caption = 'No deformation activity can be detected.'
    flags = dict.fromkeys(QUALITY_FLAGS, 0)
    flags.update(orbital_fringes=int(orbital), atmospheric_fringes=atmosphere, low_coherence=int(low_coherence))
    return dict(
        uniqueID=uid, frameID=frame, primary_date=primary, secondary_date=secondary, **flags,
        label=[DEFORMATION] if objects else [NO_DEFORMATION], activity_type=kinds,
        intensity_level=[o['intensity'] for o in objects] if objects else ['None'],
        phase='Unrest' if objects else 'Rest', confidence=round(float(rng.uniform(0.6, 1.0)), 2),
        segmentation_mask=[polygon(o) for o in objects], is_crowd=int(len(objects) > 1), caption=caption)


def make(out: Path, size: int, n_train: int, n_val: int, seed: int) -> Path:
    """Write ``n_train`` annotated interferograms dated 2018-2020, ``n_val`` dated 2021 and ``(n_train + n_val) // 2``
    unannotated ones, all ``size`` pixels square, over four frames; returns ``<out>/hephaestus``. About 60 % of the
    annotated ones show deformation, a quarter of those several deformations (a crowd)."""
    rng = np.random.default_rng(seed)
    root = Path(out) / 'hephaestus'
    raw, annotations = root / 'Hephaestus_Raw', root / 'annotations'
    n_unlabeled = (n_train + n_val) // 2
    # primary dates: training years 2018-2020, validation 2021, unlabeled any
    starts = [date(2018, 1, 1) + timedelta(days=int(d)) for d in np.linspace(0, 1090, n_train, endpoint=False)]
    starts += [date(2021, 1, 1) + timedelta(days=int(d)) for d in np.linspace(0, 360, n_val, endpoint=False)]
    starts += [date(2018, 1, 4) + timedelta(days=int(d)) for d in np.linspace(0, 1450, n_unlabeled, endpoint=False)]
    for i, primary in enumerate(starts):
        frame = FRAMES[i % len(FRAMES)]
        secondary = primary + timedelta(days=int(rng.choice([6, 12])))
        while (raw / frame / 'interferograms' / f'{primary:%Y%m%d}_{secondary:%Y%m%d}').exists():
            secondary += timedelta(days=6)  # the next Sentinel-1 acquisition: one folder per date pair
        objects = []
        if rng.random() < 0.6:
            count = int(rng.choice([2, 3])) if rng.random() < 0.25 else 1
            for _ in range(count):
                kind = ACTIVITY_CLASSES[int(rng.integers(len(ACTIVITY_CLASSES)))]
                objects.append(deformation(rng, size, kind, large=rng.random() < 0.1))
        low_coherence, orbital = bool(rng.random() < 0.15), bool(rng.random() < 0.2)
        insar, coherence, atmosphere = images(rng, size, objects, low_coherence, orbital)
        folder = raw / frame / 'interferograms' / f'{primary:%Y%m%d}_{secondary:%Y%m%d}'
        write_png(folder / INSAR_FILE, insar)
        write_png(folder / COHERENCE_FILE, coherence)
        if i < n_train + n_val:
            uid = FIRST_ID + i
            record = annotation(uid, frame, f'{primary:%Y%m%d}', f'{secondary:%Y%m%d}', objects, atmosphere,
                                low_coherence, orbital, rng)
            write_text_atomic(annotations / f'{uid}.json', json.dumps(record, indent=2) + '\n')
    return root
