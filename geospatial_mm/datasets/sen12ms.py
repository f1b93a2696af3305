"""SEN12MS land cover from Sentinel-1 and Sentinel-2: the dataset of the four season folders, split by the official
hold-out scene list (layouts, band groups and the IGBP -> DFC class map: :mod:`.sen12ms_schema`)."""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Sequence

from mmengine.logging import print_log
from mmseg.registry import DATASETS

from geospatial_mm.io.names import folder_token
from .paired_folders import PairedFolderSegDataset
from .sen12ms_schema import dfc_dataset_kwargs


@DATASETS.register_module()
class SEN12MSDataset(PairedFolderSegDataset):
    """SEN12MS triplets (s1, s2, lc) of the four season folders, split by the official hold-out scene list.

    Args:
        split: ``'train'`` (every scene not in the list) or ``'holdout'`` (the listed scenes).
        ann_file: the hold-out scene list (``SEN12MS_holdOutScenes.txt``, lines like ``ROIs1158_spring/s1_63``);
            relative paths are under ``data_root``. The package ships it in ``data_splits/sen12ms/``.
        seasons: season folders to use; None: every ``ROIs<n>_<spring|summer|fall|winter>`` folder of the root.
        no_savanna: the 9 classes without Savanna (else 10).
        sources: path key -> folder token (``s2_path``: ``s2`` is the primary; drop ``s1_path`` for S2-only data).
    """
    SEASON_PATTERN = re.compile(r'ROIs\d+_(spring|summer|fall|winter)$')

    def __init__(self, split: str = 'train', ann_file: str = 'SEN12MS_holdOutScenes.txt',
                 seasons: Sequence[str] | None = None, no_savanna: bool = False,
                 sources: dict | None = None, **kwargs) -> None:
        if split not in ('train', 'holdout'):
            raise ValueError(f"SEN12MSDataset split must be 'train' or 'holdout', got {split!r}")
        self.split = split
        self.seasons = list(seasons) if seasons is not None else None
        self.no_savanna = no_savanna
        sources = sources or dict(s2_path='s2', s1_path='s1', seg_map_path='lc')
        super().__init__(sources=sources, ann_file=ann_file, **dfc_dataset_kwargs(no_savanna, kwargs))

    def holdout_scenes(self) -> set[tuple[str, str]]:
        """``{(season folder, scene number)}`` of the hold-out list."""
        path = Path(self.ann_file)
        if not path.is_file():
            raise FileNotFoundError(f'{path}: SEN12MS hold-out scene list not found (SEN12MS_holdOutScenes.txt; a '
                                    'copy is in data_splits/sen12ms/)')
        scenes = set()
        for n, line in enumerate(path.read_text().splitlines(), 1):
            line = line.split(',')[0].strip()
            if not line:
                continue
            parts = line.split('/')
            found = folder_token(parts[-1], ('s1', 's2', 'lc')) if len(parts) == 2 else None
            if not found or not found[1]:
                raise ValueError(f'{path}:{n}: expected a scene like ROIs1158_spring/s1_63, found {line!r}')
            scenes.add((parts[0], found[1]))
        if not scenes:
            raise ValueError(f'{path}: lists no scene')
        return scenes

    def scene_folders(self, root: Path) -> list[Path]:
        if not root.is_dir():
            raise FileNotFoundError(f'{root}: SEN12MS folder not found')
        if self.seasons is not None:
            missing = [s for s in self.seasons if not (root / s).is_dir()]
            if missing:
                raise FileNotFoundError(f'{root}: season folder(s) {missing} not found')
            return [root / s for s in self.seasons]
        found = sorted(p for p in root.iterdir() if p.is_dir() and self.SEASON_PATTERN.match(p.name))
        if not found:
            raise FileNotFoundError(f'{root}: no SEN12MS season folder (ROIs1158_spring, ROIs1868_summer, '
                                    'ROIs1970_fall, ROIs2017_winter)')
        print_log(f'SEN12MS {self.split}: season folders {[p.name for p in found]}', logger='current',
                  level=logging.INFO)
        return found

    def load_data_list(self) -> list[dict]:
        self._holdout = self.holdout_scenes()
        return super().load_data_list()

    def select_groups(self, scene: Path, groups: dict[str, dict[str, Path]]) -> list[str]:
        listed = {number for season, number in self._holdout if season == scene.name}
        if self.split == 'train':
            return sorted(g for g in groups if g not in listed)
        missing = sorted(listed - set(groups), key=lambda x: (len(x), x))
        if missing:
            raise FileNotFoundError(f'{scene}: hold-out scene(s) {missing} listed in {self.ann_file} not found '
                                    f'(expected {scene}/s2_{missing[0]})')
        return sorted(listed)
