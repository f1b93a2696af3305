"""Unlabeled Sentinel-1/Sentinel-2 patch pairs in two folders, with the DFC classes for a model's outputs."""
from __future__ import annotations

from mmseg.registry import DATASETS

from .paired_folders import PairedFolderSegDataset
from .sen12ms_schema import dfc_dataset_kwargs


@DATASETS.register_module()
class S1S2FolderDataset(PairedFolderSegDataset):
    """Unlabeled Sentinel-1/Sentinel-2 patches: ``root/s1/`` and ``root/s2/`` (or ``s1_<x>``/``s2_<x>`` folder
    pairs), matched by name with '_s1_' / '_s2_' ignored; the DFC classes for the model's outputs."""

    def __init__(self, no_savanna: bool = False, sources: dict | None = None, **kwargs) -> None:
        self.no_savanna = no_savanna
        super().__init__(sources=sources or dict(s2_path='s2', s1_path='s1'), **dfc_dataset_kwargs(no_savanna, kwargs))
