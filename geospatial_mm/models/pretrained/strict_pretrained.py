"""``init_cfg=dict(type='StrictPretrained', ...)``: the package's pretrained-weights initialiser, for the configs of
every library (registered in mmengine's root registry)."""
from __future__ import annotations

from mmengine.model.weight_init import PretrainedInit, update_init_info
from mmengine.registry import WEIGHT_INITIALIZERS

from .loader import load_pretrained


@WEIGHT_INITIALIZERS.register_module(name='StrictPretrained')
class StrictPretrainedInit(PretrainedInit):
    """Load ``checkpoint`` (a local file or a URL) into the module with :func:`~.loader.load_pretrained`: every key of
    the module must be in it with the same shape and nothing else, unless allowed by pattern; mmengine's
    ``Pretrained`` logs such mismatches as a warning and goes on with partly random weights.

    Args:
        checkpoint: the file or URL; None loads nothing.
        prefix: the part of the checkpoint to load (``'backbone.'``).
        filter: the backbone's state-dict filter (``'prithvi'``, ``'resnet'``), for published layouts.
        input_conv: ``dict(key=..., bands=..., extend=...)`` to adapt the input convolution to the task's bands.
        allow_missing, allow_unexpected: fnmatch patterns of keys that may be missing / left over.

    Unlike ``Pretrained`` it runs before the module's own ``init_weights`` extras: give backbones that re-initialise
    layers after loading (mmpretrain's ResNet with ``zero_init_residual=True``) ``zero_init_residual=False``.
    """

    def __init__(self, checkpoint=None, prefix=None, filter=None, input_conv=None, allow_missing=(),
                 allow_unexpected=(), map_location='cpu') -> None:
        super().__init__(checkpoint=checkpoint, prefix=prefix, map_location=map_location)
        self.filter = filter
        self.input_conv = dict(input_conv) if input_conv else None
        self.allow_missing = tuple(allow_missing)
        self.allow_unexpected = tuple(allow_unexpected)

    def __call__(self, module) -> None:
        if self.checkpoint is None:
            return
        load_pretrained(module, self.checkpoint, prefix=self.prefix, filter=self.filter, input_conv=self.input_conv,
                        allow_missing=self.allow_missing, allow_unexpected=self.allow_unexpected)
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())

    def _get_init_info(self) -> str:
        return f'{self.__class__.__name__}: load from {self.checkpoint}'
