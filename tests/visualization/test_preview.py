"""Preview figures: a nodata colour no class has, a legend entry for it only when there is nodata, no empty margins
for wide or tall rasters, and the class raster's colour table in the same colours."""
import numpy as np
import pytest

from geospatial_mm.visualization.preview import colorize, has_nodata, nodata_colour, preview_figure, render_preview

PALETTE = [[0, 0, 0], [255, 255, 255], [255, 0, 255]]  # black, white (a 'cloud' class), and the first nodata colour


def test_the_nodata_colour_is_none_of_the_classes():
    colour = nodata_colour(PALETTE)
    assert colour not in {tuple(c) for c in PALETTE} and colour == (0, 255, 255)
    label = np.array([[0, 1, 2, 255]])
    assert colorize(label, PALETTE)[0, 3].tolist() == list(colour)
    assert has_nodata(label, 3) and not has_nodata(label[:, :3], 3)


def test_the_legend_has_a_nodata_entry_only_when_asked():
    import matplotlib.pyplot as plt
    panel = ('prediction', colorize(np.zeros((20, 20), int), PALETTE))
    for show in (True, False):
        fig = preview_figure([panel], ['land', 'cloud', 'snow'], PALETTE, show_nodata=show)
        labels = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
        plt.close(fig)
        assert labels == ['land', 'cloud', 'snow'] + (['no data'] if show else [])


@pytest.mark.parametrize('shape', [(40, 400), (400, 40), (100, 100)])
def test_wide_and_tall_rasters_fill_the_figure(shape):
    """The panels take most of the figure whatever the raster's shape (the rest: titles and the legend)."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)  # no row or column of the image is background
    figure = render_preview([('a', image), ('b', image)], ['x'], [[10, 20, 30]], show_nodata=False)
    background = (figure == 255).all(axis=2)
    empty_rows = background.all(axis=1).mean()
    empty_cols = background.all(axis=0).mean()
    assert empty_rows < 0.35 and empty_cols < 0.1, (figure.shape, empty_rows, empty_cols)
