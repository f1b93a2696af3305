"""The one way the package loads pretrained weights: a strict loader (:func:`load_pretrained`), one adaptation of
the input convolution to the task's bands (:func:`adapt_input_conv`), one state-dict filter per backbone
(:data:`FILTERS`), and the ``StrictPretrained`` initialiser that configs of every library use; the backbones'
``pretrained=`` / ``checkpoint=`` arguments set that initialiser."""
from .filters import FILTERS
from .input_conv import InputBandsError, adapt_input_conv
from .loader import PretrainedMismatchError, load_pretrained, read_state_dict
from .strict_pretrained import StrictPretrainedInit

__all__ = ['FILTERS', 'InputBandsError', 'adapt_input_conv', 'PretrainedMismatchError', 'load_pretrained',
           'read_state_dict', 'StrictPretrainedInit']
