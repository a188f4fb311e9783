"""A plan's ``state_dict`` entries (name → shape), derived from its ops without torch.

The builder (:mod:`~resnetdsl.build_torch`) registers each op's parameters and buffers under the op's module
name; this module lists what that gives, in the built model's order, so that weight compatibility can be told
before anything is built (``resnetdsl diff``). A test checks it against the built model for every preset.
"""

from __future__ import annotations

from resnetdsl import plan as P
from resnetdsl.ops import describe
from resnetdsl.walk import ops_in_registration_order

Shape = tuple[int, ...]
"""A tensor's shape; ``()`` for a scalar (``num_batches_tracked``)."""


def state_entries(plan: P.Plan) -> dict[str, Shape]:
    """The built model's ``state_dict`` as name → shape, in its order (each op's entries from its description;
    an op type without one is a KeyError, never skipped)."""
    out: dict[str, Shape] = {}
    for path, op in ops_in_registration_order(plan):
        for entry in describe(op).entries(op):
            out[f"{path}.{entry.name}"] = entry.shape
    return out


def _weighted(op: P.Op) -> bool:
    return any(entry.param for entry in describe(op).entries(op))


def input_conv_key(plan: P.Plan) -> str | None:
    """The weight of the layer that reads the input (the one :func:`adapt` may change): the stem's first op with
    parameters, if any."""
    first = next((op for op in plan.stem if _weighted(op)), None)
    return None if first is None else f"{first.name}.weight"


def classifier_keys(plan: P.Plan) -> frozenset[str]:
    """The classifier's parameters: those of the head (a Linear ``fc``, or timm ResNetV2's 1×1 conv ``head.fc``)."""
    return frozenset(f"{op.name}.{e.name}" for op in plan.head for e in describe(op).entries(op) if e.param)
