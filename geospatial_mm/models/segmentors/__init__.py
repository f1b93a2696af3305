from .siamese_encoder_decoder import SiameseEncoderDecoder
from .temporal_encoder_decoder import TemporalEncoderDecoder

__all__ = ['SiameseEncoderDecoder', 'TemporalEncoderDecoder']
