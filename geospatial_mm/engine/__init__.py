from .launch import add_common_args, build_runner, run_config

__all__ = ['add_common_args', 'build_runner', 'run_config']
