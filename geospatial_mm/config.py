"""The one way the package loads a config: a file or a Config, with ``--cfg-options`` merged, checked.

Training, testing, prediction, export and the tools that read a config's dataset all load it here. The OpenMMLab
stack is imported when the first config is loaded, after the caller has set the environment it reads (the launcher's
rank, the trust opt-in for checkpoints).
"""
from __future__ import annotations

import copy
import os

from .errors import GeospatialMMError

SCOPES = ('mmseg', 'mmdet', 'mmpretrain')  # the libraries whose configs the package runs


class ConfigError(GeospatialMMError, ValueError):
    """A config that the package cannot run; the message names the file and the problem."""


def load_config(config, cfg_options: dict | None = None):
    """The config of ``config`` (a file path, or a ``mmengine.Config``, copied), with ``cfg_options`` merged.

    Returns:
        The ``mmengine.Config`` (its ``custom_imports``, i.e. geospatial_mm, imported).

    Raises:
        FileNotFoundError: ``config`` is a path to no file.
        ConfigError: its ``default_scope`` is not one of :data:`SCOPES`.
    """
    from mmengine.config import Config  # the stack, once the caller's environment is set (module docstring)
    if isinstance(config, Config):
        cfg, name = copy.deepcopy(config), config.filename or 'the config'
    else:
        if not os.path.isfile(config):
            raise FileNotFoundError(f'{config}: config file not found')
        cfg, name = Config.fromfile(config), str(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    scope = cfg.get('default_scope')
    if scope not in SCOPES:
        raise ConfigError(f'{name}: default_scope must be one of {SCOPES} (the library that runs the config), '
                          f'found {scope!r}')
    return cfg
