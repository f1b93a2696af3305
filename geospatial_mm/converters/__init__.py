"""Dataset converters: code that turns downloaded datasets into the layouts the package's datasets read. The
command-line tools in ``tools/`` parse arguments and call these modules.

* :mod:`.label_grid`: a data raster read on the grid of its class raster, the class values present.
* :mod:`.coco`: connected components of a class raster -> COCO instances (polygons or RLE).
* :mod:`.raster_to_coco`: a raster and its class raster -> GeoTIFF tiles and COCO instance files
  (``tools/raster_to_coco.py``).
* :mod:`.hephaestus`: Hephaestus annotations -> class masks, crops around deformations, temporal splits
  (``tools/hephaestus_annotations.py``).
* :mod:`.xbd_masks`: xBD label JSONs -> localisation and damage targets, split files (``tools/xbd_masks.py``).

Importing this package imports none of them; every file they write goes through :mod:`geospatial_mm.io`.
"""
