from .launch import SCOPES, add_common_args, build_runner, load_config, write_json_atomic

__all__ = ['SCOPES', 'add_common_args', 'build_runner', 'load_config', 'write_json_atomic']
