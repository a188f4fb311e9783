"""Spec → Plan: defaults resolved, widths and strides worked out, shortcuts chosen, every module named.

All semantic problems are collected and raised together as one :class:`SpecError`.
"""

from __future__ import annotations

from typing import Any

from resnetdsl import blocks as B
from resnetdsl.errors import Issue, Path, SpecError
from resnetdsl.plan import (
    Act,
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
from resnetdsl.spec import MAX_BLOCKS, BlockSettings, Spec

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
    if kind in B.BASIC_KINDS:
        for key in _BOTTLENECK_ONLY:
            if key not in origin:
                continue
            if origin[key][0] == "stages":
                issues.add(origin[key], f"applies only to bottleneck blocks (stages[{index}] uses {kind} blocks)")
            elif index == 0 and (kinds := _effective(spec, "block")) <= B.BASIC_KINDS:
                said = "/".join(sorted(kinds))
                issues.add(origin[key], f"applies only to bottleneck blocks (every stage uses {said} blocks)")
    if "dropout" in origin and kind != "preact_basic":
        fix = "; use block: preact_basic (head.dropout drops before the classifier)"
        if origin["dropout"][0] == "stages":
            issues.add(
                origin["dropout"],
                f"applies only to preact_basic blocks, between their two 3×3 convs (stages[{index}] uses "
                f"{kind} blocks){fix}",
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
    )
    if kind in ("bottleneck", "preact_bottleneck") and B.bottleneck_mid(cfg, stage.width) < 1:
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


def _final(spec: Spec, channels: int) -> tuple[Op, ...]:
    """The final BN + ReLU of a pre-activation network."""
    if spec.layout == "resnetv2":
        return (NormAct("norm", channels),)
    return (Norm("final_norm", channels), Act("final_act"))


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
    preact = _family(spec, issues)
    _layout_issues(spec, issues, preact)
    v2 = spec.layout == "resnetv2"
    if v2:
        stem = _stem_v2(spec)
    elif preact:  # the first block pre-activates the stem's output
        stem = tuple(op for op in stem if op.name not in ("bn1", "act1"))
    stages: list[Stage] = []
    names: dict[str, int] = {}
    for i, st in enumerate(spec.stages):
        cfg = _resolve(spec, i, issues)
        name = f"stages.{i}" if v2 else st.name or f"layer{i + 1}"
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
            sc_ops = B.layout_shortcut(cfg, use, sc_ops)
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
        stages.append(Stage(name, i, cfg.block, stage_in, channels, st.stride, tuple(blocks)))
    final = _final(spec, channels) if preact else ()
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
    )
    return plan, issues.items
