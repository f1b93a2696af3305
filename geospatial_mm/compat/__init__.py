"""Shims that let the 2023-24 OpenMMLab stack (mmengine, mmcv 2.1, mmseg 1.2, mmdet 3.3, mmpretrain 1.2) run on
current PyTorch. :func:`apply_all` runs when :mod:`geospatial_mm` is imported (configs import it through
``custom_imports``, before any runner, model or checkpoint is built); each shim is applied right after the module it
changes is imported (at once if it already is), so importing the package imports none of those libraries.

One module per shim, each saying why it exists, each with a test in ``tests/test_compat.py``:

* :mod:`.distributed` - ``--launcher pytorch`` and ``--launcher slurm`` on a machine without CUDA (gloo, no device
  calls, DDP without device ids), and the slurm launcher's master port per job;
* :mod:`.checkpoints` - every checkpoint scheme of mmengine unpickles weights-only, with an allow-list and an
  explicit opt-in for trusted files (:mod:`.trust`, shared with exported ``.pt2`` programs);
* :mod:`.resume` - ``--resume`` without a usable ``last_checkpoint`` continues from the newest complete checkpoint;
* :mod:`.mmpretrain_transformers` - mmpretrain imports beside a transformers release it cannot use;
* :mod:`.focal_loss` - mmseg's ``FocalLoss`` on CPU (open-mmlab/mmsegmentation#3249);
* :mod:`.config_scope` - ``_base_ = ['geospatial_mm::_base_/...']`` in configs anywhere on disk;
* :mod:`.mmcv_lite` - mmcv-lite (mmcv without compiled ops) with the ops the models use served by torchvision
  (:mod:`.mmcv_ext`), found by an import hook only where no compiled ``mmcv._ext`` is installed.
"""
from __future__ import annotations

from geospatial_mm.after_import import after_import
from .mmcv_lite import install_ext_finder
from .trust import TRUST_ENV

# module -> (shim module, function), applied right after the module is imported
SHIMS = {
    'mmengine.config.config': ('config_scope', 'patch_base_scope'),
    'mmengine.config.utils': ('config_scope', 'register_config_scope'),
    'mmengine.dist.utils': ('distributed', 'patch_init_dist'),
    'mmengine.model.wrappers.distributed': ('distributed', 'patch_ddp'),
    'mmengine.runner.checkpoint': [('checkpoints', 'patch_checkpoint_loader'),
                                   ('resume', 'patch_find_latest_checkpoint')],
    'mmengine.runner.runner': ('resume', 'patch_find_latest_checkpoint'),
    'mmpretrain.utils.dependency': ('mmpretrain_transformers', 'disable_unusable_multimodal'),
    'mmseg.models.losses.focal_loss': ('focal_loss', 'patch_focal_loss'),
}
_APPLIED = False


def _shim(module_name: str, function: str):
    def apply(module) -> None:
        import importlib
        getattr(importlib.import_module(f'{__name__}.{module_name}'), function)(module)
    return apply


def apply_all() -> None:
    """Apply every shim when its module is imported (idempotent)."""
    global _APPLIED
    if _APPLIED:
        return
    _APPLIED = True
    install_ext_finder()
    for target, shims in SHIMS.items():
        for module_name, function in shims if isinstance(shims, list) else [shims]:
            after_import(target, _shim(module_name, function))


__all__ = ['SHIMS', 'TRUST_ENV', 'apply_all']
