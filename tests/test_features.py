"""Multi-scale backbones build nothing after the last map they return (issue 17 item 5): every parameter gets a
gradient, the analysis counts what the model holds, and the summary's output is the last map returned."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import torch

import resnetdsl
from resnetdsl.analyze import analyze

NETS: dict[str, dict[str, Any]] = {
    "resnet": {"stem": {"kind": "conv7", "width": 8}},
    "conv_pool": {"stem": {"kind": "deep", "width": 8, "pool": "conv"}, "defaults": {"block": "bottleneck"}},
    "resnetv2": {"stem": {"kind": "deep", "width": 8}, "defaults": {"block": "preact_basic"}, "layout": "resnetv2"},
    "preact": {"stem": {"kind": "conv7", "width": 8}, "defaults": {"block": "preact_bottleneck"}},
}
STAGES = [{"depth": 1, "width": 8}, {"depth": 2, "width": 8, "stride": 2}, {"depth": 1, "width": 16, "stride": 2}]
CHOICES = [c for n in range(1, 5) for c in itertools.combinations(range(4), n)]
"""Every choice for the plain network; for the other stems and layouts, the stem's map alone, one stage's, and
the two ends."""
SOME = [(0,), (1,), (2,), (0, 3)]


def _spec(net: str, out_indices: tuple[int, ...]) -> dict[str, Any]:
    return {
        "name": "f",
        "input": {"size": [24, 24]},
        "stages": STAGES,
        **NETS[net],
        "features": {"out_indices": out_indices},
    }


@pytest.mark.parametrize("net", NETS)
def test_every_parameter_of_a_backbone_gets_a_gradient(net: str) -> None:
    for out_indices in CHOICES if net == "resnet" else SOME:
        plan = resnetdsl.plan_of(_spec(net, out_indices))
        model = resnetdsl.build_model(plan, seed=0).train()
        maps = model(torch.randn(2, 3, 24, 24, generator=torch.Generator().manual_seed(0)))
        assert len(maps) == len(out_indices)
        sum(m.square().mean() for m in maps).backward()
        without = [n for n, p in model.named_parameters() if p.grad is None]
        assert without == [], (out_indices, without)
        assert analyze(plan).totals.params == sum(p.numel() for p in model.parameters()), out_indices
        summary = resnetdsl.summarize(plan)
        assert summary.output_shape == tuple(maps[-1].shape[1:]), out_indices
        assert len(plan.stages) == max(out_indices), out_indices


def test_the_stems_map_alone_leaves_out_the_pool_and_every_stage() -> None:
    plan = resnetdsl.plan_of(_spec("resnet", (0,)))
    assert plan.stages == () and [op.name for op in plan.stem] == ["conv1", "bn1", "act1"]
    model = resnetdsl.build_model(_spec("resnet", (0,)), device="meta")
    assert [n for n, _ in model.named_children()] == ["conv1", "bn1", "act1"]
    assert model.feature_info.module_name() == ["act1"] and model.feature_info.channels() == [8]
    assert resnetdsl.summarize(_spec("resnet", (0,))).output_shape == (8, 12, 12)
