"""Lowering, step 2 (continued; issue 18): the rules of anti-aliased downsampling (``aa``, ``stem.aa``) and of
``resnest`` blocks, each reported once at the setting that caused it."""

from __future__ import annotations

from resnetdsl import blocks as B
from resnetdsl.lower.common import Once, _Issues, scope_words
from resnetdsl.lower.resolve import Network, ResolvedBlock
from resnetdsl.plan import Plan


def _kinds(blocks: tuple[ResolvedBlock, ...]) -> str:
    return "/".join(sorted({b.kind for b in blocks}))


def aa_kinds(net: Network, plan: Plan, issues: _Issues) -> None:
    """``aa`` applies to basic and bottleneck blocks (the stem takes ``defaults.aa`` too); ``stem.aa`` to a stem
    with a pool in the torchvision layout."""
    stem_pools = net.stem.pool != "none"
    for path, value in net.written("aa"):
        if value == "none" or path in net.inherited:
            continue
        if path == ("stem", "aa"):
            if not stem_pools:
                issues.add(path, "applies only to a stem with a pool (max or conv); the stem has pool 'none'")
            elif net.timm_names:
                issues.add(path, "timm's ResNetV2 stem has no anti-aliased pool; use layout: resnet")
            continue
        blocks = net.reach.get(path, ())
        if any(b.kind in B.AA_KINDS for b in blocks) or not blocks:
            continue
        if path[0] == "stages":
            where = f"{scope_words(path)} uses"
        else:
            where = "every stage uses" if len(blocks) == net.total else "the blocks that take it from defaults are"
        issues.add(
            path,
            f"applies only to basic or bottleneck blocks ({where} {_kinds(blocks)} blocks); "
            "stem.aa anti-aliases the stem alone",
        )


def aa_stride_on(net: Network, plan: Plan, issues: _Issues) -> None:
    """timm's anti-aliasing pool follows the strided 3×3: a bottleneck striding on its 1×1 has no place for it."""
    once = Once(issues, skip=net.inherited)
    for b in net.blocks():
        cfg = b.config
        if cfg.aa != "none" and b.kind == "bottleneck" and cfg.stride_on == "1x1" and b.stride != 1:
            at = b.settings.origin.get("aa", ("defaults", "aa"))
            once.add(at, "needs the stride on the 3×3 (the pool follows it, as timm's); set stride_on: 3x3")


_RESNEST_REFUSES = {
    "attention": "resnest blocks take no channel attention (timm's ResNestBottleneck has none); use attention: none",
    "drop_path": (
        "resnest blocks take no drop_path (timm's ResNestBottleneck drops the shortcut's input, not the branch)"
    ),
}


def resnest_settings(net: Network, plan: Plan, issues: _Issues) -> None:
    """What a resnest block cannot have: channel attention, stochastic depth, a norm other than batch or none;
    and widths its grouped convs can split: the inner width per group divisible by ``radix``, the hidden width of
    the gate by ``groups``."""
    once = Once(issues, skip=net.inherited).add
    for b in net.blocks():
        if b.kind != "resnest":
            continue
        cfg, origin = b.config, b.settings.origin
        if cfg.attention != "none":
            once(origin.get("attention", ("defaults", "attention")), _RESNEST_REFUSES["attention"])
        if b.drop_path_rate > 0:
            once(origin.get("drop_path", ("defaults", "drop_path")), _RESNEST_REFUSES["drop_path"])
        if cfg.norm_act.norm not in ("batch", "none"):
            once(
                origin.get("norm", ("defaults", "norm")),
                f"resnest blocks take norm 'batch' or 'none' (their split attention is timm's; got "
                f"'{cfg.norm_act.norm}')",
            )
        mid = B.bottleneck_mid(cfg, b.width)
        per_group = mid // cfg.groups
        if per_group % cfg.radix:
            once(
                origin.get("radix", b.width_at),
                f"the inner width {mid} splits into {cfg.groups} group(s) of {per_group} channels, not divisible "
                f"by radix {cfg.radix}; choose a radix that divides {per_group}",
            )
        attn = B.split_attn_channels(mid, cfg.radix)
        if attn % cfg.groups:
            once(
                origin.get("groups", b.width_at),
                f"split attention's hidden width {attn} (timm's rounding of {mid} × {cfg.radix} / 4) is not "
                f"divisible by groups {cfg.groups}",
            )


RULES = (aa_kinds, aa_stride_on, resnest_settings)
"""This family's rules, in the order :data:`resnetdsl.lower.rules.RULES` lists them."""
