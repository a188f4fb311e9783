"""The one place where each block kind and shortcut policy becomes plan ops."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from resnetdsl.plan import Act, Conv, Dropout, Identity, Norm, NormAct, Op, PadShortcut, Pool, ShortcutUse


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
    dropout: float = 0.0
    """``preact_basic``: dropout probability between the two convs (0: no dropout module)."""
    layout: str = "resnet"
    """Module names: ``resnet`` (torchvision) or ``resnetv2`` (timm's ResNetV2)."""


@dataclass(frozen=True, slots=True)
class BlockOps:
    mid_channels: int
    out_channels: int
    main: tuple[Op, ...]
    post: tuple[Op, ...]
    pre: tuple[Op, ...] = ()
    """Pre-activation: ops on the block input before the main path (a projection shortcut reads their output)."""


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


def _norm_act(cfg: BlockConfig, i: int, channels: int) -> tuple[Op, ...]:
    """The i-th BN + ReLU of a pre-activation block: ``bn{i}``, ``act{i}`` (resnet) or one ``norm{i}`` (resnetv2)."""
    if cfg.layout == "resnetv2":
        return (NormAct(f"norm{i}", channels),)
    return (Norm(f"bn{i}", channels), Act(f"act{i}"))


def preact_basic(cfg: BlockConfig, cin: int, width: int, stride: int) -> BlockOps:
    """BN → ReLU → 3×3 conv (stride) → BN → ReLU → [dropout] → 3×3 conv; nothing after the add.

    He et al. 2016 ("Identity Mappings"); with ``dropout`` the Wide ResNet block (Zagoruyko & Komodakis 2016).
    """
    cout = width * cfg.expansion
    drop: tuple[Op, ...] = (Dropout("dropout", cfg.dropout),) if cfg.dropout > 0 else ()
    main: tuple[Op, ...] = (
        _conv("conv1", cin, width, 3, stride, cfg),
        *_norm_act(cfg, 2, width),
        *drop,
        replace(_conv("conv2", width, cout, 3, 1, cfg), zero_init=cfg.zero_init),
    )
    return BlockOps(width, cout, main, (), pre=_norm_act(cfg, 1, cin))


def preact_bottleneck(cfg: BlockConfig, cin: int, width: int, stride: int) -> BlockOps:
    """BN → ReLU → 1×1 → BN → ReLU → 3×3 (groups) → BN → ReLU → 1×1; nothing after the add.

    He et al. 2016; the stride sits on the 3×3 (timm) or on the first 1×1 (the paper's code), per ``stride_on``.
    """
    mid = bottleneck_mid(cfg, width)
    cout = width * cfg.expansion
    s1, s3 = (stride, 1) if cfg.stride_on == "1x1" else (1, stride)
    main: tuple[Op, ...] = (
        _conv("conv1", cin, mid, 1, s1, cfg),
        *_norm_act(cfg, 2, mid),
        _conv("conv2", mid, mid, 3, s3, cfg, groups=cfg.groups),
        *_norm_act(cfg, 3, mid),
        replace(_conv("conv3", mid, cout, 1, 1, cfg), zero_init=cfg.zero_init),
    )
    return BlockOps(mid, cout, main, (), pre=_norm_act(cfg, 1, cin))


BLOCKS: dict[str, Callable[[BlockConfig, int, int, int], BlockOps]] = {
    "basic": basic,
    "bottleneck": bottleneck,
    "preact_basic": preact_basic,
    "preact_bottleneck": preact_bottleneck,
}
EXPANSION = {"basic": 1, "bottleneck": 4, "preact_basic": 1, "preact_bottleneck": 4}
PREACT = frozenset({"preact_basic", "preact_bottleneck"})
"""Pre-activation block kinds: BN + ReLU before each conv, a bare stem, a final BN + ReLU."""
BASIC_KINDS = frozenset({"basic", "preact_basic"})
"""Kinds with two 3×3 convs (no place for the bottleneck-only settings)."""

_V2_SHORTCUT_NAMES = {
    "projection": {"downsample.0": "downsample.conv", "downsample.1": "downsample.norm"},
    "avgpool_projection": {
        "downsample.0": "downsample.pool",
        "downsample.1": "downsample.conv",
        "downsample.2": "downsample.norm",
    },
}


def shortcut_reads_pre(use: ShortcutUse) -> bool:
    """Whether a pre-activation block's shortcut reads the pre-activated input: projections do (He et al. 2016,
    timm's ResNetV2); the identity and option A's zero-pad read the block input, keeping that path clean."""
    return use in ("projection", "avgpool_projection")


def layout_shortcut(cfg: BlockConfig, use: ShortcutUse, ops: tuple[Op, ...]) -> tuple[Op, ...]:
    """Shortcut ops renamed for the layout: timm's ResNetV2 names ``downsample.pool/conv/norm``."""
    names = _V2_SHORTCUT_NAMES.get(use) if cfg.layout == "resnetv2" else None
    if names is None:
        return ops
    return tuple(replace(op, name=names[op.name]) for op in ops)


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
