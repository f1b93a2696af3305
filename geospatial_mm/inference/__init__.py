from .blending import ramp_1d, tile_weights

__all__ = ['ramp_1d', 'tile_weights']
