"""Split attention (issue 18 item 3): timm's ResNeSt nets (``ResNestBottleneck``, ``SplitAttn``), imported, built
and checked against timm; every setting the blocks meet (output stride, features, frozen stages, checkpointing,
inference folding, the exporters) works exactly or is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import resnetdsl
from resnetdsl import SpecError
from resnetdsl import plan as P
from resnetdsl.layers import SplitAttn
from tests.family_aa_resnest import (
    SIZE,
    References,
    analysis_is_exact,
    memory_is_exact,
    meta_import,
    numeric_parity,
    timm_reference,
)
from tests.family_helpers import backbone_settings_hold, exported_equals, onnx_equals

timm = pytest.importorskip("timm")

NAMES = [
    "resnest101e",
    "resnest14d",
    "resnest200e",
    "resnest269e",
    "resnest26d",
    "resnest50d",
    "resnest50d_1s4x24d",
    "resnest50d_4s2x40d",
]
"""Every ResNeSt timm registers."""
NUMERIC = ["resnest14d", "resnest50d_4s2x40d"]
"""Checked numerically at 64 px: radix 2 with the pool last, radix 4 × 2 groups with the pool first (radix 1, the
sigmoid gate, is checked module by module against timm's SplitAttn)."""


@pytest.fixture(scope="module")
def references() -> References:
    """Each numerically checked timm model and ours, built once for every test of this module."""
    return References()


def test_timm_registers_these_names() -> None:
    assert set(timm.list_models("resnest*")) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_name_imports_with_timm_keys_and_shapes(name: str) -> None:
    spec = meta_import(name)
    assert spec.defaults.block == "resnest"
    print(f"{name}: imported, radix {spec.defaults.radix}, groups {spec.defaults.groups}, avd {spec.defaults.avd}")


@pytest.mark.parity
@pytest.mark.parametrize("name", NUMERIC)
def test_numeric_parity(name: str, references: References) -> None:
    references.pair(name)  # strict load, equal outputs


@pytest.mark.parity
@pytest.mark.parametrize("name", ["resnest14d", "resnest50d_4s2x40d"])
def test_summary_is_exact_on_split_attention(name: str, references: References) -> None:
    analysis_is_exact(references.pair(name)[1])


def test_the_preset_is_timms() -> None:
    with torch.device("meta"):
        ref = timm.create_model("resnest50d")
    ours = resnetdsl.build_model("resnest50d", device="meta")  # a preset: specs/resnest50d.yaml
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [(k, v.shape) for k, v in ref.state_dict().items()]


def test_memory_rules_equal_what_torch_saves() -> None:
    for extra in ({}, {"radix": 4, "groups": 2, "avd": "first"}, {"radix": 1, "act": "silu"}, {"norm": "none"}):
        memory_is_exact(_tiny(**extra))


def test_split_attention_equals_timms() -> None:
    layers = pytest.importorskip("timm.layers")
    x = torch.randn(2, 32, 9, 7, generator=torch.Generator().manual_seed(0))
    for radix, groups, stride in ((2, 1, 1), (4, 2, 2), (1, 4, 1)):
        torch.manual_seed(0)
        ref = layers.SplitAttn(32, 32, stride=stride, groups=groups, radix=radix, norm_layer=torch.nn.BatchNorm2d)
        attn = ref.fc1.out_channels
        ours = SplitAttn(32, 32, attn, radix=radix, groups=groups, stride=stride)
        assert list(ours.state_dict()) == list(ref.state_dict())
        ours.load_state_dict(ref.state_dict(), strict=True)
        torch.testing.assert_close(ours.eval()(x), ref.eval()(x), rtol=0, atol=0)


# --- every setting the resnest blocks meet ---------------------------------------------------------------------


def _tiny(**settings: Any) -> dict[str, Any]:
    stages = [{"depth": 1, "width": 16}, {"depth": 2, "width": 32, "stride": 2}, {"depth": 1, "width": 32, "stride": 2}]
    defaults = {"block": "resnest", "shortcut": "avgpool_projection", **settings}
    return {"name": "tiny_resnest", "input": {"size": [SIZE, SIZE]}, "stem": {"kind": "deep", "width": 32},
            "defaults": defaults, "stages": stages}  # fmt: skip


@pytest.mark.parity
@pytest.mark.parametrize(("name", "output_stride"), [("resnest14d", 8), ("resnest26d", 16)])
def test_output_stride_matches_timm(name: str, output_stride: int) -> None:
    """timm's dilated ResNeSt: no avg pool where a stride became dilation, the split attention dilated."""
    ours = numeric_parity(timm_reference(name, output_stride=output_stride), name)
    dilated = [op for _, op in ours.plan.named_ops() if isinstance(op, P.SplitAttention) and op.dilation > 1]
    assert dilated


@pytest.mark.parametrize("settings", [{}, {"radix": 4, "groups": 2, "avd": "first"}, {"radix": 1, "avd": "none"}])
def test_grid_of_settings(settings: dict[str, Any]) -> None:
    x = torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    plain, want = backbone_settings_hold(_tiny(**settings), x)
    # inference folding: the block's own norms fold; split attention keeps its bn0 and bn1 (a norm inside a
    # composite module stays, as after an add)
    fused = resnetdsl.fuse_for_inference(plain)
    kept = {n for n, m in fused.named_modules() if isinstance(m, torch.nn.BatchNorm2d)}
    assert kept and all(n.endswith(("conv2.bn0", "conv2.bn1")) for n in kept)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), want, rtol=1e-4, atol=1e-5)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
def test_python_export_equals_the_built_model(tmp_path: Path) -> None:
    from resnetdsl.export.python import to_python

    model = resnetdsl.build_model(_tiny(radix=4, groups=2, avd="first"), seed=0).eval()
    source = to_python(model.plan)
    assert "class SplitAttn(nn.Module)" in source
    x = torch.randn(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    exported_equals(source, model, tmp_path, "resnest", x)


@pytest.mark.slow
def test_onnx_export_equals_the_built_model(tmp_path: Path) -> None:
    model = resnetdsl.build_model(_tiny(radix=4, groups=2), seed=0).eval()
    onnx_equals(model, tmp_path / "m.onnx", [(1, 3, SIZE, SIZE), (2, 3, SIZE + 16, SIZE + 32)])


# --- what the checker refuses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"attention": "se"},
            "defaults.attention: resnest blocks take no channel attention (timm's ResNestBottleneck has none); "
            "use attention: none",
        ),
        (
            {"drop_path": 0.1},
            "defaults.drop_path: resnest blocks take no drop_path (timm's ResNestBottleneck drops the shortcut's "
            "input, not the branch)",
        ),
        (
            {"norm": "group", "norm_groups": 4},
            "defaults.norm: resnest blocks take norm 'batch' or 'none' (their split attention is timm's; got 'group')",
        ),
        (
            {"radix": 3},
            "defaults.radix: the inner width 16 splits into 1 group(s) of 16 channels, not divisible by radix 3; "
            "choose a radix that divides 16",
        ),
        (
            {"groups": 3, "width_per_group": 64},
            "defaults.groups: split attention's hidden width 32 (timm's rounding of 48 × 2 / 4) is not divisible "
            "by groups 3",
        ),
        (
            {"aa": "blur"},
            "defaults.aa: applies only to basic or bottleneck blocks (every stage uses resnest blocks); "
            "stem.aa anti-aliases the stem alone",
        ),
    ],
)
def test_the_checker_refuses(settings: dict[str, Any], message: str) -> None:
    source = _tiny(**settings)
    with pytest.raises(SpecError) as info:
        resnetdsl.check(source)
    assert [i.format() for i in info.value.issues] == [message]


def test_radix_and_avd_apply_only_to_resnest_blocks() -> None:
    with pytest.raises(SpecError) as info:
        resnetdsl.check({"name": "t", "defaults": {"radix": 2, "avd": "first"}, "stages": [{"depth": 1, "width": 8}]})
    assert [i.format() for i in info.value.issues] == [
        "defaults.avd: applies only to resnest blocks (every stage uses basic blocks)",
        "defaults.radix: applies only to resnest blocks (every stage uses basic blocks)",
    ]
