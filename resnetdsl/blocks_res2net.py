"""Res2Net's block kind (Gao et al. 2019; timm's ``Bottle2neck``; issue 18).

1×1 (→ inner × scale) → BN → ReLU → the hierarchical split (:class:`~resnetdsl.plan.Res2Split`: ``scale``
splits of the inner width, ``scale − 1`` 3×3 convs in ``groups`` groups, each with BN + ReLU, adding up split
by split; the last split passes through) → 1×1 → BN (→ attention); ReLU after the add. The inner width is the
bottleneck's, ``int(width × width_per_group / 64) × groups`` (timm's ``base_width``, ``cardinality``). A block
that strides or has a downsample (timm's ``is_first``: a stage's first block) adds nothing between splits, every
split conv carries the stride, and the last split goes through a 3×3/s average pool. Registered in
:data:`resnetdsl.blocks.BLOCK_KINDS` when :mod:`resnetdsl.blocks` is imported.
"""

from __future__ import annotations

from resnetdsl import blocks as B
from resnetdsl.blocks import BlockConfig, BlockKind, BlockOps, _act, _conv, _norm, register_block_kind
from resnetdsl.plan import Norm, Op, Pool, Res2Split

RES2NET_SETTINGS = frozenset({"groups", "width_per_group", "scale"})
"""The kind-specific settings a ``res2net`` block uses."""


def stage_first(cfg: BlockConfig, cin: int, cout: int, stride: int) -> bool:
    """timm's ``is_first``: the block strides or its shortcut is no identity (it has a downsample module)."""
    use, _ = B.shortcut(cfg, cin, cout, stride)
    return stride > 1 or use not in ("identity", "none")


def res2net(cfg: BlockConfig, cin: int, width: int, stride: int) -> BlockOps:
    """1×1 → BN → ReLU → Res2 split (3×3s, stride) → [DropBlock] → 1×1 → BN (→ attention); ReLU after the add."""
    inner = B.bottleneck_mid(cfg, width)
    n = cfg.scale - 1
    cout = width * cfg.expansion
    first = stage_first(cfg, cin, cout, stride)
    d = cfg.first_dil  # timm's Bottle2neck dilates every split conv by first_dilation
    convs = tuple(_conv(f"convs.{i}", inner, inner, 3, stride, cfg, groups=cfg.groups, dilation=d) for i in range(n))
    norms = tuple(op for i in range(n) for op in _norm(cfg, f"bns.{i}", inner) if isinstance(op, Norm))
    pool = Pool("pool", "avg", 3, stride, padding=1) if first else None
    split = Res2Split("convs", inner, convs, norms, _act(cfg, "act"), pool, not first)
    main: tuple[Op, ...] = (
        _conv("conv1", cin, inner * cfg.scale, 1, 1, cfg),
        *_norm(cfg, "bn1", inner * cfg.scale),
        _act(cfg, "act1"),
        split,
        *B.drop_block(cfg, inner * cfg.scale),
        _conv("conv3", inner * cfg.scale, cout, 1, 1, cfg),
        *_norm(cfg, "bn3", cout, zero_init=cfg.zero_init),
        *B.attention(cfg, cout),
    )
    return BlockOps(inner * cfg.scale, cout, main, (_act(cfg, "act3"),))


RES2NET = register_block_kind(BlockKind("res2net", res2net, 4, False, RES2NET_SETTINGS, "Res2Net", "Bottle2neck"))
