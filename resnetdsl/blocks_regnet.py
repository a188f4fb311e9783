"""RegNet's block kind (Radosavovic et al. 2020; issue 19): X and Y, and its module names in each layout.

1×1 (w_in → w_b) → BN → ReLU → 3×3 (w_b / group_width groups, the stride) → BN → ReLU → [SE] → 1×1 (→ w) → BN;
ReLU after the add. The inner width is ``int(round(w · bottleneck_ratio))``; Y's squeeze-and-excitation acts on
the inner width and reduces it to ``int(round(se_ratio · w_in))``, ``w_in`` the block's *input* width (pycls's
``w_se``, torchvision's ``width_se_out``, timm's ``se_channels``: not a ratio of the channels it acts on).
Registered in :data:`resnetdsl.blocks.BLOCK_KINDS` when :mod:`resnetdsl.blocks` is imported.
"""

from __future__ import annotations

from dataclasses import replace

from resnetdsl import blocks as B
from resnetdsl.blocks import BlockConfig, BlockKind, BlockOps, _conv, _norm, register_block_kind
from resnetdsl.plan import Op

_NAMES: dict[str, tuple[str, ...]] = {
    # conv a, norm a, act a, conv b, norm b, act b, attention, conv c, norm c, act after the add
    "resnet": ("conv1", "bn1", "act1", "conv2", "bn2", "act2", "se", "conv3", "bn3", "act3"),
    "regnet": ("conv1.conv", "conv1.bn", "", "conv2.conv", "conv2.bn", "", "se", "conv3.conv", "conv3.bn", "act3"),
    "tv_regnet": ("f.a.0", "f.a.1", "f.a.2", "f.b.0", "f.b.1", "f.b.2", "f.se", "f.c.0", "f.c.1", "activation"),
}
"""Module names of a RegNet block's ops per layout (timm's RegNet: ``conv1.bn`` is one BatchNorm + ReLU module,
no name of its own for the act)."""


def regnet_inner(cfg: BlockConfig, width: int) -> int:
    """Inner width: ``int(round(width · expansion · bottleneck_ratio))`` (torchvision, timm, pycls)."""
    return round(width * cfg.expansion * cfg.bottleneck_ratio)


def regnet_groups(cfg: BlockConfig, inner: int) -> int:
    """Groups of the 3×3: ``inner // group_width`` (one group without a group width; at least one)."""
    return max(inner // cfg.group_width, 1) if cfg.group_width is not None else 1


def regnet_se_width(cfg: BlockConfig, cin: int) -> int:
    """Reduced width of a RegNet Y block's squeeze-and-excitation: ``int(round(se_ratio · w_in))``."""
    return round(cfg.se_ratio * cin)


def _norm_act(cfg: BlockConfig, norm: str, act: str, channels: int) -> tuple[Op, ...]:
    if cfg.layout == "regnet":  # timm's BatchNormAct2d (the rules hold this layout to batch norm + ReLU)
        return (B.norm_act_op(norm, channels),)
    ops = _norm(cfg, norm, channels)
    if not ops and cfg.layout == "tv_regnet":  # torchvision's Conv2dNormActivation without a norm: [conv, act]
        act = norm
    return (*ops, cfg.norm_act.act_op(act))


def _attention(cfg: BlockConfig, name: str, inner: int, cin: int) -> tuple[Op, ...]:
    """The block's attention on the inner width, named for the layout; SE reduced from the input width."""
    ops = B.attention(cfg, inner)
    if cfg.attention == "se":
        return tuple(replace(op, name=name, reduced_channels=max(regnet_se_width(cfg, cin), 1)) for op in ops)  # type: ignore[arg-type]
    return tuple(replace(op, name=name) for op in ops)


def regnet(cfg: BlockConfig, cin: int, width: int, stride: int) -> BlockOps:
    """1×1 → BN → ReLU → 3×3 (groups of ``group_width``, stride) → BN → ReLU → (SE on the inner width, reduced
    from the input width) → 1×1 → BN; ReLU after the add (RegNet X; Y with ``attention: se``)."""
    n = _NAMES.get(cfg.layout, _NAMES["resnet"])  # a layout without RegNet names: refused by the rules
    cout = width * cfg.expansion
    inner = regnet_inner(cfg, width)
    groups = regnet_groups(cfg, inner)
    main: tuple[Op, ...] = (
        _conv(n[0], cin, inner, 1, 1, cfg),
        *_norm_act(cfg, n[1], n[2], inner),
        _conv(n[3], inner, inner, 3, stride, cfg, groups=groups, dilation=cfg.first_dil),
        *_norm_act(cfg, n[4], n[5], inner),
        *_attention(cfg, n[6], inner, cin),
        _conv(n[7], inner, cout, 1, 1, cfg),
        *_norm(cfg, n[8], cout, zero_init=cfg.zero_init),
    )
    return BlockOps(inner, cout, main, (cfg.norm_act.act_op(n[9]),), groups=groups)


REGNET = register_block_kind(
    BlockKind("regnet", regnet, 1, False, frozenset({"group_width", "bottleneck_ratio"}), "RegNetBlock", "RegNetBlock")
)
