"""Lowering's rules of RegNet (issue 19): the ``regnet`` block kind's widths and groups, the ``simple`` stem's
pool, and what the ``regnet`` (timm) and ``tv_regnet`` (torchvision) layouts have module names for. Listed in
:data:`resnetdsl.lower.rules.RULES`."""

from __future__ import annotations

from resnetdsl import blocks as B
from resnetdsl.blocks_regnet import REGNET_KINDS, regnet_inner, regnet_se_width
from resnetdsl.errors import Path
from resnetdsl.lower.common import _Issues
from resnetdsl.lower.resolve import Network, ResolvedBlock
from resnetdsl.plan import Plan

REGNET_LAYOUTS = ("regnet", "tv_regnet")
_WHOSE = {"regnet": "timm's RegNet", "tv_regnet": "torchvision's RegNet"}


def regnet_widths(net: Network, plan: Plan, issues: _Issues) -> None:
    """A ``regnet`` block's inner width int(round(width × bottleneck_ratio)) is at least 1, its group width
    divides it, and its squeeze-and-excitation keeps at least one channel."""
    reported: set[Path] = set()
    for b in net.blocks():
        cfg = b.config
        if b.kind not in REGNET_KINDS:
            continue
        inner = regnet_inner(cfg, b.width)
        origin = b.settings.origin
        if inner < 1:
            at = origin.get("bottleneck_ratio", b.width_at)
            if at not in reported:
                reported.add(at)
                issues.add(at, f"gives a regnet block an inner width of 0 (width {b.width} × {cfg.bottleneck_ratio})")
            continue
        g = cfg.group_width
        if g is not None and inner % g:
            at = origin.get("group_width", b.width_at)
            if at not in reported:
                reported.add(at)
                issues.add(
                    at,
                    f"group width {g} does not divide the inner width {inner} of stages[{b.stage}] block "
                    f"{b.index} (width {b.width} × bottleneck_ratio {cfg.bottleneck_ratio}); the regnet: key "
                    "makes them compatible, or choose a divisor",
                )
        if cfg.attention == "se" and regnet_se_width(cfg, plan_in(plan, b.stage, b.index)) < 1:
            at = origin.get("se_ratio", ("defaults", "se_ratio"))
            if at not in reported:
                reported.add(at)
                issues.add(at, "gives a regnet block's squeeze-and-excitation 0 channels (se_ratio × input width)")


def plan_in(plan: Plan, stage: int, index: int) -> int:
    """Input channels of block ``index`` of the stage at position ``stage`` of the plan."""
    for st in plan.stages:
        if st.index == stage:
            return st.blocks[index].in_channels
    return 1


def regnet_layouts(net: Network, plan: Plan, issues: _Issues) -> None:
    """``layout: regnet`` and ``layout: tv_regnet`` name RegNet's parts only: ``regnet`` blocks, the ``simple``
    stem without a conv pool, numbered stages; timm's BatchNormAct2d (``regnet``) is batch norm + ReLU."""
    spec = net.spec
    layout = spec.layout
    if spec.regnet is not None:  # a Spec made in Python: only loading expands the key
        issues.add(
            ("regnet",),
            "is expanded into stem, defaults and stages when a spec is loaded; pass the mapping to load_spec() "
            "or check() instead of building a Spec with it",
            key=True,
        )
    if spec.stem.kind == "simple" and spec.stem.pool == "conv":
        issues.add(("stem", "pool"), "'conv' is not built after the simple stem; use max or none")
    if layout not in REGNET_LAYOUTS:
        if layout in ("senet", "resnetv2"):
            for b in net.blocks():
                if b.kind in REGNET_KINDS:
                    at = b.settings.origin.get("block", ("layout",))
                    issues.add(at, f"'regnet' blocks have no module names with layout '{layout}'; use layout: regnet")
                    break
        return
    whose = _WHOSE[layout]
    reported: set[Path] = set()
    for b in net.blocks():
        tv_preact = layout == "tv_regnet" and b.kind == "preact_regnet"
        if b.kind not in REGNET_KINDS or tv_preact:
            at = b.settings.origin.get("block", ("layout",))
            if at not in reported:
                reported.add(at)
                issues.add(at, f"'{b.kind}' has no module names in {whose} (layout '{layout}'); use block: regnet")
    if spec.stem.kind != "simple":
        issues.add(("stem", "kind"), f"'{spec.stem.kind}' has no module names in {whose}; use kind: simple")
    for i, st in enumerate(spec.stages):
        if st.name is not None:
            issues.add(
                ("stages", i, "name"),
                f"cannot be set with layout '{layout}', whose stages are named as {whose} names them; remove it",
            )
    if layout != "regnet":
        return
    scopes = [("defaults", spec.defaults), ("stem", spec.stem)] + [
        (("stages", i), st) for i, st in enumerate(spec.stages)
    ]
    for where, scope in scopes:
        value = getattr(scope, "norm", None)
        if value is not None and value not in _TIMM_NORMS:
            path: Path = (*((where,) if isinstance(where, str) else where), "norm")
            issues.add(
                path,
                f"must be 'batch' or 'group' with layout 'regnet' (timm's BatchNormAct2d and GroupNormAct; got "
                f"'{value}'); use layout: resnet",
            )


_TIMM_NORMS = ("batch", "group")
"""The norms timm's RegNet builds as norm-act modules (``regnety_040_sgn``: GroupNormAct)."""


def regnet_settings(net: Network, plan: Plan, issues: _Issues) -> None:
    """What RegNet's blocks have no place for: ``se_divisor`` (their SE width is a ratio of the input width) and
    ``linear_out: true`` on pre-activation blocks (nothing follows their add); each an error only where no block
    it reaches uses it (the other attention kinds are the ``se_divisor`` rule's of :mod:`.rules`)."""
    from resnetdsl.lower.rules import unused

    def divides(b: ResolvedBlock) -> bool:
        return b.config.attention == "se" and b.kind not in REGNET_KINDS

    for path, blocks, _ in unused(net, "se_divisor", divides):
        se = [b for b in blocks if b.config.attention == "se"]
        if se:
            issues.add(
                path,
                f"has no effect on {se[0].kind} blocks (stages[{se[0].stage}]), whose squeeze-and-excitation width "
                "is int(round(se_ratio × input width)); remove it",
                key=True,
            )
    for path, blocks, _ in unused(net, "linear_out", lambda b: b.kind not in B.PREACT or not b.config.linear_out):
        issues.add(
            path,
            f"has no effect on {blocks[0].kind} blocks (stages[{blocks[0].stage}]), which have no activation after "
            "the add; remove it",
            key=True,
        )
