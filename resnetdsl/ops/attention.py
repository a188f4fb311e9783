"""Channel attention at the end of a residual branch: squeeze-and-excitation and ECA (timm's modules and names).

Both are composite ops: their entries are those of their sub-modules (SE's ``fc1``, ``fc2``; ECA's ``conv``).
They count by the conv rule: SE as its two 1×1 convs on the pooled map (2·C·r MACs), ECA as its 1-D conv (C·k
MACs); their pooling, gating and scaling are not multiply-accumulates of a conv.
"""

from __future__ import annotations

from typing import ClassVar, Protocol, TypeVar

from resnetdsl import plan as P
from resnetdsl.ops.base import Entry, Line, OpT, OpType, Shape, Tracker, conv_entries, nested, save_new
from resnetdsl.vocab import ATTENTION

ATTENTION_FILL = "#fde2cf"


class _Reduced(Protocol):
    @property
    def channels(self) -> int: ...
    @property
    def reduced_channels(self) -> int: ...


Reducing = TypeVar("Reducing", bound=_Reduced)
"""An attention op with ``channels`` and ``reduced_channels`` (SE, CBAM, global context)."""


class AttentionType(OpType[OpT]):
    """Attention on a block's map (SE, ECA, CBAM, global context, …): a gate from the whole map (its receptive
    field is global) on the op's ``channels``, a fresh tensor (``x * gate``), drawn on a line of its own."""

    family = "attention"
    fill = ATTENTION_FILL
    line: ClassVar[Line] = "own"
    fresh = True
    whole_map = True
    channels_field = "channels"


class ReducingAttention(AttentionType[Reducing]):
    """Attention through a bottleneck of ``reduced_channels`` (SE, CBAM, global context): summaries name it by
    its torch module (:data:`~resnetdsl.vocab.ATTENTION`), diagrams by the kind's initials (``SE``), both
    ``C→r``."""

    attention_kind: ClassVar[str]
    """Its key in :data:`~resnetdsl.vocab.ATTENTION` (``se``)."""

    def torch_name(self, op: Reducing) -> str:
        return f"{ATTENTION[self.attention_kind]} {op.channels}→{op.reduced_channels}"

    def label(self, op: Reducing) -> str:
        return f"{self.attention_kind.upper()} {op.channels}→{op.reduced_channels}"


class GatedConvType(AttentionType[OpT]):
    """A conv whose outputs a gate from the whole map mixes (split attention, a selective kernel): it reads the
    op's ``in_channels`` and strides by its ``stride``."""

    channels_field = "in_channels"
    strided = True


def gate_saves(x: int, t: Tracker, size_out: int, channels: int, *hidden: int) -> int:
    """A channel gate's training memory: its input, the pooled map (N×C), the hidden sizes' tensors and the gate
    (N×C); then the output."""
    t.save(x)
    save_new(t, channels, *hidden, channels)
    return t.new(size_out)


class SqueezeExciteType(ReducingAttention[P.SqueezeExcite]):
    """timm's ``SEModule``: mean → 1×1 conv → ReLU → 1×1 conv → sigmoid, times the map."""

    op = P.SqueezeExcite
    legend = "SE a→b: squeeze-and-excitation gate on the branch, before the add"
    attention_kind = "se"
    mark = "SE"

    def infer(self, op: P.SqueezeExcite, x: Shape) -> tuple[Shape, int, int]:
        # two 1×1 convs with bias on the pooled 1×1 map: C·r MACs each
        c, r = op.channels, op.reduced_channels
        return x, 2 * c * r, r + c

    def entries(self, op: P.SqueezeExcite) -> tuple[Entry, ...]:
        c, r = op.channels, op.reduced_channels
        return nested("fc1", conv_entries(r, c, (1, 1), True)) + nested("fc2", conv_entries(c, r, (1, 1), True))

    def saves(self, op: P.SqueezeExcite, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        return gate_saves(x, t, size_out, op.channels, op.reduced_channels)  # fc1's output (the ReLU: in place)


class EfficientChannelAttnType(AttentionType[P.EfficientChannelAttn]):
    """timm's ``EcaModule``: the pooled channels through one 1-D conv of k taps, a sigmoid, times the map."""

    op = P.EfficientChannelAttn
    legend = "ECA k: efficient channel attention gate on the branch, before the add"
    mark = "ECA"

    def infer(self, op: P.EfficientChannelAttn, x: Shape) -> tuple[Shape, int, int]:
        # one bias-free 1-D conv of k taps over the C pooled values (zero-padded): C outputs of k MACs each
        return x, op.channels * op.kernel_size, op.channels

    def entries(self, op: P.EfficientChannelAttn) -> tuple[Entry, ...]:
        return nested("conv", conv_entries(1, 1, (op.kernel_size,), False))

    def saves(self, op: P.EfficientChannelAttn, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        return gate_saves(x, t, size_out, op.channels)

    def torch_name(self, op: P.EfficientChannelAttn) -> str:
        return f"{ATTENTION['eca']} k{op.kernel_size}"

    def label(self, op: P.EfficientChannelAttn) -> str:
        return f"ECA k{op.kernel_size}"


DESCRIPTIONS = (SqueezeExciteType(), EfficientChannelAttnType())
