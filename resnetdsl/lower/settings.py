"""Block settings: resolving defaults, stages and per-block overrides into a BlockConfig, and every check of a
setting that cannot apply."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from resnetdsl import blocks as B
from resnetdsl.errors import Path, format_path
from resnetdsl.lower.common import BUILTIN_DEFAULTS, _block_kinds, _effective, _inherited, _Issues, _stage_value
from resnetdsl.plan import (
    Norm,
    Op,
    Stage,
)
from resnetdsl.spec import BlockSettings, NormActSettings, Spec, Stem

_BOTTLENECK_ONLY = ("stride_on", "groups", "width_per_group")


def _resolve(spec: Spec, index: int, issues: _Issues, override: int | None = None) -> B.BlockConfig:
    """The settings of stage ``index``'s blocks, or of the blocks its override ``blocks[override]`` chooses.

    Problems of the settings are added to ``issues``; for an override, only those of the override's own keys
    (the stage's were reported when the stage was resolved).
    """
    if override is not None:
        own = _Issues(spec)
        cfg = _resolve_scopes(spec, index, own, override)
        prefix = ("stages", index, "blocks", override)
        issues.items += [i for i in own.items if i.path[:4] == prefix]
        return cfg
    return _resolve_scopes(spec, index, issues, None)


def _overrides(spec: Spec, index: int, issues: _Issues) -> dict[int, int]:
    """Block index → the index of the override (``stages[index].blocks[k]``) that chooses it."""
    stage = spec.stages[index]
    chosen: dict[int, int] = {}
    for k, over in enumerate(stage.blocks):
        at = ("stages", index, "blocks", k, "at")
        wanted = (over.at,) if isinstance(over.at, int) else over.at
        if not wanted:
            issues.add(at, "must name at least one block")
        for n, j in enumerate(wanted):
            where = at if isinstance(over.at, int) else (*at, n)
            if not -stage.depth <= j < stage.depth:
                issues.add(
                    where,
                    f"no block {j} in a stage of {stage.depth} block{'s' if stage.depth != 1 else ''} "
                    f"(0…{stage.depth - 1}, or -{stage.depth}…-1 from the end)",
                )
                continue
            block = j % stage.depth
            if block in chosen:
                issues.add(where, f"block {block} is already chosen by stages[{index}].blocks[{chosen[block]}]")
                continue
            chosen[block] = k
        if not (over.model_fields_set - {"at"}):
            issues.add(("stages", index, "blocks", k), "sets nothing but 'at'; give a setting, width or stride")
    return chosen


def _scope_words(path: Path) -> str:
    """``stages[1]`` or ``stages[1].blocks[0]``: the scope a setting at ``path`` was written in."""
    return format_path(path[:4] if path[2:3] == ("blocks",) else path[:2])


def _resolve_scopes(spec: Spec, index: int, issues: _Issues, override: int | None) -> B.BlockConfig:
    stage = spec.stages[index]
    scopes: list[tuple[Any, Path]] = [(spec.defaults, ("defaults",)), (stage, ("stages", index))]
    if override is not None:
        scopes.append((stage.blocks[override], ("stages", index, "blocks", override)))
    values, origin = _layered(scopes, BlockSettings.model_fields)
    # a setting a base spec made (through `extends`) that does not apply to what this spec chose is dropped,
    # not blamed on the user: they did not write it, and cannot unset it
    origin = {k: p for k, p in origin.items() if not _inherited(spec, p)}
    kind = values["block"]
    if kind in B.BASIC_KINDS:
        for key in _BOTTLENECK_ONLY:
            if key not in origin:
                continue
            if origin[key][0] == "stages":
                issues.add(
                    origin[key], f"applies only to bottleneck blocks ({_scope_words(origin[key])} uses {kind} blocks)"
                )
            elif index == 0 and (kinds := _effective(spec, "block")) <= B.BASIC_KINDS:
                said = "/".join(sorted(kinds))
                issues.add(origin[key], f"applies only to bottleneck blocks (every stage uses {said} blocks)")
    if "dropout" in origin and kind != "preact_basic":
        fix = "; use block: preact_basic (head.dropout drops before the classifier)"
        if origin["dropout"][0] == "stages":
            issues.add(
                origin["dropout"],
                f"applies only to preact_basic blocks, between their two 3×3 convs ({_scope_words(origin['dropout'])}"
                f" uses {kind} blocks){fix}",
            )
        elif index == 0 and "preact_basic" not in _effective(spec, "block"):
            issues.add(
                origin["dropout"],
                f"applies only to preact_basic blocks, between their two 3×3 convs (no stage uses them){fix}",
            )
    cfg = B.BlockConfig(
        block=kind,
        shortcut=values["shortcut"],
        stride_on=values["stride_on"] or "3x3",
        groups=values["groups"] or 1,
        width_per_group=values["width_per_group"] or 64,
        expansion=values["expansion"] or B.EXPANSION[kind],
        conv_bias=values["conv_bias"],
        shortcut_norm=values["shortcut_norm"] if values["shortcut_norm"] is not None else kind not in B.PREACT,
        zero_init=spec.init.zero_init_residual,
        dropout=values["dropout"] or 0.0,
        layout=spec.layout,
        norm_act=_norm_act(values),
        attention=values["attention"],
        se_ratio=values["se_ratio"] if values["se_ratio"] is not None else 1.0 / 16,
        se_divisor=values["se_divisor"] or 8,
        eca_kernel=values["eca_kernel"],
        drop_path=values["drop_path"] or 0.0,
    )
    width_at: Path = ("stages", index, "width")
    width = stage.width
    if override is not None and stage.blocks[override].width is not None:
        width, width_at = stage.blocks[override].width or width, ("stages", index, "blocks", override, "width")
    if kind in ("bottleneck", "preact_bottleneck") and B.bottleneck_mid(cfg, width) < 1:
        issues.add(
            width_at,
            f"inner width int({width} × {cfg.width_per_group} / 64) × {cfg.groups} is 0; "
            "raise width or width_per_group",
        )
    if override is not None:
        for option, (setting, wanted) in _ONLY_FOR.items():
            if option in origin and origin[option][2:3] == ("blocks",) and values[setting] != wanted:
                issues.add(
                    origin[option],
                    f"applies only to {setting} '{wanted}' ({_scope_words(origin[option])} uses {setting} "
                    f"'{values[setting]}')",
                    key=True,
                )
    if "shortcut_norm" in origin and cfg.shortcut in _NO_PROJECTION:
        # set on this stage: it must matter here; set in defaults: it must matter in some stage
        if origin["shortcut_norm"][0] == "stages":  # on this stage or one of its overrides
            issues.add(origin["shortcut_norm"], f"has no effect with shortcut '{cfg.shortcut}'")
        elif index == 0 and (kinds := _effective(spec, "shortcut")) <= _NO_PROJECTION:
            said = f"with shortcut '{cfg.shortcut}'" if len(kinds) == 1 else "(no stage uses a projection shortcut)"
            issues.add(origin["shortcut_norm"], f"has no effect {said}")
    return cfg


_NO_PROJECTION = frozenset({"identity_pad", "none"})
_GROUP_SIZE = ("norm_groups", "norm_group_channels")
_ONLY_FOR: dict[str, tuple[str, str]] = {
    "norm_groups": ("norm", "group"),
    "norm_group_channels": ("norm", "group"),
    "act_negative_slope": ("act", "leaky_relu"),
    "se_ratio": ("attention", "se"),
    "se_divisor": ("attention", "se"),
    "eca_kernel": ("attention", "eca"),
}
"""Options that apply only where a setting has one value."""


def _norm_act(values: dict[str, Any]) -> B.NormActConfig:
    slope = values["act_negative_slope"]
    return B.NormActConfig(
        norm=values["norm"],
        groups=values["norm_groups"],
        group_channels=values["norm_group_channels"],
        act=values["act"],
        negative_slope=slope if slope is not None else 0.01,
    )


def _norm_act_values(spec: Spec, where: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    """Norm/act settings of the stem (``("stem",)``) or of a stage (``("stages", i)``): its own, else those of
    ``defaults``, else built-in; and the path where each was set. ``norm_groups`` and ``norm_group_channels`` are
    one setting: a narrower scope that sets either replaces both."""
    scope: NormActSettings = spec.stem if where == ("stem",) else spec.stages[int(where[1])]
    return _layered([(spec.defaults, ("defaults",)), (scope, where)], NormActSettings.model_fields)


def _layered(scopes: list[tuple[Any, Path]], keys: Iterable[str]) -> tuple[dict[str, Any], dict[str, Path]]:
    """Settings ``keys`` through ``scopes`` (widest first; a narrower scope's value wins): the values, built-in
    ones where no scope sets them, and the path where each was set."""
    values: dict[str, Any] = {key: BUILTIN_DEFAULTS.get(key) for key in keys}
    origin: dict[str, Path] = {}
    for scope, where in scopes:
        if scope.norm_groups is not None or scope.norm_group_channels is not None:
            # the two ways of sizing a group norm are one setting: a narrower scope replaces both
            for key in _GROUP_SIZE:
                values[key] = None
                origin.pop(key, None)
        for key in keys:
            v = getattr(scope, key)
            if v is not None:
                values[key] = v
                origin[key] = (*where, key)
    return values, origin


def _family_checks(spec: Spec, issues: _Issues) -> None:
    """Norm, activation, attention and stochastic-depth options that cannot apply where they are set."""
    stem_values, _ = _norm_act_values(spec, ("stem",))
    scopes: list[tuple[Path, Stem | BlockSettings]] = [(("defaults",), spec.defaults), (("stem",), spec.stem)]
    scopes += [(("stages", i), st) for i, st in enumerate(spec.stages)]
    for at, scope in scopes:
        if scope.norm_groups is not None and scope.norm_group_channels is not None:
            message = "set either norm_groups or norm_group_channels, not both"
            issues.add((*at, "norm_group_channels"), message, key=True)
    for option, (setting, wanted) in _ONLY_FOR.items():
        says = f"applies only to {setting} '{wanted}'"
        uses = [_stage_value(spec, i, setting) for i in range(len(spec.stages))]
        for i, st in enumerate(spec.stages):
            if getattr(st, option) is not None and uses[i] != wanted:
                issues.add(("stages", i, option), f"{says} (stages[{i}] uses {setting} '{uses[i]}')", key=True)
        stem_too = option in NormActSettings.model_fields
        if stem_too and getattr(spec.stem, option) is not None and stem_values[setting] != wanted:
            issues.add(("stem", option), f"{says} (the stem uses {setting} '{stem_values[setting]}')", key=True)
        if getattr(spec.defaults, option) is not None and wanted not in uses:
            if not stem_too:
                issues.add(("defaults", option), f"{says} (no stage uses it)", key=True)
            elif stem_values[setting] != wanted:
                issues.add(("defaults", option), f"{says} (neither the stem nor any stage uses it)", key=True)
    for at, scope in scopes:
        kernel = getattr(scope, "eca_kernel", None)
        if kernel is not None and kernel % 2 == 0:
            issues.add((*at, "eca_kernel"), f"must be odd, so that the conv keeps the channel count (got {kernel})")
    norms = [_stage_value(spec, i, "norm") for i in range(len(spec.stages))]
    shortcuts = [_stage_value(spec, i, "shortcut") for i in range(len(spec.stages))]
    for i, st in enumerate(spec.stages):
        if st.shortcut_norm is not None and norms[i] == "none":
            issues.add(("stages", i, "shortcut_norm"), "has no effect with norm 'none'")
        if st.drop_path and shortcuts[i] == "none":
            issues.add(
                ("stages", i, "drop_path"), f"has no effect without a residual add (stages[{i}] uses shortcut 'none')"
            )
    if spec.defaults.shortcut_norm is not None and set(norms) == {"none"}:
        issues.add(("defaults", "shortcut_norm"), "has no effect with norm 'none' (every stage uses it)")
    if spec.defaults.drop_path and set(shortcuts) == {"none"}:
        issues.add(("defaults", "drop_path"), "has no effect without a residual add (every stage uses shortcut 'none')")
    elif spec.defaults.drop_path and sum(st.depth for st in spec.stages) == 1:
        issues.add(
            ("defaults", "drop_path"), "has no effect in a network of one block (the first block's rate is always 0)"
        )
    if spec.init.zero_init_residual and set(norms) == {"none"}:
        issues.add(("init", "zero_init_residual"), "has no effect with norm 'none' (no residual branch ends in a norm)")


def _group_norm_checks(spec: Spec, plan_stem: tuple[Op, ...], stages: list[Stage], issues: _Issues) -> None:
    """Every group norm's groups must divide its channels; one issue per place the sizing was set."""
    stem_values, stem_origin = _norm_act_values(spec, ("stem",))
    parts: list[tuple[str, dict[str, Any], dict[str, Path], list[tuple[str, Op]]]] = [
        ("the stem", stem_values, stem_origin, [(op.name, op) for op in plan_stem])
    ]
    for st in stages:
        values, origin = _norm_act_values(spec, ("stages", st.index))
        ops = [(f"{st.name}.{b.name}.{op.name}", op) for b in st.blocks for op in b.ops()]
        parts.append((f"stages[{st.index}]", values, origin, ops))
    reported: set[Path] = set()
    for part, values, origin, ops in parts:
        gc = values["norm_group_channels"]
        for path, op in ops:
            if not (isinstance(op, Norm) and op.kind == "group"):
                continue
            c = op.channels
            if gc is not None and c % gc == 0:
                continue
            if gc is None and c % op.groups == 0:
                continue
            key = "norm_group_channels" if gc is not None else "norm_groups"
            where = origin.get(key) or origin.get("norm") or ("defaults", "norm")
            if where in reported:
                break
            reported.add(where)
            place = f"{path} ({part})" if where[0] != "stages" else path
            if gc is not None:
                msg = f"{gc} channels per group do not divide the {c} channels of {place}; choose a divisor of {c}"
            else:
                default = "" if "norm_groups" in origin else "the default "
                msg = (
                    f"{default}{op.groups} groups do not divide the {c} channels of {place}; "
                    f"set norm_groups to a divisor of {c}, or norm_group_channels"
                )
            issues.add(where, msg)
            break


def _family(spec: Spec, issues: _Issues) -> bool:
    """Whether the network is pre-activation (its first stage's blocks); mixing the two families is an error,
    since the stem and the network's end depend on it."""
    kinds = _block_kinds(spec)
    preact = kinds[0] in B.PREACT
    for i, kind in enumerate(kinds):
        if (kind in B.PREACT) == preact:
            continue
        if spec.stages[i].block is not None:
            at: Path = ("stages", i, "block")
            this, other = kind, f"stages[0] uses '{kinds[0]}'"
        else:  # stage i inherits the default; stage 0 set its own kind
            at = ("stages", 0, "block")
            this, other = kinds[0], f"stages[{i}] uses '{kind}'"
        fam = "pre" if this in B.PREACT else "post"
        issues.add(
            at,
            f"'{this}' is a {fam}-activation block but {other}; a network's blocks are all pre-activation or "
            "all post-activation (the stem and the network's end depend on it)",
        )
        break
    return preact


def _layout_issues(spec: Spec, issues: _Issues, preact: bool) -> None:
    """Settings timm's ResNetV2 module names cannot express."""
    if spec.layout != "resnetv2":
        return
    if not preact:
        kind = _block_kinds(spec)[0]
        issues.add(
            ("layout",),
            f"'resnetv2' names pre-activation networks only (stages[0] uses {kind} blocks); "
            f"use block: preact_{kind}, or layout: resnet",
        )
    for i, st in enumerate(spec.stages):
        if st.name is not None:
            issues.add(
                ("stages", i, "name"),
                "cannot be set with layout 'resnetv2', whose stages are stages.0, stages.1, …; "
                "remove it, or use layout: resnet",
            )
    scopes: list[tuple[Path, Stem | BlockSettings]] = [(("defaults",), spec.defaults), (("stem",), spec.stem)]
    scopes += [(("stages", i), st) for i, st in enumerate(spec.stages)]
    for at, scope in scopes:
        for key, plain in (("norm", "batch"), ("act", "relu")):
            value = getattr(scope, key)
            if value is not None and value != plain:
                issues.add(
                    (*at, key),
                    f"must be '{plain}' with layout 'resnetv2' (timm's BatchNormAct2d names batch norm + ReLU "
                    f"only; got '{value}'); use layout: resnet",
                )
    if spec.stem.pool == "conv":
        issues.add(
            ("stem", "pool"),
            "'conv' has no module name in timm's ResNetV2 stem (layout 'resnetv2'); use max or none, or layout: resnet",
        )
