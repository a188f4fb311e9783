"""The words users bring from timm, torchvision and mmcls (and our own keys written in the wrong place), mapped
to the spec's: what an "unknown key" message suggests instead of a bare did-you-mean."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from resnetdsl.errors import Path, format_path


def _yaml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    return str(value)


def _as(key: str) -> Callable[[Any], str]:
    """The same idea under our name: ``groups: 32``."""
    return lambda v: f"{key}: {_yaml(v)}" if isinstance(v, int | float | str) and not isinstance(v, bool) else key


def _avg_down(v: Any) -> str:
    return "shortcut: avgpool_projection" if v is not False else "shortcut: projection (the default)"


def _stem_type(v: Any) -> str:
    if v == "deep_tiered":
        return "stem: {kind: deep, mid_widths: [24, 32]}"
    if isinstance(v, str) and v.startswith("deep"):
        return "stem: {kind: deep}"
    return "stem: {kind: conv7} (or conv3, deep)"


def _deep_stem(v: Any) -> str:
    return "stem: {kind: deep}" if v is not False else "stem: {kind: conv7} (the default)"


def _dilation(v: Any) -> str:
    if isinstance(v, list) and v and all(isinstance(x, bool) for x in v):
        stride = 32 // 2 ** sum(bool(x) for x in v)
        if stride in (8, 16, 32):
            return f"output_stride: {stride}"
    return "output_stride: 16 (or 8), or stages[i].dilation"


_WORDS: dict[str, tuple[str, Callable[[Any], str]]] = {
    # block settings
    "cardinality": ("timm's and mmcls' word", _as("groups")),
    "base_width": ("timm's word", _as("width_per_group")),
    "avg_down": ("timm's and mmcls' word", _avg_down),
    "down_kernel_size": ("timm's word", lambda v: "shortcut: avgpool_projection"),
    "block_type": ("a block kind", _as("block")),
    "downsample": ("the shortcut", lambda v: "shortcut: projection (or identity_pad, avgpool_projection, none)"),
    "norm_layer": ("torchvision's and timm's word", _as("norm")),
    "act_layer": ("timm's word", _as("act")),
    "attn_layer": ("timm's word", lambda v: "attention: se (or eca)"),
    "se_layer": ("a squeeze-and-excitation", lambda v: "attention: se"),
    "drop_path_rate": ("timm's word", _as("drop_path")),
    "drop_block_rate": ("timm's DropBlock", lambda v: "drop_path (DropBlock is not in the language)"),
    "planes": ("torchvision's word", _as("width")),
    "num_blocks": ("a stage's block count", _as("depth")),
    "blocks_count": ("a stage's block count", _as("depth")),
    # the stem
    "stem_type": ("timm's word", _stem_type),
    "deep_stem": ("mmcls' word", _deep_stem),
    "stem_width": ("timm's word", lambda v: f"stem: {{kind: deep, mid_widths: [{_yaml(v)}, {_yaml(v)}]}}"),
    "stem_channels": ("mmcls' word", lambda v: f"stem: {{width: {_yaml(v)}}}"),
    "base_channels": ("mmcls' word", lambda v: f"stages[0].width: {_yaml(v)}"),
    "inplanes": ("torchvision's word", lambda v: f"stem: {{width: {_yaml(v)}}}"),
    "in_chans": ("timm's word", lambda v: f"input: {{channels: {_yaml(v)}}}"),
    "in_channels": ("mmcls' word", lambda v: f"input: {{channels: {_yaml(v)}}}"),
    # the network
    "replace_stride_with_dilation": ("torchvision's word", _dilation),
    "zero_init_last": ("timm's word", lambda v: f"init: {{zero_init_residual: {_yaml(v)}}}"),
    "features_only": ("timm's word", lambda v: "features: {out_indices: [1, 2, 3, 4]}"),
    "global_pool": ("timm's word", lambda v: "head: {pool: avg} (or max)"),
    "drop_rate": ("timm's word", lambda v: f"head: {{dropout: {_yaml(v)}}}"),
}
"""Foreign key → (whose word it is, what to write instead, from the value written)."""
_TOP_WORDS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "dilations": ("mmcls' word", lambda v: "stages[i].dilation, or output_stride"),
    "strides": ("mmcls' word", lambda v: "stages[i].stride"),
    "layers": ("torchvision's and timm's word", lambda v: "stages: [{depth: 3, width: 64}, …], one per stage"),
    "depth": ("mmcls' word", lambda v: "extends: resnet50 (a preset), or stages with their depths"),
}
"""Words that are another library's only at the top level (in a stage, ``strides`` is a typo of ``stride``)."""
_STAGE_WORDS: dict[str, Callable[[Any], str]] = {"channels": _as("width"), "out_channels": _as("width")}
"""Words that mean a stage's width when written in a stage (``channels`` elsewhere is ``input.channels``)."""

_SCOPES: tuple[tuple[str, Path], ...] = (
    ("", ()),
    ("input", ("input",)),
    ("stem", ("stem",)),
    ("defaults", ("defaults",)),
    ("stages[i]", ("stages", 0)),
    ("stages[i].blocks[j]", ("stages", 0, "blocks", 0)),
    ("head", ("head",)),
    ("init", ("init",)),
    ("features", ("features",)),
)


def _scope_of(path: Path) -> str:
    """``stages[i]`` for ``("stages", 2)``: the scope a mapping at ``path`` is."""
    shown = re.sub(r"\[\d+\]", "[i]", format_path(path), count=1)
    return re.sub(r"\[\d+\]", "[j]", shown, count=1)


def _elsewhere(key: str, value: Any, parent: Path) -> str | None:
    """Where ``key``, a real key of some other scope, belongs: ``init.zero_init_residual``."""
    from resnetdsl.spec_paths import model_at

    here = _scope_of(parent)
    places = [
        f"{name}.{key}" if name else f"the top level ({key}: {_yaml(value)})"
        for name, path in _SCOPES
        if name != here and key in getattr(model_at(path), "model_fields", {})
    ]
    return " or ".join(places[:2]) if places else None


def foreign_hint(key: str, value: Any, parent: Path) -> str:
    """What to write instead of the unknown ``key`` (written with ``value`` in the mapping at ``parent``):
    ``" (timm's word; write groups: 32)"``, ``" (it is set in head.num_classes)"``; ``""`` when we know nothing
    better than a did-you-mean."""
    if key in _STAGE_WORDS and parent[:1] == ("stages",):
        return f" (a stage's base width; write {_STAGE_WORDS[key](value)})"
    words = _WORDS | _TOP_WORDS if not parent else _WORDS
    if key in words:
        whose, write = words[key]
        return f" ({whose}; write {write(value)})"
    place = _elsewhere(key, value, parent)
    return f" (it is set in {place})" if place is not None else ""
