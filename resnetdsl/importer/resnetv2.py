"""timm's ``ResNetV2`` (pre-activation; ``layout: resnetv2``)."""

from __future__ import annotations

from typing import Any

from torch import nn

from resnetdsl.importer.modules import UnsupportedModel, _conv, _norm_act, _pool_kind, _zero
from resnetdsl.importer.resnet import _collect, _drop_path, _stage_entry


def resnetv2_data(model: nn.Module) -> dict[str, Any]:
    """The spec data of a timm ``ResNetV2``: stem, stages (one entry per block, then collected), final norm, head."""
    stem, first = _stem(model)
    entries = []
    all_blocks: list[dict[str, Any]] = []
    stages_mod: Any = model.stages
    for i, stage in enumerate(stages_mod):
        blocks = [_block(b, f"stages.{i}.blocks.{j}") for j, b in enumerate(stage.blocks)]
        entries.append(_stage_entry(blocks, f"stages.{i}"))
        all_blocks += blocks
    defaults, stages = _collect(entries)
    _norm_act(model.norm, "norm")
    data: dict[str, Any] = {
        "layout": "resnetv2",
        "input": {"channels": first.in_channels},
        "stem": stem,
        "defaults": defaults,
        "stages": stages,
        "head": _head(model),
    }
    _drop_path(data, all_blocks)
    if all(b["_zero"] for b in all_blocks):
        data["init"] = {"zero_init_residual": True}
    return data


def _stem(model: nn.Module) -> tuple[dict[str, Any], nn.Conv2d]:
    """The stem's settings, and its first conv (which tells the input's channels)."""
    stem_mod: Any = model.stem
    stem: dict[str, Any] = {}
    if isinstance(getattr(stem_mod, "conv", None), nn.Module):
        first = _conv(stem_mod.conv, "stem.conv")
        ksize, kstride = first.kernel_size[0], first.stride[0]
        stem["kind"] = {(7, 2): "conv7", (3, 1): "conv3"}.get((ksize, kstride))
        if stem["kind"] is None:
            raise UnsupportedModel("stem.conv", first, f"a {ksize}×{ksize}/{kstride} stem conv")
        stem["width"] = first.out_channels
    elif isinstance(getattr(stem_mod, "conv1", None), nn.Module):
        convs = [_conv(getattr(stem_mod, f"conv{i}"), f"stem.conv{i}") for i in (1, 2, 3)]
        for i in (1, 2):
            _norm_act(getattr(stem_mod, f"norm{i}"), f"stem.norm{i}")
        first = convs[0]
        stem.update(kind="deep", width=convs[2].out_channels, mid_widths=[convs[0].out_channels, convs[1].out_channels])
    else:
        raise UnsupportedModel("stem", stem_mod, "expected stem.conv or stem.conv1…conv3")
    stem["conv_bias"] = first.bias is not None
    pool: Any = getattr(stem_mod, "pool", None)
    if pool is None or isinstance(pool, nn.Identity):
        stem["pool"] = "none"
    elif type(pool) is nn.MaxPool2d and pool.kernel_size in (3, (3, 3)) and pool.stride in (2, (2, 2)):
        stem["pool"] = "max"
    else:
        raise UnsupportedModel("stem.pool", pool, "a 3×3/2 max pool or none is expected")
    return stem, first


def _block(b: Any, path: str) -> dict[str, Any]:
    """One pre-activation block's settings (``_``-keys: what the stage entry and the spec's init are told from)."""
    bottleneck = isinstance(getattr(b, "conv3", None), nn.Module)
    n = 3 if bottleneck else 2
    convs = [_conv(getattr(b, f"conv{k}"), f"{path}.conv{k}") for k in range(1, n + 1)]
    for k in range(1, n + 1):
        _norm_act(getattr(b, f"norm{k}"), f"{path}.norm{k}")
    s: dict[str, Any] = {"conv_bias": convs[0].bias is not None}
    out = convs[-1].out_channels
    if bottleneck:
        mid, groups = convs[1].out_channels, convs[1].groups
        width = out // 4
        wpg = mid * 64 // (groups * width)
        if int(width * wpg / 64) * groups != mid:
            raise UnsupportedModel(f"{path}.conv2", convs[1], f"inner width {mid}")
        s.update(
            block="preact_bottleneck",
            stride_on="1x1" if convs[0].stride[0] > 1 else "3x3",
            groups=groups,
            width_per_group=wpg,
            expansion=4,
        )
    else:
        width = convs[0].out_channels
        s.update(block="preact_basic", expansion=out // width)
    s.update(width=width, stride=max(c.stride[0] for c in convs))
    ds: Any = getattr(b, "downsample", None)
    if ds is None or isinstance(ds, nn.Identity):
        s["_use"] = "identity"
    else:
        _conv(ds.conv, f"{path}.downsample.conv")
        s["_use"] = "avgpool_projection" if isinstance(getattr(ds, "pool", None), nn.AvgPool2d) else "projection"
        norm = getattr(ds, "norm", None)
        s["shortcut_norm"] = norm is not None and not isinstance(norm, nn.Identity)
    s["_zero"] = _zero(convs[-1].weight)
    dp: Any = getattr(b, "drop_path", None)
    s["_drop_path"] = float(getattr(dp, "drop_prob", 0.0) or 0.0) if dp is not None else 0.0
    return s


def _head(model: nn.Module) -> dict[str, Any]:
    """The head: global pool, a 1×1 conv classifier, dropout."""
    head_mod: Any = model.head
    fc: Any = getattr(head_mod, "fc", None)
    if type(fc) is not nn.Conv2d or fc.kernel_size != (1, 1):
        raise UnsupportedModel("head.fc", fc, "layout resnetv2's classifier is a 1×1 conv")
    kind = _pool_kind(head_mod.global_pool, "head.global_pool")
    drop: Any = getattr(head_mod, "drop", None)
    head: dict[str, Any] = {"pool": kind, "num_classes": fc.out_channels, "bias": fc.bias is not None}
    if isinstance(drop, nn.Dropout) and drop.p:
        head["dropout"] = float(drop.p)
    return head
