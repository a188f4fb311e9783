"""Weights both ways: state entries from the plan, the compatibility prediction vs load_weights, checkpoints."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torchvision
from timm.models._manipulate import adapt_input_conv as timm_adapt

import resnetdsl
from resnetdsl.state import state_entries
from resnetdsl.weights import WeightError, adapt_input_conv, load_weights, predict

from .conftest import run_cli

GRAY10 = {"extends": "resnet50", "name": "gray10", "input": {"channels": 1}, "head": {"num_classes": 10}}


@pytest.mark.parametrize("name", resnetdsl.presets())
def test_state_entries_equal_the_built_model(name: str) -> None:
    model = resnetdsl.build_model(name, device="meta")
    got = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    assert got == list(state_entries(resnetdsl.plan_of(name)).items())


@pytest.mark.parametrize(
    ("a", "b", "counts"),
    [
        ("resnet50", GRAY10, {"loaded": 317, "adapted": 1, "reinitialised": 2}),
        ("resnet50", "resnet50d", {"loaded": 319, "missing": 13, "unexpected": 1}),
        ("resnet18", "tutorial_resnet18", {"loaded": 107, "missing": 20, "unexpected": 15}),
        ("resnetv2_18", {"extends": "resnetv2_18", "layout": "resnet"}, {"loaded": 106, "adapted": 1}),
        ("resnet18", {"extends": "resnet18", "input": {"channels": 5}}, {"loaded": 121, "adapted": 1}),
        ("resnet50", {"extends": "resnet50", "output_stride": 16}, {"loaded": 320}),  # dilation changes no shape
    ],
)
def test_prediction_equals_load_weights(a: object, b: object, counts: dict[str, int]) -> None:
    predicted = predict(resnetdsl.plan_of(a), resnetdsl.plan_of(b))
    src = resnetdsl.build_model(a, seed=0)
    dst = resnetdsl.build_model(b, seed=1)
    actual = load_weights(dst, src.state_dict())
    assert actual.keys() == predicted.keys()
    assert {k: v for k, v in actual.counts().items() if v} == counts
    state = src.state_dict()
    for e in actual.loaded:
        assert e.source_key is not None
        torch.testing.assert_close(dst.state_dict()[e.key], state[e.source_key])


def test_report_names_every_kind_of_fate() -> None:
    report = predict(resnetdsl.plan_of("resnet50"), resnetdsl.plan_of(GRAY10))
    assert report.format().splitlines() == [
        "weights resnet50 → gray10: 317 loaded, 1 adapted, 2 reinitialised",
        "  adapted: conv1.weight 64×3×7×7 → 64×1×7×7: input channels 3 → 1, summed",
        "  reinitialised: fc.weight 1000×2048 → 10×2048: 1000 → 10 classes",
        "  reinitialised: fc.bias 1000 → 10: 1000 → 10 classes",
    ]
    mismatch = predict(resnetdsl.plan_of("resnet18"), resnetdsl.plan_of({"extends": "resnet18", "stem": {"width": 32}}))
    assert "conv1.weight 64×3×7×7 → 32×3×7×7" in mismatch.format()
    assert len(mismatch.mismatched) > 0


@pytest.mark.parametrize("channels", [1, 2, 4, 7])
def test_input_conv_adapted_as_timm(channels: int) -> None:
    w = torch.randn(8, 3, 7, 7)
    torch.testing.assert_close(adapt_input_conv(w, channels), timm_adapt(channels, w.clone()))
    if channels > 3:
        assert math.isclose(
            float(adapt_input_conv(w, channels)[0, 0, 0, 0]), float(w[0, 0, 0, 0]) * 3 / channels, rel_tol=1e-6
        )


def test_torchvision_checkpoint_into_a_grayscale_net(tmp_path: Path) -> None:
    tv = torchvision.models.resnet18()
    path = tmp_path / "r18.pth"
    torch.save(tv.state_dict(), path)
    model = resnetdsl.build_model("resnet18", num_classes=10, in_chans=1)
    fresh_fc = model.fc.weight.detach().clone()
    report = load_weights(model, path)
    assert report.keys()["adapted"] == ["conv1.weight"]
    assert report.keys()["reinitialised"] == ["fc.weight", "fc.bias"]
    torch.testing.assert_close(model.conv1.weight, tv.conv1.weight.sum(1, keepdim=True))
    torch.testing.assert_close(model.fc.weight, fresh_fc)
    torch.testing.assert_close(model.layer4[1].bn2.running_var, tv.layer4[1].bn2.running_var)
    with pytest.raises(WeightError) as exc:
        load_weights(resnetdsl.build_model("resnet18", num_classes=10), path, strict=True)
    assert exc.value.report.keys()["reinitialised"] == ["fc.weight", "fc.bias"]


def test_strict_loads_a_live_model_and_outputs_agree() -> None:
    tv = torchvision.models.resnet18().eval()
    model = resnetdsl.build_model("resnet18").eval()
    assert load_weights(model, tv, strict=True).ok
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(model(x), tv(x))


@pytest.mark.parity
def test_timm_resnetv2_into_the_resnet_layout() -> None:
    import timm

    t = timm.create_model("resnetv2_18", pretrained=False).eval()
    model = resnetdsl.build_model({"extends": "resnetv2_18", "layout": "resnet"}).eval()
    report = load_weights(model, t, strict=True)
    assert report.keys()["adapted"] == ["fc.weight"]
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(model(x), t(x))


def test_safetensors_and_wrapped_checkpoints(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    src = resnetdsl.build_model("cifar_resnet20", seed=3)
    st = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in src.state_dict().items()}, str(st))
    assert load_weights(resnetdsl.build_model("cifar_resnet20"), st, strict=True).ok
    wrapped = tmp_path / "ckpt.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in src.state_dict().items()}, "epoch": 3}, wrapped)
    model = resnetdsl.build_model("cifar_resnet20")
    assert load_weights(model, wrapped, strict=True).ok
    torch.testing.assert_close(model.fc.weight, src.fc.weight)
    with pytest.raises(FileNotFoundError, match="no checkpoint file"):
        load_weights(model, tmp_path / "nope.pt")


def test_cli_build_with_weights(tmp_path: Path) -> None:
    ckpt = tmp_path / "r18.pt"
    torch.save(torchvision.models.resnet18().state_dict(), ckpt)
    out = tmp_path / "out.pt"
    r = run_cli("build", "resnet18", "--set", "head.num_classes=10", "--weights", str(ckpt), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "weights r18.pt → resnet18: 120 loaded, 2 reinitialised" in r.stdout
    assert torch.load(out, weights_only=True)["fc.weight"].shape == (10, 512)
    r = run_cli("build", "resnet18", "--set", "head.num_classes=10", "--weights", str(ckpt), "--strict")
    assert r.returncode == 1 and "reinitialised: fc.weight" in r.stderr


def test_cli_diff() -> None:
    r = run_cli("diff", "resnet50", "resnet50", "--set", "input.channels=1", "--set", "head.num_classes=10")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "  input.channels: 3 → 1" in lines and "  head.num_classes: 1000 → 10" in lines
    total = next(line for line in lines if line.startswith("total"))
    assert total.split()[1:3] == ["25,557,032", "23,522,250"]
    assert "weights resnet50 → resnet50: 317 loaded, 1 adapted, 2 reinitialised" in lines
    j = run_cli("diff", "resnet18", "tutorial_resnet18", "--format", "json")
    import json

    data = json.loads(j.stdout)
    assert len(data["weights"]["missing"]) == 20
    assert {k["path"] for k in data["keys"]} == {"stem.conv_bias", "defaults.conv_bias", "defaults.shortcut_norm"}
