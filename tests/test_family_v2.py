"""The rest of timm's ResNetV2 (issue 18, family c): BiT's weight-standardised convs and 'fixed' stem, the
norm-act modules GroupNormAct, EvoNorm2dS0 and FilterResponseNormTlu2d, against timm and through every backend."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import resnetdsl
from resnetdsl import SpecError
from resnetdsl import plan as P
from resnetdsl.analyze import analyze
from resnetdsl.export.python import to_python
from resnetdsl.features import selected
from resnetdsl.layers import EvoNorm2dS0, FilterResponseNormTlu2d, GroupNormAct, StdConv2d
from resnetdsl.memory import activation_report
from resnetdsl.passes.fuse import fuse_for_inference
from resnetdsl.summary import format_summary

from .family_helpers import exported_equals, onnx_equals
from .memprobe import saved_bytes

timm = pytest.importorskip("timm")

RESNETV2 = [
    "resnetv2_50x1_bit",
    "resnetv2_50x3_bit",
    "resnetv2_101x1_bit",
    "resnetv2_101x3_bit",
    "resnetv2_152x2_bit",
    "resnetv2_152x4_bit",
    "resnetv2_18",
    "resnetv2_18d",
    "resnetv2_34",
    "resnetv2_34d",
    "resnetv2_50",
    "resnetv2_50d",
    "resnetv2_50t",
    "resnetv2_101",
    "resnetv2_101d",
    "resnetv2_152",
    "resnetv2_152d",
    "resnetv2_50d_gn",
    "resnetv2_50d_evos",
    "resnetv2_50d_frn",
]
"""Every model timm's resnetv2.py registers."""
NUMERIC = ["resnetv2_50x1_bit", "resnetv2_50d_gn", "resnetv2_50d_evos", "resnetv2_50d_frn"]
"""The names new to the language that are checked number for number (the other BiT nets share their blocks)."""


def test_the_name_list_is_timms() -> None:
    assert set(timm.list_models(module="resnetv2")) == set(RESNETV2)


# --- every name on the meta device -------------------------------------------------------------------------


def _meta_ref(name: str) -> nn.Module:
    with torch.device("meta"):
        return timm.create_model(name, pretrained=False)


IMPORTED: list[str] = []


@pytest.mark.parametrize("name", RESNETV2)
def test_every_resnetv2_name_imports_with_timms_keys_and_shapes(name: str) -> None:
    ref = _meta_ref(name)
    spec = resnetdsl.spec_from_model(ref, name=name)
    ours = resnetdsl.build_model(spec, device="meta")
    want = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    assert list(got) == list(want)
    assert got == want
    IMPORTED.append(name)
    print(f"resnetv2: {len(IMPORTED)} of {len(RESNETV2)} names imported so far ({name})")


# --- numbers: strict load and equal eval outputs at 64 px ----------------------------------------------------


def _perturbed(model: nn.Module, seed: int) -> nn.Module:
    """Every float tensor drawn anew (norm affines, EvoNorm's v, FRN's tau too), so that a wrong formula shows."""
    g = torch.Generator().manual_seed(seed)
    sd = model.state_dict()
    for k, v in sd.items():
        if v.is_floating_point() and "running_var" not in k:
            sd[k] = torch.randn(v.shape, generator=g) * (0.5 if v.dim() < 2 else 1.0 / max(v[0].numel(), 1) ** 0.5)
        elif "running_var" in k:
            sd[k] = torch.rand(v.shape, generator=g) + 0.5
    model.load_state_dict(sd)
    return model.eval()


@pytest.fixture(scope="module")
def refs() -> dict[str, nn.Module]:
    """Each numeric reference built once, with drawn weights, shared by every check below."""
    return {name: _perturbed(timm.create_model(name, pretrained=False), i) for i, name in enumerate(NUMERIC)}


def _empty(spec: object) -> nn.Module:
    """The model without drawing its weights (they are loaded next): built on meta, then given storage."""
    return resnetdsl.build_model(spec, device="meta").to_empty(device="cpu").eval()


X64 = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))


@pytest.mark.parity
@pytest.mark.parametrize("name", NUMERIC)
def test_strict_load_and_equal_outputs(name: str, refs: dict[str, nn.Module]) -> None:
    ref = refs[name]
    spec = resnetdsl.spec_from_model(ref, name=name)
    ours = _empty(spec)
    assert list(ours.state_dict()) == list(ref.state_dict())
    ours.load_state_dict(ref.state_dict(), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(ours(X64), ref(X64), rtol=1e-5, atol=1e-5)
    print(f"resnetv2 numeric parity: {name}")


@pytest.mark.parity
def test_the_bit_preset_is_timms_resnetv2_50x1_bit(refs: dict[str, nn.Module]) -> None:
    ref = refs["resnetv2_50x1_bit"]
    ours = _empty("resnetv2_50x1_bit")
    ours.load_state_dict(ref.state_dict(), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(ours(X64), ref(X64), rtol=1e-5, atol=1e-5)
    imported = resnetdsl.spec_from_model(ref, name="resnetv2_50x1_bit")
    assert resnetdsl.plan_of(imported).stages == resnetdsl.plan_of("resnetv2_50x1_bit").stages


@pytest.mark.parity
def test_summary_is_exact_against_the_model_and_the_flop_counter(refs: dict[str, nn.Module]) -> None:
    """Params, buffers, every layer's output shape, and MACs per module and in total, for the EvoNorm net."""
    spec = resnetdsl.spec_from_model(refs["resnetv2_50d_evos"], name="evos")
    plan = resnetdsl.plan_of(spec)
    a = analyze(plan, (64, 64))
    model = resnetdsl.build_model(plan).eval()
    assert a.totals.params == sum(p.numel() for p in model.parameters())
    assert a.totals.buffers == sum(b.numel() for b in model.buffers()) == 0
    expected = {layer.path: layer.output_dims for layer in a.layers()}
    seen: dict[str, tuple[int, ...]] = {}
    for path in expected:
        model.get_submodule(path).register_forward_hook(
            lambda m, args, out, path=path: seen.__setitem__(path, tuple(out.shape[1:]))
        )
    for layer in a.layers():
        module = model.get_submodule(layer.path)
        assert layer.params == sum(p.numel() for p in module.parameters()), layer.path
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, 3, 64, 64))
    assert seen == expected
    assert 2 * a.totals.macs == counter.get_total_flops()
    per_module = counter.get_flop_counts()
    for layer in a.layers():
        if isinstance(layer.op, P.Conv):
            assert 2 * layer.macs == sum(per_module[f"ResNet.{layer.path}"].values()), layer.path


# --- small specs of every new setting ------------------------------------------------------------------------

KINDS: dict[str, dict[str, str]] = {
    "bit": {"defaults": "norm: group, conv: std, norm_groups: 4, std_eps: 1.0e-8", "pool": "max_fixed"},
    "gn": {"defaults": "norm: group, norm_group_channels: 4", "pool": "max"},
    "evos": {"defaults": "norm: evonorm_s0, norm_groups: 8", "pool": "max"},
    "frn": {"defaults": "norm: frn, shortcut: avgpool_projection", "pool": "max"},
    "bn_std": {"defaults": "norm: batch, conv: std, shortcut: avgpool_projection", "pool": "max_fixed"},
}
"""Small specs of each new setting: BiT's (std conv, group norm, fixed stem), GroupNormAct, EvoNorm, FRN, and
weight standardisation before batch norm (which then folds)."""


def small(kind: str, stem: str = "deep", more: str = "") -> str:
    k = KINDS[kind]
    return (
        "name: t\nlayout: resnetv2\ninput: {size: [64, 64]}\n"
        f"defaults: {{block: preact_bottleneck, {k['defaults']}}}\n"
        f"stem: {{kind: {stem}, width: 16, pool: {k['pool']}}}\n"
        "stages: [{depth: 1, width: 8}, {depth: 2, width: 16, stride: 2}]\n" + more
    )


def timm_small(kind: str, output_stride: int = 32) -> nn.Module:
    """timm's own ResNetV2 of the configuration :func:`small` writes (three stages for ``output_stride`` 8)."""
    from functools import partial

    from timm.layers import BatchNormAct2d, create_conv2d
    from timm.layers import EvoNorm2dS0 as TimmEvoNorm
    from timm.layers import FilterResponseNormTlu2d as TimmFrn
    from timm.layers import GroupNormAct as TimmGroupNormAct
    from timm.layers import StdConv2d as TimmStdConv
    from timm.models.resnetv2 import ResNetV2

    norm, conv, fixed, avg = {
        "bit": (partial(TimmGroupNormAct, num_groups=4), partial(TimmStdConv, eps=1e-8), True, False),
        "gn": (partial(TimmGroupNormAct, group_size=4), create_conv2d, False, False),
        "evos": (partial(TimmEvoNorm, groups=8), create_conv2d, False, False),
        "frn": (TimmFrn, create_conv2d, False, True),
        "bn_std": (BatchNormAct2d, TimmStdConv, True, True),
    }[kind]
    layers, channels = ([1, 2, 1], (32, 64, 128)) if output_stride == 8 else ([1, 2], (32, 64))
    stem_type = "deep_fixed" if fixed else "deep"
    return ResNetV2(
        layers,
        channels,
        stem_chs=16,
        stem_type=stem_type,
        avg_down=avg,
        norm_layer=norm,
        conv_layer=conv,
        output_stride=output_stride,
    )


THIRD = "{depth: 2, width: 16, stride: 2}, {depth: 1, width: 32, stride: 2}]"


def _drawn(model: nn.Module) -> nn.Module:
    return _perturbed(model, 7)


@pytest.mark.parametrize("kind", list(KINDS))
def test_small_specs_are_exact_and_train(kind: str) -> None:
    """Analysis = model (params, buffers, shapes, MACs), memory = what autograd saves, a training step."""
    plan = resnetdsl.plan_of(small(kind))
    a = analyze(plan)
    model = _drawn(resnetdsl.build_model(plan, seed=0))
    assert a.totals.params == sum(p.numel() for p in model.parameters())
    assert a.totals.buffers == sum(b.numel() for b in model.buffers())
    counter = FlopCounterMode(display=False)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad(), counter:
        out = model(x)
    assert tuple(out.shape) == (2, *a.output_shape)
    assert a.totals.macs == counter.get_total_flops() // 4  # a batch of two, two flops a MAC
    ref = timm_small(kind).eval()  # timm's own ResNetV2 of this configuration
    assert list(ref.state_dict()) == list(model.state_dict())
    ref.load_state_dict(model.state_dict(), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref(x), rtol=1e-5, atol=1e-5)
    static = activation_report(a, 2).activation_total
    measured = saved_bytes(model, x)
    assert abs(static - measured) <= 0.01 * measured, (static, measured)
    model.train()
    model(x).square().mean().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("kind", list(KINDS))
def test_fuse_for_inference_folds_standardisation_and_keeps_the_norms_that_cannot_fold(kind: str) -> None:
    model = _drawn(resnetdsl.build_model(small(kind), seed=0))
    fused = fuse_for_inference(model, channels_last=False)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        want = model(x)
        torch.testing.assert_close(fused(x), want, rtol=1e-4, atol=1e-4 * float(want.abs().max()))
    kinds = {type(m) for m in fused.modules()}
    assert StdConv2d not in kinds  # each one became a plain conv of its standardised weight
    kept = {"bit": GroupNormAct, "gn": GroupNormAct, "evos": EvoNorm2dS0, "frn": FilterResponseNormTlu2d}
    if kind in kept:
        assert kept[kind] in kinds
    else:  # batch norm folds into the standardised convs before it
        assert sum(isinstance(m, nn.BatchNorm2d) for m in fused.modules()) < sum(
            isinstance(m, nn.BatchNorm2d) for m in model.modules()
        )


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
@pytest.mark.parametrize("kind", ["bit", *(pytest.param(k, marks=pytest.mark.slow) for k in ("evos", "frn"))])
def test_python_export_equals_the_built_model(kind: str, tmp_path: Path) -> None:
    plan = resnetdsl.plan_of(small(kind))
    source = to_python(plan)
    model = _drawn(resnetdsl.build_model(plan, seed=0))
    exported_equals(source, model, tmp_path, kind, torch.randn(2, 3, 64, 64))


@pytest.mark.slow
def test_onnx_export_equals_torch(tmp_path: Path) -> None:
    for kind in ("bit",):  # weight standardisation, group norm, the fixed stem: one export of ONNX's slow tracing
        model = _drawn(resnetdsl.build_model(small(kind), seed=0))
        onnx_equals(model, tmp_path / f"{kind}.onnx", [(1, 3, 64, 64), (3, 3, 80, 96)])


# --- the new settings with the backbone settings ----------------------------------------------------------

GRID = {
    "output_stride": "output_stride: 8\n",
    "features": "features: {out_indices: [0, 1, 2]}\n",
    "frozen": "frozen_stages: 1\n",
    "checkpoint": "",
}


@pytest.mark.parametrize("setting", list(GRID))
@pytest.mark.parametrize("kind", ["bit", "evos", "frn"])
def test_every_new_setting_with_every_backbone_setting(kind: str, setting: str) -> None:
    text = small(kind, more=GRID[setting])
    if setting == "output_stride":
        text = text.replace("{depth: 2, width: 16, stride: 2}]", THIRD)
    if setting == "checkpoint":
        text = text.replace("{depth: 2, width: 16, stride: 2}", "{depth: 2, width: 16, stride: 2, checkpoint: true}")
    plan = resnetdsl.plan_of(text)
    a = analyze(plan)
    model = _drawn(resnetdsl.build_model(plan, seed=0))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        out = model(x)
    if setting == "features":
        taps = selected(plan)
        assert [tuple(o.shape[1:]) for o in out] == [(t.channels, 64 // t.reduction, 64 // t.reduction) for t in taps]
        assert [t.reduction for t in taps] == [2, 4, 8]
        return
    assert tuple(out.shape) == (2, *a.output_shape)
    plain = _drawn(resnetdsl.build_model(small(kind), seed=0))
    if setting == "output_stride":  # the last stage dilated instead of strided, as timm's output_stride does
        assert [s.dilation for s in plan.stages] == [1, 1, 2]
        ref = timm_small(kind, output_stride=8).eval()
        ref.load_state_dict(model.state_dict(), strict=True)
        with torch.no_grad():
            torch.testing.assert_close(model(x), ref(x), rtol=1e-5, atol=1e-5)
        return
    model.train()
    plain.load_state_dict(model.state_dict(), strict=True)
    plain.train()
    if setting == "frozen":
        plain.get_submodule("stem").eval()
        plain.get_submodule("stages.0").eval()
    y = model(x)
    torch.testing.assert_close(y, plain(x), rtol=1e-5, atol=1e-5)
    y.square().mean().backward()
    if setting == "frozen":
        frozen = [p for n, p in model.named_parameters() if n.startswith(("stem.", "stages.0."))]
        assert frozen and all(p.grad is None and not p.requires_grad for p in frozen)
    else:
        ref = plain(x)
        ref.square().mean().backward()
        for (n, p), q in zip(model.named_parameters(), plain.parameters(), strict=True):
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-6, msg=n)


def test_norm_eval_needs_a_batch_norm() -> None:
    with pytest.raises(SpecError) as info:
        resnetdsl.plan_of(small("gn", more="norm_eval: true\n"))
    assert [i.format() for i in info.value.issues] == [
        "<string>:7:1: norm_eval: has no effect: the network has no batch norm"
    ]


# --- the checker's messages ------------------------------------------------------------------------------------

PROBLEMS = [
    (
        "name: t\nstem: {kind: conv3, width: 32}\ndefaults: {norm: evonorm_s0}\nstages: [{depth: 1, width: 32}]\n",
        [
            "<string>:3:18: defaults.norm: 'evonorm_s0' has its nonlinearity built in (EvoNorm2dS0): it replaces "
            "a norm and its activation, so only layout 'resnetv2' (pre-activation blocks) has a place for it; "
            "use layout: resnetv2"
        ],
    ),
    (
        "name: t\nstem: {kind: conv3, width: 16}\ndefaults: {std_eps: 1.0e-8}\nstages: [{depth: 1, width: 16}]\n",
        ["<string>:3:12: defaults.std_eps: applies only to conv 'std' (neither the stem nor any stage uses it)"],
    ),
    (
        small("frn").replace("shortcut: avgpool_projection", "shortcut_norm: true"),
        [
            "<string>:4:64: defaults.shortcut_norm: a projection shortcut's norm has no activation, and norm 'frn' "
            "has its nonlinearity built in; set shortcut_norm: false"
        ],
    ),
    (
        small("evos").replace("norm_groups: 8", "norm_groups: 3"),
        [
            "<string>:4:69: defaults.norm_groups: 3 groups do not divide the 8 channels of stem.norm1 (the stem); "
            "set norm_groups to a divisor of 8, or norm_group_channels"
        ],
    ),
    (
        "name: t\nlayout: resnetv2\nstem: {kind: conv3, width: 16}\ndefaults: {block: preact_basic, norm: none}\n"
        "stages: [{depth: 1, width: 16}]\n",
        [
            "<string>:4:39: defaults.norm: must be one of 'batch', 'group', 'evonorm_s0', 'frn' with layout "
            "'resnetv2' (timm's norm-act modules; got 'none'); use layout: resnet"
        ],
    ),
]


@pytest.mark.parametrize(("text", "expected"), PROBLEMS)
def test_problems_are_reported_with_their_place(text: str, expected: list[str]) -> None:
    with pytest.raises(SpecError) as info:
        resnetdsl.plan_of(text)
    assert [i.format() for i in info.value.issues] == expected


def test_the_resnet_layout_takes_weight_standardisation_and_the_fixed_stem() -> None:
    text = (
        "name: t\nstem: {kind: conv7, width: 16, pool: max_fixed}\ndefaults: {conv: std}\n"
        "stages: [{depth: 1, width: 16}]\n"
    )
    model = resnetdsl.build_model(text, seed=0)
    assert isinstance(model.conv1, StdConv2d) and model.conv1.eps == 1e-6
    assert isinstance(model.pad, nn.ConstantPad2d) and model.maxpool.padding == 0
    assert [n for n, _ in model.named_children()][:5] == ["conv1", "bn1", "act1", "pad", "maxpool"]


# --- summary and diagram words ------------------------------------------------------------------------------


def test_summary_and_diagram_name_the_new_layers() -> None:
    text = format_summary(resnetdsl.summarize("resnetv2_50x1_bit", input_size=(64, 64)), depth="layer")
    for word in ("StdConv2d 7×7/2", "GroupNormAct g32", "ConstantPad2d"):
        assert word in text, word
    dot = resnetdsl.render("resnetv2_50x1_bit", detail="layer").source
    for word in ("7×7 conv, 64 /2, WS", "GN 32-ReLU", "pad 1"):
        assert word in dot, word
    evos = resnetdsl.render(small("evos"), detail="layer").source
    assert "EvoNorm-S0 8" in evos
    assert "FRN-TLU" in resnetdsl.render(small("frn"), detail="layer").source
