"""The one place where each block kind and shortcut policy becomes plan ops."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from resnetdsl.plan import Act, Conv, Identity, Norm, Op, PadShortcut, Pool, ShortcutUse


@dataclass(frozen=True, slots=True)
class BlockConfig:
    """Fully resolved settings of the blocks of one stage."""

    block: str
    shortcut: str
    stride_on: str
    groups: int
    width_per_group: int
    expansion: int
    conv_bias: bool
    shortcut_norm: bool
    zero_init: bool


@dataclass(frozen=True, slots=True)
class BlockOps:
    mid_channels: int
    out_channels: int
    main: tuple[Op, ...]
    post: tuple[Op, ...]


def _conv(name: str, cin: int, cout: int, k: int, stride: int, cfg: BlockConfig, groups: int = 1) -> Conv:
    return Conv(name, cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=cfg.conv_bias)


def basic(cfg: BlockConfig, cin: int, width: int, stride: int) -> BlockOps:
    """3×3 conv (stride) → BN → ReLU → 3×3 conv → BN; ReLU after the add."""
    cout = width * cfg.expansion
    main: tuple[Op, ...] = (
        _conv("conv1", cin, width, 3, stride, cfg),
        Norm("bn1", width),
        Act("act1"),
        _conv("conv2", width, cout, 3, 1, cfg),
        Norm("bn2", cout, zero_init=cfg.zero_init),
    )
    return BlockOps(width, cout, main, (Act("act2"),))


def bottleneck_mid(cfg: BlockConfig, width: int) -> int:
    """Inner width of a bottleneck (torchvision): int(width × width_per_group / 64) × groups."""
    return int(width * (cfg.width_per_group / 64.0)) * cfg.groups


def bottleneck(cfg: BlockConfig, cin: int, width: int, stride: int) -> BlockOps:
    """1×1 → BN → ReLU → 3×3 (groups) → BN → ReLU → 1×1 → BN; ReLU after the add.

    The stride sits on the 3×3 (v1.5) or on the first 1×1 (the original model), per ``stride_on``.
    """
    mid = bottleneck_mid(cfg, width)
    cout = width * cfg.expansion
    s1, s3 = (stride, 1) if cfg.stride_on == "1x1" else (1, stride)
    main: tuple[Op, ...] = (
        _conv("conv1", cin, mid, 1, s1, cfg),
        Norm("bn1", mid),
        Act("act1"),
        _conv("conv2", mid, mid, 3, s3, cfg, groups=cfg.groups),
        Norm("bn2", mid),
        Act("act2"),
        _conv("conv3", mid, cout, 1, 1, cfg),
        Norm("bn3", cout, zero_init=cfg.zero_init),
    )
    return BlockOps(mid, cout, main, (Act("act3"),))


BLOCKS: dict[str, Callable[[BlockConfig, int, int, int], BlockOps]] = {
    "basic": basic,
    "bottleneck": bottleneck,
}
EXPANSION = {"basic": 1, "bottleneck": 4}


def shortcut(cfg: BlockConfig, cin: int, cout: int, stride: int) -> tuple[ShortcutUse, tuple[Op, ...]]:
    """The shortcut a block gets under its stage's policy."""
    changes = stride != 1 or cin != cout
    policy = cfg.shortcut
    if policy == "none":
        return "none", ()
    if policy == "projection_all" or (policy == "projection" and changes):
        ops: tuple[Op, ...] = (Conv("downsample.0", cin, cout, 1, stride=stride, bias=cfg.conv_bias),)
        if cfg.shortcut_norm:
            ops += (Norm("downsample.1", cout),)
        return "projection", ops
    if policy == "avgpool_projection" and changes:
        pool: Op = (
            Pool("downsample.0", "avg", 2, stride, ceil_mode=True, count_include_pad=False)
            if stride != 1
            else Identity("downsample.0")
        )
        ops = (pool, Conv("downsample.1", cin, cout, 1, bias=cfg.conv_bias))
        if cfg.shortcut_norm:
            ops += (Norm("downsample.2", cout),)
        return "avgpool_projection", ops
    if policy == "identity_pad" and changes:
        return "pad", (PadShortcut("downsample", cin, cout, stride),)
    return "identity", ()
