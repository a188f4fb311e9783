"""Backbone facts from the plan alone: each stage's output stride (reduction), dilation and receptive field.

The receptive field is the theoretical one (the input window one output position can see, ignoring the image
border), by the usual recurrence over layers: ``r ← r + (k − 1)·d·j`` and ``j ← j·s`` for a window of kernel
``k``, dilation ``d`` and stride ``s`` (convolutions and pools alike), ``j`` the jump so far, ``r`` starting at 1.
A residual block sees what the wider of its two paths sees. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from resnetdsl import plan as P

_NEUTRAL = (P.Norm, P.NormAct, P.Act, P.Identity, P.Dropout, P.DropPath)
_GLOBAL = (P.SqueezeExcite, P.EfficientChannelAttn)
"""Channel attention gates every position by the mean over the whole map: from there on, each position sees
the whole input."""
"""Ops that keep the geometry (a global pool or the head's ops have no receptive field: they see everything)."""


@dataclass(frozen=True, slots=True)
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
        """The field after ``op``."""
        if isinstance(op, P.Conv | P.Pool):
            d = op.dilation if isinstance(op, P.Conv) else 1
            size = self.size + (op.kernel_size - 1) * d * self.jump
            return Field(size, self.jump * op.stride, max(self.dilation, d), self.whole)
        if isinstance(op, P.PadShortcut):
            return Field(self.size, self.jump * op.stride, self.dilation, self.whole)
        if isinstance(op, _GLOBAL):
            return Field(self.size, self.jump, self.dilation, True)
        if isinstance(op, _NEUTRAL):
            return self
        raise TypeError(f"receptive field: unknown plan op {type(op).__name__}")

    def through_all(self, ops: Iterable[P.Op]) -> Field:
        out = self
        for op in ops:
            out = out.through(op)
        return out


@dataclass(frozen=True, slots=True)
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
    main = x.through_all(block.main)
    if block.has_add:
        short = x.through_all(block.shortcut_ops)
        if short.jump != main.jump:  # the analyzer rejects such a block; keep the two facts apart here too
            raise ValueError(f"block {block.name}: paths of different strides ({main.jump} and {short.jump})")
        main = Field(
            max(main.size, short.size), main.jump, max(main.dilation, short.dilation), main.whole or short.whole
        )
    return main.through_all(block.post)


def feature_facts(plan: P.Plan) -> tuple[FeatureFacts, ...]:
    """Reduction, dilation and receptive field of the stem's output and of every stage's output."""
    x = Field(1, 1).through_all(plan.stem)
    channels = plan.stages[0].in_channels if plan.stages else plan.feature_channels
    out = [FeatureFacts("stem", channels, x.jump, x.dilation, None if x.whole else x.size)]
    for st in plan.stages:
        for block in st.blocks:
            x = block_field(block, x)
        out.append(FeatureFacts(st.name, st.out_channels, x.jump, x.dilation, None if x.whole else x.size))
    return tuple(out)
