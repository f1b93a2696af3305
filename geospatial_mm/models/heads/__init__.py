from .siamese_change_head import SiameseChangeHead

__all__ = ['SiameseChangeHead']
