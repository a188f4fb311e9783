"""Multi-branch ops, drawn from what their descriptions say (:meth:`resnetdsl.ops.base.OpType.branches`).

At layer level the op is a cluster of its own (its module name and torch layer as the title) holding its
:class:`~resnetdsl.ops.branches.Branches` graph: every node, every edge labelled with the C×H×W of its tensor, gate
edges dotted. At block level its line of the block's node becomes a small table: what runs before the branches,
the branches side by side in their fills, and how they merge. Nothing here knows an op type.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from resnetdsl import plan as P
from resnetdsl.analyze import LayerInfo, format_shape
from resnetdsl.ops import describe
from resnetdsl.ops.branches import GATE_COLOR, IN, Branches, Node
from resnetdsl.render.labels import bold, esc, html_label, main_lines, small

GATE_NOTE = "dotted: attention weights that scale the branches before their sum"
"""The legend's note when a layer-level diagram draws gate edges."""

Edge = Callable[[str, tuple[int, ...], str], None]
"""Draws a data edge: tail node, the tail's shape (the edge's label), head node."""


def main_parts(layers: Sequence[LayerInfo], *, pre_activation: bool = False) -> list[str | Branches]:
    """A block node's main path: the lines of :func:`~resnetdsl.render.labels.main_lines` (raw text), a
    multi-branch op as its :class:`Branches` in their place."""
    out: list[str | Branches] = []
    run: list[P.Op] = []
    for li in layers:
        inside = describe(li.op).branches(li.op, li.in_shape)
        if inside is None:
            run.append(li.op)
            continue
        out += main_lines(run, pre_activation=pre_activation)
        out.append(inside)
        run = []
    return out + main_lines(run, pre_activation=pre_activation)


def as_data(b: Branches) -> dict[str, Any]:
    """``b`` as plain data (the HTML page's model): nodes, edges ``[tail, head, kind]``, columns, before, after."""
    return {
        "nodes": [n._asdict() for n in b.nodes],
        "edges": [list(e) for e in b.edges],
        "columns": [list(c) for c in b.columns],
        "before": b.before,
        "after": b.after,
    }


def table(b: Branches) -> str:
    """The block-level markup of a multi-branch op: a row before, the branches side by side, a row after."""
    n = len(b.columns)
    rows = [f'<tr><td colspan="{n}">{esc(b.before)}</td></tr>'] if b.before else []
    cells = "".join(
        f'<td bgcolor="{fill}" border="1" color="#999999" style="rounded">{esc(words)}</td>'
        for words, fill in b.columns
    )
    rows.append(f"<tr>{cells}</tr>")
    if b.after:
        rows.append(f'<tr><td colspan="{n}">{esc(b.after)}</td></tr>')
    return f'<table border="0" cellborder="0" cellspacing="3" cellpadding="2">{"".join(rows)}</table>'


def rows_label(rows: list[str]) -> str:
    """Lines of label markup as one table (a label that holds a table must be a table itself)."""
    cells = "".join(f"<tr><td>{row}</td></tr>" for row in rows if row)
    return f'<table border="0" cellborder="0" cellspacing="0" cellpadding="1">{cells}</table>'


def _node_attrs(node: Node, first: bool, last: bool) -> dict[str, str]:
    attrs: dict[str, str] = {"fillcolor": node.fill}
    if node.kind == "merge":
        attrs.update(shape="circle" if node.label == "+" else "ellipse", margin="0.04,0.02", fillcolor="white")
        if node.label == "+":
            attrs.update(width="0.3", fixedsize="true")
    elif node.kind == "split":
        attrs.update(fillcolor="#f7f7f7", fontsize="9", margin="0.06,0.02")
    if first or last:
        attrs["group"] = "main"  # the op's input and output stay on the main line
    return attrs


def draw(
    g: Any, top: Any, base: str, title: str, b: Branches, tail: str, shape: tuple[int, ...], edge: Edge
) -> tuple[str, tuple[int, ...]]:
    """Draw ``b`` at layer level as the cluster ``cluster_<base>`` of ``g`` (a subgraph of the diagram ``top``),
    fed by the node ``tail`` whose output has ``shape``; returns the op's output node and shape."""
    shapes: dict[str, tuple[int, ...]] = {IN: shape}
    ids = {IN: tail}
    with g.subgraph(name=f"cluster_{base}") as c:
        c.attr(label=html_label(title), style="rounded,dashed", color="#aaaaaa", fontsize="9", margin="6")
        for k, node in enumerate(b.nodes):
            ids[node.key] = f"{base}_{node.key}"
            shapes[node.key] = node.shape
            label = esc(node.label) + (f"  {small(esc(node.name), size=8)}" if node.name else "")
            c.node(ids[node.key], label=html_label(label), **_node_attrs(node, k == 0, k == len(b.nodes) - 1))
    for e in b.edges:
        if e.kind == "gate":
            top.edge(
                ids[e.tail],
                ids[e.head],
                label=html_label(esc(format_shape(shapes[e.tail]))),
                style="dotted",
                color=GATE_COLOR,
                fontcolor=GATE_COLOR,
                penwidth="1.4",
                weight="1",
            )
        else:
            edge(ids[e.tail], shapes[e.tail], ids[e.head])
    return ids[b.out.key], b.out.shape


def title(name: str, torch_name: str) -> str:
    """The cluster title of a multi-branch op: its module name and its torch layer."""
    return f"{bold(esc(name))}  {small(esc(torch_name), size=8)}"
