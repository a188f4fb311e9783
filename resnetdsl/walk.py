"""The one walk of a plan (torch.fx's ``Interpreter`` idea): the order of a block and of the network, written once.

A block runs ``pre`` → ``main`` → ``shortcut`` (reading ``pre``'s output or the block input) → add → ``post``;
the network runs stem → stages (their blocks) → final → head. :func:`run_plan` and :func:`run_block` carry a
value of the caller's choosing through that order and ask a :class:`Visitor` what each op (and each fork and
add) makes of it: a shape for the analyzer, a tensor id for the memory model, a receptive field, a line of
source for the exporter. Backends supply only what they do per op; no module but this one reads a block's
parts.

Two listings of the ops go with it: :func:`ops_in_forward_order` (the order a forward pass runs them) and
:func:`ops_in_registration_order` (the order the builder registers their modules, hence the ``state_dict``'s:
timm's ResNetV2 registers a block's shortcut first).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, Literal, TypeVar

from resnetdsl import plan as P
from resnetdsl.ops import DESCRIPTIONS

T = TypeVar("T")

Part = Literal["stem", "pre", "main", "shortcut", "post", "final", "head"]
"""Where an op sits: a part of the network (``stem``, ``final``, ``head``) or of a block."""
BlockPart = Literal["pre", "main", "shortcut", "post"]

FORWARD: tuple[BlockPart, ...] = ("pre", "main", "shortcut", "post")
"""A block's parts in the order a forward pass runs them (the shortcut before the add that ends ``main``)."""

_REGISTRATION: dict[str, tuple[BlockPart, ...]] = {
    "resnet": ("pre", "main", "post", "shortcut"),  # torchvision: the downsample is the block's last child
    "resnetv2": ("shortcut", "pre", "main", "post"),  # timm's ResNetV2: the downsample first
    # RegNet (issue 19)
    "regnet": ("pre", "main", "post", "shortcut"),  # timm's RegNet: conv1 … conv3, act3, downsample
    "tv_regnet": ("shortcut", "pre", "main", "post"),  # torchvision's ResBottleneckBlock: proj, f, activation
    "senet": ("pre", "main", "post", "shortcut"),  # timm's legacy SENets: the downsample last, as torchvision
}


class Visitor(Generic[T]):
    """What a backend does during a walk. Override :meth:`op`; the hooks default to passing the value on.

    ``block`` runs one block (override it to wrap or skip a block: a checkpointed stage's memory), ``fork`` is
    called where one value feeds both the residual branch and the shortcut, ``add`` where they meet, and
    ``branch_end`` at the end of the residual branch (``main``), whether an add follows or not.
    """

    def op(self, op: P.Op, x: T, part: Part) -> T:
        raise NotImplementedError

    def block(self, stage: P.Stage, block: P.Block, x: T) -> T:
        return run_block(block, x, self)

    def fork(self, x: T) -> tuple[T, T]:
        """The value for the residual branch and the value for the shortcut."""
        return x, x

    def branch_end(self, x: T) -> T:
        return x

    def add(self, main: T, shortcut: T) -> T:
        return main

    def stage_end(self, stage: P.Stage, x: T) -> None:
        """After the last block of ``stage``."""


def run_ops(ops: tuple[P.Op, ...], x: T, visitor: Visitor[T], part: Part) -> T:
    for op in ops:
        x = visitor.op(op, x, part)
    return x


def run_block(block: P.Block, x: T, visitor: Visitor[T]) -> T:
    """``post(main(pre(x)) + shortcut(s))``, ``s`` being ``pre(x)`` when the shortcut reads the pre-activated
    input and ``x`` otherwise; without a shortcut, ``post(main(pre(x)))``."""
    adds = block.has_add
    s = x
    if adds and not block.shortcut_from_pre:
        x, s = visitor.fork(x)
    p = run_ops(block.pre, x, visitor, "pre")
    if adds and block.shortcut_from_pre:
        p, s = visitor.fork(p)
    out = visitor.branch_end(run_ops(block.main, p, visitor, "main"))
    if adds:
        out = visitor.add(out, run_ops(block.shortcut_ops, s, visitor, "shortcut"))
    return run_ops(block.post, out, visitor, "post")


def work_key(block: P.Block) -> tuple[object, ...]:
    """What ``block`` computes, without its name: two blocks with equal keys run the same ops in the same order
    (a stage's blocks after the first usually do), so a backend may reuse what it made of one for the other."""
    return (block.kind, block.shortcut, block.shortcut_from_pre, block.pre, block.main, block.shortcut_ops, block.post)


def work_id(block: P.Block) -> tuple[object, ...]:
    """:func:`work_key` by the identity of the block's op tuples, cheap to hash: blocks with equal ids have equal
    work keys (lowering shares the op tuples among a stage's blocks alike), not always the reverse. Valid as a key
    only while the block's plan is alive, as during a walk of it."""
    return (
        id(block.pre),
        id(block.main),
        id(block.shortcut_ops),
        id(block.post),
        block.kind,
        block.shortcut,
        block.shortcut_from_pre,
    )


def run_plan(plan: P.Plan, x: T, visitor: Visitor[T]) -> T:
    """Stem → every stage's blocks → final → head."""
    x = run_ops(plan.stem, x, visitor, "stem")
    for stage in plan.stages:
        for block in stage.blocks:
            x = visitor.block(stage, block, x)
        visitor.stage_end(stage, x)
    x = run_ops(plan.final, x, visitor, "final")
    return run_ops(plan.head, x, visitor, "head")


# --- listings ---------------------------------------------------------------------------------------------


def part_ops(block: P.Block, part: BlockPart) -> tuple[P.Op, ...]:
    """The ops of one part of ``block`` (``shortcut``: none when the block has no shortcut)."""
    if part == "pre":
        return block.pre
    if part == "main":
        return block.main
    if part == "post":
        return block.post
    return block.shortcut_ops if block.has_add else ()


def block_ops(block: P.Block) -> Iterator[tuple[BlockPart, P.Op]]:
    """Every op of ``block`` with its part, in forward order."""
    for part in FORWARD:
        for op in part_ops(block, part):
            yield part, op


def registration_order(layout: str) -> tuple[BlockPart, ...]:
    """The order in which the builder registers a block's parts (its ``state_dict`` order)."""
    return _REGISTRATION[layout]


def ops_in_forward_order(plan: P.Plan) -> Iterator[tuple[str, P.Op]]:
    """Every op with its full module path, in the order a forward pass runs them (stem, blocks, final, head)."""
    for op in plan.stem:
        yield op.name, op
    for stage in plan.stages:
        for block in stage.blocks:
            prefix = f"{stage.name}.{block.name}."
            for _, op in block_ops(block):
                yield prefix + op.name, op
    for op in (*plan.final, *plan.head):
        yield op.name, op


def ops_in_registration_order(plan: P.Plan) -> Iterator[tuple[str, P.Op]]:
    """Every op with its full module path, in the order the built model registers their modules."""
    order = registration_order(plan.layout)
    for op in plan.stem:
        yield op.name, op
    for stage in plan.stages:
        for block in stage.blocks:
            prefix = f"{stage.name}.{block.name}."
            for part in order:
                for op in part_ops(block, part):
                    # a composite whose modules sit beside it on the block (Res2Net, issue 18): its parts
                    for sub in DESCRIPTIONS[type(op)].beside(op) or (op,):
                        yield prefix + sub.name, sub
    for op in (*plan.final, *plan.head):
        yield op.name, op


# --- facts of a block ---------------------------------------------------------------------------------------


def shortcut_source(block: P.Block) -> Literal["pre", "input"] | None:
    """What the shortcut reads: the pre-activated input (``pre``), the block input, or nothing (no shortcut)."""
    if not block.has_add:
        return None
    return "pre" if block.shortcut_from_pre else "input"


def add_in_place(block: P.Block) -> bool:
    """Whether the residual add may write into the branch's output: the branch's last op gives a fresh tensor
    (ops that hand their input on in eval mode, such as drop path, leave it to the op before them)."""
    for op in reversed(block.main):
        fresh = DESCRIPTIONS[type(op)].fresh
        if fresh is not None:
            return fresh
    return False


def is_pre_activated(block: P.Block) -> bool:
    """The block runs norm + act on its input before the branch (a pre-activation block)."""
    return bool(block.pre)
