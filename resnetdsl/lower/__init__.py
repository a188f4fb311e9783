"""Spec → Plan in three steps: resolve every block's settings, check every rule, make the plan.

1. :mod:`.resolve`: defaults → stage → per-block entry, once per block, into a :class:`~.resolve.ResolvedBlock`
   (every setting's value and where it was set, the block's width, stride, dilations and drop-path rate).
2. :mod:`.rules` and :mod:`.network_rules`: each rule written once, checked against the resolved blocks and
   reported at the mark of the setting that caused it; all problems are collected and raised together.
3. :mod:`.make`: the plan, every block made by :func:`resnetdsl.blocks.make_block`. The plan is made before
   the rules run (it never fails), so that the two rules that count channels read the ops the plan really has.

:mod:`.common` holds the issue collector, the built-in defaults and the reserved stage names.
"""

from __future__ import annotations

from resnetdsl.errors import Issue, SpecError
from resnetdsl.features import with_features
from resnetdsl.lower.common import BUILTIN_DEFAULTS, RESERVED_NAMES, _Issues, reserved_name_problem
from resnetdsl.lower.make import make_plan
from resnetdsl.lower.resolve import resolve_network
from resnetdsl.lower.rules import check
from resnetdsl.plan import Plan
from resnetdsl.spec import MAX_BLOCKS, Spec

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

    The plan is made even when there are problems, so that later checks (the analyzer's shapes) can still run
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
    net = resolve_network(spec)
    plan = make_plan(net)
    check(net, plan, issues)
    if spec.features is not None and not any(i.path[:1] == ("features",) for i in issues.items):
        plan = with_features(plan, spec.features.out_indices)
    return plan, issues.items
