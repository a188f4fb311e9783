"""SENet-154 and timm's legacy SENets (issue 18, item 6): ``layout: senet``, the 3×3 projection shortcut, the stride
on the first 1×1, ``reduce_first``; strict loading and equal outputs against live timm at 64 px, the big ones on
the meta device, the preset, the exporters and the checker's messages."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import timm
import torch
from torch import nn

import resnetdsl
from resnetdsl import plan as P
from resnetdsl.check import check_with_issues
from resnetdsl.export.python import to_python
from resnetdsl.importer import spec_from_model
from tests.family_helpers import computes_like, exported_equals, onnx_equals, randomised_norms

NUMERIC = ["legacy_seresnet18", "legacy_seresnext26_32x4d"]


_randomised = randomised_norms


@pytest.fixture(scope="module")
def references() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    return {name: _randomised(timm.create_model(name, pretrained=False)) for name in NUMERIC}


@pytest.mark.parity
@pytest.mark.parametrize("name", NUMERIC)
def test_legacy_senet_loads_strictly_and_computes_the_same(name: str, references: dict[str, nn.Module]) -> None:
    ref = references[name]
    spec = spec_from_model(ref)
    assert spec.layout == "senet" and spec.stem.pool == "max_ceil" and spec.head != "none"
    assert spec.head.dropout == 0.2  # the legacy nets' functional dropout before last_linear
    computes_like(ref, spec)


def test_the_legacy_layout_and_stride_placement() -> None:
    """SEResNetBottleneck strides its first 1×1 (Caffe's placement); SEResNeXt's 3×3 carries it."""
    with torch.device("meta"):
        resnet = timm.create_model("legacy_seresnet50")
        resnext = timm.create_model("legacy_seresnext26_32x4d")
    a, b = spec_from_model(resnet), spec_from_model(resnext)
    assert (a.stages[1].stride_on, b.defaults.stride_on) == ("1x1", "3x3")  # layer1 does not stride: its own
    plan = resnetdsl.plan_of(a)
    names = [n for n, _ in plan.named_ops()]
    assert names[:4] == ["layer0.conv1", "layer0.bn1", "layer0.relu1", "pool0"]
    assert "layer2.0.se_module" in names and names[-1] == "last_linear"
    conv1 = dict(plan.named_ops())["layer2.0.conv1"]
    assert isinstance(conv1, P.Conv) and conv1.stride == 2


@pytest.mark.parametrize("name", ["legacy_senet154", "senet154"])
def test_senet154_on_meta(name: str) -> None:
    """Both SENet-154s: a 3×3 projection where the stage strides (1×1 in layer1), a first 1×1 half as wide."""
    with torch.device("meta"):
        ref = timm.create_model(name)
    spec = spec_from_model(ref)
    model = resnetdsl.build_model(spec, device="meta")
    assert [(k, v.shape) for k, v in model.state_dict().items()] == [(k, v.shape) for k, v in ref.state_dict().items()]
    assert [spec.stages[i].shortcut_kernel for i in range(4)] == [None, 3, 3, 3]
    ops = dict(resnetdsl.plan_of(spec).named_ops())
    down, conv1 = ops["layer2.0.downsample.0"], ops["layer1.1.conv1"]
    assert isinstance(down, P.Conv) and (down.kernel_size, down.stride, down.padding) == (3, 2, 1)
    assert isinstance(conv1, P.Conv) and conv1.out_channels == 128
    assert spec.layout == ("senet" if name.startswith("legacy") else "resnet")


def test_the_senet154_preset_is_timms() -> None:
    with torch.device("meta"):
        ref = timm.create_model("senet154")
    imported = dataclasses.replace(resnetdsl.plan_of(spec_from_model(ref)), name="", description="", pretrained_cfg=())
    assert imported == dataclasses.replace(resnetdsl.plan_of("senet154"), name="", description="")
    assert resnetdsl.summarize("senet154").params == sum(p.numel() for p in ref.parameters()) == 115_088_984


LEGACY_SMALL: dict[str, Any] = {
    "name": "legacy_small",
    "layout": "senet",
    "stem": {"kind": "deep", "width": 16, "mid_widths": [8, 8], "pool": "max_ceil"},
    "defaults": {"block": "basic", "attention": "se", "se_ratio": 0.25, "se_divisor": 1, "shortcut_kernel": 3},
    "stages": [{"depth": 1, "width": 16}, {"depth": 2, "width": 32, "stride": 2}],
    "head": {"num_classes": 10, "dropout": 0.2},
}


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
def test_python_export_of_a_legacy_senet(tmp_path: Path) -> None:
    plan = resnetdsl.plan_of(LEGACY_SMALL)
    model = _randomised(resnetdsl.build_model(plan, seed=0))
    x = torch.randn(2, 3, 48, 48, generator=torch.Generator().manual_seed(0))
    exported_equals(to_python(plan), model, tmp_path, "legacy", x)


@pytest.mark.slow
def test_onnx_export_of_a_legacy_senet(tmp_path: Path) -> None:
    model = _randomised(resnetdsl.build_model(LEGACY_SMALL, seed=0))
    onnx_equals(model, tmp_path / "legacy.onnx", [(1, 3, 48, 48), (2, 3, 64, 80)], input_size=(48, 48))


def _messages(text: str) -> list[tuple[str, str]]:
    _, issues = check_with_issues(text)
    return [(".".join(str(p) for p in i.path), i.message) for i in issues]


def test_the_checker_says_where_the_senet_keys_do_not_fit() -> None:
    assert _messages("name: x\nlayout: senet\ndefaults: {block: preact_basic}\nstages: [{depth: 1, width: 8}]\n") == [
        (
            "layout",
            "'senet' names post-activation networks only (stages[0] uses preact_basic blocks); "
            "use block: basic, or layout: resnet",
        )
    ]
    text = "name: x\nlayout: resnetv2\nstem: {pool: max_ceil}\ndefaults: {block: preact_basic}\n"
    assert _messages(text + "stages: [{depth: 1, width: 8}]\n") == [
        (
            "stem.pool",
            "'max_ceil' has no module name in timm's ResNetV2 stem (layout 'resnetv2'); use max or none, "
            "or layout: resnet",
        )
    ]
    text = "name: x\ndefaults: {block: bottleneck, groups: 4, reduce_first: 3}\nstages: [{depth: 1, width: 8}]\n"
    assert _messages(text) == [
        (
            "defaults.reduce_first",
            "reduce_first 3 does not divide the inner width 32; choose a divisor of 32, or conv_widths",
        )
    ]
