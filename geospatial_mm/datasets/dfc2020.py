"""The DFC2020 validation and test patches (Sentinel-1, Sentinel-2 and DFC labels; :mod:`.sen12ms_schema`)."""
from __future__ import annotations

from pathlib import Path

from mmseg.registry import DATASETS

from .paired_folders import PairedFolderSegDataset
from .sen12ms_schema import dfc_dataset_kwargs


@DATASETS.register_module()
class DFC2020Dataset(PairedFolderSegDataset):
    """The DFC2020 validation or test patches (s1, s2 and dfc labels in DFC codes).

    Args:
        split: ``'validation'`` (root/ROIs0000_validation) or ``'test'`` (root/ROIs0000_test).
        no_savanna: the 9 classes without Savanna (else 10).
        sources: path key -> folder token; without ``seg_map_path`` the patches are read without labels.
    """

    def __init__(self, split: str = 'validation', no_savanna: bool = False, sources: dict | None = None,
                 **kwargs) -> None:
        if split not in ('validation', 'test'):
            raise ValueError(f"DFC2020Dataset split must be 'validation' or 'test', got {split!r}")
        self.split = split
        self.no_savanna = no_savanna
        sources = sources or dict(s2_path='s2', s1_path='s1', seg_map_path='dfc')
        super().__init__(sources=sources, **dfc_dataset_kwargs(no_savanna, kwargs))

    def scene_folders(self, root: Path) -> list[Path]:
        scene = root / f'ROIs0000_{self.split}'
        if not scene.is_dir():
            raise FileNotFoundError(f'{scene}: DFC2020 {self.split} folder not found')
        return [scene]
