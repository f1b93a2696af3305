"""Hephaestus InSAR annotations -> class masks, crops around deformations, tiles of frames without deformation, and
temporal splits (``tools/hephaestus_annotations.py``). The annotation schema, the classes and the reading of
interferograms are in :mod:`geospatial_mm.datasets.hephaestus_schema`.

* :mod:`.masks`: polygons rasterised into deformations and class masks (0 background, 1 Mogi, 2 Dyke, 3 Sill,
  4 Spheroid, 5 Earthquake, 6 Unidentified; where polygons overlap, the later one in the annotation wins).
* :mod:`.placement`: where the crops of an interferogram lie, and the label record of a crop.
* :mod:`.writing`: writing crops and masks (:func:`~.writing.save_crops`, :func:`~.writing.write_masks`) and the
  temporal split (:func:`~.writing.split_crops`).
"""
