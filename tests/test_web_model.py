"""The HTML diagram's data and page, without a browser: the model's facts against the analysis, the summary,
the state entries and the receptive fields; escaping; a self-contained page; what imports what."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import resnetdsl
from resnetdsl.check import check
from resnetdsl.render import block_groups
from resnetdsl.state import state_entries
from resnetdsl.web import facts
from resnetdsl.web.model import network_model
from resnetdsl.web.page import Page, page_of, script_json

from .conftest import ROOT


def _items(model: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for part in model["parts"]:
        out.append(part)
        if part["t"] == "ops":
            out += part["layers"]
        else:
            for b in part["blocks"]:
                out.append(b)
                out += b["layers"]
    return out


@pytest.fixture(scope="module")
def r50() -> dict[str, Any]:
    return network_model(check("resnet50").analysis)


def test_block_facts_are_the_analysis(r50: dict[str, Any]) -> None:
    block = r50["parts"][2]["blocks"][0]
    assert block["path"] == "layer2.0" and block["params"] == 379_392
    assert block["sc"] == {"style": "projection", "text": "1×1 conv /2 + BN"} and block["shortcut"] == "projection"
    assert block["in"] == [256, 56, 56] and block["out"] == [512, 28, 28] and block["stride"] == 2
    conv2 = next(li for li in block["layers"] if li["name"] == "conv2")
    assert conv2 == {
        **conv2,
        "path": "layer2.0.conv2",
        "kind": "Conv2d 3×3/2",
        "text": "3×3 conv, 128 /2",
        "params": 128 * 128 * 9,
        "stride": 2,
        "state": [["layer2.0.conv2.weight", [128, 128, 3, 3]]],
    }
    assert r50["totals"]["params"] == 25_557_032


def test_every_number_matches_the_summary_and_every_tensor_is_placed_once() -> None:
    for name in ("resnet50", "resnetv2_50", "seresnext50_32x4d", "cifar_resnet56", "resnet50_gn"):
        checked = check(name)
        model = network_model(checked.analysis)
        rows = {r.name: r for r in resnetdsl.summarize(name).rows}
        items = _items(model)
        ids = [i["id"] for i in items]
        assert len(ids) == len(set(ids)), name
        for item in items:
            row = rows[item["path"]]
            assert (item["params"], item["buffers"], item["macs"]) == (row.params, row.buffers, row.macs), item["path"]
            assert tuple(item["out"]) == row.output_shape, item["path"]
        placed = [key for i in items if "state" in i for key, _ in i["state"]]
        assert sorted(placed) == sorted(state_entries(checked.plan)), name  # each tensor once


def test_receptive_fields_are_the_summarys() -> None:
    for name in ("resnet50", "cifar_resnet20", "seresnet50"):
        facts_by_part = {f.name: f for f in resnetdsl.summarize(name).stage_facts}
        model = network_model(check(name).analysis)
        for stage in (p for p in model["parts"] if p["t"] == "stage"):
            f = facts_by_part[stage["path"]]
            assert (stage["rf"], stage["jump"]) == (f.receptive_field, f.reduction), (name, stage["path"])
            assert stage["blocks"][-1]["rf"] == stage["rf"]


def test_runs_are_the_static_diagrams_groups() -> None:
    analysis = check("cifar_resnet1202").analysis
    model = network_model(analysis)
    for st, part in zip(analysis.stages, (p for p in model["parts"] if p["t"] == "stage"), strict=True):
        assert [n for _, n in part["runs"]] == [len(g) for g in block_groups(st, None)]
        assert sum(n for _, n in part["runs"]) == len(part["blocks"])
    first = next(p for p in network_model(check("resnet50").analysis)["parts"] if p["t"] == "stage")
    assert first["runs"] == [[0, 1], [1, 1], [2, 1]]


def test_what_is_open_at_first_follows_the_detail(r50: dict[str, Any]) -> None:
    analysis = check("resnet18").analysis
    assert network_model(analysis, detail="stage")["open"] == []
    assert network_model(analysis, detail="block")["open"] == ["s0", "s1", "s2", "s3"]
    layer = network_model(analysis, detail="layer")["open"]
    assert {"stem", "head", "s0", "s0b0", "s3b1"} <= set(layer)
    with pytest.raises(ValueError, match="detail must be one of"):
        network_model(analysis, detail="page")
    with pytest.raises(ValueError, match="rankdir"):
        network_model(analysis, rankdir="RL")


def test_an_unknown_op_type_fails_loudly() -> None:
    @dataclass(frozen=True)
    class Warp:
        name: str

    with pytest.raises(KeyError, match="Warp"):
        facts.op_fill(Warp("warp"))  # type: ignore[arg-type]


def test_user_text_is_escaped_as_the_static_diagram_does() -> None:
    assert facts.shown("a\nb\u202e") == "a\\x0ab\\u202e"
    assert facts.shown("\u200d") == "\\u200d"  # draws nothing: all escapes
    assert facts.shown("<b>&\\N") == "<b>&\\N"  # markup is the page's to escape, not this text's


def test_json_in_a_script_element_cannot_close_it() -> None:
    data = {"name": "</script><script>alert(1)</script>", "d": "<!-- \u2028 \u2029 &amp;", "s": "\ud800"}
    text = script_json(data)
    assert not re.search(r"[<>&\u2028\u2029\ud800-\udfff]", text)
    assert json.loads(text) == data


@pytest.fixture(scope="module")
def page() -> str:
    return page_of("resnet50").text


def test_the_page_is_self_contained(page: str) -> None:
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page, flags=re.IGNORECASE)
    assert "http://" not in page.split("<script>")[0]  # the head loads nothing
    scripts = re.findall(r"<script>(.*?)</script>", page, flags=re.DOTALL)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp is not None
    policy = csp.group(1).replace("&#x27;", "'")
    assert f"script-src 'sha256-{digest}' 'wasm-unsafe-eval'" in policy and "default-src 'none'" in policy
    assert "connect-src" not in policy  # default-src 'none': no fetch, no socket, nothing
    model = json.loads(re.search(r'id="rd-model">(.*?)</script>', page).group(1))  # type: ignore[union-attr]
    assert model["name"] == "resnet50"
    spec = json.loads(re.search(r'id="rd-spec">(.*?)</script>', page).group(1))  # type: ignore[union-attr]
    assert resnetdsl.summarize(spec["text"]).params == 25_557_032  # the spec offered for download is the network


def test_cifar_resnet1202s_page_stays_small() -> None:
    size = len(page_of("cifar_resnet1202").text.encode())
    assert size <= 5_000_000, size


def test_render_returns_an_object_with_the_interactive_page() -> None:
    diagram = resnetdsl.render("resnet18", detail="layer")
    page = diagram.html()
    assert isinstance(page, Page)
    model = json.loads(re.search(r'id="rd-model">(.*?)</script>', page.text).group(1))  # type: ignore[union-attr]
    assert "s0b0" in model["open"]  # the detail it was drawn at is what opens
    frame = page._repr_html_()
    assert frame.startswith('<iframe sandbox="allow-scripts allow-downloads"') and "&lt;script&gt;" in frame


def test_page_save_writes_the_file(tmp_path: Path) -> None:
    out = page_of("resnet18").save(tmp_path / "r18.html")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_the_package_and_the_other_commands_do_not_load_the_pages() -> None:
    code = (
        "import sys, resnetdsl\n"
        "assert not any(m.startswith('resnetdsl.web') for m in sys.modules), 'import resnetdsl'\n"
        "from resnetdsl.cli import main\n"
        "main(['validate', 'resnet18'])\n"
        "main(['summary', 'resnet18', '--depth', 'stage'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('resnetdsl.web')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_the_model_says_what_is_frozen_and_how_shortcuts_meet_their_nodes() -> None:
    """What the page's drawing reads, as the static diagram has it: the frozen parts and the legend's words
    (issue 22, item 3), the shortcut ports and label margin (item 11)."""
    from resnetdsl.render.legend import frozen_notes
    from resnetdsl.render.style import SHORTCUT_LABEL_PAD, SHORTCUT_PORTS

    checked = check("resnet18", overrides={"frozen_stages": 1, "norm_eval": True})
    model = network_model(checked.analysis, rankdir="LR")
    assert {p["id"]: p["frozen"] for p in model["parts"]} == {
        "stem": True,
        "s0": True,
        "s1": False,
        "s2": False,
        "s3": False,
        "head": False,
    }
    assert model["legend"]["frozen"] == frozen_notes(checked.plan)
    assert model["legend"]["frozen"][0] == "frozen (frozen_stages: 1): stem, layer1; no gradients, norms in eval mode"
    assert model["legend"]["frozen"][1].startswith("norm_eval: ")
    assert model["look"]["shortcutPorts"] == SHORTCUT_PORTS["LR"] and model["look"]["shortcutPad"] == SHORTCUT_LABEL_PAD
    plain = network_model(check("resnet18").analysis)
    assert not any(p["frozen"] for p in plain["parts"]) and plain["legend"]["frozen"] == []
