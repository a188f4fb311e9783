"""Reading ResNeSt blocks (issue 18; timm's ``ResNestBottleneck`` with its ``SplitAttn``) from their structure:
a split-attention module is a grouped 3×3 ``conv`` making ``radix`` splits, ``fc1`` and ``fc2`` 1×1 convs over the
pooled map; the block's average pool before or after it (``avd_first``, ``avd_last``) is where it downsamples."""

from __future__ import annotations

from typing import Any

from torch import nn

from resnetdsl import blocks as B
from resnetdsl.importer.modules import UnsupportedModel, _act, _conv, _norm, _zero


def is_split_attention(m: Any) -> bool:
    """A split-attention module: a 3×3 ``conv`` and the 1×1 ``fc1``/``fc2`` of its gate."""
    parts = [getattr(m, n, None) for n in ("conv", "fc1", "fc2")]
    return all(type(p) is nn.Conv2d for p in parts) and parts[0].kernel_size == (3, 3)  # type: ignore[union-attr]


def _split(m: Any, path: str) -> dict[str, Any]:
    """radix, groups and the norm and act of a split-attention module; its widths must be timm's."""
    conv, fc1, fc2 = (_conv(getattr(m, n), f"{path}.{n}") for n in ("conv", "fc1", "fc2"))
    out = fc1.in_channels
    radix, groups = conv.out_channels // out, fc1.groups
    want = (conv.out_channels, conv.groups, fc1.bias is not None, fc2.bias is not None, fc2.groups)
    if out * radix != conv.out_channels or want != (out * radix, groups * radix, True, True, groups):
        raise UnsupportedModel(path, m, "a split-attention conv of out × radix channels, groups × radix groups")
    if conv.bias is not None or fc2.out_channels != conv.out_channels:
        raise UnsupportedModel(path, m, "a bias-free conv and an fc2 giving every split its weight are expected")
    if fc1.out_channels != B.split_attn_channels(conv.in_channels, radix):
        raise UnsupportedModel(f"{path}.fc1", fc1, f"hidden width {fc1.out_channels} is not timm's rounding")
    drop = getattr(m, "drop", None)  # timm's DropBlock inside split attention (after bn0): no spec says it
    if drop is not None and not isinstance(drop, nn.Identity):
        raise UnsupportedModel(f"{path}.drop", drop, "a DropBlock inside split attention has no spec")
    s: dict[str, Any] = {"radix": radix, "groups": groups, "_mid": out, "_stride": conv.stride[0]}
    s["_dilation"] = conv.dilation[0]
    norms = [_norm(getattr(m, n, nn.Identity()), f"{path}.{n}") for n in ("bn0", "bn1")]
    if norms[0] != norms[1] or norms[0]["norm"] not in ("batch", "none"):
        raise UnsupportedModel(f"{path}.bn0", m, "split attention with batch norms or none is expected")
    s.update(norms[0])
    acts = [_act(getattr(m, n), f"{path}.{n}") for n in ("act0", "act1")]
    if acts[0] != acts[1]:
        raise UnsupportedModel(f"{path}.act1", m.act1, "its two activations differ")
    s.update(acts[0])
    return s


def _avd(b: Any, path: str) -> tuple[str, int] | None:
    """The block's downsampling average pool: where (``first``, ``last``) and its stride; ``None``: none."""
    for where in ("first", "last"):
        pool: Any = getattr(b, f"avd_{where}", None)
        if pool is None or isinstance(pool, nn.Identity):
            continue
        k, s, p = pool.kernel_size, pool.stride, pool.padding
        if type(pool) is not nn.AvgPool2d or (k, p, pool.ceil_mode, pool.count_include_pad) != (3, 1, False, True):
            raise UnsupportedModel(f"{path}.avd_{where}", pool, "a 3×3 average pool of padding 1 is expected")
        return where, s
    return None


def resnest_settings(model: nn.Module, path: str, shortcut: Any) -> dict[str, Any]:
    """One ResNeSt block's settings (``shortcut`` reads its downsample, as for the other kinds)."""
    b: Any = model.get_submodule(path)
    conv1, conv3 = _conv(b.conv1, f"{path}.conv1"), _conv(b.conv3, f"{path}.conv3")
    s = _split(b.conv2, f"{path}.conv2")
    mid, groups = s.pop("_mid"), s["groups"]
    for name in ("bn2", "act2", "drop_block", "se"):
        extra = getattr(b, name, None)
        if extra is not None and not isinstance(extra, nn.Identity):
            raise UnsupportedModel(f"{path}.{name}", extra, "a resnest block has nothing here")
    if _norm(b.bn1, f"{path}.bn1") != {"norm": s["norm"]} or _act(b.act1, f"{path}.act1") != {"act": s["act"]}:
        raise UnsupportedModel(f"{path}.bn1", b.bn1, "the block's norms and activations differ")
    out = conv3.out_channels
    expansion = int(getattr(b, "expansion", 4) or 4)
    width = out // expansion
    wpg = mid * 64 // (groups * width) if width else 0
    if out % expansion or wpg < 1 or int(width * wpg / 64) * groups != mid or conv1.out_channels != mid:
        raise UnsupportedModel(f"{path}.conv2", b.conv2, f"inner width {mid} is not int(width × w / 64) × groups")
    s.update(block="resnest", conv_bias=conv1.bias is not None, width=width, width_per_group=wpg, expansion=expansion)
    avd = _avd(b, path)
    stride = s.pop("_stride")
    if avd is not None:
        s["_avd"], stride = avd[0], max(stride, avd[1])
    elif stride > 1:
        s["_avd"] = "none"
    s["stride"] = stride
    s.update(shortcut(b, path))
    s["_zero"] = isinstance(b.bn3, nn.BatchNorm2d) and _zero(b.bn3.weight)
    if getattr(b, "drop_path", None) is not None:
        raise UnsupportedModel(f"{path}.drop_path", b.drop_path, "timm's ResNeSt drops the shortcut's input")
    s["_drop_path"] = 0.0
    return s


def network_avd(data: dict[str, Any], blocks: list[dict[str, Any]]) -> None:
    """The downsampling blocks' ``avd`` (``_avd``) as ``defaults.avd``; one choice for every block."""
    kinds = {b.pop("_avd") for b in blocks if "_avd" in b}
    if len(kinds) > 1:
        raise UnsupportedModel("", None, f"resnest blocks downsample differently: {sorted(kinds)}")
    if kinds:
        data["defaults"]["avd"] = kinds.pop()
