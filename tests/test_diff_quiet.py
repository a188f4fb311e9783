"""diff compares what two specs mean, not how they were written, and does not flood: the per-tensor report is
grouped by stage and kind unless --tensors asks for every tensor."""

from __future__ import annotations

import resnetdsl


def test_inherited_and_written_defaults_compare_equal() -> None:
    written = {
        "extends": "resnet50d",
        "stem": {"norm": "batch", "act": "relu"},
        "stages": {1: {"shortcut": "avgpool_projection", "norm": "batch"}},
    }
    d = resnetdsl.diff("resnet50d", written)
    assert d.keys == ()
    assert d.format().splitlines()[3] == "spec: the same"


def test_a_real_change_is_still_reported_once() -> None:
    d = resnetdsl.diff("resnet50d", {"extends": "resnet50d", "init": {"zero_init_residual": True}})
    assert [(k.path, k.a, k.b) for k in d.keys] == [("init.zero_init_residual", False, True)]
    d = resnetdsl.diff("resnet18", {"extends": "resnet18", "defaults": {"norm": "group"}})
    assert [k.path for k in d.keys] == ["defaults.norm"]


def test_the_tensor_report_is_grouped_unless_tensors_are_asked_for() -> None:
    d = resnetdsl.diff("resnet50", {"extends": "resnet50", "defaults": {"norm": "group"}})
    short = d.format().splitlines()
    report = short[short.index("weights resnet50 → resnet50: 161 loaded, 159 unexpected") :]
    assert report[1:] == [
        "  unexpected: bn1: 3 tensors (1 running_mean, 1 running_var, 1 num_batches_tracked)",
        "  unexpected: layer1: 30 tensors (10 running_mean, 10 running_var, 10 num_batches_tracked)",
        "  unexpected: layer2: 39 tensors (13 running_mean, 13 running_var, 13 num_batches_tracked)",
        "  unexpected: layer3: 57 tensors (19 running_mean, 19 running_var, 19 num_batches_tracked)",
        "  unexpected: layer4: 30 tensors (10 running_mean, 10 running_var, 10 num_batches_tracked)",
    ]
    full = d.format(tensors=True).splitlines()
    assert sum(line.startswith("  unexpected: ") for line in full) == 159
    assert sum(line.startswith("  loaded: ") for line in full) == 161
