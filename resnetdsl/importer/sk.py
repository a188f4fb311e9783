"""Reading timm's selective kernel blocks (issue 18, SK family): ``SelectiveKernelBasic`` and
``SelectiveKernelBottleneck`` in a timm ``ResNet``, recognised from their structure.

A selective kernel conv is a module with ``paths`` (conv + norm + act modules: ``conv``, ``bn``) and an ``attn``
holding the 1×1 convs ``fc_reduce`` and ``fc_select``; a conv + norm module has the children ``conv`` and ``bn``.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from resnetdsl import blocks as B
from resnetdsl.importer.modules import _ACTS, UnsupportedModel, _act, _conv, _is_frozen_bn

_RD_CANDIDATES = ((1 / 16, 8), (1 / 8, 16), (1 / 16, 32), (1 / 8, 8), (1 / 4, 8), (1 / 16, 16), (1 / 8, 32))
"""(rd_ratio, rd_divisor) pairs tried for the attention width, timm's defaults first."""


def is_selective_kernel(m: Any) -> bool:
    attn = getattr(m, "attn", None)
    return (
        isinstance(getattr(m, "paths", None), nn.ModuleList)
        and type(getattr(attn, "fc_reduce", None)) is nn.Conv2d
        and type(getattr(attn, "fc_select", None)) is nn.Conv2d
    )


def is_conv_norm_act(m: Any) -> bool:
    return type(getattr(m, "conv", None)) is nn.Conv2d and isinstance(getattr(m, "bn", None), nn.Module)


def _norm_act(m: Any, path: str) -> tuple[dict[str, Any], bool]:
    """The norm settings of a conv + norm module's ``bn`` (timm's norm + act layers), and whether it applies an
    activation (its ``act`` child), checked to be one the spec has."""
    bn: Any = m.bn
    if isinstance(bn, nn.Identity):
        out: dict[str, Any] = {"norm": "none"}
    elif isinstance(bn, nn.BatchNorm2d) and bn.affine and bn.track_running_stats and bn.eps == 1e-5:
        out = {"norm": "batch"}
    elif isinstance(bn, nn.GroupNorm) and bn.affine and bn.eps == 1e-5:
        out = {"norm": "group", "norm_groups": bn.num_groups}
    elif _is_frozen_bn(bn) and getattr(bn, "eps", 1e-5) == 1e-5:
        out = {"norm": "frozen_batch"}
    else:
        raise UnsupportedModel(f"{path}.bn", bn, "not a norm the spec language has (batch, group, frozen batch)")
    drop = getattr(bn, "drop", None)
    if drop is not None and not isinstance(drop, nn.Identity):
        raise UnsupportedModel(f"{path}.bn.drop", drop, "a dropout inside the norm has no spec")
    act: Any = getattr(bn, "act", None)
    if act is None or isinstance(act, nn.Identity):
        return out, False
    return {**out, **_act(act, f"{path}.bn.act")}, True


def _rd(model: nn.Module, out: int, attn: int) -> tuple[float, int]:
    """The (rd_ratio, rd_divisor) pair that gives every selective kernel of the model its attention width (one
    pair for the whole model, so the spec says it once), else one for this conv alone."""
    sks: list[Any] = [m for m in model.modules() if is_selective_kernel(m)]
    reduces = [m.attn.fc_reduce for m in sks]
    pairs: set[tuple[int, int]] = {(fc.in_channels, fc.out_channels) for fc in reduces}
    for ratio, divisor in _RD_CANDIDATES:
        if all(B.make_divisible(c * ratio, divisor) == r for c, r in pairs):
            return ratio, divisor
    for ratio, divisor in _RD_CANDIDATES:
        if B.make_divisible(out * ratio, divisor) == attn:
            return ratio, divisor
    return attn / out, 1


def _selective_kernel(model: nn.Module, m: Any, path: str, cin: int) -> tuple[dict[str, Any], nn.Conv2d, int]:
    """The SK settings of a selective kernel conv reading ``cin`` channels: settings, its first branch conv, and
    the dilation of the block it sits in."""
    paths = list(m.paths)
    if len(paths) < 2 or not all(is_conv_norm_act(p) for p in paths):
        raise UnsupportedModel(f"{path}.paths", m.paths, "a selective kernel has two or more conv + norm branches")
    convs = [_conv(p.conv, f"{path}.paths.{i}.conv") for i, p in enumerate(paths)]
    first = convs[0]
    s, acts = _norm_act(paths[0], f"{path}.paths.0")
    if not acts:
        raise UnsupportedModel(f"{path}.paths.0.bn", paths[0].bn, "a selective kernel's branches end with an act")
    kernels = [c.kernel_size[0] for c in convs]
    dilations = [c.dilation[0] for c in convs]
    base = dilations[0]
    if all(k == 3 for k in kernels) and all(d % base == 0 for d in dilations):
        s["sk_kernels"] = [2 * d // base + 1 for d in dilations]
        s["sk_keep_3x3"] = True
    elif len(set(dilations)) == 1:
        s["sk_kernels"], s["sk_keep_3x3"] = kernels, False
    else:
        raise UnsupportedModel(f"{path}.paths", m.paths, f"kernels {kernels} at dilations {dilations}")
    n = len(paths)
    if first.in_channels * n == cin and n > 1 and first.in_channels != cin:
        s["sk_split_input"] = True
    elif first.in_channels == cin:
        s["sk_split_input"] = False
    else:
        raise UnsupportedModel(f"{path}.paths.0.conv", first, f"reads {first.in_channels} of {cin} channels")
    attn: Any = m.attn
    if type(attn.bn) is not nn.BatchNorm2d or type(getattr(attn, "act", None)) not in _ACTS:
        raise UnsupportedModel(f"{path}.attn", attn, "the attention is fc_reduce → batch norm → ReLU → fc_select")
    ratio, divisor = _rd(model, first.out_channels, attn.fc_reduce.out_channels)
    s.update(sk_rd_ratio=ratio, sk_rd_divisor=divisor, conv_bias=first.bias is not None)
    return s, first, base


def sk_block(model: nn.Module, path: str) -> dict[str, Any] | None:
    """A selective kernel block's settings (as :func:`resnetdsl.importer.resnet._settings` gives them), or
    ``None`` when the block at ``path`` has none."""
    from resnetdsl.importer.resnet import block_tail

    b: Any = model.get_submodule(path)
    if is_selective_kernel(getattr(b, "conv1", None)) and is_conv_norm_act(getattr(b, "conv2", None)):
        cin = int(getattr(b.conv1, "in_channels", 0)) or b.conv1.paths[0].conv.in_channels  # timm records it
        s, first, base = _selective_kernel(model, b.conv1, f"{path}.conv1", cin)
        conv2 = _conv(b.conv2.conv, f"{path}.conv2.conv")
        width, out = first.out_channels, conv2.out_channels
        if out % width:
            raise UnsupportedModel(f"{path}.conv2", b.conv2, f"{out} output channels are no multiple of {width}")
        s.update(block="sk_basic", expansion=out // width, width=width, stride=first.stride[0])
        s["_dilation"] = max(conv2.dilation[0], base)
        return block_tail(b, path, s, out, b.conv2.bn)
    if is_selective_kernel(getattr(b, "conv2", None)) and is_conv_norm_act(getattr(b, "conv1", None)):
        conv1 = _conv(b.conv1.conv, f"{path}.conv1.conv")
        s, first, base = _selective_kernel(model, b.conv2, f"{path}.conv2", conv1.out_channels)
        conv3 = _conv(b.conv3.conv, f"{path}.conv3.conv")
        mid, groups, out = first.out_channels, first.groups, conv3.out_channels
        expansion = int(getattr(b, "expansion", 4) or 4)
        expansion = expansion if out % expansion == 0 else 1
        width = out // expansion
        wpg = mid * 64 // (groups * width) if width else 0
        if wpg < 1 or int(width * wpg / 64) * groups != mid:
            raise UnsupportedModel(f"{path}.conv2", b.conv2, f"inner width {mid} is not int(width × w / 64) × groups")
        s.update(block="sk_bottleneck", groups=groups, width_per_group=wpg, expansion=expansion, width=width)
        s.update(stride=first.stride[0], _dilation=base)
        return block_tail(b, path, s, out, b.conv3.bn)
    return None


def check_conv_norm_act(op: Any, m: Any, path: str) -> None:
    """A conv + norm + act op against the model's module: its conv's settings, a norm where the spec has one."""
    from resnetdsl.importer.verify import _conv as check_conv

    if not is_conv_norm_act(m) and not (type(getattr(m, "conv", None)) is nn.Conv2d and op.norm is None):
        raise UnsupportedModel(path, m, "expected a conv + norm module (children conv, bn)")
    check_conv(op.conv, m.conv, f"{path}.conv")
    if (op.norm is None) != isinstance(getattr(m, "bn", nn.Identity()), nn.Identity):
        raise UnsupportedModel(f"{path}.bn", getattr(m, "bn", None), "the spec's norm and the model's differ")


def check_selective_kernel(op: Any, m: Any, path: str) -> None:
    """A selective kernel op against the model's module: every branch, and the attention's width."""
    if not is_selective_kernel(m) or len(m.paths) != len(op.paths):
        raise UnsupportedModel(path, m, f"expected a selective kernel of {len(op.paths)} branches")
    for i, branch in enumerate(op.paths):
        check_conv_norm_act(branch, m.paths[i], f"{path}.paths.{i}")
    if m.attn.fc_reduce.out_channels != op.attn_channels:
        raise UnsupportedModel(f"{path}.attn.fc_reduce", m.attn.fc_reduce, f"the spec's width is {op.attn_channels}")
