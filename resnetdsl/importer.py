"""The other direction: the spec of a torchvision or timm ResNet instance (``resnetdsl import``).

Structure is read from the modules themselves (types, shapes, strides, groups, paddings), never from the class
name alone, so the usual surgery is understood: a new ``fc``, a 1-channel ``conv1``, ``maxpool = nn.Identity()``,
zero-initialised residual norms. The spec is then lowered and checked against the model: every conv, norm and
pool at the same path with the same settings, every parameter and buffer of the same shape, and every other
module one that computes nothing the spec leaves out (an activation, an identity, a dropout). Anything else is an
:class:`UnsupportedModel` error naming the module's path and type.

Dilated stages (torchvision's ``replace_stride_with_dilation``) become ``stages[i].dilation``.
"""

from __future__ import annotations

import argparse
from typing import Any

from torch import nn

from resnetdsl import blocks as B
from resnetdsl import plan as P
from resnetdsl.spec import Spec


class UnsupportedModel(ValueError):
    """A module of the model has no counterpart in the spec language."""

    def __init__(self, path: str, module: Any, why: str) -> None:
        where = path or "<model>"
        super().__init__(f"{where} ({type(module).__name__}): {why}")
        self.path = path
        self.module_type = type(module).__name__


_ACTS: dict[type, str] = {
    nn.ReLU: "relu",
    nn.LeakyReLU: "leaky_relu",
    nn.SiLU: "silu",
    nn.GELU: "gelu",
    nn.Mish: "mish",
    nn.Hardswish: "hardswish",
}


def _sub(model: nn.Module, path: str) -> nn.Module | None:
    try:
        return model.get_submodule(path)
    except AttributeError:
        return None


def _conv(m: Any, path: str) -> nn.Conv2d:
    if type(m) is not nn.Conv2d:
        raise UnsupportedModel(path, m, "expected a plain torch.nn.Conv2d")
    k = m.kernel_size
    if k[0] != k[1] or m.stride[0] != m.stride[1]:
        raise UnsupportedModel(path, m, f"non-square kernel {k} or stride {m.stride}")
    d = m.dilation
    if d[0] != d[1]:
        raise UnsupportedModel(path, m, f"non-square dilation {d}")
    if m.padding != (d[0] * (k[0] // 2),) * 2 or m.padding_mode != "zeros":
        raise UnsupportedModel(
            path, m, f"padding {m.padding} ({m.padding_mode}); the spec pads dilation × (kernel // 2) with zeros"
        )
    return m


def _is_frozen_bn(m: nn.Module) -> bool:
    names = {n for n, _ in m.named_buffers(recurse=False)}
    return not list(m.parameters(recurse=False)) and {"weight", "bias", "running_mean", "running_var"} <= names


def _norm(m: Any, path: str) -> dict[str, Any]:
    """Norm settings of a post-activation norm module."""
    if isinstance(m, nn.Identity):
        return {"norm": "none"}
    if type(m) is nn.BatchNorm2d:
        if m.eps != 1e-5 or not m.affine or not m.track_running_stats:
            raise UnsupportedModel(path, m, "a batch norm with eps 1e-5, affine and running statistics is expected")
        return {"norm": "batch"}
    if isinstance(m, nn.GroupNorm):  # timm's GroupNorm subclasses it (same function)
        if m.eps != 1e-5 or not m.affine:
            raise UnsupportedModel(path, m, "a group norm with eps 1e-5 and affine is expected")
        return {"norm": "group", "norm_groups": m.num_groups}
    if _is_frozen_bn(m) and getattr(m, "eps", 1e-5) == 1e-5:
        return {"norm": "frozen_batch"}
    raise UnsupportedModel(path, m, "not a norm the spec language has (batch, group, frozen batch, none)")


def _act(m: Any, path: str) -> dict[str, Any]:
    kind = _ACTS.get(type(m))
    if kind is None:
        raise UnsupportedModel(path, m, "not an activation the spec language has")
    out: dict[str, Any] = {"act": kind}
    if kind == "leaky_relu":
        out["act_negative_slope"] = float(m.negative_slope)
    return out


def _norm_act(m: Any, path: str) -> None:
    """timm's BatchNormAct2d (ResNetV2): batch norm + ReLU only."""
    if not isinstance(m, nn.BatchNorm2d) or m.eps != 1e-5 or not m.affine:
        raise UnsupportedModel(path, m, "expected a batch norm + ReLU (timm's BatchNormAct2d)")
    act = getattr(m, "act", None)
    if type(act) is not nn.ReLU:
        raise UnsupportedModel(f"{path}.act", act, "layout resnetv2 names batch norm + ReLU only")
    drop = getattr(m, "drop", None)
    if drop is not None and not isinstance(drop, nn.Identity):
        raise UnsupportedModel(f"{path}.drop", drop, "a dropout inside the norm has no spec")


# --- torchvision / timm ResNet -------------------------------------------------------------------


def _stem(model: nn.Module) -> tuple[dict[str, Any], int]:
    c1: Any = model.conv1
    stem: dict[str, Any] = {}
    if isinstance(c1, nn.Sequential):
        if len(c1) != 7:
            raise UnsupportedModel("conv1", c1, "a deep stem is 7 modules: conv, norm, act, conv, norm, act, conv")
        convs = [_conv(c1[i], f"conv1.{i}") for i in (0, 3, 6)]
        if [c.kernel_size[0] for c in convs] != [3, 3, 3] or [c.stride[0] for c in convs] != [2, 1, 1]:
            raise UnsupportedModel("conv1", c1, "a deep stem is three 3×3 convs, the first with stride 2")
        stem.update(kind="deep", width=convs[2].out_channels, mid_widths=[convs[0].out_channels, convs[1].out_channels])
        first = convs[0]
    else:
        first = _conv(c1, "conv1")
        k, s = first.kernel_size[0], first.stride[0]
        if (k, s) == (7, 2):
            stem["kind"] = "conv7"
        elif (k, s) == (3, 1):
            stem["kind"] = "conv3"
        else:
            raise UnsupportedModel("conv1", c1, f"a {k}×{k}/{s} stem conv (the spec has 7×7/2 and 3×3/1)")
        stem["width"] = first.out_channels
    stem["conv_bias"] = first.bias is not None
    stem.update(_norm(model.bn1, "bn1"))
    act_name = "act1" if hasattr(model, "act1") else "relu"
    stem.update(_act(getattr(model, act_name), act_name))
    pool: Any = getattr(model, "maxpool", None)
    if pool is None or isinstance(pool, nn.Identity):
        stem["pool"] = "none"
    elif type(pool) is nn.MaxPool2d:
        if (pool.kernel_size, pool.stride, pool.padding, pool.ceil_mode) not in (
            (3, 2, 1, False),
            ((3, 3), (2, 2), (1, 1), False),
        ):
            raise UnsupportedModel("maxpool", pool, "the spec's max pool is 3×3, stride 2, padding 1")
        stem["pool"] = "max"
    elif isinstance(pool, nn.Sequential) and len(pool) == 3:
        _conv(pool[0], "maxpool.0")
        stem["pool"] = "conv"
    else:
        raise UnsupportedModel("maxpool", pool, "expected a max pool, an identity or a strided conv + norm + act")
    return stem, first.in_channels


def _settings(model: nn.Module, path: str, bottleneck: bool) -> dict[str, Any]:
    """One block's settings."""
    b: Any = model.get_submodule(path)
    s: dict[str, Any] = {}
    n = 3 if bottleneck else 2
    convs = [_conv(getattr(b, f"conv{i}"), f"{path}.conv{i}") for i in range(1, n + 1)]
    s["conv_bias"] = convs[0].bias is not None
    s.update(_norm(b.bn1, f"{path}.bn1"))
    act_name = "act1" if hasattr(b, "act1") else "relu"
    s.update(_act(getattr(b, act_name), f"{path}.{act_name}"))
    out = convs[-1].out_channels
    stride = max(c.stride[0] for c in convs)
    if bottleneck:
        mid, groups = convs[1].out_channels, convs[1].groups
        s["stride_on"] = "1x1" if convs[0].stride[0] > 1 else "3x3"
        s["groups"] = groups
        expansion = int(getattr(b, "expansion", 4) or 4)
        if out % expansion:
            expansion = 1
        width = out // expansion
        wpg = mid * 64 // (groups * width) if width else 0
        if wpg < 1 or int(width * wpg / 64) * groups != mid:
            raise UnsupportedModel(f"{path}.conv2", convs[1], f"inner width {mid} is not int(width × w / 64) × groups")
        s.update(width_per_group=wpg, expansion=expansion)
        s["block"] = "bottleneck"
    else:
        width = convs[0].out_channels
        if out % width:
            raise UnsupportedModel(f"{path}.conv2", convs[1], f"{out} output channels are no multiple of {width}")
        s.update(expansion=out // width, block="basic")
    s["width"] = width
    s["stride"] = stride
    s["_dilation"] = max(c.dilation[0] for c in convs)
    ds: Any = getattr(b, "downsample", None)
    if ds is None or isinstance(ds, nn.Identity):
        s["_use"] = "identity"
    elif isinstance(ds, nn.Sequential):
        mods = list(ds)
        # timm's avg-pool downsample keeps an Identity in the pool's place where the block has stride 1
        if len(mods) == 3 and (type(mods[0]) is nn.AvgPool2d or isinstance(mods[0], nn.Identity)):
            s["_use"] = "avgpool_projection"
            mods = mods[1:]
        else:
            s["_use"] = "projection"
        if not mods:
            raise UnsupportedModel(f"{path}.downsample", ds, "a shortcut without a conv")
        _conv(mods[0], f"{path}.downsample")
        s["shortcut_norm"] = len(mods) > 1 and not isinstance(mods[1], nn.Identity)
        if s["shortcut_norm"]:
            _norm(mods[1], f"{path}.downsample.{len(ds) - len(mods) + 1}")
    else:
        raise UnsupportedModel(f"{path}.downsample", ds, "expected a Sequential of [avg pool,] conv [, norm]")
    s.update(_attention(b, path, out))
    last_norm: Any = getattr(b, f"bn{n}")
    s["_zero"] = isinstance(last_norm, nn.BatchNorm2d | nn.GroupNorm) and _zero(last_norm.weight)
    dp: Any = getattr(b, "drop_path", None)
    s["_drop_path"] = float(getattr(dp, "drop_prob", 0.0) or 0.0) if dp is not None else 0.0
    return s


def _attention(b: Any, path: str, channels: int) -> dict[str, Any]:
    se: Any = getattr(b, "se", None)
    if se is None or isinstance(se, nn.Identity):
        return {"attention": "none"}
    fc1, fc2, conv = getattr(se, "fc1", None), getattr(se, "fc2", None), getattr(se, "conv", None)
    if type(fc1) is nn.Conv2d and type(fc2) is nn.Conv2d and fc1.bias is not None:
        if (
            not isinstance(getattr(se, "bn", nn.Identity()), nn.Identity)
            or type(getattr(se, "act", None)) is not nn.ReLU
        ):
            raise UnsupportedModel(f"{path}.se", se, "squeeze-and-excitation with ReLU and no norm is expected")
        rd = fc1.out_channels
        for ratio in (1 / 16, 1 / 8, 1 / 4, 1 / 2, rd / channels):
            for divisor in (8, 1):
                if B.make_divisible(channels * ratio, divisor) == rd:
                    return {"attention": "se", "se_ratio": ratio, "se_divisor": divisor}
        raise UnsupportedModel(f"{path}.se.fc1", fc1, f"reduced width {rd} of {channels} fits no ratio")
    if type(conv) is nn.Conv1d and conv.bias is None:
        k = conv.kernel_size[0]
        return {"attention": "eca", "eca_kernel": k}
    raise UnsupportedModel(f"{path}.se", se, "neither squeeze-and-excitation (fc1, fc2) nor ECA (conv)")


_STAGE_KEYS = ("depth", "width", "stride", "dilation")


def _zero(weight: Any) -> bool:
    """All zeros (zero-initialised); never for a tensor without data (device ``meta``)."""
    return not weight.is_meta and bool((weight == 0).all())


def _stages_v1(model: nn.Module) -> list[list[dict[str, Any]]]:
    out = []
    i = 1
    while isinstance(layer := getattr(model, f"layer{i}", None), nn.Sequential):
        blocks = []
        for j in range(len(layer)):
            b = layer[j]
            bottleneck = isinstance(getattr(b, "conv3", None), nn.Module)
            blocks.append(_settings(model, f"layer{i}.{j}", bottleneck))
        out.append(blocks)
        i += 1
    if not out:
        raise UnsupportedModel("", model, "no layer1: not a torchvision or timm ResNet")
    return out


def _stage_entry(blocks: list[dict[str, Any]], path: str) -> dict[str, Any]:
    first = blocks[0]
    entry: dict[str, Any] = {"depth": len(blocks), "width": first["width"], "stride": first["stride"]}
    dilation = blocks[-1].get("_dilation", 1)  # the first block keeps the previous stage's, in spec and model
    if dilation > 1:
        entry["dilation"] = dilation
    uses = [b["_use"] for b in blocks]
    if all(u != "identity" for u in uses) and len(blocks) > 1:
        entry["shortcut"] = "projection_all" if uses[0] == "projection" else uses[0]
    else:
        entry["shortcut"] = uses[0] if uses[0] != "identity" else "projection"
    norms = {b.get("shortcut_norm") for b in blocks if "shortcut_norm" in b}
    if norms:
        entry["shortcut_norm"] = norms.pop()
    skip = {"width", "stride", "_use", "shortcut_norm", "_zero", "_drop_path", "_dilation"}
    for key, value in first.items():
        if key in skip:
            continue
        if key == "eca_kernel":
            ks = {b.get("eca_kernel") for b in blocks[1:]}
            if ks - {value}:
                raise UnsupportedModel(path, None, "ECA kernels differ within a stage")
            if value == B.eca_kernel_size(blocks[0]["width"] * blocks[0]["expansion"]):
                continue
        entry[key] = value
    return entry


def _collect(stage_entries: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Settings every stage shares go to ``defaults``; the rest stay on the stages."""
    defaults: dict[str, Any] = {}
    keys = {k for e in stage_entries for k in e} - set(_STAGE_KEYS)
    for key in sorted(keys):
        values = [e.get(key, _ABSENT) for e in stage_entries]
        if all(v == values[0] for v in values) and values[0] is not _ABSENT:
            defaults[key] = values[0]
            for e in stage_entries:
                e.pop(key)
    return defaults, stage_entries


_ABSENT = object()


def _head(model: nn.Module, channels: int) -> dict[str, Any]:
    fc: Any = getattr(model, "fc", None)
    if type(fc) is not nn.Linear:
        raise UnsupportedModel("fc", fc, "the head's classifier must be a Linear (a backbone's spec: head: none)")
    if fc.in_features != channels:
        raise UnsupportedModel("fc", fc, f"reads {fc.in_features} features; the last stage gives {channels}")
    pool: Any = getattr(model, "global_pool", None) or getattr(model, "avgpool", None)
    kind = _pool_kind(pool, "global_pool" if hasattr(model, "global_pool") else "avgpool")
    head: dict[str, Any] = {"pool": kind, "num_classes": fc.out_features, "bias": fc.bias is not None}
    rate = float(getattr(model, "drop_rate", 0.0) or 0.0)
    if rate:
        head["dropout"] = rate
    return head


def _pool_kind(pool: Any, path: str) -> str:
    inner = getattr(pool, "pool", pool)
    pool_type = getattr(pool, "pool_type", None)
    if type(inner) is nn.AdaptiveAvgPool2d and inner.output_size in (1, (1, 1)):
        kind = "avg"
    elif type(inner) is nn.AdaptiveMaxPool2d and inner.output_size in (1, (1, 1)):
        kind = "max"
    else:
        raise UnsupportedModel(path, pool, "global average or max pooling is expected")
    if pool_type not in (None, kind):
        raise UnsupportedModel(path, pool, f"pool type '{pool_type}'")
    return kind


def _v1(model: nn.Module) -> dict[str, Any]:
    stem, cin = _stem(model)
    per_stage = _stages_v1(model)
    entries = [_stage_entry(blocks, f"layer{i + 1}") for i, blocks in enumerate(per_stage)]
    defaults, stages = _collect(entries)
    blocks = [b for st in per_stage for b in st]
    channels = blocks[-1]["width"] * blocks[-1]["expansion"]
    data: dict[str, Any] = {
        "input": {"channels": cin},
        "stem": stem,
        "defaults": defaults,
        "stages": stages,
        "head": _head(model, channels),
    }
    _drop_path(data, blocks)
    if all(b["_zero"] for b in blocks):
        data["init"] = {"zero_init_residual": True}
    return data


def _drop_path(data: dict[str, Any], blocks: list[dict[str, Any]]) -> None:
    rate = blocks[-1]["_drop_path"] if blocks else 0.0
    if rate:
        data["defaults"]["drop_path"] = rate


# --- timm ResNetV2 ---------------------------------------------------------------------------------


def _v2(model: nn.Module) -> dict[str, Any]:
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
    stages_mod: Any = model.stages
    entries = []
    all_blocks: list[dict[str, Any]] = []
    for i, stage in enumerate(stages_mod):
        blocks = []
        for j, b in enumerate(stage.blocks):
            path = f"stages.{i}.blocks.{j}"
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
                s["_use"] = (
                    "avgpool_projection" if isinstance(getattr(ds, "pool", None), nn.AvgPool2d) else "projection"
                )
                norm = getattr(ds, "norm", None)
                s["shortcut_norm"] = norm is not None and not isinstance(norm, nn.Identity)
            s["_zero"] = _zero(convs[-1].weight)
            dp: Any = getattr(b, "drop_path", None)
            s["_drop_path"] = float(getattr(dp, "drop_prob", 0.0) or 0.0) if dp is not None else 0.0
            blocks.append(s)
        entries.append(_stage_entry(blocks, f"stages.{i}"))
        all_blocks += blocks
    defaults, stages = _collect(entries)
    _norm_act(model.norm, "norm")
    head_mod: Any = model.head
    fc: Any = getattr(head_mod, "fc", None)
    if type(fc) is not nn.Conv2d or fc.kernel_size != (1, 1):
        raise UnsupportedModel("head.fc", fc, "layout resnetv2's classifier is a 1×1 conv")
    kind = _pool_kind(head_mod.global_pool, "head.global_pool")
    drop: Any = getattr(head_mod, "drop", None)
    head: dict[str, Any] = {"pool": kind, "num_classes": fc.out_channels, "bias": fc.bias is not None}
    if isinstance(drop, nn.Dropout) and drop.p:
        head["dropout"] = float(drop.p)
    data: dict[str, Any] = {
        "layout": "resnetv2",
        "input": {"channels": first.in_channels},
        "stem": stem,
        "defaults": defaults,
        "stages": stages,
        "head": head,
    }
    _drop_path(data, all_blocks)
    if all(b["_zero"] for b in all_blocks):
        data["init"] = {"zero_init_residual": True}
    return data


# --- checking the spec against the model ----------------------------------------------------------

_HARMLESS = (
    nn.Identity,
    nn.ReLU,
    nn.LeakyReLU,
    nn.SiLU,
    nn.GELU,
    nn.Mish,
    nn.Hardswish,
    nn.Sigmoid,
    nn.Flatten,
    nn.Dropout,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveMaxPool2d,
)


def _verify(plan: P.Plan, model: nn.Module) -> None:
    from resnetdsl.state import named_ops, state_entries

    covered: set[str] = set()
    for path, op in named_ops(plan):
        m: Any = _sub(model, path)
        if isinstance(op, P.Conv | P.Norm | P.NormAct | P.Pool | P.Linear | P.SqueezeExcite | P.EfficientChannelAttn):
            if m is None:
                raise UnsupportedModel(path, model, "the spec has a layer here that the model lacks")
            covered.add(path)
            covered.update(f"{path}.{n}" for n, _ in m.named_modules() if n)
        if isinstance(op, P.Conv):
            got = (
                m.in_channels,
                m.out_channels,
                m.kernel_size[0],
                m.stride[0],
                m.padding[0],
                m.dilation[0],
                m.groups,
                m.bias is not None,
            )
            want = (
                op.in_channels,
                op.out_channels,
                op.kernel_size,
                op.stride,
                op.padding,
                op.dilation,
                op.groups,
                op.bias,
            )
            if got != want:
                raise UnsupportedModel(path, m, f"differs from the spec's conv: {got} != {want}")
        elif isinstance(op, P.Pool):
            k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
            s = m.stride if isinstance(m.stride, int) else m.stride[0]
            extra = (getattr(m, "ceil_mode", False), getattr(m, "count_include_pad", True))
            if (k, s, *extra) != (
                op.kernel_size,
                op.stride,
                op.ceil_mode,
                op.count_include_pad if op.kind == "avg" else True,
            ):
                raise UnsupportedModel(
                    path, m, f"a {k}×{k}/{s} pool; the spec's is {op.kernel_size}×{op.kernel_size}/{op.stride}"
                )
    for name, m in model.named_modules():
        if not name or name in covered or list(m.children()):
            continue
        if isinstance(m, _HARMLESS) or type(m).__name__ == "DropPath":
            continue
        if (
            not list(m.parameters(recurse=False))
            and not list(m.buffers(recurse=False))
            and type(m) in (nn.AvgPool2d, nn.MaxPool2d)
        ):
            raise UnsupportedModel(name, m, "a pool the spec does not have here")
        raise UnsupportedModel(name, m, "no counterpart in the spec language")
    entries = state_entries(plan)
    held = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if entries != held:
        surplus = sorted(set(held) - set(entries))
        lack = sorted(set(entries) - set(held))
        diff = [k for k in entries if k in held and entries[k] != held[k]]
        raise UnsupportedModel(
            "", model, f"state_dict differs: extra {surplus[:3]}, lacking {lack[:3]}, other shapes {diff[:3]}"
        )


def spec_from_model(model: nn.Module, *, name: str | None = None) -> Spec:
    """The spec of a torchvision ``ResNet`` or a timm ``ResNet`` / ``ResNetV2`` instance.

    The spec builds a model that loads ``model.state_dict()`` with ``strict=True`` and computes the same function
    (in eval mode).

    Raises:
        UnsupportedModel: a module the spec language cannot express, with its path and type.
    """
    from resnetdsl.check import check

    if isinstance(getattr(model, "stages", None), nn.Sequential) and isinstance(
        getattr(model, "stem", None), nn.Module
    ):
        data = _v2(model)
    elif isinstance(getattr(model, "conv1", None), nn.Module):
        data = _v1(model)
    else:
        raise UnsupportedModel("", model, "not a torchvision or timm ResNet (no conv1/layer1, no stem/stages)")
    label = name or getattr(model, "default_cfg", {}).get("architecture") or type(model).__name__.lower()
    data = {"name": label, "description": f"imported from a {type(model).__module__}.{type(model).__name__}", **data}
    checked = check(data)
    assert checked.spec is not None
    _verify(checked.plan, model)
    return checked.spec


def model_from_ref(ref: str) -> nn.Module:
    """``torchvision:resnet50`` or ``timm:resnet50d`` → the model, built without weights (nothing downloaded)."""
    lib, sep, arch = ref.partition(":")
    if not sep or lib not in ("torchvision", "timm") or not arch:
        raise ValueError(f"expected torchvision:NAME or timm:NAME, got '{ref}'")
    if lib == "torchvision":
        import torchvision

        try:
            return torchvision.models.get_model(arch, weights=None)  # type: ignore[no-any-return]
        except ValueError:
            raise ValueError(f"torchvision has no model '{arch}'") from None
    import timm

    if arch not in timm.list_models():
        raise ValueError(f"timm has no model '{arch}'")
    return timm.create_model(arch, pretrained=False)


def cli_main(args: argparse.Namespace) -> int:
    """``resnetdsl import torchvision:NAME|timm:NAME [-o FILE] [--name NAME]``."""
    from resnetdsl.show import resolved, to_yaml

    model = model_from_ref(args.model)
    spec = spec_from_model(model, name=args.name or args.model.partition(":")[2])
    text = to_yaml(resolved(spec))
    from resnetdsl.io import write_or_print

    write_or_print(args.output, text)
    return 0
