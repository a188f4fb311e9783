"""Per-block control: a stage's `blocks` overrides chosen blocks by index; names stay predictable."""

from __future__ import annotations

import pytest
import torch

import resnetdsl
from resnetdsl import plan as P

MIXED = """\
name: mixed
input: {size: [64, 64]}
stem: {kind: conv3, width: 16}
stages:
  - depth: 3
    width: 16
    blocks:
      - {at: 1, block: bottleneck, width: 8}
      - {at: -1, stride: 2, attention: se}
  - {depth: 2, width: 32, stride: 2, blocks: [{at: [0], shortcut: avgpool_projection}]}
head: {num_classes: 10}
"""


def test_overrides_reach_the_plan_and_the_model() -> None:
    plan = resnetdsl.plan_of(MIXED)
    b0, b1, b2 = plan.stages[0].blocks
    assert (b0.kind, b1.kind, b2.kind) == ("basic", "bottleneck", "basic")
    assert (b1.in_channels, b1.mid_channels, b1.out_channels) == (16, 8, 32)  # bottleneck of width 8 → 32 out
    assert (b2.stride, b2.in_channels, b2.out_channels, b2.shortcut) == (2, 32, 16, "projection")
    assert any(isinstance(op, P.SqueezeExcite) for op in b2.main)
    assert plan.stages[0].block_kind == "basic+bottleneck"
    assert plan.stages[1].blocks[0].shortcut == "avgpool_projection"
    assert plan.stages[1].blocks[1].shortcut == "identity"
    model = resnetdsl.build_model(plan, seed=0)
    names = {n for n, _ in model.named_modules()}
    # module names follow the block index whatever the block is
    assert {"layer1.1.conv3", "layer1.1.downsample.0", "layer1.2.se.fc1", "layer2.0.downsample.1"} <= names
    assert "layer1.0.conv3" not in names
    out = model.eval()(torch.zeros(2, 3, 64, 64))
    assert out.shape == (2, 10)
    again = resnetdsl.build_model(MIXED, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True))


def test_a_changed_block_is_drawn_apart() -> None:
    text = "name: c\nstem: {kind: conv3, width: 8}\nstages:\n  - {depth: 12, width: 8, blocks: [{at: 5, width: 4}]}\n"
    dot = resnetdsl.render(text, detail="block", collapse=True).source
    # blocks 0–4 and 7–11 collapse; block 5 (8 → 4) and block 6 (4 → 8) differ from them and stand alone
    assert dot.count("×5</b>") == 2 and "layer1.5<" in dot and "layer1.6<" in dot


@pytest.mark.parametrize(
    ("stage", "message"),
    [
        (
            "{depth: 2, width: 8, blocks: [{at: 2, width: 4}]}",
            "stages[0].blocks[0].at: no block 2 in a stage of 2 blocks (0…1, or -2…-1 from the end)",
        ),
        (
            "{depth: 2, width: 8, blocks: [{at: [0, -2], width: 4}]}",
            "stages[0].blocks[0].at[1]: block 0 is already chosen by stages[0].blocks[0]",
        ),
        (
            "{depth: 2, width: 8, blocks: [{at: 0}]}",
            "stages[0].blocks[0]: sets nothing but 'at'; give a setting, width or stride",
        ),
        (
            "{depth: 2, width: 8, blocks: [{at: 1, groups: 2}]}",
            "stages[0].blocks[0].groups: applies only to bottleneck, resnest or res2net blocks "
            "(stages[0].blocks[0] uses basic blocks)",
        ),
        (
            "{depth: 2, width: 8, blocks: [{at: 1, se_ratio: 0.5}]}",
            "stages[0].blocks[0].se_ratio: applies only to attention 'se' (stages[0].blocks[0] uses attention 'none')",
        ),
        (
            "{depth: 2, width: 8, blocks: [{at: 1, block: preact_basic}]}",
            "stages[0].blocks[0].block: 'preact_basic' mixes pre- and post-activation blocks in one network; use basic",
        ),
        (
            "{depth: 2, width: 8, blocks: [{at: 1, dropout: 0.1}]}",
            "stages[0].blocks[0].dropout: applies only to "
            "preact_basic blocks, between their two 3×3 convs (stages[0].blocks[0] uses basic blocks); use block: "
            "preact_basic (head.dropout drops before the classifier)",
        ),
        (
            "{depth: 2, width: 8, blocks: [{at: 1, widht: 4}]}",
            "stages[0].blocks[0].widht: unknown key 'widht' (did you mean 'width'?)",
        ),
    ],
)
def test_override_problems(stage: str, message: str) -> None:
    text = f"name: t\nstem: {{kind: conv3, width: 8}}\nstages:\n  - {stage}\n"
    with pytest.raises(resnetdsl.SpecError) as info:
        resnetdsl.plan_of(text)
    assert [i.format().split(": ", 1)[1] for i in info.value.issues] == [message]


def test_overrides_are_kept_through_extends(tmp_path: pytest.TempPathFactory) -> None:
    plan = resnetdsl.plan_of(
        "extends: resnet18\nname: r18x\nstages:\n"
        "  - {depth: 2, width: 64, blocks: [{at: 1, block: bottleneck, width: 16}]}\n"
        "  - {depth: 2, width: 128, stride: 2}\n"
    )
    assert [b.kind for b in plan.stages[0].blocks] == ["basic", "bottleneck"]
    assert plan.stages[0].blocks[1].out_channels == 64


@pytest.mark.parametrize("act", ["relu", "leaky_relu", "silu"])
def test_a_pre_activation_without_norm_leaves_the_block_input_alone(act: str) -> None:
    # found by the random specs: an in-place act first in the block overwrote the input the identity adds back
    text = (
        f"name: t\nstem: {{kind: conv3, width: 8}}\ndefaults: {{block: preact_basic, norm: none, act: {act}}}\n"
        "stages: [{depth: 2, width: 8}]\n"
    )
    model = resnetdsl.build_model(text, seed=0).eval()
    block = model.get_submodule("layer1.1")
    x = torch.randn(2, 8, 8, 8)
    kept = x.clone()
    out = block(x)
    assert torch.equal(x, kept)
    assert torch.allclose(out, kept + block.conv2(block.act2(block.conv1(block.act1(kept.clone())))))
    model.train()
    model(torch.randn(2, 3, 16, 16)).sum().backward()  # no autograd complaint about in-place changes
