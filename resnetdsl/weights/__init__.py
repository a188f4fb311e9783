"""Weights: which tensors of one network fit another (:mod:`.fit`, from shapes alone, no torch), and loading a
checkpoint into a built model by that rule (:mod:`.checkpoint`, imports torch).

Importing this package does not import torch: ``predict`` and ``match_state`` serve ``resnetdsl diff``; the names
of :mod:`.checkpoint` (``load_weights``, ``WeightError``, ``read_state``, ``adapt_input_conv``) are imported on
first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from resnetdsl.weights.fit import (
    BASE_CHANNELS,
    STATUSES,
    Entry,
    Status,
    WeightReport,
    canonical,
    match_state,
    predict,
)

if TYPE_CHECKING:
    from resnetdsl.weights.checkpoint import WeightError, adapt_input_conv, load_weights, read_state

_FROM_CHECKPOINT = frozenset({"WeightError", "adapt_input_conv", "load_weights", "read_state"})


def __getattr__(name: str) -> Any:
    if name in _FROM_CHECKPOINT:
        from resnetdsl.weights import checkpoint

        return getattr(checkpoint, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BASE_CHANNELS",
    "STATUSES",
    "Entry",
    "Status",
    "WeightError",
    "WeightReport",
    "adapt_input_conv",
    "canonical",
    "load_weights",
    "match_state",
    "predict",
    "read_state",
]
