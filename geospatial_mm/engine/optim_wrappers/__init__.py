"""Optimizer wrappers for mmengine's runner (registered into mmengine's root ``OPTIM_WRAPPERS``)."""
