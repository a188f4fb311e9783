"""Res2Net's hierarchical split (issue 18; timm's ``Bottle2neck``), one composite op made of its convs, norms,
activation and pool.

Its numbers are its parts': each split conv on a ``width``-channel map (MACs and activations by the conv rule),
the norms and activation after it; the adds between splits, the pool on the last split and the concatenation
are no multiply-accumulates. Its receptive field: where the splits add up (``cumulative``), the last output has
seen every conv in turn, a stack of ``scale − 1`` 3×3 convs; otherwise one 3×3 (the pool's window is no wider).
A training step keeps what autograd keeps of its layers (the parts' rules; the adds and the concatenation keep
nothing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from resnetdsl import plan as P
from resnetdsl.ops.act import act_words
from resnetdsl.ops.base import Entry, FoldRole, OpType, Reach, Shape, Tracker, Window, stride_text

if TYPE_CHECKING:
    from resnetdsl.ops.branches import Branches

RES2_FILL = "#d6e6f7"


def _describe(op: Any) -> OpType[Any]:
    from resnetdsl.ops import describe

    return describe(op)


class Res2SplitType(OpType[P.Res2Split]):
    op = P.Res2Split
    family = "conv"
    fill = RES2_FILL
    line = "start"
    fresh = True
    legend = (
        "res2 s×w: the map cut into s splits of w channels; each split but the last runs a 3×3 conv → norm → "
        "act after adding the previous split's output (not in a stage's first block), the last passes through "
        "(a 3×3 average pool where the block downsamples); the splits are concatenated (timm's Bottle2neck)"
    )

    def infer(self, op: P.Res2Split, x: Shape) -> tuple[Shape, int, int]:
        _, h, w = x
        macs = acts = 0
        out = (op.width, h, w)
        for conv in op.convs:
            out, m, a = _describe(conv).infer(conv, (op.width, h, w))
            macs, acts = macs + m, acts + a
        return (op.channels, out[1], out[2]), macs, acts

    def entries(self, op: P.Res2Split) -> tuple[Entry, ...]:
        return tuple(e for sub in self.beside(op) for e in _describe(sub).entries(sub))

    def beside(self, op: P.Res2Split) -> tuple[Any, ...]:
        return (*op.convs, *op.norms, *((op.pool,) if op.pool is not None else ()))

    def in_channels(self, op: P.Res2Split) -> int:
        return op.channels

    def stride(self, op: P.Res2Split) -> int:
        return op.convs[0].stride

    def reach(self, op: P.Res2Split) -> Reach:
        conv = op.convs[0]
        depth = len(op.convs) if op.cumulative else 1  # a stack of `depth` 3×3s is one (2·depth + 1)-wide window
        return Window(2 * depth + 1, conv.stride, conv.dilation)

    def saves(self, op: P.Res2Split, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        split_in, split_out = size_in // op.scale, size_out // op.scale
        for i, conv in enumerate(op.convs):
            sp = x if i == 0 or not op.cumulative else t.new(split_in)  # a view of the input, or the add's sum
            y = _describe(conv).saves(conv, sp, t, split_in, split_out)
            if op.norms:
                y = _describe(op.norms[i]).saves(op.norms[i], y, t, split_out, split_out)
            _describe(op.act).saves(op.act, y, t, split_out, split_out)
        if op.pool is not None:
            _describe(op.pool).saves(op.pool, x, t, split_in, split_out)
        return t.new(size_out)

    def fold_role(self, op: P.Res2Split) -> FoldRole:
        return "inner"

    def inner_folds(self, op: P.Res2Split) -> tuple[tuple[str, str], ...]:
        """Each split conv takes its batch norm (paths from the block: ``convs.i``, ``bns.i``)."""
        return tuple((cv.name, n.name) for cv, n in zip(op.convs, op.norms, strict=False) if n.kind != "group")

    def block_mark(self, op: P.Res2Split) -> str | None:
        return f"res2 {op.scale}×{op.width}"

    def torch_name(self, op: P.Res2Split) -> str:
        conv = op.convs[0]
        g = f" g{conv.groups}" if conv.groups > 1 else ""
        s = f"/{conv.stride}" if conv.stride > 1 else ""
        return f"Res2 {op.scale}×{op.width} 3×3{s}{g}"

    def branches(self, op: P.Res2Split, x: Shape) -> Branches:
        """As the paper draws it: the map cut into ``scale`` splits; split i's 3×3 conv (norm, act) reads the split,
        plus the previous conv's output where the splits add up; the last split passes through (or is pooled where
        the block downsamples); every output goes into one concatenation."""
        from resnetdsl.ops.branches import IN, Branches, Edge, Node  # only diagrams read it
        from resnetdsl.ops.pool import POOL_FILL

        (c, ho, wo), _, _ = self.infer(op, x)
        w, conv = op.width, op.convs[0]
        chunk: Shape = (w, x[1], x[2])
        extra = (f", g{conv.groups}" if conv.groups != 1 else "") + (
            f", dil {conv.dilation}" if conv.dilation != 1 else ""
        )
        after_conv = f", {_describe(op.norms[0]).label(op.norms[0])}" if op.norms else ""  # one kind for every split
        act = act_words(op.act.kind, op.act.negative_slope)
        words = f"3×3 conv, {w}{stride_text(conv.stride)}{extra}{after_conv}, {act}"
        nodes = [Node("split", f"split {op.scale} × {w} ch", chunk, kind="split")]
        edges = [Edge(IN, "split")]
        columns: list[tuple[str, str]] = []
        for i in range(len(op.convs)):
            source = "split"
            if op.cumulative and i > 0:  # sp = sp + x_i: the previous conv's output joins split i
                nodes.append(Node(f"add{i}", "+", chunk, kind="merge"))
                edges += [Edge("split", f"add{i}"), Edge(f"c{i - 1}", f"add{i}")]
                source = f"add{i}"
            nodes.append(Node(f"c{i}", words, (w, ho, wo), str(i), RES2_FILL))
            edges.append(Edge(source, f"c{i}"))
            columns.append((f"split {i + 1}{' + previous' if source != 'split' else ''}: {words}", RES2_FILL))
        last = "split"
        if op.pool is not None:
            nodes.append(Node("pool", f"3×3 avgpool{stride_text(op.pool.stride)}", (w, ho, wo), fill=POOL_FILL))
            edges.append(Edge("split", "pool"))
            last = "pool"
        columns.append(
            (f"split {op.scale}: " + ("3×3 avgpool" if op.pool is not None else "passed through"), "#ffffff")
        )
        nodes.append(Node("concat", "concat", (c, ho, wo), kind="merge"))
        edges += [Edge(f"c{i}", "concat") for i in range(len(op.convs))] + [Edge(last, "concat")]
        return Branches(
            tuple(nodes), tuple(edges), tuple(columns), f"split into {op.scale} × {w} ch", f"concat → {c} ch"
        )

    def label(self, op: P.Res2Split) -> str:
        conv = op.convs[0]
        extra = (f", g{conv.groups}" if conv.groups != 1 else "") + (
            f", dil {conv.dilation}" if conv.dilation != 1 else ""
        )
        how = ", pool last" if op.pool is not None else ", summed" if op.cumulative else ""
        return f"res2 {op.scale}×{op.width} 3×3{extra}, {op.channels}{stride_text(conv.stride)}{how}"


DESCRIPTIONS = (Res2SplitType(),)
