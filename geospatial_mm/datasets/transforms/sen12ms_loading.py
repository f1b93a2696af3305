"""The SEN12MS / DFC2020 loaders: the chosen band groups of a sample as one image, and its labels as class indices
(the band groups, class tables and label maps: :mod:`geospatial_mm.datasets.sen12ms_schema`)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from mmengine.registry import TRANSFORMS

from geospatial_mm.io import RasterError, RasterMeta
from ..sen12ms_schema import IGNORE_INDEX, S1_BANDS, S1_CLIP, S2_BANDS, S2_CLIP, band_indices, label_map
from .loading import LoadGeospatialAnnotations, LoadGeospatialBandGroups


@TRANSFORMS.register_module()
class LoadSEN12MSImage(LoadGeospatialBandGroups):
    """The chosen band groups of a SEN12MS / DFC2020 sample as one float32 image: the Sentinel-2 bands of the groups
    in file order (clipped to 0-10000, divided by 10000), then Sentinel-1 VV, VH (NaN -> 0 dB, clipped to -25-0 dB,
    mapped to 0-1 by x / 25 + 1).

    Args:
        groups: any of ``'s2hr'`` (B2 B3 B4 B8), ``'s2mr'`` (B5 B6 B7 B8A B11 B12), ``'s2lr'`` (B1 B9 B10), ``'s1'``.
        s2_key, s1_key: where the sample's Sentinel-2 / Sentinel-1 paths are.
    """

    def __init__(self, groups: Sequence[str] = ('s2hr', 's2mr', 's1'), s2_key: str = 's2_path',
                 s1_key: str = 's1_path', **kwargs) -> None:
        self.groups = list(groups)
        s2, s1 = band_indices(self.groups)
        sources = []
        if s2:
            sources.append(dict(path_key=s2_key, bands=s2, clip=S2_CLIP, scale=1 / 10000))
        if s1:
            sources.append(dict(path_key=s1_key, bands=s1, nan_replace=0.0, clip=S1_CLIP, scale=1 / 25, offset=1.0))
        super().__init__(sources=sources, **kwargs)

    @property
    def channel_names(self) -> list[str]:
        s2, s1 = band_indices(self.groups)
        return [S2_BANDS[b] for b in s2] + [S1_BANDS[b] for b in s1]

    def transform(self, results: dict) -> dict:
        results = super().transform(results)
        results['geo_meta']['band_names'] = tuple(self.channel_names)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(groups={self.groups}, channels={self.channel_names})'


@TRANSFORMS.register_module()
class LoadSEN12MSAnnotations(LoadGeospatialAnnotations):
    """Land-cover labels as class indices: ``scheme='igbp'`` reads the IGBP band of SEN12MS ``lc`` files and maps
    it to the DFC classes, ``scheme='dfc'`` reads DFC2020 ``dfc`` files (DFC codes). 0 (no label) is ignored; with
    ``no_savanna`` so is Savanna, and the later classes move up by one. A value outside the scheme is an error
    naming the file and the values found."""

    def __init__(self, scheme: str = 'igbp', no_savanna: bool = False, **kwargs) -> None:
        if kwargs.get('label_map') is not None or kwargs.get('reduce_zero_label'):
            raise ValueError('LoadSEN12MSAnnotations makes its own label map; do not give label_map or '
                             'reduce_zero_label')
        self.scheme = scheme
        self.no_savanna = no_savanna
        kwargs.setdefault('ignore_index', IGNORE_INDEX)
        super().__init__(band=0, label_map=label_map(scheme, no_savanna), **kwargs)

    def convert(self, raw: np.ndarray, meta: RasterMeta, path: str, label_map: dict | None = None) -> np.ndarray:
        valid_codes = np.asarray(sorted(self.label_map))
        values = np.unique(raw[np.isfinite(raw)] if raw.dtype.kind == 'f' else raw)
        nodata = self.nodata if self.nodata is not None else meta.nodata
        skip = set(self.ignore_values) | ({nodata} if nodata is not None else set())
        bad = [v for v in values.tolist() if v not in skip and v not in valid_codes]
        if bad:
            names = 'IGBP codes 0-17' if self.scheme == 'igbp' else 'DFC codes 0-10'
            raise RasterError(f'{path}: label values must be {names} (0: no label), found {bad[:10]}')
        return super().convert(raw, meta, path)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(scheme={self.scheme!r}, no_savanna={self.no_savanna})'
