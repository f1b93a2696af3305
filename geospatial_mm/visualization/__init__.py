from .preview import colorize, read_decimated, rgb_composite, save_preview

__all__ = ['colorize', 'read_decimated', 'rgb_composite', 'save_preview']
