"""Res2Net (issue 18 item 4): timm's ``Bottle2neck`` nets, imported, built and checked against timm; every setting
the blocks meet (output stride, features, frozen stages, checkpointing, DropBlock, inference folding, the
exporters) works exactly or is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import resnetdsl
from resnetdsl import SpecError
from resnetdsl import plan as P
from resnetdsl.analyze import analyze
from resnetdsl.receptive import feature_facts
from tests.family_aa_resnest import (
    SIZE,
    References,
    analysis_is_exact,
    memory_is_exact,
    meta_import,
    numeric_parity,
    timm_reference,
)
from tests.family_helpers import backbone_settings_hold

timm = pytest.importorskip("timm")

NAMES = [
    "res2net101_26w_4s",
    "res2net101d",
    "res2net50_14w_8s",
    "res2net50_26w_4s",
    "res2net50_26w_6s",
    "res2net50_26w_8s",
    "res2net50_48w_2s",
    "res2net50d",
    "res2next50",
]
"""Every Res2Net timm registers (timm's res2net.py)."""
NUMERIC = ["res2next50", "res2net50d"]
"""Checked numerically at 64 px: 8 groups of 4 channels (Res2NeXt), the deep stem with avg-pool projections and
26w × 4s splits (timm's dilated res2net50_26w_4s below too; the other split counts are checked on meta and, in the
grid of settings, against the analysis)."""


@pytest.fixture(scope="module")
def references() -> References:
    """Each numerically checked timm model and ours, built once for every test of this module."""
    return References()


def test_timm_registers_these_names() -> None:
    assert set(timm.list_models(module="res2net")) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_name_imports_with_timm_keys_and_shapes(name: str) -> None:
    spec = meta_import(name)
    d = spec.defaults
    assert d.block == "res2net"
    print(f"{name}: imported, scale {d.scale}, width_per_group {d.width_per_group}, groups {d.groups}")


@pytest.mark.parity
@pytest.mark.parametrize("name", NUMERIC)
def test_numeric_parity(name: str, references: References) -> None:
    references.pair(name)  # strict load, equal outputs


def test_summary_is_exact_on_the_split() -> None:
    model = resnetdsl.build_model(_tiny(scale=3, groups=2), seed=0)
    analysis_is_exact(model)
    _split_macs_per_module(model)


def _split_macs_per_module(model: Any, size: int = SIZE) -> None:
    """Each Res2Split's MACs equal what torch's flop counter gives its module (its split convs)."""
    layers = [layer for layer in analyze(model.plan, (size, size)).layers() if isinstance(layer.op, P.Res2Split)]
    assert layers
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model.eval()(torch.randn(1, 3, size, size))
    per_module = counter.get_flop_counts()
    for layer in layers:
        assert 2 * layer.macs == sum(per_module[f"ResNet.{layer.path}"].values()), layer.path


def test_the_preset_is_timms() -> None:
    with torch.device("meta"):
        ref = timm.create_model("res2net50_26w_4s")
    ours = resnetdsl.build_model("res2net50_26w_4s", device="meta")  # a preset: specs/res2net50_26w_4s.yaml
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [(k, v.shape) for k, v in ref.state_dict().items()]
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in ref.parameters())


# --- every setting the res2net blocks meet ---------------------------------------------------------------------


def _tiny(**settings: Any) -> dict[str, Any]:
    stages = [{"depth": 2, "width": 16}, {"depth": 2, "width": 32, "stride": 2}, {"depth": 1, "width": 32, "stride": 2}]
    defaults = {"block": "res2net", "width_per_group": 26, "scale": 4, **settings}
    return {"name": "tiny_res2net", "input": {"size": [SIZE, SIZE]}, "stem": {"kind": "deep", "width": 32},
            "defaults": defaults, "stages": stages}  # fmt: skip


def test_memory_rules_equal_what_torch_saves() -> None:
    for extra in ({}, {"scale": 2, "groups": 2, "width_per_group": 8}, {"norm": "none"}, {"act": "silu"}):
        memory_is_exact(_tiny(**extra))


def test_receptive_field_follows_the_splits() -> None:
    """A stage-first block's splits read one 3×3 each; in the others the last split conv has seen every one before
    it, a stack of scale − 1 3×3 convs: layer1's second block (jump 4) grows the field by 2 × (scale − 1) × 4."""
    facts = {s: feature_facts(resnetdsl.plan_of(_tiny(scale=s)))[1] for s in (2, 4)}
    assert facts[4].receptive_field is not None and facts[2].receptive_field is not None
    assert facts[4].receptive_field - facts[2].receptive_field == 2 * 2 * 4
    assert facts[4].dilation == 1


@pytest.mark.parity
@pytest.mark.parametrize(("name", "output_stride"), [("res2next50", 8)])
def test_output_stride_matches_timm(name: str, output_stride: int) -> None:
    """timm's dilated Res2Net: every split conv of a block dilated by its first dilation, the pool at stride 1."""
    ours = numeric_parity(timm_reference(name, output_stride=output_stride), name)
    dilated = [op for _, op in ours.plan.named_ops() if isinstance(op, P.Res2Split) and op.convs[0].dilation > 1]
    assert dilated


@pytest.mark.parametrize("settings", [{"scale": 8, "width_per_group": 14}, {"scale": 2, "groups": 4}])
def test_grid_of_settings(settings: dict[str, Any]) -> None:
    x = torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    plain, want = backbone_settings_hold(_tiny(**settings), x)
    # inference folding: every batch norm folds, the split's bns.i into convs.i too
    fused = resnetdsl.fuse_for_inference(plain)
    assert not [n for n, m in fused.named_modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        torch.testing.assert_close(fused(x), want, rtol=1e-4, atol=1e-5)


def test_drop_block_follows_timms_schedule() -> None:
    """timm's DropBlock after the concatenated splits, in the third and fourth stages; identity in eval mode."""
    spec = {**_tiny(), "drop_block": 0.1}
    spec["stages"] = [*spec["stages"], {"depth": 1, "width": 32, "stride": 2}]
    model = resnetdsl.build_model(spec, seed=0)
    names = [n for n, m in model.named_modules() if type(m).__name__ == "DropBlock"]
    assert names == ["layer3.0.drop_block", "layer4.0.drop_block"]
    ref = timm.create_model("res2net50_26w_4s", drop_block_rate=0.1)
    imported = resnetdsl.spec_from_model(ref)
    assert imported.drop_block == 0.1
    assert list(resnetdsl.build_model(imported, device="meta").state_dict()) == list(ref.state_dict())


def test_python_export_equals_the_built_model(tmp_path: Path) -> None:
    from resnetdsl.export.python import to_python
    from tests.family_helpers import load_exported

    model = resnetdsl.build_model(_tiny(scale=3, groups=2, attention="se"), seed=0).eval()
    source = to_python(model.plan)
    assert "class Res2Split(nn.Module)" in source
    exported = load_exported(source, tmp_path, "res2net")().eval()
    assert list(exported.state_dict()) == list(model.state_dict())
    exported.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(exported(x), model(x), rtol=0, atol=0)


@pytest.mark.slow
def test_onnx_export_equals_the_built_model(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from resnetdsl.export.onnx import to_onnx

    model = resnetdsl.build_model(_tiny(scale=3), seed=0).eval()
    to_onnx(model, tmp_path / "m.onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    for shape in [(1, 3, SIZE, SIZE), (2, 3, SIZE + 16, SIZE + 32)]:
        x = torch.randn(*shape)
        (out,) = session.run(None, {"input": x.numpy()})
        with torch.no_grad():
            torch.testing.assert_close(torch.from_numpy(out), model(x), rtol=1e-4, atol=1e-4)


# --- what the checker refuses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"reduce_first": 2, "width_per_group": 32},
            "defaults.reduce_first: res2net blocks take no reduce_first (timm's Bottle2neck has none); remove it",
        ),
        (
            {"conv_widths": [16, 16]},
            "defaults.conv_widths: res2net blocks take no conv_widths (their widths are width_per_group × groups "
            "per split, times scale); set width_per_group and scale instead",
        ),
        (
            {"aa": "blur"},
            "defaults.aa: applies only to basic or bottleneck blocks (every stage uses res2net blocks); "
            "stem.aa anti-aliases the stem alone",
        ),
        (
            {"stride_on": "1x1"},
            "defaults.stride_on: applies only to bottleneck blocks (every stage uses res2net blocks)",
        ),
    ],
)
def test_the_checker_refuses(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError) as info:
        resnetdsl.check(_tiny(**settings))
    assert [i.format() for i in info.value.issues] == [message]


def test_scale_applies_only_to_res2net_blocks_and_splits_at_least_twice() -> None:
    with pytest.raises(SpecError) as info:
        resnetdsl.check({"name": "t", "defaults": {"scale": 4}, "stages": [{"depth": 1, "width": 8}]})
    assert [i.format() for i in info.value.issues] == [
        "defaults.scale: applies only to res2net blocks (every stage uses basic blocks)"
    ]
    with pytest.raises(SpecError) as info:
        resnetdsl.check(_tiny(scale=1))
    assert [i.format() for i in info.value.issues] == ["defaults.scale: must be >= 2 (got 1)"]


def test_res2net_blocks_live_in_timms_resnet_layout() -> None:
    with pytest.raises(SpecError) as info:
        resnetdsl.check({**_tiny(), "layout": "senet"})
    assert [i.format() for i in info.value.issues] == [
        "layout: res2net blocks are timm's Bottle2neck, named as in timm's ResNet; use layout: resnet (got 'senet')"
    ]


def test_shortcut_kernel_applies_only_to_projection_shortcuts() -> None:
    """issue 18 item 11's companion: a shortcut_kernel no projection shortcut takes is refused at the key."""
    stages = [{"depth": 1, "width": 8}, {"depth": 1, "width": 16, "stride": 2, "shortcut_kernel": 3}]
    spec: dict[str, Any] = {
        "name": "t",
        "defaults": {"shortcut": "avgpool_projection", "shortcut_kernel": 3},
        "stages": stages,
    }
    with pytest.raises(SpecError) as info:
        resnetdsl.check(spec)
    assert [i.format() for i in info.value.issues] == [
        "defaults.shortcut_kernel: applies only to projection shortcuts (shortcut: projection or projection_all; "
        "the blocks that take it from defaults use shortcut avgpool_projection); remove it, or use shortcut: "
        "projection",
        "stages[1].shortcut_kernel: applies only to projection shortcuts (shortcut: projection or "
        "projection_all; stages[1] uses shortcut avgpool_projection); remove it, or use shortcut: projection",
    ]
    spec["defaults"]["shortcut"] = "projection"
    resnetdsl.check(spec)  # SENet-154's 3×3 projections


# --- issue 18 item 11: DropBlock and output_stride on every new block kind ------------------------------------

_KIND_SETTINGS: dict[str, dict[str, Any]] = {
    "sk_basic": {},
    "sk_bottleneck": {},
    "resnest": {"shortcut": "avgpool_projection"},
    "res2net": {"width_per_group": 26},
    "basic": {"aa": "blur"},
    "bottleneck": {"aa": "avg"},
}
"""Every block kind issue 18 added (the anti-aliased ones as basic and bottleneck blocks with ``aa``)."""


def _four_stages(kind: str, **extra: Any) -> dict[str, Any]:
    stages = [{"depth": 1, "width": 8}, *({"depth": 1, "width": 16, "stride": 2} for _ in range(3))]
    defaults = {"block": kind, **_KIND_SETTINGS[kind]}
    return {"name": "grid", "input": {"size": [64, 64]}, "defaults": defaults, "stages": stages, **extra}


@pytest.mark.parametrize("kind", sorted(_KIND_SETTINGS))
def test_drop_block_on_every_new_kind_works_or_is_refused(kind: str) -> None:
    """basic/bottleneck (blur, avg) and res2net: timm's DropBlock module where timm puts it, dropping in training;
    selective kernels and split attention (timm's sits inside their convs) are refused with a message."""
    spec = _four_stages(kind, drop_block=0.2)
    if kind in ("sk_basic", "sk_bottleneck", "resnest"):
        with pytest.raises(SpecError) as info:
            resnetdsl.check(spec)
        assert [i.format() for i in info.value.issues] == [
            f"drop_block: {kind} blocks have no place for timm's DropBlock (timm puts it inside selective-kernel and "
            "split-attention convs, which the language cannot say); remove drop_block, or use basic, bottleneck or "
            "res2net blocks in the third and fourth stages"
        ]
        return
    model = resnetdsl.build_model(spec, seed=0)
    assert [n for n, m in model.named_modules() if type(m).__name__ == "DropBlock"] == [
        "layer3.0.drop_block",
        "layer4.0.drop_block",
    ]
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert not torch.equal(model.train()(x), model.train()(x))  # it drops, at random
        torch.testing.assert_close(model.eval()(x), model(x), rtol=0, atol=0)


@pytest.mark.parametrize(
    ("name", "kwargs"), [("skresnet18", {"drop_block_rate": 0.1}), ("resnest14d", {"drop_block_rate": 0.1})]
)
def test_timms_drop_block_inside_a_conv_is_refused_on_import(name: str, kwargs: dict[str, Any]) -> None:
    from resnetdsl.importer import UnsupportedModel

    with torch.device("meta"):
        ref = timm.create_model(name, pretrained=False, **kwargs)
    with pytest.raises(UnsupportedModel) as info:
        resnetdsl.spec_from_model(ref)
    assert (
        info.value.path == {"skresnet18": "layer3.0.conv1.paths.0.bn.drop", "resnest14d": "layer3.0.conv2.drop"}[name]
    )


@pytest.mark.parity
def test_selective_kernels_under_output_stride_equal_timms() -> None:
    """timm's ``skresnet18(output_stride=16)``: the last stage's SK conv dilated, imported exactly."""
    ours = numeric_parity(timm_reference("skresnet18", output_stride=16), "skresnet18")
    assert ours.plan.stages[-1].blocks[0].stride == 1
