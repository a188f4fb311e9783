"""Every setting a plan carries reaches every exporter or is refused by it with a clear message."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

import resnetdsl
from resnetdsl import plan as P
from resnetdsl.export.onnx import output_names
from resnetdsl.export.python import to_python
from resnetdsl.export.settings import EXPORTED_SETTINGS

from .test_export import _load

STRUCTURE = {
    P.Plan: {"name", "description", "in_channels", "input_size", "stem", "stages", "head", "num_classes"}
    | {"zero_init_residual", "final", "layout"},
    P.Stage: {"name", "index", "block_kind", "in_channels", "out_channels", "stride", "blocks", "dilation"},
}
"""Fields that describe the network's layers (the exporters write them through the ops, and test_export compares
outputs); every other field is a setting the Python export must carry or refuse (EXPORTED_SETTINGS)."""


@pytest.mark.parametrize("kind", [P.Plan, P.Stage], ids=lambda k: k.__name__)
def test_every_plan_field_is_carried_or_refused(kind: type) -> None:
    fields = {f.name for f in dataclasses.fields(kind)}
    settings = fields - STRUCTURE[kind]
    assert settings <= set(EXPORTED_SETTINGS), f"{sorted(settings - set(EXPORTED_SETTINGS))}: carry or refuse them"
    assert STRUCTURE[kind] <= fields


BACKBONE = {
    "extends": "resnet18d",  # avgpool_projection: timm's 'SAME' pool once the stage is dilated
    "features": {"out_indices": [2, 3, 4]},
    "frozen_stages": 1,
    "norm_eval": True,
    "output_stride": 16,
}


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
def test_python_export_keeps_features_frozen_stages_and_norm_eval(tmp_path: Path) -> None:
    plan = resnetdsl.plan_of(BACKBONE)
    model = resnetdsl.build_model(plan, seed=0)
    exported = _load(to_python(plan), tmp_path, "backbone")()
    exported.load_state_dict(model.state_dict(), strict=True)
    assert (
        {n for n, p in exported.named_parameters() if not p.requires_grad}
        == {n for n, p in model.named_parameters() if not p.requires_grad}
        != set()
    )
    exported.train()
    model.train()
    assert {n for n, m in exported.named_modules() if m.training} == {n for n, m in model.named_modules() if m.training}
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = model(x)
        got = exported(x)
        assert isinstance(got, list) and len(got) == len(want) == 3
        for a, b in zip(got, want, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
        for a, b in zip(torch.jit.script(exported)(x), want, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_python_export_refuses_checkpointing() -> None:
    plan = resnetdsl.plan_of({"extends": "resnet18", "stages": {1: {"checkpoint": True}}})
    with pytest.raises(ValueError) as exc:
        to_python(plan)
    assert str(exc.value) == (
        "the Python export does not carry activation checkpointing (layer2 set checkpoint: true); export with "
        "--set stages.N.checkpoint=false, or use resnetdsl.build_model"
    )


def test_cli_export_refusal_is_one_line_exit_1() -> None:
    from .conftest import run_cli

    done = run_cli("export", "resnet18", "--format", "python", "--set", "stages.0.checkpoint=true")
    assert done.returncode == 1
    assert done.stderr.startswith("resnetdsl: error: the Python export does not carry activation checkpointing")
    assert "Traceback" not in done.stderr and "ValueError" not in done.stderr


def test_onnx_outputs_are_named_by_their_feature_map() -> None:
    assert output_names(resnetdsl.plan_of(BACKBONE)) == ["feature_2", "feature_3", "feature_4"]
    assert output_names(resnetdsl.plan_of("resnet18")) == ["output"]
