"""Graphviz diagrams: golden DOT, what the laid-out SVG shows, engines, files, the CLI and label escaping."""

from __future__ import annotations

import dataclasses
import html
import importlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree as ET

import pygraphviz
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as hs

import resnetdsl
from resnetdsl import plan as P
from resnetdsl.analyze import analyze
from resnetdsl.ops import describe
from resnetdsl.plan import Plan
from tests.conftest import ROOT, run_cli

R = importlib.import_module("resnetdsl.render")  # the package; ``resnetdsl.render`` is the function
E = importlib.import_module("resnetdsl.render.engine")
G = importlib.import_module("resnetdsl.render.graph")

SVG = "{http://www.w3.org/2000/svg}"
SHAPE_TEXT = re.compile(r"^\d+(×\d+×\d+)?$")
TINY = {
    "name": "tiny",
    "input": {"channels": 3, "size": [32, 32]},
    "stem": {"kind": "conv3", "width": 16, "pool": "none"},
    "stages": [{"depth": 2, "width": 16}, {"depth": 2, "width": 32, "stride": 2}],
    "head": {"num_classes": 10},
}


def _spec(**changes: object) -> dict[str, object]:
    return {**TINY, **changes}


def _named(name: str = "tiny", description: str = "") -> Plan:
    """TINY's plan with any name and description, as a Spec or Plan built in Python may carry them (the loader's
    own checks are not involved)."""
    return dataclasses.replace(resnetdsl.plan_of(TINY), name=name, description=description)


def _svg(dot_source: str) -> ET.Element:
    return ET.fromstring(R.layout(dot_source, "svg"))


def _edges(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == "edge"]


def _is_dashed(edge: ET.Element) -> bool:
    path = edge.find(f"{SVG}path")
    return path is not None and path.get("stroke-dasharray") is not None


def _texts(el: ET.Element) -> list[str]:
    return [t.text or "" for t in el.iter(f"{SVG}text")]


def _projections_drawn(plan: Plan, detail: str, collapse: bool | None) -> int:
    """Dashed edges the diagram must have (the rule, exactly).

    Block level: one dashed edge per drawn block node whose shortcut projects (``projection``,
    ``avgpool_projection``). A collapsed ``×N`` node stands for N identical blocks and draws one edge, so the
    count is over drawn groups; in every preset projections sit only where the shape changes, which never
    repeats, so there it equals the plan's count (asserted separately). Layer level: a projection's shortcut
    ops are nodes and every edge of that path is dashed, ``len(shortcut_ops) + 1`` per drawn group.
    """
    analysis = analyze(plan)
    total = 0
    for st in analysis.stages:
        for group in R.block_groups(st, collapse):
            b = group[0].block
            if b.shortcut in R.PROJECTIONS:
                total += 1 if detail == "block" else len(b.shortcut_ops) + 1
    return total


def _plan_projections(plan: Plan) -> int:
    return sum(1 for _, b in plan.blocks() if b.shortcut in ("projection", "avgpool_projection"))


# --- golden DOT ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("detail", ["stage", "block", "layer"])
@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_golden_dot(name: str, detail: str, golden: Callable[[str, str], None]) -> None:
    source = resnetdsl.render(name, detail=detail).source
    assert resnetdsl.render(name, detail=detail).source == source  # byte-identical across runs
    golden(f"render/{name}.{detail}.dot", source)


# --- what the drawing shows ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", resnetdsl.presets())
def test_dashed_edges_are_the_projections(name: str) -> None:
    plan = resnetdsl.plan_of(name)
    root = _svg(resnetdsl.render(plan, detail="block").source)
    dashed = sum(_is_dashed(e) for e in _edges(root))
    assert dashed == _projections_drawn(plan, "block", None) == _plan_projections(plan)


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "tutorial_resnet18", "cifar_resnet20", "resnet101"])
def test_dashed_edges_at_layer_level(name: str) -> None:
    plan = resnetdsl.plan_of(name)
    root = _svg(resnetdsl.render(plan, detail="layer").source)
    assert sum(_is_dashed(e) for e in _edges(root)) == _projections_drawn(plan, "layer", None)


@pytest.mark.parametrize("collapse", [True, False])
@pytest.mark.parametrize("policy", ["projection_all", "avgpool_projection"])
def test_dashed_rule_with_projections_in_collapsed_runs(policy: str, collapse: bool) -> None:
    spec = _spec(
        defaults={"shortcut": policy}, stages=[{"depth": 4, "width": 16}, {"depth": 3, "width": 32, "stride": 2}]
    )
    plan = resnetdsl.plan_of(spec)
    for detail in ("block", "layer"):
        root = _svg(resnetdsl.render(plan, detail=detail, collapse=collapse).source)
        dashed = sum(_is_dashed(e) for e in _edges(root))
        assert dashed == _projections_drawn(plan, detail, collapse)
    if policy == "projection_all":  # every block projects; collapsed: [4 identical], [first, 2 identical]
        assert _projections_drawn(plan, "block", collapse) == (7 if not collapse else 3)


@pytest.mark.parametrize("name", ["resnet50", "cifar_resnet56"])
@pytest.mark.parametrize("detail", ["stage", "block", "layer"])
def test_every_edge_carries_a_shape(name: str, detail: str) -> None:
    plan = resnetdsl.plan_of(name)
    analysis = analyze(plan)
    root = _svg(resnetdsl.render(plan, detail=detail).source)
    edges = _edges(root)
    assert edges
    for e in edges:
        assert any(SHAPE_TEXT.match(t) for t in _texts(e)), _texts(e)
    shown = {t for e in edges for t in _texts(e)}
    for st in analysis.stages:
        assert "×".join(map(str, st.out_shape)) in shown
    assert "×".join(map(str, analysis.input_shape)) in shown
    assert str(analysis.output_shape[0]) in shown


def test_shortcut_labels_say_what_they_do() -> None:
    texts = set(_texts(_svg(resnetdsl.render("resnet18").source)))
    assert {"identity", "1×1 conv /2 + BN"} <= texts
    texts = set(_texts(_svg(resnetdsl.render("cifar_resnet20").source)))
    assert "zero-pad /2" in texts
    avgdown = resnetdsl.plan_of(_spec(defaults={"shortcut": "avgpool_projection"}))
    assert "avgpool /2 → 1×1 conv + BN" in set(_texts(_svg(resnetdsl.render(avgdown).source)))
    tutorial = set(_texts(_svg(resnetdsl.render("tutorial_resnet18").source)))
    assert "1×1 conv /2" in tutorial  # the tutorial's bare conv: no BN


def _edge_colors(root: ET.Element) -> list[str]:
    return [p.get("stroke") or "" for e in _edges(root) for p in e.iter(f"{SVG}path")]


def test_option_a_shortcut_that_only_strides_says_subsample() -> None:
    # the width stays 16 across the stride: option A adds no channels, it only subsamples
    spec = _spec(
        defaults={"shortcut": "identity_pad"},
        stages=[{"depth": 1, "width": 16}, {"depth": 1, "width": 16, "stride": 2}],
    )
    plan = resnetdsl.plan_of(spec)
    assert [b.shortcut for _, b in plan.blocks()] == ["identity", "pad"]
    for detail in ("block", "layer"):
        texts = set(_texts(_svg(resnetdsl.render(plan, detail=detail).source)))
        assert "subsample /2" in texts and "subsample: x strided, no parameters" in texts
        assert not any("zero-pad" in t for t in texts)
    # with extra channels it is the zero-pad of option A
    texts = set(_texts(_svg(resnetdsl.render("cifar_resnet20").source)))
    assert "zero-pad /2" in texts and "zero-pad: subsample, add zero channels" in texts
    assert not any(t == "subsample /2" for t in texts)


def test_stride_one_avgpool_projection_is_drawn_as_a_projection() -> None:
    # resnet50d's layer1.0 projects 64 → 256 at stride 1: its avg-pool is an Identity, so it is a plain projection
    plan = resnetdsl.plan_of("resnet50d")
    first = plan.stages[0].blocks[0]
    assert first.shortcut == "avgpool_projection" and not any(isinstance(op, P.Pool) for op in first.shortcut_ops)
    assert R.shortcut_style(first) == "projection"
    assert R.shortcut_style(plan.stages[1].blocks[0]) == "avgpool_projection"
    root = _svg(resnetdsl.render(plan).source)
    colors = _edge_colors(root)
    projection, avgpool = G.SHORTCUT_STYLE["projection"]["color"], G.SHORTCUT_STYLE["avgpool_projection"]["color"]
    assert colors.count(projection) == 1 and colors.count(avgpool) == 3  # layer1.0; layer2.0, layer3.0, layer4.0
    texts = set(_texts(root))
    assert "projection: 1×1 conv matches shape" in texts and "avg-pool → 1×1 conv matches shape" in texts
    assert "1×1 conv + BN" in texts and "avgpool /2 → 1×1 conv + BN" in texts


def test_conv_stem_pool_is_drawn_as_a_pool() -> None:
    spec = _spec(stem={"kind": "deep", "width": 32, "pool": "conv"})
    plan = resnetdsl.plan_of(spec)
    assert [op.name for op in plan.stem[-3:]] == ["maxpool.0", "maxpool.1", "maxpool.2"]
    block = pygraphviz.AGraph(string=resnetdsl.render(plan).source)  # kept: its nodes live as long as it does
    lines = _unlabel(block.get_node("stem").attr["label"]).split("\n")
    assert lines == [
        "stem",
        "3×3 conv, 16 /2 · BN · ReLU",
        "3×3 conv, 16 · BN · ReLU",
        "3×3 conv, 32 · BN · ReLU",
        "3×3 conv pool, 32 /2 · BN · ReLU",
    ]
    layer = pygraphviz.AGraph(string=resnetdsl.render(plan, detail="layer").source)
    pool = next(n for n in layer.nodes() if "maxpool.0" in n.attr["label"])
    assert _unlabel(pool.attr["label"]) == "3×3 conv pool, 32 /2  maxpool.0"
    assert pool.attr["fillcolor"] == describe(P.Pool("p", "max", 3, 2)).fill  # drawn as the pool it replaces


def test_plain_network_draws_no_shortcut() -> None:
    plan = resnetdsl.plan_of(_spec(defaults={"shortcut": "none"}))
    dot = resnetdsl.render(plan).source
    assert "_add" not in dot and "legend" not in dot
    root = _svg(dot)
    assert not any(_is_dashed(e) for e in _edges(root))
    # input→stem, stem→4 blocks, →head, →output: a straight chain of 7 edges
    assert len(_edges(root)) == 7


def test_title_and_legend() -> None:
    texts = _texts(_svg(resnetdsl.render("resnet50").source))
    assert "resnet50" in texts
    assert any("25,557,032 params" in t and "4.09 GMACs" in t and "3×224×224" in t for t in texts)
    assert "identity: x added unchanged" in texts and "projection: 1×1 conv matches shape" in texts


def test_layer_level_draws_every_op() -> None:
    plan = resnetdsl.plan_of("resnet18")
    dot = resnetdsl.render(plan, detail="layer", collapse=False).source
    graph = pygraphviz.AGraph(string=dot)
    n_ops = sum(1 for _ in plan.named_ops())
    n_adds = sum(1 for _, b in plan.blocks() if b.has_add)
    assert graph.number_of_nodes() == n_ops + n_adds + 3  # + input, output, legend
    clusters = {sg.name for sg in graph.subgraphs()}
    assert {f"cluster_s{i}" for i in range(4)} <= clusters
    assert {f"cluster_s{i}b{j}" for i in range(4) for j in range(2)} <= {
        sub.name for sg in graph.subgraphs() for sub in sg.subgraphs()
    }


def test_stage_level_one_node_per_stage() -> None:
    plan = resnetdsl.plan_of("resnet34")
    graph = pygraphviz.AGraph(string=resnetdsl.render(plan, detail="stage").source)
    assert graph.number_of_nodes() == 4 + 4  # stages + input, stem, head, output (no legend)
    label = graph.get_node("s1").attr["label"]
    assert "BasicBlock ×4" in label and "64 → 128 ch, stride 2" in label


def test_collapse_cifar_resnet1202() -> None:
    plan = resnetdsl.plan_of("cifar_resnet1202")
    collapsed = pygraphviz.AGraph(string=resnetdsl.render(plan).source)
    labels = [collapsed.get_node(n).attr["label"] for n in collapsed.nodes()]
    counts = [int(m.group(1)) for lab in labels for m in re.finditer(r"BasicBlock ×(\d+)", lab)]
    assert counts == [200, 199, 199]
    singles = sum(1 for lab in labels if re.search(r"<b>BasicBlock</b>", lab))
    assert sum(counts) + singles == 600  # every block accounted for
    assert collapsed.number_of_nodes() < 20
    expanded = pygraphviz.AGraph(string=resnetdsl.render(plan, collapse=False).source)
    assert expanded.number_of_nodes() == 2 * 600 + 5  # block + add each; input, stem, head, output, legend


def test_collapse_default_threshold() -> None:
    plan = resnetdsl.plan_of("resnet50")  # deepest stage 6 ≤ COLLAPSE_OVER: nothing collapses by default
    assert "×" not in "".join(re.findall(r"<b>Bottleneck[^<]*</b>", resnetdsl.render(plan).source))
    assert "Bottleneck ×5" in resnetdsl.render(plan, collapse=True).source
    deep = resnetdsl.plan_of("resnet101")
    assert "Bottleneck ×22" in resnetdsl.render(deep).source


def test_rankdir_lr_moves_shortcuts_below() -> None:
    dot = resnetdsl.render("resnet18", rankdir="LR").source
    assert "rankdir=LR" in dot
    assert "tailport=s" in dot and "tailport=e" not in dot
    _svg(dot)


def test_input_override_changes_shapes() -> None:
    texts = set(_texts(_svg(resnetdsl.render("resnet18", input_size=(3, 64, 64)).source)))
    assert "512×2×2" in texts and "512×7×7" not in texts


# --- the returned diagram: every way out works without a system Graphviz --------------------------------------


@pytest.fixture
def no_system_dot(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``dot`` on PATH, and the graphviz package's own way of running it fails loudly if it is tried."""
    import graphviz.backend.execute

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"the graphviz package ran a subprocess: {args}")

    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(graphviz.backend.execute, "run_check", refuse)


MAGIC = {"svg": b"<?xml", "png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-"}


@pytest.mark.usefixtures("no_system_dot")
def test_diagram_pipe_and_jupyter_without_system_dot() -> None:
    import graphviz

    g = resnetdsl.render("cifar_resnet20", detail="stage")
    assert isinstance(g, graphviz.Digraph) and g.format == "svg"
    for fmt, magic in MAGIC.items():
        assert g.pipe(format=fmt).startswith(magic)
    assert g.pipe().startswith(b"<?xml")  # default format: svg
    svg = g.pipe(format="svg", encoding="utf-8")
    assert isinstance(svg, str) and "cifar_resnet20" in svg
    assert g.pipe(format="jpeg").startswith(b"\xff\xd8")  # any format the bundled Graphviz knows
    bundle = g._repr_mimebundle_(include=["image/svg+xml", "image/png"])
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml") and "cifar_resnet20" in bundle["image/svg+xml"]
    assert bundle["image/png"].startswith(MAGIC["png"])
    assert g._repr_svg_() == bundle["image/svg+xml"]
    with pytest.raises(R.RenderError, match="webp"):
        g.pipe(format="webp")
    with pytest.raises(ValueError, match="neato"):
        g.pipe(engine="neato")


@pytest.mark.usefixtures("no_system_dot")
def test_diagram_render_writes_only_the_drawing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    g = resnetdsl.render("cifar_resnet20", detail="stage")
    out = g.render(outfile=tmp_path / "net.png")
    assert out == str(tmp_path / "net.png") and Path(out).read_bytes().startswith(MAGIC["png"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.png"]  # no net.gv beside it
    # format beats the extension; no file name: named after the network, in `directory`
    assert Path(g.render(outfile=tmp_path / "x.out", format="pdf")).read_bytes().startswith(MAGIC["pdf"])
    out = g.render(directory=tmp_path / "sub")
    assert out == str(tmp_path / "sub" / "cifar_resnet20.svg") and Path(out).read_bytes().startswith(b"<?xml")
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["cifar_resnet20.svg"]
    # the source file only when asked for, named as graphviz names it
    out = g.render("src.gv", directory=tmp_path / "gv", format="pdf")
    assert out == str(tmp_path / "gv" / "src.gv.pdf")
    assert sorted(p.name for p in (tmp_path / "gv").iterdir()) == ["src.gv", "src.gv.pdf"]
    assert (tmp_path / "gv" / "src.gv").read_text(encoding="utf-8") == g.source
    with pytest.raises(FileExistsError):
        g.render(outfile=tmp_path / "net.png", raise_if_result_exists=True)
    # view() draws through render() and hands the file to the viewer
    g = resnetdsl.render("cifar_resnet20", detail="stage")  # (saving the source renamed the last one, as in graphviz)
    viewed: list[tuple[object, str]] = []
    monkeypatch.setattr(type(g), "_view", lambda self, path, *, format, quiet: viewed.append((path, format)))
    out = g.view(directory=tmp_path / "view")
    assert viewed == [(tmp_path / "view" / "cifar_resnet20.svg", "svg")] and Path(out).exists()


def test_diagram_render_fails_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    g = resnetdsl.render("cifar_resnet20", detail="stage")
    target = tmp_path / "net.svg"
    target.write_text("old", encoding="utf-8")

    def broken(source: str, fmt: str) -> bytes:
        raise E.RenderError("Graphviz could not draw the diagram: Error: something")

    monkeypatch.setattr(E, "ENGINES", (broken,))
    with pytest.raises(R.RenderError):
        g.render("net.gv", directory=tmp_path, outfile=target)
    assert target.read_text(encoding="utf-8") == "old" and [p.name for p in tmp_path.iterdir()] == ["net.svg"]


def test_import_loads_neither_graphviz_nor_torch() -> None:
    code = "import sys, resnetdsl; print('graphviz' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_render_module_does_not_import_torch() -> None:
    code = "import sys, resnetdsl; resnetdsl.render('resnet18').source; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["False"]


# --- escaping --------------------------------------------------------------------------------------------------

NASTY_NAME = 'net"}; x -> y; <b>&amp;{a|b}\\N \\G\\'
NASTY_DESC = "first line\nsecond </td></tr></table>> ]; z [label=\"q\"]; // \\L 'quoted' & done"


def _unlabel(label: str) -> str:
    """The text of an HTML-like label: tags dropped, entities decoded, Graphviz's doubled backslashes undone."""
    text = re.sub(r"<br/>", "\n", label)
    text = re.sub(r"<[^>]*>", "", text)
    return html.unescape(text).replace("\\\\", "\\")


def test_labels_cannot_break_or_inject() -> None:
    plan = resnetdsl.plan_of(_spec(name=NASTY_NAME, description=NASTY_DESC))
    clean = resnetdsl.plan_of(_spec(name="clean", description="plain"))
    dot = resnetdsl.render(plan).source
    graph = pygraphviz.AGraph(string=dot)
    reference = pygraphviz.AGraph(string=resnetdsl.render(clean).source)
    assert sorted(graph.nodes()) == sorted(reference.nodes())  # no node injected (x, y, z, …)
    assert graph.number_of_edges() == reference.number_of_edges()
    title = _unlabel(graph.graph_attr["label"])
    assert title.startswith(NASTY_NAME + NASTY_DESC)
    # and Graphviz draws the text as written (no \N / \G / \L expansion)
    texts = _texts(ET.fromstring(R.layout(dot, "svg")))
    assert NASTY_NAME in texts
    assert "first line" in texts and "second </td></tr></table>> ]; z [label=\"q\"]; // \\L 'quoted' & done" in texts


def test_control_characters_do_not_break_the_label() -> None:
    plan = _named(name="ctl\x01\x1b\tname", description="a\r\nb\rc\x85d\u2028e\u2029f\tg")
    texts = _texts(_svg(resnetdsl.render(plan).source))
    assert "ctl\\x01\\x1b\\x09name" in texts  # as resnetdsl.text.printable writes them, one line
    assert {"a", "b", "c", "d", "e", "f g"} <= set(texts)  # every line break of str.splitlines; a tab a space


HOSTILE = {
    "lone surrogate": ("net\ud800", "\ud800", "net\\ud800"),
    "emoji as json.dumps escapes it": ("rocket\ud83d\ude80", "\ud83d\ude80 launch", "rocket\\ud83d\\ude80"),
    "space only": ("tiny", " ", "tiny"),
    "tab only": ("tiny", "\t", "tiny"),
    "line separator only": ("tiny", "\u2028", "tiny"),
    "next line only": ("tiny", "\x85", "tiny"),
    "blank lines": ("tiny", "\n \n\t\n", "tiny"),
    "non-characters U+FFFE U+FFFF": ("a\ufffeb", "x\uffff", "a\\ufffeb"),
    "last code point U+10FFFF": ("end\U0010ffff", "\U0010ffff", "end\\U0010ffff"),
    "zero-width joiner only": ("\u200d", "\u200d", "\\u200d"),
    "enclosing mark only": ("\u20de", "\u20de", "\\u20de"),
    "tag character only": ("tiny", "\U000e0001", "tiny"),
    "empty name": ("", "", ""),
}


@pytest.mark.parametrize(("name", "description", "shown"), HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_text_draws_the_whole_title(
    name: str, description: str, shown: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    plan = _named(name, description)
    stats = "43,226 params (43.2k) · 18.3 MMACs · input 3×32×32 · block level"
    dot = resnetdsl.render(plan).source
    dot.encode("utf-8")  # no surrogate reaches the DOT
    graph = pygraphviz.AGraph(string=dot)
    assert _unlabel(graph.graph_attr["label"]).startswith(shown) and stats in dot
    for fmt in ("svg", "pdf", "png"):
        out = resnetdsl.render_to(plan, tmp_path / f"net.{fmt}")
        assert out.read_bytes().startswith(MAGIC[fmt])
    texts = _texts(ET.fromstring((tmp_path / "net.svg").read_bytes()))
    assert stats in texts and (not shown or shown in texts)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""  # Graphviz said nothing


@pytest.mark.parametrize("description", [" ", "\t", "\u2028", "\x85", "  \n\t\n"])
def test_cli_whitespace_description(description: str, tmp_path: Path) -> None:
    spec = tmp_path / "net.yaml"
    spec.write_text(
        "name: blank\ndescription: "
        + json.dumps(description)
        + "\n"
        + yaml.safe_dump({k: v for k, v in TINY.items() if k != "name"}),
        encoding="utf-8",
    )
    out = tmp_path / "net.svg"
    done = run_cli("render", str(spec), "-o", str(out))
    assert (done.returncode, done.stderr) == (0, "")
    texts = _texts(ET.fromstring(out.read_bytes()))
    assert "blank" in texts and any("params" in t and "MMACs" in t for t in texts)


def test_graphviz_problem_is_a_one_line_error_and_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    # whatever still slips past the escaping fails the drawing; Graphviz's own words are the message
    with pytest.raises(R.RenderError, match=r"^Graphviz could not draw the diagram: Error: syntax error in line 1 "):
        R.layout("digraph { a [label=<<b></b>>] }", "svg")
    assert capfd.readouterr().err == ""
    monkeypatch.setattr(G._Builder, "_title", lambda self: "<b></b>")
    from resnetdsl.cli import main

    target = tmp_path / "net.png"
    target.write_bytes(b"old")
    for path in (target, tmp_path / "new.pdf"):
        assert main(["render", "cifar_resnet20", "-o", str(path)]) == 1
        out, err = capfd.readouterr()  # what C code wrote to fd 2 too
        assert out == "" and err.count("\n") == 1
        assert err.startswith("resnetdsl render: Graphviz could not draw the diagram: Error: syntax error")
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["net.png"]


# --- files and formats -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("ext", "magic"), [("png", b"\x89PNG\r\n\x1a\n"), ("pdf", b"%PDF-"), ("svg", b"<?xml")])
def test_render_to_writes_the_format(tmp_path: Path, ext: str, magic: bytes) -> None:
    out = resnetdsl.render_to("cifar_resnet20", tmp_path / f"net.{ext}")
    data = out.read_bytes()
    assert len(data) > 1000 and data.startswith(magic)
    assert [p.name for p in tmp_path.iterdir()] == [f"net.{ext}"]  # no temporary file left


def test_format_option_beats_extension_and_unknown_extension_fails(tmp_path: Path) -> None:
    out = resnetdsl.render_to("cifar_resnet20", tmp_path / "net.diagram", format="dot")
    assert out.read_text(encoding="utf-8").startswith("digraph")
    with pytest.raises(ValueError, match="pass format="):
        resnetdsl.render_to("cifar_resnet20", tmp_path / "net.diagram")


def test_failed_render_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "net.svg"
    target.write_text("old", encoding="utf-8")

    def broken(source: str, fmt: str) -> bytes:
        raise RuntimeError("layout failed")

    monkeypatch.setattr(E, "ENGINES", (broken,))
    with pytest.raises(RuntimeError, match="layout failed"):
        resnetdsl.render_to("resnet18", target)
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["net.svg"]


# --- engines ---------------------------------------------------------------------------------------------------


def _no_pygraphviz() -> None:
    raise ImportError("No module named 'pygraphviz'")


def test_missing_engine_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(E, "_import_pygraphviz", _no_pygraphviz)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(R.EngineNotFound, match=r"pip install 'pygraphviz>=2\.0\.4'"):
        R.layout("digraph { a }", "svg")
    assert R.layout("digraph { a }", "dot") == b"digraph { a }"  # DOT needs no engine

    from resnetdsl.cli import main

    target = tmp_path / "net.png"
    assert main(["render", "resnet18", "-o", str(target)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pygraphviz" in err and "dot" in err
    assert not target.exists() and not list(tmp_path.iterdir())
    assert main(["render", "resnet18", "-o", str(tmp_path / "net.dot")]) == 0


def test_dot_executable_is_the_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "dot"
    fake.write_text(f"#!{sys.executable}\nimport sys\nsys.stdout.write('drawn ' + sys.argv[1])\n", encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(E, "_import_pygraphviz", _no_pygraphviz)
    monkeypatch.setattr(shutil, "which", lambda name: str(fake) if name == "dot" else None)
    assert R.layout("digraph { a }", "svg") == b"drawn -Tsvg"


_DOT_TEXT = hs.one_of(
    hs.sampled_from(["", "a", "_x1", "9", "-4.2", ".5", "1.", "node", "Edge", "graph", "a:b", "a:b:e", "<<b>x</b>>"]),
    hs.sampled_from(['say "hi"', 'a\\"b', 'end\\\\"', "rounded,filled", "#aaaaaa", "x y", "<", "a>", "é"]),
    hs.text(hs.sampled_from('ab0_-. :<>"\\\n,é'), max_size=8),
)


@settings(max_examples=150, deadline=None)
@given(
    names=hs.lists(_DOT_TEXT, min_size=3, max_size=3),
    label=hs.one_of(hs.none(), _DOT_TEXT),
    attrs=hs.dictionaries(hs.sampled_from(["shape", "style", "color", "weight", "fontsize"]), _DOT_TEXT, max_size=3),
)
def test_the_dot_writer_writes_what_graphviz_writes(names: list[str], label: str | None, attrs: dict[str, str]) -> None:
    """render.dot.DotGraph (what the render command prints, without graphviz) against graphviz.Digraph itself: the
    same statements give the same text, whatever the names, labels and values (quoting, keywords, numerals,
    HTML-like strings, ports, nested subgraphs, sorted attributes)."""
    import graphviz

    from resnetdsl.render.dot import DotGraph

    ours, theirs = DotGraph(name=names[0] or None), graphviz.Digraph(name=names[0] or None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # graphviz warns of a quoted string ending in an odd backslash
        for g in (ours, theirs):
            g.attr(**attrs)
            g.attr("node", **attrs)
            g.node(names[1], label=label, **attrs)
            g.edge(names[1], names[2], label=label, **attrs)
            with g.subgraph(name=f"cluster_{names[2]}") as c:
                c.attr(label=label or "", **attrs)
                c.node(names[2], **attrs)
                with c.subgraph(name=None) as inner:  # type: ignore[call-arg]
                    inner.edge(names[2], names[1])
        assert ours.source == theirs.source


@pytest.mark.parametrize(
    ("preset", "detail"),
    [("resnet50", "layer"), ("resnest50d", "layer"), ("seresnet50", "block"), ("resnet18", "stage")],
)
def test_the_command_prints_the_source_the_api_returns(preset: str, detail: str) -> None:
    """``render --format dot`` draws with the DOT writer, :func:`resnetdsl.render` returns a graphviz.Digraph: the
    same text."""
    done = run_cli("render", preset, "--format", "dot", "--detail", detail)
    assert done.returncode == 0, done.stderr
    assert done.stdout == resnetdsl.render(preset, detail=detail).source


# --- command line ----------------------------------------------------------------------------------------------


def test_cli_writes_file_and_stdout(tmp_path: Path) -> None:
    out = tmp_path / "r18.svg"
    done = run_cli("render", "resnet18", "-o", str(out), "--detail", "stage")
    assert done.returncode == 0, done.stderr
    assert f"wrote {out}" in done.stdout
    assert "resnet18" in _texts(ET.fromstring(out.read_bytes()))

    done = run_cli("render", "resnet18", "--format", "dot", "--rankdir", "LR", "--no-collapse")
    assert done.returncode == 0 and done.stdout.startswith("digraph") and "rankdir=LR" in done.stdout

    done = run_cli("render", "cifar_resnet20", cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "cifar_resnet20.svg").read_bytes().startswith(b"<?xml")


def test_cli_exit_codes(tmp_path: Path) -> None:
    assert run_cli("render", "no_such_preset_or_file").returncode == 1
    bad = run_cli("render", "resnet18", "-o", str(tmp_path / "x.unknown"))
    assert bad.returncode == 2 and "--format" in bad.stderr
    assert run_cli("render", "resnet18", "--detail", "atoms").returncode == 2
    small = run_cli("render", "resnet50", "--input", "3x8x8", "--format", "dot")
    assert small.returncode == 1 and "3×8×8" in small.stderr and not small.stdout


def test_cli_render_keeps_stderr_clean(tmp_path: Path) -> None:
    # the fontconfig bundled with pygraphviz warns about newer system font configs; that noise is held back
    res = run_cli("render", "cifar_resnet20", "-o", str(tmp_path / "c.png"))
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    assert res.stdout == f"wrote {tmp_path / 'c.png'}\n"


def test_cli_prints_the_analyzers_warnings_as_summary_does(tmp_path: Path) -> None:
    warned = run_cli("summary", "resnet18", "--input", "3x17x224", "--format", "json")
    assert warned.returncode == 0 and "warning: stages[3]: the feature map reaches 1×7" in warned.stderr
    done = run_cli("render", "resnet18", "--input", "3x17x224", "-o", str(tmp_path / "r.svg"))
    assert done.returncode == 0 and done.stderr == warned.stderr
    done = run_cli("render", "resnet18", "--input", "3x17x224", "--format", "dot")
    assert done.returncode == 0 and done.stderr == warned.stderr and done.stdout.startswith("digraph")
    # an error carries the spec's file:line:col in render as in summary (a preset named by name has no file)
    failed = run_cli("render", "specs/resnet18.yaml", "--input", "3x32x32", "--format", "dot")
    said = run_cli("summary", "specs/resnet18.yaml", "--input", "3x32x32").stderr
    assert failed.returncode == 1 and failed.stderr == said
    assert failed.stderr.startswith("specs/resnet18.yaml:14:5: error: stages[3]:")


def test_cli_help_says_what_collapse_and_png_do() -> None:
    text = " ".join(run_cli("render", "--help").stdout.split())
    assert "at block and layer level" in text and "deeper than 8 blocks" in text
    assert "png is drawn at 96 dpi, shrunk to fit 32,000 px a side down to half size, and refused beyond" in text


# --- size of bitmaps and of collapsed diagrams -----------------------------------------------------------------


def test_bitmap_size_rule() -> None:
    px = 96 / 72
    assert E.bitmap_scale(500, 20_000) == 1.0  # (20,000 + 8) pt × 96/72 = 26,677 px
    side = (30_000 + 8) * px  # 40,011 px: drawn at 32,000 / 40,011
    assert E.bitmap_scale(30_000, 500) == pytest.approx(32_000 / side)
    with pytest.raises(E.DiagramTooLarge) as info:
        E.bitmap_scale(495.5, 90_226)  # cifar_resnet1202 at block level, nothing collapsed
    assert str(info.value) == (
        "the diagram is too large for png: 672×120,312 px at 96 dpi, and a bitmap is shrunk to fit 32,000 px a side "
        "only down to 50%; draw it as svg or pdf, or draw runs of identical blocks once (--collapse)"
    )


def _png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(MAGIC["png"])
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_png_is_shrunk_to_fit_or_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    src = resnetdsl.render("cifar_resnet20").source
    w, h = _png_size(R.layout(src, "png"))
    assert h > 2000 and w < h
    monkeypatch.setattr(E, "BITMAP_MAX_SIDE", h * 3 // 4)  # shrunk to 75 %: allowed
    w2, h2 = _png_size(R.layout(src, "png"))
    assert h2 <= h * 3 // 4 and h2 >= h * 3 // 4 - 2 and abs(w2 - w * 3 / 4) <= 2
    assert R.layout(src, "svg") == R.layout(src, "svg") and b"scale(1 1)" in R.layout(src, "svg")  # vectors: as is
    monkeypatch.setattr(E, "BITMAP_MAX_SIDE", h // 3)  # shrunk to 33 %: refused
    from resnetdsl.cli import main

    target = tmp_path / "c.png"
    assert main(["render", "cifar_resnet20", "-o", str(target)]) == 1
    out, err = capfd.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("resnetdsl render: the diagram is too large for png: ")
    assert "svg or pdf" in err and "--collapse" in err and not target.exists()
    assert main(["render", "cifar_resnet20", "-o", str(tmp_path / "c.pdf")]) == 0  # pdf and svg have no such limit


def test_collapsed_diagram_does_not_grow_with_depth() -> None:
    from bench.render import worst_spec

    sizes = {}
    for depth in (20, 200):
        analysis = analyze(resnetdsl.plan_of(worst_spec(stages=8, depth=depth)))
        for detail in ("stage", "block", "layer"):
            graph = pygraphviz.AGraph(string=R.digraph_of(analysis, detail=detail).source)
            sizes[depth, detail] = (graph.number_of_nodes(), graph.number_of_edges())
    for detail in ("stage", "block", "layer"):
        assert sizes[20, detail] == sizes[200, detail]
    assert sizes[200, "block"][0] < 60


@pytest.mark.parametrize("detail", ["block", "layer"])
def test_pre_activation_and_attention_are_drawn_and_explained(detail: str) -> None:
    pre = resnetdsl.render("preact_resnet164", detail=detail).source
    assert "pre-activation: norm → act → conv; nothing after the add" in pre
    se = resnetdsl.render("seresnet50", detail=detail).source
    assert "SE a→b: squeeze-and-excitation gate on the branch, before the add" in se
    assert "SE 256→16" in se
    eca = resnetdsl.render("ecaresnet50d", detail=detail).source
    assert "ECA k: efficient channel attention gate on the branch, before the add" in eca
    plain = resnetdsl.render("resnet50", detail=detail).source
    assert "pre-activation" not in plain and "SE a→b" not in plain
    if detail == "block":  # norm and act read before the conv they feed; SE on a line of its own
        assert "BN → ReLU → 1×1 conv, 16<br/>BN → ReLU → 3×3 conv, 16<br/>BN → ReLU → 1×1 conv, 64" in pre
        assert "1×1 conv, 256 · BN<br/>SE 256→16" in se


def test_gallery_is_up_to_date() -> None:
    done = subprocess.run(
        [sys.executable, "docs/gallery/make_gallery.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
