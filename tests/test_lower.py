"""Lowering: the plan makes every block, channel, stride, shortcut and module name explicit."""

from __future__ import annotations

import resnetdsl
from resnetdsl import plan as P


def test_resnet50_plan_is_explicit() -> None:
    plan = resnetdsl.plan_of("resnet50")
    assert [s.name for s in plan.stages] == ["layer1", "layer2", "layer3", "layer4"]
    assert [s.depth for s in plan.stages] == [3, 4, 6, 3]
    assert [(s.in_channels, s.out_channels, s.stride) for s in plan.stages] == [
        (64, 256, 1),
        (256, 512, 2),
        (512, 1024, 2),
        (1024, 2048, 2),
    ]
    first = plan.stages[0].blocks[0]
    assert (first.in_channels, first.mid_channels, first.out_channels, first.stride) == (64, 64, 256, 1)
    assert first.shortcut == "projection"  # the stride-1 projection 64 → 256 of layer1.0
    assert [op.name for op in first.main] == ["conv1", "bn1", "act1", "conv2", "bn2", "act2", "conv3", "bn3"]
    assert [op.name for op in first.shortcut_ops] == ["downsample.0", "downsample.1"]
    assert [b.shortcut for b in plan.stages[1].blocks] == ["projection", "identity", "identity", "identity"]
    conv2 = plan.stages[1].blocks[0].main[3]
    assert isinstance(conv2, P.Conv) and conv2.stride == 2 and conv2.kernel_size == 3
    assert [op.name for op in plan.head] == ["global_pool", "flatten", "fc"]


def test_resnext_inner_width() -> None:
    plan = resnetdsl.plan_of("resnext101_32x8d")
    b = plan.stages[0].blocks[0]
    assert (b.mid_channels, b.groups, b.out_channels) == (256, 32, 256)
    assert plan.stages[3].blocks[0].mid_channels == 2048


def test_cifar_plan_uses_option_a() -> None:
    plan = resnetdsl.plan_of("cifar_resnet20")
    assert [b.shortcut for _, b in plan.blocks()] == ["identity"] * 3 + ["pad", "identity", "identity"] * 2
    pad = plan.stages[1].blocks[0].shortcut_ops[0]
    assert pad == P.PadShortcut("downsample", 16, 32, 2)


def test_named_ops_are_unique_full_paths() -> None:
    for name in resnetdsl.presets():
        paths = [p for p, _ in resnetdsl.plan_of(name).named_ops()]
        assert len(paths) == len(set(paths)), name


def test_shortcut_policies() -> None:
    def uses(policy: str) -> list[str]:
        text = (
            "name: x\nstem: {kind: conv3, width: 16}\n"
            f"defaults: {{shortcut: {policy}}}\n"
            "stages: [{depth: 2, width: 16}, {depth: 2, width: 32, stride: 2}]\n"
        )
        return [b.shortcut for _, b in resnetdsl.plan_of(text).blocks()]

    assert uses("identity_pad") == ["identity", "identity", "pad", "identity"]
    assert uses("projection") == ["identity", "identity", "projection", "identity"]
    assert uses("projection_all") == ["projection"] * 4
    assert uses("avgpool_projection") == ["identity", "identity", "avgpool_projection", "identity"]
    assert uses("none") == ["none"] * 4


def test_plan_is_frozen_and_hashable() -> None:
    plan = resnetdsl.plan_of("resnet18")
    assert hash(plan) == hash(resnetdsl.plan_of("resnet18"))
    assert plan == resnetdsl.plan_of("resnet18")
