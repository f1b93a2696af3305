"""How a segmentation head's (blended) logits become class probabilities, classes on the first axis.

Each rule works on numpy arrays and on torch tensors alike: ``xp`` is the ``numpy`` or the ``torch`` module, and only
the functions and methods both share are used. The rule is named by the head (``probability_rule``) so that an
exported model's metadata can name it too, and the streaming predictors apply it wherever the logits are (a GPU, or
numpy for an exported ONNX model).
"""
from __future__ import annotations


def sigmoid(x, xp):
    return 1.0 / (1.0 + xp.exp(-x))


def softmax(logits, xp):
    """The softmax over classes of one logit per class."""
    e = xp.exp(logits - xp.amax(logits, 0))
    return e / e.sum(0)


def binary_sigmoid(logits, xp):
    """One sigmoid logit (``out_channels=1``): ``(1 - p, p)``."""
    p = sigmoid(logits[0], xp)
    return xp.concatenate([(1.0 - p)[None], p[None]])


def building_damage(logits, xp):
    """The xView2 head's folded logits (background; one logit per damage grade): ``P(background) = 1 -
    P(building)``, ``P(building) = sigmoid(max grade logit - background logit)`` and ``P(grade k) = P(building) *
    softmax(grades)_k``."""
    grades = logits[1:]
    p_building = sigmoid(xp.amax(grades, 0) - logits[0], xp)
    return xp.concatenate([(1.0 - p_building)[None], p_building[None] * softmax(grades, xp)])


RULES = {'softmax': softmax, 'binary_sigmoid': binary_sigmoid, 'building_damage': building_damage}


def probability_rule(name: str):
    """The rule called ``name`` (a key of :data:`RULES`); an error lists them."""
    if name not in RULES:
        raise ValueError(f'unknown probability rule {name!r}; known: {sorted(RULES)}')
    return RULES[name]
