"""Crafted Hephaestus annotations and interferograms for the annotation-tool tests."""
import json
from pathlib import Path

import numpy as np
from PIL import Image


def rect(x0, y0, x1, y1):
    """A rectangle polygon in the flat [x0, y0, x1, y1, ...] form (pixel coordinates, outline included)."""
    return [x0, y0, x1, y0, x1, y1, x0, y1]


def annotation(uid, polygons=(), activity=(), intensity=None, frame='124D_05291_081406', dates=('20200101', '20200113'),
               label=None, is_crowd=None, **extra):
    record = dict(
        uniqueID=uid, frameID=frame, primary_date=dates[0], secondary_date=dates[1], corrupted=0,
        processing_error=0, glacier_fringes=0, orbital_fringes=0, atmospheric_fringes=1, low_coherence=0, no_info=0,
        image_artifacts=0, label=label if label is not None else (['Deformation'] if polygons else ['Non_Deformation']),
        activity_type=list(activity),
        intensity_level=list(intensity) if intensity is not None else (['Medium'] * len(polygons) or ['None']),
        phase='Unrest' if polygons else 'Rest', confidence=0.8, segmentation_mask=[list(p) for p in polygons],
        is_crowd=is_crowd if is_crowd is not None else int(len(polygons) > 1), caption='crafted')
    record.update(extra)
    return record


def write_annotation(folder: Path, record: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f'{record["uniqueID"]}.json'
    path.write_text(json.dumps(record))
    return path


def write_interferogram(raw: Path, record: dict, height: int, width: int, seed: int = 0):
    """Distinct InSAR and coherence images (uint8) for an annotation's folder; returns them."""
    rng = np.random.default_rng(seed)
    folder = raw / record['frameID'] / 'interferograms' / f'{record["primary_date"]}_{record["secondary_date"]}'
    folder.mkdir(parents=True, exist_ok=True)
    insar = rng.integers(0, 256, (height, width), dtype=np.uint8)
    coherence = rng.integers(0, 256, (height, width), dtype=np.uint8)
    Image.fromarray(insar).save(folder / 'InSAR.png')
    Image.fromarray(coherence).save(folder / 'Coherence.png')
    return insar, coherence
