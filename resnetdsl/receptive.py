"""Backbone facts from the plan alone: each stage's output stride (reduction), dilation and receptive field.

The receptive field is the theoretical one (the input window one output position can see, ignoring the image
border), by the usual recurrence over layers: ``r ← r + (k − 1)·d·j`` and ``j ← j·s`` for a window of kernel
``k``, dilation ``d`` and stride ``s`` (convolutions and pools alike), ``j`` the jump so far, ``r`` starting at 1.
A residual block sees what the wider of its two paths sees. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Iterable

from resnetdsl import plan as P
from resnetdsl.ops import DESCRIPTIONS
from resnetdsl.ops.base import Window
from resnetdsl.records import record
from resnetdsl.walk import Part, Visitor, run_block, work_id


@record
class Field:
    """The window of the input one position of a feature map sees."""

    size: int
    """Receptive field, in input pixels (the same along both axes: kernels are square)."""
    jump: int
    """Input pixels between two neighbouring positions: the reduction (output stride) so far."""
    dilation: int = 1
    """The largest dilation of a convolution on the way."""
    whole: bool = False
    """A global operation (channel attention) came on the way: every position sees the whole input."""

    def through(self, op: P.Op) -> Field:
        """The field after ``op``: its description's window (``r ← r + (k − 1)·d·j``, ``j ← j·s``), nothing
        for a neutral op, the whole input after a global one (channel attention's gate)."""
        description = DESCRIPTIONS[type(op)]  # KeyError: an op type without a description
        reach = description.reach(op)
        if isinstance(reach, Window):
            k, s, d = reach
            return Field(self.size + (k - 1) * d * self.jump, self.jump * s, max(self.dilation, d), self.whole)
        if reach == "global":  # a global op may still stride (a selective kernel conv): the jump follows it
            return Field(self.size, self.jump * description.stride(op), self.dilation, True)
        return self

    def through_all(self, ops: Iterable[P.Op]) -> Field:
        out = self
        for op in ops:
            out = out.through(op)
        return out


class FieldVisitor(Visitor[Field]):
    """The walk's receptive-field rule: each op moves the field, an add takes the wider of the two paths."""

    def op(self, op: P.Op, x: Field, part: Part) -> Field:
        return x.through(op)

    def add(self, main: Field, shortcut: Field) -> Field:
        """A residual block sees what the wider of its two paths sees."""
        if shortcut.jump != main.jump:  # the analyzer rejects such a block; keep the two facts apart here too
            raise ValueError(f"paths of different strides ({main.jump} and {shortcut.jump})")
        return Field(
            max(main.size, shortcut.size),
            main.jump,
            max(main.dilation, shortcut.dilation),
            main.whole or shortcut.whole,
        )


_FIELDS = FieldVisitor()


@record
class FeatureFacts:
    """Where a feature map comes from and what it sees."""

    name: str
    """``stem`` or the stage's module name."""
    channels: int
    reduction: int
    """Input pixels per output position (4 after the ImageNet stem, 32 after the last stage of resnet50)."""
    dilation: int
    """The largest dilation of a convolution up to here."""
    receptive_field: int | None
    """Theoretical receptive field in input pixels; ``None`` after channel attention (SE, ECA), whose gate
    averages the whole map, so that every position sees the whole input."""


def block_field(block: P.Block, x: Field) -> Field:
    """The field after one residual block: the wider of its main path and its shortcut."""
    try:
        return run_block(block, x, _FIELDS)
    except ValueError as exc:
        raise ValueError(f"block {block.name}: {exc}") from None


def feature_facts(plan: P.Plan) -> tuple[FeatureFacts, ...]:
    """Reduction, dilation and receptive field of the stem's output and of every stage's output."""
    x = Field(1, 1).through_all(plan.stem)
    channels = plan.stages[0].in_channels if plan.stages else plan.feature_channels
    out = [FeatureFacts("stem", channels, x.jump, x.dilation, None if x.whole else x.size)]
    effects: dict[tuple[object, ...], Field] = {}
    for st in plan.stages:
        for block in st.blocks:
            x = _after(block, x, effects)
        out.append(FeatureFacts(st.name, st.out_channels, x.jump, x.dilation, None if x.whole else x.size))
    return tuple(out)


def _after(block: P.Block, x: Field, effects: dict[tuple[object, ...], Field]) -> Field:
    """:func:`block_field`, from what the block does to a field of size 0 and jump 1 (found once per distinct
    block): each window adds ``(k − 1)·d`` times the jump and multiplies the jump, and an add takes the larger
    size, so the output's size and jump are the input's plus (times) the jump times what the block adds."""
    key = work_id(block)
    e = effects.get(key)
    if e is None:
        try:
            e = effects[key] = block_field(block, Field(0, 1))
        except ValueError:
            return block_field(block, x)  # the message tells the strides the paths really reach
    return Field(x.size + x.jump * e.size, x.jump * e.jump, max(x.dilation, e.dilation), x.whole or e.whole)
