"""docs/backbones.md runs: each of its Python blocks is executed (small sizes: a detector and a segmenter train one
step and run in eval mode)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "backbones.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_page_has_its_examples() -> None:
    assert len(BLOCKS) == 4
    assert any("FasterRCNN" in b for b in BLOCKS) and any("DeepLabV3" in b for b in BLOCKS)


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_python_block_runs(index: int) -> None:
    import torch

    torch.manual_seed(0)
    exec(compile(BLOCKS[index], f"{DOC.name}[python block {index}]", "exec"), {"__name__": "__doc_example__"})


# --- what the page promises of summary and render, against their output ------------------------------------

TEXT = DOC.read_text(encoding="utf-8")
KEYS = {  # each key of the page's table: a spec using it, what the summary shows of it, what the diagram shows
    "output_stride": ({"extends": "resnet18", "output_stride": 8}, "layer4 512 8 4", "dil 4"),
    "stages[i].dilation": ({"extends": "resnet18", "stages": {3: {"dilation": 2}}}, "layer4 512 32 2", "dil 2"),
    "features": ({"extends": "resnet18", "features": {"out_indices": [2, 4]}}, "out[0] layer2", "feature 2"),
    "frozen_stages": ({"extends": "resnet18", "frozen_stages": 1}, "147,968 0 37,748,736 frozen", None),
    "norm_eval": ({"extends": "resnet18", "norm_eval": True}, "147,968 37,748,736 4 batch norms in eval", None),
}
"""The summary's words are compared with runs of spaces made one."""


def _summary(spec: object) -> str:
    from resnetdsl.summary import format_summary, summarize

    return re.sub(r" +", " ", format_summary(summarize(spec, 64), "table", "stage"))


def _dot(spec: object) -> str:
    import resnetdsl

    return str(resnetdsl.render(spec, input_size=64).source)


def test_every_key_of_the_table_is_reported_by_summary_and_drawn_by_render() -> None:
    assert "every one is reported by `resnetdsl\nsummary` and drawn by `resnetdsl render`" in TEXT
    table = TEXT.split("| key | what it does |")[1].split("\n\n")[0]
    keys = {k for cell in re.findall(r"^\| `([^`|]+)", table, flags=re.MULTILINE) for k in [cell.split(":")[0]]}
    keys |= {m for m in re.findall(r"`(\w+)(?::[^`]*)?`", table.split("\n")[-1])}  # `frozen_stages: k`, `norm_eval`
    assert keys == set(KEYS), "map each key of the table to what summary and render show of it"
    plain_summary, plain_dot = _summary("resnet18"), _dot("resnet18")
    for key, (spec, shown, drawn) in KEYS.items():
        assert shown in _summary(spec) and shown not in plain_summary, key
        if drawn is not None:
            assert drawn in _dot(spec) and drawn not in plain_dot, key


def test_render_marks_the_frozen_stages_and_its_legend_says_so() -> None:
    assert "marks the frozen stem and stages\nin the diagram, and its legend says what the mark means" in TEXT
    dot = _dot({"extends": "resnet18", "frozen_stages": 1})
    assert "frozen" not in _dot("resnet18").lower()
    # each top-level cluster's whole text (its attributes and nodes), by name: stem, s0 (layer1), s1, …, head
    clusters = dict(re.findall(r"^\tsubgraph cluster_(\w+) \{\n(.*?)^\t\}", dot, flags=re.MULTILINE | re.DOTALL))
    frozen = {name for name, body in clusters.items() if "frozen" in body.lower()}
    assert {"stem", "s0"} <= frozen and not frozen & {"s1", "s2", "s3", "head"}, sorted(frozen)
    outside = re.sub(r"^\tsubgraph cluster_(stem|s0) \{\n.*?^\t\}", "", dot, flags=re.MULTILINE | re.DOTALL)
    assert "frozen" in outside.lower(), "the legend explains the mark"


def test_the_console_example_is_the_real_output() -> None:
    """Each ```console block of the page: its command's output, line for line (``...`` stands for lines left out)."""
    from .conftest import run_cli

    blocks = re.findall(r"```console\n\$ resnetdsl (.*?)\n(.*?)```", TEXT, flags=re.DOTALL)
    assert len(blocks) == 1
    for command, shown in blocks:
        done = run_cli(*command.split())
        assert done.returncode == 0, done.stderr
        lines = shown.splitlines()
        cut = lines.index("...") if "..." in lines else len(lines)
        assert done.stdout.splitlines()[:cut] == lines[:cut]


def test_frozen_stages_are_the_summary_rows_the_page_says() -> None:
    """*Trainable* is ``sum(p.numel() for p in stage.parameters() if p.requires_grad)``, *Training* the batch norms
    ``model.train()`` leaves in eval, as the page says."""
    import torch

    import resnetdsl
    from resnetdsl.summary import summarize

    assert "`sum(p.numel() for p in stage.parameters() if p.requires_grad)` for\n*Trainable*" in TEXT
    spec = {"extends": "resnet50", "frozen_stages": 2, "norm_eval": True}
    model = resnetdsl.build_model(spec, device="meta").train()
    rows = {r.name: r for r in summarize(spec, 128).rows_at("stage")}
    for st in model.plan.stages:
        stage = model.get_submodule(st.name)
        assert rows[st.name].trainable_params == sum(p.numel() for p in stage.parameters() if p.requires_grad)
        bns = [m for m in stage.modules() if isinstance(m, torch.nn.BatchNorm2d) and not m.training]
        assert rows[st.name].eval_norms == len(bns) and rows[st.name].frozen == (st.index < 2)


def test_the_segmenter_summary_sentence() -> None:
    import ast

    (block,) = [b for b in BLOCKS if "DeepLabV3" in b]
    spec = ast.literal_eval(re.search(r"^spec = (\{.*?^\})", block, flags=re.MULTILINE | re.DOTALL)[1])  # type: ignore[index]
    said = re.search(r"`resnetdsl summary` of this spec shows `(\w+)` at stride (\d+) with dilation (\d+)", TEXT)
    assert said is not None
    name, stride, dilation = said[1], said[2], said[3]
    assert re.search(rf"^{name} \d+ {stride} {dilation} \d+$", _summary(spec), flags=re.MULTILINE)
    taps = re.findall(r"<b>feature \d+</b><br/>out\[\d+\] · (\w+)<br/>\d+×\d+×\d+ · stride (\d+)\b", _dot(spec))
    assert taps == [(name, stride)]
