"""Backbones for detection and segmentation: dilation and output stride, multi-scale features, frozen stages."""

from __future__ import annotations

from typing import Any

import pytest
import timm
import torch
import torchvision
from torch import nn

import resnetdsl
from resnetdsl import plan as P
from resnetdsl.errors import SpecError
from resnetdsl.features import FeatureInfo, taps
from resnetdsl.summary import format_summary, summarize


def _spec(preset: str, **keys: Any) -> dict[str, Any]:
    return {"extends": preset, "name": f"{preset}-backbone", **keys}


def _same_model(ours: nn.Module, ref: nn.Module, size: int, *, features: bool = False) -> None:
    """Same keys in the same order, strict load, equal outputs."""
    assert list(ours.state_dict()) == list(ref.state_dict())
    ours.load_state_dict(ref.state_dict(), strict=True)
    ours.eval()
    ref.eval()
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        got, want = ours(x), ref(x)
    if features:
        assert len(got) == len(want)
        for a, b in zip(got, want, strict=True):
            torch.testing.assert_close(a, b)
    else:
        torch.testing.assert_close(got, want)


def _convs(plan: P.Plan, stage: int) -> list[tuple[str, int, int, int]]:
    """(name, stride, dilation, padding) of every 3×3 conv of a stage's blocks."""
    st = plan.stages[stage]
    return [
        (f"{b.name}.{op.name}", op.stride, op.dilation, op.padding)
        for b in st.blocks
        for op in b.main
        if isinstance(op, P.Conv) and op.kernel_size == 3
    ]


# --- dilation and output stride: the plan ------------------------------------------------------------------


def test_output_stride_8_plans_torchvisions_dilations() -> None:
    plan = resnetdsl.plan_of(_spec("resnet50", output_stride=8))
    assert [(st.stride, st.dilation) for st in plan.stages] == [(1, 1), (2, 1), (1, 2), (1, 4)]
    # the first block keeps the previous stage's dilation, the others take the stage's; padding = dilation
    assert _convs(plan, 2)[:2] == [("0.conv2", 1, 1, 1), ("1.conv2", 1, 2, 2)]
    assert _convs(plan, 3) == [("0.conv2", 1, 2, 2), ("1.conv2", 1, 4, 4), ("2.conv2", 1, 4, 4)]
    assert plan.stages[3].blocks[0].shortcut_ops[0] == P.Conv("downsample.0", 1024, 2048, 1)


def test_basic_blocks_dilate_both_convs_the_first_with_the_previous_dilation() -> None:
    plan = resnetdsl.plan_of(_spec("resnet18", output_stride=16))
    assert _convs(plan, 3) == [("0.conv1", 1, 1, 1), ("0.conv2", 1, 2, 2), ("1.conv1", 1, 2, 2), ("1.conv2", 1, 2, 2)]


def test_an_explicit_stage_dilation_carries_on() -> None:
    spec = _spec("resnet18", stages=[{"depth": 1, "width": 64}, {"depth": 1, "width": 128, "dilation": 3}])
    plan = resnetdsl.plan_of({**spec, "stages": [*spec["stages"], {"depth": 2, "width": 256, "stride": 2}]})
    assert [(st.stride, st.dilation) for st in plan.stages] == [(1, 1), (1, 3), (2, 3)]
    assert _convs(plan, 1) == [("0.conv1", 1, 1, 1), ("0.conv2", 1, 3, 3)]
    assert _convs(plan, 2)[0] == ("0.conv1", 2, 3, 3)


def test_preact_blocks_dilate_too() -> None:
    plan = resnetdsl.plan_of(_spec("resnetv2_50", output_stride=16))
    assert _convs(plan, 3) == [("blocks.0.conv2", 1, 1, 1), ("blocks.1.conv2", 1, 2, 2), ("blocks.2.conv2", 1, 2, 2)]


def test_avgpool_shortcut_of_a_dilated_stage_pools_at_stride_1_with_same_padding() -> None:
    plan = resnetdsl.plan_of(_spec("resnet50d", output_stride=8))
    pools = [st.blocks[0].shortcut_ops[0] for st in plan.stages]
    assert pools[0] == P.Identity("downsample.0")
    assert pools[1] == P.Pool("downsample.0", "avg", 2, 2, ceil_mode=True, count_include_pad=False)
    same = P.Pool("downsample.0", "avg", 2, 1, ceil_mode=True, count_include_pad=False, same=True)
    assert pools[2] == pools[3] == same


def test_the_analyzer_matches_the_built_dilated_model() -> None:
    spec = _spec("resnet50d", output_stride=8)
    a = resnetdsl.check(spec, input_size=72).analysis
    model = resnetdsl.build_model(spec).eval()
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = [
        m.register_forward_hook(lambda m, i, o, n=n: shapes.__setitem__(n, tuple(o.shape[1:])))
        for n, m in model.named_modules()
        if n and not list(m.children())
    ]
    with torch.no_grad():
        model(torch.randn(1, 3, 72, 72))
    for h in hooks:
        h.remove()
    for layer in a.layers():
        if layer.path in shapes:
            assert shapes[layer.path] == layer.output_dims, layer.path
    assert a.stages[3].out_shape == (2048, 9, 9)
    assert a.totals.params == sum(p.numel() for p in model.parameters())


def test_an_output_stride_the_network_never_reaches_is_an_error() -> None:
    with pytest.raises(SpecError) as e:
        resnetdsl.plan_of(_spec("cifar_resnet20", output_stride=8))
    assert str(e.value) == (
        "output_stride: the network never reduces its input by exactly 8 (the stem and the stages reach 1, 2, 4); "
        "choose one of those, or change the strides"
    )


def test_output_stride_32_changes_nothing_for_resnet50() -> None:
    assert resnetdsl.plan_of(_spec("resnet50", output_stride=32)).stages == resnetdsl.plan_of("resnet50").stages


def test_a_dilation_wider_than_the_map_warns() -> None:
    checked = resnetdsl.check(_spec("resnet18", output_stride=8), input_size=32)
    (w,) = checked.warnings
    assert w.severity == "warning" and w.path == ("stages", 3)
    assert w.message == (
        "layer4.0.conv2 has dilation 4 on a 4×4 map: its receptive field (435 px) exceeds the 32×32 input, "
        "and its off-centre taps read zero padding only; use a larger input, a larger output_stride or a "
        "smaller dilation"
    )
    assert not resnetdsl.check(_spec("resnet18", output_stride=8), input_size=96).warnings


# --- parity ------------------------------------------------------------------------------------------------


@pytest.mark.parity
@pytest.mark.parametrize(("dilate", "os"), [([False, True, True], 8), ([False, False, True], 16)])
def test_torchvision_replace_stride_with_dilation(dilate: list[bool], os: int) -> None:
    ref = torchvision.models.resnet50(replace_stride_with_dilation=dilate)
    _same_model(resnetdsl.build_model(_spec("resnet50", output_stride=os)), ref, 64)


@pytest.mark.parity
@pytest.mark.parametrize("os", [16, 8])
@pytest.mark.parametrize("preset", ["resnet18", "resnet50", "resnet50d"])
def test_timm_output_stride(preset: str, os: int) -> None:
    ref = timm.create_model(preset, pretrained=False, output_stride=os)
    _same_model(resnetdsl.build_model(_spec(preset, output_stride=os)), ref, 72)


@pytest.mark.parity
def test_timm_resnetv2_output_stride() -> None:
    ref = timm.create_model("resnetv2_50", pretrained=False, output_stride=16)
    _same_model(resnetdsl.build_model(_spec("resnetv2_50", output_stride=16)), ref, 64)


@pytest.mark.parity
@pytest.mark.parametrize("preset", ["resnet50", "resnet50d"])
def test_timm_features_only(preset: str) -> None:
    ref = timm.create_model(preset, pretrained=False, features_only=True)
    ours = resnetdsl.build_model(preset, features_only=True)
    assert ours.feature_info.get_dicts() == [{**d, "index": i} for i, d in enumerate(ref.feature_info.get_dicts())]
    _same_model(ours, ref, 64, features=True)


@pytest.mark.parity
def test_timm_features_only_preact() -> None:
    # timm's FeatureListNet flattens ResNetV2's first level (stem.conv → stem_conv): its only difference
    ref = timm.create_model("resnetv2_50", pretrained=False, features_only=True).eval()
    ours = resnetdsl.build_model("resnetv2_50", features_only=True).eval()
    state = {
        k.replace("_", ".", 1) if k.startswith(("stem_", "stages_")) else k: v for k, v in ref.state_dict().items()
    }
    assert list(state) == list(ours.state_dict())
    ours.load_state_dict(state, strict=True)
    assert ours.feature_info.module_name() == ref.feature_info.module_name()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(ours(x), ref(x), strict=True):
            torch.testing.assert_close(a, b)


@pytest.mark.parity
def test_timm_features_only_dilated_and_cut() -> None:
    ref = timm.create_model("resnet50d", pretrained=False, features_only=True, out_indices=(1, 2, 3), output_stride=8)
    ours = resnetdsl.build_model(
        _spec("resnet50d", output_stride=8, features={"out_indices": [1, 2, 3]}), features_only=True
    )
    assert "layer4" not in dict(ours.named_children())  # stages after the last map asked for are left out
    assert ours.feature_info.reduction() == ref.feature_info.reduction() == [4, 8, 8]
    _same_model(ours, ref, 64, features=True)


# --- multi-scale features ----------------------------------------------------------------------------------


def test_feature_info_names_channels_reductions() -> None:
    model = resnetdsl.build_model(_spec("resnet18", features={"out_indices": [1, 2, 3, 4]}), device="meta")
    info = model.feature_info
    assert isinstance(info, FeatureInfo)
    assert info.out_indices == (1, 2, 3, 4)
    assert info.channels() == [64, 128, 256, 512]
    assert info.reduction() == [4, 8, 16, 32]
    assert info.module_name() == ["layer1", "layer2", "layer3", "layer4"]
    assert info.channels(-1) == 512 and info[0]["module"] == "layer1"
    assert "fc" not in dict(model.named_children())


def test_features_only_returns_the_maps_in_order() -> None:
    model = resnetdsl.build_model("resnet18", features_only=True, out_indices=(0, 2, 4)).eval()
    with torch.no_grad():
        maps = model(torch.randn(1, 3, 64, 64))
    assert [tuple(m.shape[1:]) for m in maps] == [(64, 32, 32), (128, 8, 8), (512, 2, 2)]
    assert model.feature_info.module_name() == ["act1", "layer2", "layer4"]


def test_out_indices_override_the_specs_own() -> None:
    spec = _spec("resnet18", features={"out_indices": [2]})
    model = resnetdsl.build_model(spec, features_only=True, out_indices=(1, 4), device="meta")
    assert model.feature_info.out_indices == (1, 4)


def test_taps_of_a_preact_network_are_the_stage_outputs() -> None:
    t = taps(resnetdsl.plan_of("resnetv2_50"))
    assert [(x.module, x.channels, x.reduction) for x in t] == [
        ("stem.conv", 64, 2),
        ("stages.0", 256, 4),
        ("stages.1", 512, 8),
        ("stages.2", 1024, 16),
        ("stages.3", 2048, 32),
    ]


@pytest.mark.parametrize(
    ("features", "message"),
    [
        ({"out_indices": [1, 5]}, "features.out_indices[1]: 5 is no feature map: 0 is the stem's, 1 to 4 the "
         "stages' (the network has 4 stages)"),
        ({"out_indices": [2, 2]}, "features.out_indices[1]: must be in increasing order without repeats (got 2 "
         "after 2)"),
    ],
)  # fmt: skip
def test_bad_out_indices(features: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError) as e:
        resnetdsl.plan_of(_spec("resnet18", features=features))
    assert str(e.value) == message


def test_bad_out_indices_argument() -> None:
    with pytest.raises(ValueError, match=r"out_indices must lie in 0…4"):
        resnetdsl.build_model("resnet18", features_only=True, out_indices=(5,), device="meta")
    with pytest.raises(ValueError, match="only with features_only=True"):
        resnetdsl.build_model("resnet18", out_indices=(1,), device="meta")


# --- frozen stages and norm_eval ---------------------------------------------------------------------------


def test_frozen_stages_have_no_gradients_and_stay_in_eval_mode() -> None:
    model = resnetdsl.build_model(_spec("resnet18", frozen_stages=1))
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen == {n for n, _ in model.named_parameters() if n.startswith(("conv1.", "bn1.", "layer1."))}
    model.train()
    assert not model.bn1.training and not model.layer1[0].bn1.training
    assert model.layer2[0].bn1.training and model.training
    model.eval()
    model.train()
    assert not model.layer1[1].bn2.training
    x = torch.randn(2, 3, 64, 64)
    model(x).sum().backward()
    assert model.conv1.weight.grad is None and model.layer2[0].conv1.weight.grad is not None


def test_summary_counts_frozen_parameters_exactly() -> None:
    spec = _spec("resnet50", frozen_stages=2)
    s = summarize(spec, 64)
    model = resnetdsl.build_model(spec, device="meta")
    assert s.non_trainable_params == sum(p.numel() for p in model.parameters() if not p.requires_grad) == 1_444_928
    assert s.trainable_params == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert "Non-trainable params: 1,444,928" in format_summary(s)


def test_norm_eval_keeps_every_batch_norm_in_eval_mode() -> None:
    model = resnetdsl.build_model(_spec("resnet18", norm_eval=True)).train()
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms and not any(m.training for m in norms)
    assert all(m.weight.requires_grad for m in norms)


def test_frozen_stages_beyond_the_network_is_an_error() -> None:
    with pytest.raises(SpecError) as e:
        resnetdsl.plan_of(_spec("resnet18", frozen_stages=5))
    assert str(e.value) == "frozen_stages: the network has 4 stages; freeze at most 4 (got 5)"


# --- summary and diagram -----------------------------------------------------------------------------------


def test_summary_reports_stride_dilation_and_receptive_field() -> None:
    s = summarize(_spec("resnet50", output_stride=8, features={"out_indices": [1, 2, 3, 4]}), 96)
    facts = [(f.name, f.reduction, f.dilation) for f in s.stage_facts]
    assert facts == [("stem", 4, 1), ("layer1", 4, 1), ("layer2", 8, 1), ("layer3", 8, 2), ("layer4", 8, 4)]
    assert [t.reduction for t in s.feature_outputs] == [4, 8, 8, 8]
    d = s.to_dict()
    assert d["backbone"][4]["dilation"] == 4 and d["feature_outputs"][3]["module"] == "layer4"
    assert d["backbone"][4]["receptive_field"] == s.stage_facts[4].receptive_field
    table = format_summary(s)
    assert "out[3] layer4" in table
    se = summarize("seresnet50", 96)
    assert se.stage_facts[-1].receptive_field is None and "global" in format_summary(se)


def test_diagram_draws_the_feature_taps() -> None:
    g = resnetdsl.render(_spec("resnet18", output_stride=16, features={"out_indices": [0, 2, 4]}), input_size=64)
    src = g.source
    assert "feature 0" in src and "feature 2" in src and "feature 4" in src and "feature 1" not in src
    assert "stride 16 · dil 2" in src and "64×32×32 /2" in src
    assert '"output"' not in src and "output</b>" not in src


@pytest.mark.slow
def test_fcn_head_on_an_output_stride_8_backbone() -> None:
    from torchvision.models.segmentation import FCN
    from torchvision.models.segmentation.fcn import FCNHead

    from resnetdsl.build_torch import FeatureDict

    spec = _spec("resnet18", output_stride=8, features={"out_indices": [3, 4]}, frozen_stages=1)
    body = FeatureDict(resnetdsl.build_model(spec, seed=0), names=["aux", "out"])
    assert body.body.feature_info.reduction() == [8, 8]
    model = FCN(body, FCNHead(512, 4), aux_classifier=FCNHead(256, 4)).train()
    assert not body.body.layer1[0].bn1.training and body.body.layer2[0].bn1.training
    x = torch.rand(2, 3, 96, 96)
    out = model(x)
    assert out["out"].shape == out["aux"].shape == (2, 4, 96, 96)
    target = torch.randint(0, 4, (2, 96, 96))
    loss = nn.functional.cross_entropy(out["out"], target) + 0.5 * nn.functional.cross_entropy(out["aux"], target)
    loss.backward()
    assert body.body.conv1.weight.grad is None and body.body.layer4[1].conv2.weight.grad is not None
    model.eval()
    with torch.no_grad():
        assert model(x)["out"].shape == (2, 4, 96, 96)


def test_features_leave_the_head_out() -> None:
    spec = {**_spec("resnet18", features={"out_indices": [4]}), "head": {"num_classes": 10}}
    plan = resnetdsl.plan_of(spec)
    assert plan.head == () and plan.num_classes is None and plan.out_indices == (4,)


def test_norm_eval_without_batch_norm_is_an_error() -> None:
    with pytest.raises(SpecError) as e:
        resnetdsl.plan_of(_spec("resnet50_gn", norm_eval=True))
    assert str(e.value) == "norm_eval: has no effect: the network has no batch norm"
