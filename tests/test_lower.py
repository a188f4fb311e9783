"""Lowering: the plan makes every block, channel, stride, shortcut and module name explicit."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

import resnetdsl
from resnetdsl import plan as P
from resnetdsl.errors import SpecError
from resnetdsl.features import taps
from resnetdsl.lower import RESERVED_NAMES


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


# --- every rule reaches per-block entries, applicability per resolved block (issue 17 items 1 and 2) -----------

BASE = "name: t\nstem: {kind: conv3, width: 16}\n"

ENTRY_PROBLEMS: list[tuple[str, str, list[str]]] = [
    (
        "drop_path_without_an_add",
        BASE + "stages: [{depth: 2, width: 16, blocks: [{at: -1, shortcut: none, drop_path: 0.3}]}]\n",
        [
            "<string>:3:66: stages[0].blocks[0].drop_path: has no effect without a residual add "
            "(stages[0].blocks[0] uses shortcut 'none')"
        ],
    ),
    (
        "frozen_batch_norm_in_a_resnetv2_entry",
        BASE + "layout: resnetv2\ndefaults: {block: preact_basic}\n"
        "stages: [{depth: 2, width: 16, blocks: [{at: 0, norm: frozen_batch}]}]\n",
        [
            "<string>:5:55: stages[0].blocks[0].norm: must be one of 'batch', 'group', 'evonorm_s0', 'frn' with "
            "layout 'resnetv2' (timm's norm-act modules; got 'frozen_batch'); use layout: resnet"
        ],
    ),
    (
        "gelu_in_a_resnetv2_entry",
        BASE + "layout: resnetv2\ndefaults: {block: preact_basic}\n"
        "stages: [{depth: 2, width: 16, blocks: [{at: 1, act: gelu}]}]\n",
        [
            "<string>:5:54: stages[0].blocks[0].act: must be 'relu' with layout 'resnetv2' (timm's BatchNormAct2d "
            "names batch norm + ReLU only; got 'gelu'); use layout: resnet"
        ],
    ),
    (
        "both_group_sizes_in_an_entry",
        BASE + "defaults: {norm: group, norm_groups: 4}\n"
        "stages: [{depth: 2, width: 16, blocks: [{at: 1, norm_groups: 2, norm_group_channels: 4}]}]\n",
        [
            "<string>:4:65: stages[0].blocks[0].norm_group_channels: set either norm_groups or "
            "norm_group_channels, not both"
        ],
    ),
    (
        "shortcut_norm_with_norm_none_in_an_entry",
        BASE + "stages: [{depth: 2, width: 16, stride: 2, blocks: [{at: 0, norm: none, shortcut_norm: true}]}]\n",
        ["<string>:3:72: stages[0].blocks[0].shortcut_norm: has no effect with norm 'none'"],
    ),
    (
        "stage_drop_path_in_a_one_block_network",
        BASE + "stages: [{depth: 1, width: 16, drop_path: 0.2}]\n",
        [
            "<string>:3:32: stages[0].drop_path: has no effect in a network of one block "
            "(the first block's rate is always 0)"
        ],
    ),
    (
        "even_eca_kernel_in_an_entry",
        BASE + "stages: [{depth: 2, width: 16, blocks: [{at: 0, attention: eca, eca_kernel: 4}]}]\n",
        [
            "<string>:3:77: stages[0].blocks[0].eca_kernel: must be odd, so that the conv keeps the channel "
            "count (got 4)"
        ],
    ),
    (
        "inner_width_of_an_entry",
        BASE + "stages: [{depth: 2, width: 16, blocks: [{at: 1, block: bottleneck, width: 2, width_per_group: 16}]}]\n",
        [
            "<string>:3:75: stages[0].blocks[0].width: inner width int(2 × 16 / 64) × 1 is 0; raise width "
            "or width_per_group"
        ],
    ),
    (
        "identity_pad_of_an_entry_shrinks",
        BASE + "stages: [{depth: 2, width: 16, blocks: [{at: 1, shortcut: identity_pad, width: 8}]}]\n",
        [
            "<string>:3:59: stages[0].blocks[0].shortcut: 'identity_pad' cannot shrink channels (16 → 8 in layer1.1); "
            "use 'projection'"
        ],
    ),
    (
        "group_norm_of_an_entry_does_not_divide",
        BASE + "stages: [{depth: 2, width: 16, blocks: [{at: 1, norm: group, norm_groups: 3}]}]\n",
        [
            "<string>:3:75: stages[0].blocks[0].norm_groups: 3 groups do not divide the 16 channels of layer1.1.bn1; "
            "set norm_groups to a divisor of 16, or norm_group_channels"
        ],
    ),
    (
        "zero_init_when_the_only_block_has_no_norm",
        BASE + "stages: [{depth: 1, width: 16, blocks: [{at: 0, norm: none}]}]\ninit: {zero_init_residual: true}\n",
        ["<string>:4:8: init.zero_init_residual: has no effect with norm 'none' (no residual branch ends in a norm)"],
    ),
    # a setting is an error where no block it reaches uses it, said of the blocks it reaches
    (
        "defaults_groups_reaching_only_basic_blocks",
        BASE + "defaults: {groups: 2}\n"
        "stages: [{depth: 1, width: 16}, {depth: 1, width: 16, block: bottleneck, groups: 4}]\n",
        [
            "<string>:3:12: defaults.groups: applies only to bottleneck, resnest or res2net blocks "
            "(the blocks that take it from defaults are basic blocks)"
        ],
    ),
    (
        "defaults_se_ratio_reaching_no_se_block",
        BASE + "defaults: {se_ratio: 0.5}\n"
        "stages: [{depth: 1, width: 16}, {depth: 1, width: 16, attention: se, se_ratio: 0.25}]\n",
        [
            "<string>:3:12: defaults.se_ratio: applies only to attention 'se' "
            "(no block that takes it from defaults uses it)"
        ],
    ),
    (
        "defaults_norm_groups_reaching_the_stem_and_no_group_norm",
        BASE + "defaults: {norm_groups: 2}\n"
        "stages: [{depth: 1, width: 16}, {depth: 1, width: 16, norm: group, norm_groups: 4}]\n",
        [
            "<string>:3:12: defaults.norm_groups: applies only to norm 'group' or 'evonorm_s0' "
            "(neither the stem nor any block that takes it from defaults uses it)"
        ],
    ),
    (
        "stage_se_ratio_whose_blocks_use_other_attention",
        BASE + "stages: [{depth: 3, width: 16, se_ratio: 0.5, blocks: [{at: 0, attention: eca}]}]\n",
        [
            "<string>:3:32: stages[0].se_ratio: applies only to attention 'se' (stages[0] uses attention "
            "'eca' and 'none')"
        ],
    ),
    (
        "shortcut_norm_where_no_block_projects_with_a_norm",
        BASE + "stages: [{depth: 2, width: 16, stride: 2, shortcut_norm: true, "
        "blocks: [{at: 0, norm: none}, {at: 1, shortcut: none}]}]\n",
        [
            "<string>:3:43: stages[0].shortcut_norm: has no effect: no block it reaches has both a projection "
            "shortcut and a norm"
        ],
    ),
    (
        "defaults_drop_path_reaching_only_plain_blocks",
        BASE + "defaults: {drop_path: 0.2}\n"
        "stages: [{depth: 2, width: 16, shortcut: none}, {depth: 2, width: 16, drop_path: 0.1}]\n",
        [
            "<string>:3:12: defaults.drop_path: has no effect without a residual add "
            "(every block that takes it from defaults uses shortcut 'none')"
        ],
    ),
]


@pytest.mark.parametrize(("name", "text", "expected"), ENTRY_PROBLEMS, ids=[c[0] for c in ENTRY_PROBLEMS])
def test_every_rule_reaches_entries_and_judges_the_blocks_a_setting_reaches(
    name: str, text: str, expected: list[str]
) -> None:
    with pytest.raises(SpecError) as info:
        resnetdsl.plan_of(text)
    assert [i.format() for i in info.value.issues] == expected


USED_BY_AN_ENTRY: list[tuple[str, str, Callable[[P.Plan], bool]]] = [
    (
        "defaults_groups_used_by_a_bottleneck_entry",
        "defaults: {groups: 2}\nstages: [{depth: 2, width: 16, blocks: [{at: 0, block: bottleneck}]}]\n",
        lambda p: p.stages[0].blocks[0].groups == 2 and p.stages[0].blocks[1].groups == 1,
    ),
    (
        "stage_settings_used_by_a_bottleneck_entry",
        "stages: [{depth: 2, width: 16, groups: 2, stride_on: 1x1, width_per_group: 128, "
        "blocks: [{at: 0, block: bottleneck}]}]\n",
        lambda p: p.stages[0].blocks[0].mid_channels == 64 and _conv(p, 0, "conv1").stride == 1,
    ),
    (
        "stride_on_used_by_a_strided_bottleneck_entry",
        "defaults: {stride_on: 1x1}\nstages: [{depth: 2, width: 16, blocks: [{at: 1, block: bottleneck, "
        "stride: 2}]}]\n",
        lambda p: _conv(p, 1, "conv1").stride == 2,
    ),
    (
        "defaults_dropout_used_by_a_preact_basic_entry",
        "defaults: {block: preact_bottleneck, dropout: 0.2}\n"
        "stages: [{depth: 2, width: 16, blocks: [{at: 0, block: preact_basic}]}]\n",
        lambda p: any(isinstance(op, P.Dropout) for op in p.stages[0].blocks[0].main),
    ),
    (
        "stage_norm_groups_used_by_a_group_norm_entry",
        "stages: [{depth: 2, width: 16, norm_groups: 4, blocks: [{at: 0, norm: group}]}]\n",
        lambda p: p.stages[0].blocks[0].main[1] == P.Norm("bn1", 16, kind="group", groups=4),
    ),
    (
        "shortcut_norm_used_by_a_projecting_entry",
        "defaults: {shortcut: identity_pad, shortcut_norm: false}\n"
        "stages: [{depth: 2, width: 16, blocks: [{at: 0, shortcut: projection_all}]}]\n",
        lambda p: [op.name for op in p.stages[0].blocks[0].shortcut_ops] == ["downsample.0"],
    ),
    (
        "zero_init_with_norm_none_zeroes_the_last_conv_of_preact_blocks",
        "defaults: {block: preact_basic, norm: none}\nstages: [{depth: 2, width: 16}]\ninit: "
        "{zero_init_residual: true}\n",
        lambda p: all(
            op.zero_init for _, b in p.blocks() for op in b.main if isinstance(op, P.Conv) and op.name == "conv2"
        ),
    ),
]


def _conv(plan: P.Plan, block: int, name: str) -> P.Conv:
    op = next(op for op in plan.stages[0].blocks[block].main if op.name == name)
    assert isinstance(op, P.Conv)
    return op


@pytest.mark.parametrize(("name", "text", "holds"), USED_BY_AN_ENTRY, ids=[c[0] for c in USED_BY_AN_ENTRY])
def test_a_setting_some_block_it_reaches_uses_is_accepted(
    name: str, text: str, holds: Callable[[P.Plan], bool]
) -> None:
    assert holds(resnetdsl.plan_of(BASE + text))


def test_inherited_settings_that_do_not_apply_are_dropped(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(
        "name: base\nstem: {kind: conv3, width: 16}\ndefaults: {attention: se, se_ratio: 0.25, norm: group, "
        "norm_groups: 4}\nstages: [{depth: 2, width: 16, groups: 2, blocks: [{at: 0, drop_path: 0.1}]}]\n"
    )
    child = tmp_path / "child.yaml"
    child.write_text(
        "extends: base.yaml\nname: child\ndefaults: {attention: none, norm: batch}\nstages: {0: {shortcut: none}}\n"
    )
    plan = resnetdsl.plan_of(child)  # se_ratio, norm_groups, groups and the entry's drop_path no longer apply
    assert not any(isinstance(op, P.SqueezeExcite | P.DropPath) for _, op in plan.named_ops())
    child.write_text("extends: base.yaml\nname: child\ndefaults: {attention: none, se_divisor: 4}\n")
    with pytest.raises(SpecError) as info:
        resnetdsl.plan_of(child)
    assert [i.format() for i in info.value.issues] == [
        f"{child}:3:29: defaults.se_divisor: applies only to attention 'se' (no stage uses it)"
    ]


# --- output_stride counts every stride (issue 17 item 3) ----------------------------------------------------------


def test_output_stride_turns_per_block_strides_into_dilation() -> None:
    text = (
        "name: t\nstem: {kind: conv7, width: 8}\noutput_stride: 8\nstages:\n"
        "  - {depth: 1, width: 8}\n  - {depth: 3, width: 8, blocks: [{at: 1, stride: 2}]}\n"
        "  - {depth: 2, width: 8, stride: 2, blocks: [{at: 1, stride: 2}]}\n"
    )
    plan = resnetdsl.plan_of(text)
    assert [[b.stride for b in st.blocks] for st in plan.stages] == [[1], [1, 2, 1], [1, 1]]
    dilations = [
        [(op.name, op.dilation) for op in b.main if isinstance(op, P.Conv) and op.kernel_size == 3]
        for st in plan.stages[2:]
        for b in st.blocks
    ]
    # the converted stage stride: the block's first 3×3 keeps dilation 1, its second takes 2; the entry's stride
    # then doubles it again from that block on
    assert dilations == [[("conv1", 1), ("conv2", 2)], [("conv1", 2), ("conv2", 4)]]
    assert plan.stages[2].dilation == 4
    assert [t.reduction for t in taps(plan)] == [2, 4, 8, 8]
    model = resnetdsl.build_model(plan, seed=0).eval()
    out = model.forward_features(torch.zeros(1, 3, 64, 64))
    assert tuple(out.shape) == (1, 8, 8, 8)  # 64 / 8


def test_output_stride_reached_only_through_per_block_strides() -> None:
    text = (
        "name: t\nstem: {kind: conv7, width: 8}\noutput_stride: 16\nstages:\n"
        "  - {depth: 2, width: 8, blocks: [{at: 1, stride: 2}]}\n  - {depth: 2, width: 8, blocks: [{at: "
        "0, stride: 2}]}\n"
        "  - {depth: 2, width: 8, stride: 2}\n"
    )
    plan = resnetdsl.plan_of(text)
    assert [t.reduction for t in taps(plan)] == [2, 8, 16, 16]
    assert (plan.stages[2].stride, plan.stages[2].dilation) == (1, 2)


# --- reserved stage names (issue 17 item 4) --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["feature_info", "forward_taps", "frozen_modules"])
def test_names_of_the_models_own_attributes_are_refused_by_the_checker(name: str) -> None:
    text = f"name: t\nstem: {{kind: conv3, width: 8}}\nstages: [{{depth: 1, width: 8, name: {name}}}]\n"
    with pytest.raises(SpecError) as info:
        resnetdsl.check(text)  # validate and summary say it, not only build
    assert [i.format() for i in info.value.issues] == [
        f"<string>:3:37: stages[0].name: stage name '{name}' is an attribute of torch.nn.Module or the built model; "
        "choose another"
    ]


def test_every_public_attribute_of_the_built_model_is_reserved() -> None:
    from resnetdsl.build_torch import ResNet

    for spec in ("cifar_resnet20", {"extends": "cifar_resnet20", "name": "f", "features": {"out_indices": [0, 2]}}):
        model = resnetdsl.build_model(spec, device="meta")
        children = set(model._modules)
        names = {n for n in [*dir(ResNet), *dir(model)] if not n.startswith("_")} - children
        assert names - RESERVED_NAMES == set(), "add these to lower.common.RESERVED_NAMES"


def test_no_name_in_lower_hides_one_of_its_modules() -> None:
    import importlib
    import pkgutil
    import types

    import resnetdsl.lower as lower

    for info in pkgutil.iter_modules(lower.__path__):
        module = importlib.import_module(f"resnetdsl.lower.{info.name}")
        assert getattr(lower, info.name) is module, f"resnetdsl.lower.{info.name} is not the module"
        assert isinstance(module, types.ModuleType)


@pytest.mark.parametrize("preset", ["resnet152", "seresnext50_32x4d", "resnetv2_50", "regnety_002"])
def test_blocks_alike_share_their_ops_and_are_what_make_block_makes(preset: str) -> None:
    # lowering makes a block once per (config, input channels, width, stride, drop-path rate): the next blocks alike
    # hold the very same op tuples under their own names, and equal what make_block makes of their own settings
    from resnetdsl.blocks import make_block
    from resnetdsl.load import load_spec
    from resnetdsl.lower.resolve import resolve_network

    spec = load_spec(preset)
    net = resolve_network(spec)
    plan = resnetdsl.plan_of(spec)
    shared = 0
    for st, rst in zip(plan.stages, net.stages, strict=True):
        cin = st.in_channels
        for block, rb in zip(st.blocks, rst.blocks, strict=True):
            assert block == make_block(rb.config, block.name, cin, rb.width, rb.stride, rb.drop_path_rate)
            cin = block.out_channels
        for a, b in itertools.pairwise(st.blocks[1:]):
            shared += a.main is b.main
    assert shared > 0
