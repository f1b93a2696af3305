"""A segmentation dataset of samples made of several files in sibling folders, one folder per source (``s1/``,
``s2/``, ``lc_7/``, ``dfc_validation/``, ...), matched by name as :mod:`geospatial_mm.io.names` describes: the layout
of SEN12MS, DFC2020 and unlabeled Sentinel-1/Sentinel-2 folder pairs."""
from __future__ import annotations

import os.path as osp
from pathlib import Path

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from geospatial_mm.io.names import match_group, token_folder_groups


@DATASETS.register_module()
class PairedFolderSegDataset(BaseSegDataset):
    """Samples whose sources lie in sibling folders (see the module's description), e.g. unlabeled Sentinel-1/2
    pairs under ``root/s1`` and ``root/s2``.

    Args:
        sources: path key -> token, in channel order, the first being the primary (its file is ``img_path`` and
            names the sample); the key ``seg_map_path`` marks the labels. E.g.
            ``dict(s2_path='s2', s1_path='s1', seg_map_path='dfc')``.
        img_suffix: the files' ending (``.tif``).
        scene_glob: folders under ``data_prefix['img_path']`` (itself under ``data_root``) that hold source folders
            (e.g. ``'ROIs*'``); None: the source folders are directly there.

    Every file must have its partners: a missing one is an error naming the file and where its partner was
    expected. ``metainfo`` must give the classes (subclasses give them).
    """

    METAINFO = dict(classes=None, palette=None)

    def __init__(self, sources: dict, img_suffix: str = '.tif', scene_glob: str | None = None, **kwargs) -> None:
        if not sources:
            raise ValueError('PairedFolderSegDataset needs sources=dict(<path key>=<folder token>, ...)')
        self.sources = dict(sources)
        self.scene_glob = scene_glob
        metainfo = kwargs.get('metainfo') or {}
        if not metainfo.get('classes'):
            raise ValueError(f'{type(self).__name__} needs metainfo=dict(classes=(...), palette=[...])')
        kwargs.setdefault('data_prefix', dict(img_path=''))
        super().__init__(img_suffix=img_suffix, seg_map_suffix=img_suffix, **kwargs)

    # -- what subclasses refine ------------------------------------------------------------------------------------
    def scene_folders(self, root: Path) -> list[Path]:
        """Folders holding source folders."""
        if not root.is_dir():
            raise FileNotFoundError(f'{root}: data folder not found')
        if not self.scene_glob:
            return [root]
        scenes = sorted(p for p in root.glob(self.scene_glob) if p.is_dir())
        if not scenes:
            raise FileNotFoundError(f'{root}: no folder matches {self.scene_glob!r}')
        return scenes

    def select_groups(self, scene: Path, groups: dict[str, dict[str, Path]]) -> list[str]:
        """The groups of ``scene`` that belong to this dataset (all of them here)."""
        return sorted(groups)

    # -- mmseg -----------------------------------------------------------------------------------------------------
    def load_data_list(self) -> list[dict]:
        root = Path(self.data_prefix.get('img_path') or self.data_root or '.')
        tokens = list(self.sources.values())
        key_of = {token: key for key, token in self.sources.items()}
        data_list = []
        for scene in self.scene_folders(root):
            groups = token_folder_groups(scene, tokens)
            if not groups:
                raise FileNotFoundError(f'{scene}: no source folder: expected sub-folders named '
                                        + ', '.join(f'{t} or {t}_<name>' for t in tokens))
            for group in self.select_groups(scene, groups):
                for match in match_group(groups[group], tokens, self.img_suffix, group=group):
                    if match.problem:
                        raise FileNotFoundError(match.problem)
                    info = {key_of[t]: str(p) for t, p in match.files.items()}
                    info.update(img_path=str(match.files[tokens[0]]), sample_id=match.name,
                                label_map=self.label_map, reduce_zero_label=self.reduce_zero_label, seg_fields=[],
                                num_classes=len(self.metainfo['classes']))
                    data_list.append(info)
        if not data_list:
            raise FileNotFoundError(f'{root}: no sample (no {tokens[0]} file ending with {self.img_suffix!r})')
        return sorted(data_list, key=lambda d: osp.basename(d['img_path']))
