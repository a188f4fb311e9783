"""RegNet's block kind (Radosavovic et al. 2020; issue 19): X and Y, and its module names in each layout.

1×1 (w_in → w_b) → BN → ReLU → 3×3 (w_b / group_width groups, the stride) → BN → ReLU → [SE] → 1×1 (→ w) → BN;
ReLU after the add. The inner width is ``int(round(w · bottleneck_ratio))``; Y's squeeze-and-excitation acts on
the inner width and reduces it to ``int(round(se_ratio · w_in))``, ``w_in`` the block's *input* width (pycls's
``w_se``, torchvision's ``width_se_out``, timm's ``se_channels``: not a ratio of the channels it acts on), its
activation the block's own (timm's RegNet V, Z and SGN: SiLU). timm's pre-activation block (RegNet V) is
:func:`preact_regnet`.
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
    if cfg.layout == "regnet":  # timm's BatchNormAct2d / GroupNormAct with the block's act (the rules hold the norm)
        return (cfg.norm_act.norm_act_op(norm, channels),)
    ops = _norm(cfg, norm, channels)
    if not ops and cfg.layout == "tv_regnet":  # torchvision's Conv2dNormActivation without a norm: [conv, act]
        act = norm
    return (*ops, cfg.norm_act.act_op(act))


def _attention(cfg: BlockConfig, name: str, inner: int, cin: int) -> tuple[Op, ...]:
    """The block's attention on the inner width, named for the layout; SE reduced from the input width."""
    ops = B.attention(cfg, inner)
    if cfg.attention == "se":  # timm's and torchvision's SE take the block's activation
        rd = max(regnet_se_width(cfg, cin), 1)
        return tuple(replace(op, name=name, reduced_channels=rd, act=cfg.norm_act.act) for op in ops)  # type: ignore[arg-type]
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


def _pre_norm(cfg: BlockConfig, i: int, channels: int) -> tuple[Op, ...]:
    """The i-th pre-activation norm + act: one of timm's norm-act modules ``norm{i}`` (``regnet``), else
    ``bn{i}`` and ``act{i}``."""
    if cfg.layout == "regnet":
        return (cfg.norm_act.norm_act_op(f"norm{i}", channels),)
    return (*_norm(cfg, f"bn{i}", channels), cfg.norm_act.act_op(f"act{i}"))


def preact_regnet(cfg: BlockConfig, cin: int, width: int, stride: int) -> BlockOps:
    """timm's pre-activation RegNet block (``PreBottleneck``, RegNet V): norm + act → [the shortcut reads this] →
    1×1 → norm + act → 3×3 (groups, stride) → (SE) → norm + act → 1×1; nothing after the add."""
    cout = width * cfg.expansion
    inner = regnet_inner(cfg, width)
    groups = regnet_groups(cfg, inner)
    main: tuple[Op, ...] = (
        _conv("conv1", cin, inner, 1, 1, cfg),
        *_pre_norm(cfg, 2, inner),
        _conv("conv2", inner, inner, 3, stride, cfg, groups=groups, dilation=cfg.first_dil),
        *_attention(cfg, "se", inner, cin),
        *_pre_norm(cfg, 3, inner),
        replace(_conv("conv3", inner, cout, 1, 1, cfg), zero_init=cfg.zero_init),
    )
    return BlockOps(inner, cout, main, (), pre=_pre_norm(cfg, 1, cin), groups=groups, shortcut_from_pre=True)


REGNET = register_block_kind(
    BlockKind("regnet", regnet, 1, False, frozenset({"group_width", "bottleneck_ratio"}), "RegNetBlock", "RegNetBlock")
)
PREACT_REGNET = register_block_kind(
    BlockKind(
        "preact_regnet",
        preact_regnet,
        1,
        True,
        frozenset({"group_width", "bottleneck_ratio"}),
        "PreActRegNet",
        "PreActRegNetBlock",
    )
)
"""timm's RegNet V block (issue 19): its shortcut, the identity too, reads the pre-activated input; a network of
them ends with the activation alone (no final norm), see :func:`final_ops`."""

REGNET_KINDS = frozenset({"regnet", "preact_regnet"})


def final_ops(cfg: BlockConfig, channels: int, conv_width: int | None, preact: bool) -> tuple[Op, ...] | None:
    """What follows the last stage where RegNet's rules decide it (``None``: the house's own rule): a 1×1 conv +
    norm + act of ``head.conv_width`` (timm's ``final_conv``, ``num_features``), or, after blocks without an
    activation at their end (``linear_out``, ``preact_regnet``), the activation alone (timm's final act)."""
    regnet = cfg.layout == "regnet"
    if conv_width is not None:
        conv = _conv("final_conv.conv" if regnet else "final_conv.0", channels, conv_width, 1, 1, cfg)
        if regnet:
            return (conv, cfg.norm_act.norm_act_op("final_conv.bn", conv_width))
        return (conv, *_norm(cfg, "final_conv.1", conv_width), cfg.norm_act.act_op("final_conv.2"))
    if cfg.block == "preact_regnet" or (cfg.linear_out and not preact):
        return (cfg.norm_act.act_op("final_conv" if regnet else "final_act"),)
    return None
