"""What a multi-branch op draws inside itself (:meth:`OpType.branches`): its branches and how they merge.

A composite op that runs branches side by side (a selective kernel's dilated 3×3s, split attention's radix splits,
Res2Net's hierarchical split) describes them once, as a small graph of :class:`Node` and :class:`Edge`
with the C×H×W of every node's output; the diagrams draw it (at layer level every node and edge, inside a cluster
of the op; at block level the parallel branches side by side with what runs before and after them). Nothing here
is read by the numbers: shapes, parameters and costs stay the description's own (``infer``, ``entries``).
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Literal, NamedTuple

from resnetdsl.ops.base import Shape

IN = "in"
"""The tail of an edge that reads the op's input."""

NodeKind = Literal["layer", "merge", "split"]
"""A ``layer`` (a module or a tensor operation with words: a conv, a pool, a softmax), a ``merge`` of branches
(drawn small and round: ``+``, a weighted sum) or a ``split`` of channels into branches (drawn small)."""

EdgeKind = Literal["data", "gate"]
"""``data``: a tensor flows; ``gate``: attention weights that scale the head's other inputs (drawn dotted)."""

GATE_COLOR = "#b7791f"
"""The ink of a gate edge."""

_KEY = re.compile(r"[a-z][a-z0-9_]*")


class Node(NamedTuple):
    key: str
    """Its id inside the op (``p0``, ``sum``): lower-case letters, digits and ``_``; not :data:`IN`."""
    label: str
    """What it does, in the op's words (``3×3 conv, 64, dil 2, BN, ReLU``)."""
    shape: Shape
    """Its output, C×H×W (a flat vector of C values is C×1×1): the label of every edge leaving it."""
    name: str = ""
    """Its module, relative to the op's (``paths.1``, ``attn.fc_reduce``); empty for a tensor operation."""
    fill: str = "#ffffff"
    kind: NodeKind = "layer"


class Edge(NamedTuple):
    tail: str
    """A node's key, or :data:`IN`."""
    head: str
    kind: EdgeKind = "data"


class Branches(NamedTuple):
    """The branches of a multi-branch op and how they merge.

    At layer level the diagram draws :attr:`nodes` (the last is the op's output) and :attr:`edges`; at block level
    one row :attr:`before` the branches (if any), the :attr:`columns` side by side, each in its fill, and one row
    :attr:`after` them (how they merge).
    """

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    columns: tuple[tuple[str, str], ...]
    """Block level: each parallel branch as (words, fill)."""
    before: str = ""
    """Block level: what runs before the branches (``split into 2 × 32 ch``); empty: nothing."""
    after: str = ""
    """Block level: how the branches merge (``+ → softmax over the 2 branches → weighted sum``)."""

    @property
    def out(self) -> Node:
        return self.nodes[-1]


def chain(*keys: str) -> tuple[Edge, ...]:
    """Data edges through ``keys`` in turn (``chain("sum", "pool", "fc")``: sum → pool → fc)."""
    return tuple(Edge(t, h) for t, h in pairwise(keys))


def weighted_sum(
    branches: tuple[str, ...], out: Shape, squeeze: Node, expand: Node, gate: Node, select: str = "× weights, +"
) -> tuple[tuple[Node, ...], tuple[Edge, ...]]:
    """The fuse-and-select tail of attention over branches (SKNet's fuse and select, ResNeSt's split attention):
    the ``branches``' sum ``+``, its global average, the ``squeeze`` and ``expand`` 1×1 convs, the ``gate`` (a
    softmax over the branches), and the ``select`` merge that every branch feeds and the gate weighs (a gate
    edge). Keys: ``sum``, ``pool``, the three nodes' own, ``select``."""
    from resnetdsl.ops.pool import POOL_FILL

    nodes = (
        Node("sum", "+", out, kind="merge"),
        Node("pool", "global avgpool", (out[0], 1, 1), fill=POOL_FILL),
        squeeze,
        expand,
        gate,
        Node("select", select, out, kind="merge"),
    )
    edges = tuple(Edge(k, "sum") for k in branches) + chain("sum", "pool", squeeze.key, expand.key, gate.key)
    edges += (*(Edge(k, "select") for k in branches), Edge(gate.key, "select", "gate"))
    return nodes, edges


def problems(b: Branches) -> list[str]:
    """What is wrong with ``b`` as a drawing (no problem: an empty list): keys, edge ends, a node no edge
    reaches or that leads nowhere."""
    out: list[str] = []
    keys = [n.key for n in b.nodes]
    if not keys:
        return ["no nodes"]
    for k in keys:
        if not _KEY.fullmatch(k) or k == IN:
            out.append(f"bad node key {k!r}")
    if len(set(keys)) != len(keys):
        out.append("node keys repeat")
    known = set(keys)
    for e in b.edges:
        if (e.tail != IN and e.tail not in known) or e.head not in known:
            out.append(f"edge {e.tail} → {e.head} names an unknown node")
    heads = {e.head for e in b.edges}
    tails = {e.tail for e in b.edges}
    if IN not in tails:
        out.append("no edge reads the op's input")
    out += [f"no edge into {k}" for k in keys if k not in heads]
    out += [f"no edge out of {k}" for k in keys[:-1] if k not in tails]
    if not b.columns:
        out.append("no columns")
    return out
