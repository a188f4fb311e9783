"""Detector parts from a spec: a feature pyramid backbone with the anchors and RoI pooling that match it.

torchvision's Faster R-CNN defaults (five anchor sizes, RoI pooling over maps named ``'0'`` … ``'3'``) fit a
backbone with exactly four pyramid levels plus the extra max-pooled one. :func:`fasterrcnn_backbone` derives
all three from the backbone's own feature maps instead, so any ``out_indices`` works: one anchor size per
level (8 × the level's stride, which gives torchvision's 32 … 512 for strides 4 … 64), the RoI pooler over the
levels the backbone has. The backbone keeps the model as a child module (:class:`~resnetdsl.build_torch.FeatureDict`),
so ``train()`` still keeps frozen stages and, with ``norm_eval``, batch norms in eval mode — torchvision's
``BackboneWithFPN`` copies the children and loses that.

Needs torchvision (``pip install torchvision``); importing :mod:`resnetdsl` does not import this module.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

ANCHOR_SCALE = 8
"""Anchor size per pixel of stride: torchvision's defaults (32, 64, 128, 256, 512 at strides 4 … 64)."""
ASPECT_RATIOS = (0.5, 1.0, 2.0)


def _torchvision() -> Any:
    try:
        import torchvision.models.detection
        import torchvision.ops
    except ImportError as exc:  # pragma: no cover - the test environment has torchvision
        raise ImportError("resnetdsl.detection needs torchvision: pip install torchvision") from exc
    return torchvision


class ResNetFPN(nn.Module):
    """A multi-scale resnetdsl model followed by torchvision's ``FeaturePyramidNetwork``.

    ``forward`` returns an ordered dict of ``out_channels``-wide maps named ``'0'``, ``'1'``, … (finest first),
    and ``'pool'`` when the extra max-pooled level is on: what torchvision's detection models expect of a
    backbone. ``strides`` holds each level's stride (input pixels per position).
    """

    def __init__(self, body: nn.Module, fpn: nn.Module, out_channels: int, strides: Sequence[int]) -> None:
        super().__init__()
        self.body = body
        self.fpn = fpn
        self.out_channels = out_channels
        self.strides = tuple(strides)

    def forward(self, x: Tensor) -> OrderedDict[str, Tensor]:
        out: OrderedDict[str, Tensor] = self.fpn(self.body(x))
        return out


@dataclass(frozen=True)
class DetectorParts:
    """What a torchvision detector takes besides its heads, consistent with each other."""

    backbone: ResNetFPN
    anchor_generator: nn.Module
    """``AnchorGenerator`` with one size per pyramid level (``rpn_anchor_generator=`` of ``FasterRCNN``)."""
    box_roi_pool: nn.Module
    """``MultiScaleRoIAlign`` over the backbone's levels (``box_roi_pool=``)."""
    featmap_names: tuple[str, ...]
    """The levels RoI pooling reads (every level but ``'pool'``)."""


def fasterrcnn_backbone(
    source: Any,
    *,
    out_indices: Sequence[int] | None = None,
    out_channels: int = 256,
    extra_pool: bool = True,
    seed: int | None = None,
    overrides: Any = None,
) -> DetectorParts:
    """A feature pyramid backbone built from a spec, with an anchor generator and RoI pooler that match it.

    Args:
        source: any spec form :func:`resnetdsl.build_model` takes.
        out_indices: which maps feed the pyramid (0 the stem's, i stage i's); default the spec's
            ``features.out_indices``, else the stages' (1 … N).
        out_channels: width of every pyramid level.
        extra_pool: add the max-pooled level after the coarsest one (torchvision's ``LastLevelMaxPool``).
        seed: weight seed of the body (see :func:`resnetdsl.build_model`).
        overrides: key-path overrides of the spec (``{"frozen_stages": 1}``).

    Raises:
        SpecError: the spec is invalid.
        ValueError: ``out_indices`` names no map, or ``out_channels`` < 1.
    """
    from resnetdsl import build_model
    from resnetdsl.build_torch import FeatureDict

    tv = _torchvision()
    if out_channels < 1:
        raise ValueError(f"out_channels must be >= 1, got {out_channels}")
    if out_indices is None:
        from resnetdsl import plan_of

        plan = plan_of(source, overrides=overrides)
        out_indices = plan.out_indices or tuple(range(1, len(plan.stages) + 1))
    model = build_model(source, seed=seed, overrides=overrides, features_only=True, out_indices=tuple(out_indices))
    info = model.feature_info
    names = [str(i) for i in range(len(info))]
    body = FeatureDict(model, names)
    extra = tv.ops.feature_pyramid_network.LastLevelMaxPool() if extra_pool else None
    fpn = tv.ops.FeaturePyramidNetwork(info.channels(), out_channels, extra_blocks=extra)
    strides = list(info.reduction())
    if extra_pool:
        strides.append(strides[-1] * 2)
    sizes = tuple((ANCHOR_SCALE * s,) for s in strides)
    anchors = tv.models.detection.anchor_utils.AnchorGenerator(sizes, (ASPECT_RATIOS,) * len(sizes))
    pool = tv.ops.MultiScaleRoIAlign(featmap_names=names, output_size=7, sampling_ratio=2)
    return DetectorParts(ResNetFPN(body, fpn, out_channels, strides), anchors, pool, tuple(names))


def fasterrcnn(source: Any, num_classes: int, *, out_indices: Sequence[int] | None = None, **kwargs: Any) -> nn.Module:
    """torchvision's ``FasterRCNN`` on a resnetdsl backbone (see :func:`fasterrcnn_backbone`); ``kwargs`` go
    to ``FasterRCNN`` (``min_size``, ``max_size``, …), except ``out_channels``, ``extra_pool``, ``seed`` and
    ``overrides``, which go to the backbone."""
    tv = _torchvision()
    keys = ("out_channels", "extra_pool", "seed", "overrides")
    parts = fasterrcnn_backbone(source, out_indices=out_indices, **{k: kwargs.pop(k) for k in keys if k in kwargs})
    detector: nn.Module = tv.models.detection.FasterRCNN(
        parts.backbone,
        num_classes=num_classes,
        rpn_anchor_generator=parts.anchor_generator,
        box_roi_pool=parts.box_roi_pool,
        **kwargs,
    )
    return detector
