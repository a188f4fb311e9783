"""Channel attention at the end of a residual branch: squeeze-and-excitation and ECA (timm's modules and names).

Both are composite ops: their entries are those of their sub-modules (SE's ``fc1``, ``fc2``; ECA's ``conv``).
They count by the conv rule: SE as its two 1×1 convs on the pooled map (2·C·r MACs), ECA as its 1-D conv (C·k
MACs); their pooling, gating and scaling are not multiply-accumulates of a conv.
"""

from __future__ import annotations

from typing import TypeVar

from resnetdsl import plan as P
from resnetdsl.ops.base import Entry, OpType, Reach, Shape, Tracker, conv_entries, nested
from resnetdsl.vocab import ATTENTION

ATTENTION_FILL = "#fde2cf"

Attn = TypeVar("Attn", P.SqueezeExcite, P.EfficientChannelAttn)


class _ChannelAttention(OpType[Attn]):
    """A gate per channel from the mean of the whole map: keeps the shape, sees the whole input, gives a fresh
    tensor (``x * gate``), drawn on a line of its own."""

    family = "attention"
    fill = ATTENTION_FILL
    line = "own"
    fresh = True

    def in_channels(self, op: Attn) -> int:
        return op.channels

    def reach(self, op: Attn) -> Reach:
        return "global"  # the gate reads the mean of the whole map

    def _saves(self, op: Attn, x: int, t: Tracker, size_out: int, *hidden: int) -> int:
        """Its input, the pooled map (N×C), the hidden sizes' tensors and the gate (N×C); then the output."""
        t.save(x)
        for per_sample in (op.channels, *hidden, op.channels):
            t.save(t.new(per_sample))
        return t.new(size_out)


class SqueezeExciteType(_ChannelAttention[P.SqueezeExcite]):
    op = P.SqueezeExcite
    legend = "SE a→b: squeeze-and-excitation gate on the branch, before the add"

    def block_mark(self, op: P.SqueezeExcite) -> str:
        return "SE"

    def infer(self, op: P.SqueezeExcite, x: Shape) -> tuple[Shape, int, int]:
        # two 1×1 convs with bias on the pooled 1×1 map: C·r MACs each
        c, r = op.channels, op.reduced_channels
        return x, 2 * c * r, r + c

    def entries(self, op: P.SqueezeExcite) -> tuple[Entry, ...]:
        c, r = op.channels, op.reduced_channels
        return nested("fc1", conv_entries(r, c, (1, 1), True)) + nested("fc2", conv_entries(c, r, (1, 1), True))

    def saves(self, op: P.SqueezeExcite, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        return self._saves(op, x, t, size_out, op.reduced_channels)  # fc1's output (the ReLU works in place)

    def torch_name(self, op: P.SqueezeExcite) -> str:
        return f"{ATTENTION['se']} {op.channels}→{op.reduced_channels}"

    def label(self, op: P.SqueezeExcite) -> str:
        return f"SE {op.channels}→{op.reduced_channels}"


class EfficientChannelAttnType(_ChannelAttention[P.EfficientChannelAttn]):
    op = P.EfficientChannelAttn
    legend = "ECA k: efficient channel attention gate on the branch, before the add"

    def block_mark(self, op: P.EfficientChannelAttn) -> str:
        return "ECA"

    def infer(self, op: P.EfficientChannelAttn, x: Shape) -> tuple[Shape, int, int]:
        # one bias-free 1-D conv of k taps over the C pooled values (zero-padded): C outputs of k MACs each
        return x, op.channels * op.kernel_size, op.channels

    def entries(self, op: P.EfficientChannelAttn) -> tuple[Entry, ...]:
        return nested("conv", conv_entries(1, 1, (op.kernel_size,), False))

    def saves(self, op: P.EfficientChannelAttn, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        return self._saves(op, x, t, size_out)

    def torch_name(self, op: P.EfficientChannelAttn) -> str:
        return f"{ATTENTION['eca']} k{op.kernel_size}"

    def label(self, op: P.EfficientChannelAttn) -> str:
        return f"ECA k{op.kernel_size}"


DESCRIPTIONS = (SqueezeExciteType(), EfficientChannelAttnType())
