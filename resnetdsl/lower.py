"""Spec → Plan: defaults resolved, widths and strides worked out, shortcuts chosen, every module named.

All semantic problems are collected and raised together as one :class:`SpecError`.
"""

from __future__ import annotations

from typing import Any

from resnetdsl import blocks as B
from resnetdsl.errors import Issue, Path, SpecError
from resnetdsl.plan import Act, Block, Conv, Dropout, Flatten, GlobalPool, Linear, Norm, Op, Plan, Pool, Stage
from resnetdsl.spec import MAX_BLOCKS, BlockSettings, Spec

BUILTIN_DEFAULTS: dict[str, Any] = {
    "block": "basic",
    "shortcut": "projection",
    "stride_on": None,  # bottleneck: 3x3
    "groups": None,  # bottleneck: 1
    "width_per_group": None,  # bottleneck: 64
    "expansion": None,  # per block kind
    "conv_bias": False,
    "shortcut_norm": True,
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
        for key in BlockSettings.model_fields:
            v = getattr(scope, key)
            if v is not None:
                values[key] = v
                origin[key] = (*where, key)
    # a setting a base spec made (through `extends`) that does not apply to what this spec chose is dropped,
    # not blamed on the user: they did not write it, and cannot unset it
    origin = {k: p for k, p in origin.items() if not _inherited(spec, p)}
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


def _inherited(spec: Spec, path: Path) -> bool:
    """The key at ``path`` was written in a base spec (through ``extends``), not in the spec's own file."""
    src = spec._source
    mark = src.mark_for(path, key=True) if src is not None else None
    return spec._via is not None and mark is not None and mark.file != spec._file


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
    ops: list[Op] = []
    if st.kind == "deep":
        m1, m2 = st.mid_widths or (w // 2, w // 2)
        if min(m1, m2) < 1:
            issues.add(("stem", "width"), f"a deep stem needs width >= 2 or explicit mid_widths (got {w})")
            m1, m2 = max(m1, 1), max(m2, 1)
        ops += [
            Conv("conv1.0", cin, m1, 3, stride=2, padding=1, bias=bias),
            Norm("conv1.1", m1),
            Act("conv1.2"),
            Conv("conv1.3", m1, m2, 3, stride=1, padding=1, bias=bias),
            Norm("conv1.4", m2),
            Act("conv1.5"),
            Conv("conv1.6", m2, w, 3, stride=1, padding=1, bias=bias),
        ]
    else:
        if st.mid_widths is not None:
            issues.add(("stem", "mid_widths"), f"applies only to the deep stem (this stem is '{st.kind}')", key=True)
        k, s = (7, 2) if st.kind == "conv7" else (3, 1)
        ops.append(Conv("conv1", cin, w, k, stride=s, padding=k // 2, bias=bias))
    ops += [Norm("bn1", w), Act("act1")]
    pool = st.pool or ("none" if st.kind == "conv3" else "max")
    if pool == "max":
        ops.append(Pool("maxpool", "max", 3, 2, padding=1))
    elif pool == "conv":
        ops += [
            Conv("maxpool.0", w, w, 3, stride=2, padding=1, bias=bias),
            Norm("maxpool.1", w),
            Act("maxpool.2"),
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
    stages: list[Stage] = []
    names: dict[str, int] = {}
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
    )
    return plan, issues.items
