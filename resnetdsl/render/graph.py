"""Plan → DOT: the graph builder (into a :class:`~resnetdsl.render.dot.DotGraph`; :func:`digraph_of` makes that
the ``graphviz.Digraph`` the API returns).

Each stage is a cluster; at ``block`` level one node per block, an explicit add node and the shortcut as an edge
beside the block; at ``layer`` level every op, each block a cluster; at ``stage`` level one node per stage. Runs of
identical blocks can be collapsed into one ``×N`` node. Shapes come from :func:`resnetdsl.analyze.analyze`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from resnetdsl import plan as P
from resnetdsl.analyze import Analysis, BlockInfo, LayerInfo, StageInfo, format_shape
from resnetdsl.ops import DESCRIPTIONS, Description, describe
from resnetdsl.render import branches
from resnetdsl.render.dot import DotGraph
from resnetdsl.render.labels import (
    block_title,
    blocks_title,
    bold,
    esc,
    fmt_count,
    fmt_macs,
    main_lines,
    op_text,
    shortcut_style,
    shortcut_text,
    small,
    stride_text,
    text_lines,
)
from resnetdsl.render.labels import html_label as _html
from resnetdsl.render.legend import cluster_attrs, frozen_notes, legend_node
from resnetdsl.render.style import (
    COLLAPSE_OVER,
    DETAILS,
    FONT,
    INK,
    PRE_ACTIVATION_NOTE,
    PROJECTIONS,
    SHAPE_INK,
    SHORTCUT_LABEL_PAD,
    SHORTCUT_PORTS,
    SHORTCUT_STYLE,
    STAGE_FILLS,
    Detail,
    RankDir,
    View,
    block_groups,
)
from resnetdsl.render.style import op_fill as _fill
from resnetdsl.walk import Part, Visitor, is_pre_activated, run_block

if TYPE_CHECKING:
    from resnetdsl.check import InputSize

_BLOCK_ROLES = ("pre", "main", "shortcut", "post")

__all__ = [
    "COLLAPSE_OVER",
    "DETAILS",
    "PROJECTIONS",
    "SHORTCUT_STYLE",
    "Detail",
    "RankDir",
    "View",
    "analysis_for",
    "block_groups",
    "dot_of",
]

# --- graph building ----------------------------------------------------------------------------------------


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
        # Shortcuts leave and enter their nodes on the side, so they never run along the main path: they leave by
        # the side's lower corner and enter at its middle, so that where a block's shortcut arrives at its add and
        # the next one leaves it, the arrowhead and the next edge's start lie apart (SHORTCUT_PORTS).
        self.side = "e" if rankdir == "TB" else "s"
        self.shortcut_tail, self.shortcut_head = SHORTCUT_PORTS[rankdir]
        self.fwd = ("s", "n") if rankdir == "TB" else ("e", "w")
        self.shortcuts_used: set[str] = set()
        self.block_kinds: set[str] = set()
        """``pre`` and/or ``post``: whether pre-activation blocks were drawn (the legend says how to read them)."""
        self.legends: set[Description] = set()
        """The descriptions of the ops drawn that have a legend note."""
        self.notes: set[str] = set()
        """Other notes the drawing needs in the legend (gate edges, frozen stages)."""
        self.g = DotGraph(name="resnet")
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
        rows = [f'<font point-size="18">{bold(esc(p.name))}</font>' if p.name else ""]
        rows.append(small("<br/>".join(esc(line) for line in text_lines(p.description)), size=11))
        stats = (
            f"{a.totals.params:,} params ({fmt_count(a.totals.params)}) · {fmt_macs(a.totals.macs)}"
            f" · input {format_shape(a.input_shape)} · {self.detail} level"
        )
        rows.append(esc(stats))
        # A table, not <br/>: Graphviz spaces lines of mixed font sizes unevenly.
        cells = "".join(f"<tr><td>{row}</td></tr>" for row in rows if row)
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
        use = shortcut_style(block)
        self.shortcuts_used.add(use)
        style = SHORTCUT_STYLE[use]
        text = (shortcut_text(block) + (", each block" if each else "")) if first else ""
        label = f"{esc(text)}<br/>{esc(format_shape(out))}" if text else esc(format_shape(out))
        # A margin around the words keeps the curve (which passes beside the label) off them.
        pad = f'border="0" cellborder="0" cellspacing="0" cellpadding="{SHORTCUT_LABEL_PAD}"'
        label = f"<table {pad}><tr><td>{label}</td></tr></table>"
        ports: dict[str, str] = {}
        if first:
            ports["tailport"] = self.shortcut_tail
        if last:
            ports["headport"] = self.shortcut_head
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
        lines = [bold(esc(title)), *(esc(line) for line in main_lines(li.op for li in layers))]
        self._node(g, name, "<br/>".join(lines), fillcolor="#f2f2f2")
        self._edge(cur, name)
        return _Cursor(name, layers[-1].output_dims)

    def _op_nodes(self, cur: _Cursor, prefix: str, layers: Sequence[LayerInfo], g: Any) -> _Cursor:
        """One node per op along the main path."""
        for k, li in enumerate(layers):
            cur = self._layer(g, f"{prefix}{k}", li, cur)
        return cur

    def _layer(self, g: Any, name: str, li: LayerInfo, cur: _Cursor) -> _Cursor:
        """One op on the main path at layer level: a node, or the cluster of a multi-branch op's branches."""
        d = describe(li.op)
        inside = d.branches(li.op, li.in_shape)
        if inside is None:
            self._node(g, name, self._op_label(li), fillcolor=_fill(li.op))
            self._edge(cur, name)
            return _Cursor(name, li.output_dims)
        if any(e.kind == "gate" for e in inside.edges):
            self.notes.add(branches.GATE_NOTE)
        title = branches.title(li.op.name if li.role in _BLOCK_ROLES else li.path, d.torch_name(li.op))

        def edge(tail: str, shape: tuple[int, ...], head: str) -> None:
            self._edge(_Cursor(tail, shape), head)

        return _Cursor(*branches.draw(g, self.g, name, title, inside, cur.node, cur.shape, edge))

    def _op_label(self, li: LayerInfo) -> str:
        # Block ops by their name in the block (``conv1``, ``downsample.0``); stem and head ops by their path.
        name = li.op.name if li.role in _BLOCK_ROLES else li.path
        return f"{esc(op_text(li.op))}  {small(esc(name), size=8)}"

    # -- levels --

    def build(self) -> DotGraph:
        cur = self._input()
        ends: list[_Cursor] = []  # where each tap leaves: the stem's, then each stage's output
        with self.g.subgraph(name="cluster_stem") as g:
            self._cluster_attrs(g, "stem", "#f7f7f7", frozen=self.plan.frozen(None))
            k = self._stem_tap_index()
            cur = self._part(cur, "stem", self.a.stem, g)
            ends.append(_Cursor(f"stem_{k}" if self.detail == "layer" else "stem", self.a.stem[k].output_dims))
        for i, st in enumerate(self.a.stages):
            with self.g.subgraph(name=f"cluster_s{i}") as g:
                title = bold(esc(st.stage.name)) if self.detail == "stage" else self._stage_title(st)
                self._cluster_attrs(
                    g, title, STAGE_FILLS[i % len(STAGE_FILLS)], frozen=self.plan.frozen(st.stage.index)
                )
                if self.detail == "stage":
                    cur = self._stage_node(cur, i, st, g)
                else:
                    j = 0  # the index of the group's first block in its stage
                    for group in block_groups(st, self.collapse):
                        cur = self._block(cur, i, j, group, g)
                        j += len(group)
            ends.append(cur)
        for name, layers in (("final", self.a.final), ("head", self.a.head)):  # final: a pre-activation network's
            if layers:
                with self.g.subgraph(name=f"cluster_{name}") as g:
                    self._cluster_attrs(g, name, "#f7f7f7")
                    cur = self._part(cur, name, layers, g)
                if name == "final":
                    ends[-1] = cur
        if self.plan.out_indices:
            self._taps(ends)
        else:
            self._output(cur)
        self._legend()
        return self.g

    def _part(self, cur: _Cursor, name: str, layers: Sequence[LayerInfo], g: Any) -> _Cursor:
        """The stem, the final norm + act or the head: one node per op at layer level, else one node."""
        if self.detail == "layer":
            return self._op_nodes(cur, f"{name}_", layers, g)
        return self._ops_node(cur, name, name, layers, g)

    def _stem_tap_index(self) -> int:
        """Position in the stem of the op whose output is feature map 0 (the last before the pool)."""
        from resnetdsl.features import taps

        module = taps(self.plan)[0].module
        names = [li.op.name for li in self.a.stem]
        return max(k for k, n in enumerate(names) if n == module or n.startswith(module + "."))

    def _taps(self, ends: list[_Cursor]) -> None:
        """The feature maps a multi-scale backbone returns: one output node per tap, fed by a dotted edge from
        where it leaves the network, marked with its shape and stride."""
        from resnetdsl.features import selected

        for k, tap in enumerate(selected(self.plan)):
            src = ends[tap.index]
            name = f"tap{tap.index}"
            what = f"out[{k}] · {tap.module}<br/>{format_shape(src.shape)} · stride {tap.reduction}"
            if tap.dilation > 1:
                what += f" · dil {tap.dilation}"
            self.g.node(name, label=_html(f"<b>feature {tap.index}</b><br/>{what}"), shape="box", style="rounded")
            self.g.edge(
                f"{src.node}:{self.side}",
                f"{name}:{self.fwd[1]}",
                label=_html(esc(f"{format_shape(src.shape)} /{tap.reduction}")),
                style="dotted",
                color="#2b6cb0",
                fontcolor="#2b6cb0",
                weight="1",
            )

    def _cluster_attrs(self, g: Any, label: str, fill: str, *, frozen: bool = False) -> None:
        g.attr(**cluster_attrs(label, fill, frozen=frozen), fontname=FONT, fontsize="11", labeljust="l", margin="10")

    def _stage_title(self, st: StageInfo) -> str:
        s = st.stage
        title = f"{bold(esc(s.name))}  {esc(blocks_title(s))}"
        if s.checkpoint:
            title += esc(" · checkpointed")
        return title + esc(f" · {s.out_channels} ch{stride_text(s.stride)} · {fmt_count(st.totals.params)} params")

    def _stage_node(self, cur: _Cursor, i: int, st: StageInfo, g: Any) -> _Cursor:
        s = st.stage
        uses: dict[str, int] = {}
        for b in s.blocks:
            uses[b.shortcut] = uses.get(b.shortcut, 0) + 1
        shortcuts = ", ".join(f"{n} {use.replace('_', ' ')}" for use, n in uses.items())
        lines = [
            bold(esc(f"{block_title(s.block_kind)} ×{s.depth}")),
            esc(f"{s.in_channels} → {s.out_channels} ch, stride {s.stride}"),
            esc(f"{st.totals.params:,} params · {fmt_macs(st.totals.macs)}"),
            small(esc(f"shortcuts: {shortcuts}")),
        ]
        if s.checkpoint:
            lines.append(small(esc("activation checkpointing")))
        name = f"s{i}"
        self._node(g, name, "<br/>".join(lines))
        self._edge(cur, name)
        return _Cursor(name, st.out_shape)

    def _block_name(self, group: tuple[BlockInfo, ...]) -> str:
        first, last = group[0], group[-1]
        return first.path if len(group) == 1 else f"{first.path} – {last.path}"

    def _block(self, cur: _Cursor, i: int, j: int, group: tuple[BlockInfo, ...], g: Any) -> _Cursor:
        b = group[0]
        blk = b.block
        base = f"s{i}b{j}"  # by position: a name is text, an id must stay an id
        n = len(group)
        title = esc(block_title(blk.kind)) + (f" ×{n}" if n > 1 else "")
        if self.detail == "block":
            return self._block_node(cur, base, title, group, g)
        with g.subgraph(name=f"cluster_{base}") as c:
            label = f"{bold(title)}  {esc(self._block_name(group))}"
            if n > 1:
                label += small(esc("  (identical blocks, drawn once)"))
            c.attr(label=_html(label), style="rounded,filled", fillcolor="white", color="#999999", fontsize="10")
            if n > 1:
                c.attr(peripheries="1", penwidth="2")
            self.block_kinds.add("pre" if is_pre_activated(blk) else "post")
            self._note(li.op for li in b.layers)
            cur = run_block(blk, cur, _LayerNodes(self, c, base, b, each=n > 1))
        return cur

    def _note(self, ops: Iterable[P.Op]) -> None:
        """Remember the legend notes of the ops drawn (channel attention explains its label)."""
        self.legends.update(d for d in map(describe, ops) if d.legend)

    def _block_node(self, cur: _Cursor, base: str, title: str, group: tuple[BlockInfo, ...], g: Any) -> _Cursor:
        b = group[0]
        blk = b.block
        layers = [li for li in b.layers if li.role in ("pre", "main") or (li.role == "post" and not blk.has_add)]
        ops = [li.op for li in layers]
        post = [li.op for li in b.layers if li.role == "post"]
        lines = [f"{bold(title)}  {small(esc(self._block_name(group)))}"]
        pre = is_pre_activated(blk)
        main, tables = self._main_rows(layers, pre)
        lines += main
        self.block_kinds.add("pre" if pre else "post")
        self._note(ops)
        params = b.totals.params
        lines.append(small(esc(f"{params:,} params" + (" each" if len(group) > 1 else ""))))
        attrs: dict[str, str] = {"fillcolor": "white"}
        if len(group) > 1:
            attrs["peripheries"] = "2"
        self._node(g, base, branches.rows_label(lines) if tables else "<br/>".join(lines), **attrs)
        self._edge(cur, base)
        out = _Cursor(base, b.out_shape)
        if blk.has_add:
            add = f"{base}_add"
            post_text = " → ".join(op_text(op) for op in post)
            if post_text:
                self._node(g, add, f"{bold('+')} → {esc(post_text)}", shape="ellipse", margin="0.05,0.02")
            else:
                self._node(g, add, "<b>+</b>", shape="circle", width="0.3", fixedsize="true")
            self._edge(out, add)
            self._shortcut_edge(cur, add, blk, b.out_shape, first=True, last=True, each=len(group) > 1)
            out = _Cursor(add, b.out_shape)
        return out

    def _main_rows(self, layers: Sequence[LayerInfo], pre: bool) -> tuple[list[str], bool]:
        """A block node's main path as rows of label markup, a multi-branch op's as the table of its branches;
        whether there is such a table."""
        parts = branches.main_parts(layers, pre_activation=pre)
        rows = [esc(p) if isinstance(p, str) else branches.table(p) for p in parts]
        return rows, any(not isinstance(p, str) for p in parts)

    def _legend(self) -> None:
        notes = [PRE_ACTIVATION_NOTE] if "pre" in self.block_kinds else []
        notes += [d.legend for d in DESCRIPTIONS.values() if d in self.legends and d.legend]
        notes += sorted(self.notes)
        legend_node(self.g, self.shortcuts_used, notes, frozen_notes(self.plan))


class _LayerNodes(Visitor[_Cursor]):
    """One block at layer level, walked: a node per op (the shortcut's beside the branch), the add node at the
    end of the branch, the shortcut edges into it."""

    _PREFIX: ClassVar[dict[str, str]] = {"pre": "r", "main": "m", "post": "p"}

    def __init__(self, builder: _Builder, cluster: Any, base: str, info: BlockInfo, *, each: bool) -> None:
        self.b, self.c, self.base, self.blk, self.each = builder, cluster, base, info.block, each
        self.layers = iter(info.layers)  # in walk order
        self.count: dict[str, int] = {}

    def op(self, op: P.Op, x: _Cursor, part: Part) -> _Cursor:
        li = next(self.layers)
        k = self.count.get(part, 0)
        self.count[part] = k + 1
        if part == "shortcut":
            name = f"{self.base}_c{k}"
            self.c.node(name, label=_html(self.b._op_label(li)), fillcolor=_fill(op), group=self.base)
            self.b._shortcut_edge(x, name, self.blk, x.shape, first=k == 0, last=False, each=self.each)
            return _Cursor(name, li.out_shape)
        return self.b._layer(self.c, f"{self.base}_{self._PREFIX[part]}{k}", li, x)

    def branch_end(self, x: _Cursor) -> _Cursor:
        if self.blk.has_add:
            add = f"{self.base}_add"
            self.b._node(self.c, add, "<b>+</b>", shape="circle", width="0.3", fixedsize="true", fillcolor="white")
            self.b._edge(x, add)
        return x

    def add(self, main: _Cursor, shortcut: _Cursor) -> _Cursor:
        add = f"{self.base}_add"
        first = not self.count.get("shortcut")
        self.b._shortcut_edge(shortcut, add, self.blk, main.shape, first=first, last=True, each=self.each)
        return _Cursor(add, main.shape)


def analysis_for(plan: P.Plan, input_shape: InputSize | None = None) -> Analysis:
    """The analysis a diagram of ``plan`` shows (at ``input_shape``: ``H``, ``(H, W)`` or ``(C, H, W)``; default
    the spec's input), checked as every command checks it.

    Raises:
        SpecError: the input is too small for the network.
    """
    from resnetdsl.check import check

    return check(plan, input_size=input_shape).analysis


def dot_of(
    analysis: Analysis, *, detail: Detail = "block", collapse: bool | None = None, rankdir: RankDir = "TB"
) -> DotGraph:
    """The diagram of an analysed plan as DOT lines (:class:`~resnetdsl.render.dot.DotGraph`: no graphviz import);
    what :func:`digraph_of` returns, before it becomes a ``graphviz.Digraph``. Linear in the blocks drawn.

    Raises:
        ValueError: an unknown ``detail`` or ``rankdir``.
    """
    if detail not in DETAILS:
        raise ValueError(f"detail must be one of {', '.join(DETAILS)}, got '{detail}'")
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"rankdir must be TB or LR, got '{rankdir}'")
    return _Builder(analysis, detail, collapse, rankdir).build()
