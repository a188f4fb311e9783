"""resnetdsl.detection: a Faster R-CNN on any out_indices (torchvision's defaults fit exactly four levels)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from resnetdsl.detection import fasterrcnn, fasterrcnn_backbone  # noqa: E402

SPEC = {"extends": "resnet18", "name": "r18-det", "frozen_stages": 1, "norm_eval": True}
SMALL = {
    "min_size": 96,
    "max_size": 96,
    "rpn_pre_nms_top_n_train": 32,
    "rpn_post_nms_top_n_train": 16,
    "rpn_pre_nms_top_n_test": 32,
    "rpn_post_nms_top_n_test": 16,
    "rpn_batch_size_per_image": 16,
    "box_batch_size_per_image": 8,
}


@pytest.mark.parametrize(
    ("out_indices", "strides"),
    [((1, 2, 3, 4), (4, 8, 16, 32, 64)), ((2, 3, 4), (8, 16, 32, 64)), ((3, 4), (16, 32, 64))],
)
def test_parts_match_the_backbone(out_indices: tuple[int, ...], strides: tuple[int, ...]) -> None:
    parts = fasterrcnn_backbone(SPEC, out_indices=out_indices, out_channels=32, seed=0)
    assert parts.backbone.strides == strides
    assert parts.featmap_names == tuple(str(i) for i in range(len(out_indices)))
    assert parts.anchor_generator.sizes == tuple((8 * s,) for s in strides)
    maps = parts.backbone(torch.zeros(1, 3, 128, 128))
    assert list(maps) == [*parts.featmap_names, "pool"]
    assert [m.shape[1] for m in maps.values()] == [32] * len(strides)
    assert [128 // m.shape[-1] for m in maps.values()] == list(strides)


@pytest.mark.slow
@pytest.mark.parametrize("out_indices", [(1, 2, 3, 4), (2, 3, 4), (3, 4)])
def test_faster_rcnn_trains_and_detects(out_indices: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    detector = fasterrcnn(SPEC, num_classes=3, out_indices=out_indices, out_channels=32, seed=0, **SMALL)
    images = torch.rand(2, 3, 96, 96)
    targets = [
        {"boxes": torch.tensor([[10.0, 20.0, 60.0, 80.0]]), "labels": torch.tensor([1])},
        {"boxes": torch.tensor([[30.0, 30.0, 90.0, 90.0]]), "labels": torch.tensor([2])},
    ]
    detector.train()
    body = detector.backbone.body.body
    # frozen stages and (norm_eval) every batch norm stay in eval mode: the model is a child, not copied
    assert not body.conv1.training and not body.layer1.training
    assert not any(m.training for m in body.modules() if isinstance(m, torch.nn.BatchNorm2d))
    losses = detector(images, targets)
    sum(losses.values()).backward()
    assert body.conv1.weight.grad is None and body.layer1[0].conv1.weight.grad is None
    assert body.layer4[0].conv1.weight.grad is not None
    detector.eval()
    with torch.no_grad():
        out = detector(images)
    assert len(out) == 2 and all(d["boxes"].shape[-1] == 4 for d in out)


def test_torchvision_defaults_fail_where_the_helper_does_not() -> None:
    """The reason for the helper: three levels + pool against torchvision's five default anchor sizes."""
    from torchvision.models.detection import FasterRCNN

    import resnetdsl
    from resnetdsl.build_torch import FeatureDict

    body = FeatureDict(resnetdsl.build_model(SPEC, features_only=True, out_indices=(2, 3, 4), seed=0))
    from torchvision.ops import FeaturePyramidNetwork
    from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

    class Plain(torch.nn.Module):
        out_channels = 32

        def __init__(self) -> None:
            super().__init__()
            self.body = body
            self.fpn = FeaturePyramidNetwork(body.out_channels, 32, extra_blocks=LastLevelMaxPool())

        def forward(self, x):  # type: ignore[no-untyped-def]
            return self.fpn(self.body(x))

    plain = FasterRCNN(Plain(), num_classes=3, **SMALL).eval()
    with pytest.raises((AssertionError, ValueError, KeyError)), torch.no_grad():
        plain(torch.rand(1, 3, 96, 96))
    helped = fasterrcnn(SPEC, num_classes=3, out_indices=(2, 3, 4), out_channels=32, seed=0, **SMALL).eval()
    with torch.no_grad():
        assert len(helped(torch.rand(1, 3, 96, 96))) == 1


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="out_channels must be >= 1"):
        fasterrcnn_backbone("resnet18", out_channels=0)
