"""The selective-kernel block kinds (Li et al. 2019; timm's ``SelectiveKernelBasic`` and ``…Bottleneck``).

A selective kernel conv runs two or more branches of different reach (3×3 convs at growing dilation with
``sk_keep_3x3``) and mixes them by attention; each conv and its norm is one timm ``ConvNormAct`` module.
Registered in :data:`resnetdsl.blocks.BLOCK_KINDS` by :mod:`resnetdsl.blocks`.
"""

from __future__ import annotations

from resnetdsl.blocks_base import BlockConfig, BlockOps, _act, _norm, attention, bottleneck_mid, make_divisible
from resnetdsl.plan import Conv, ConvNormAct, Op, SelectiveKernel


def _conv_norm_act(
    cfg: BlockConfig, name: str, conv: Conv, *, act: bool = True, zero_init: bool = False
) -> ConvNormAct:
    """timm's ConvNormAct: conv, the block's norm (``bn``), its activation (``act``) unless ``act`` is false."""
    norm = _norm(cfg, "bn", conv.out_channels, zero_init=zero_init)
    return ConvNormAct(name, conv, norm[0] if norm else None, _act(cfg, "act") if act else None)  # type: ignore[arg-type]


def sk_branches(cfg: BlockConfig, dilation: int) -> tuple[tuple[int, int], ...]:
    """(kernel, dilation) of each branch: with ``sk_keep_3x3`` all 3×3, kernel k at dilation × (k − 1) / 2."""
    if cfg.sk_keep_3x3:
        return tuple((3, dilation * (k - 1) // 2) for k in cfg.sk_kernels)
    return tuple((k, dilation) for k in cfg.sk_kernels)


def sk_padding(kernel: int, stride: int, dilation: int) -> int:
    """timm's symmetric padding of a branch conv: ((stride − 1) + dilation × (kernel − 1)) // 2."""
    return ((stride - 1) + dilation * (kernel - 1)) // 2


def selective_kernel(
    cfg: BlockConfig, name: str, cin: int, cout: int, stride: int, dilation: int, groups: int = 1
) -> SelectiveKernel:
    """A selective kernel conv of the block's settings (timm's ``SelectiveKernel``)."""
    n = len(cfg.sk_kernels)
    share = cin // n if cfg.sk_split_input else cin
    g = min(cout, groups)
    paths = tuple(
        _conv_norm_act(
            cfg,
            str(i),
            Conv("conv", share, cout, k, stride, sk_padding(k, stride, d), d, g, bias=cfg.conv_bias),
        )
        for i, (k, d) in enumerate(sk_branches(cfg, dilation))
    )
    attn = make_divisible(cout * cfg.sk_rd_ratio, cfg.sk_rd_divisor)
    return SelectiveKernel(name, cin, cout, stride, paths, cfg.sk_split_input, attn)


def sk_basic(cfg: BlockConfig, cin: int, width: int, stride: int) -> BlockOps:
    """SK conv (stride) → 3×3 conv → BN (→ attention); ReLU after the add (timm's ``SelectiveKernelBasic``).

    Each branch of the SK conv ends with BN + ReLU; the second conv is one conv + norm module (``conv2.conv``,
    ``conv2.bn``)."""
    cout = width * cfg.expansion
    conv2 = Conv("conv", width, cout, 3, 1, cfg.dilation, cfg.dilation, bias=cfg.conv_bias)
    main: tuple[Op, ...] = (
        selective_kernel(cfg, "conv1", cin, width, stride, cfg.first_dil),
        _conv_norm_act(cfg, "conv2", conv2, act=False, zero_init=cfg.zero_init),
        *attention(cfg, cout),
    )
    return BlockOps(width, cout, main, (_act(cfg, "act"),))


def sk_bottleneck(cfg: BlockConfig, cin: int, width: int, stride: int) -> BlockOps:
    """1×1 → BN → ReLU → SK conv (stride, groups) → 1×1 → BN (→ attention); ReLU after the add (timm's
    ``SelectiveKernelBottleneck``; each conv and its norm one module: ``conv1.conv``, ``conv1.bn``)."""
    mid = bottleneck_mid(cfg, width)
    cout = width * cfg.expansion
    main: tuple[Op, ...] = (
        _conv_norm_act(cfg, "conv1", Conv("conv", cin, mid, 1, bias=cfg.conv_bias)),
        selective_kernel(cfg, "conv2", mid, mid, stride, cfg.first_dil, cfg.groups),
        _conv_norm_act(
            cfg, "conv3", Conv("conv", mid, cout, 1, bias=cfg.conv_bias), act=False, zero_init=cfg.zero_init
        ),
        *attention(cfg, cout),
    )
    return BlockOps(mid, cout, main, (_act(cfg, "act"),))
