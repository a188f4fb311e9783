"""Lowering, step 2: the rules of block settings, each written once, checked against the resolved blocks and
reported at the mark of the setting that caused the problem.

A setting that only some blocks can use (``groups``, ``se_ratio``, ``drop_path``, …) is an error only where no
block it reaches uses it: it reaches the blocks that take their value from it (a stage's setting reaches the
blocks of the stage whose entries do not set it; ``defaults``' the blocks, and for norm and act settings the stem,
that set it nowhere narrower). Settings a base spec wrote (through ``extends``) that do not apply are dropped, not
blamed: the user did not write them and cannot unset them. The rules of names, layout, geometry and the
network's parts are in :mod:`.network_rules`; :data:`RULES` lists them all.
"""

from __future__ import annotations

import itertools
import typing
from collections.abc import Callable, Iterator
from typing import Any

from resnetdsl import blocks as B
from resnetdsl.errors import Path
from resnetdsl.lower import network_rules as NR
from resnetdsl.lower import regnet_rules as RR
from resnetdsl.lower import senet_rules as SR
from resnetdsl.lower import sk_rules as SK
from resnetdsl.lower.aa_resnest_rules import RULES as _AA_RESNEST_RULES  # family: issue 18
from resnetdsl.lower.common import Once, _Issues, scope_words
from resnetdsl.lower.res2net_rules import RULES as _RES2NET_RULES  # family: Res2Net (issue 18)
from resnetdsl.lower.resolve import Network, ResolvedBlock, ResolvedStem, Settings, scopes
from resnetdsl.ops import describe
from resnetdsl.plan import Op, Plan
from resnetdsl.spec import NormActSettings
from resnetdsl.vocab import GROUPED_NORMS, NORM_ACTS, NormActOnlyKind

Rule = Callable[[Network, Plan, _Issues], None]
"""A rule reads the resolved network (and, to count channels, the plan made from it) and adds its problems."""

NORM_ACT_ONLY = frozenset(typing.get_args(NormActOnlyKind))
_PROJECTING = frozenset({"projection", "projection_all", "avgpool_projection"})
_ONLY_FOR: dict[str, tuple[str, tuple[str, ...]]] = {
    "norm_groups": ("norm", ("group", "evonorm_s0")),
    "norm_group_channels": ("norm", ("group", "evonorm_s0")),
    "act_negative_slope": ("act", ("leaky_relu",)),
    "std_eps": ("conv", ("std",)),
    "se_ratio": ("attention", ("se",)),
    "se_divisor": ("attention", ("se",)),
    "eca_kernel": ("attention", ("eca",)),
}
"""Settings that apply only where another setting has one value."""
_KIND_WORDS: dict[str, tuple[str, str, str]] = {
    "dropout": (
        ", between their two 3×3 convs",
        "no stage uses them",
        "; use block: preact_basic (head.dropout drops before the classifier)",
    ),
}
"""Kind-specific settings: (what the kinds that use it do with it, why when no stage uses it, the fix)."""


# --- where settings are written, and which written ones no block uses ------------------------------------------


def unused(
    net: Network,
    key: str,
    uses: Callable[[ResolvedBlock], bool],
    stem_uses: Callable[[ResolvedStem], bool] | None = None,
) -> Iterator[tuple[Path, tuple[ResolvedBlock, ...], bool]]:
    """Each written ``key`` that reaches something and that nothing it reaches uses: (its path, the blocks it
    reaches, whether it reaches the stem). Settings a base spec wrote are left out."""
    for path, _ in net.written(key):
        if path in net.inherited:
            continue
        blocks = net.reach.get(path, ())
        stem = stem_uses is not None and net.stem_takes(path)
        if not blocks and not stem:
            continue
        if any(uses(b) for b in blocks) or (stem and stem_uses is not None and stem_uses(net.stem)):
            continue
        yield path, blocks, stem


def _all(net: Network, blocks: tuple[ResolvedBlock, ...]) -> bool:
    return len(blocks) == net.total


def _and(values: set[str]) -> str:
    quoted = [f"'{v}'" for v in sorted(values)]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


_VARIANTS = frozenset({"preact", "sk"})
"""Prefixes of block kinds that are variants of another kind (``sk_bottleneck`` of ``bottleneck``)."""


def _kinds_words(key: str) -> str:
    """``bottleneck blocks``: the kinds that use ``key``, a variant of a kind folded into it (its pre-activation
    twin, issue 18's selective kernel one: ``preact_bottleneck``, ``sk_bottleneck``)."""
    users = [k.name for k in B.BLOCK_KINDS.values() if key in k.uses]
    names = [u for u in users if not ("_" in u and u.split("_", 1)[1] in users and u.split("_", 1)[0] in _VARIANTS)]
    said = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return f"{said} blocks"


def _kind_uses(key: str) -> Callable[[ResolvedBlock], bool]:
    return lambda b: key in B.BLOCK_KINDS[b.kind].uses


def _block_has(setting: str, values: tuple[str, ...]) -> Callable[[ResolvedBlock], bool]:
    return lambda b: b.settings.values[setting] in values


def _stem_has(setting: str, values: tuple[str, ...]) -> Callable[[ResolvedStem], bool]:
    return lambda stem: stem.settings.values[setting] in values


# --- the rules ---------------------------------------------------------------------------------------------------


def kind_settings(net: Network, plan: Plan, issues: _Issues) -> None:
    """``stride_on``, ``groups``, ``width_per_group``, ``dropout``: only the block kinds that list them use them."""
    for key in sorted(B.KIND_SETTINGS):
        detail, none_uses, fix = _KIND_WORDS.get(key, ("", "every stage uses {kinds} blocks", ""))
        for path, blocks, _ in unused(net, key, _kind_uses(key)):
            says = f"applies only to {_kinds_words(key)}{detail}"
            kinds = "/".join(sorted({b.kind for b in blocks}))
            if path[0] == "stages":
                why = f"{scope_words(path)} uses {kinds} blocks"
            elif _all(net, blocks):
                why = none_uses.format(kinds=kinds)
            else:
                why = f"the blocks that take it from defaults are {kinds} blocks"
            issues.add(path, f"{says} ({why}){fix}", key=True)


def value_settings(net: Network, plan: Plan, issues: _Issues) -> None:
    """Group-norm sizes, the leaky slope, SE's and ECA's options: only where norm, act or attention has the
    value they are for."""
    for option, (setting, wanted) in _ONLY_FOR.items():
        says = f"applies only to {setting} " + " or ".join(f"'{w}'" for w in wanted)
        stem_key = option in NormActSettings.model_fields
        stem_uses = _stem_has(setting, wanted) if stem_key else None
        for path, blocks, stem in unused(net, option, _block_has(setting, wanted), stem_uses):
            if path[0] == "stem":
                why = f"the stem uses {setting} '{net.stem.settings.values[setting]}'"
            elif path[0] == "stages":
                why = f"{scope_words(path)} uses {setting} {_and({b.settings.values[setting] for b in blocks})}"
            elif _all(net, blocks):
                why = "neither the stem nor any stage uses it" if stem else "no stage uses it"
            else:
                users = "any block that takes it from defaults"
                why = (
                    f"neither the stem nor {users} uses it" if stem else "no block that takes it from defaults uses it"
                )
            issues.add(path, f"{says} ({why})", key=True)


def shortcut_norm(net: Network, plan: Plan, issues: _Issues) -> None:
    """``shortcut_norm``: only a projection shortcut with a norm has a norm to add or leave out."""

    def uses(b: ResolvedBlock) -> bool:
        return b.config.shortcut in _PROJECTING and b.config.norm_act.norm != "none"

    for path, blocks, _ in unused(net, "shortcut_norm", uses):
        inherit = path[0] == "defaults"
        full = _all(net, blocks)
        reported = False
        if all(b.config.norm_act.norm == "none" for b in blocks):
            why = "" if not inherit else " (every stage uses it)" if full else " (every block that inherits it does)"
            issues.add(path, f"has no effect with norm 'none'{why}", key=True)
            reported = True
        policies = {b.config.shortcut for b in blocks}
        if not policies & _PROJECTING:
            if len(policies) == 1:
                why = f"with shortcut '{next(iter(policies))}'"
            elif full or not inherit:
                why = "(no stage uses a projection shortcut)" if inherit else "(no block it reaches projects)"
            else:
                why = "(no block that takes it from defaults uses a projection shortcut)"
            issues.add(path, f"has no effect {why}", key=True)
            reported = True
        if not reported:
            issues.add(path, "has no effect: no block it reaches has both a projection shortcut and a norm", key=True)


def drop_path(net: Network, plan: Plan, issues: _Issues) -> None:
    """``drop_path`` drops a residual branch: it needs an add, and a network of more than one block (the
    first block's rate is always 0)."""

    def uses(b: ResolvedBlock) -> bool:
        return b.config.drop_path == 0 or (b.config.shortcut != "none" and net.total > 1)

    for path, blocks, _ in unused(net, "drop_path", uses):
        if all(b.config.shortcut == "none" for b in blocks):
            if path[0] == "stages":
                who = f"{scope_words(path)} uses"
            else:
                who = "every stage uses" if _all(net, blocks) else "every block that takes it from defaults uses"
            issues.add(path, f"has no effect without a residual add ({who} shortcut 'none')", key=True)
        else:
            issues.add(path, "has no effect in a network of one block (the first block's rate is always 0)", key=True)


def group_sizes(net: Network, plan: Plan, issues: _Issues) -> None:
    """``norm_groups`` and ``norm_group_channels`` are two ways of saying one thing: at most one per scope."""
    for where, scope in scopes(net.spec):
        if getattr(scope, "norm_groups", None) is not None and getattr(scope, "norm_group_channels", None) is not None:
            message = "set either norm_groups or norm_group_channels, not both"
            issues.add((*where, "norm_group_channels"), message, key=True)


def odd_eca_kernel(net: Network, plan: Plan, issues: _Issues) -> None:
    """An even ECA kernel would change the channel count of its 1-D conv."""
    for path, kernel in net.written("eca_kernel"):
        if kernel % 2 == 0:
            issues.add(path, f"must be odd, so that the conv keeps the channel count (got {kernel})")


def resnetv2_norm_act(net: Network, plan: Plan, issues: _Issues) -> None:
    """timm's ResNetV2 names its norm-act modules (BatchNormAct2d, GroupNormAct, EvoNorm2dS0,
    FilterResponseNormTlu2d), each with ReLU or its own nonlinearity."""
    if not net.timm_names:
        return
    for path, value in net.written("act"):
        if value != "relu":
            issues.add(
                path,
                f"must be 'relu' with layout 'resnetv2' (timm's BatchNormAct2d names batch norm + ReLU "
                f"only; got '{value}'); use layout: resnet",
            )
    kinds = ", ".join(f"'{k}'" for k in NORM_ACTS)
    for path, value in net.written("norm"):
        if value not in NORM_ACTS:
            issues.add(
                path,
                f"must be one of {kinds} with layout 'resnetv2' (timm's norm-act modules; got '{value}'); "
                "use layout: resnet",
            )


def norm_act_only(net: Network, plan: Plan, issues: _Issues) -> None:
    """``evonorm_s0`` and ``frn`` have their nonlinearity built in: they are norm-act modules (layout
    ``resnetv2``) and have no form without it (a projection shortcut's norm)."""
    for path, value in net.written("norm"):
        if value not in NORM_ACT_ONLY:
            continue
        if not net.timm_names:
            issues.add(
                path,
                f"'{value}' has its nonlinearity built in ({NORM_ACTS[value]}): it replaces a norm and its "
                "activation, so only layout 'resnetv2' (pre-activation blocks) has a place for it; "
                "use layout: resnetv2",
            )
    once = Once(issues)
    for b in net.blocks():
        norm = b.config.norm_act.norm
        at = b.settings.origin.get("shortcut_norm")
        if norm in NORM_ACT_ONLY and b.config.shortcut_norm and at is not None:
            once.add(
                at,
                f"a projection shortcut's norm has no activation, and norm '{norm}' has its nonlinearity built "
                "in; set shortcut_norm: false",
            )


def inner_width(net: Network, plan: Plan, issues: _Issues) -> None:
    """A bottleneck's inner width int(width × width_per_group / 64) × groups must be at least 1."""
    once = Once(issues)
    for b in net.blocks():
        cfg = b.config
        if "width_per_group" in B.BLOCK_KINDS[b.kind].uses and B.bottleneck_mid(cfg, b.width) < 1:
            once.add(
                b.width_at,
                f"inner width int({b.width} × {cfg.width_per_group} / 64) × {cfg.groups} is 0; "
                "raise width or width_per_group",
            )


def identity_pad_shrinks(net: Network, plan: Plan, issues: _Issues) -> None:
    """Option A pads channels with zeros: it cannot drop any."""
    for rb, (st, b) in zip(net.blocks(), plan.blocks(), strict=True):
        if b.shortcut == "pad" and b.out_channels < b.in_channels:
            issues.add(
                rb.settings.origin.get("shortcut", ("defaults", "shortcut")),
                f"'identity_pad' cannot shrink channels ({b.in_channels} → {b.out_channels} in "
                f"{st.name}.{b.name}); use 'projection'",
            )


def group_norm_divides(net: Network, plan: Plan, issues: _Issues) -> None:
    """Every group norm's groups must divide its channels; one issue per place the sizing was set."""
    if (
        all(rb.settings.values["norm"] not in GROUPED_NORMS for rb in net.blocks())
        and net.stem.settings.values["norm"] not in GROUPED_NORMS
    ):
        return  # no grouped norm (group, evonorm_s0): no walk over every op of the plan
    parts: Iterator[tuple[Settings, Any, Any]] = itertools.chain(
        [(net.stem.settings, None, plan.stem)],
        ((rb.settings, sb, sb[1].ops()) for rb, sb in zip(net.blocks(), plan.blocks(), strict=True)),
    )
    reported: set[Path] = set()
    for settings, where_in_plan, ops in parts:
        gc = settings.values["norm_group_channels"]
        found = next(((op, *fail) for op in ops if (fail := _group_norm_fails(op, gc)) is not None), None)
        if found is None:
            continue
        op, c, groups = found
        if where_in_plan is None:
            part, path = "the stem", op.name
        else:
            st, b = where_in_plan
            part, path = f"stages[{st.index}]", f"{st.name}.{b.name}.{op.name}"
        origin = settings.origin
        key = "norm_group_channels" if gc is not None else "norm_groups"
        where = origin.get(key) or origin.get("norm") or ("defaults", "norm")
        if where in reported:
            continue
        reported.add(where)
        place = f"{path} ({part})" if where[0] != "stages" else path
        if gc is not None:
            msg = f"{gc} channels per group do not divide the {c} channels of {place}; choose a divisor of {c}"
        else:
            default = "" if "norm_groups" in origin else "the default "
            msg = (
                f"{default}{groups} groups do not divide the {c} channels of {place}; "
                f"set norm_groups to a divisor of {c}, or norm_group_channels"
            )
        issues.add(where, msg)


def _group_norm_fails(op: Op, group_channels: int | None) -> tuple[int, int] | None:
    """A grouped norm whose groups (or ``group_channels``) do not divide its channels: (channels, groups)."""
    description = describe(op)
    groups = description.norm_groups(op)
    channels = description.in_channels(op)
    if groups is None or channels is None:
        return None
    return (channels, groups) if channels % (group_channels if group_channels is not None else groups) else None


RULES: tuple[Rule, ...] = (
    NR.entries,
    NR.family,
    NR.layout,
    NR.stem,
    kind_settings,
    value_settings,
    shortcut_norm,
    drop_path,
    group_sizes,
    odd_eca_kernel,
    resnetv2_norm_act,
    norm_act_only,  # issue 18, family c
    inner_width,
    identity_pad_shrinks,
    group_norm_divides,
    NR.stage_names,
    NR.output_stride,
    NR.backbone,
    NR.zero_init,
    # issue 18 families
    *SK.RULES,
    # RegNet (issue 19)
    RR.regnet_widths,
    RR.regnet_layouts,
    RR.regnet_settings,
    # family senet (issue 18)
    *SR.RULES,
    *_AA_RESNEST_RULES,  # family: anti-aliasing and split attention (issue 18)
    *_RES2NET_RULES,  # family: Res2Net (issue 18), and shortcut_kernel's place
)
"""Every rule of lowering (issues are sorted by their place in the spec afterwards, so the order only matters
for specs given as mappings, without marks)."""


def check(net: Network, plan: Plan, issues: _Issues) -> None:
    """Every rule of :data:`RULES` against ``net`` (and ``plan``, made from it)."""
    for rule in RULES:
        rule(net, plan, issues)
