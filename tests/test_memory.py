"""Training memory from the plan (resnetdsl.memory) against what the built model really saves for backward."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import resnetdsl
from resnetdsl import plan as P
from resnetdsl.analyze import analyze
from resnetdsl.memory import activation_report, memory_report
from resnetdsl.ops import DESCRIPTIONS

from .conftest import run_cli
from .memprobe import saved_bytes

FAST = {
    "resnet18",
    "resnet18d",
    "resnet26t",
    "resnet50",
    "cifar_resnet20",
    "resnetv2_18",
    "wrn16_8",
    "tutorial_resnet18",
}
"""Presets measured in the fast run; the others (seconds each on 2 cores) in the slow run."""

VARIANTS = {
    "silu": "extends: resnet18\ndefaults: {act: silu}",
    "gelu": "extends: resnet18\ndefaults: {act: gelu}",
    "mish": "extends: resnet18\ndefaults: {act: mish}",
    "hardswish": "extends: resnet18\ndefaults: {act: hardswish}",
    "leaky_relu": "extends: resnet18\ndefaults: {act: leaky_relu}",
    "frozen": "extends: resnet18\ndefaults: {norm: frozen_batch}",
    "no_norm": "extends: cifar_resnet20\ndefaults: {norm: none}",
    "drop_path": "extends: resnet18\ndefaults: {drop_path: 0.2}",
    "dropout": "extends: wrn16_8\ndefaults: {dropout: 0.3}",
    "max_head": "extends: resnet18\nhead: {pool: max, dropout: 0.2}",
}


def _case(source: str) -> tuple[P.Plan, int]:
    plan = resnetdsl.plan_of(source)
    return plan, 32 if plan.input_size[0] <= 32 else 64


def _all_checkpointed(plan: P.Plan) -> P.Plan:
    return dataclasses.replace(plan, stages=tuple(dataclasses.replace(s, checkpoint=True) for s in plan.stages))


def _check(plan: P.Plan, size: int) -> None:
    static = activation_report(analyze(plan, (size, size)), 2).activation_total
    measured = saved_bytes(resnetdsl.build_model(plan, seed=0), torch.randn(2, plan.in_channels, size, size))
    assert abs(static - measured) <= 0.01 * measured, (static, measured)


@pytest.mark.parametrize(
    "name", [n if n in FAST else pytest.param(n, marks=pytest.mark.slow) for n in resnetdsl.presets()]
)
def test_static_activation_bytes_match_the_model(name: str) -> None:
    plan, size = _case(name)
    _check(plan, size)
    _check(_all_checkpointed(plan), size)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_activation_norm_and_dropout_rule(name: str) -> None:
    plan, size = _case(VARIANTS[name])
    _check(plan, size)


def test_checkpointing_keeps_only_block_inputs() -> None:
    spec = "extends: cifar_resnet20\nstages: [{depth: 3, width: 16, checkpoint: true},"
    spec += " {depth: 3, width: 32, stride: 2}]"
    plan, _ = _case(spec)
    plain = dataclasses.replace(plan, stages=tuple(dataclasses.replace(s, checkpoint=False) for s in plan.stages))
    with_ck = activation_report(analyze(plan), 2).activations
    without = activation_report(analyze(plain), 2).activations
    # three block inputs, float32; the first is the stem's output, which the stem's ReLU saved already
    assert with_ck["layer1"] == 2 * (2 * 16 * 32 * 32 * 4)
    # layer1's output, saved inside layer1 before, is now first saved by layer2's first conv
    assert with_ck["layer2"] == without["layer2"] + 2 * 16 * 32 * 32 * 4
    assert with_ck["layer1"] < without["layer1"] / 5


def test_parameter_and_optimizer_bytes_match_torch() -> None:
    model = resnetdsl.build_model("resnet18", seed=0)
    report = memory_report("resnet18", 2)["float32"]
    params = list(model.parameters())
    assert report.param_bytes == sum(p.numel() * 4 for p in params)
    for p in params:
        p.grad = torch.zeros_like(p)
    sgd = torch.optim.SGD(params, lr=0.1, momentum=0.9)
    adam = torch.optim.Adam(params)
    sgd.step(), adam.step()

    def state_bytes(opt: torch.optim.Optimizer) -> int:
        return sum(t.numel() * t.element_size() for s in opt.state.values() for t in s.values() if torch.is_tensor(t))

    assert report.sgd_state_bytes == state_bytes(sgd)
    assert report.adam_state_bytes == state_bytes(adam)
    assert report.grad_bytes == report.param_bytes


def test_bfloat16_halves_activations_but_not_statistics() -> None:
    reports = memory_report("resnet18", 4)
    f32, bf16 = reports["float32"], reports["bfloat16"]
    assert bf16.param_bytes * 2 == f32.param_bytes
    assert f32.activation_total / 2 < bf16.activation_total < f32.activation_total * 0.55  # int64 pool indices


def test_unknown_op_type_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    analysis = analyze(resnetdsl.plan_of("cifar_resnet20"))  # analysed while every op type is described
    monkeypatch.delitem(DESCRIPTIONS, P.PadShortcut)
    with pytest.raises(KeyError, match="PadShortcut"):
        activation_report(analysis, 2)


def test_summary_batch_prints_memory() -> None:
    done = run_cli("summary", "cifar_resnet20", "--batch", "32")
    assert done.returncode == 0, done.stderr
    report = memory_report("cifar_resnet20", 32)["float32"]
    assert "Training memory at batch 32" in done.stdout
    assert f"{report.activation_total / 2**20:,.1f} MiB" in done.stdout
    for stage in ("layer1", "layer2", "layer3"):
        assert f"  {stage} " in done.stdout
