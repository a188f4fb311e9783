"""An independent model of what docs/spec.md says about where block settings apply, for the fuzz tests.

It reads a spec mapping (no resnetdsl code): every block's settings layered defaults → stage → per-block entry
(``norm_groups`` and ``norm_group_channels`` as one setting), the stem's norm/act settings (defaults → stem), and
for each written setting the blocks (and the stem) that take their value from it. A setting is *unused* when it
reaches something and nothing it reaches uses it, by the docs' rules:

- ``stride_on``: bottleneck blocks (post- or pre-activation); ``groups``, ``width_per_group``: those,
  ``sk_bottleneck``, resnest and res2net blocks; ``sk_*``: ``sk_basic`` and ``sk_bottleneck``; ``radix``, ``avd``:
  resnest blocks; ``scale``: res2net blocks; ``aa`` (but ``none``): basic and bottleneck blocks (issue 18);
- ``shortcut_kernel``: the shortcut policies ``projection`` and ``projection_all``;
- ``dropout``: ``preact_basic`` blocks; ``group_width``, ``bottleneck_ratio``: ``regnet`` and
  ``preact_regnet`` blocks; ``linear_out: true``: post-activation blocks (issue 19);
- ``norm_groups``, ``norm_group_channels``: norm ``group`` or ``evonorm_s0``; ``act_negative_slope``: act
  ``leaky_relu``; ``std_eps``: conv ``std``;
  ``se_ratio``: attention ``se``; ``se_divisor``: attention ``se`` outside RegNet's blocks; ``eca_kernel``:
  attention ``eca``;
- ``shortcut_norm``: a projection shortcut policy and a norm;
- ``drop_path`` (other than 0): a residual add, in a network of more than one block.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Path = tuple[Any, ...]

BUILT_IN: dict[str, Any] = {"block": "basic", "shortcut": "projection", "norm": "batch", "act": "relu"}
BUILT_IN |= {"attention": "none", "conv": "plain"}
NORM_ACT = ("norm", "norm_groups", "norm_group_channels", "act", "act_negative_slope", "conv", "std_eps")
GROUP_SIZE = ("norm_groups", "norm_group_channels")
CHECKED = (
    "stride_on",
    "groups",
    "width_per_group",
    "dropout",
    "norm_groups",
    "norm_group_channels",
    "act_negative_slope",
    "std_eps",
    "se_ratio",
    "se_divisor",
    "eca_kernel",
    "shortcut_norm",
    "drop_path",
    # issue 18: selective kernels
    "sk_kernels",
    "sk_keep_3x3",
    "sk_split_input",
    "sk_rd_ratio",
    "sk_rd_divisor",
    "group_width",
    "bottleneck_ratio",
    "linear_out",
    # family: anti-aliasing and split attention (issue 18)
    "radix",
    "avd",
    "aa",
    # family: Res2Net (issue 18); shortcut_kernel: projection shortcuts only
    "scale",
    "shortcut_kernel",
)
"""The settings some blocks cannot use (every other block setting applies to every block)."""
PROJECTIONS = ("projection", "projection_all", "avgpool_projection")


@dataclass
class Part:
    """A block (``stage``, ``index``) or the stem (``stage`` None): its settings and where each was set."""

    stage: int | None
    index: int
    values: dict[str, Any]
    origin: dict[str, Path]


def _layer(scopes: list[tuple[Mapping[str, Any], Path]], keys: Any) -> tuple[dict[str, Any], dict[str, Path]]:
    values: dict[str, Any] = {}
    origin: dict[str, Path] = {}
    for scope, where in scopes:
        if any(k in scope for k in GROUP_SIZE):
            for k in GROUP_SIZE:
                values.pop(k, None)
                origin.pop(k, None)
        for key in keys:
            if key in scope:
                values[key], origin[key] = scope[key], (*where, key)
    return {**{k: BUILT_IN.get(k) for k in keys}, **values}, origin


def _chosen(stage: Mapping[str, Any]) -> dict[int, int]:
    """Block index → the entry that chooses it (the first to name it)."""
    depth, out = stage["depth"], {}
    for k, entry in enumerate(stage.get("blocks", [])):
        at = entry["at"] if isinstance(entry["at"], list) else [entry["at"]]
        for j in at:
            if -depth <= j < depth:
                out.setdefault(j % depth, k)
    return out


def parts(spec: Mapping[str, Any]) -> list[Part]:
    """The stem, then every block of the network in order."""
    defaults = spec.get("defaults", {})
    keys = set(BUILT_IN) | set(CHECKED) | {"expansion", "conv_bias"} | set(NORM_ACT)
    values, origin = _layer([(defaults, ("defaults",)), (spec.get("stem", {}), ("stem",))], NORM_ACT)
    out = [Part(None, 0, values, origin)]
    for i, stage in enumerate(spec["stages"]):
        chosen = _chosen(stage)
        for j in range(stage["depth"]):
            scopes = [(defaults, ("defaults",)), (stage, ("stages", i))]
            if j in chosen:
                scopes.append((stage["blocks"][chosen[j]], ("stages", i, "blocks", chosen[j])))
            values, origin = _layer(scopes, keys)
            out.append(Part(i, j, values, origin))
    return out


def uses(part: Part, key: str, blocks: int) -> bool:
    """Whether ``part`` (of a network of ``blocks`` blocks) uses its value of ``key``."""
    v = part.values
    if part.stage is None:  # the stem takes only norm and act settings
        return key not in NORM_ACT or _norm_act_used(v, key)
    kind = v["block"]
    if key == "stride_on":
        return kind in ("bottleneck", "preact_bottleneck")
    if key in ("groups", "width_per_group"):
        return kind in ("bottleneck", "preact_bottleneck", "sk_bottleneck", "resnest", "res2net")
    if key.startswith("sk_"):
        return kind in ("sk_basic", "sk_bottleneck")
    if key in ("radix", "avd"):
        return kind == "resnest"
    if key == "scale":
        return kind == "res2net"
    if key == "shortcut_kernel":
        return v["shortcut"] in ("projection", "projection_all")
    if key == "aa":
        return v["aa"] == "none" or kind in ("basic", "bottleneck")
    if key == "dropout":
        return kind == "preact_basic"
    if key in ("group_width", "bottleneck_ratio"):  # RegNet (issue 19)
        return kind in ("regnet", "preact_regnet")
    if key == "linear_out":  # RegNet Z (issue 19): nothing follows a pre-activation block's add
        return v["linear_out"] is not True or not kind.startswith("preact_")
    if key in NORM_ACT:
        return _norm_act_used(v, key)
    if key == "se_ratio":
        return v["attention"] == "se"
    if key == "se_divisor":  # a RegNet block's SE width is a ratio of its input width (issue 19)
        return v["attention"] == "se" and kind not in ("regnet", "preact_regnet")
    if key == "eca_kernel":
        return v["attention"] == "eca"
    if key == "shortcut_norm":
        return v["shortcut"] in PROJECTIONS and v["norm"] != "none"
    if key == "drop_path":
        return v["drop_path"] == 0 or (v["shortcut"] != "none" and blocks > 1)
    return True


def _norm_act_used(v: Mapping[str, Any], key: str) -> bool:
    if key in GROUP_SIZE:
        return v["norm"] in ("group", "evonorm_s0")
    if key == "std_eps":
        return bool(v["conv"] == "std")
    if key == "act_negative_slope":
        return bool(v["act"] == "leaky_relu")
    return True


def written(spec: Mapping[str, Any]) -> Iterator[Path]:
    """The path of every checked setting the spec writes."""
    scopes: list[tuple[Mapping[str, Any], Path]] = [(spec.get("defaults", {}), ("defaults",))]
    scopes.append((spec.get("stem", {}), ("stem",)))
    for i, stage in enumerate(spec["stages"]):
        scopes.append((stage, ("stages", i)))
        scopes += [(e, ("stages", i, "blocks", k)) for k, e in enumerate(stage.get("blocks", []))]
    for scope, where in scopes:
        for key in CHECKED:
            if key in scope:
                yield (*where, key)


def reached_and_used(spec: Mapping[str, Any]) -> tuple[set[Path], set[Path]]:
    """(the written checked settings that reach something, those that some part they reach uses)."""
    all_parts = parts(spec)
    blocks = len(all_parts) - 1
    reached: set[Path] = set()
    used: set[Path] = set()
    for part in all_parts:
        for key, path in part.origin.items():
            if key not in CHECKED:
                continue
            reached.add(path)
            if uses(part, key, blocks):
                used.add(path)
    return reached, used


def unused(spec: Mapping[str, Any]) -> set[Path]:
    """The written settings that reach something and that nothing they reach uses."""
    reached, used = reached_and_used(spec)
    return reached - used
