"""Receptive fields and reductions from the plan, checked against the built model's gradients."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

import resnetdsl
from resnetdsl import plan as P
from resnetdsl.receptive import FeatureFacts, Field, block_field, feature_facts
from tests.conftest import SPECS


def _dilate(plan: P.Plan, stage: str, d: int) -> P.Plan:
    """The plan with every 3×3 conv of ``stage`` dilated by ``d`` (padding d keeps every shape)."""

    def conv(op: P.Op) -> P.Op:
        if isinstance(op, P.Conv) and op.kernel_size == 3:
            return dataclasses.replace(op, dilation=d, padding=d)
        return op

    stages = tuple(
        dataclasses.replace(
            st,
            blocks=tuple(dataclasses.replace(b, main=tuple(conv(o) for o in b.main)) for b in st.blocks),
        )
        if st.name == stage
        else st
        for st in plan.stages
    )
    return dataclasses.replace(plan, stages=stages)


def _measured(plan: P.Plan, size: int) -> list[tuple[int, int]]:
    """(height, width) of the input window with a non-zero gradient for the centre position of each feature map.

    Weights are made positive and max-pools become avg-pools of the same geometry (a max-pool passes the
    gradient to one input only), so every input pixel the position sees gets a non-zero gradient.
    """
    model = resnetdsl.build_model(plan, seed=0).eval()
    for name, m in list(model.named_modules()):
        if isinstance(m, nn.MaxPool2d):
            parent = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
            avg = nn.AvgPool2d(m.kernel_size, m.stride, m.padding, ceil_mode=m.ceil_mode)  # type: ignore[arg-type]
            setattr(parent, name.rpartition(".")[2], avg)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.abs() + 0.01)
    feats: list[torch.Tensor] = []
    stem_last = plan.stem[-1].name.partition(".")[0]
    model.get_submodule(stem_last).register_forward_hook(lambda m, i, o: feats.append(o))
    for st in plan.stages:
        model.get_submodule(st.name).register_forward_hook(lambda m, i, o: feats.append(o))
    x = torch.ones(1, plan.in_channels, size, size, requires_grad=True)
    model.forward_features(x)
    out = []
    for f in feats:
        _, _, h, w = f.shape
        (g,) = torch.autograd.grad(f[0, :, h // 2, w // 2].sum(), x, retain_graph=True)
        nz = g[0].abs().sum(0).nonzero()
        out.append((int(nz[:, 0].max() - nz[:, 0].min() + 1), int(nz[:, 1].max() - nz[:, 1].min() + 1)))
    return out


CASES = [
    ("cifar_resnet20", None, 96, 3),
    ("resnet18", None, 480, 4),
    ("resnet26t", None, 256, 4),
    ("resnet50d", None, 320, 3),  # layer4 would need a 480-pixel input; resnet18 covers it
    ("cifar_resnet20", ("layer3", 2), 160, 3),
]


@pytest.mark.slow
@pytest.mark.parametrize(("preset", "dilate", "size", "stages"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_receptive_field_equals_the_gradients_reach(
    preset: str, dilate: tuple[str, int] | None, size: int, stages: int
) -> None:
    plan = resnetdsl.plan_of(preset)
    plan = dataclasses.replace(plan, stages=plan.stages[:stages], head=())
    if dilate is not None:
        plan = _dilate(plan, *dilate)
    facts = feature_facts(plan)
    assert max(f.receptive_field for f in facts) < size, "the input must hold the whole window"
    assert _measured(plan, size) == [(f.receptive_field, f.receptive_field) for f in facts]


def test_known_figures() -> None:
    facts = {f.name: f for f in feature_facts(resnetdsl.plan_of("resnet18"))}
    assert facts["stem"] == FeatureFacts("stem", 64, 4, 1, 11)
    assert facts["layer4"] == FeatureFacts("layer4", 512, 32, 1, 435)  # the published ResNet-18 figure
    dilated = feature_facts(_dilate(resnetdsl.plan_of("cifar_resnet20"), "layer3", 2))
    assert [(f.reduction, f.dilation, f.receptive_field) for f in dilated] == [
        (1, 1, 3),
        (1, 1, 15),
        (2, 1, 37),
        (4, 2, 125),
    ]


DILATED_SPECS = [
    # the spec keys of backbones: output_stride turns strides into dilation; a stage may set its own dilation
    ({"extends": "resnet18", "name": "os8", "output_stride": 8}, 256, 3),
    (
        {
            "extends": "resnet50d",
            "name": "os8",
            "output_stride": 8,
            "stages": [
                {"depth": 1, "width": 16},
                {"depth": 1, "width": 16, "stride": 2},
                {"depth": 2, "width": 16, "stride": 2},
            ],
        },
        160,
        3,
    ),
    (
        {
            "extends": "cifar_resnet20",
            "name": "dil",
            "stages": [
                {"depth": 3, "width": 16},
                {"depth": 3, "width": 32, "stride": 2},
                {"depth": 3, "width": 64, "dilation": 3},
            ],
        },
        160,
        3,
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("spec", "size", "stages"), DILATED_SPECS, ids=["resnet18-os8", "resnet50d-os8", "explicit"])
def test_receptive_field_of_dilated_specs_equals_the_gradients_reach(
    spec: dict[str, object], size: int, stages: int
) -> None:
    plan = resnetdsl.plan_of(spec)
    plan = dataclasses.replace(plan, stages=plan.stages[:stages], head=())
    facts = feature_facts(plan)
    assert max(f.dilation for f in facts) > 1
    assert max(f.receptive_field for f in facts) < size, "the input must hold the whole window"
    assert _measured(plan, size) == [(f.receptive_field, f.receptive_field) for f in facts]


def test_known_figures_of_output_stride() -> None:
    facts = feature_facts(resnetdsl.plan_of({"extends": "resnet18", "name": "os8", "output_stride": 8}))
    # dilation makes up for each stride it replaces: the windows stay those of resnet18, the maps stay 8× finer
    assert [(f.reduction, f.dilation, f.receptive_field) for f in facts] == [
        (4, 1, 11),
        (4, 1, 43),
        (8, 1, 99),
        (8, 2, 211),
        (8, 4, 435),
    ]


def _block_by_block(plan: P.Plan) -> tuple[FeatureFacts, ...]:
    """The facts by the recurrence walked through every block in turn (what feature_facts shortcuts)."""
    x = Field(1, 1).through_all(plan.stem)
    channels = plan.stages[0].in_channels if plan.stages else plan.feature_channels
    out = [FeatureFacts("stem", channels, x.jump, x.dilation, None if x.whole else x.size)]
    for st in plan.stages:
        for block in st.blocks:
            x = block_field(block, x)
        out.append(FeatureFacts(st.name, st.out_channels, x.jump, x.dilation, None if x.whole else x.size))
    return tuple(out)


@pytest.mark.parametrize("preset", sorted(p.stem for p in SPECS.glob("*.yaml")))
def test_each_distinct_block_found_once_gives_the_block_by_block_facts(preset: str) -> None:
    # feature_facts applies each distinct block's effect on a unit field (size and jump are affine in the input's)
    plan = resnetdsl.plan_of(preset)
    assert feature_facts(plan) == _block_by_block(plan)


def test_a_block_whose_paths_disagree_is_told_with_the_strides_they_reach() -> None:
    plan = resnetdsl.plan_of("resnet18")
    first = plan.stages[1].blocks[0]  # layer2.0: stride 2 on its main path and its projection
    broken = dataclasses.replace(first, shortcut="identity", shortcut_ops=())
    stage = dataclasses.replace(plan.stages[1], blocks=(broken, *plan.stages[1].blocks[1:]))
    plan = dataclasses.replace(plan, stages=(plan.stages[0], stage, *plan.stages[2:]))
    with pytest.raises(ValueError, match=r"^block 0: paths of different strides \(8 and 4\)$"):
        feature_facts(plan)
