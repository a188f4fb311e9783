"""Lowering, step 2: the rules of the SENet family's settings (issue 18): ``layout: senet``, ``conv_widths``,
``reduce_first``, the stem's ``max_ceil`` pool, ``drop_block``. Each reports once, at the mark of the setting
that caused it."""

from __future__ import annotations

from resnetdsl import blocks as B
from resnetdsl.errors import Path
from resnetdsl.lower.common import _Issues
from resnetdsl.lower.resolve import Network, ResolvedBlock
from resnetdsl.plan import Plan


def senet_layout(net: Network, plan: Plan, issues: _Issues) -> None:
    """``layout: senet`` names post-activation networks (the legacy SENets); timm's ResNetV2 stem has no name for
    a ceil-mode pool."""
    spec = net.spec
    if spec.layout == "senet" and net.preact:
        kind = net.stages[0].config.block
        issues.add(
            ("layout",),
            f"'senet' names post-activation networks only (stages[0] uses {kind} blocks); "
            f"use block: {kind.removeprefix('preact_')}, or layout: resnet",
        )
    if spec.layout == "resnetv2" and spec.stem.pool == "max_ceil":
        issues.add(
            ("stem", "pool"),
            "'max_ceil' has no module name in timm's ResNetV2 stem (layout 'resnetv2'); use max or none, "
            "or layout: resnet",
        )


def _convs(kind: str) -> int:
    """How many widths ``conv_widths`` gives a block of ``kind``: its convs but the last."""
    return 1 if kind in B.BASIC_KINDS else 2


def branch_widths(net: Network, plan: Plan, issues: _Issues) -> None:
    """``conv_widths`` has one width per conv of the branch but the last, each divisible by the 3×3's groups;
    ``reduce_first`` divides the inner width it divides."""
    reported: set[Path] = set()
    for rb, (st, b) in zip(net.blocks(), plan.blocks(), strict=True):
        cfg = rb.config
        where = rb.settings.origin.get("conv_widths")
        if cfg.conv_widths is not None and where is not None and where not in reported:
            n = _convs(rb.kind)
            if len(cfg.conv_widths) != n:
                reported.add(where)
                issues.add(
                    where,
                    f"has {_count(len(cfg.conv_widths))}; a {rb.kind} block takes {n} (the output channels of each "
                    f"conv of its branch but the last), e.g. {list(_example(rb, n))}",
                )
            elif n == 2 and any(w % cfg.groups for w in cfg.conv_widths):
                reported.add(where)
                issues.add(
                    where,
                    f"widths {list(cfg.conv_widths)} of {st.name}.{b.name} are not all divisible by its groups "
                    f"({cfg.groups}); choose multiples of {cfg.groups}",
                )
        _reduce_first(rb, issues, reported)


def _count(n: int) -> str:
    return f"{n} width" + ("" if n == 1 else "s")


def _example(rb: ResolvedBlock, n: int) -> tuple[int, ...]:
    cfg = rb.config
    inner = B.bottleneck_mid(cfg, rb.width) if n == 2 else rb.width
    return (inner,) * n


def _reduce_first(rb: ResolvedBlock, issues: _Issues, reported: set[Path]) -> None:
    cfg = rb.config
    where = rb.settings.origin.get("reduce_first")
    if cfg.reduce_first == 1 or where is None or where in reported or cfg.conv_widths is not None:
        return
    inner = B.bottleneck_mid(cfg, rb.width) if _convs(rb.kind) == 2 else rb.width
    first = inner // cfg.reduce_first
    if inner % cfg.reduce_first or (_convs(rb.kind) == 2 and first % cfg.groups):
        reported.add(where)
        why = (
            f"does not divide the inner width {inner}"
            if inner % cfg.reduce_first
            else (f"leaves {first} channels, not divisible by groups ({cfg.groups})")
        )
        issues.add(where, f"reduce_first {cfg.reduce_first} {why}; choose a divisor of {inner}, or conv_widths")


def drop_block(net: Network, plan: Plan, issues: _Issues) -> None:
    """timm's DropBlock schedule needs a third stage, and a post-activation block's norm to follow."""
    spec = net.spec
    if not spec.drop_block:
        return
    if len(spec.stages) < 3:
        issues.add(
            ("drop_block",),
            f"timm's schedule drops blocks in the third and fourth stages; this network has {len(spec.stages)}: "
            "add stages, or remove drop_block",
        )
    elif net.preact:
        issues.add(
            ("drop_block",),
            "applies only to post-activation blocks (basic, bottleneck), after their first or second norm; "
            "remove it, or use post-activation blocks",
        )


RULES = (senet_layout, branch_widths, drop_block)
"""The family's rules, appended to :data:`resnetdsl.lower.rules.RULES`."""
