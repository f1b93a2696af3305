#!/usr/bin/env python
"""Print the versions of the stack, and which provider serves mmcv's ops; fail unless they and every library
import."""
import sys


def main() -> int:
    import torch
    import torchvision
    print(f'python       {sys.version.split()[0]}')
    print(f'torch        {torch.__version__} (CUDA {torch.version.cuda}, GPU available: {torch.cuda.is_available()})')
    print(f'torchvision  {torchvision.__version__}')
    import mmcv

    from geospatial_mm.compat.mmcv_lite import ops_provider
    try:
        from mmcv.ops import RoIAlign, nms  # noqa: F401
        from mmcv.utils import ext_loader
        ext = ext_loader.load_ext('_ext', ['nms', 'roi_align_forward', 'roi_align_backward'])
    except (ImportError, AssertionError) as exc:
        print(f'mmcv         {mmcv.__version__}: its ops do NOT load: {exc}', file=sys.stderr)
        return 1
    provider = ops_provider()
    cuda = ext.get_compiling_cuda_version()
    if provider == 'torchvision':
        print(f'mmcv         {mmcv.__version__} (mmcv-lite; roi_align and nms served by torchvision\'s kernels '
              f'through geospatial_mm, CUDA ops: {cuda}; other compiled ops need GEOSPATIAL_MM_MMCV=full)')
    else:
        print(f'mmcv         {mmcv.__version__} (compiled ops load from {ext.__file__}; '
              f'{"CUDA" if cuda not in ("not available", "") else "CPU"} ops)')
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
