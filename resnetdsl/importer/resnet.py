"""torchvision's and timm's ``ResNet`` (torchvision layout names): stem, blocks, stages, head."""

from __future__ import annotations

from typing import Any

from torch import nn

from resnetdsl import blocks as B
from resnetdsl.importer.antialias import block_aa, network_aa, stem_aa  # family: issue 18
from resnetdsl.importer.modules import UnsupportedModel, _act, _attention, _conv, _norm, _pool_kind, _zero
from resnetdsl.importer.resnest import is_split_attention, network_avd, resnest_settings  # family: issue 18


def family_block(model: nn.Module, path: str) -> dict[str, Any] | None:
    """The settings of a block of issue 18's families (selective kernel, …), or ``None`` for another block."""
    from resnetdsl.importer import res2net, sk

    for reader in (sk.sk_block, res2net.res2net_block):  # res2net: family Res2Net (issue 18)
        found = reader(model, path)
        if found is not None:
            return found
    return None


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
    elif (aa := stem_aa(pool)) is not None:  # family: anti-aliasing (issue 18)
        stem.update(aa)
    elif isinstance(pool, nn.Sequential) and len(pool) == 3:
        _conv(pool[0], "maxpool.0")
        stem["pool"] = "conv"
    else:
        raise UnsupportedModel("maxpool", pool, "expected a max pool, an identity or a strided conv + norm + act")
    return stem, first.in_channels


def _settings(model: nn.Module, path: str, bottleneck: bool, attn: str = "se") -> dict[str, Any]:
    """One block's settings (``attn``: the attribute of its attention module)."""
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
    c1 = convs[0].out_channels
    if bottleneck:
        mid, groups = convs[1].out_channels, convs[1].groups
        s["stride_on"] = "1x1" if convs[0].stride[0] > 1 else "3x3"
        s["groups"] = groups
        expansion = int(getattr(b, "expansion", 4) or 4)
        if out % expansion:
            expansion = 1
        width = out // expansion
        wpg = mid * 64 // (groups * width) if width else 0
        rule = wpg >= 1 and int(width * wpg / 64) * groups == mid
        # family senet (issue 18): a first conv narrower by a whole factor (SENet-154), else explicit widths
        if rule:
            s["width_per_group"] = wpg
        if rule and c1 != mid and mid % c1 == 0:
            s["reduce_first"] = mid // c1
        s["_widths"] = None if rule and mid % c1 == 0 else [c1, mid]
        s["expansion"] = expansion
        s["block"] = "bottleneck"
    else:
        width = c1
        s["_widths"] = None
        if out % width:
            width, s["_widths"] = out, [c1]
        s.update(expansion=out // width, block="basic")
    s["_conv_out"] = [c.out_channels for c in convs[:-1]]
    aa = block_aa(b, path)  # family: anti-aliasing (issue 18): the pool carries the stride
    if aa is not None:
        s["_aa"], stride = aa[0], max(stride, aa[1])
    s["width"] = width
    s["stride"] = stride
    s["_dilation"] = max(c.dilation[0] for c in convs)
    return block_tail(b, path, s, out, getattr(b, f"bn{n}"), attn)


def block_tail(b: Any, path: str, s: dict[str, Any], out: int, last_norm: Any, attn: str = "se") -> dict[str, Any]:
    """A block's shortcut, attention, zero-initialised last norm and drop path, added to its settings ``s``."""
    s.update(_shortcut_settings(b, path))
    s.update(_attention(b, path, out, attn))
    s["_zero"] = isinstance(last_norm, nn.BatchNorm2d | nn.GroupNorm) and _zero(last_norm.weight)
    dp: Any = getattr(b, "drop_path", None)
    s["_drop_path"] = float(getattr(dp, "drop_prob", 0.0) or 0.0) if dp is not None else 0.0
    db: Any = getattr(b, "drop_block", None)  # family senet (issue 18): timm's DropBlock2d (verify checks where)
    s["_drop_block"] = float(getattr(db, "drop_prob", 0.0) or 0.0) if db is not None else 0.0
    return s


def _shortcut_settings(b: Any, path: str) -> dict[str, Any]:
    """A block's shortcut: its use (``_use``) and whether a projection has a norm."""
    s: dict[str, Any] = {}
    ds: Any = getattr(b, "downsample", None)
    if ds is None or isinstance(ds, nn.Identity):
        s["_use"] = "identity"
    elif isinstance(ds, nn.Sequential):
        mods = list(ds)
        # timm's avg-pool downsample keeps an Identity in the pool's place where the block has stride 1
        if len(mods) == 3 and isinstance(mods[0], nn.AvgPool2d | nn.Identity):  # AvgPool2dSame: dilated
            s["_use"] = "avgpool_projection"
            mods = mods[1:]
        else:
            s["_use"] = "projection"
        if not mods:
            raise UnsupportedModel(f"{path}.downsample", ds, "a shortcut without a conv")
        k = _conv(mods[0], f"{path}.downsample").kernel_size[0]
        if k != 1:  # family senet (issue 18): timm's down_kernel_size (SENet-154)
            s["shortcut_kernel"] = k
        s["shortcut_norm"] = len(mods) > 1 and not isinstance(mods[1], nn.Identity)
        if s["shortcut_norm"]:
            _norm(mods[1], f"{path}.downsample.{len(ds) - len(mods) + 1}")
    else:
        raise UnsupportedModel(f"{path}.downsample", ds, "expected a Sequential of [avg pool,] conv [, norm]")
    return s


_STAGE_KEYS = ("depth", "width", "stride", "dilation", "blocks")


def _stage_blocks(model: nn.Module) -> list[list[dict[str, Any]]]:
    """Each stage's blocks' settings, ``layer1``, ``layer2``, … in order."""
    out = []
    i = 1
    while isinstance(layer := getattr(model, f"layer{i}", None), nn.Sequential):
        blocks = []
        for j in range(len(layer)):
            b = layer[j]
            family = family_block(model, f"layer{i}.{j}")  # issue 18: the ResNet family's other blocks
            if family is not None:
                blocks.append(family)
                continue
            bottleneck = isinstance(getattr(b, "conv3", None), nn.Module)
            if is_split_attention(getattr(b, "conv2", None)):  # family: split attention (issue 18)
                blocks.append(resnest_settings(model, f"layer{i}.{j}", _shortcut_settings))
                continue
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
    skip = {"width", "stride", "_use", "shortcut_norm", "_zero", "_drop_path", "_dilation", "_widths", "_conv_out"}
    skip |= {"_drop_block", "_aa", "_avd"}
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
    _conv_widths(blocks, entry)
    return entry


def _conv_widths(blocks: list[dict[str, Any]], entry: dict[str, Any]) -> None:
    """Widths no block rule gives (a pruned network): ``conv_widths`` on the stage when its blocks share them,
    else on each block (family senet, issue 18)."""
    if not any(b.get("_widths") for b in blocks):
        return
    for key in ("width_per_group", "reduce_first"):
        entry.pop(key, None)
    widths = [b["_conv_out"] for b in blocks]
    if all(w == widths[0] for w in widths):
        entry["conv_widths"] = widths[0]
    else:
        entry["blocks"] = [{"at": j, "conv_widths": w} for j, w in enumerate(widths)]


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
    # timm's Linear (the pruned nets' classifier) only casts its weights to the input's dtype
    if type(fc) is not nn.Linear and type(fc).__module__ + "." + type(fc).__name__ != "timm.layers.linear.Linear":
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


def resnet_data(model: nn.Module) -> dict[str, Any]:
    """The spec data of a torchvision or timm ``ResNet``: stem, stages (one entry per block, then collected), head."""
    stem, cin = _stem(model)
    per_stage = _stage_blocks(model)
    entries = [_stage_entry(blocks, f"layer{i + 1}") for i, blocks in enumerate(per_stage)]
    _hidden_dilations(entries, per_stage)
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
    rate = max((b.get("_drop_block", 0.0) for b in blocks), default=0.0)
    if rate:
        data["drop_block"] = rate
    network_aa(data, blocks)  # family: anti-aliasing and split attention (issue 18)
    network_avd(data, blocks)
    if all(b["_zero"] for b in blocks):
        data["init"] = {"zero_init_residual": True}
    return data


def _hidden_dilations(entries: list[dict[str, Any]], per_stage: list[list[dict[str, Any]]]) -> None:
    """A one-block stage of bottleneck-like blocks shows no conv of its own dilation (its only 3×3 keeps the
    previous stage's): the next stage's first 3×3 does (issue 18: timm's dilated ResNeSt-14)."""
    for i, entry in enumerate(entries[:-1]):
        first = per_stage[i + 1][0]
        hidden = len(per_stage[i]) == 1 and first["block"] in ("bottleneck", "resnest", "res2net")
        if hidden and first.get("_dilation", 1) > entry.get("dilation", 1):
            entry["dilation"] = first["_dilation"]


def _drop_path(data: dict[str, Any], blocks: list[dict[str, Any]]) -> None:
    rate = blocks[-1]["_drop_path"] if blocks else 0.0
    if rate:
        data["defaults"]["drop_path"] = rate
