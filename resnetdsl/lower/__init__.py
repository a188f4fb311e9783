"""Spec → Plan: defaults resolved, widths and strides worked out, shortcuts chosen, every module named.

All semantic problems are collected and raised together as one :class:`SpecError`.

The package: :mod:`.common` (issues, defaults, names), :mod:`.settings` (block settings and their checks),
:mod:`.geometry` (strides and dilation), :mod:`.parts` (stem, final norm, head); this module walks the stages.
"""

from __future__ import annotations

from dataclasses import replace

from resnetdsl import blocks as B
from resnetdsl.errors import Issue, SpecError
from resnetdsl.features import with_features
from resnetdsl.lower.common import BUILTIN_DEFAULTS, RESERVED_NAMES, _Issues, reserved_name_problem
from resnetdsl.lower.geometry import _backbone_checks, _strides_and_dilations
from resnetdsl.lower.parts import _final, _head_v2, _stem, _stem_v2
from resnetdsl.lower.settings import _family, _family_checks, _group_norm_checks, _layout_issues, _overrides, _resolve
from resnetdsl.plan import (
    Block,
    Dropout,
    Flatten,
    GlobalPool,
    Linear,
    Norm,
    NormAct,
    Op,
    Plan,
    Stage,
)
from resnetdsl.spec import MAX_BLOCKS, Spec

_GROUP_WORDS = {
    "stem": "the layers before the stages",
    "final": "the norm and activation after the last stage of a pre-activation network",
    "head": "the layers after the stages",
}
"""Names of summary rows and diagram clusters that group layers (they name no module): no stage may take them."""

__all__ = ["BUILTIN_DEFAULTS", "RESERVED_NAMES", "lower", "lower_with_issues", "reserved_name_problem"]


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
        elif st.name in _GROUP_WORDS and st.name not in taken:
            issues.add(
                ("stages", i, "name"),
                f"stage name '{st.name}' is how summaries and diagrams name {_GROUP_WORDS[st.name]}; choose another",
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
