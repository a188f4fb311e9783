"""Reading Res2Net blocks (issue 18; timm's ``Bottle2neck``) from their structure: a 1×1 ``conv1`` to ``scale``
splits of the inner width, ``scale − 1`` 3×3 ``convs`` with their norms ``bns``, an average ``pool`` on the last
split where the block starts its stage, then ``conv3``, ``bn3``."""

from __future__ import annotations

from typing import Any

from torch import nn

from resnetdsl.importer.modules import UnsupportedModel, _act, _conv, _norm


def is_res2net(b: Any) -> bool:
    """A Res2Net block: ``conv1``, ``conv3`` and lists of 3×3 ``convs`` and of ``bns`` of one length."""
    convs, bns = getattr(b, "convs", None), getattr(b, "bns", None)
    if not isinstance(convs, nn.ModuleList) or not isinstance(bns, nn.ModuleList) or len(convs) != len(bns):
        return False
    parts = (getattr(b, "conv1", None), getattr(b, "conv3", None), *convs)
    return len(convs) > 0 and all(type(c) is nn.Conv2d for c in parts) and convs[0].kernel_size == (3, 3)


def _inner(b: Any, path: str) -> tuple[int, int, int]:
    """Split width, groups and scale; every split conv alike (width → width, one stride and dilation)."""
    first = _conv(b.convs[0], f"{path}.convs.0")
    w, g = first.out_channels, first.groups
    for i, conv in enumerate(b.convs):
        c = _conv(conv, f"{path}.convs.{i}")
        same = (c.in_channels, c.out_channels, c.groups, c.stride, c.dilation, c.padding, c.bias is None)
        if same != (w, w, g, first.stride, first.dilation, first.dilation, first.bias is None):
            raise UnsupportedModel(f"{path}.convs.{i}", c, "the split convs differ (width, groups, stride, dilation)")
    scale = len(b.convs) + 1
    if b.conv1.out_channels != w * scale or b.conv3.in_channels != w * scale:
        raise UnsupportedModel(f"{path}.conv1", b.conv1, f"expected {scale} splits of {w} channels")
    return w, g, scale


def _pool(b: Any, path: str, stride: int, first: bool) -> None:
    """The last split's pool: a 3×3/s average pool of padding 1 exactly where the block starts its stage."""
    pool: Any = getattr(b, "pool", None)
    if pool is None and not first:
        return
    if pool is None or not first:
        raise UnsupportedModel(f"{path}.pool", pool or b, "the pool on the last split must follow timm's is_first")
    k, s, p = pool.kernel_size, pool.stride, pool.padding
    want = (3, stride, 1, False, True)
    if type(pool) is not nn.AvgPool2d or (k, s, p, pool.ceil_mode, pool.count_include_pad) != want:
        raise UnsupportedModel(f"{path}.pool", pool, f"a 3×3/{stride} average pool of padding 1 is expected")


def res2net_block(model: nn.Module, path: str) -> dict[str, Any] | None:
    """A Res2Net block's settings (as :func:`resnetdsl.importer.resnet._settings` gives them), or ``None`` when
    the block at ``path`` is no Res2Net block."""
    from resnetdsl.importer.resnet import block_tail

    b: Any = model.get_submodule(path)
    if not is_res2net(b):
        return None
    w, groups, scale = _inner(b, path)
    conv1, conv3 = _conv(b.conv1, f"{path}.conv1"), _conv(b.conv3, f"{path}.conv3")
    s: dict[str, Any] = {"conv_bias": conv1.bias is not None, **_norm(b.bn1, f"{path}.bn1")}
    for i, bn in enumerate(b.bns):
        if _norm(bn, f"{path}.bns.{i}") != {k: v for k, v in s.items() if k != "conv_bias"}:
            raise UnsupportedModel(f"{path}.bns.{i}", bn, "the split norms differ from bn1")
    act_name = "relu" if hasattr(b, "relu") else "act1"
    s.update(_act(getattr(b, act_name), f"{path}.{act_name}"))
    out = conv3.out_channels
    expansion = int(getattr(b, "expansion", 4) or 4)
    width = out // expansion
    per_group = w // groups
    wpg = -(-per_group * 64 // width) if width else 0  # the least width_per_group giving int(width × wpg / 64)
    if out % expansion or wpg < 1 or int(width * wpg / 64) * groups != w:
        raise UnsupportedModel(f"{path}.convs.0", b.convs[0], f"split width {w} is not int(width × w / 64) × groups")
    stride = b.convs[0].stride[0]
    s.update(block="res2net", groups=groups, width_per_group=wpg, scale=scale, expansion=expansion, width=width)
    s.update(stride=stride, _dilation=b.convs[0].dilation[0])
    s = block_tail(b, path, s, out, b.bn3)
    downsample = getattr(b, "downsample", None)
    _pool(b, path, stride, stride > 1 or (downsample is not None and not isinstance(downsample, nn.Identity)))
    return s
