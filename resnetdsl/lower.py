"""Spec → Plan: defaults resolved, widths and strides worked out, shortcuts chosen, every module named.

All semantic problems are collected and raised together as one :class:`SpecError`.
"""

from __future__ import annotations

from typing import Any

from resnetdsl import blocks as B
from resnetdsl.errors import Issue, Path, SpecError
from resnetdsl.plan import Block, Conv, Dropout, Flatten, GlobalPool, Linear, Norm, Op, Plan, Pool, Stage
from resnetdsl.spec import BlockSettings, NormActSettings, Spec, Stem

BUILTIN_DEFAULTS: dict[str, Any] = {
    "block": "basic",
    "shortcut": "projection",
    "stride_on": None,  # bottleneck: 3x3
    "groups": None,  # bottleneck: 1
    "width_per_group": None,  # bottleneck: 64
    "expansion": None,  # per block kind
    "conv_bias": False,
    "shortcut_norm": True,
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


def _resolve(spec: Spec, index: int, issues: _Issues) -> B.BlockConfig:
    stage = spec.stages[index]
    values: dict[str, Any] = dict(BUILTIN_DEFAULTS)
    origin: dict[str, Path] = {}
    for scope, where in ((spec.defaults, ("defaults",)), (stage, ("stages", index))):
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
    kind = values["block"]
    if kind == "basic":
        for key in _BOTTLENECK_ONLY:
            if key not in origin:
                continue
            if origin[key][0] == "stages":
                issues.add(origin[key], f"applies only to bottleneck blocks (stages[{index}] uses basic blocks)")
            elif index == 0 and _effective(spec, "block") == {"basic"}:
                issues.add(origin[key], "applies only to bottleneck blocks (every stage uses basic blocks)")
    cfg = B.BlockConfig(
        block=kind,
        shortcut=values["shortcut"],
        stride_on=values["stride_on"] or "3x3",
        groups=values["groups"] or 1,
        width_per_group=values["width_per_group"] or 64,
        expansion=values["expansion"] or B.EXPANSION[kind],
        conv_bias=values["conv_bias"],
        shortcut_norm=values["shortcut_norm"],
        zero_init=spec.init.zero_init_residual,
        norm_act=_norm_act(values),
        attention=values["attention"],
        se_ratio=values["se_ratio"] if values["se_ratio"] is not None else 1.0 / 16,
        se_divisor=values["se_divisor"] or 8,
        eca_kernel=values["eca_kernel"],
        drop_path=values["drop_path"] or 0.0,
    )
    if kind == "bottleneck" and B.bottleneck_mid(cfg, stage.width) < 1:
        issues.add(
            ("stages", index, "width"),
            f"inner width int({stage.width} × {cfg.width_per_group} / 64) × {cfg.groups} is 0; "
            "raise width or width_per_group",
        )
    if "shortcut_norm" in origin and cfg.shortcut in _NO_PROJECTION:
        # set on this stage: it must matter here; set in defaults: it must matter in some stage
        if origin["shortcut_norm"][0] == "stages":
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


def _norm_act(values: dict[str, Any]) -> B.NormAct:
    slope = values["act_negative_slope"]
    return B.NormAct(
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


def _effective(spec: Spec, key: str) -> set[Any]:
    """The values a block setting takes across the stages (stage, else defaults, else built-in)."""
    return {
        next((v for v in (getattr(st, key), getattr(spec.defaults, key)) if v is not None), BUILTIN_DEFAULTS[key])
        for st in spec.stages
    }


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
    """
    issues = _Issues(spec)
    stem, channels = _stem(spec, issues)
    stages: list[Stage] = []
    names: dict[str, int] = {}
    _family_checks(spec, issues)
    total_blocks = sum(st.depth for st in spec.stages)
    block_index = 0
    for i, st in enumerate(spec.stages):
        cfg = _resolve(spec, i, issues)
        name = st.name or f"layer{i + 1}"
        if name in names:
            issues.add(("stages", i, "name"), f"duplicate stage name '{name}' (also stages[{names[name]}])")
        names[name] = i
        make = B.BLOCKS[cfg.block]
        blocks: list[Block] = []
        stage_in = channels
        for j in range(st.depth):
            stride = st.stride if j == 0 else 1
            ops = make(cfg, channels, st.width, stride)
            use, sc_ops = B.shortcut(cfg, channels, ops.out_channels, stride)
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
                    name=str(j),
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
                )
            )
            channels = ops.out_channels
        stages.append(Stage(name, i, cfg.block, stage_in, channels, st.stride, tuple(blocks)))
    _group_norm_checks(spec, stem, stages, issues)
    head: tuple[Op, ...] = ()
    num_classes: int | None = None
    if spec.head != "none":
        h = spec.head
        head = (GlobalPool("global_pool", h.pool), Flatten("flatten"))
        if h.dropout > 0:
            head += (Dropout("dropout", h.dropout),)
        head += (Linear("fc", channels, h.num_classes, bias=h.bias),)
        num_classes = h.num_classes
    taken = {op.name.partition(".")[0]: part for part, ops in (("stem", stem), ("head", head)) for op in ops}
    for i, st in enumerate(spec.stages):
        if st.name is not None and st.name in RESERVED_NAMES:
            issues.add(
                ("stages", i, "name"),
                reserved_name_problem(st.name),
            )
        elif st.name is not None and st.name in taken:
            issues.add(
                ("stages", i, "name"),
                f"stage name '{st.name}' is taken by the {taken[st.name]} module '{st.name}'; choose another",
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
    )
    return plan, issues.items
