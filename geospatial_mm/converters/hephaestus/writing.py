"""Writing Hephaestus crops, class masks and temporal splits.

:func:`save_crops` writes, for every annotation JSON of a folder::

    <out>/images/<crop_id>/{InSAR.png, Coherence.png}   the crop of both images, as read (8- or 16-bit)
    <out>/masks/<crop_id>.png                             class mask of the crop (uint8, values 0-6)
    <out>/labels/<crop_id>.json                           the crop's labels (see ``placement.crop_record``)
    <out>/crops.txt                                       every crop id written

with the crops placed as :mod:`geospatial_mm.converters.hephaestus.placement` says. :func:`split_crops` writes
``train.txt`` and ``val.txt`` of a crop folder by primary date; :func:`write_masks` one class mask per annotation of
the whole interferogram. Every file is written atomically (:mod:`geospatial_mm.io.atomic`).
"""
from __future__ import annotations

import json
import os
import os.path as osp
import re
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from geospatial_mm.datasets.hephaestus_schema import (
    COHERENCE_FILE,
    INSAR_FILE,
    NO_DEFORMATION,
    AnnotationError,
    read_annotation,
    read_gray_png,
    read_interferogram,
)
from geospatial_mm.io.atomic import write_text_atomic
from geospatial_mm.io.png import write_png
from .masks import class_mask, rasterize_deformations, segmentation_mask
from .placement import check_crop_fits, crop_record, crops_of_annotation


def write_crop(out: str, crop_id: str, image: np.ndarray, mask: np.ndarray, record: dict,
               files: Sequence[str] = (INSAR_FILE, COHERENCE_FILE)) -> None:
    """Write one crop: its images (one PNG per channel of ``image``), class mask and label file."""
    for channel, name in enumerate(files):
        write_png(osp.join(out, 'images', crop_id, name), np.ascontiguousarray(image[..., channel]))
    write_png(osp.join(out, 'masks', f'{crop_id}.png'), mask)
    write_text_atomic(osp.join(out, 'labels', f'{crop_id}.json'), json.dumps(record, indent=2) + '\n')


@dataclass
class CropSummary:
    """What :func:`save_crops` did."""
    crop_ids: list[str] = field(default_factory=list)
    annotations: int = 0
    object_crops: int = 0
    tiles: int = 0
    cut: list[str] = field(default_factory=list)  # crop ids whose target deformation is larger than the crop
    skipped: list[str] = field(default_factory=list)  # 'file: reason'

    def __str__(self) -> str:
        return (f'{len(self.crop_ids)} crops from {self.annotations} annotations: {self.object_crops} around '
                f'deformations ({len(self.cut)} cut), {self.tiles} tiles without deformation; '
                f'{len(self.skipped)} annotation(s) skipped')


def save_crops(annotation_folder: str | os.PathLike, raw_insar_path: str | os.PathLike, save_path: str | os.PathLike,
               out_size: int = 224, seed: int | None = 0, files: Sequence[str] = (INSAR_FILE, COHERENCE_FILE),
               verbose: bool = False) -> CropSummary:
    """Crops, masks and label files for every annotation JSON of ``annotation_folder`` (see the module doc).

    Annotations whose labels claim a deformation that has no polygon cannot be placed in a crop: they are skipped
    with a warning and listed in the summary (``skipped``). ``seed`` makes the crop placement reproducible.
    """
    annotation_folder, raw_root, out = (os.fspath(p) for p in (annotation_folder, raw_insar_path, save_path))
    if not osp.isdir(annotation_folder):
        raise AnnotationError(f'{annotation_folder}: annotation folder not found')
    names = sorted(n for n in os.listdir(annotation_folder) if n.endswith('.json'))
    if not names:
        raise AnnotationError(f'{annotation_folder}: expected annotation *.json files, found none')
    rng = np.random.default_rng(seed)
    summary = CropSummary()
    for name in names:
        annotation = read_annotation(osp.join(annotation_folder, name))
        summary.annotations += 1
        claims = [n for n in annotation.label if n != NO_DEFORMATION] + annotation.activity_type
        if not annotation.polygons and claims:
            reason = (f'{annotation.path}: labelled {claims} but has no deformation polygon; it cannot be placed in a '
                      f'crop and is skipped')
            warnings.warn(reason, stacklevel=2)
            summary.skipped.append(reason)
            continue
        folder = annotation.interferogram_dir(raw_root)
        if not osp.isdir(folder):
            raise AnnotationError(f'{annotation.path}: its interferogram folder {folder} does not exist')
        image = read_interferogram(folder, files)
        shape = image.shape[:2]
        check_crop_fits(shape, out_size, osp.join(folder, files[0]))
        deformations = rasterize_deformations(annotation, shape)
        crops = crops_of_annotation(deformations, shape, out_size, rng, annotation.path)
        if not crops:
            raise AnnotationError(f'{folder}: no {out_size}-pixel tile fits the {shape[0]}x{shape[1]} interferogram')
        for k, (window, target, cut) in enumerate(crops):
            crop_id = f'{annotation.unique_id}_{k:03d}'
            row, col, h, w = window
            record = crop_record(annotation, crop_id, window, deformations, target, cut)
            write_crop(out, crop_id, image[row:row + h, col:col + w], class_mask(deformations, shape, window), record,
                       files)
            summary.crop_ids.append(crop_id)
            if target is None:
                summary.tiles += 1
            else:
                summary.object_crops += 1
            if cut:
                summary.cut.append(crop_id)
        if verbose:
            print(f'{name}: {len(crops)} crop(s)')
    write_text_atomic(osp.join(out, 'crops.txt'), ''.join(f'{c}\n' for c in summary.crop_ids))
    return summary


def split_crops(save_path: str | os.PathLike, val_from: str, crop_ids: Sequence[str] | None = None) -> dict:
    """Temporal split of a crop folder: crops whose primary date is before ``val_from`` (YYYYMMDD) go to
    ``train.txt``, the others to ``val.txt`` (both written in ``save_path``). Returns the two id lists."""
    out = os.fspath(save_path)
    if not re.fullmatch(r'\d{8}', str(val_from)):
        raise ValueError(f'val_from must be a date YYYYMMDD, found {val_from!r}')
    if crop_ids is None:
        index = osp.join(out, 'crops.txt')
        if not osp.isfile(index):
            raise AnnotationError(f'{index}: crop index not found (written by save_crops)')
        with open(index, encoding='utf-8') as f:
            crop_ids = [line.strip() for line in f if line.strip()]
    splits = dict(train=[], val=[])
    for crop_id in crop_ids:
        path = osp.join(out, 'labels', f'{crop_id}.json')
        if not osp.isfile(path):
            raise AnnotationError(f'{path}: label file of crop {crop_id} not found')
        with open(path, encoding='utf-8') as f:
            date = json.load(f)['primary_date']
        splits['train' if date < str(val_from) else 'val'].append(crop_id)
    for name, ids in splits.items():
        write_text_atomic(osp.join(out, f'{name}.txt'), ''.join(f'{c}\n' for c in ids))
    return splits


def write_masks(annotation_folder: str | os.PathLike, raw_insar_path: str | os.PathLike,
                save_path: str | os.PathLike) -> int:
    """One class mask of the whole interferogram per annotation JSON of ``annotation_folder``, written as
    ``<save_path>/<annotation name>.png`` (uint8, values 0-6); returns how many."""
    annotation_folder, raw_root, out = (os.fspath(p) for p in (annotation_folder, raw_insar_path, save_path))
    names = sorted(n for n in os.listdir(annotation_folder) if n.endswith('.json'))
    if not names:
        raise AnnotationError(f'{annotation_folder}: expected annotation *.json files, found none')
    for name in names:
        annotation = read_annotation(osp.join(annotation_folder, name))
        shape = read_gray_png(osp.join(annotation.interferogram_dir(raw_root), INSAR_FILE)).shape
        write_png(osp.join(out, f'{osp.splitext(name)[0]}.png'), segmentation_mask(annotation, shape))
    return len(names)
