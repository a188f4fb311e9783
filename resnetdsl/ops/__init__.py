"""The description of every plan op type, keyed by its plan class: what each torch-free backend knows about it.

One module per family (:mod:`.conv`, :mod:`.norm`, :mod:`.act`, :mod:`.pool`, :mod:`.attention`,
:mod:`.shortcut`, :mod:`.misc`) defines its :class:`~resnetdsl.ops.base.OpType` subclasses; this module
registers them in :data:`DESCRIPTIONS`. The analyzer, memory model, receptive field, state_dict listing, summary,
diagrams and the inference pass read facts about an op only from here; :func:`describe` of an op type without a
description raises :class:`KeyError` naming it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from resnetdsl.ops import (  # bit, sk: issue 18 families  # family: anti-aliasing and split attention (issue 18)
    act,
    antialias,
    attention,
    bit,
    conv,
    misc,
    norm,
    pool,
    shortcut,
    sk,
    split,
)
from resnetdsl.ops import res2net as _res2net  # family: Res2Net (issue 18)
from resnetdsl.ops import senet as _senet  # family senet (issue 18)
from resnetdsl.ops.base import Description, Entry, OpType, Shape, Window, numel

__all__ = ["DESCRIPTIONS", "Description", "Entry", "OpType", "Shape", "Window", "counts", "describe", "register"]

DESCRIPTIONS: dict[type, Description] = {}
"""Plan op class → its description, in the order the families list them."""


def register(description: Description) -> None:
    """Add the description of a new op type (each op class once)."""
    if description.op in DESCRIPTIONS:
        raise ValueError(f"op type {description.op.__name__} is described twice")
    DESCRIPTIONS[description.op] = description


for _family in (conv, norm, act, pool, attention, shortcut, misc, sk, bit, _senet, antialias, split, _res2net):
    for _description in _family.DESCRIPTIONS:
        register(_description)


def describe(op: Any) -> Description:
    """The description of ``op``'s type.

    Raises:
        KeyError: a plan op type without a description.
    """
    try:
        return DESCRIPTIONS[type(op)]
    except KeyError:
        raise KeyError(f"no description of plan op type {type(op).__name__} (resnetdsl.ops)") from None


@lru_cache(maxsize=4096)
def counts(op: Any) -> tuple[int, int, int]:
    """Parameters, buffer elements and parameter tensors of ``op``, from its state_dict entries (cached: the
    ops of a deep network repeat)."""
    params = buffers = tensors = 0
    for entry in describe(op).entries(op):
        n = numel(entry.shape)
        if entry.param:
            params += n
            tensors += 1
        else:
            buffers += n
    return params, buffers, tensors
