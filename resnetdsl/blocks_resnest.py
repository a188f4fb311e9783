"""The ResNeSt block kind (Zhang et al. 2020; timm's ``ResNestBottleneck``): split attention on the 3×3.

Registered in :data:`resnetdsl.blocks.BLOCK_KINDS` by :mod:`resnetdsl.blocks`.
"""

from __future__ import annotations

from typing import Literal

from resnetdsl.blocks_base import BlockConfig, BlockOps, _act, _conv, _norm, bottleneck_mid
from resnetdsl.plan import Op, Pool, SplitAttention
from resnetdsl.vocab import SPLIT_ATTN_DIVISOR, SPLIT_ATTN_MIN, SPLIT_ATTN_RATIO


def timm_make_divisible(value: float, divisor: int, min_value: int) -> int:
    """timm's ``make_divisible`` with its ``round_limit`` 0.9: nearest multiple of ``divisor``, at least
    ``min_value``, one more divisor where rounding lost more than 10 %."""
    new = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * value else new


def split_attn_channels(channels: int, radix: int) -> int:
    """The hidden width of split attention over ``channels`` (timm's ``SplitAttn``)."""
    return timm_make_divisible(channels * radix * SPLIT_ATTN_RATIO, SPLIT_ATTN_DIVISOR, SPLIT_ATTN_MIN)


def resnest(cfg: BlockConfig, cin: int, width: int, stride: int) -> BlockOps:
    """1×1 → BN → ReLU → [3×3/s avg pool] → split attention 3×3 (radix, groups) → [3×3/s avg pool] → 1×1 → BN;
    ReLU after the add (timm's ResNestBottleneck; the pool where it downsamples, per ``avd``)."""
    mid = bottleneck_mid(cfg, width)
    cout = width * cfg.expansion
    avd = cfg.avd != "none" and stride > 1
    pool = (Pool(f"avd_{cfg.avd}", "avg", 3, stride, padding=1),) if avd else ()
    norm: Literal["batch", "none"] = "none" if cfg.norm_act.norm == "none" else "batch"  # rules refuse the others
    act = _act(cfg, "act")
    attn = split_attn_channels(mid, cfg.radix)
    split = SplitAttention(
        "conv2", mid, mid, attn, cfg.radix, cfg.groups, 1 if avd else stride, cfg.first_dil, norm, act.kind,
        act.negative_slope,
    )  # fmt: skip
    main: tuple[Op, ...] = (
        _conv("conv1", cin, mid, 1, 1, cfg),
        *_norm(cfg, "bn1", mid),
        _act(cfg, "act1"),
        *(pool if cfg.avd == "first" else ()),
        split,
        *(pool if cfg.avd == "last" else ()),
        _conv("conv3", mid, cout, 1, 1, cfg),
        *_norm(cfg, "bn3", cout, zero_init=cfg.zero_init),
    )
    return BlockOps(mid, cout, main, (_act(cfg, "act3"),))
