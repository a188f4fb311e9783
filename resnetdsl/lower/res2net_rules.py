"""Lowering, step 2 (continued; issue 18): the rules of ``res2net`` blocks, and ``shortcut_kernel``'s place, each
reported once at the setting that caused it."""

from __future__ import annotations

from collections.abc import Iterator

from resnetdsl.errors import Path
from resnetdsl.lower.common import _Issues, scope_words
from resnetdsl.lower.resolve import Network, ResolvedBlock
from resnetdsl.plan import Plan
from resnetdsl.vocab import NORMS

_RES2NET_REFUSES = {
    "conv_widths": (
        "res2net blocks take no conv_widths (their widths are width_per_group × groups per split, times scale); "
        "set width_per_group and scale instead"
    ),
    "reduce_first": "res2net blocks take no reduce_first (timm's Bottle2neck has none); remove it",
}


def res2net_settings(net: Network, plan: Plan, issues: _Issues) -> None:
    """What a res2net block cannot have: a layout other than ``resnet`` (timm's Bottle2neck lives in timm's
    ResNet), ``conv_widths``, ``reduce_first``, a norm with its activation built in."""
    reported: set[Path] = set()

    def once(at: Path, message: str, *, key: bool = False) -> None:
        if at not in reported and at not in net.inherited:
            reported.add(at)
            issues.add(at, message, key=key)

    for b in net.blocks():
        if b.kind != "res2net":
            continue
        cfg, origin = b.config, b.settings.origin
        if net.spec.layout != "resnet":
            once(
                ("layout",),
                f"res2net blocks are timm's Bottle2neck, named as in timm's ResNet; use layout: resnet "
                f"(got '{net.spec.layout}')",
            )
        for key, message in _RES2NET_REFUSES.items():
            at = origin.get(key)
            if at is not None and b.settings.values.get(key) is not None:
                once(at, message, key=True)
        norm = cfg.norm_act.norm
        if norm != "none" and norm not in NORMS:
            once(
                origin.get("norm", ("defaults", "norm")),
                f"res2net blocks take norm 'batch', 'group', 'frozen_batch' or 'none' (a norm of their splits); "
                f"got '{norm}'",
            )


def shortcut_kernel(net: Network, plan: Plan, issues: _Issues) -> None:
    """``shortcut_kernel`` sizes the conv of a projection shortcut (``projection``, ``projection_all``): the
    identity, the zero-pad and the avg-pool projection (its conv is 1×1 after the pool) have none to size."""
    projects = ("projection", "projection_all")
    for path, blocks in _written_shortcut_kernels(net):
        if any(b.config.shortcut in projects for b in blocks):
            continue
        uses = "/".join(sorted({b.config.shortcut for b in blocks}))
        if path[0] == "stages":
            why = f"{scope_words(path)} uses shortcut {uses}"
        elif len(blocks) == net.total:
            why = f"every stage uses shortcut {uses}"
        else:
            why = f"the blocks that take it from defaults use shortcut {uses}"
        issues.add(
            path,
            f"applies only to projection shortcuts (shortcut: projection or projection_all; {why}); "
            "remove it, or use shortcut: projection",
            key=True,
        )


def _written_shortcut_kernels(net: Network) -> Iterator[tuple[Path, tuple[ResolvedBlock, ...]]]:
    """Each ``shortcut_kernel`` the spec's own file writes (defaults, stages, entries) with the blocks it reaches."""
    for path, _ in net.written("shortcut_kernel"):
        blocks = net.reach.get(path, ())
        if path not in net.inherited and blocks:
            yield path, blocks


DROP_BLOCK_KINDS = frozenset({"basic", "bottleneck", "res2net"})
"""The block kinds whose branch takes timm's DropBlock module (``drop_block``) where timm's schedule puts one."""


def drop_block_kinds(net: Network, plan: Plan, issues: _Issues) -> None:
    """timm puts DropBlock inside a selective-kernel or split-attention conv (its norm's ``drop``), where no module
    of the language sits: such blocks in the stages timm's schedule reaches are refused, not left without it."""
    if not net.spec.drop_block or ("drop_block",) in net.inherited:
        return
    kinds = sorted({b.kind for b in net.blocks() if b.config.drop_block is not None} - DROP_BLOCK_KINDS - {""})
    post = [k for k in kinds if not k.startswith("preact_")]  # pre-activation: drop_block's own rule says so
    if post:
        issues.add(
            ("drop_block",),
            f"{'/'.join(post)} blocks have no place for timm's DropBlock (timm puts it inside selective-kernel and "
            "split-attention convs, which the language cannot say); remove drop_block, or use basic, bottleneck or "
            "res2net blocks in the third and fourth stages",
        )


RULES = (res2net_settings, shortcut_kernel, drop_block_kinds)
"""This family's rules, in the order :data:`resnetdsl.lower.rules.RULES` lists them."""
