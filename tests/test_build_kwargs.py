"""build_model's timm-like keyword arguments: timm's meaning where we borrow timm's name, every conflict an error
naming both sides, and the methods timm users call on a model."""

from __future__ import annotations

import pytest
import timm
import torch

import resnetdsl


@pytest.fixture(scope="module")
def pair() -> tuple[torch.nn.Module, torch.nn.Module]:
    """timm's resnet18 without a classifier and ours, with timm's weights (strict load)."""
    theirs = timm.create_model("resnet18", pretrained=False, num_classes=0).eval()
    ours = resnetdsl.build_model("resnet18", num_classes=0).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return theirs, ours


def test_num_classes_zero_gives_the_pooled_features_as_timm(pair: tuple[torch.nn.Module, torch.nn.Module]) -> None:
    theirs, ours = pair
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))
    assert ours(x).shape == (2, 512)
    assert ours.num_classes == 0
    assert isinstance(ours.get_classifier(), torch.nn.Identity)


def test_forward_head_pre_logits_and_classifier_methods() -> None:
    theirs = timm.create_model("resnet18", pretrained=False, num_classes=10).eval()
    ours = resnetdsl.build_model("resnet18", num_classes=10).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        f = ours.forward_features(x)
        assert torch.equal(f, theirs.forward_features(x))
        assert torch.equal(ours.forward_head(f, pre_logits=True), theirs.forward_head(f, pre_logits=True))
        assert torch.equal(ours.forward_head(f), theirs.forward_head(f))
    assert ours.get_classifier() is ours.fc
    ours.reset_classifier(3)
    assert ours(x).shape == (1, 3) and ours.num_classes == 3
    ours.reset_classifier(0)
    assert ours(x).shape == (1, 512)


def test_resnetv2_classifier_is_its_1x1_conv() -> None:
    model = resnetdsl.build_model("resnetv2_50", device="meta")
    assert model.get_classifier() is model.head.fc
    model.reset_classifier(5)
    assert isinstance(model.head.fc, torch.nn.Conv2d) and model.head.fc.out_channels == 5
    assert model.forward_head(torch.empty(1, 2048, 2, 2, device="meta"), pre_logits=True).shape == (1, 2048)


def test_a_backbone_has_no_classifier_to_reset() -> None:
    model = resnetdsl.build_model({"extends": "resnet18", "head": "none"}, device="meta")
    assert isinstance(model.get_classifier(), torch.nn.Identity)
    with pytest.raises(ValueError, match=r"^the network has no head \(head: none\)"):
        model.reset_classifier(10)


@pytest.mark.parametrize(
    ("source", "kwargs", "message"),
    [
        (
            "resnet18",
            {"num_classes": 10, "features_only": True},
            "num_classes=10 and features_only=True conflict: a multi-scale backbone has no classifier; "
            "drop one of them",
        ),
        (
            "resnet18",
            {"num_classes": 10, "overrides": {"head.num_classes": 3}},
            "num_classes=10 and overrides['head.num_classes']=3 both set the head's classes; give one of them",
        ),
        (
            {"extends": "resnet18", "head": "none"},
            {"num_classes": 10},
            "num_classes=10 conflicts with the spec's head: none (a backbone without a classifier); drop num_classes, "
            "or give the spec a head",
        ),
        (
            "resnet18",
            {"num_classes": -1},
            "num_classes must be a whole number >= 0 (0: no classifier), got -1",
        ),
        (
            "resnet18",
            {"dtype": "float17"},
            "dtype must be a floating torch.dtype or one of 'float32', 'float64', 'float16', 'bfloat16', got 'float17'",
        ),
        (
            "resnet18",
            {"dtype": torch.int8},
            "dtype must be a floating torch.dtype or one of 'float32', 'float64', 'float16', 'bfloat16', "
            "got torch.int8",
        ),
    ],
    ids=["features_only", "overrides", "head-none", "negative", "dtype-name", "dtype-int"],
)
def test_conflicting_or_wrong_arguments_name_both_sides(
    source: object, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError) as exc:
        resnetdsl.build_model(source, device="meta", **kwargs)
    assert str(exc.value) == message


@pytest.mark.parametrize("dtype", ["float16", "torch.bfloat16", torch.float64])
def test_dtype_by_name_or_object(dtype: object) -> None:
    model = resnetdsl.build_model("resnet18", device="meta", dtype=dtype)  # type: ignore[arg-type]
    want = dtype if isinstance(dtype, torch.dtype) else getattr(torch, str(dtype).removeprefix("torch."))
    assert model.conv1.weight.dtype == want
