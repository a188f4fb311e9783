"""A plan's ``state_dict`` entries (name → shape), derived from its ops without torch.

The builder (:mod:`~resnetdsl.build_torch`) registers each op's parameters and buffers under the op's module
name; this module lists what that gives, in the built model's order, so that weight compatibility can be told
before anything is built (``resnetdsl diff``). A test checks it against the built model for every preset.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from resnetdsl import plan as P

Shape = tuple[int, ...]
"""A tensor's shape; ``()`` for a scalar (``num_batches_tracked``)."""


def _conv(op: P.Conv) -> Iterator[tuple[str, Shape]]:
    yield "weight", (op.out_channels, op.in_channels // op.groups, op.kernel_size, op.kernel_size)
    if op.bias:
        yield "bias", (op.out_channels,)


def _batch(channels: int, *, tracked: bool = True) -> Iterator[tuple[str, Shape]]:
    for name in ("weight", "bias", "running_mean", "running_var"):
        yield name, (channels,)
    if tracked:
        yield "num_batches_tracked", ()


def _norm(op: P.Norm) -> Iterator[tuple[str, Shape]]:
    if op.kind == "group":
        yield from (("weight", (op.channels,)), ("bias", (op.channels,)))
    else:
        yield from _batch(op.channels, tracked=op.kind == "batch")


def _squeeze_excite(op: P.SqueezeExcite) -> Iterator[tuple[str, Shape]]:
    yield "fc1.weight", (op.reduced_channels, op.channels, 1, 1)
    yield "fc1.bias", (op.reduced_channels,)
    yield "fc2.weight", (op.channels, op.reduced_channels, 1, 1)
    yield "fc2.bias", (op.channels,)


def _linear(op: P.Linear) -> Iterator[tuple[str, Shape]]:
    yield "weight", (op.out_features, op.in_features)
    if op.bias:
        yield "bias", (op.out_features,)


def _none(op: Any) -> Iterator[tuple[str, Shape]]:
    return iter(())


ENTRIES: dict[type, Callable[[Any], Iterator[tuple[str, Shape]]]] = {
    P.Conv: _conv,
    P.Norm: _norm,
    P.NormAct: lambda op: _batch(op.channels),
    P.Act: _none,
    P.Pool: _none,
    P.GlobalPool: _none,
    P.Flatten: _none,
    P.Dropout: _none,
    P.Linear: _linear,
    P.Identity: _none,
    P.PadShortcut: _none,
    P.SqueezeExcite: _squeeze_excite,
    P.EfficientChannelAttn: lambda op: iter((("conv.weight", (1, 1, op.kernel_size)),)),
    P.DropPath: _none,
}
"""Per op type: the (name, shape) of each parameter and buffer its module holds. An op type missing here is a
KeyError, never skipped."""


def _block_ops(plan: P.Plan, block: P.Block) -> Iterator[P.Op]:
    # the builder registers a block's modules in this order (timm's ResNetV2 puts the downsample first)
    if plan.layout == "resnetv2":
        yield from block.shortcut_ops
    yield from block.pre
    yield from block.main
    yield from block.post
    if plan.layout != "resnetv2":
        yield from block.shortcut_ops


def named_ops(plan: P.Plan) -> Iterator[tuple[str, P.Op]]:
    """Every op with its full module path, in the built model's registration order."""
    for op in plan.stem:
        yield op.name, op
    for stage in plan.stages:
        for block in stage.blocks:
            prefix = f"{stage.name}.{block.name}."
            for op in _block_ops(plan, block):
                if block.has_add or op not in block.shortcut_ops:
                    yield prefix + op.name, op
    for op in (*plan.final, *plan.head):
        yield op.name, op


def state_entries(plan: P.Plan) -> dict[str, Shape]:
    """The built model's ``state_dict`` as name → shape, in its order."""
    out: dict[str, Shape] = {}
    for path, op in named_ops(plan):
        for name, shape in ENTRIES[type(op)](op):
            out[f"{path}.{name}"] = shape
    return out


def input_conv_key(plan: P.Plan) -> str | None:
    """The weight of the conv that reads the input (the one :func:`adapt` may change), if any."""
    first = next((op for op in plan.stem if isinstance(op, P.Conv)), None)
    return None if first is None else f"{first.name}.weight"


def classifier_keys(plan: P.Plan) -> frozenset[str]:
    """The classifier's parameters (a Linear ``fc``, or timm ResNetV2's 1×1 conv ``head.fc``)."""
    return frozenset(
        f"{op.name}.{name}"
        for op in plan.head
        if isinstance(op, P.Linear | P.Conv)
        for name, _ in ENTRIES[type(op)](op)
    )
