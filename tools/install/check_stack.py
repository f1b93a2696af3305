#!/usr/bin/env python
"""Print the versions of the stack and fail unless mmcv's compiled ops and every library import."""
import sys


def main() -> int:
    import torch
    import torchvision
    print(f'python       {sys.version.split()[0]}')
    print(f'torch        {torch.__version__} (CUDA {torch.version.cuda}, GPU available: {torch.cuda.is_available()})')
    print(f'torchvision  {torchvision.__version__}')
    import mmcv
    try:
        from mmcv.ops import RoIAlign, nms  # noqa: F401
        from mmcv.utils import ext_loader
        ext = ext_loader.load_ext('_ext', ['nms'])
    except Exception as exc:
        print(f'mmcv         {mmcv.__version__}: compiled ops do NOT load: {exc}', file=sys.stderr)
        return 1
    cuda_ops = False
    try:
        from mmcv.ops import get_compiling_cuda_version
        cuda_ops = get_compiling_cuda_version() not in ('not available', '')
    except Exception:  # older builds without the helper
        pass
    print(f'mmcv         {mmcv.__version__} (compiled ops load from {ext.__file__}; '
          f'{"CUDA" if cuda_ops else "CPU"} ops)')
    import mmengine
    print(f'mmengine     {mmengine.__version__}')
    import mmseg
    import mmseg.models  # noqa: F401
    print(f'mmseg        {mmseg.__version__}')
    import mmdet
    import mmdet.models  # noqa: F401
    print(f'mmdet        {mmdet.__version__}')
    import mmpretrain
    import mmpretrain.models  # noqa: F401
    print(f'mmpretrain   {mmpretrain.__version__}')
    import onnx
    import onnxruntime
    print(f'onnx         {onnx.__version__}, onnxruntime {onnxruntime.__version__} (tools/export.py, -model X.onnx)')
    import geospatial_mm
    print(f'geospatial_mm {geospatial_mm.__version__} ({geospatial_mm.__file__})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
