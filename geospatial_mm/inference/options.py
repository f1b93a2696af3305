"""The options of a prediction run, one typed set for segmentation and detection models.

:func:`geospatial_mm.apis.predict` takes them as keyword arguments and tools/model_inference.py builds them from its
command line; the predictors (:mod:`.segmentation`, :mod:`.detection`) are built from them. Options that only one task
uses are checked against the model before anything is read (:meth:`PredictOptions.check_for`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from geospatial_mm.errors import GeospatialMMError
from .shards import ShardError, check_shard
from .tile_model import TileModel

Launcher = Literal['none', 'pytorch']


class OptionsError(GeospatialMMError, ValueError):
    """An option is out of range, or does not apply to the model's task."""


@dataclass(frozen=True)
class PredictOptions:
    """What a prediction run writes and how it tiles the rasters.

    Attributes:
        input_type: file ending of the inputs: ``'tif'``, ``'png'`` or a suffix such as ``'_merged.tif'``.
        post_input: the folder of post-event images, for pre/post configs.
        batch_size: tiles per forward pass.
        tile: tile size in pixels (default: the model's).
        stride: tile step in pixels (default: the model's).
        readers: threads reading tiles (default: 1 on the CPU, up to 4 on a GPU).
        cog: write Cloud-Optimised GeoTIFFs.
        probabilities: segmentation: also write per-class probabilities.
        preview_dir: segmentation: write a preview PNG per sample here.
        labels: a folder of label rasters shown in the previews.
        geojson: detection: also write the instances as GeoJSON polygons.
        score_thr: detection: leave out instances scoring below.
        merge_thr: detection: overlap at which two instances of neighbouring tiles are one object.
        min_area: detection: drop instances of fewer pixels.
        skip_existing: skip samples whose outputs are complete.
        summary: also write the per-sample summary to this JSON file.
        launcher: ``'pytorch'`` (under torchrun): share the samples across the ranks.
        progress: show progress bars (only ever on a terminal).
        verbose: print the tracebacks of failures.
        assets: STAC inputs: the asset (or band) names of the model's bands, in its order (default: the loader's
            ``stac_assets``).
        group_by: STAC inputs of multi-temporal models: the item property whose items are the dates of one sample.
        resolution: STAC inputs: the pixel size of the grid the assets are read onto (default: the first asset's).
        stac_search: a STAC API to search for the items to predict (with ``collections``, ``bbox``, ``datetime``,
            ``max_items`` and ``query``), besides or instead of the inputs.
        collections: STAC search: the collections.
        bbox: STAC search: ``(west, south, east, north)`` in degrees.
        datetime: STAC search: an instant or interval (``2024-06-01/2024-06-30``).
        max_items: STAC search: at most this many items.
        query: STAC search: property filters (``eo:cloud_cover<20``).
        sign: STAC inputs: sign the assets' URLs for this service (``'planetary-computer'``).
        shard: ``(index, count)``: predict only shard ``index`` of ``count`` of the samples (every ``count``-th from
            ``index``), with no process group (a SLURM job array task; see :mod:`geospatial_mm.inference.shards`).
        split_scene: share each raster among the run's processes (ranks, shards), each predicting a band of its
            rows, joined by the last to finish (:mod:`geospatial_mm.inference.scene_parts`): True for every raster,
            False for none, None (default) for rasters larger than ``split_above``. Only with several processes.
        split_above: with ``split_scene`` None: share rasters of more than this many megapixels.
    """
    input_type: str = 'tif'
    post_input: str | None = None
    batch_size: int = 8
    tile: int | None = None
    stride: int | None = None
    readers: int | None = None
    cog: bool = False
    probabilities: bool = False
    preview_dir: str | None = None
    labels: str | None = None
    geojson: bool = False
    score_thr: float = 0.5
    merge_thr: float = 0.5
    min_area: int = 0
    skip_existing: bool = False
    summary: str | None = None
    launcher: Launcher = 'none'
    progress: bool = True
    verbose: bool = False
    assets: tuple[str, ...] | None = None
    group_by: str | None = None
    resolution: float | None = None
    stac_search: str | None = None
    collections: tuple[str, ...] | None = None
    bbox: tuple[float, float, float, float] | None = None
    datetime: str | None = None
    max_items: int | None = None
    query: tuple[str, ...] | None = None
    sign: str | None = None
    shard: tuple[int, int] | None = None
    split_scene: bool | None = None
    split_above: float = 256.0

    def __post_init__(self) -> None:
        """Check the ranges of the numbers.

        Raises:
            OptionsError: an option is out of its range.
        """
        if self.batch_size < 1:
            raise OptionsError('--batch-size must be at least 1')
        if self.readers is not None and self.readers < 1:
            raise OptionsError('--readers must be at least 1')
        if self.shard is not None:
            try:
                check_shard(self.shard)
            except ShardError as exc:
                raise OptionsError(str(exc)) from None
        if self.resolution is not None and not self.resolution > 0:
            raise OptionsError(f'--resolution must be a positive pixel size, got {self.resolution}')
        if self.max_items is not None and self.max_items < 1:
            raise OptionsError('--max-items must be at least 1')
        if self.bbox is not None and len(self.bbox) != 4:
            raise OptionsError(f'--bbox takes west south east north, got {self.bbox}')
        if not self.stac_search and (self.collections or self.bbox or self.datetime or self.max_items or self.query):
            raise OptionsError('--collections, --bbox, --datetime, --max-items and --query refine --stac-search: give '
                               'the STAC API with --stac-search')
        if not self.split_above > 0:
            raise OptionsError(f'--split-above must be a positive number of megapixels, got {self.split_above}')
        if self.launcher not in ('none', 'pytorch'):
            raise OptionsError(f"--launcher must be 'none' or 'pytorch', got {self.launcher!r}")

    @classmethod
    def from_kwargs(cls, options: dict[str, object]) -> PredictOptions:
        """The options of keyword arguments, each name checked.

        Args:
            options: option names and values, as :func:`geospatial_mm.apis.predict` takes them.

        Returns:
            The options.

        Raises:
            OptionsError: a name is not an option (the message lists them), or a value is out of range.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise OptionsError(f'unknown prediction option(s) {unknown}; the options are {sorted(names)}')
        return cls(**options)  # type: ignore[arg-type]  # names checked above, values by __post_init__

    def check_for(self, model: TileModel) -> None:
        """Refuse options that the model's task does not use (before anything is read).

        Args:
            model: the model of the run.

        Raises:
            OptionsError: a segmentation option for a detection model or the reverse, or labels for a model that
                does not record how its labels are read.
        """
        if model.task == 'detection':
            for option, given in (('--probabilities', self.probabilities), ('--preview-dir', self.preview_dir)):
                if given:
                    raise OptionsError(f'{option} is for segmentation configs; a detection config writes instance '
                                       'ids, classes and scores (and --geojson polygons)')
        elif self.geojson:
            raise OptionsError('--geojson writes the instances of detection configs (default_scope mmdet)')
        if self.labels and model.label_converter() is None:
            raise OptionsError('--labels needs the config the model was trained with (-config/-ckpt): an exported '
                               'model does not record how its labels were read')
