"""Python objects print as a user reads them: a one-line repr (name, params, MACs, counts), the table as str,
notebook forms (_repr_markdown_, _repr_html_), flat rows for pandas."""

from __future__ import annotations

import resnetdsl
from resnetdsl.check import check
from resnetdsl.summary import format_summary


def test_summary_repr_str_and_notebook_forms() -> None:
    s = resnetdsl.summarize("resnet50")
    assert repr(s) == "<Summary resnet50: 25,557,032 params, 4.09 GMACs, 3×224×224 → (1000,), 181 rows, 0 warnings>"
    assert str(s) == s.table() == format_summary(s, "table", "block")
    assert s.to_markdown() == s._repr_markdown_() == format_summary(s, "markdown", "block")
    assert s._repr_html_().startswith("<pre>resnet50: input 3×224×224")
    rows = s.to_dict()["rows"]
    assert all(not isinstance(v, dict) for row in rows for v in row.values())  # flat, for pandas


def test_checked_plan_diff_and_weight_report_reprs_are_one_short_line() -> None:
    checked = check("resnet50")
    assert repr(checked) == "<Checked resnet50: 25,557,032 params, 4.09 GMACs, 4 stages, 16 blocks, 0 warnings>"
    assert repr(checked.plan) == (
        "<Plan resnet50: stages (3, 4, 6, 3) of bottleneck blocks, 159 ops, 3×224×224 input, 1000 classes>"
    )
    d = resnetdsl.diff("resnet50", "resnet50d")
    assert repr(d) == "<Diff resnet50 → resnet50d: 3 spec keys, 2 parts changed; weights do not load strictly>"
    assert str(d) == d.format()
    assert repr(d.weights) == "<WeightReport resnet50 → resnet50d: 319 loaded, 13 missing, 1 unexpected; not strict>"
    assert str(d.weights) == d.weights.format()
    for obj in (checked, checked.plan, d, d.weights):
        assert len(repr(obj)) < 120 and "\n" not in repr(obj)
