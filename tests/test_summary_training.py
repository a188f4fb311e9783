"""What trains and what ``model.train()`` keeps in eval mode, per row of a summary (``frozen_stages``, ``norm_eval``):
exact against the built model, in the Summary object and in every format."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

import resnetdsl
from resnetdsl.summary import Row, Summary, format_summary, summarize

SHORT = {"stages": {i: {"depth": 2} for i in range(3)}}
CASES: dict[str, dict[str, Any]] = {
    "resnet50-frozen2": {"extends": "resnet50", "frozen_stages": 2},
    "resnet18-frozen0-norm_eval": {"extends": "resnet18", "frozen_stages": 0, "norm_eval": True},
    "preact-frozen1-norm_eval": {"extends": "preact_resnet164", "frozen_stages": 1, "norm_eval": True} | SHORT,
    "resnetv2_50-frozen1": {"extends": "resnetv2_50", "frozen_stages": 1},  # timm's norm-act modules
    "resnest50d-norm_eval": {"extends": "resnest50d", "norm_eval": True},  # batch norms inside split attention
    "skresnet50-frozen3": {"extends": "skresnet50", "frozen_stages": 3},  # and inside selective kernels
    "resnet50_gn-frozen1": {"extends": "resnet50_gn", "frozen_stages": 1},  # group norms: none to keep in eval
    "resnet18-features-frozen4": {"extends": "resnet18", "frozen_stages": 4, "features": {"out_indices": [2, 4]}},
}
GROUPS = {"stem": "stem", "final": "final", "head": "head"}


def _modules(model: Any, row: Row) -> list[Any]:
    """The modules a row stands for: its module, or the top-level modules of the stem, final or head."""
    if row.name in GROUPS and row.name not in dict(model.named_children()):
        return [model.get_submodule(op.name) for op in getattr(model.plan, GROUPS[row.name])]
    return [model.get_submodule(row.name)]


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> tuple[Summary, Any]:
    spec = CASES[request.param]
    return summarize(spec, 64), resnetdsl.build_model(spec, device="meta")


def test_every_row_is_exact_against_the_built_model(case: tuple[Summary, Any]) -> None:
    from torch.nn.modules.batchnorm import _BatchNorm

    s, model = case
    model.train()
    for row in s.rows:
        mods = _modules(model, row)
        params = [p for m in mods for p in m.parameters()]
        assert row.params == sum(p.numel() for p in params), row.name
        assert row.trainable_params == sum(p.numel() for p in params if p.requires_grad), row.name
        in_eval = [x for m in mods for x in m.modules() if isinstance(x, _BatchNorm) and not x.training]
        assert row.eval_norms == len(in_eval), row.name
        leaves = [x for m in mods for x in m.modules() if not list(x.children())]  # a container's mode does nothing
        frozen = not any(x.training for x in leaves) and not any(p.requires_grad for p in params)
        assert row.frozen == frozen, row.name
    assert s.trainable_params == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert s.eval_norms == sum(1 for m in model.modules() if isinstance(m, _BatchNorm) and not m.training)
    frozen_stages = model.plan.frozen_stages
    assert s.frozen == (
        () if frozen_stages is None else ("stem", *(st.name for st in model.plan.stages[:frozen_stages]))
    )


def test_every_format_carries_the_rows(case: tuple[Summary, Any]) -> None:
    s, _ = case
    rows = s.rows_at("block")
    data = json.loads(format_summary(s, "json", "block"))
    assert data == s.to_dict("block")
    assert [(r["trainable_params"], r["frozen"], r["eval_norms"]) for r in data["rows"]] == [
        (r.trainable_params, r.frozen, r.eval_norms) for r in rows
    ]
    assert data["training"] == {
        "frozen_stages": s.frozen_stages,
        "norm_eval": s.norm_eval,
        "frozen": list(s.frozen),
        "eval_norms": s.eval_norms,
    }
    table = csv.DictReader(io.StringIO(format_summary(s, "csv", "block")))
    got = [(int(r["trainable_params"]), r["frozen"], int(r["eval_norms"])) for r in table]
    want = [(r.trainable_params, "true" if r.frozen else "false", r.eval_norms) for r in rows]
    assert got == [*want, (s.trainable_params, "", s.eval_norms)]
    md = format_summary(s, "markdown", "block").splitlines()
    assert "| Name | Kind | Output shape | Params | Trainable | MACs | Training |" in md
    text = format_summary(s, "table", "block").splitlines()
    text = text[4 : text.index(text[1], 2)]  # the rows: between the header's rule and the closing one
    for r in rows:
        norms = f"{r.eval_norms} batch norm{'s' if r.eval_norms > 1 else ''} in eval"
        cell = "frozen" if r.frozen else (norms if r.eval_norms else "")
        (md_line,) = [line for line in md if line.startswith(f"| {r.name} | ") and line.count("|") == 8]
        assert md_line.endswith(f" | {r.params:,} | {r.trainable_params:,} | {r.macs:,} | {cell} |")
        (line,) = [line for line in text if line.split() and line.split()[0] == r.name]
        assert line.endswith(f"{r.macs:,}  {cell}" if cell else f"{r.macs:,}")
        assert f"  {r.trainable_params:,}  " in line


def test_the_table_of_resnet18_with_two_frozen_stages() -> None:
    s = summarize({"extends": "resnet18", "frozen_stages": 2}, 64)
    lines = format_summary(s, "table", "stage").splitlines()
    assert lines[2:11] == [
        "Name    Kind          Output shape     Params  Trainable        MACs  Training",
        "-" * 78,
        "stem    stem /4       64×16×16          9,536          0   9,633,792  frozen",
        "layer1  2 × basic     64×16×16        147,968          0  37,748,736  frozen",
        "layer2  2 × basic /2  128×8×8         525,568          0  33,554,432  frozen",
        "layer3  2 × basic /2  256×4×4       2,099,712  2,099,712  33,554,432",
        "layer4  2 × basic /2  512×2×2       8,393,728  8,393,728  33,554,432",
        "head    head          1000            513,000    513,000     512,000",
        "=" * 78,
    ]
    assert lines[11:16] == [
        "Total params:         11,689,512 (11.69 M)",
        "Trainable params:     11,006,440",
        "Non-trainable params: 683,072",
        "Frozen:               stem, layer1, layer2 (frozen_stages: 2)",
        "Batch norms in eval:  10 in model.train() (those of the frozen parts)",
    ]
    layer = format_summary(summarize({"extends": "resnet18", "norm_eval": True}, 64), "table", "layer").splitlines()
    assert [line.split()[-3:] for line in layer if line.strip().startswith("layer1.0.bn1")] == [["0", "in", "eval"]]
    assert "Batch norms in eval:  20 in model.train() (norm_eval: every one)" in layer


def test_a_network_that_trains_whole_keeps_the_plain_columns() -> None:
    s = summarize("resnet18", 64)
    assert s.frozen == () and s.eval_norms == 0 and (s.frozen_stages, s.norm_eval) == (None, False)
    text = format_summary(s)
    assert "Trainable  " not in text and "Training" not in text and "Frozen:" not in text
    assert all(r.trainable_params == r.params and not r.frozen and r.eval_norms == 0 for r in s.rows)


def test_what_the_other_docs_say_of_frozen_stages_in_summaries() -> None:
    """docs/spec.md and docs/summary.md, against the output."""
    from tests.conftest import ROOT

    spec_md = (ROOT / "docs" / "spec.md").read_text(encoding="utf-8")
    assert "summaries count their parameters as non-trainable" in spec_md
    s = summarize({"extends": "resnet18", "frozen_stages": 1}, 64)
    frozen = sum(r.params for r in s.rows_at("stage") if r.name in ("stem", "layer1"))
    assert s.non_trainable_params == frozen and f"Non-trainable params: {frozen:,}" in format_summary(s)

    summary_md = " ".join((ROOT / "docs" / "summary.md").read_text(encoding="utf-8").split())
    said = ["`frozen`", "`5 batch norms in eval`", "a layer row says `in eval`", "`Frozen:`", "`Batch norms in eval:`"]
    assert all(words in summary_md for words in said), [w for w in said if w not in summary_md]
    text = format_summary(
        summarize({"extends": "resnet18", "norm_eval": True, "frozen_stages": 0}, 64), "table", "layer"
    )
    lines = text.splitlines()
    rows = {line.split()[0]: line for line in lines[4 : lines.index(lines[1], 2)]}
    assert rows["stem"].endswith("  frozen") and rows["layer2"].endswith("  5 batch norms in eval")
    assert rows["layer2.0.bn1"].endswith("  in eval")
    assert "Frozen:               stem (frozen_stages: 0)" in lines
    assert "Batch norms in eval:  20 in model.train() (norm_eval: every one)" in lines
