"""Hephaestus InSAR datasets for mmpretrain: raw interferograms (self-supervised pretraining) and the labelled crops
written by :func:`~geospatial_mm.converters.hephaestus.writing.save_crops` (multi-label classification).

Every sample's ``img_path`` is an interferogram folder holding ``InSAR.png`` and ``Coherence.png``;
:class:`~geospatial_mm.datasets.transforms.LoadHephaestusInterferogram` stacks them as two channels.
"""
from __future__ import annotations

import json
import os
import os.path as osp
import re
from typing import Sequence

from mmengine.dataset import BaseDataset as EngineBaseDataset
from mmpretrain.datasets import MultiLabelDataset
from mmpretrain.registry import DATASETS

from .hephaestus_schema import COHERENCE_FILE, INSAR_FILE, MULTILABEL_CLASSES, AnnotationError, multilabel_targets

_PAIR = re.compile(r'^(\d{8})_(\d{8})$')


def _read_id_list(path: str) -> list[str]:
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: list file not found')
    with open(path, encoding='utf-8') as f:
        ids = [line.strip() for line in f if line.strip() and not line.lstrip().startswith('#')]
    if not ids:
        raise ValueError(f'{path}: expected one entry per line, found none')
    return ids


def _check_files(folder: str, files: Sequence[str]) -> None:
    missing = [name for name in files if not osp.isfile(osp.join(folder, name))]
    if missing:
        raise AnnotationError(f'{folder}: expected {", ".join(files)} in the interferogram folder, '
                              f'{", ".join(missing)} missing')


@DATASETS.register_module()
class HephaestusInterferograms(EngineBaseDataset):
    """Raw Hephaestus interferograms, without labels: ``data_root/<FrameID>/interferograms/<primary>_<secondary>/``.

    Args:
        data_root: the raw dataset's root.
        ann_file: optional text file (relative to ``data_root``) listing the interferograms to use, one per line, as
            ``<FrameID>/interferograms/<primary>_<secondary>`` or ``<FrameID>`` for all of a frame's; by default every
            interferogram under ``data_root``.
        files: the images each interferogram folder must hold.
        Other arguments as for mmengine's ``BaseDataset``.

    Each sample has ``img_path`` (the folder), ``frame_id``, ``primary_date`` and ``secondary_date``.
    """

    def __init__(self, data_root: str, ann_file: str = '', files: Sequence[str] = (INSAR_FILE, COHERENCE_FILE),
                 **kwargs) -> None:
        self.files = tuple(files)
        super().__init__(ann_file=ann_file, data_root=data_root, **kwargs)

    def _frame_pairs(self, frame: str) -> list[str]:
        folder = osp.join(self.data_root, frame, 'interferograms')
        if not osp.isdir(folder):
            raise AnnotationError(f'{folder}: expected the interferograms folder of frame {frame}, not found')
        return [osp.join(frame, 'interferograms', p) for p in sorted(os.listdir(folder))
                if osp.isdir(osp.join(folder, p))]

    def load_data_list(self) -> list[dict]:
        if not osp.isdir(self.data_root):
            raise FileNotFoundError(f'{self.data_root}: Hephaestus data root not found')
        if self.ann_file:
            entries = _read_id_list(self.ann_file)
        else:
            entries = sorted(f for f in os.listdir(self.data_root)
                             if osp.isdir(osp.join(self.data_root, f, 'interferograms')))
        relative = []
        for entry in entries:
            entry = entry.strip('/')
            relative += [entry] if '/' in entry else self._frame_pairs(entry)
        data_list = []
        for rel in relative:
            parts = rel.split('/')
            match = _PAIR.match(parts[-1])
            if len(parts) != 3 or parts[1] != 'interferograms' or not match:
                raise AnnotationError(f'{osp.join(self.data_root, rel)}: expected an interferogram folder '
                                      f'<FrameID>/interferograms/<YYYYMMDD>_<YYYYMMDD>')
            frame = parts[0]
            folder = osp.join(self.data_root, rel)
            _check_files(folder, self.files)
            data_list.append(dict(img_path=folder, frame_id=frame, primary_date=match.group(1),
                                  secondary_date=match.group(2)))
        if not data_list:
            raise AnnotationError(f'{self.data_root}: expected <FrameID>/interferograms/<primary>_<secondary>/ '
                                  f'folders, found none' + (f' (listed in {self.ann_file})' if self.ann_file else ''))
        return data_list


@DATASETS.register_module()
class HephaestusCrops(MultiLabelDataset):
    """Labelled Hephaestus crops for multi-label classification, as written by
    :func:`~geospatial_mm.converters.hephaestus.writing.save_crops`:
    ``data_root/{images/<crop_id>/, masks/<crop_id>.png, labels/<crop_id>.json}``.

    The targets of a crop are its ``label`` (``Deformation``), ``activity_type`` and ``intensity_level`` entries
    that are among ``classes`` (by default ``Deformation``, the six activity types and the three intensity levels);
    other names (``Non_Deformation`` unless listed) are not targets.

    Args:
        data_root: the crop folder.
        ann_file: text file of crop ids (relative to ``data_root``), e.g. ``train.txt``; empty: every crop in
            ``crops.txt``.
        classes / metainfo: the class names (see above).
        files: the images of each crop folder.
    """
    METAINFO = dict(classes=MULTILABEL_CLASSES)

    def __init__(self, data_root: str, ann_file: str = '', files: Sequence[str] = (INSAR_FILE, COHERENCE_FILE),
                 **kwargs) -> None:
        self.files = tuple(files)
        super().__init__(ann_file=ann_file, data_root=data_root, **kwargs)

    def load_data_list(self) -> list[dict]:
        index = self.ann_file or osp.join(self.data_root, 'crops.txt')
        classes = list(self.metainfo['classes'])
        data_list = []
        for crop_id in _read_id_list(index):
            label_path = osp.join(self.data_root, 'labels', f'{crop_id}.json')
            if not osp.isfile(label_path):
                raise AnnotationError(f'{label_path}: label file of crop {crop_id} (listed in {index}) not found')
            with open(label_path, encoding='utf-8') as f:
                try:
                    record = json.load(f)
                except json.JSONDecodeError as exc:
                    raise AnnotationError(f'{label_path}: not valid JSON ({exc})') from None
            folder = osp.join(self.data_root, 'images', crop_id)
            _check_files(folder, self.files)
            targets = sorted({classes.index(n) for n in multilabel_targets(record) if n in classes})
            data_list.append(dict(img_path=folder, gt_label=targets, crop_id=crop_id,
                                  frame_id=record.get('frameID'), primary_date=record.get('primary_date'),
                                  secondary_date=record.get('secondary_date'),
                                  seg_map_path=osp.join(self.data_root, 'masks', f'{crop_id}.png')))
        return data_list
