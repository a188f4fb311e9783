"""Plan → Graphviz diagram: the block, its main path, and the shortcut beside it.

Three levels of detail, each stage drawn as a cluster:

* ``stage``: one node per stage (block kind, depth, channels, stride, parameters, shortcuts used);
* ``block``: one node per block, an explicit add node ``+``, and the shortcut drawn as an edge beside the block;
* ``layer``: every conv / norm / activation / pool / add, each block a cluster; shortcut ops drawn beside
  the main path.

Shortcut edges are solid when the input is added unchanged (identity, and the parameter-free zero-pad of
option A) and dashed when a 1×1 convolution projects it (``projection``, ``avgpool_projection``); every
shortcut is labelled with what it does. Every edge carries the C×H×W shape of its tensor, from
:func:`resnetdsl.analyze.analyze`. Runs of identical blocks can be collapsed into one ``×N`` node.

Layout uses the Graphviz bundled in the pygraphviz wheels (no system install needed); a ``dot`` executable on
``PATH`` is the fallback. DOT output needs no engine. This module never imports torch.

All user text (name, description) goes into HTML-like labels after XML escaping, so quotes, ``<``, ``>``,
``&``, braces, backslashes and newlines are shown as written and cannot change the graph.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from resnetdsl import plan as P
from resnetdsl.analyze import Analysis, BlockInfo, LayerInfo, StageInfo, analyze, format_shape

if TYPE_CHECKING:
    import graphviz

Detail = Literal["stage", "block", "layer"]
Format = Literal["svg", "png", "pdf", "dot"]
RankDir = Literal["TB", "LR"]

DETAILS: tuple[Detail, ...] = ("stage", "block", "layer")
FORMATS: tuple[Format, ...] = ("svg", "png", "pdf", "dot")
EXTENSIONS: dict[str, Format] = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}

COLLAPSE_OVER = 8
"""With ``collapse=None``, runs of identical blocks collapse only in stages deeper than this."""

PROJECTIONS = frozenset({"projection", "avgpool_projection"})
"""Shortcut uses drawn dashed: the input is transformed by a learned 1×1 convolution."""

INSTALL_HINT = (
    "no Graphviz layout engine found: pip install 'pygraphviz>=2.0.4' (its wheels bundle Graphviz), "
    "or install Graphviz so that `dot` is on PATH; --format dot needs no engine"
)

# --- look --------------------------------------------------------------------------------------------------

FONT = "Helvetica"
INK = "#222222"
MUTED = "#666666"
SHAPE_INK = "#555555"
STAGE_FILLS = ("#eef4fb", "#f3f0fa", "#eef8f1", "#fbf3ea", "#f9eef1", "#eef6f8")
OP_FILLS: dict[type, str] = {
    P.Conv: "#d6e6f7",
    P.Norm: "#fbf1c7",
    P.Act: "#dcefd5",
    P.Pool: "#e6dff2",
    P.GlobalPool: "#e6dff2",
    P.Linear: "#f6d8cf",
    P.Dropout: "#eeeeee",
    P.Flatten: "#eeeeee",
    P.Identity: "#eeeeee",
    P.PadShortcut: "#eeeeee",
}
SHORTCUT_STYLE: dict[str, dict[str, str]] = {
    "identity": {"style": "solid", "color": "#2b6cb0", "fontcolor": "#2b6cb0", "penwidth": "1.4"},
    "pad": {"style": "solid", "color": "#2f855a", "fontcolor": "#2f855a", "penwidth": "1.4"},
    "projection": {"style": "dashed", "color": "#c05621", "fontcolor": "#c05621", "penwidth": "1.4"},
    "avgpool_projection": {"style": "dashed", "color": "#9b2c2c", "fontcolor": "#9b2c2c", "penwidth": "1.4"},
}
LEGEND_TEXT = {
    "identity": "identity: x added unchanged",
    "pad": "zero-pad: subsample, add zero channels",
    "projection": "projection: 1×1 conv matches shape",
    "avgpool_projection": "avg-pool → 1×1 conv matches shape",
}
BLOCK_TITLES = {"basic": "BasicBlock", "bottleneck": "Bottleneck"}


class EngineNotFound(RuntimeError):
    """No Graphviz layout engine is available (neither pygraphviz nor a ``dot`` executable)."""


# --- text --------------------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def esc(text: str) -> str:
    """``text`` made safe for a Graphviz HTML-like label; newlines become line breaks."""
    text = _CONTROL.sub("\N{REPLACEMENT CHARACTER}", _newlines(text).replace("\t", " "))
    # Graphviz expands \G, \N, \L… even inside HTML-like labels (after entities are decoded); a doubled
    # backslash is its escape for one literal backslash.
    text = text.replace("\\", "\\\\")
    return "<br/>".join(html.escape(line, quote=True) for line in text.split("\n"))


def _html(body: str) -> str:
    """An HTML-like label (the graphviz package passes ``<…>`` through unquoted)."""
    return f"<{body}>"


def _small(text: str, color: str = MUTED, size: int = 9) -> str:
    return f'<font point-size="{size}" color="{color}">{text}</font>'


def fmt_count(n: int) -> str:
    """``11689512`` → ``11.69M``; ``2048`` → ``2.0k``."""
    if n >= 1_000_000:
        return f"{n / 1e6:.2f}M"
    if n >= 1_000:
        return f"{n / 1e3:.1f}k"
    return str(n)


def fmt_macs(macs: int) -> str:
    if macs >= 100_000_000:
        return f"{macs / 1e9:.2f} GMACs"
    return f"{macs / 1e6:.1f} MMACs"


def block_title(kind: str) -> str:
    return BLOCK_TITLES.get(kind, kind[:1].upper() + kind[1:])


def _stride(s: int) -> str:
    return f" /{s}" if s != 1 else ""


_ACT_TEXT = {
    "relu": "ReLU",
    "leaky_relu": "LeakyReLU",
    "silu": "SiLU",
    "gelu": "GELU",
    "mish": "Mish",
    "hardswish": "Hardswish",
}


def op_text(op: P.Op) -> str:
    """What an op does, in the words of a ResNet lecture (``3×3 conv, 64 /2``)."""
    if isinstance(op, P.Conv):
        k = op.kernel_size
        extra = "".join(
            [
                f", g{op.groups}" if op.groups != 1 else "",
                f", dil {op.dilation}" if op.dilation != 1 else "",
                ", bias" if op.bias else "",
            ]
        )
        return f"{k}×{k} conv, {op.out_channels}{_stride(op.stride)}{extra}"
    if isinstance(op, P.Norm):
        return {"batch": "BN", "group": f"GN {op.groups}", "frozen_batch": "frozen BN"}[op.kind]
    if isinstance(op, P.Act):
        return _ACT_TEXT[op.kind] + (f" {op.negative_slope:g}" if op.kind == "leaky_relu" else "")
    if isinstance(op, P.SqueezeExcite):
        return f"SE {op.channels}→{op.reduced_channels}"
    if isinstance(op, P.EfficientChannelAttn):
        return f"ECA k{op.kernel_size}"
    if isinstance(op, P.DropPath):
        return f"drop path {op.p:.3g}"
    if isinstance(op, P.Pool):
        k = op.kernel_size
        return f"{k}×{k} {op.kind}pool{_stride(op.stride)}"
    if isinstance(op, P.GlobalPool):
        return f"global {op.kind}pool"
    if isinstance(op, P.Flatten):
        return "flatten"
    if isinstance(op, P.Dropout):
        return f"dropout {op.p:g}"
    if isinstance(op, P.Linear):
        return f"fc, {op.out_features}" + ("" if op.bias else ", no bias")
    if isinstance(op, P.PadShortcut):
        return f"zero-pad{_stride(op.stride)}"
    return "identity"


def shortcut_text(block: P.Block) -> str:
    """What the shortcut does: ``identity``, ``1×1 conv /2 + BN``, ``zero-pad /2``, ``avgpool /2 → 1×1 conv + BN``."""
    if block.shortcut == "identity" or not block.shortcut_ops:
        return "identity"
    out = ""
    for op in block.shortcut_ops:
        if isinstance(op, P.Identity):
            continue
        if isinstance(op, P.Conv):
            k = op.kernel_size
            part, sep = f"{k}×{k} conv{_stride(op.stride)}", " → "
        elif isinstance(op, P.Pool):
            part, sep = f"{op.kind}pool{_stride(op.stride)}", " → "
        elif isinstance(op, P.Norm):
            part, sep = op_text(op), " + "
        else:
            part, sep = op_text(op), " → "
        out = f"{out}{sep}{part}" if out else part
    return out


def _main_lines(ops: Iterable[P.Op]) -> list[str]:
    """The main path as lines, one per conv with the norm/act that follow it."""
    lines: list[list[str]] = []
    for op in ops:
        if isinstance(op, P.Conv | P.Pool | P.Linear) or not lines:
            lines.append([])
        lines[-1].append(op_text(op))
    return [" · ".join(line) for line in lines]


# --- grouping of identical blocks --------------------------------------------------------------------------


def _block_key(b: BlockInfo) -> tuple[Any, ...]:
    k = b.block
    shape = (k.kind, k.in_channels, k.mid_channels, k.out_channels, k.stride, k.groups, k.shortcut)
    return (*shape, k.main, k.shortcut_ops, k.post, b.in_shape, b.out_shape)


def block_groups(stage: StageInfo, collapse: bool | None) -> list[tuple[BlockInfo, ...]]:
    """The blocks of a stage as drawn: runs of identical consecutive blocks become one group when collapsing.

    ``collapse=None`` collapses only in stages deeper than :data:`COLLAPSE_OVER`.
    """
    on = collapse if collapse is not None else len(stage.blocks) > COLLAPSE_OVER
    groups: list[list[BlockInfo]] = []
    for b in stage.blocks:
        if on and groups and _block_key(groups[-1][0]) == _block_key(b):
            groups[-1].append(b)
        else:
            groups.append([b])
    return [tuple(g) for g in groups]


# --- graph building ----------------------------------------------------------------------------------------


def _digraph_class() -> type[graphviz.Digraph]:
    import graphviz

    class Diagram(graphviz.Digraph):  # type: ignore[misc]
        """A ``graphviz.Digraph`` that shows itself in Jupyter through resnetdsl's engine (no system dot)."""

        def draw(self, format: Format = "svg") -> bytes:
            """The diagram laid out as ``svg``, ``png`` or ``pdf`` bytes (``dot``: the source)."""
            return layout(self.source, format)

        def _repr_image_svg_xml(self) -> str:
            return self.draw("svg").decode("utf-8")

        def _repr_image_png(self) -> bytes:
            return self.draw("png")

    return Diagram


def _shown(layers: Sequence[LayerInfo], k: int) -> tuple[int, ...]:
    """The output shape of ``layers[k]`` as drawn: a vector (C) once a Flatten has run."""
    shape = layers[k].out_shape
    flat = any(isinstance(li.op, P.Flatten) for li in layers[: k + 1])
    return shape[:1] if flat else shape


@dataclass
class _Cursor:
    """The tensor flowing out of the last node drawn: C×H×W, or C once flattened."""

    node: str
    shape: tuple[int, ...]


class _Builder:
    def __init__(self, analysis: Analysis, detail: Detail, collapse: bool | None, rankdir: RankDir) -> None:
        self.a = analysis
        self.plan = analysis.plan
        self.detail = detail
        self.collapse = collapse
        self.rankdir = rankdir
        # Shortcuts leave and enter their nodes on the side, so they never run along the main path.
        self.side = "e" if rankdir == "TB" else "s"
        self.fwd = ("s", "n") if rankdir == "TB" else ("e", "w")
        self.shortcuts_used: list[str] = []
        cls = _digraph_class()
        self.g = cls(name="resnet", engine="dot")
        self.g.attr(
            rankdir=rankdir,
            newrank="true",
            nodesep="0.35",
            ranksep="0.3",
            fontname=FONT,
            label=_html(self._title()),
            labelloc="t",
            labeljust="c",
            fontsize="12",
        )
        self.g.attr("node", fontname=FONT, fontsize="11", shape="box", style="rounded,filled", fillcolor="white")
        self.g.attr("edge", fontname=FONT, fontsize="8", fontcolor=SHAPE_INK, color=INK, arrowsize="0.6")

    # -- pieces --

    def _title(self) -> str:
        p, a = self.plan, self.a
        rows = [f'<font point-size="18"><b>{esc(p.name)}</b></font>']
        if p.description:
            wrapped = "\n".join(textwrap.fill(par, 90) for par in _newlines(p.description).split("\n"))
            rows.append(_small(esc(wrapped), size=11))
        stats = (
            f"{a.totals.params:,} params ({fmt_count(a.totals.params)}) · {fmt_macs(a.totals.macs)}"
            f" · input {format_shape(a.input_shape)} · {self.detail} level"
        )
        rows.append(esc(stats))
        # A table, not <br/>: Graphviz spaces lines of mixed font sizes unevenly.
        cells = "".join(f"<tr><td>{row}</td></tr>" for row in rows)
        return f'<table border="0" cellborder="0" cellspacing="2" cellpadding="0">{cells}</table>'

    def _edge(self, tail: _Cursor, head: str, **attrs: str) -> None:
        tp, hp = self.fwd
        self.g.edge(
            f"{tail.node}:{tp}", f"{head}:{hp}", label=_html(esc(format_shape(tail.shape))), weight="100", **attrs
        )

    def _node(self, g: Any, name: str, label: str, **attrs: str) -> None:
        g.node(name, label=_html(label), group="main", **attrs)

    def _shortcut_edge(
        self,
        tail: _Cursor,
        head: str,
        block: P.Block,
        out: tuple[int, ...],
        *,
        first: bool,
        last: bool,
        each: bool = False,
    ) -> None:
        use = block.shortcut
        if use not in self.shortcuts_used:
            self.shortcuts_used.append(use)
        style = SHORTCUT_STYLE[use]
        text = (shortcut_text(block) + (", each block" if each else "")) if first else ""
        label = f"{esc(text)}<br/>{esc(format_shape(out))}" if text else esc(format_shape(out))
        ports: dict[str, str] = {}
        if first:
            ports["tailport"] = self.side
        if last:
            ports["headport"] = self.side
        self.g.edge(tail.node, head, label=_html(label), weight="1", **ports, **style)

    def _input(self) -> _Cursor:
        self.g.node(
            "input",
            label=_html(f"<b>input</b><br/>{esc(format_shape(self.a.input_shape))}"),
            shape="box",
            style="rounded",
            group="main",
        )
        return _Cursor("input", self.a.input_shape)

    def _output(self, cur: _Cursor) -> None:
        shape = self.a.output_shape
        what = f"{shape[0]} logits" if self.plan.head else f"features {format_shape(shape)}"
        self.g.node("output", label=_html(f"<b>output</b><br/>{esc(what)}"), shape="box", style="rounded")
        self._edge(cur, "output")

    def _ops_node(self, cur: _Cursor, name: str, title: str, layers: Sequence[LayerInfo], g: Any) -> _Cursor:
        """Stem or head as one node."""
        if not layers:
            return cur
        lines = [f"<b>{esc(title)}</b>", *(esc(line) for line in _main_lines(li.op for li in layers))]
        self._node(g, name, "<br/>".join(lines), fillcolor="#f2f2f2")
        self._edge(cur, name)
        return _Cursor(name, _shown(layers, len(layers) - 1))

    def _op_nodes(self, cur: _Cursor, prefix: str, layers: Sequence[LayerInfo], g: Any) -> _Cursor:
        """One node per op along the main path."""
        for k, li in enumerate(layers):
            name = f"{prefix}{k}"
            self._node(g, name, self._op_label(li), fillcolor=OP_FILLS.get(type(li.op), "white"))
            self._edge(cur, name)
            cur = _Cursor(name, _shown(layers, k))
        return cur

    def _op_label(self, li: LayerInfo) -> str:
        # Block ops by their name in the block (``conv1``, ``downsample.0``); stem and head ops by their path.
        name = li.op.name if li.role in ("main", "shortcut", "post") else li.path
        return f"{esc(op_text(li.op))}  {_small(esc(name), size=8)}"

    # -- levels --

    def build(self) -> graphviz.Digraph:
        cur = self._input()
        with self.g.subgraph(name="cluster_stem") as g:
            self._cluster_attrs(g, "stem", "#f7f7f7")
            if self.detail == "layer":
                cur = self._op_nodes(cur, "stem_", self.a.stem, g)
            else:
                cur = self._ops_node(cur, "stem", "stem", self.a.stem, g)
        for i, st in enumerate(self.a.stages):
            with self.g.subgraph(name=f"cluster_s{i}") as g:
                title = f"<b>{esc(st.stage.name)}</b>" if self.detail == "stage" else self._stage_title(st)
                self._cluster_attrs(g, title, STAGE_FILLS[i % len(STAGE_FILLS)])
                if self.detail == "stage":
                    cur = self._stage_node(cur, i, st, g)
                else:
                    for group in block_groups(st, self.collapse):
                        cur = self._block(cur, i, group, g)
        if self.a.head:
            with self.g.subgraph(name="cluster_head") as g:
                self._cluster_attrs(g, "head", "#f7f7f7")
                if self.detail == "layer":
                    cur = self._op_nodes(cur, "head_", self.a.head, g)
                else:
                    cur = self._ops_node(cur, "head", "head", self.a.head, g)
        self._output(cur)
        if self.detail != "stage":
            self._legend()
        return self.g

    def _cluster_attrs(self, g: Any, label: str, fill: str) -> None:
        g.attr(
            label=_html(label),
            style="rounded,filled",
            fillcolor=fill,
            color="#bbbbbb",
            fontname=FONT,
            fontsize="11",
            labeljust="l",
            margin="10",
        )

    def _stage_title(self, st: StageInfo) -> str:
        s = st.stage
        title = f"<b>{esc(s.name)}</b>  {s.depth} × {esc(block_title(s.block_kind))}"
        return title + esc(f" · {s.out_channels} ch{_stride(s.stride)} · {fmt_count(st.totals.params)} params")

    def _stage_node(self, cur: _Cursor, i: int, st: StageInfo, g: Any) -> _Cursor:
        s = st.stage
        uses: dict[str, int] = {}
        for b in s.blocks:
            uses[b.shortcut] = uses.get(b.shortcut, 0) + 1
        shortcuts = ", ".join(f"{n} {use.replace('_', ' ')}" for use, n in uses.items())
        lines = [
            f"<b>{esc(block_title(s.block_kind))} ×{s.depth}</b>",
            esc(f"{s.in_channels} → {s.out_channels} ch, stride {s.stride}"),
            esc(f"{st.totals.params:,} params · {fmt_macs(st.totals.macs)}"),
            _small(esc(f"shortcuts: {shortcuts}")),
        ]
        name = f"s{i}"
        self._node(g, name, "<br/>".join(lines))
        self._edge(cur, name)
        return _Cursor(name, st.out_shape)

    def _block_name(self, group: tuple[BlockInfo, ...]) -> str:
        first, last = group[0], group[-1]
        return first.path if len(group) == 1 else f"{first.path} – {last.path}"

    def _block(self, cur: _Cursor, i: int, group: tuple[BlockInfo, ...], g: Any) -> _Cursor:
        b = group[0]
        blk = b.block
        base = f"s{i}b{blk.name}"
        n = len(group)
        title = esc(block_title(blk.kind)) + (f" ×{n}" if n > 1 else "")
        if self.detail == "block":
            return self._block_node(cur, base, title, group, g)
        with g.subgraph(name=f"cluster_{base}") as c:
            label = f"<b>{title}</b>  {esc(self._block_name(group))}"
            if n > 1:
                label += _small(esc("  (identical blocks, drawn once)"))
            c.attr(label=_html(label), style="rounded,filled", fillcolor="white", color="#999999", fontsize="10")
            if n > 1:
                c.attr(peripheries="1", penwidth="2")
            fork = cur
            main = [li for li in b.layers if li.role == "main"]
            sc = [li for li in b.layers if li.role == "shortcut"]
            post = [li for li in b.layers if li.role == "post"]
            cur = self._op_nodes(cur, f"{base}_m", main, c)
            if blk.has_add:
                add = f"{base}_add"
                self._node(c, add, "<b>+</b>", shape="circle", width="0.3", fixedsize="true", fillcolor="white")
                self._edge(cur, add)
                sc_cur = fork
                for k, li in enumerate(sc):
                    name = f"{base}_c{k}"
                    label = self._op_label(li)
                    c.node(name, label=_html(label), fillcolor=OP_FILLS.get(type(li.op), "white"), group=base)
                    shape = li.in_shape if k else fork.shape
                    self._shortcut_edge(sc_cur, name, blk, shape, first=k == 0, last=False, each=n > 1)
                    sc_cur = _Cursor(name, li.out_shape)
                self._shortcut_edge(sc_cur, add, blk, cur.shape, first=not sc, last=True, each=n > 1)
                cur = _Cursor(add, cur.shape)
            cur = self._op_nodes(cur, f"{base}_p", post, c)
        return cur

    def _block_node(self, cur: _Cursor, base: str, title: str, group: tuple[BlockInfo, ...], g: Any) -> _Cursor:
        b = group[0]
        blk = b.block
        ops = [li.op for li in b.layers if li.role == "main"]
        post = [li.op for li in b.layers if li.role == "post"]
        if not blk.has_add:
            ops += post
        lines = [f"<b>{title}</b>  {_small(esc(self._block_name(group)))}"]
        lines += [esc(line) for line in _main_lines(ops)]
        params = b.totals.params
        lines.append(_small(esc(f"{params:,} params" + (" each" if len(group) > 1 else ""))))
        attrs: dict[str, str] = {"fillcolor": "white"}
        if len(group) > 1:
            attrs["peripheries"] = "2"
        self._node(g, base, "<br/>".join(lines), **attrs)
        self._edge(cur, base)
        out = _Cursor(base, b.out_shape)
        if blk.has_add:
            add = f"{base}_add"
            post_text = " → ".join(op_text(op) for op in post)
            if post_text:
                self._node(g, add, f"<b>+</b> → {esc(post_text)}", shape="ellipse", margin="0.05,0.02")
            else:
                self._node(g, add, "<b>+</b>", shape="circle", width="0.3", fixedsize="true")
            self._edge(out, add)
            self._shortcut_edge(cur, add, blk, b.out_shape, first=True, last=True, each=len(group) > 1)
            out = _Cursor(add, b.out_shape)
        return out

    def _legend(self) -> None:
        """A single node: a table whose cell borders are line samples (no edges, so it never skews edge counts)."""
        if not self.shortcuts_used:
            return
        rows = ['<tr><td colspan="2" align="left"><b>shortcuts</b></td></tr>']
        for use in SHORTCUT_STYLE:
            if use not in self.shortcuts_used:
                continue
            style = SHORTCUT_STYLE[use]
            color = style["color"]
            rows.append(
                f'<tr><td width="36" height="6" sides="b" border="2" color="{color}" style="{style["style"]}"></td>'
                f'<td align="left"><font color="{color}">{esc(LEGEND_TEXT[use])}</font></td></tr>'
            )
        table = (
            '<table border="1" style="rounded" color="#bbbbbb" cellborder="0" cellspacing="3" cellpadding="1">'
            + "".join(rows)
            + "</table>"
        )
        self.g.node("legend", label=_html(table), shape="plaintext", style="", fontsize="9")


def to_digraph(
    plan: P.Plan,
    *,
    detail: Detail = "block",
    collapse: bool | None = None,
    rankdir: RankDir = "TB",
    input_shape: tuple[int, int, int] | None = None,
) -> graphviz.Digraph:
    """The diagram of ``plan`` as a ``graphviz.Digraph`` (no layout engine needed until it is drawn).

    Args:
        plan: the network.
        detail: ``stage``, ``block`` or ``layer``.
        collapse: draw runs of identical blocks once, as ``×N``. ``None``: only in stages deeper than
            :data:`COLLAPSE_OVER` blocks. Ignored at stage level.
        rankdir: ``TB`` (top to bottom) or ``LR`` (left to right).
        input_shape: C, H, W for the shapes (default: the spec's input).

    Raises:
        SpecError: the input is too small for the network.
        ValueError: an unknown ``detail`` or ``rankdir``.
    """
    if detail not in DETAILS:
        raise ValueError(f"detail must be one of {', '.join(DETAILS)}, got '{detail}'")
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"rankdir must be TB or LR, got '{rankdir}'")
    if input_shape is None:
        analysis = analyze(plan)
    else:
        c, h, w = input_shape
        analysis = analyze(plan, input_size=(h, w), in_channels=c)
    return _Builder(analysis, detail, collapse, rankdir).build()


# --- engine ------------------------------------------------------------------------------------------------


def _import_pygraphviz() -> Any:
    import pygraphviz

    return pygraphviz


@contextlib.contextmanager
def _without_fontconfig_noise() -> Iterator[None]:
    """Hold back what C code writes to fd 2 while Graphviz draws, then pass it on without fontconfig's warnings.

    The fontconfig bundled in pygraphviz's wheels is older than many systems' font configuration and warns about
    elements it does not know ("unknown element reset-dirs") on every first draw; the fonts still resolve.
    Graphviz's own warnings are passed on.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            text = held.read().decode("utf-8", "replace")
            kept = [line for line in text.splitlines() if not line.startswith("Fontconfig warning:")]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")


def _pygraphviz_layout(source: str, fmt: str) -> bytes | None:
    try:
        pgv = _import_pygraphviz()
    except (ImportError, OSError):
        return None
    graph = pgv.AGraph(string=source)
    # pygraphviz writes "layout may take a long time" to sys.stderr above 1000 nodes; ours take well under a
    # second, so the note would only alarm. Graphviz's own errors still raise.
    with _without_fontconfig_noise(), contextlib.redirect_stderr(io.StringIO()):
        data: bytes = graph.draw(format=fmt, prog="dot")
    return data


def _dot_layout(source: str, fmt: str) -> bytes | None:
    exe = shutil.which("dot")
    if exe is None:
        return None
    done = subprocess.run([exe, f"-T{fmt}"], input=source.encode("utf-8"), capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"dot failed: {done.stderr.decode('utf-8', 'replace').strip()}")
    return done.stdout


ENGINES: tuple[Callable[[str, str], bytes | None], ...] = (_pygraphviz_layout, _dot_layout)


def layout(source: str, fmt: Format) -> bytes:
    """Lay out DOT ``source`` and draw it as ``fmt`` bytes (``dot``: the source itself, no engine).

    Raises:
        EngineNotFound: neither pygraphviz nor a ``dot`` executable is available.
    """
    if fmt == "dot":
        return source.encode("utf-8")
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got '{fmt}'")
    for engine in ENGINES:
        data = engine(source, fmt)
        if data is not None:
            return data
    raise EngineNotFound(INSTALL_HINT)


# --- files -------------------------------------------------------------------------------------------------


def format_of(path: str | os.PathLike[str], format: str | None = None) -> Format:
    """The output format: ``format`` when given, else from the file extension.

    Raises:
        ValueError: no format given and the extension is not one of .svg .png .pdf .dot .gv.
    """
    if format is not None:
        if format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got '{format}'")
        return format
    ext = Path(path).suffix.lower()
    if ext not in EXTENSIONS:
        raise ValueError(f"cannot tell the format of '{path}' from its extension; use --format svg|png|pdf|dot")
    return EXTENSIONS[ext]


def write(digraph: graphviz.Digraph, path: str | os.PathLike[str], format: str | None = None) -> Path:
    """Draw ``digraph`` into ``path`` atomically: the whole file is made in memory, then renamed into place."""
    from resnetdsl.io import atomic_write_bytes

    fmt = format_of(path, format)
    data = layout(digraph.source, fmt)
    atomic_write_bytes(path, data)
    return Path(path)


def safe_filename(name: str) -> str:
    """A file name stem made of a network name (``my net/v2`` → ``my_net_v2``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "network"


# --- public API (re-exported by resnetdsl) -----------------------------------------------------------------


def render(
    source: Any,
    *,
    detail: Detail = "block",
    collapse: bool | None = None,
    rankdir: RankDir = "TB",
    input: tuple[int, int, int] | None = None,
) -> graphviz.Digraph:
    """The diagram of a spec as a ``graphviz.Digraph``; in Jupyter it displays inline (no system Graphviz).

    Args:
        source: a path, YAML text, a mapping, a Spec, a Plan, or a preset name.
        detail: ``stage``, ``block`` or ``layer``.
        collapse: draw runs of identical blocks once as ``×N`` (``None``: in stages deeper than
            :data:`COLLAPSE_OVER` blocks).
        rankdir: ``TB`` or ``LR``.
        input: C, H, W for the shapes (default: the spec's input).

    Raises:
        SpecError: the spec is invalid or the input too small.
    """
    from resnetdsl import plan_of

    return to_digraph(plan_of(source), detail=detail, collapse=collapse, rankdir=rankdir, input_shape=input)


def render_to(
    source: Any,
    path: str | os.PathLike[str],
    *,
    format: Format | None = None,
    detail: Detail = "block",
    collapse: bool | None = None,
    rankdir: RankDir = "TB",
    input: tuple[int, int, int] | None = None,
) -> Path:
    """Draw a spec into ``path`` (svg, png, pdf or dot; from the extension unless ``format`` is given).

    The file is written atomically: readers see the old file or the complete new one.

    Raises:
        SpecError: the spec is invalid or the input too small.
        EngineNotFound: no Graphviz engine for svg/png/pdf.
        ValueError: the format cannot be told from the path.
    """
    fmt = format_of(path, format)
    digraph = render(source, detail=detail, collapse=collapse, rankdir=rankdir, input=input)
    return write(digraph, path, fmt)


# --- command line ------------------------------------------------------------------------------------------


def cli_main(args: argparse.Namespace) -> int:
    """``resnetdsl render SPEC [-o FILE] [--format F] [--detail D] [--collapse|--no-collapse] [--rankdir R]``.

    Without ``-o``: ``--format dot`` prints the DOT source to stdout; other formats are written to
    ``<name>.<format>`` (default ``svg``) in the current directory.
    """
    from resnetdsl import plan_of

    try:
        fmt = format_of(args.output, args.format) if args.output else (args.format or "svg")
    except ValueError as exc:
        print(f"resnetdsl render: {exc}", file=sys.stderr)
        return 2
    plan = plan_of(args.spec)
    dg = to_digraph(plan, detail=args.detail, collapse=args.collapse, rankdir=args.rankdir, input_shape=args.input)
    if args.output is None and fmt == "dot":
        sys.stdout.write(dg.source)
        return 0
    path = args.output or f"{safe_filename(plan.name)}.{fmt}"
    try:
        write(dg, path, fmt)
    except EngineNotFound as exc:
        print(f"resnetdsl render: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


__all__ = [
    "COLLAPSE_OVER",
    "DETAILS",
    "FORMATS",
    "PROJECTIONS",
    "EngineNotFound",
    "block_groups",
    "cli_main",
    "format_of",
    "layout",
    "render",
    "render_to",
    "shortcut_text",
    "to_digraph",
    "write",
]
