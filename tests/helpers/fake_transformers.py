"""A stand-in for a transformers release that mmpretrain 1.2.0 cannot use, installed as a distribution of its own in
a temporary site folder: it claims version 5.0.0 (so mmpretrain imports its multi-modal models) and provides every
module and name those models import, as empty classes, except the helpers that newer releases no longer have in
``transformers.modeling_utils``."""
from __future__ import annotations

from pathlib import Path

from geospatial_mm.compat.mmpretrain_transformers import _transformers_imports

GONE = ('apply_chunking_to_forward', 'find_pruneable_heads_and_indices', 'prune_linear_layer')
MODULE = '''GONE = {gone!r}
_MADE = {{}}


def __getattr__(name):
    if name.startswith('__') or name in GONE:
        raise AttributeError(name)
    import transformers
    if name not in _MADE:  # every name is a class deriving from one base, which PreTrainedModel also is
        _MADE[name] = transformers._Stub if name == 'PreTrainedModel' else type(name, (transformers._Stub,), {{}})
    return _MADE[name]
'''
ROOT_EXTRA = '''

class _AnyAttribute(type):
    def __getattr__(cls, name):
        if name.startswith('__'):
            raise AttributeError(name)
        return _Stub


class _Stub(metaclass=_AnyAttribute):
    def __init__(self, *args, **kwargs):
        pass
'''


def install_fake_transformers(site: Path, version: str = '5.0.0') -> Path:
    import mmpretrain.utils
    package_dir = Path(mmpretrain.utils.__file__).parents[1]
    modules = {module for module, _ in _transformers_imports(str(package_dir))}
    for module in modules | {'transformers'}:
        parts = module.split('.')
        for i in range(1, len(parts) + 1):
            folder = site.joinpath(*parts[:i])
            folder.mkdir(parents=True, exist_ok=True)
            init = folder / '__init__.py'
            if not init.exists():
                gone = GONE if parts[:i] == ['transformers', 'modeling_utils'] else ()
                root = f'__version__ = {version!r}\n{ROOT_EXTRA}' if i == 1 else ''
                init.write_text(MODULE.format(gone=gone) + root)
    info = site / f'transformers-{version}.dist-info'
    info.mkdir(exist_ok=True)
    (info / 'METADATA').write_text(f'Metadata-Version: 2.1\nName: transformers\nVersion: {version}\n')
    return site
