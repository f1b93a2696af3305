from .launch import SCOPES, add_common_args, build_runner, load_config

__all__ = ['SCOPES', 'add_common_args', 'build_runner', 'load_config']
