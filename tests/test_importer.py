"""spec_from_model: the spec of a torchvision or timm ResNet, also after the usual surgery."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import timm
import torch
import torchvision
from torch import nn

import resnetdsl
from resnetdsl.importer import UnsupportedModel, spec_from_model
from resnetdsl.plan import Plan

from .conftest import TORCHVISION

TIMM = [
    "resnet18d",
    "resnet26t",
    "resnet50c",
    "resnet50d",
    "resnet50_gn",
    "seresnet50",
    "seresnext50_32x4d",
    "ecaresnet50d",
    "resnetrs50",
    "resnetv2_18",
    "resnetv2_50",
]
"""Every preset named after a timm model."""
QUICK = {"resnet18", "resnet18d", "resnet26t", "resnetv2_18", "resnet50d"}
"""Round-tripped with outputs compared in every run; the others (built at full size once each) are marked slow."""


def _make(lib: str, name: str) -> nn.Module:
    if lib == "torchvision":
        return torchvision.models.get_model(name, weights=None)  # type: ignore[no-any-return]
    return timm.create_model(name, pretrained=False)  # type: ignore[no-any-return]


def _bare(plan: Plan) -> Plan:
    # the structure only: an import also carries timm's pretrained_cfg, which the presets leave out
    return dataclasses.replace(plan, name="", description="", pretrained_cfg=())


CASES = [("torchvision", n) for n in TORCHVISION] + [("timm", n) for n in TIMM]


@pytest.mark.parametrize(("lib", "name"), CASES)
def test_spec_of_every_model_is_its_preset(lib: str, name: str) -> None:
    with torch.device("meta"):  # structure only: nothing allocated, no init cost
        model = _make(lib, name)
    assert _bare(resnetdsl.plan_of(spec_from_model(model))) == _bare(resnetdsl.plan_of(name))


@pytest.mark.parity
@pytest.mark.parametrize(
    ("lib", "name"),
    [(lib, n) if n in QUICK else pytest.param(lib, n, marks=pytest.mark.slow) for lib, n in CASES],
)
def test_round_trip_loads_strictly_and_computes_the_same(lib: str, name: str) -> None:
    torch.manual_seed(0)
    model = _make(lib, name).eval()
    spec = spec_from_model(model)
    ours = resnetdsl.build_model(spec, device="meta")
    ours.load_state_dict(model.state_dict(), strict=True, assign=True)
    ours.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), model(x))


@pytest.mark.parity
def test_after_the_usual_surgery() -> None:
    model = torchvision.models.resnet18(zero_init_residual=True)
    model.fc = nn.Linear(512, 10)
    model.conv1 = nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    model.maxpool = nn.Identity()  # type: ignore[assignment]
    model.eval()
    spec = spec_from_model(model, name="gray")
    assert spec.input.channels == 1 and spec.stem.pool == "none"
    assert spec.head != "none" and spec.head.num_classes == 10
    assert spec.init.zero_init_residual
    ours = resnetdsl.build_model(spec).eval()
    ours.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, 1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), model(x))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda m: setattr(m.layer1[0], "conv2", nn.Conv2d(64, 64, 3, padding=(1, 2), dilation=(1, 2))) or m,
            "layer1.0.conv2 (Conv2d): non-square dilation (1, 2)",
        ),
        (
            lambda m: setattr(m.layer1[0], "bn1", nn.InstanceNorm2d(64)) or m,
            "layer1.0.bn1 (InstanceNorm2d): not a norm the spec language has (batch, group, frozen batch, none)",
        ),
        (
            lambda m: setattr(m.layer2[0], "extra", nn.Conv2d(3, 3, 1)) or m,
            "layer2.0.extra (Conv2d): no counterpart in the spec language",
        ),
        (lambda m: setattr(m, "fc", nn.Identity()) or m, "fc (Identity): the head's classifier must be a Linear"),
        (lambda m: nn.Sequential(nn.Conv2d(3, 3, 1)), "<model> (Sequential): not a torchvision or timm ResNet"),
    ],
)
def test_what_it_cannot_express_is_named(change, message: str) -> None:  # type: ignore[no-untyped-def]
    with torch.device("meta"):
        model = change(torchvision.models.resnet18())
    with pytest.raises(UnsupportedModel) as exc:
        spec_from_model(model)
    assert str(exc.value).startswith(message)


def test_other_weight_standardisations_are_refused() -> None:
    """BiT's StdConv2d imports (tests/test_family_v2.py); a conv that standardises otherwise does not."""
    from timm.layers import ScaledStdConv2d

    with torch.device("meta"):
        model = timm.create_model("resnetv2_50x1_bit", pretrained=False)
        model.stem.conv = ScaledStdConv2d(3, 64, 7, stride=2, padding=3)
    with pytest.raises(UnsupportedModel, match=r"^stem\.conv \(ScaledStdConv2d\): expected a plain torch\.nn\.Conv2d"):
        spec_from_model(model)


def test_cli_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from resnetdsl.cli import main

    out = tmp_path / "r50d.yaml"
    assert main(["import", "timm:resnet50d", "-o", str(out)]) == 0
    assert _bare(resnetdsl.plan_of(out)) == _bare(
        resnetdsl.plan_of({"extends": "resnet50d", "init": {"zero_init_residual": True}})
    )  # timm zero-initialises the last norm of each block
    assert main(["validate", str(out)]) == 0
    capsys.readouterr()
    assert main(["import", "torchvision:resnet5"]) == 2  # the argument names nothing: a usage error
    assert "torchvision has no model 'resnet5' (did you mean 'resnet50'" in capsys.readouterr().err


@pytest.mark.parametrize("replace", [[False, True, True], [False, False, True]])
def test_dilated_torchvision_models_round_trip(replace: list[bool]) -> None:
    model = torchvision.models.resnet50(replace_stride_with_dilation=replace).eval()
    spec = spec_from_model(model)
    dilations = [1, *(2 ** sum(replace[: i + 1]) if replace[i] else None for i in range(3))]
    assert [st.dilation for st in spec.stages][1:] == dilations[1:]
    ours = resnetdsl.build_model(spec).eval()
    ours.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), model(x), rtol=0, atol=0)


class _OddBlock(nn.Module):
    """A block with a child the importer does not expect, and none of the ones it does."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(64, 64, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda m: m.layer1.__setitem__(0, _OddBlock()) or m,
            "layer1.0 (_OddBlock): not a structure the importer can read ('_OddBlock' object has no attribute 'conv1')",
        ),
        (
            lambda m: setattr(m, "layer4", nn.Sequential()) or m,
            "<model> (ResNet): not a structure the importer can read (list index out of range)",
        ),
    ],
    ids=["block-without-its-convs", "empty-stage"],
)
def test_odd_children_are_unsupported_not_raw_errors(change, message: str) -> None:  # type: ignore[no-untyped-def]
    with torch.device("meta"):
        model = change(torchvision.models.resnet18())
    with pytest.raises(UnsupportedModel) as exc:
        spec_from_model(model)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nf_resnet50", "stem.conv (ScaledStdConv2d): expected a plain torch.nn.Conv2d"),
        ("resnet50_clip_gap", "stem.conv1 (ConvNormAct): expected a plain torch.nn.Conv2d"),
    ],
)
def test_timm_models_outside_the_language_name_their_module(name: str, message: str) -> None:
    with torch.device("meta"):
        model = timm.create_model(name, pretrained=False)
    with pytest.raises(UnsupportedModel) as exc:
        spec_from_model(model)
    assert str(exc.value).startswith(message)
    assert exc.value.path == message.split(" ")[0]


@pytest.mark.parametrize(
    ("ref", "code", "said"),
    [
        ("timm:no_such_model", 2, "resnetdsl import: error: timm has no model 'no_such_model' (timm.list_models() "),
        ("timm:resnet50dd", 2, "resnetdsl import: error: timm has no model 'resnet50dd' (did you mean 'resnet50d'"),
        (
            "torchvison:resnet50",
            2,
            "resnetdsl import: error: expected torchvision:NAME or timm:NAME, got 'torchvison:resnet50' "
            "(did you mean 'torchvision:resnet50'?)",
        ),
        ("resnet50", 2, "resnetdsl import: error: expected torchvision:NAME or timm:NAME, got 'resnet50'\n"),
        (
            "timm:nf_resnet50",
            1,
            "resnetdsl: error: cannot import timm:nf_resnet50: stem.conv (ScaledStdConv2d): expected a plain",
        ),
    ],
)
def test_cli_import_errors(ref: str, code: int, said: str, capsys: pytest.CaptureFixture[str]) -> None:
    from resnetdsl.cli import main

    assert main(["import", ref]) == code
    err = capsys.readouterr().err
    assert err.startswith(said)
    assert "Error:" not in err and "Traceback" not in err


@pytest.mark.parametrize("ref", ["timm:resnet50", "timm:resnetv2_50", "torchvision:resnet50", "timm:resnest14d"])
def test_the_command_reads_without_the_random_draws_what_the_api_reads_with_them(
    ref: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``resnetdsl import`` builds the reference with the random initialisers stood down (importer.unrandom): the
    spec it writes is the one read from the model built as the library builds it, zero-initialised layers and
    all, and the initialisers are themselves again afterwards."""
    from torch.nn import init

    from resnetdsl.cli import main
    from resnetdsl.importer import model_from_ref
    from resnetdsl.importer.unrandom import RANDOM
    from resnetdsl.show import resolved, to_yaml

    before = {name: getattr(init, name) for name in RANDOM}
    assert main(["import", ref]) == 0
    written = capsys.readouterr().out
    assert {name: getattr(init, name) for name in RANDOM} == before
    name = ref.partition(":")[2]
    assert written == to_yaml(resolved(spec_from_model(model_from_ref(ref), name=name)))
    zeroed = ref in ("timm:resnet50", "timm:resnest14d")  # timm zero-initialises their blocks' last norms
    assert f"zero_init_residual: {str(zeroed).lower()}" in written
