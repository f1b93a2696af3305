"""Samples of STAC items, each read through a VRT as the model's loader reads a file of its product.

Each item (or group of items, for multi-temporal models) becomes a VRT that the model's loader reads exactly as it
reads a file of the product the config was made for.

The loader's band indices address bands of a file (``bands=[1, 2, 3, 8, 11, 12]`` of a 13-band Sentinel-2 file,
``frames`` of a file holding every date). The VRT of a sample puts the item's assets at those indices - asset ``j``
(in the order of ``--assets`` or of the loader's ``stac_assets``) at the ``j``-th band the loader reads of each date -
and leaves the bands it never reads without a source. The config's scale, offset, clip and nodata then apply as for
files, and GDAL reads each window of the VRT by fetching only the blocks of the remote COGs it needs, resampled onto
the grid of the first asset (or of ``--resolution``) with nearest-neighbour resampling.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from geospatial_mm.io.raster import RasterError
from geospatial_mm.io.redaction import redact
from geospatial_mm.io.stac import group_items, item_bands
from geospatial_mm.io.vrt import VrtBand, write_vrt
from .sources import Sample

if TYPE_CHECKING:
    import pystac

    from .input_spec import InputSpec


def band_layout(spec: InputSpec, count: int) -> tuple[bool, list[list[int]]]:
    """Where the loader reads each asset of each date.

    ``layout[t][j]`` is the 0-based band of the file that holds asset ``j`` of date ``t``.

    Args:
        spec: what the model reads.
        count: the bands each item gives (its assets, in order).

    Returns:
        ``(per_date, layout)``: ``per_date`` True when the model reads one file per date (then ``layout[t]`` indexes
        the file of date ``t``), else every date is in one file.

    Raises:
        ValueError: the model reads another number of bands per date than the assets give.
    """
    frames = spec.num_frames
    per_date = frames > 1 and spec.stacked_frames is False
    loader_frames = spec.loader.get('frames')
    if loader_frames:
        layout = [[int(b) for b in frame] for frame in loader_frames]
    else:
        bands = spec.loader.get('bands')
        dates = 1 if per_date else frames
        if bands is None:
            layout = [[t * count + j for j in range(count)] for t in range(dates)]
        elif len(bands) % dates:
            raise ValueError(f'the loader reads {len(bands)} bands, which are not {dates} dates of equal bands')
        else:
            width = len(bands) // dates
            layout = [[int(b) for b in bands[t * width:(t + 1) * width]] for t in range(dates)]
        if per_date:
            layout = layout * frames
    for date in layout:
        if len(date) != count:
            raise ValueError(f'the model reads {len(date)} band(s) per date, the STAC assets named give {count}: name '
                             'one asset (or band) for each, in the model\'s band order (--assets or the loader\'s '
                             'stac_assets)')
    return per_date, layout


def _placed(bands: Sequence[Sequence[VrtBand]], layout: list[list[int]]) -> list[VrtBand | None]:
    """The bands of one file: ``bands[t][j]`` at index ``layout[t][j]``, the others without a source."""
    slots: list[VrtBand | None] = [None] * (max(i for date in layout for i in date) + 1)
    for date, indices in zip(bands, layout):
        for band, index in zip(date, indices):
            slots[index] = band
    return slots


def _item_name(item: pystac.Item) -> str:
    """An output stem from an item id (path separators replaced)."""
    return item.id.replace('/', '_').replace(os.sep, '_')


def stac_samples(spec: InputSpec, items: Sequence[pystac.Item], assets: Sequence[str], folder: str | os.PathLike[str],
                 group_by: str | None = None, resolution: float | None = None) -> list[Sample]:
    """One sample per item (per group of items for a multi-temporal model), each read through a VRT in ``folder``.

    Args:
        spec: what the model reads.
        items: the STAC items.
        assets: the asset (or band) names of the model's bands, in its order.
        folder: where the samples' VRTs are written.
        group_by: the item property that groups the dates of a sample (multi-temporal models only).
        resolution: the grid's pixel size (None: that of the first asset).

    Returns:
        The samples, named after the item ids (the group values); an item that lacks an asset, or a group with the
        wrong number of dates, is a sample with its ``problem``.

    Raises:
        ValueError: no asset names, a model that reads pre/post pairs or several sources, or a multi-temporal model
            without ``group_by``.
    """
    if not assets:
        raise ValueError('STAC inputs: name the assets of the model\'s bands, in its order (--assets B02 B03 ..., or '
                         'stac_assets in the config\'s loader)')
    if spec.is_pair or spec.multi_source:
        raise ValueError('STAC inputs are read by configs with one image per date; this config reads '
                         f'{"pre/post pairs" if spec.is_pair else "several source files"}: give URLs or folders')
    frames = spec.num_frames
    if frames > 1 and not group_by:
        raise ValueError(f'this config takes {frames} dates per sample: give --group-by with the item property that '
                         'names the place (e.g. s2:mgrs_tile or grid:code); each group\'s items, in time order, are '
                         'its dates')
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    groups: dict[str, list[pystac.Item] | str] = (group_items(items, group_by, frames) if frames > 1 and group_by
                                                  else {_item_name(item): [item] for item in items})
    key = spec.path_keys[0]
    samples: list[Sample] = []
    for name, group in groups.items():
        name = name.replace('/', '_')
        if isinstance(group, str):
            samples.append(Sample(name, {}, name, problem=group))
            continue
        shown = ', '.join(redact(item.get_self_href() or item.id) for item in group)
        try:
            bands = [item_bands(item, assets) for item in group]
            per_date, layout = band_layout(spec, len(bands[0]))
            if per_date:
                paths = [str(write_vrt(folder / f'{name}.{t}.vrt', _placed([date], [layout[t]]), resolution))
                         for t, date in enumerate(bands)]
                sample = Sample(name, {key: paths}, paths[0])
            else:
                path = str(write_vrt(folder / f'{name}.vrt', _placed(bands, layout), resolution))
                sample = Sample(name, {key: path}, path)
        except (RasterError, ValueError) as exc:
            text = str(exc)
            sample = Sample(name, {}, shown, problem=redact(text if text.startswith(f'{name}:') else f'{name}: {text}'))
        sample.extra['shown'] = shown
        samples.append(sample)
    return samples
