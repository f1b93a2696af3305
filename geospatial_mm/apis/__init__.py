"""The Python API of prediction, as ``mmseg.apis`` and ``mmdet.apis`` offer theirs.

    from geospatial_mm.apis import init_model, predict, predict_array

    model = init_model('configs/burn_scars.py', 'best.pth')          # or init_model('burn_scars.pt2')
    summary = predict(model, 'scenes/', 'predictions/', probabilities=True)
    classes, probabilities = predict_array(model, array, nodata=-9999)

tools/model_inference.py is a command line over these three (see docs/python_api.md).
"""
from geospatial_mm.inference.options import OptionsError, PredictOptions
from geospatial_mm.inference.runner import SetupError
from geospatial_mm.inference.summary import RunSummary, SampleResult
from .inference import InstanceArrays, SegmentationArrays, init_model, predict, predict_array

__all__ = ['InstanceArrays', 'OptionsError', 'PredictOptions', 'RunSummary', 'SampleResult', 'SegmentationArrays',
           'SetupError', 'init_model', 'predict', 'predict_array']
