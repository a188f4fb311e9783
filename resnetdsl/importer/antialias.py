"""Reading anti-aliased downsampling (issue 18) from a model: timm's ``BlurPool2d`` and ``aa_layer`` average
pools, in the stem and in blocks, recognised from their structure (no parameters, a binomial depthwise filter with
reflect padding; an average pool of kernel = stride)."""

from __future__ import annotations

from math import comb
from typing import Any

import torch
from torch import nn

from resnetdsl.importer.modules import UnsupportedModel, _conv
from resnetdsl.ops.antialias import padding_of


def blur_of(m: Any) -> tuple[int, int, int] | None:
    """(channels, stride, filter size) of a blur pool (timm's, with its ``filt`` buffer, or the builder's), else
    ``None``. A filter that is not the binomial one, or padding other than reflect, is no blur pool."""
    if isinstance(m, nn.Sequential) or list(m.parameters()):
        return None
    stride, size = getattr(m, "stride", None), getattr(m, "filt_size", getattr(m, "filter_size", None))
    if not isinstance(stride, int) or not isinstance(size, int) or size < 2:
        return None
    filt = getattr(m, "filt", None)
    if isinstance(filt, torch.Tensor):  # timm: a (C, 1, k, k) buffer and its pad mode
        if filt.dim() != 4 or tuple(filt.shape[1:]) != (1, size, size) or getattr(m, "pad_mode", None) != "reflect":
            return None
        if getattr(m, "padding", None) != [padding_of(stride, size)] * 4:
            return None
        if not filt.is_meta:
            row = torch.tensor([comb(size - 1, k) for k in range(size)], dtype=torch.float64) / 2 ** (size - 1)
            want = (row[:, None] * row[None, :]).to(filt.dtype).expand_as(filt)
            if not torch.equal(filt, want):
                return None
        return int(filt.shape[0]), stride, size
    channels = getattr(m, "channels", None)
    if isinstance(getattr(m, "coefficients", None), list) and isinstance(channels, int):  # the builder's own
        return channels, stride, size
    return None


def _aa_pool(m: Any) -> tuple[str, int] | None:
    """``("blur", stride)`` or ``("avg", stride)`` for an anti-aliasing pool (timm's ``create_aa``), else ``None``."""
    blur = blur_of(m)
    if blur is not None:
        return "blur", blur[1]
    if type(m) is nn.AvgPool2d:
        k, s = m.kernel_size, m.stride
        k, s = (k if isinstance(k, int) else k[0]), (s if isinstance(s, int) else s[0])
        pad = m.padding if isinstance(m.padding, int) else m.padding[0]
        if k == s and pad == 0 and not m.ceil_mode and m.count_include_pad:
            return "avg", s
    return None


def block_aa(block: Any, path: str) -> tuple[str, int] | None:
    """A block's anti-aliasing pool (its ``aa`` module): kind and stride; ``None`` where it has none."""
    aa: Any = getattr(block, "aa", None)
    if aa is None or isinstance(aa, nn.Identity):
        return None
    found = _aa_pool(aa)
    if found is None:
        raise UnsupportedModel(f"{path}.aa", aa, "an anti-aliasing layer other than a blur pool or an avg pool")
    return found


def stem_aa(pool: Any) -> dict[str, Any] | None:
    """The stem settings of an anti-aliased stem pool (timm's ``maxpool`` with ``aa_layer``), else ``None``: a
    2×2/2 average pool, a stride-1 max pool then a blur pool, or a stride-1 conv, the pool, a norm and an act."""
    if type(pool) is nn.AvgPool2d:
        found = _aa_pool(pool)
        return {"pool": "max", "aa": "avg"} if found == ("avg", 2) else None
    if not isinstance(pool, nn.Sequential):
        return None
    mods = list(pool)
    if len(mods) == 2 and type(mods[0]) is nn.MaxPool2d:
        first = mods[0]
        if (first.kernel_size, first.stride, first.padding) in ((3, 1, 1), ((3, 3), (1, 1), (1, 1))):
            found = _aa_pool(mods[1])
            return {"pool": "max", "aa": found[0]} if found is not None and found[1] == 2 else None
    if len(mods) == 4 and type(mods[0]) is nn.Conv2d and mods[0].stride[0] == 1:
        _conv(mods[0], "maxpool.0")
        found = _aa_pool(mods[1])
        return {"pool": "conv", "aa": found[0]} if found is not None and found[1] == 2 else None
    return None


def network_aa(data: dict[str, Any], blocks: list[dict[str, Any]]) -> None:
    """The blocks' anti-aliasing (read where they downsample, ``_aa``) as ``defaults.aa``, the stem's as
    ``stem.aa`` where it differs; every anti-aliased block must use the same kind."""
    kinds = {b.pop("_aa") for b in blocks if "_aa" in b}
    if len(kinds) > 1:
        raise UnsupportedModel("", None, f"blocks use different anti-aliasing pools: {sorted(kinds)}")
    stem = data["stem"]
    block_kind = kinds.pop() if kinds else "none"
    stem_kind = stem.pop("aa", "none")
    if block_kind != "none":
        data["defaults"]["aa"] = block_kind
    if stem_kind != block_kind and stem.get("pool") != "none":
        stem["aa"] = stem_kind
