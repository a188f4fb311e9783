"""Selective kernels (issue 18, SK family): timm's ``ConvNormAct`` and ``SelectiveKernel``, composite ops.

Both are built from plain ops (:class:`~resnetdsl.plan.Conv`, :class:`~resnetdsl.plan.Norm`,
:class:`~resnetdsl.plan.Act`), whose descriptions give their entries, shapes, costs and memory. A selective kernel
counts by the conv rule: every branch conv and the two 1×1 convs of its attention (``fc_reduce``, ``fc_select``
on the pooled 1×1 map); its sums, mean, softmax and weighting are not multiply-accumulates of a conv. Its
attention reads the mean of the whole map, so its receptive field is ``global``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from resnetdsl import plan as P
from resnetdsl.ops.attention import ATTENTION_FILL, GatedConvType
from resnetdsl.ops.base import (
    Entry,
    FoldRole,
    Shape,
    Tracker,
    Window,
    batch_norm_entries,
    conv_entries,
    nested,
    save_stats,
    stride_text,
)
from resnetdsl.ops.conv import ConvFamily, ConvType
from resnetdsl.ops.norm import NormType

if TYPE_CHECKING:
    from resnetdsl.ops.branches import Branches

_CONV, _NORM = ConvType(), NormType()


def parts(op: P.ConvNormAct) -> tuple[tuple[str, P.Conv | P.Norm | P.Act], ...]:
    """The children of a conv + norm + act, by name (``conv``, ``bn``, ``act``), in order."""
    out: list[tuple[str, P.Conv | P.Norm | P.Act]] = [("conv", op.conv)]
    if op.norm is not None:
        out.append(("bn", op.norm))
    if op.act is not None:
        out.append(("act", op.act))
    return tuple(out)


def attn_parts(op: P.SelectiveKernel) -> tuple[P.Conv, P.Norm, P.Act, P.Conv]:
    """The attention's layers: ``fc_reduce`` (1×1, C·paths → r is the sum over branches first: C → r), its batch
    norm and ReLU (always these: timm's ``SelectiveKernelAttn``), ``fc_select`` (r → C × paths)."""
    c, r, n = op.out_channels, op.attn_channels, len(op.paths)
    return (
        P.Conv("fc_reduce", c, r, 1),
        P.Norm("bn", r),
        P.Act("act"),
        P.Conv("fc_select", r, c * n, 1),
    )


def _cna_infer(op: P.ConvNormAct, x: Shape) -> tuple[Shape, int, int]:
    return _CONV.infer(op.conv, x)  # the norm and the act keep the shape and count nothing


def _cna_entries(op: P.ConvNormAct) -> tuple[Entry, ...]:
    out = nested("conv", _CONV.entries(op.conv))
    if op.norm is not None:
        out += nested("bn", _NORM.entries(op.norm))
    return out


def _cna_saves(op: P.ConvNormAct, x: int, t: Tracker, size_in: int, size_out: int) -> int:
    from resnetdsl.ops import describe

    x = _CONV.saves(op.conv, x, t, size_in, size_out)
    for _, sub in parts(op)[1:]:
        x = describe(sub).saves(sub, x, t, size_out, size_out)
    return x


def _folds(prefix: str, op: P.ConvNormAct) -> tuple[tuple[str, str], ...]:
    if op.norm is None or op.norm.kind == "group":
        return ()
    return ((f"{prefix}conv", f"{prefix}bn"),)


class ConvNormActType(ConvFamily[P.ConvNormAct]):
    op = P.ConvNormAct

    def infer(self, op: P.ConvNormAct, x: Shape) -> tuple[Shape, int, int]:
        return _cna_infer(op, x)

    def entries(self, op: P.ConvNormAct) -> tuple[Entry, ...]:
        return _cna_entries(op)

    def in_channels(self, op: P.ConvNormAct) -> int:
        return op.conv.in_channels

    def stride(self, op: P.ConvNormAct) -> int:
        return op.conv.stride

    def reach(self, op: P.ConvNormAct) -> Window:
        return _CONV.reach(op.conv)

    def saves(self, op: P.ConvNormAct, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        return _cna_saves(op, x, t, size_in, size_out)

    def fold_role(self, op: P.ConvNormAct) -> FoldRole:
        return "inner"

    def inner_folds(self, op: P.ConvNormAct) -> tuple[tuple[str, str], ...]:
        # its own conv takes its norm (batch or frozen batch norm); a group norm stays
        return _folds("", op)

    def torch_name(self, op: P.ConvNormAct) -> str:
        from resnetdsl.ops import describe

        return " + ".join(describe(sub).torch_name(sub) for _, sub in parts(op))

    def label(self, op: P.ConvNormAct) -> str:
        from resnetdsl.ops import describe

        return ", ".join(describe(sub).label(sub) for _, sub in parts(op))


class SelectiveKernelType(GatedConvType[P.SelectiveKernel]):
    """A conv by its family, so that the analyzer's small-map checks apply to it; drawn on a line of its own in
    the attention colour, as the other gates."""

    op = P.SelectiveKernel
    legend = (
        "SK: selective kernel, 3×3 branches of growing dilation (each on a share of the input channels when "
        "split), summed, pooled, squeezed to r channels; a softmax over the branches weighs each channel"
    )
    family = "conv"

    def infer(self, op: P.SelectiveKernel, x: Shape) -> tuple[Shape, int, int]:
        share = (x[0] // len(op.paths) if op.split_input else x[0], x[1], x[2])
        out: Shape = (op.out_channels, 0, 0)
        macs = acts = 0
        for path in op.paths:
            out, m, a = _cna_infer(path, share)
            macs, acts = macs + m, acts + a
        for conv in (attn_parts(op)[0], attn_parts(op)[3]):
            _, m, a = _CONV.infer(conv, (conv.in_channels, 1, 1))
            macs, acts = macs + m, acts + a
        return out, macs, acts

    def entries(self, op: P.SelectiveKernel) -> tuple[Entry, ...]:
        out: tuple[Entry, ...] = ()
        for i, path in enumerate(op.paths):
            out += nested(f"paths.{i}", _cna_entries(path))
        fc_reduce, bn, _, fc_select = attn_parts(op)
        attn = nested("fc_reduce", _CONV.entries(fc_reduce)) + nested("bn", batch_norm_entries(bn.channels))
        attn += nested("fc_select", conv_entries(fc_select.out_channels, fc_select.in_channels, (1, 1), False))
        return out + nested("attn", attn)

    def saves(self, op: P.SelectiveKernel, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        """Each branch as its conv + norm + act saves (a split reads views of the input: one tensor), the
        stacked branches, the attention's small tensors (the pooled sum, its 1×1 conv, norm and ReLU, the
        softmax), then the output."""
        n, c, r = len(op.paths), op.out_channels, op.attn_channels
        share = size_in // n if op.split_input else size_in
        for path in op.paths:
            _cna_saves(path, x, t, share, size_out)
        stacked = t.new(size_out * n)
        pooled = t.new(c)
        t.save(pooled)  # fc_reduce's input
        t.save(t.new(r))  # the norm's input
        save_stats(t, r)
        relu = t.new(r)
        t.save(relu)  # the ReLU's output (in place), fc_select's input
        weights = t.new(c * n)
        t.save(weights)  # the softmax's output, a factor of the weighting
        t.save(stacked)  # the other factor
        return t.new(size_out)

    def fold_role(self, op: P.SelectiveKernel) -> FoldRole:
        return "inner"

    def inner_folds(self, op: P.SelectiveKernel) -> tuple[tuple[str, str], ...]:
        # each branch's conv takes its norm, fc_reduce the attention's batch norm
        out = tuple(pair for i, path in enumerate(op.paths) for pair in _folds(f"paths.{i}.", path))
        return (*out, ("attn.fc_reduce", "attn.bn"))

    def torch_name(self, op: P.SelectiveKernel) -> str:
        dil = "/".join(str(p.conv.dilation) for p in op.paths)
        ks = "/".join(str(p.conv.kernel_size) for p in op.paths)
        g = op.paths[0].conv.groups
        split = " split" if op.split_input else ""
        stride = f"/{op.stride}" if op.stride > 1 else ""
        return f"SelectiveKernel {ks}{stride} d{dil}{f' g{g}' if g > 1 else ''}{split}"

    def branches(self, op: P.SelectiveKernel, x: Shape) -> Branches:
        """As the paper draws it (split, fuse, select): the branches side by side (after a split of the input's
        channels when ``split_input``), their sum pooled and squeezed by the attention's 1×1 convs, a softmax over
        the branches whose weights scale each branch before the final sum."""
        from resnetdsl.ops.branches import IN, Branches, Edge, Node, weighted_sum  # only diagrams read it

        n, c, r = len(op.paths), op.out_channels, op.attn_channels
        share: Shape = (x[0] // n if op.split_input else x[0], x[1], x[2])
        nodes: list[Node] = []
        edges: list[Edge] = []
        source = IN
        if op.split_input:
            nodes.append(Node("split", f"split {n} × {share[0]} ch", share, kind="split"))
            edges.append(Edge(IN, "split"))
            source = "split"
        out = share
        label = ConvNormActType().label
        for i, path in enumerate(op.paths):
            out = _cna_infer(path, share)[0]
            nodes.append(Node(f"p{i}", label(path), out, f"paths.{i}", ConvNormActType.fill))
            edges.append(Edge(source, f"p{i}"))
        tail = weighted_sum(
            tuple(f"p{i}" for i in range(n)),
            out,
            Node("reduce", f"1×1 conv, {r}, BN, ReLU", (r, 1, 1), "attn.fc_reduce", ATTENTION_FILL),
            Node("expand", f"1×1 conv, {c}×{n}", (c * n, 1, 1), "attn.fc_select", ATTENTION_FILL),
            Node("softmax", f"softmax over the {n} branches", (c * n, 1, 1), fill=ATTENTION_FILL),
        )
        return Branches(
            (*nodes, *tail[0]),
            (*edges, *tail[1]),
            tuple((label(path), ConvNormActType.fill) for path in op.paths),
            f"SK conv, {c}{stride_text(op.stride)}" + (f": input split {n} × {share[0]} ch" if op.split_input else ""),
            f"+ → pooled, squeezed to {r} ch → softmax over the {n} branches → weighted sum",
        )

    def label(self, op: P.SelectiveKernel) -> str:
        branches = " | ".join(
            f"{p.conv.kernel_size}×{p.conv.kernel_size}" + (f" dil {p.conv.dilation}" if p.conv.dilation > 1 else "")
            for p in op.paths
        )
        g = op.paths[0].conv.groups
        split = f" on {op.in_channels // len(op.paths)} ch each" if op.split_input else ""
        return (
            f"SK conv, {op.out_channels}{stride_text(op.stride)}{f', g{g}' if g > 1 else ''}: [{branches}]{split}"
            f" → softmax over the {len(op.paths)} branches (r {op.attn_channels})"
        )


DESCRIPTIONS = (ConvNormActType(), SelectiveKernelType())
