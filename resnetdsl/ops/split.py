"""Split attention (issue 18): ResNeSt's 3×3, timm's ``SplitAttn``, one composite op.

Its entries are those of its sub-modules (``conv``, ``bn0``, ``fc1``, ``bn1``, ``fc2``), and it counts by the conv
rule: the grouped 3×3 conv on the map, ``fc1`` and ``fc2`` on the pooled 1×1 map (their outputs are among the
activations too); the sums over splits, the mean, the softmax and the weighting are no multiply-accumulates of a
conv. Every output position reads the whole map through the gate (``global``). A training step keeps what
autograd keeps of its layers (the conv's input, the norms' inputs and statistics, the activations' rule, the
pooled map, ``fc1``'s output, the softmax or sigmoid output, and the splits the gate weights).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from resnetdsl import plan as P
from resnetdsl.ops.act import act_words
from resnetdsl.ops.attention import ATTENTION_FILL, GatedConvType
from resnetdsl.ops.base import (
    Entry,
    Shape,
    Tracker,
    batch_norm_entries,
    conv_entries,
    nested,
    out_len,
    save_stats,
    stride_text,
)
from resnetdsl.ops.conv import ConvType
from resnetdsl.vocab import ACTIVATIONS

if TYPE_CHECKING:
    from resnetdsl.ops.branches import Branches


def split_convs(op: P.SplitAttention) -> tuple[tuple[str, int, int, int, int], ...]:
    """Its three convs (``conv``, ``fc1``, ``fc2``): name, output channels, input channels per group, kernel,
    bias (1) or not (0)."""
    mid, g = op.mid_channels, op.groups
    return (
        ("conv", mid, op.in_channels // (g * op.radix), 3, 0),
        ("fc1", op.attn_channels, op.out_channels // g, 1, 1),
        ("fc2", mid, op.attn_channels // g, 1, 1),
    )


class SplitAttentionType(GatedConvType[P.SplitAttention]):
    """timm's ``SplitAttn``: its 3×3 conv starts a diagram line, as a conv's does."""

    op = P.SplitAttention
    line = "start"
    legend = (
        "split-attn r×g: 3×3 conv into r splits per group of g (radix r, cardinality g), weighted by a softmax "
        "over the splits from their pooled sum (timm's SplitAttn)"
    )

    def infer(self, op: P.SplitAttention, x: Shape) -> tuple[Shape, int, int]:
        _, h, w = x
        d, s = op.dilation, op.stride
        ho, wo = out_len(h, 3, s, d, d), out_len(w, 3, s, d, d)
        n = op.mid_channels * ho * wo
        macs = n * (op.in_channels // (op.groups * op.radix)) * 9
        macs += op.attn_channels * (op.out_channels // op.groups) + op.mid_channels * (op.attn_channels // op.groups)
        return (op.out_channels, ho, wo), macs, n + op.attn_channels + op.mid_channels

    def entries(self, op: P.SplitAttention) -> tuple[Entry, ...]:
        out: tuple[Entry, ...] = ()
        norms = {"conv": "bn0", "fc1": "bn1"}
        for name, cout, cin, k, bias in split_convs(op):
            out += nested(name, conv_entries(cout, cin, (k, k), bool(bias)))
            if op.norm == "batch" and name in norms:
                out += nested(norms[name], batch_norm_entries(cout))
        return out

    def _norm_act(self, op: P.SplitAttention, x: int, t: Tracker, size: int, channels: int) -> int:
        """bn → act on a tensor of ``size`` elements per sample: the norm's input and statistics, the act's rule."""
        if op.norm == "batch":
            t.save(x)
            save_stats(t, channels)
            x = t.new(size)
        if ACTIVATIONS[op.act].backward_reads == "output":  # in place: its output is the input's storage
            t.save(x)
        else:  # the in-place form saves a copy of its input (GELU, not in place, its input itself)
            t.save(t.new(size) if ACTIVATIONS[op.act].inplace else x)
            if not ACTIVATIONS[op.act].inplace:
                return t.new(size)
        return x

    def saves(self, op: P.SplitAttention, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        mid, attn = op.mid_channels, op.attn_channels
        t.save(x)  # the conv's input
        split = self._norm_act(op, t.new(size_out * op.radix), t, size_out * op.radix, mid)
        pooled = t.new(op.out_channels)  # the sum over splits needs only sizes, so does the mean
        t.save(pooled)  # fc1's input
        hidden = self._norm_act(op, t.new(attn), t, attn, attn)
        t.save(hidden)  # fc2's input
        gate = t.new(mid)
        t.save(gate)  # softmax and sigmoid keep their output
        t.save(split)  # the weighting multiplies the splits by the gate (the softmax's output is contiguous)
        return t.new(size_out)

    def torch_name(self, op: P.SplitAttention) -> str:
        return f"SplitAttn 3×3{'/' + str(op.stride) if op.stride > 1 else ''} r{op.radix} g{op.groups}"

    def branches(self, op: P.SplitAttention, x: Shape) -> Branches:
        """As the paper draws a cardinal group: one grouped 3×3 conv makes the ``radix`` splits, their sum is
        pooled and squeezed by ``fc1``, ``fc2`` gives a weight per split and channel (a softmax over the splits;
        a sigmoid for radix 1), and the weighted splits are summed."""
        from resnetdsl.ops.branches import IN, Branches, Edge, Node, weighted_sum  # only diagrams read it

        (c, ho, wo), _, _ = self.infer(op, x)
        r, g, a, mid = op.radix, op.groups, op.attn_channels, op.mid_channels
        act = act_words(op.act, op.negative_slope)
        bn = ", BN" if op.norm == "batch" else ""
        dil = f", dil {op.dilation}" if op.dilation != 1 else ""
        conv = f"3×3 conv, {mid}{stride_text(op.stride)}{dil}, g{g * r}{bn}, {act}"
        gate = f"softmax over the {r} splits" if r > 1 else "sigmoid"
        if r > 1 and g > 1:
            gate += f" of each of the {g} groups"
        nodes = [Node("conv", conv, (mid, ho, wo), "conv", ConvType.fill)]
        edges = [Edge(IN, "conv")]
        for k in range(r):
            nodes.append(Node(f"s{k}", f"split {k + 1}", (c, ho, wo), kind="split"))
            edges.append(Edge("conv", f"s{k}"))
        grouped = f", g{g}" if g > 1 else ""
        tail = weighted_sum(
            tuple(f"s{k}" for k in range(r)),
            (c, ho, wo),
            Node("fc1", f"1×1 conv, {a}{grouped}{bn}, {act}", (a, 1, 1), "fc1", ATTENTION_FILL),
            Node("fc2", f"1×1 conv, {mid}{grouped}", (mid, 1, 1), "fc2", ATTENTION_FILL),
            Node("gate", gate, (mid, 1, 1), fill=ATTENTION_FILL),
            "× weights, +" if r > 1 else "× gate",
        )
        return Branches(
            (*nodes, *tail[0]),
            (*edges, *tail[1]),
            tuple((f"split {k + 1}: {c} ch", "#ffffff") for k in range(r)),
            f"split-attn: {conv}",
            f"+ → pooled, squeezed to {a} ch → {gate} → weighted sum",
        )

    def label(self, op: P.SplitAttention) -> str:
        dil = f", dil {op.dilation}" if op.dilation != 1 else ""
        return f"split-attn {op.radix}×{op.groups} 3×3, {op.out_channels}{stride_text(op.stride)}{dil}"


DESCRIPTIONS = (SplitAttentionType(),)
