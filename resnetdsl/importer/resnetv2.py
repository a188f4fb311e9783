"""timm's ``ResNetV2`` (pre-activation; ``layout: resnetv2``): plain and BiT convs (``StdConv2d``), its norm-act
modules (``BatchNormAct2d``, ``GroupNormAct``, ``EvoNorm2dS0``, ``FilterResponseNormTlu2d``), the plain and BiT
('fixed') stems."""

from __future__ import annotations

from typing import Any

from torch import nn

from resnetdsl.importer.modules import UnsupportedModel, _norm_act, _pool_kind, _zero
from resnetdsl.importer.resnet import _collect, _drop_path, _stage_entry
from resnetdsl.vocab import DEFAULT_NORM_GROUPS


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
    final = _v2_norm(model.norm, "norm")
    last = {**defaults, **stages[-1]}
    if any(last.get(k) != v for k, v in final.items()):
        raise UnsupportedModel("norm", model.norm, "the final norm differs from the last stage's norms")
    for key in ("norm", "norm_groups", "conv", "std_eps"):  # the stem's own, where they differ from the blocks'
        if key in stem and stem[key] == defaults.get(key):
            del stem[key]
    for part in (stem, defaults, *stages):
        if part.get("conv") == "plain":  # the default: not written
            del part["conv"]
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
        first = _conv(stem_mod.conv, "stem.conv", stem)
        ksize, kstride = first.kernel_size[0], first.stride[0]
        stem["kind"] = {(7, 2): "conv7", (3, 1): "conv3"}.get((ksize, kstride))
        if stem["kind"] is None:
            raise UnsupportedModel("stem.conv", first, f"a {ksize}×{ksize}/{kstride} stem conv")
        stem["width"] = first.out_channels
    elif isinstance(getattr(stem_mod, "conv1", None), nn.Module):
        convs = [_conv(getattr(stem_mod, f"conv{i}"), f"stem.conv{i}", stem) for i in (1, 2, 3)]
        norms = [_v2_norm(getattr(stem_mod, f"norm{i}"), f"stem.norm{i}") for i in (1, 2)]
        if norms[0] != norms[1]:
            raise UnsupportedModel("stem.norm2", stem_mod.norm2, "the stem's two norms differ")
        stem.update(norms[0])
        first = convs[0]
        stem.update(kind="deep", width=convs[2].out_channels, mid_widths=[convs[0].out_channels, convs[1].out_channels])
    else:
        raise UnsupportedModel("stem", stem_mod, "expected stem.conv or stem.conv1…conv3")
    stem["conv_bias"] = first.bias is not None
    stem["pool"] = _stem_pool(stem_mod)
    return stem, first


def _stem_pool(stem_mod: Any) -> str:
    """``none``, ``max`` (a 3×3/2 max pool padded by 1) or BiT's ``max_fixed`` (``stem.pad``: a zero pad of 1,
    then the max pool unpadded)."""
    pool: Any = getattr(stem_mod, "pool", None)
    pad: Any = getattr(stem_mod, "pad", None)
    if pool is None or isinstance(pool, nn.Identity):
        return "none"
    geometry = type(pool) is nn.MaxPool2d and pool.kernel_size in (3, (3, 3)) and pool.stride in (2, (2, 2))
    if geometry and not pool.ceil_mode and pool.dilation in (1, (1, 1)):
        padding = pool.padding if isinstance(pool.padding, int) else pool.padding[0]
        if pad is None and padding == 1:
            return "max"
        if type(pad) is nn.ConstantPad2d and pad.padding == (1, 1, 1, 1) and pad.value == 0 and padding == 0:
            return "max_fixed"
    if pad is not None:
        raise UnsupportedModel("stem.pad", pad, "a zero pad of 1 before an unpadded 3×3/2 max pool is expected")
    raise UnsupportedModel("stem.pool", pool, "a 3×3/2 max pool or none is expected")


def _conv(m: Any, path: str, into: dict[str, Any]) -> nn.Conv2d:
    """A plain or weight-standardised conv (timm's ``StdConv2d``: a Conv2d whose forward standardises its
    weight with ``eps``), padded dilation × (kernel // 2) with zeros; ``conv`` and ``std_eps`` go ``into`` the
    settings (every conv of a block or of the stem must agree)."""
    from resnetdsl.importer.modules import _conv as plain_conv

    std = type(m).__name__ == "StdConv2d" and isinstance(m, nn.Conv2d) and isinstance(getattr(m, "eps", None), float)
    if not std:
        plain_conv(m, path)
        found: dict[str, Any] = {"conv": "plain"}
    else:
        k, d = m.kernel_size, m.dilation
        if k[0] != k[1] or m.stride[0] != m.stride[1] or d[0] != d[1] or k[0] % 2 == 0:
            raise UnsupportedModel(path, m, f"kernel {k}, stride {m.stride}, dilation {d}: square and odd expected")
        if m.padding != (d[0] * (k[0] // 2),) * 2 or m.padding_mode != "zeros":
            raise UnsupportedModel(path, m, f"padding {m.padding}; the spec pads dilation × (kernel // 2) with zeros")
        found = {"conv": "std", "std_eps": float(m.eps)}
    for key in ("conv", "std_eps"):
        if key in into and into[key] != found.get(key):
            raise UnsupportedModel(path, m, f"{key} {found.get(key)} where the other convs have {into[key]}")
    into.update(found)
    return m  # type: ignore[no-any-return]


_EXACT = {"EvoNorm2dS0": ("weight", "bias", "v"), "FilterResponseNormTlu2d": ("weight", "bias", "tau")}
"""timm's norms with their nonlinearity built in, by exact class (subclasses such as EvoNorm2dS0a compute other
functions), and the parameters each holds when its nonlinearity is on."""


def _v2_norm(m: Any, path: str) -> dict[str, Any]:
    """The settings of one of timm's norm-act modules: BatchNormAct2d, GroupNormAct (ReLU after), EvoNorm2dS0,
    FilterResponseNormTlu2d (their own nonlinearity)."""
    if isinstance(m, nn.BatchNorm2d):
        _norm_act(m, path)
        return {"norm": "batch"}
    if isinstance(m, nn.GroupNorm):
        if m.eps != 1e-5 or not m.affine:
            raise UnsupportedModel(path, m, "a group norm with eps 1e-5 and affine is expected")
        if type(getattr(m, "act", None)) is not nn.ReLU:
            raise UnsupportedModel(f"{path}.act", getattr(m, "act", None), "layout resnetv2's group norm is + ReLU")
        drop = getattr(m, "drop", None)
        if drop is not None and not isinstance(drop, nn.Identity):
            raise UnsupportedModel(f"{path}.drop", drop, "a dropout inside the norm has no spec")
        return _groups({"norm": "group"}, m.num_groups)
    names = _EXACT.get(type(m).__name__)
    params = tuple(n for n, _ in m.named_parameters(recurse=False))
    if names is None or params != names or getattr(m, "eps", None) != 1e-5 or list(m.children()):
        raise UnsupportedModel(
            path, m, "not a norm-act module layout resnetv2 has (BatchNormAct2d, GroupNormAct, EvoNorm2dS0, FRN-TLU)"
        )
    if type(m).__name__ == "FilterResponseNormTlu2d":
        if getattr(m, "rms", True) is not True:
            raise UnsupportedModel(path, m, "filter response norm by the mean square (rms=True) is expected")
        return {"norm": "frn"}
    return _groups({"norm": "evonorm_s0"}, int(m.groups))


def _groups(out: dict[str, Any], groups: int) -> dict[str, Any]:
    return out if groups == DEFAULT_NORM_GROUPS else {**out, "norm_groups": groups}


def _block(b: Any, path: str) -> dict[str, Any]:
    """One pre-activation block's settings (``_``-keys: what the stage entry and the spec's init are told from)."""
    bottleneck = isinstance(getattr(b, "conv3", None), nn.Module)
    n = 3 if bottleneck else 2
    s: dict[str, Any] = {}
    convs = [_conv(getattr(b, f"conv{k}"), f"{path}.conv{k}", s) for k in range(1, n + 1)]
    norms = [_v2_norm(getattr(b, f"norm{k}"), f"{path}.norm{k}") for k in range(1, n + 1)]
    if any(nm != norms[0] for nm in norms):
        raise UnsupportedModel(f"{path}.norm2", b.norm2, "the norms of one block differ")
    s.update(norms[0])
    s["conv_bias"] = convs[0].bias is not None
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
        _conv(ds.conv, f"{path}.downsample.conv", s)
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
