"""Anti-aliased downsampling (issue 18 item 1): timm's blur-pool and avg-pool ``aa_layer`` nets, imported,
built and checked against timm; every setting the blocks meet (output stride, features, frozen stages,
checkpointing, inference folding, the exporters) works exactly or is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import resnetdsl
from resnetdsl import SpecError
from resnetdsl import plan as P
from resnetdsl.layers import BlurPool2d
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
    "resnetaa101d",
    "resnetaa34d",
    "resnetaa50",
    "resnetaa50d",
    "resnetblur101d",
    "resnetblur18",
    "resnetblur50",
    "resnetblur50d",
    "seresnetaa50d",
    "seresnextaa101d_32x8d",
    "seresnextaa201d_32x8d",
]
"""Every anti-aliased ResNet timm registers."""
NUMERIC = ["resnetblur18", "resnetaa50d", "seresnetaa50d"]
"""Checked numerically at 64 px: the blur and the avg pool, basic and bottleneck blocks, with SE."""


@pytest.fixture(scope="module")
def references() -> References:
    """Each numerically checked timm model and ours, built once for every test of this module."""
    return References()


def test_timm_registers_these_names() -> None:
    registered = set(timm.list_models("resnet*aa*") + timm.list_models("resnetblur*") + timm.list_models("se*aa*"))
    assert registered == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_name_imports_with_timm_keys_and_shapes(name: str) -> None:
    spec = meta_import(name)
    want = "blur" if "blur" in name else "avg"
    assert spec.defaults.aa == want and spec.stem.aa is None  # the stem takes the blocks' pool
    print(f"{name}: imported, aa {want}")


@pytest.mark.parity
@pytest.mark.parametrize("name", NUMERIC)
def test_numeric_parity(name: str, references: References) -> None:
    references.pair(name)  # strict load, equal outputs


@pytest.mark.parity
@pytest.mark.parametrize("name", ["resnetblur18", "resnetaa50d"])
def test_summary_is_exact_on_blur_and_avg_pools(name: str, references: References) -> None:
    analysis_is_exact(references.pair(name)[1])


def test_memory_rules_equal_what_torch_saves() -> None:
    for aa in ("blur", "avg"):
        for block in ("basic", "bottleneck"):
            memory_is_exact(_tiny(block, aa))


def test_blur_pool_equals_timms() -> None:
    layers = pytest.importorskip("timm.layers")
    x = torch.randn(2, 5, 9, 7, generator=torch.Generator().manual_seed(0))
    for stride in (1, 2):
        for size in (3, 5):
            ref = layers.BlurPool2d(5, filt_size=size, stride=stride)
            ours = BlurPool2d(5, stride, size)
            torch.testing.assert_close(ours(x), ref(x), rtol=0, atol=0)
            assert list(ours.state_dict()) == list(ref.state_dict()) == []


def test_the_stem_places_the_pool_as_timm() -> None:
    blur = resnetdsl.plan_of("resnetblur50").stem  # a preset: specs/resnetblur50.yaml
    assert [(type(op).__name__, op.name) for op in blur[-2:]] == [("Pool", "maxpool.0"), ("BlurPool", "maxpool.1")]
    assert blur[-2] == P.Pool("maxpool.0", "max", 3, 1, padding=1)
    avg = resnetdsl.plan_of("resnetaa50d").stem
    assert avg[-1] == P.Pool("maxpool", "avg", 2, 2)
    conv = resnetdsl.plan_of({"extends": "resnet50", "name": "rs", "stem": {"pool": "conv", "aa": "blur"}}).stem
    assert [op.name for op in conv[-4:]] == ["maxpool.0", "maxpool.1", "maxpool.2", "maxpool.3"]
    assert isinstance(conv[-4], P.Conv) and conv[-4].stride == 1 and isinstance(conv[-3], P.BlurPool)


def test_the_stem_takes_its_own_setting(tmp_path: Path) -> None:
    plan = resnetdsl.plan_of({"extends": "resnetblur50", "name": "x", "stem": {"aa": "none"}})
    assert plan.stem[-1] == P.Pool("maxpool", "max", 3, 2, padding=1)
    assert any(isinstance(op, P.BlurPool) for _, op in plan.named_ops())


# --- every setting the anti-aliased blocks meet ----------------------------------------------------------------


def _tiny(block: str, aa: str, **extra: Any) -> dict[str, Any]:
    stages = [{"depth": 1, "width": 8}, {"depth": 2, "width": 16, "stride": 2}, {"depth": 1, "width": 16, "stride": 2}]
    return {"name": f"tiny_{block}_{aa}", "input": {"size": [SIZE, SIZE]}, "stem": {"width": 16},
            "defaults": {"block": block, "aa": aa}, "stages": stages, **extra}  # fmt: skip


@pytest.mark.parity
@pytest.mark.parametrize(("name", "output_stride"), [("resnetblur18", 8), ("resnetaa34d", 16)])
def test_output_stride_matches_timm(name: str, output_stride: int) -> None:
    """timm anti-aliases with a stride-1 pool where a block's first 3×3 keeps the smaller dilation."""
    ref = timm_reference(name, output_stride=output_stride)
    ours = numeric_parity(ref, name)
    pools = [op for _, op in ours.plan.named_ops() if op.name == "aa"]
    assert pools and {op.stride for op in pools} == {1, 2}


@pytest.mark.parametrize("block", ["basic", "bottleneck"])
@pytest.mark.parametrize("aa", ["blur", "avg"])
def test_grid_of_settings(block: str, aa: str) -> None:
    x = torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    plain, want = backbone_settings_hold(_tiny(block, aa), x)
    # inference folding: every block norm folds, outputs stay
    fused = resnetdsl.fuse_for_inference(plain)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    with torch.no_grad():
        torch.testing.assert_close(fused(x), want, rtol=1e-4, atol=1e-5)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
def test_python_export_equals_the_built_model(tmp_path: Path) -> None:
    from resnetdsl.export.python import to_python

    model = resnetdsl.build_model(_tiny("bottleneck", "blur"), seed=0).eval()
    source = to_python(model.plan)
    assert "class BlurPool2d(nn.Module)" in source
    exported_equals(
        source, model, tmp_path, "blur", torch.randn(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    )


@pytest.mark.slow
def test_onnx_export_equals_the_built_model(tmp_path: Path) -> None:
    model = resnetdsl.build_model(_tiny("basic", "blur"), seed=0).eval()
    onnx_equals(model, tmp_path / "m.onnx", [(1, 3, SIZE, SIZE), (2, 3, SIZE + 16, SIZE + 32)])


# --- what the checker refuses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"defaults": {"block": "preact_basic", "aa": "blur"}},
            "defaults.aa: applies only to basic or bottleneck blocks (every stage uses preact_basic blocks); "
            "stem.aa anti-aliases the stem alone",
        ),
        (
            {"defaults": {"block": "bottleneck", "stride_on": "1x1", "aa": "avg"}},
            "defaults.aa: needs the stride on the 3×3 (the pool follows it, as timm's); set stride_on: 3x3",
        ),
        (
            {"stem": {"kind": "conv3", "aa": "blur"}},
            "stem.aa: applies only to a stem with a pool (max or conv); the stem has pool 'none'",
        ),
        (
            {"defaults": {"block": "preact_basic"}, "layout": "resnetv2", "stem": {"aa": "avg"}},
            "stem.aa: timm's ResNetV2 stem has no anti-aliased pool; use layout: resnet",
        ),
    ],
)
def test_the_checker_refuses(extra: dict[str, Any], message: str) -> None:
    source = {"name": "t", "stages": [{"depth": 1, "width": 8}, {"depth": 1, "width": 16, "stride": 2}], **extra}
    with pytest.raises(SpecError) as info:
        resnetdsl.check(source)
    assert [i.format() for i in info.value.issues] == [message]
