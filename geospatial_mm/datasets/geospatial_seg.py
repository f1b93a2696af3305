"""A segmentation dataset of raster files: images and labels in two folders, matched by name."""
from __future__ import annotations

import glob
import os.path as osp

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS


def read_split_file(path: str) -> list[str]:
    """Sample ids, one per line. Blank lines and ``#`` comments are skipped; of a comma-separated line only the
    first field counts (split files of some datasets list the image and label paths)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: split file not found')
    ids = []
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line:
                ids.append(line.split(',')[0].strip())
    if not ids:
        raise ValueError(f'{path}: split file lists no samples')
    return ids


@DATASETS.register_module()
class GeospatialSegDataset(BaseSegDataset):
    """Images under ``data_prefix['img_path']`` and labels under ``data_prefix['seg_map_path']``.

    A sample's id is its image path relative to the image folder without ``img_suffix``; its label is
    ``<label folder>/<id><seg_map_suffix>``. Images are found by ``img_suffix`` (recursively), narrowed by
    ``img_glob`` (e.g. ``'**/*_S2Hand.tif'``), or listed by a split file (``ann_file``: one id per line).
    ``metainfo`` must give the classes (and may give the palette).

    An image without its label is an error naming both; so is an id of the split file without its image. Without a
    label folder (``seg_map_path`` unset or None) samples carry no label, for inference.
    """

    METAINFO = dict(classes=None, palette=None)

    def __init__(self, img_suffix: str = '.tif', seg_map_suffix: str = '.tif', img_glob: str | None = None,
                 **kwargs) -> None:
        self.img_glob = img_glob
        metainfo = kwargs.get('metainfo') or {}
        if not metainfo.get('classes'):
            raise ValueError('GeospatialSegDataset needs metainfo=dict(classes=(...), palette=[...]) in the config')
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)

    def _image_ids(self, img_dir: str) -> list[str]:
        if not osp.isdir(img_dir):
            raise FileNotFoundError(f'{img_dir}: image folder not found')
        if self.ann_file:
            ids = read_split_file(self.ann_file)
            for sample_id in ids:
                path = osp.join(img_dir, sample_id + self.img_suffix)
                if not osp.isfile(path):
                    raise FileNotFoundError(f'{self.ann_file}: sample {sample_id!r} has no image, expected {path}')
            return ids
        if self.img_glob:
            paths = glob.glob(osp.join(img_dir, self.img_glob), recursive=True)
        else:
            paths = glob.glob(osp.join(img_dir, '**', '*' + self.img_suffix), recursive=True)
        rel = sorted(osp.relpath(p, img_dir) for p in paths if osp.isfile(p))
        bad = [r for r in rel if not r.endswith(self.img_suffix)]
        if bad:
            raise ValueError(f'{osp.join(img_dir, bad[0])}: matched img_glob {self.img_glob!r} but does not end with '
                             f'img_suffix {self.img_suffix!r}')
        ids = [r[:len(r) - len(self.img_suffix)] for r in rel]
        if not ids:
            pattern = self.img_glob or '*' + self.img_suffix
            raise FileNotFoundError(f'{img_dir}: no image matches {pattern!r}')
        return ids

    def load_data_list(self) -> list[dict]:
        img_dir = self.data_prefix.get('img_path') or ''
        ann_dir = self.data_prefix.get('seg_map_path')
        data_list = []
        for sample_id in self._image_ids(img_dir):
            info = dict(img_path=osp.join(img_dir, sample_id + self.img_suffix), sample_id=sample_id,
                        label_map=self.label_map, reduce_zero_label=self.reduce_zero_label, seg_fields=[],
                        num_classes=len(self.metainfo['classes']))
            if ann_dir:
                seg = osp.join(ann_dir, sample_id + self.seg_map_suffix)
                if not osp.isfile(seg):
                    raise FileNotFoundError(f'{info["img_path"]}: no label found for this image, expected {seg}')
                info['seg_map_path'] = seg
            data_list.append(info)
        return data_list
