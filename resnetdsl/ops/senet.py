"""More attention kinds timm's ``create_attn`` puts on a ResNet (family senet, issue 18): CBAM and global context.

Both are composite ops at the end of a residual branch, keeping the shape, named and laid out as timm's modules
(``channel.fc1``, ``spatial.conv.bn``; ``conv_attn``, ``mlp_scale.norm``). They count by the conv rule, as
``torch.utils.flop_counter`` does: CBAM's channel MLP runs twice (on the mean and on the max: 4·C·r MACs) and its
spatial conv reads two maps into one (k²·2·H·W); global context's attention conv (C·H·W), the matrix product
that pools the map with it (C·H·W) and its scale MLP (2·C·r). Their norms, softmax, gates and scaling are no
multiply-accumulates of a conv. Both gates read the whole map, so their receptive field is global.
"""

from __future__ import annotations

from resnetdsl import plan as P
from resnetdsl.ops.attention import ReducingAttention
from resnetdsl.ops.base import (
    STAT_BYTES,
    Entry,
    FoldRole,
    OpType,
    Shape,
    Tracker,
    batch_norm_entries,
    conv_entries,
    nested,
    save_new,
    save_stats,
)


class CbamType(ReducingAttention[P.Cbam]):
    """timm's ``CbamModule``: a channel gate (mean and max through one MLP), then a spatial gate (a k×k conv
    over the channels' mean and max)."""

    op = P.Cbam
    attention_kind = "cbam"
    legend = "CBAM a→b: channel gate (mean and max through one MLP) then spatial gate, before the add"

    def infer(self, op: P.Cbam, x: Shape) -> tuple[Shape, int, int]:
        c, r, k = op.channels, op.reduced_channels, op.spatial_kernel
        hw = x[1] * x[2]
        return x, 4 * c * r + 2 * k * k * hw, 2 * (r + c) + hw

    def entries(self, op: P.Cbam) -> tuple[Entry, ...]:
        c, r, k = op.channels, op.reduced_channels, op.spatial_kernel
        fc = nested("channel.fc1", conv_entries(r, c, (1, 1), False))
        fc += nested("channel.fc2", conv_entries(c, r, (1, 1), False))
        spatial = nested("spatial.conv.conv", conv_entries(1, 2, (k, k), False))
        return fc + spatial + nested("spatial.conv.bn", batch_norm_entries(1))

    def saves(self, op: P.Cbam, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        c, r = op.channels, op.reduced_channels
        hw = max(size_in // c, 1)
        t.save(x)
        save_new(t, c, c, r, r, c)  # the pooled maps, the hidden widths, the channel gate
        save_new(t, size_in)  # the channel-gated map the spatial gate scales
        save_new(t, hw, 2 * hw, hw)  # the max over channels, the conv's input (mean, max), its output
        save_stats(t, 1)  # the one-channel batch norm's mean and inverse std
        save_new(t, hw)  # the spatial gate
        return t.new(size_out)


class GlobalContextType(ReducingAttention[P.GlobalContext]):
    """timm's ``GlobalContext``: the map pooled by its own attention, through a layer-normed MLP, scales it."""

    op = P.GlobalContext
    attention_kind = "gc"
    legend = "GC a→b: global context (attention-pooled map through an MLP) gate on the branch, before the add"

    def infer(self, op: P.GlobalContext, x: Shape) -> tuple[Shape, int, int]:
        c, r = op.channels, op.reduced_channels
        hw = x[1] * x[2]
        return x, 2 * c * hw + 2 * c * r, hw + 2 * r + c

    def entries(self, op: P.GlobalContext) -> tuple[Entry, ...]:
        c, r = op.channels, op.reduced_channels
        out = nested("conv_attn", conv_entries(1, c, (1, 1), True))
        out += nested("mlp_scale.fc1", conv_entries(r, c, (1, 1), True))
        out += (Entry("mlp_scale.norm.weight", (r,), True), Entry("mlp_scale.norm.bias", (r,), True))
        return out + nested("mlp_scale.fc2", conv_entries(c, r, (1, 1), True))

    def saves(self, op: P.GlobalContext, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        c, r = op.channels, op.reduced_channels
        hw = max(size_in // c, 1)
        t.save(x)
        save_new(t, hw, c, r, r, c)  # the softmax map, the context, the MLP's hidden widths, the gate
        t.save(t.new(1, STAT_BYTES))  # the layer norm's mean and inverse std (one per sample at 1×1)
        t.save(t.new(1, STAT_BYTES))
        return t.new(size_out)


class DropBlockType(OpType[P.DropBlock]):
    """timm's DropBlock2d: the identity in eval mode (the inference pass drops it, the op before it decides whether
    the output is fresh); a training step keeps its one-channel mask."""

    op = P.DropBlock
    family = "misc"
    fresh = None

    def saves(self, op: P.DropBlock, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        if op.p <= 0:
            return x
        t.save(t.new(max(size_in // op.channels, 1)))  # the keep mask, shared by the channels
        return t.new(size_out)

    def fold_role(self, op: P.DropBlock) -> FoldRole:
        return "drop"

    def torch_name(self, op: P.DropBlock) -> str:
        return f"DropBlock2d {op.block_size}×{op.block_size}"

    def label(self, op: P.DropBlock) -> str:
        return f"DropBlock {op.p:g}, {op.block_size}×{op.block_size}"


DESCRIPTIONS = (CbamType(), GlobalContextType(), DropBlockType())
