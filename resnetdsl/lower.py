"""Spec → Plan: defaults resolved, widths and strides worked out, shortcuts chosen, every module named.

All semantic problems are collected and raised together as one :class:`SpecError`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from resnetdsl import blocks as B
from resnetdsl.errors import Issue, Path, SpecError, format_path
from resnetdsl.features import with_features
from resnetdsl.plan import (
    Block,
    Conv,
    Dropout,
    Flatten,
    GlobalPool,
    Linear,
    Norm,
    NormAct,
    Op,
    Plan,
    Pool,
    Stage,
)
from resnetdsl.spec import MAX_BLOCKS, BlockSettings, NormActSettings, Spec, Stem

BUILTIN_DEFAULTS: dict[str, Any] = {
    "block": "basic",
    "shortcut": "projection",
    "stride_on": None,  # bottleneck: 3x3
    "groups": None,  # bottleneck: 1
    "width_per_group": None,  # bottleneck: 64
    "expansion": None,  # per block kind
    "conv_bias": False,
    "shortcut_norm": None,  # true; false for pre-activation blocks
    "dropout": None,  # preact_basic: none
    "norm": "batch",
    "norm_groups": None,  # group norm: 32, unless norm_group_channels is set
    "norm_group_channels": None,
    "act": "relu",
    "act_negative_slope": None,  # leaky_relu: 0.01
    "attention": "none",
    "se_ratio": None,  # se: 1/16
    "se_divisor": None,  # se: 8
    "eca_kernel": None,  # eca: from the channels
    "drop_path": None,  # 0
}
RESERVED_NAMES = frozenset(
    # public attributes of torch.nn.Module and of the built model: a stage of that name could not be registered
    "T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda double "
    "dump_patches "
    "eval extra_repr float forward forward_features forward_head get_buffer get_extra_state get_parameter "
    "get_submodule half ipu load_state_dict modules mtia named_buffers named_children named_modules "
    "named_parameters num_classes num_features parameters plan register_backward_hook register_buffer "
    "register_forward_hook register_forward_pre_hook register_full_backward_hook "
    "register_full_backward_pre_hook register_load_state_dict_post_hook register_load_state_dict_pre_hook "
    "register_module register_parameter register_state_dict_post_hook register_state_dict_pre_hook "
    "requires_grad_ set_extra_state set_submodule share_memory state_dict to to_empty train training type "
    "xpu zero_grad".split()
)
"""Names a stage may not take (checked without importing torch; the builder checks again against the live
torch, whose attributes may grow)."""
_BOTTLENECK_ONLY = ("stride_on", "groups", "width_per_group")


class _Issues:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.items: list[Issue] = []

    def add(self, path: Path, message: str, *, key: bool = False) -> None:
        src = self.spec._source
        mark = src.mark_for(path, key=key) if src is not None else None
        self.items.append(Issue(path, message, mark))


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
    values: dict[str, Any] = dict(BUILTIN_DEFAULTS)
    origin: dict[str, Path] = {}
    scopes: list[tuple[BlockSettings, Path]] = [(spec.defaults, ("defaults",)), (stage, ("stages", index))]
    if override is not None:
        scopes.append((stage.blocks[override], ("stages", index, "blocks", override)))
    for scope, where in scopes:
        if scope.norm_groups is not None or scope.norm_group_channels is not None:
            # the two ways of sizing a group norm are one setting: a narrower scope replaces both
            for key in _GROUP_SIZE:
                values[key] = None
                origin.pop(key, None)
        for key in BlockSettings.model_fields:
            v = getattr(scope, key)
            if v is not None:
                values[key] = v
                origin[key] = (*where, key)
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
    values = {key: BUILTIN_DEFAULTS[key] for key in NormActSettings.model_fields}
    origin: dict[str, Path] = {}
    for layer, at in ((spec.defaults, ("defaults",)), (scope, where)):
        if layer.norm_groups is not None or layer.norm_group_channels is not None:
            for key in _GROUP_SIZE:
                values[key] = None
                origin.pop(key, None)
        for key in NormActSettings.model_fields:
            v = getattr(layer, key)
            if v is not None:
                values[key] = v
                origin[key] = (*at, key)
    return values, origin


def _stem_reduction(spec: Spec) -> int:
    """How much the stem downsamples: 2 for its strided conv (not the CIFAR stem), 2 more for its pool."""
    st = spec.stem
    pool = st.pool or ("none" if st.kind == "conv3" else "max")
    return (1 if st.kind == "conv3" else 2) * (1 if pool == "none" else 2)


def _strides_and_dilations(spec: Spec, issues: _Issues) -> list[tuple[int, int, int]]:
    """Per stage: (stride of its first block, dilation of its first block's first 3×3, dilation of its other
    3×3 convs).

    timm's ``make_blocks`` and torchvision's ``_make_layer``: once the stem and the stages before have reduced
    the input by ``output_stride``, a stage's stride becomes 1 and multiplies the dilation instead; a stage's
    first block keeps the previous stage's dilation in its first 3×3 conv. A stage's own ``dilation`` replaces
    the one it would get; the dilation carries on to the stages after.
    """
    target = spec.output_stride
    net = _stem_reduction(spec)
    reached = [net]
    dilation = 1
    out: list[tuple[int, int, int]] = []
    for st in spec.stages:
        stride, new = st.stride, dilation
        if target is not None and net >= target:
            stride, new = 1, dilation * st.stride
        else:
            net *= stride
            reached.append(net)
        if st.dilation is not None:
            new = st.dilation
        out.append((stride, dilation, new))
        dilation = new
    if target is not None and target not in reached:
        says = ", ".join(str(r) for r in dict.fromkeys(reached))
        issues.add(
            ("output_stride",),
            f"the network never reduces its input by exactly {target} (the stem and the stages reach {says}); "
            "choose one of those, or change the strides",
        )
    return out


def _backbone_checks(spec: Spec, issues: _Issues) -> None:
    """``features`` and ``frozen_stages`` must name stages the network has."""
    n = len(spec.stages)
    if spec.features is not None:
        idx = spec.features.out_indices
        for k, i in enumerate(idx):
            if i > n:
                issues.add(
                    ("features", "out_indices", k),
                    f"{i} is no feature map: 0 is the stem's, 1 to {n} the stages' (the network has {n} stages)",
                )
            elif k and i <= idx[k - 1]:
                issues.add(
                    ("features", "out_indices", k),
                    f"must be in increasing order without repeats (got {i} after {idx[k - 1]})",
                )
    if spec.frozen_stages is not None and spec.frozen_stages > n:
        issues.add(
            ("frozen_stages",),
            f"the network has {n} stage{'s' if n != 1 else ''}; freeze at most {n} (got {spec.frozen_stages})",
        )


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


def _stage_value(spec: Spec, index: int, key: str) -> Any:
    """A block setting of one stage: the stage's, else that of ``defaults``, else built-in."""
    st = spec.stages[index]
    return next((v for v in (getattr(st, key), getattr(spec.defaults, key)) if v is not None), BUILTIN_DEFAULTS[key])


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


def _inherited(spec: Spec, path: Path) -> bool:
    """The key at ``path`` was written in a base spec (through ``extends``), not in the spec's own file."""
    src = spec._source
    mark = src.mark_for(path, key=True) if src is not None else None
    # an override (`--set`) is the user's own word, as their file is
    return spec._via is not None and mark is not None and mark.file != spec._file and not _override(mark)


def _override(mark: Any) -> bool:
    from resnetdsl.load import is_override_mark

    return is_override_mark(mark)


def _effective(spec: Spec, key: str) -> set[Any]:
    """The values a block setting takes across the stages (stage, else defaults, else built-in)."""
    return {
        next((v for v in (getattr(st, key), getattr(spec.defaults, key)) if v is not None), BUILTIN_DEFAULTS[key])
        for st in spec.stages
    }


def _block_kinds(spec: Spec) -> list[str]:
    return [st.block or spec.defaults.block or BUILTIN_DEFAULTS["block"] for st in spec.stages]


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


def _stem_v2(spec: Spec) -> tuple[Op, ...]:
    """timm's ResNetV2 stem for pre-activation: ``stem.conv`` (or ``stem.conv1…conv3`` with BN + ReLU between
    them), then ``stem.pool``; no norm after the last conv (the first block pre-activates)."""
    st = spec.stem
    cin, w, bias = spec.input.channels, st.width, st.conv_bias
    ops: list[Op]
    if st.kind == "deep":
        m1, m2 = st.mid_widths or (w // 2, w // 2)
        m1, m2 = max(m1, 1), max(m2, 1)
        ops = [
            Conv("stem.conv1", cin, m1, 3, stride=2, padding=1, bias=bias),
            NormAct("stem.norm1", m1),
            Conv("stem.conv2", m1, m2, 3, stride=1, padding=1, bias=bias),
            NormAct("stem.norm2", m2),
            Conv("stem.conv3", m2, w, 3, stride=1, padding=1, bias=bias),
        ]
    else:
        k, s = (7, 2) if st.kind == "conv7" else (3, 1)
        ops = [Conv("stem.conv", cin, w, k, stride=s, padding=k // 2, bias=bias)]
    if (st.pool or ("none" if st.kind == "conv3" else "max")) == "max":
        ops.append(Pool("stem.pool", "max", 3, 2, padding=1))
    return tuple(ops)


def _final(spec: Spec, channels: int, last: B.BlockConfig) -> tuple[Op, ...]:
    """The final norm + activation of a pre-activation network (those of its last stage)."""
    if spec.layout == "resnetv2":
        return (NormAct("norm", channels),)
    return (*last.norm_act.norm_op("final_norm", channels), last.norm_act.act_op("final_act"))


def _head_v2(spec: Spec, channels: int) -> tuple[Op, ...]:
    """timm's ClassifierHead with ``use_conv``: pool (keeping 1×1), dropout, ``fc`` as a 1×1 conv, flatten."""
    h = spec.head
    assert h != "none"
    ops: tuple[Op, ...] = (GlobalPool("head.global_pool", h.pool),)
    if h.dropout > 0:
        ops += (Dropout("head.drop", h.dropout),)
    return (*ops, Conv("head.fc", channels, h.num_classes, 1, bias=h.bias), Flatten("head.flatten"))


def reserved_name_problem(name: str) -> str:
    """The message for a stage name that cannot be a module attribute (lowering and the builder say the same)."""
    return f"stage name '{name}' is an attribute of torch.nn.Module or the built model; choose another"


def _stem(spec: Spec, issues: _Issues) -> tuple[tuple[Op, ...], int]:
    st = spec.stem
    cin = spec.input.channels
    w = st.width
    bias = st.conv_bias
    na = _norm_act(_norm_act_values(spec, ("stem",))[0])
    ops: list[Op] = []
    if st.kind == "deep":
        m1, m2 = st.mid_widths or (w // 2, w // 2)
        if min(m1, m2) < 1:
            issues.add(("stem", "width"), f"a deep stem needs width >= 2 or explicit mid_widths (got {w})")
            m1, m2 = max(m1, 1), max(m2, 1)
        ops += [
            Conv("conv1.0", cin, m1, 3, stride=2, padding=1, bias=bias),
            *na.norm_op("conv1.1", m1),
            na.act_op("conv1.2"),
            Conv("conv1.3", m1, m2, 3, stride=1, padding=1, bias=bias),
            *na.norm_op("conv1.4", m2),
            na.act_op("conv1.5"),
            Conv("conv1.6", m2, w, 3, stride=1, padding=1, bias=bias),
        ]
    else:
        if st.mid_widths is not None:
            issues.add(("stem", "mid_widths"), f"applies only to the deep stem (this stem is '{st.kind}')", key=True)
        k, s = (7, 2) if st.kind == "conv7" else (3, 1)
        ops.append(Conv("conv1", cin, w, k, stride=s, padding=k // 2, bias=bias))
    ops += [*na.norm_op("bn1", w), na.act_op("act1")]
    pool = st.pool or ("none" if st.kind == "conv3" else "max")
    if pool == "max":
        ops.append(Pool("maxpool", "max", 3, 2, padding=1))
    elif pool == "conv":
        ops += [
            Conv("maxpool.0", w, w, 3, stride=2, padding=1, bias=bias),
            *na.norm_op("maxpool.1", w),
            na.act_op("maxpool.2"),
        ]
    return tuple(ops), w


def lower(spec: Spec) -> Plan:
    """Make every detail of ``spec`` explicit.

    Raises:
        SpecError: every semantic problem found (settings that do not apply, impossible widths, …).
    """
    plan, issues = lower_with_issues(spec)
    if issues:
        raise SpecError(issues)
    return plan


def lower_with_issues(spec: Spec) -> tuple[Plan, list[Issue]]:
    """:func:`lower`, returning the semantic problems instead of raising them.

    The plan is built even when there are problems, so that later checks (the analyzer's shapes) can still run
    and report theirs too; a plan that comes with problems must not be used for anything else.

    Raises:
        SpecError: a network too large to plan at all (more than ``MAX_BLOCKS`` blocks).
    """
    issues = _Issues(spec)
    total = sum(st.depth for st in spec.stages)
    if total > MAX_BLOCKS:  # before any work: the time to check a spec stays bounded
        issues.add(
            ("stages",),
            f"the stages hold {total:,} blocks in all; at most {MAX_BLOCKS:,} are supported (ResNet-1202 has 600)",
        )
        raise SpecError(issues.items)
    stem, channels = _stem(spec, issues)
    preact = _family(spec, issues)
    _layout_issues(spec, issues, preact)
    v2 = spec.layout == "resnetv2"
    if v2:
        stem = _stem_v2(spec)
    elif preact:  # the first block pre-activates the stem's output
        stem = tuple(op for op in stem if op.name not in ("bn1", "act1"))
    stages: list[Stage] = []
    names: dict[str, int] = {}
    _family_checks(spec, issues)
    total_blocks = sum(st.depth for st in spec.stages)
    block_index = 0
    geometry = _strides_and_dilations(spec, issues)
    for i, st in enumerate(spec.stages):
        cfg = _resolve(spec, i, issues)
        stage_stride, prev_dilation, dilation = geometry[i]
        cfg = replace(cfg, dilation=dilation)
        name = f"stages.{i}" if v2 else st.name or f"layer{i + 1}"
        if name in names:
            issues.add(("stages", i, "name"), f"duplicate stage name '{name}' (also stages[{names[name]}])")
        names[name] = i
        chosen = _overrides(spec, i, issues)
        configs = {
            k: replace(_resolve(spec, i, issues, override=k), dilation=dilation) for k in sorted(set(chosen.values()))
        }
        blocks: list[Block] = []
        stage_in = channels
        stage_cfg = cfg
        for j in range(st.depth):
            k = chosen.get(j)
            over = st.blocks[k] if k is not None else None
            cfg = configs[k] if k is not None else stage_cfg
            if k is not None and (cfg.block in B.PREACT) != preact:
                issues.add(
                    ("stages", i, "blocks", k, "block"),
                    f"'{cfg.block}' mixes pre- and post-activation blocks in one network; "
                    f"use {'preact_' if preact else ''}{cfg.block.removeprefix('preact_')}",
                )
            stride = over.stride if over is not None and over.stride is not None else stage_stride if j == 0 else 1
            width = over.width if over is not None and over.width is not None else st.width
            bcfg = replace(cfg, first_dilation=prev_dilation) if j == 0 else cfg
            ops = B.BLOCKS[bcfg.block](bcfg, channels, width, stride)
            use, sc_ops = B.shortcut(bcfg, channels, ops.out_channels, stride)
            sc_ops = B.layout_shortcut(cfg, use, sc_ops)
            if use != "none":
                ops = B.with_drop_path(ops, B.drop_path_rate(cfg.drop_path, block_index, total_blocks))
            block_index += 1
            if use == "pad" and ops.out_channels < channels:
                where = ("stages", i, "shortcut") if st.shortcut else ("defaults", "shortcut")
                issues.add(
                    where,
                    f"'identity_pad' cannot shrink channels ({channels} → {ops.out_channels} in "
                    f"{name}.{j}); use 'projection'",
                )
            blocks.append(
                Block(
                    name=f"blocks.{j}" if v2 else str(j),
                    kind=cfg.block,
                    in_channels=channels,
                    mid_channels=ops.mid_channels,
                    out_channels=ops.out_channels,
                    stride=stride,
                    groups=cfg.groups,
                    shortcut=use,
                    main=ops.main,
                    shortcut_ops=sc_ops,
                    post=ops.post,
                    pre=ops.pre,
                    shortcut_from_pre=bool(ops.pre) and B.shortcut_reads_pre(use),
                )
            )
            channels = ops.out_channels
        kinds = list(dict.fromkeys(b.kind for b in blocks))
        stages.append(
            Stage(
                name,
                i,
                "+".join(kinds),
                stage_in,
                channels,
                stage_stride,
                tuple(blocks),
                dilation=dilation,
                checkpoint=st.checkpoint,
            )
        )
        cfg = stage_cfg
    final = _final(spec, channels, cfg) if preact else ()
    _group_norm_checks(spec, stem, stages, issues)
    head: tuple[Op, ...] = ()
    num_classes: int | None = None
    if spec.head != "none" and v2:
        head, num_classes = _head_v2(spec, channels), spec.head.num_classes
    elif spec.head != "none":
        h = spec.head
        head = (GlobalPool("global_pool", h.pool), Flatten("flatten"))
        if h.dropout > 0:
            head += (Dropout("dropout", h.dropout),)
        head += (Linear("fc", channels, h.num_classes, bias=h.bias),)
        num_classes = h.num_classes
    parts = (("stem", stem), ("final", final), ("head", head))
    taken = {op.name.partition(".")[0]: part for part, ops in parts for op in ops}
    for i, st in enumerate(spec.stages):
        if st.name is not None and st.name in RESERVED_NAMES:
            issues.add(
                ("stages", i, "name"),
                reserved_name_problem(st.name),
            )
        elif st.name in ("stem", "head") and st.name not in taken:
            issues.add(
                ("stages", i, "name"),
                f"stage name '{st.name}' is how summaries and diagrams name the layers "
                f"{'before' if st.name == 'stem' else 'after'} the stages; choose another",
            )
        elif st.name is not None and st.name in taken:
            issues.add(
                ("stages", i, "name"),
                f"stage name '{st.name}' is taken by the {taken[st.name]} module '{st.name}'; choose another",
            )
    if spec.init.zero_init_residual:
        plain = [st for st in stages if any(not b.has_add for b in st.blocks)]
        if plain:
            which = ", ".join(f"stages[{st.index}]" for st in plain[:3]) + (", …" if len(plain) > 3 else "")
            issues.add(
                ("init", "zero_init_residual"),
                f"would zero the output of every block without a shortcut ({which} "
                f"use{'s' if len(plain) == 1 else ''} shortcut 'none'), "
                "so nothing reaches the head; set it to false or give those stages a shortcut",
            )
    plan = Plan(
        name=spec.name,
        description=spec.description,
        in_channels=spec.input.channels,
        input_size=spec.input.size,
        stem=stem,
        stages=tuple(stages),
        head=head,
        num_classes=num_classes,
        zero_init_residual=spec.init.zero_init_residual,
        final=final,
        layout=spec.layout,
        frozen_stages=spec.frozen_stages,
        norm_eval=spec.norm_eval,
    )
    _backbone_checks(spec, issues)
    if spec.norm_eval and not any(isinstance(op, Norm | NormAct) and op.kind == "batch" for _, op in plan.named_ops()):
        issues.add(("norm_eval",), "has no effect: the network has no batch norm")
    if spec.features is not None and not any(i.path[:1] == ("features",) for i in issues.items):
        plan = with_features(plan, spec.features.out_indices)
    return plan, issues.items
