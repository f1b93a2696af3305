"""Preview figures of rasters of any size: RGB composites, colour-coded class maps, and input | prediction | label
panels with a legend of the classes.

Rasters are read decimated (GDAL resamples while reading, so a scene of any size costs a small, bounded amount of
memory); class maps with nearest-neighbour resampling, so no class is invented.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from geospatial_mm.io.atomic import atomic_path

# colours for pixels without a class (nodata, ignored labels), the first one that no class uses
NODATA_COLOURS = ((255, 0, 255), (0, 255, 255), (255, 255, 0), (128, 128, 128), (255, 128, 0), (0, 0, 0))


def nodata_colour(palette: Sequence[Sequence[int]] | None) -> tuple[int, int, int]:
    """A colour for nodata that no class of ``palette`` has (the preview and the class raster's colour table use
    it alike)."""
    used = {tuple(int(c) for c in colour[:3]) for colour in (palette or ())}
    for colour in NODATA_COLOURS:
        if colour not in used:
            return colour
    rng = np.random.default_rng(0)
    while True:
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if colour not in used:
            return colour


def preview_shape(height: int, width: int, max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def read_decimated(path: str, bands: Sequence[int] | None = None, max_side: int = 1024,
                   resampling: str = 'nearest') -> tuple[np.ndarray, object]:
    """``(C, h, w)`` of ``bands`` (0-based) read at most ``max_side`` pixels on the long side, and the header."""
    import rasterio
    from rasterio.enums import Resampling

    from geospatial_mm.io import check_bands, read_meta
    meta = read_meta(path)
    bands = check_bands(path, bands, meta.count)
    h, w = preview_shape(meta.height, meta.width, max_side)
    with rasterio.open(path) as src:
        data = src.read([b + 1 for b in bands], out_shape=(len(bands), h, w), resampling=Resampling[resampling])
    return data, meta


def rgb_composite(data: np.ndarray, invalid: np.ndarray | None = None, brightness: float | None = None,
                  percentiles: tuple[float, float] = (2, 98)) -> np.ndarray:
    """``(3, h, w)`` values -> ``(h, w, 3)`` uint8.

    With ``brightness``, values (reflectance in 0-1) are multiplied by it and clipped to 0-1, the same stretch for
    every image; otherwise each band is stretched between its ``percentiles`` over the valid pixels.
    """
    if data.shape[0] != 3:
        raise ValueError(f'an RGB composite needs 3 bands, got {data.shape[0]}')
    data = data.astype(np.float32)
    valid = ~invalid if invalid is not None else np.ones(data.shape[1:], bool)
    valid &= np.isfinite(data).all(axis=0)
    out = np.zeros_like(data)
    for i, band in enumerate(data):
        if brightness is not None:
            out[i] = np.clip(band * brightness, 0, 1)
        elif valid.any():
            lo, hi = np.percentile(band[valid], percentiles)
            out[i] = np.clip((band - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
    out[:, ~valid] = 0
    return (out.transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)


def colorize(label: np.ndarray, palette: Sequence[Sequence[int]], ignore_colour=None) -> np.ndarray:
    """Class indices -> ``(h, w, 3)`` uint8 with the palette; values without a colour (ignore, nodata) get
    ``ignore_colour`` (default :func:`nodata_colour`)."""
    ignore_colour = nodata_colour(palette) if ignore_colour is None else ignore_colour
    lut = np.tile(np.asarray(ignore_colour, np.uint8), (max(256, len(palette)), 1))
    lut[:len(palette)] = np.asarray(palette, np.uint8)
    label = np.asarray(label)
    out = lut[np.clip(label, 0, len(lut) - 1).astype(np.int64)]
    out[(label < 0) | (label >= len(lut))] = ignore_colour
    return out


def has_nodata(label: np.ndarray, num_classes: int) -> bool:
    """Whether a class map holds pixels without a class (nodata, ignored)."""
    label = np.asarray(label)
    return bool(((label < 0) | (label >= num_classes)).any())


def preview_figure(panels: Sequence[tuple[str, np.ndarray]], classes: Sequence[str],
                   palette: Sequence[Sequence[int]], title: str | None = None, show_nodata: bool = True):
    """A matplotlib figure (Agg, 100 dpi) of the ``(title, (h, w, 3) uint8)`` panels and a legend of every class
    (and of the nodata colour when ``show_nodata``) below. The panels sit side by side, or one above the other when
    they are much wider than high, and the figure takes their shape, so that wide or tall rasters leave no empty
    margins. Close it when done."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    n = len(panels)
    h, w = panels[0][1].shape[:2]
    aspect = h / w  # height per unit of width
    stacked = aspect < 0.5  # wide rasters: one panel above the other
    panel_w = 8.0 if stacked else 4.0
    panel_h = min(max(panel_w * aspect, 0.6), 8.0)
    handles = [Patch(facecolor=np.asarray(c[:3]) / 255.0, edgecolor='black', label=str(name))
               for name, c in zip(classes, palette)]
    if show_nodata:
        handles.append(Patch(facecolor=np.asarray(nodata_colour(palette)) / 255.0, edgecolor='black',
                             label='no data'))
    columns = min(len(handles), 6)
    legend_h = 0.3 * (1 + (len(handles) - 1) // columns) + 0.2
    title_h = 0.35 * n if stacked else 0.35  # each panel's title
    header_h = 0.35 if title else 0.0
    rows, cols = (n, 1) if stacked else (1, n)
    fig_w = panel_w * cols
    fig_h = panel_h * rows + title_h + legend_h + header_h
    fig, axes = plt.subplots(rows, cols, figsize=(fig_w, fig_h), dpi=100, squeeze=False)
    for ax, (name, image) in zip(axes.ravel(), panels):
        ax.imshow(image, interpolation='nearest', aspect='auto')
        ax.set_title(name, fontsize=10)
        ax.set_axis_off()
    fig.legend(handles=handles, loc='lower center', ncol=columns, frameon=False, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, legend_h / fig_h, 1, 1 - header_h / fig_h), pad=0.3)
    return fig


def render_preview(panels: Sequence[tuple[str, np.ndarray]], classes: Sequence[str],
                   palette: Sequence[Sequence[int]], title: str | None = None, show_nodata: bool = True) -> np.ndarray:
    """The figure of :func:`save_preview` as an ``(H, W, 3)`` uint8 array (for a visualizer's ``add_image``)."""
    import matplotlib.pyplot as plt
    fig = preview_figure(panels, classes, palette, title, show_nodata)
    try:
        fig.canvas.draw()
        return np.ascontiguousarray(np.asarray(fig.canvas.buffer_rgba())[..., :3])
    finally:
        plt.close(fig)


def save_preview(path: str | Path, panels: Sequence[tuple[str, np.ndarray]], classes: Sequence[str],
                 palette: Sequence[Sequence[int]], title: str | None = None, show_nodata: bool = True,
                 software: str | None = None) -> Path:
    """A PNG with the ``(title, (h, w, 3) uint8)`` panels side by side and a legend of every class (and of the
    no-data colour) below, written atomically; ``software`` goes into its ``Software`` text."""
    import matplotlib.pyplot as plt
    fig = preview_figure(panels, classes, palette, title, show_nodata)
    metadata = {'Software': software} if software else None
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=100, format='png', metadata=metadata)
        return Path(path)
    finally:
        plt.close(fig)
