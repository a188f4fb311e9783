"""Multi-branch ops in diagrams (issue 18) and the shortcut edges' ports and label margins (issue 22, item 11).

A selective kernel, split attention and any op whose description returns ``branches`` are drawn from that
description: at layer level a cluster of the op with every branch, merge and gate, C×H×W on every edge; at block
level the branches side by side. A test-only op type with branches is drawn without any change to render/.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
from xml.etree import ElementTree as ET

import pytest

import resnetdsl
from resnetdsl import plan as P
from resnetdsl.analyze import analyze, format_shape
from resnetdsl.ops import DESCRIPTIONS, describe
from resnetdsl.ops.base import OpType, Shape, Tracker
from resnetdsl.ops.branches import IN, Branches, Edge, Node, chain, problems

R = importlib.import_module("resnetdsl.render")
G = importlib.import_module("resnetdsl.render.graph")
D = importlib.import_module("resnetdsl.render.diagram")

SVG = "{http://www.w3.org/2000/svg}"
SMALL = {"input": {"channels": 3, "size": [64, 64]}}
"""Small inputs: the drawings' structure does not depend on the size."""

EDGE = re.compile(r"^\s*(\S+) -> (\S+) \[(.*)\]$", re.M)


def _plan(name: str, **changes: object) -> P.Plan:
    return resnetdsl.plan_of(name, overrides={"input.size": [64, 64], **changes})


def _dot(name: str, detail: str) -> str:
    return str(resnetdsl.render(_plan(name), detail=detail).source)


def _branching_ops(plan: P.Plan) -> list[tuple[P.Op, Shape]]:
    return [
        (li.op, li.in_shape)
        for st in analyze(plan).stages
        for b in st.blocks
        for li in b.layers
        if describe(li.op).branches(li.op, li.in_shape) is not None
    ]


@pytest.mark.parametrize("name", ["skresnet50", "resnest50d", "res2net50_26w_4s"])
def test_branches_are_well_formed_and_end_in_the_ops_output(name: str) -> None:
    ops = _branching_ops(_plan(name))
    assert ops
    for op, x in ops:
        b = describe(op).branches(op, x)
        assert b is not None and problems(b) == []
        assert b.out.shape == describe(op).infer(op, x)[0]


def test_problems_say_what_is_wrong() -> None:
    n = Node("a", "a", (1, 1, 1))
    assert problems(Branches((), (), ())) == ["no nodes"]
    assert problems(Branches((n,), (Edge(IN, "a"),), (("a", "#fff"),))) == []
    assert problems(Branches((n, n._replace(key="B")), (Edge(IN, "a"), Edge("a", "x")), ())) == [
        "bad node key 'B'",
        "edge a → x names an unknown node",
        "no edge into B",
        "no columns",
    ]


def test_selective_kernel_at_layer_level_draws_each_branch_and_the_gate() -> None:
    dot = _dot("skresnet50", "layer")
    # layer1.0's conv2: split 2 × 32 ch, two branches (dilation 1 and 2), their sum, the attention, the weighted sum
    m = "s0b0_m1"
    assert f"subgraph cluster_{m} {{" in dot
    for key, words in [
        ("split", "split 2 × 32 ch"),
        ("p0", "3×3 conv, 64, BN, ReLU"),
        ("p1", "3×3 conv, 64, dil 2, BN, ReLU"),
        ("sum", "+"),
        ("pool", "global avgpool"),
        ("reduce", "1×1 conv, 8, BN, ReLU"),
        ("expand", "1×1 conv, 64×2"),
        ("softmax", "softmax over the 2 branches"),
        ("select", "× weights, +"),
    ]:
        assert re.search(rf"\b{m}_{key} \[label=<{re.escape(words)}[ <>]", dot), key
    edges = {(t.split(":")[0], h.split(":")[0]): attrs for t, h, attrs in EDGE.findall(dot)}
    assert "label=<32×16×16>" in edges[(f"{m}_split", f"{m}_p1")]
    assert "label=<64×16×16>" in edges[(f"{m}_p1", f"{m}_select")]
    gate = edges[(f"{m}_softmax", f"{m}_select")]
    assert "style=dotted" in gate and "label=<128×1×1>" in gate
    assert "dotted: attention weights" in dot  # the legend explains the gate edge


def test_split_attention_at_layer_level_draws_the_radix_splits() -> None:
    dot = _dot("resnest50d", "layer")
    m = "s0b0_m3"  # layer1.0: conv1, bn1, act1, then the split attention
    for key, words in [
        ("conv", "3×3 conv, 128, g2, BN, ReLU"),
        ("s0", "split 1"),
        ("s1", "split 2"),
        ("fc1", "1×1 conv, 32, BN, ReLU"),
        ("fc2", "1×1 conv, 128"),
        ("gate", "softmax over the 2 splits"),
    ]:
        assert re.search(rf"\b{m}_{key} \[label=<{re.escape(words)}[ <>]", dot), key
    assert f"{m}_gate -> {m}_select" in dot


def test_res2net_at_layer_level_draws_the_hierarchical_split() -> None:
    """Res2Net's split describes itself (ops/res2net.py) and draws with no change to the renderer: in a stage's first
    block the splits run apart and the last is pooled; in the others each conv reads its split plus the previous
    conv's output."""
    dot = re.sub(r":[nsew]\b", "", _dot("res2net50_26w_4s", "layer"))  # edges without their ports
    first, second = "s0b0_m3", "s0b1_m3"  # conv1, bn1, act1, then the split
    for m in (first, second):
        assert re.search(rf"\b{m}_split \[label=<split 4 × 26 ch[ <>]", dot)
        assert re.search(rf"\b{m}_c2 \[label=<{re.escape('3×3 conv, 26, BN, ReLU')}[ <>]", dot)
        assert f"{m}_c2 -> {m}_concat" in dot
    assert f"{first}_pool -> {first}_concat" in dot and f"{first}_add1" not in dot
    assert f"{second}_c0 -> {second}_add1" in dot and f"{second}_add1 -> {second}_c1" in dot
    assert f"{second}_split -> {second}_concat" in dot and f"{second}_pool" not in dot


@pytest.mark.parametrize("name", ["skresnet50", "resnest50d", "resnetblur50", "resnetaa50d", "res2net50_26w_4s"])
@pytest.mark.parametrize("detail", ["block", "layer"])
def test_every_edge_carries_a_shape(name: str, detail: str) -> None:
    root = ET.fromstring(R.layout(_dot(name, detail), "svg"))
    edges = [g for g in root.iter(f"{SVG}g") if g.get("class") == "edge"]
    assert edges
    for e in edges:
        texts = [t.text or "" for t in e.iter(f"{SVG}text")]
        assert any(re.fullmatch(r"\d+(×\d+×\d+)?", t) for t in texts), texts


def test_block_level_shows_the_branches_side_by_side() -> None:
    dot = _dot("skresnet50", "block")
    node = next(line for line in dot.splitlines() if line.strip().startswith("s0b0 [label="))
    assert "SK conv, 64: input split 2 × 32 ch" in node
    cells = re.findall(r'<td bgcolor="[^"]+" border="1"[^>]*>([^<]+)</td>', node)
    assert cells == ["3×3 conv, 64, BN, ReLU", "3×3 conv, 64, dil 2, BN, ReLU"]
    assert "softmax over the 2 branches → weighted sum" in node
    dot = _dot("resnest50d", "block")
    node = next(line for line in dot.splitlines() if line.strip().startswith("s1b0 [label="))
    assert re.findall(r'<td bgcolor="[^"]+" border="1"[^>]*>([^<]+)</td>', node) == [
        "split 1: 128 ch",
        "split 2: 128 ch",
    ]


def test_blur_pool_is_on_the_downsampling_path() -> None:
    dot = _dot("resnetblur50", "layer")
    # layer2.0: the 3×3 conv at stride 1 (conv2, bn2, act2), then the blur pool /2 on the main path, halving the map
    assert re.search(r"s1b0_m3 \[label=<3×3 conv, 128  ", dot)
    assert re.search(r"s1b0_m6 \[label=<3×3 blur pool /2  .*>aa<", dot)
    assert "s1b0_m5:s -> s1b0_m6:n [label=<128×16×16>" in dot
    assert "s1b0_m6:s -> s1b0_m7:n [label=<128×8×8>" in dot
    assert "anti-aliasing" in dot  # the legend's note


# --- a new op type draws its branches by describing them ----------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Fork:
    """Test-only: two parallel 3×3 paths whose outputs are added (shape kept)."""

    name: str
    channels: int


class ForkType(OpType[Fork]):
    op = Fork
    family = "conv"

    def saves(self, op: Fork, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        return t.new(size_out)

    def torch_name(self, op: Fork) -> str:
        return "Fork"

    def label(self, op: Fork) -> str:
        return "fork"

    def branches(self, op: Fork, x: Shape) -> Branches:
        nodes = (Node("a", "left path", x, "a"), Node("b", "right path", x, "b"), Node("sum", "+", x, kind="merge"))
        edges = (Edge(IN, "a"), Edge(IN, "b"), *chain("a", "sum"), *chain("b", "sum"))
        return Branches(nodes, edges, (("left path", "#ffffff"), ("right path", "#ffffff")), "fork", "summed")


def test_a_new_op_type_draws_its_branches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(DESCRIPTIONS, Fork, ForkType())
    plan = _plan("resnet18")
    stage = plan.stages[0]
    block = stage.blocks[0]
    block = dataclasses.replace(block, main=(*block.main, Fork("fork", block.out_channels)))
    plan = dataclasses.replace(
        plan, stages=(dataclasses.replace(stage, blocks=(block, *stage.blocks[1:])), *plan.stages[1:])
    )
    analysis = analyze(plan)
    layer = D.digraph_of(analysis, detail="layer").source
    m = f"s0b0_m{len(block.main) - 1}"
    assert f"subgraph cluster_{m} {{" in layer
    shape = format_shape(analysis.stages[0].blocks[0].out_shape)
    assert f"{m}_a:s -> {m}_sum:n [label=<{shape}>" in layer
    block_level = D.digraph_of(analysis, detail="block").source
    assert '<td colspan="2">fork</td>' in block_level and ">right path</td>" in block_level
    R.layout(layer, "svg")  # Graphviz draws it without a warning


# --- shortcut edges: ports and label margin (issue 22, item 11) ---------------------------------------------


@pytest.mark.parametrize(("rankdir", "tail", "head"), [("TB", "se", "e"), ("LR", "se", "s")])
def test_shortcuts_leave_low_and_enter_on_the_side(rankdir: str, tail: str, head: str) -> None:
    """At an add where one block's shortcut arrives and the next block's leaves, the two meet the node at
    different ports, so the arrowhead does not sit on the next edge (resnet18's PNG had the dashed projection's
    arrowhead on the identity edge leaving the same point); the words have a margin the curve keeps off."""
    dot = str(resnetdsl.render("resnet18", detail="block", rankdir=rankdir).source)
    shortcuts = [attrs for _, _, attrs in EDGE.findall(dot) if "weight=1" in attrs and "style=" in attrs]
    assert len(shortcuts) == 8
    for attrs in shortcuts:
        assert f"tailport={tail} " in attrs and f"headport={head} " in attrs
        assert attrs.startswith('label=<<table border="0" cellborder="0" cellspacing="0" cellpadding="4">')
    assert G.SHORTCUT_PORTS[rankdir] == (tail, head)


def _point(text: str) -> tuple[float, float]:
    x, y = text.split(",")
    return float(x), float(y)


@pytest.mark.parametrize("rankdir", ["TB", "LR"])
def test_no_shortcut_arrowhead_sits_where_the_next_shortcut_starts(rankdir: str) -> None:
    """Laid out, at every add where a shortcut arrives and the next block's leaves, the arrowhead's tip and the
    next edge's first point are apart (before: both at the add's east point, the arrowhead over the next edge)."""
    svg = ET.fromstring(R.layout(resnetdsl.render("resnet18", rankdir=rankdir).source, "svg"))
    tips: dict[str, list[tuple[float, float]]] = {}
    starts: dict[str, tuple[float, float]] = {}
    for e in (g for g in svg.iter(f"{SVG}g") if g.get("class") == "edge"):
        title = e.find(f"{SVG}title")
        path, head = e.find(f"{SVG}path"), e.find(f"{SVG}polygon")
        assert title is not None and path is not None and head is not None
        tail, _, to = (title.text or "").replace("->", "→").partition("→")
        if path.get("stroke") == "#222222":  # the main path
            continue
        tips[to.split(":")[0]] = [_point(p) for p in (head.get("points") or "").split()]
        starts[tail.split(":")[0]] = _point((path.get("d") or "")[1:].split("C")[0])
    shared = sorted(set(tips) & set(starts))
    assert len(shared) == 7  # every add but the last
    for add in shared:
        x1, y1 = starts[add]
        assert min(((x0 - x1) ** 2 + (y0 - y1) ** 2) ** 0.5 for x0, y0 in tips[add]) >= 8, add
