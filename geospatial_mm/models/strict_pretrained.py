"""mmengine's ``Pretrained`` initialisation, strict: every key must match."""
from __future__ import annotations

from mmengine.logging import print_log
from mmengine.model.weight_init import PretrainedInit, update_init_info
from mmengine.registry import WEIGHT_INITIALIZERS


@WEIGHT_INITIALIZERS.register_module(name='StrictPretrained')
class StrictPretrainedInit(PretrainedInit):
    """``init_cfg=dict(type='StrictPretrained', checkpoint=PATH, prefix='backbone.')``: load the ``prefix`` part of a
    checkpoint's ``state_dict`` (all of it without a prefix) into the module, and refuse - with an error naming the
    file and the keys - unless every key of the module is in it with the same shape and nothing else is.
    mmengine's ``Pretrained`` logs such mismatches as a warning and goes on with partly random weights.

    Unlike ``Pretrained`` it runs before the module's own ``init_weights`` extras: give backbones that re-initialise
    layers after loading (mmpretrain's ResNet with ``zero_init_residual=True``) ``zero_init_residual=False``.
    """

    def __call__(self, module) -> None:
        from mmengine.runner.checkpoint import _load_checkpoint
        checkpoint = _load_checkpoint(self.checkpoint, map_location=self.map_location)
        state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else None
        if not isinstance(state, dict):
            raise RuntimeError(f'{self.checkpoint}: expected a state_dict, found {type(checkpoint).__name__}')
        if self.prefix:
            prefix = self.prefix if self.prefix.endswith('.') else self.prefix + '.'
            state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            if not state:
                raise RuntimeError(f'{self.checkpoint}: no key starts with {prefix!r}; the checkpoint holds '
                                   f'{sorted({k.split(".")[0] for k in checkpoint.get("state_dict", checkpoint)})}')
        own = module.state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        shapes = [f'{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}' for k in sorted(set(own) & set(state))
                  if tuple(state[k].shape) != tuple(own[k].shape)]
        if missing or unexpected or shapes:
            problems = []
            for what, keys in (('missing in the checkpoint', missing), ('unexpected', unexpected),
                               ('of another shape (checkpoint vs model)', shapes)):
                if keys:
                    problems.append(f'{len(keys)} {what}: {", ".join(keys[:8])}{" ..." if len(keys) > 8 else ""}')
            where = f' under {self.prefix!r}' if self.prefix else ''
            raise RuntimeError(f'{self.checkpoint}: the weights{where} do not match {type(module).__name__}: '
                               + '; '.join(problems))
        module.load_state_dict(state, strict=True)
        print_log(f'loaded {len(state)} tensors of {self.prefix or "the model"} from {self.checkpoint} into '
                  f'{type(module).__name__}: every key matched', logger='current')
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())
