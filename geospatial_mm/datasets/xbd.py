"""xBD (xView2) building damage: pre/post disaster image pairs with a localisation and a damage target.

On disk, as downloaded, plus the ``targets/`` folder that ``tools/xbd_masks.py`` writes from the label JSONs::

    <data_root>/<tier>/images/<disaster>_<id>_pre_disaster.png      (tier: tier1, tier3, hold, test)
    <data_root>/<tier>/images/<disaster>_<id>_post_disaster.png
    <data_root>/<tier>/labels/<disaster>_<id>_{pre,post}_disaster.json
    <data_root>/<tier>/targets/<disaster>_<id>_pre_disaster_target.png    localisation: 0 background, 1 building
    <data_root>/<tier>/targets/<disaster>_<id>_post_disaster_target.png   damage: 0 background, 1-4 grades,
                                                                           255 un-classified (ignored)
"""
from __future__ import annotations

import glob
import os.path as osp

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .geospatial_seg import read_split_file

XBD_CLASSES = ('background', 'no-damage', 'minor-damage', 'major-damage', 'destroyed')
XBD_PALETTE = [[0, 0, 0], [40, 180, 60], [250, 220, 40], [250, 130, 20], [220, 20, 30]]
# damage subtype of a post-disaster label -> value of the damage target; un-classified buildings are ignored
XBD_DAMAGE_VALUES = {'no-damage': 1, 'minor-damage': 2, 'major-damage': 3, 'destroyed': 4, 'un-classified': 255}
XBD_TIERS = ('tier1', 'tier3', 'hold', 'test')
PRE, POST = '_pre_disaster', '_post_disaster'


def xbd_paths(data_root: str, sample_id: str, images: str = 'images', targets: str = 'targets',
              img_suffix: str = '.png') -> dict:
    """The four files of sample ``<tier>/<disaster>_<id>``."""
    tier, name = osp.split(sample_id)
    if not tier or not name:
        raise ValueError(f'xBD sample id {sample_id!r}: expected <tier>/<disaster>_<id>')
    base = osp.join(data_root, tier)
    return dict(img_path=osp.join(base, images, name + PRE + img_suffix),
                post_img_path=osp.join(base, images, name + POST + img_suffix),
                loc_seg_map_path=osp.join(base, targets, name + PRE + '_target.png'),
                seg_map_path=osp.join(base, targets, name + POST + '_target.png'))


@DATASETS.register_module()
class XBDDataset(BaseSegDataset):
    """xBD pairs: ``img_path`` (pre), ``post_img_path``, ``seg_map_path`` (damage target, the mmseg label) and
    ``loc_seg_map_path`` (localisation target) per sample.

    The samples are either listed by a split file (``ann_file``; one ``<tier>/<disaster>_<id>`` per line, as
    ``tools/xbd_masks.py --split-dir`` writes them; a relative path is taken relative to ``data_root``) or are every
    pre image of the ``tiers``. A missing post image or target is an error naming the file; without
    ``with_labels`` (prediction on unlabelled pairs) the targets are not looked for.
    """

    METAINFO = dict(classes=XBD_CLASSES, palette=XBD_PALETTE)

    def __init__(self, tiers: tuple | list | None = None, images: str = 'images', targets: str = 'targets',
                 img_suffix: str = '.png', with_labels: bool = True, **kwargs) -> None:
        self.tiers = list(tiers) if tiers is not None else None
        self.images = images
        self.targets = targets
        self.with_labels = with_labels
        if kwargs.get('ann_file') and self.tiers:
            raise ValueError('XBDDataset: give either ann_file (a split file) or tiers, not both')
        if not kwargs.get('ann_file') and not self.tiers:
            raise ValueError('XBDDataset needs ann_file (a split file of <tier>/<disaster>_<id> ids) or tiers')
        super().__init__(img_suffix=img_suffix, seg_map_suffix='_target.png', **kwargs)

    def _sample_ids(self) -> list[str]:
        root = self.data_root or ''
        if self.ann_file:
            return read_split_file(self.ann_file)
        ids = []
        for tier in self.tiers:
            folder = osp.join(root, tier, self.images)
            if not osp.isdir(folder):
                raise FileNotFoundError(f'{folder}: image folder of tier {tier!r} not found')
            pre = sorted(glob.glob(osp.join(folder, '*' + PRE + self.img_suffix)))
            if not pre:
                raise FileNotFoundError(f'{folder}: no *{PRE}{self.img_suffix} image')
            ids += [f'{tier}/{osp.basename(p)[:-len(PRE + self.img_suffix)]}' for p in pre]
        return ids

    def load_data_list(self) -> list[dict]:
        root = self.data_root or ''
        data_list = []
        for sample_id in self._sample_ids():
            paths = xbd_paths(root, sample_id, self.images, self.targets, self.img_suffix)
            needed = ['img_path', 'post_img_path'] + (['seg_map_path', 'loc_seg_map_path'] if self.with_labels else [])
            for key in needed:
                if not osp.isfile(paths[key]):
                    where = f'{self.ann_file}: ' if self.ann_file else ''
                    hint = ' (tools/xbd_masks.py writes the targets from the label JSONs)' if 'seg' in key else ''
                    raise FileNotFoundError(f'{where}sample {sample_id!r}: {paths[key]} not found{hint}')
            if not self.with_labels:
                paths.pop('seg_map_path')
                paths.pop('loc_seg_map_path')
            data_list.append(dict(paths, sample_id=sample_id, label_map=self.label_map,
                                  reduce_zero_label=self.reduce_zero_label, seg_fields=[],
                                  num_classes=len(self.metainfo['classes'])))
        return data_list
