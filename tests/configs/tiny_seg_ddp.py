# tiny_seg.py plus a hook that saves each rank's parameters, for the 2-process CPU test.
_base_ = './tiny_seg.py'
custom_imports = dict(imports=['geospatial_mm', 'helpers.rank_params_hook'], allow_failed_imports=False)
custom_hooks = [dict(type='RankParamsHook')]
