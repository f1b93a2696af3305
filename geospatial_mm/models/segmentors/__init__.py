from .temporal_encoder_decoder import TemporalEncoderDecoder

__all__ = ['TemporalEncoderDecoder']
