"""``resnetdsl summary``: the Summary object, its four formats, golden files, the command line."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import resnetdsl
from resnetdsl.summary import CONVENTION, DEPTHS, Summary, format_summary, summarize
from tests.conftest import ROOT, SPECS, run_cli

Golden = Callable[[str, str], None]


@pytest.fixture(scope="module")
def r50() -> Summary:
    return summarize(SPECS / "resnet50.yaml")


# --- golden files -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_golden_table(name: str, golden: Golden) -> None:
    golden(f"summary/{name}.table.txt", format_summary(summarize(name), "table"))


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_golden_json(name: str, golden: Golden) -> None:
    golden(f"summary/{name}.json", format_summary(summarize(name), "json"))


def test_cli_prints_the_golden_table(golden: Golden) -> None:
    res = run_cli("summary", "specs/resnet50.yaml")
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    golden("summary/resnet50.table.txt", res.stdout)


# --- the Summary object -------------------------------------------------------------------------------


def test_summary_numbers(r50: Summary) -> None:
    assert r50.name == "resnet50"
    assert r50.input_shape == (3, 224, 224) and r50.output_shape == (1000,)
    assert r50.params == 25_557_032
    assert r50.trainable_params == r50.params and r50.non_trainable_params == 0
    assert r50.macs == 4_089_184_256 and f"{r50.gmacs:.3f}" == "4.089"
    assert r50.warnings == ()


def test_rows_per_depth(r50: Summary) -> None:
    plan = resnetdsl.plan_of("resnet50")
    n_stages, n_blocks, n_ops = len(plan.stages), sum(1 for _ in plan.blocks()), sum(1 for _ in plan.named_ops())
    stage_rows = r50.rows_at("stage")
    assert [r.name for r in stage_rows] == ["stem", "layer1", "layer2", "layer3", "layer4", "head"]
    assert len(r50.rows_at("block")) == 2 + n_stages + n_blocks
    assert len(r50.rows_at("layer")) == 2 + n_stages + n_blocks + n_ops == len(r50.rows)
    assert sum(r.params for r in stage_rows) == r50.params
    assert sum(r.macs for r in stage_rows) == r50.macs
    assert sum(r.buffers for r in stage_rows) == r50.buffers
    layer_rows = [r for r in r50.rows if r.depth == "layer"]
    assert [r.name for r in layer_rows] == [path for path, _ in plan.named_ops()]
    assert sum(r.macs for r in layer_rows) == r50.macs


def test_row_kinds_and_shapes(r50: Summary) -> None:
    rows = {r.name: r for r in r50.rows}
    assert (rows["stem"].kind, rows["stem"].output_shape) == ("stem /4", (64, 56, 56))
    assert (rows["conv1"].kind, rows["conv1"].output_shape) == ("Conv2d 7×7/2", (64, 112, 112))
    assert rows["maxpool"].kind == "MaxPool2d 3×3/2"
    assert (rows["layer2"].kind, rows["layer2"].level) == ("4 × bottleneck /2", 0)
    assert (rows["layer2.0"].kind, rows["layer2.0"].level) == ("bottleneck /2, projection", 1)
    assert rows["layer2.1"].kind == "bottleneck"
    assert (rows["layer2.0.conv2"].kind, rows["layer2.0.conv2"].level) == ("Conv2d 3×3/2", 2)
    assert rows["flatten"].output_shape == (2048,)
    assert (rows["fc"].kind, rows["fc"].output_shape, rows["fc"].macs) == ("Linear", (1000,), 2048 * 1000)
    assert rows["head"].output_shape == (1000,)
    rx = {r.name: r for r in summarize("resnext50_32x4d").rows}
    assert rx["layer1.0.conv2"].kind == "Conv2d 3×3 g32"
    c20 = {r.name: r for r in summarize("cifar_resnet20").rows}
    assert (c20["stem"].kind, c20["layer2.0"].kind) == ("stem", "basic /2, pad")


def test_input_size_forms_and_sources() -> None:
    hw = summarize("resnet18", input_size=(112, 96))
    chw = summarize("resnet18", input_size=(3, 112, 96))
    assert hw == chw and hw.input_shape == (3, 112, 96)
    assert hw.rows_at("stage")[-2].output_shape == (512, 4, 3)
    plan = resnetdsl.plan_of("resnet18")
    assert summarize(plan) == summarize("resnet18") == summarize((SPECS / "resnet18.yaml").read_text())
    assert resnetdsl.summarize is summarize
    with pytest.raises(ValueError, match=r"input_size must be H, \(H, W\) or \(C, H, W\) of whole numbers, got"):
        summarize("resnet18", input_size=(224,))  # type: ignore[arg-type]


def test_backbone_summary_has_no_head_row() -> None:
    text = "name: bb\ninput: {size: [64, 64]}\nstages: [{depth: 1, width: 8, stride: 2}]\nhead: none\n"
    s = summarize(text)
    assert s.output_shape == (8, 8, 8)
    assert [r.name for r in s.rows_at("stage")] == ["stem", "layer1"]


def test_too_small_input_raises() -> None:
    with pytest.raises(resnetdsl.SpecError, match=r"^stages\[2\]: the feature map reaches 1×1 at layer3\.0\.conv2"):
        summarize(resnetdsl.plan_of("resnet50"), input_size=(3, 16, 16))


# --- formats ------------------------------------------------------------------------------------------


def test_table_layout(r50: Summary) -> None:
    lines = format_summary(r50, "table", "block").splitlines()
    assert lines[0] == "resnet50: input 3×224×224 → output 1000"
    assert re.split(r"\s{2,}", lines[2]) == ["Name", "Kind", "Output shape", "Params", "MACs"]
    assert re.split(r"\s{2,}", lines[4]) == ["stem", "stem /4", "64×56×56", "9,536", "118,013,952"]
    assert "  layer1.0  " in lines[6]
    assert "Total params:         25,557,032 (25.56 M)" in lines
    assert "Non-trainable params: 0" in lines
    assert "MACs:                 4,089,184,256 (4.089 GMACs)" in lines
    assert lines[-1] == CONVENTION == "MACs = multiply-accumulates of conv and linear layers; FLOPs ≈ 2 × MACs"
    widths = {len(line) for line in lines[1:4]}
    assert len(widths) == 1, "rules and header have one width"
    assert len(format_summary(r50, "table", "layer").splitlines()) == len(r50.rows) + 20
    backbone = lines[lines.index("Backbone  Channels  Stride  Dilation  Receptive field") :]
    assert [re.split(r"\s+", line) for line in backbone[1:6]] == [
        ["stem", "64", "4", "1", "11"],
        ["layer1", "256", "4", "1", "35"],
        ["layer2", "512", "8", "1", "91"],
        ["layer3", "1024", "16", "1", "267"],
        ["layer4", "2048", "32", "1", "427"],
    ]


def test_json_is_plain_data(r50: Summary) -> None:
    for depth in DEPTHS:
        data = json.loads(format_summary(r50, "json", depth))
        assert data == r50.to_dict(depth)
        assert data["depth"] == depth and len(data["rows"]) == len(r50.rows_at(depth))
    data = r50.to_dict("stage")
    assert data["totals"] == {
        "params": 25_557_032,
        "trainable_params": 25_557_032,
        "non_trainable_params": 0,
        "buffers": 53_173,
        "macs": 4_089_184_256,
        "acts": 11_113_984,
    }
    assert data["rows"][0] == {
        "name": "stem",
        "kind": "stem /4",
        "level": 0,
        "output_shape": [64, 56, 56],
        "params": 9536,
        "buffers": 129,
        "macs": 118_013_952,
        "acts": 802_816,
        "trainable_params": 9536,
        "frozen": False,
        "eval_norms": 0,
    }
    assert data["training"] == {"frozen_stages": None, "norm_eval": False, "frozen": [], "eval_norms": 0}
    assert data["convention"] == CONVENTION and data["warnings"] == []


def test_csv_has_plain_integers(r50: Summary) -> None:
    rows = list(csv.reader(io.StringIO(format_summary(r50, "csv", "stage"))))
    plain = ["name", "kind", "level", "output_shape", "params", "buffers", "macs", "acts"]
    assert rows[0] == [*plain, "trainable_params", "frozen", "eval_norms"]
    assert rows[1] == ["stem", "stem /4", "0", "64x56x56", "9536", "129", "118013952", "802816", "9536", "false", "0"]
    assert rows[-1] == ["total", "", "", "1000", "25557032", "53173", "4089184256", "11113984", "25557032", "", "0"]
    assert len(rows) == 1 + len(r50.rows_at("stage")) + 1
    assert sum(int(r[4]) for r in rows[1:-1]) == int(rows[-1][4])


def test_markdown_table(r50: Summary) -> None:
    text = format_summary(r50, "markdown", "stage")
    lines = text.splitlines()
    assert lines[0] == "### resnet50"
    assert "| Name | Kind | Output shape | Params | MACs |" in lines
    assert "| layer4 | 3 × bottleneck /2 | 2048×7×7 | 14,964,736 | 809,238,528 |" in lines
    assert "| **Total** | | 1000 | **25,557,032** | **4,089,184,256** |" in lines
    assert lines[-1] == CONVENTION + "."
    table = [line for line in lines if line.startswith("|")]
    assert {line.count("|") for line in table} == {6}


def test_bad_format_or_depth(r50: Summary) -> None:
    with pytest.raises(ValueError, match="format must be one of table, json, markdown, csv"):
        format_summary(r50, "yaml", "block")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="depth must be one of 'stage', 'block', 'layer' \\(got 'op'\\)"):
        format_summary(r50, "table", "op")  # type: ignore[arg-type]


# --- the command line ---------------------------------------------------------------------------------


def test_cli_imports_no_torch() -> None:
    res = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "resnetdsl", "summary", "specs/resnet50.yaml"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    modules = [line.split("|")[-1].strip() for line in res.stderr.splitlines() if line.startswith("import time:")]
    assert "resnetdsl.summary" in modules and "resnetdsl.analyze" in modules
    assert [m for m in modules if m == "torch" or m.startswith("torch.")] == []


def test_cli_formats_and_depths() -> None:
    res = run_cli("summary", "cifar_resnet20", "--format", "csv", "--depth", "layer", "--input", "3x64x48")
    assert res.returncode == 0, res.stderr
    rows = list(csv.reader(io.StringIO(res.stdout)))
    assert rows[-1][:4] == ["total", "", "", "10"]
    assert ["layer3.2.act2", "ReLU", "2", "64x16x12", "0", "0", "0", "0", "0", "false", "0"] in rows


def test_cli_32x32_through_the_imagenet_stem_is_an_error() -> None:
    res = run_cli("summary", "specs/resnet18.yaml", "--input", "3x32x32", "--depth", "stage")
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr == (
        "specs/resnet18.yaml:14:5: error: stages[3]: the feature map reaches 1×1 at layer4.0.conv1 for a 3×32×32 "
        "input, so the 3×3 convs after it (first: layer4.0.conv2) see zero padding around the centre tap only; the "
        "stem downsamples by 4: for small inputs use the CIFAR stem (stem: {kind: conv3, pool: none})\n"
    )


def test_cli_exit_codes(tmp_path: Path) -> None:
    too_small = run_cli("summary", "specs/resnet50.yaml", "--input", "3x16x16")
    assert too_small.returncode == 1 and too_small.stdout == ""
    assert too_small.stderr.startswith("specs/resnet50.yaml:13:5: error: stages[2]: the feature map reaches 1×1")
    assert "use the CIFAR stem (stem: {kind: conv3, pool: none})" in too_small.stderr

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nstages:\n  - {depth: 2, widht: 64}\n")
    invalid = run_cli("summary", str(bad))
    assert invalid.returncode == 1 and invalid.stdout == ""
    assert f"{bad}:3:16: error: stages[0].widht: unknown key 'widht'" in invalid.stderr

    usage = run_cli("summary", "resnet18", "--format", "yaml")
    assert usage.returncode == 2 and "invalid choice" in usage.stderr


def test_cli_warning_for_a_one_pixel_high_map_goes_to_stderr() -> None:
    res = run_cli("summary", "specs/resnet50.yaml", "--input", "3x32x224", "--depth", "stage")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("resnet50: input 3×32×224 → output 1000\n")
    assert res.stderr == (
        "specs/resnet50.yaml:14:5: warning: stages[3]: the feature map reaches 1×7 at layer4.0.conv2 for a "
        "3×32×224 input, so the 3×3 convs after it (first: layer4.1.conv2) see zero padding above and below; the "
        "stem downsamples by 4: for small inputs use the CIFAR stem (stem: {kind: conv3, pool: none})\n"
    )
    data = json.loads(run_cli("summary", "resnet50", "--input", "3x32x224", "--format", "json").stdout)
    # a bundled preset checked by name has no file to point at: the path says where
    assert [(w["path"], w["file"], w["line"]) for w in data["warnings"]] == [("stages[3]", None, None)]


# --- row names ------------------------------------------------------------------------------------------

GROUP_ROWS = {"stem", "final", "head"}


@pytest.mark.parametrize("name", ["resnet18", "preact_resnet164", "resnetv2_18"])
def test_every_row_is_a_module_but_the_three_group_rows(name: str) -> None:
    import torch

    rows = [r.name for r in summarize(name).rows_at("layer")]
    assert len(rows) == len(set(rows)), "two rows share a name"
    model = resnetdsl.build_model(name, device="meta")
    modules = dict(model.named_modules())
    for row in rows:
        if row in GROUP_ROWS and row not in modules:
            continue
        assert isinstance(modules.get(row), torch.nn.Module), f"{name}: row {row!r} names no module"
    if name != "resnet18":
        assert "final" in rows  # a pre-activation network's norm and activation after the last stage


@pytest.mark.parametrize("word", sorted(GROUP_ROWS))
def test_a_stage_may_not_take_a_group_row_name(word: str) -> None:
    described = {
        "stem": "the layers before the stages",
        "final": "the norm and activation after the last stage of a pre-activation network",
        "head": "the layers after the stages",
    }[word]
    for base in ("resnet18", "preact_resnet164"):
        with pytest.raises(resnetdsl.SpecError) as info:
            summarize({"extends": base, "stages": {0: {"name": word}}})
        assert [(i.dotted, i.message) for i in info.value.issues] == [
            ("stages[0].name", f"stage name '{word}' is how summaries and diagrams name {described}; choose another")
        ]
