"""The pages in a real browser: headless Chromium (Debian's package) driven by Playwright, one browser for the
module.

The HTML diagram of resnet50 opens with no console message, each stage opens in place, hover shows the facts,
the search and deep links centre their module, the table and the drawing follow each other; the diff of
resnet50 and resnet50d marks the stem and the projection shortcuts; the live editor redraws as the spec is
edited and marks a typo at its line with the did-you-mean; every preset's model draws. Each state is saved as a
screenshot (in the test's temporary folder, or in ``RESNETDSL_SCREENSHOTS``) and checked for being non-blank;
the ones docs/ shows are rewritten there under ``--accept`` and fail as stale when the page or its data changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from resnetdsl.web.page import asset, page_of

from .browser import Console, centre_of, drawn_count, launched, not_blank, require, wait_redrawn
from .conftest import ROOT

DOC_SHOTS = ROOT / "docs" / "images" / "web"
STAMPS = DOC_SHOTS / "screenshots.json"
VIEWPORT = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require()
    with launched() as b:
        yield b


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    p = context.new_page()
    p.console = Console(p)
    yield p
    context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = os.environ.get("RESNETDSL_SCREENSHOTS")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        return Path(where)
    return tmp_path_factory.mktemp("screenshots")


def _stamp(*inputs: str) -> str:
    """What a docs screenshot was made from: the bundle (its manifest) and the page's own inputs."""
    h = hashlib.sha256(asset("manifest.json").encode())
    for part in inputs:
        h.update(b"\0" + part.encode())
    return h.hexdigest()[:16]


@pytest.fixture
def snap(page: Any, shots: Path, request: pytest.FixtureRequest) -> Callable[..., Path]:
    accept = bool(request.config.getoption("--accept"))

    def take(name: str, *, doc: tuple[str, ...] | None = None) -> Path:
        page.mouse.move(2, 2)  # hover highlights stay out of the picture unless the test puts them there
        path = shots / f"{name}.png"
        page.screenshot(path=str(path))
        assert not_blank(path), f"screenshot {name} is blank"
        if doc is not None:
            stamps = json.loads(STAMPS.read_text()) if STAMPS.exists() else {}
            stamp = _stamp(*doc)
            if accept:
                DOC_SHOTS.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, DOC_SHOTS / f"{name}.png")
                stamps[name] = stamp
                STAMPS.write_text(json.dumps(stamps, indent=2, sort_keys=True) + "\n")
            else:
                assert (DOC_SHOTS / f"{name}.png").exists(), f"docs/images/web/{name}.png missing (pytest --accept)"
                assert stamps.get(name) == stamp, f"docs/images/web/{name}.png is stale: run pytest {__file__} --accept"
        return path

    return take


def _open(page: Any, path: Path, hash: str = "") -> None:
    page.goto(path.as_uri() + hash)
    page.wait_for_selector("#rd-root[data-ready='1']", timeout=30_000)


@pytest.fixture(scope="module")
def r50(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pages") / "resnet50.html"
    page_of("resnet50", detail="stage").save(path)
    return path


def test_diagram_opens_expands_hovers_and_searches(page: Any, r50: Path, snap: Callable[..., Path]) -> None:
    _open(page, r50)
    assert page.inner_text("h1") == "resnet50"
    assert page.locator("#s2").count() == 1 and page.locator("#s2b0").count() == 0
    snap("diagram-stages")

    n = drawn_count(page)
    page.click("#s2")  # open layer3 alone
    wait_redrawn(page, n)
    blocks = page.eval_on_selector_all("g.node", "els => els.map(e => e.id).filter(i => /^s2b\\d+$/.test(i))")
    assert blocks == [f"s2b{j}" for j in range(6)]
    assert page.locator("#s1").count() == 1 and page.locator("#s1b0").count() == 0  # layer2 stays one node
    # the projection into layer3.0 stays dashed, from layer2's node to layer3.0's add
    projection = page.eval_on_selector_all(
        "g.edge.projection",
        "els => els.map(e => [e.querySelector('title').textContent,"
        " e.querySelector('path').getAttribute('stroke-dasharray')])",
    )
    assert any(t.startswith("s1:") and "->s2b0_add" in t and dash for t, dash in projection), projection
    snap("diagram-layer3", doc=(r50.read_text(), "click s2"))

    n = drawn_count(page)
    page.click("#s1")
    wait_redrawn(page, n)
    page.hover("#s1b0")
    facts = page.inner_text(".rd-facts")
    assert "layer2.0" in facts and "379,392" in facts and "projection (1×1 conv /2 + BN" in facts
    assert "layer2.0.downsample.0.weight 512×256×1×1" in facts
    assert page.locator("tr[data-id='s1b0'].rd-hover").count() == 1  # the drawing → the table
    path = snap("diagram-hover")
    assert path.exists()

    n = drawn_count(page)
    page.fill(".rd-search", "layer4.2.conv3")
    page.press(".rd-search", "Enter")
    wait_redrawn(page, n)
    page.wait_for_selector("#s3b2_6.rd-selected")
    x, y = centre_of(page, "#s3b2_6")
    cx, cy = centre_of(page, ".rd-canvas")
    assert abs(x - cx) < 3 and abs(y - cy) < 3, ((x, y), (cx, cy))
    assert page.evaluate("location.hash") == "#layer4.2.conv3"
    assert page.locator("tr[data-id='s3b2_6'].rd-selected").count() == 1
    snap("diagram-search")

    page.click("tr[data-id='s0']")  # the table → the drawing
    page.wait_for_selector("#s0.rd-selected", timeout=10_000)
    x, y = centre_of(page, "#s0")
    assert abs(x - cx) < 3 and abs(y - cy) < 3

    before = page.eval_on_selector(".svg-pan-zoom_viewport", "e => e.getAttribute('transform')")
    box = page.locator(".rd-minimap").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + 8)
    page.wait_for_timeout(100)
    after = page.eval_on_selector(".svg-pan-zoom_viewport", "e => e.getAttribute('transform')")
    assert after != before

    with page.expect_download() as d:
        page.click("button:text-is('SVG')")
    svg = Path(d.value.path()).read_text()
    assert svg.lstrip().startswith("<?xml") and "layer3" in svg
    with page.expect_download() as d:
        page.click("button:text-is('spec')")
    assert "name: resnet50" in Path(d.value.path()).read_text()
    assert page.console.errors() == []


def test_deep_link_opens_centred_on_its_module(page: Any, r50: Path) -> None:
    _open(page, r50, "#layer3.4.conv2")
    page.wait_for_selector("#s2b4_3.rd-selected")
    x, y = centre_of(page, "#s2b4_3")
    cx, cy = centre_of(page, ".rd-canvas")
    assert abs(x - cx) < 3 and abs(y - cy) < 3
    assert "3×3 conv, 256" in page.inner_text(".rd-facts")
    assert page.console.errors() == []


def test_user_text_is_shown_never_run(page: Any, tmp_path: Path) -> None:
    name = "<img src=x onerror=alert(1)>"
    spec = {
        "name": name,
        "description": "</script><script>alert(2)</script> & \\N {x}",
        "input": {"channels": 3, "size": [64, 64]},
        "stem": {"kind": "conv3", "width": 16, "pool": "none"},
        "stages": [{"depth": 1, "width": 16}],
        "head": {"num_classes": 10},
    }
    path = tmp_path / "odd.html"
    page_of(spec).save(path)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _open(page, path)
    assert page.inner_text("h1") == name
    assert "</script><script>alert(2)</script>" in page.inner_text(".rd-canvas")
    assert dialogs == [] and page.console.errors() == []


def test_diff_marks_the_stem_and_the_projection_shortcuts(page: Any, tmp_path: Path, snap: Callable[..., Path]) -> None:
    from resnetdsl.web.diff import diff_page

    path = tmp_path / "diff.html"
    diff_page("resnet50", "resnet50d").save(path)
    _open(page, path)
    for side in ("a", "b"):
        assert "changed" in (page.get_attribute(f"#{side}_stem", "class") or "")
        assert page.locator(f"#c_{side}_stem.changed").count() == 1
    changed = page.eval_on_selector_all("g.edge.shortcut.changed", "els => els.map(e => e.id)")
    into = page.eval_on_selector_all(
        "g.edge.shortcut.changed", "els => els.map(e => e.querySelector('title').textContent.split('->')[1])"
    )
    for block in ("s1b0", "s2b0", "s3b0"):  # the strided projections became avg-pool projections
        assert f"b_{block}_add" in "".join(into), (block, into)
    assert len(changed) >= 6
    assert page.locator("g.edge.shortcut.identity.changed").count() == 0  # identity shortcuts are the same
    page.hover("#b_stem")
    facts = page.inner_text(".rd-facts")
    assert "differs" in facts and "missing" in facts  # the deep stem's tensors are not in resnet50
    page.hover("#b_s1b0")
    assert "avgpool_projection" in page.inner_text(".rd-facts")
    assert "stem" in page.inner_text(".rd-diff-parts tr.rd-differs")
    snap("diff", doc=(path.read_text(),))
    assert page.console.errors() == []


@pytest.fixture
def editor(page: Any) -> Iterator[Any]:
    from resnetdsl.web.server import EditorServer
    from resnetdsl.web.server import initial_text as _initial

    text, _ = _initial("resnet50")
    server = EditorServer("127.0.0.1", 0, text=text)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        page.goto(server.url)
        page.wait_for_selector("#rd-root[data-checked]", timeout=30_000)
        page.wait_for_selector(".rd-view .rd-canvas svg")
        yield page
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _edit(page: Any, find: str, replace: str) -> None:
    """Replace the first ``find`` of the editor's text, as typing would."""
    page.evaluate(
        """([find, replace]) => {
            const v = window.resnetdsl.editor.view;
            const i = v.state.doc.toString().indexOf(find);
            if (i < 0) throw new Error('not in the text: ' + find);
            v.dispatch({changes: {from: i, to: i + find.length, insert: replace}});
        }""",
        [find, replace],
    )


def _checked(page: Any) -> int:
    return int(page.get_attribute("#rd-root", "data-checked") or 0)


def test_live_editor_redraws_and_marks_problems(editor: Any, snap: Callable[..., Path]) -> None:
    page = editor
    assert page.inner_text("[data-total=params]") == "25,557,032"
    _edit(page, "{depth: 6, width: 256", "{depth: 23, width: 256")
    page.wait_for_selector('[data-total=params]:text-is("44,549,160")', timeout=10_000)
    assert "44,549,160 params" in page.inner_text(".rd-canvas")  # the drawing's title follows too
    snap("editor", doc=("resnet50", "depth 6 → 23"))

    line = page.evaluate(
        "() => window.resnetdsl.editor.view.state.doc.toString().split('\\n')"
        ".findIndex(l => l.includes('depth: 23')) + 1"
    )
    n = _checked(page)
    _edit(page, "depth: 23, width: 256", "depth: 23, widht: 256")
    page.wait_for_selector(f"#rd-root:not([data-checked='{n}'])")
    typo = page.locator(".cm-lintRange-error", has_text="widht")
    typo.wait_for()
    assert typo.inner_text() == "widht"
    marked = typo.evaluate(
        "(el) => { const v = window.resnetdsl.editor.view; return v.state.doc.lineAt(v.posAtDOM(el)).number; }"
    )
    assert marked == line
    problems = page.inner_text(".rd-problems")
    assert f"{line}:" in problems and "unknown key 'widht' (did you mean 'width'?)" in problems
    typo.hover()
    page.wait_for_selector(".cm-tooltip-lint")
    assert "did you mean 'width'?" in page.inner_text(".cm-tooltip-lint")
    assert page.locator(".cm-lint-marker-error").count() >= 1
    assert page.inner_text("[data-total=params]") == "44,549,160"  # the last valid drawing stays
    snap("editor-problem", doc=("resnet50", "depth 6 → 23", "widht"))
    assert page.console.errors() == []


def _complete(page: Any, find: str, insert: str) -> list[str]:
    """Put the cursor after ``find`` + ``insert`` and ask for completions (Ctrl-Space)."""
    page.evaluate(
        """([find, insert]) => {
            const v = window.resnetdsl.editor.view;
            const i = v.state.doc.toString().indexOf(find) + find.length;
            v.dispatch({changes: {from: i, insert}, selection: {anchor: i + insert.length}});
            v.focus();
        }""",
        [find, insert],
    )
    page.keyboard.press("Control+Space")
    page.wait_for_selector(".cm-tooltip-autocomplete")
    options: list[str] = page.eval_on_selector_all(".cm-completionLabel", "els => els.map(e => e.textContent)")
    page.keyboard.press("Escape")
    return options


def test_live_editor_completes_keys_and_values_from_the_schema(editor: Any) -> None:
    page = editor
    keys = _complete(page, "{depth: 6, width: 256, stride: 2", ", ")  # inside stages[2]
    assert {"checkpoint", "dilation", "blocks", "norm"} <= set(keys) and "depth" not in keys and "stem" not in keys
    values = _complete(page, "  shortcut: projection\n", "  shortcut: ")
    assert {"identity_pad", "projection", "projection_all", "avgpool_projection", "none"} <= set(values)
    top = _complete(page, "head: {pool: avg, num_classes: 1000}\n", "")
    assert {"output_stride", "features", "init"} <= set(top) and "stages" not in top


LAYER_LEVEL = (
    "ecaresnet50d",
    "resnetrs50",
    "resnetv2_18",
    "cifar_resnet20",
    "wrn28_10",
    "resnetv2_50x1_bit",
    "skresnet50",
    "resnest50d",
    "resnetblur50",
    "res2net50_26w_4s",
)
"""Presets drawn with everything open: between them every op type any preset uses (a test checks it)."""


BACKBONE = {
    "extends": "resnet18",
    "defaults": {"drop_path": 0.1},
    "features": {"out_indices": [0, 1, 2, 3, 4]},
}
"""A multi-scale backbone with drop path, drawn left to right: the taps, DropPath and LR."""


def _op_types(name: Any) -> set[str]:
    from resnetdsl import plan_of

    return {type(op).__name__ for _, op in plan_of(name).named_ops()}


def test_the_layer_level_presets_cover_every_op_type() -> None:
    from resnetdsl import presets

    every = set().union(*(_op_types(n) for n in presets()))
    covered = set().union(*(_op_types(n) for n in LAYER_LEVEL))
    assert "DropPath" in _op_types(BACKBONE)
    assert every == covered, every - covered


def test_every_preset_draws(page: Any, r50: Path) -> None:
    """Every preset's page draws as it opens (its stages open); the LAYER_LEVEL ones with every block open."""
    from resnetdsl import presets
    from resnetdsl.check import check
    from resnetdsl.web.model import network_model

    _open(page, r50)
    for name in [*presets(), "backbone"]:
        analysis = check(BACKBONE if name == "backbone" else name).analysis
        for detail in ("layer",) if name in (*LAYER_LEVEL, "backbone") else ("block",):
            ok = page.evaluate(
                """async (text) => {
                    const model = JSON.parse(text);
                    const v = window.resnetdsl.viewer;
                    v.setSource(window.resnetdsl.networkSource(model), {keepOpen: false});
                    const drawn = await v.draw({first: true});
                    return drawn && v.svgText.length > 1000 && !!v.svg.querySelector('g.node');
                }""",
                json.dumps(network_model(analysis, detail=detail, rankdir="LR" if name == "backbone" else "TB")),
            )
            assert ok, (name, detail)
    assert page.console.errors() == []


def test_the_notebook_frame_draws(page: Any) -> None:
    """What Jupyter shows for ``render(...).html()``: the page in a sandboxed frame of its own."""
    import resnetdsl

    page.set_content("<h1>notebook</h1>" + resnetdsl.render("resnet18", detail="stage").html()._repr_html_())
    frame = page.frames[1]
    frame.wait_for_selector("#rd-root[data-ready='1']", timeout=30_000)
    frame.click("#s1")
    frame.wait_for_selector("#s1b0")
    assert page.console.errors() == []


def test_frozen_stages_are_marked_in_the_page(page: Any, tmp_path: Path) -> None:
    """``frozen_stages: 2`` (issue 22, item 3): the stem, layer1 and layer2 are grey, dashed and tagged "frozen"
    in the drawing, as the static diagram draws them, and both legends say what is frozen; without it, nothing."""
    path = tmp_path / "frozen.html"
    page_of("resnet18", detail="stage", overrides={"frozen_stages": 2, "input.size": [64, 64]}).save(path)
    _open(page, path)
    tagged = page.evaluate(
        """() => Object.fromEntries(["c_stem", "c_s0", "c_s1", "c_s2", "c_s3"].map((id) => {
            const g = document.getElementById(id);
            const texts = [...g.querySelectorAll(':scope > text')].map((t) => t.textContent);
            const dashed = g.querySelector(':scope > path').getAttribute('stroke-dasharray') !== null;
            return [id, [texts.includes('frozen'), dashed]];
        }))"""
    )
    assert tagged == {
        "c_stem": [True, True],
        "c_s0": [True, True],
        "c_s1": [True, True],
        "c_s2": [False, False],
        "c_s3": [False, False],
    }
    note = "frozen (frozen_stages: 2): stem, layer1, layer2; no gradients, norms in eval mode"
    assert note in page.inner_text(".rd-legend")
    assert note in page.inner_text(".rd-canvas")  # the drawing's own legend
    page.click("#s1")  # an opened stage keeps its mark
    page.wait_for_selector("#s1b0")
    assert "frozen" in page.evaluate("() => document.getElementById('c_s1').textContent")
    assert page.console.errors() == []
    plain = tmp_path / "plain.html"
    page_of("resnet18", detail="stage", overrides={"input.size": [64, 64]}).save(plain)
    _open(page, plain)
    assert "frozen" not in page.inner_text(".rd-canvas") and "training" not in page.inner_text(".rd-legend")


def test_multi_branch_ops_are_drawn_in_the_page(page: Any, tmp_path: Path) -> None:
    """A selective kernel opened at layer level draws its branches as the static diagram does (issue 18): the
    split, both dilated branches, the attention, the dotted gate edge; its output node carries the layer's id,
    so search and deep links still centre ``layer1.0.conv2``; closed, the block's node shows the branches side by
    side."""
    spec = {
        "extends": "skresnet50",
        "input": {"channels": 3, "size": [64, 64]},
        "stages": [{"depth": 1, "width": 64}, {"depth": 1, "width": 128, "stride": 2}],
    }
    path = tmp_path / "sk.html"
    page_of(spec, detail="layer").save(path)
    _open(page, path, "#layer1.0.conv2")
    page.wait_for_selector(".rd-selected")
    texts = page.evaluate(
        """() => [...document.querySelectorAll('g.node')].map((g) => [g.id, g.textContent.replace(/\\s+/g, ' ')])"""
    )
    words = [t for _, t in texts]
    assert any("split 2 × 32 ch" in t for t in words)
    assert any("3×3 conv, 64, dil 2, BN, ReLU" in t and "paths.1" in t for t in words)
    assert any("softmax over the 2 branches" in t for t in words)
    selected = page.evaluate("() => document.querySelector('g.node.rd-selected').textContent")
    assert "× weights, +" in selected  # the op's output node stands for the layer
    assert page.evaluate("() => document.querySelectorAll('.rd-canvas g.edge.gate').length") == 2
    assert page.console.errors() == []
    page_of(spec, detail="block").save(path)
    _open(page, path)
    cells = page.evaluate("() => document.getElementById('s0b0').textContent")
    assert "3×3 conv, 64, BN, ReLU" in cells and "3×3 conv, 64, dil 2, BN, ReLU" in cells
    assert page.console.errors() == []
