"""The one place where each block kind and shortcut policy becomes plan ops, and the table of block kinds.

Lowering's last step calls :func:`make_block` with a block's resolved settings (a :class:`BlockConfig`);
everything the house knows about a block kind (its builder, expansion, family, the kind-specific settings it
uses, its diagram title and exported class name) is one :class:`BlockKind` entry of :data:`BLOCK_KINDS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Set
from dataclasses import dataclass, replace
from typing import Generic, Literal, TypeVar

from resnetdsl.plan import (  # family: anti-aliasing and split attention (issue 18)
    Act,
    Block,
    BlurPool,
    Cbam,
    Conv,
    ConvNormAct,
    DropBlock,
    Dropout,
    DropPath,
    EfficientChannelAttn,
    GlobalContext,
    Identity,
    Norm,
    NormAct,
    Op,
    PadShortcut,
    Pool,
    SelectiveKernel,
    ShortcutUse,
    SplitAttention,
    SqueezeExcite,
)
from resnetdsl.vocab import (
    ACTIVATIONS,
    BLUR_FILTER_SIZE,
    CBAM_KERNEL,
    CBAM_RATIO,
    DEFAULT_NEGATIVE_SLOPE,
    DEFAULT_NORM_GROUPS,
    DEFAULT_STD_EPS,
    GC_RATIO,
    GROUPED_NORMS,
    NORM_ACTS,
    NORMS,
    SE_DIVISOR,
    SE_RATIO,
    SPLIT_ATTN_DIVISOR,
    SPLIT_ATTN_MIN,
    SPLIT_ATTN_RATIO,
    SPLIT_RADIX,
)
from resnetdsl.vocab import eca_kernel_size as eca_kernel_size  # re-exported: the importer reads it here


@dataclass(frozen=True, slots=True)
class NormActConfig:
    """Resolved normalisation and activation settings of the stem or of one stage's blocks."""

    norm: str = "batch"
    """``batch``, ``group``, ``frozen_batch`` or ``none``."""
    groups: int | None = None
    """Group norm: number of groups (``None``: see ``group_channels``, else :data:`DEFAULT_NORM_GROUPS`)."""
    group_channels: int | None = None
    """Group norm: channels per group, instead of ``groups``."""
    act: str = "relu"
    negative_slope: float = DEFAULT_NEGATIVE_SLOPE
    conv: str = "plain"
    """``plain`` or ``std`` (weight standardisation)."""
    std_eps: float = DEFAULT_STD_EPS

    @property
    def std(self) -> float | None:
        """A conv's ``std_eps``: the eps of weight standardisation, ``None`` for a plain conv."""
        return self.std_eps if self.conv == "std" else None

    def norm_act_op(self, name: str, channels: int) -> NormAct:
        """A norm + activation in one module (timm's ResNetV2 norm layers)."""
        kind = self.norm if self.norm in NORM_ACTS else "batch"  # other kinds: refused by lowering's rules
        groups = self.norm_groups(channels) if kind in GROUPED_NORMS else 1
        return NormAct(name, channels, kind=kind, groups=groups, act=self.act)  # type: ignore[arg-type]

    def norm_groups(self, channels: int) -> int:
        """Groups of a group norm over ``channels`` (need not divide them: lowering checks that)."""
        if self.groups is not None:
            return self.groups
        if self.group_channels is not None:
            return max(channels // self.group_channels, 1)
        return DEFAULT_NORM_GROUPS

    def norm_op(self, name: str, channels: int, *, zero_init: bool = False) -> tuple[Op, ...]:
        """The norm layer after a conv: one op, or none at all for ``norm: none``."""
        if self.norm == "none":
            return ()
        kind = self.norm
        if kind not in NORMS:  # a norm with its nonlinearity built in (layout resnetv2 only: the rules say so)
            return (self.norm_act_op(name, channels),)
        groups = self.norm_groups(channels) if kind == "group" else 1
        return (Norm(name, channels, kind=kind, zero_init=zero_init, groups=groups),)  # type: ignore[arg-type]

    def act_op(self, name: str) -> Act:
        slope = self.negative_slope if ACTIVATIONS[self.act].slope else DEFAULT_NEGATIVE_SLOPE
        return Act(name, kind=self.act, negative_slope=slope)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class BlockConfig:
    """Fully resolved settings of one block (lowering's :class:`~resnetdsl.lower.resolve.ResolvedBlock` makes it)."""

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
    norm_act: NormActConfig = NormActConfig()
    attention: str = "none"
    """``se``, ``eca`` or ``none``."""
    se_ratio: float = SE_RATIO
    se_divisor: int = SE_DIVISOR
    eca_kernel: int | None = None
    """``None``: from the channel count (timm's rule, :func:`eca_kernel_size`)."""
    drop_path: float = 0.0
    """Highest rate of the network's linear stochastic-depth rule, as written for this block."""
    dilation: int = 1
    """Dilation of the stage's 3×3 convs (padding = dilation). An avg-pool shortcut in a dilated stage pools at
    stride 1 (timm's ``downsample_avg``)."""
    first_dilation: int | None = None
    """Dilation of the block's first 3×3 conv (basic: ``conv1``; bottleneck: its only 3×3): the previous stage's
    dilation in a stage's first block, as torchvision and timm build it. ``None``: ``dilation``."""
    # family: anti-aliased downsampling and split attention (issue 18)
    aa: str = "none"
    """Basic and bottleneck: ``blur``, ``avg`` or ``none`` (see :func:`antialias`)."""
    radix: int = SPLIT_RADIX
    """Resnest: splits per cardinal group."""
    avd: str = "last"
    """Resnest: ``first``, ``last`` or ``none``."""

    # selective kernels (issue 18, SK family)
    sk_kernels: tuple[int, ...] = (3, 5)
    """``sk_basic``, ``sk_bottleneck``: the kernel of each branch of the selective kernel conv."""
    sk_keep_3x3: bool = True
    """Every branch a 3×3 conv, a larger kernel k becoming dilation (k − 1) / 2 (timm's ``keep_3x3``)."""
    sk_split_input: bool = True
    """Each branch reads an equal share of the input channels (timm's ``split_input``)."""
    sk_rd_ratio: float = 1 / 16
    """Attention width = the SK conv's output channels × this, rounded to a multiple of ``sk_rd_divisor``."""
    sk_rd_divisor: int = 8
    group_width: int | None = None
    """``regnet``: channels per group of the 3×3 conv (``None``: one group)."""
    bottleneck_ratio: float = 1.0
    """``regnet``: inner width over the output width."""
    linear_out: bool = False
    """No activation after the add (timm's RegNet Z, issue 19)."""
    # family senet (issue 18)
    shortcut_kernel: int = 1
    """Kernel of a projection shortcut's conv where the block strides or dilates (timm's ``down_kernel_size``)."""
    reduce_first: int = 1
    """The first conv of the branch outputs the inner width divided by this (timm's ``reduce_first``)."""
    conv_widths: tuple[int, ...] | None = None
    """Output channels of the branch's convs but the last (a pruned network's); ``None``: the block's rule."""
    drop_block: tuple[float, int, float] | None = None
    """DropBlock after the branch's first norm (basic) or second (bottleneck): (rate, block size, γ scale)."""

    @property
    def first_dil(self) -> int:
        return self.dilation if self.first_dilation is None else self.first_dilation


def make_divisible(value: float, divisor: int) -> int:
    """timm's ``make_divisible(v, divisor, round_limit=0)``: nearest multiple of ``divisor``, at least ``divisor``."""
    return max(divisor, int(value + divisor / 2) // divisor * divisor)


def se_channels(cfg: BlockConfig, channels: int) -> int:
    """Reduced width of a squeeze-and-excitation module over ``channels`` (timm's SEModule rounding)."""
    return make_divisible(channels * cfg.se_ratio, cfg.se_divisor)


def attention(cfg: BlockConfig, channels: int) -> tuple[Op, ...]:
    """The attention module at the end of a residual branch (timm's ``se`` attribute; ``se_module`` in the
    legacy SENets' layout), or none."""
    name = "se_module" if cfg.layout == "senet" else "se"
    if cfg.attention == "se":
        return (SqueezeExcite(name, channels, se_channels(cfg, channels)),)
    if cfg.attention == "eca":
        k = cfg.eca_kernel if cfg.eca_kernel is not None else eca_kernel_size(channels)
        return (EfficientChannelAttn(name, channels, k),)
    # family senet (issue 18): CBAM and global context, reduced as timm's create_attn does (divisor 1)
    if cfg.attention == "cbam":
        return (Cbam(name, channels, make_divisible(channels * CBAM_RATIO, 1), CBAM_KERNEL),)
    if cfg.attention == "gc":
        return (GlobalContext(name, channels, make_divisible(channels * GC_RATIO, 1)),)
    return ()


def drop_block(cfg: BlockConfig, channels: int) -> tuple[Op, ...]:
    """timm's ``drop_block`` module after a branch's norm, where the stage has one (family senet, issue 18)."""
    if cfg.drop_block is None:
        return ()
    p, size, gamma = cfg.drop_block
    return (DropBlock("drop_block", channels, p, size, gamma),)


def branch_widths(cfg: BlockConfig, inner: int, n: int) -> tuple[int, ...]:
    """Output channels of the first ``n`` convs of a residual branch (all but its last): ``conv_widths`` where it
    gives ``n`` of them (a pruned network), else the first conv's ``inner // reduce_first`` and ``inner`` for the
    rest (the rules report a ``conv_widths`` of the wrong length; the plan then takes the rule's widths)."""
    if cfg.conv_widths is not None and len(cfg.conv_widths) == n:
        return cfg.conv_widths
    first = max(inner // cfg.reduce_first, 1)
    return (first, *(inner,) * (n - 1))


def drop_path_rate(rate: float, index: int, total: int) -> float:
    """timm's linear stochastic-depth rule: block ``index`` of ``total`` (from 0) gets rate × index / (total − 1)."""
    return rate * index / (total - 1) if total > 1 else 0.0


def with_drop_path(ops: BlockOps, rate: float) -> BlockOps:
    """``ops`` with stochastic depth of ``rate`` at the end of the residual branch, just before the add (timm's
    ``drop_path``); unchanged for rate 0, as timm adds no module then."""
    if rate <= 0:
        return ops
    return replace(ops, main=(*ops.main, DropPath("drop_path", rate)))


def _norm(cfg: BlockConfig, name: str, channels: int, zero_init: bool = False) -> tuple[Op, ...]:
    return cfg.norm_act.norm_op(name, channels, zero_init=zero_init)


def _act(cfg: BlockConfig, name: str) -> Act:
    return cfg.norm_act.act_op(name)


@dataclass(frozen=True, slots=True)
class BlockOps:
    mid_channels: int
    out_channels: int
    main: tuple[Op, ...]
    post: tuple[Op, ...]
    pre: tuple[Op, ...] = ()
    """Pre-activation: ops on the block input before the main path (a projection shortcut reads their output)."""
    groups: int | None = None
    """Groups of the 3×3 conv where the kind computes them (``regnet``); ``None``: the ``groups`` setting."""
    shortcut_from_pre: bool | None = None
    """The shortcut reads ``pre``'s output whatever it is, the identity too (``preact_regnet``); ``None``: a
    projection does, the identity does not (:func:`shortcut_reads_pre`)."""


def _conv(
    name: str, cin: int, cout: int, k: int, stride: int, cfg: BlockConfig, groups: int = 1, dilation: int = 1
) -> Conv:
    d = dilation if k > 1 else 1
    pad = k // 2 * d
    std = cfg.norm_act.std
    return Conv(
        name, cin, cout, k, stride=stride, padding=pad, dilation=d, groups=groups, bias=cfg.conv_bias, std_eps=std
    )


def basic(cfg: BlockConfig, cin: int, width: int, stride: int) -> BlockOps:
    """3×3 conv (stride) → BN → ReLU → 3×3 conv → BN (→ attention); ReLU after the add.

    BN and ReLU stand for the stage's norm and activation."""
    cout = width * cfg.expansion
    (c1,) = branch_widths(cfg, width, 1)
    legacy = cfg.layout == "senet" and cfg.attention != "none"  # the legacy SENets' basic block: ReLU, then SE
    aa = antialias(cfg, "aa", c1, stride)
    main: tuple[Op, ...] = (
        _conv("conv1", cin, c1, 3, 1 if aa else stride, cfg, dilation=cfg.first_dil),
        *_norm(cfg, "bn1", c1),
        *drop_block(cfg, c1),
        _act(cfg, "act1"),
        *aa,
        _conv("conv2", c1, cout, 3, 1, cfg, dilation=cfg.dilation),
        *_norm(cfg, "bn2", cout, zero_init=cfg.zero_init),
        *((_act(cfg, "act2"),) if legacy else ()),
        *attention(cfg, cout),
    )
    return BlockOps(c1, cout, main, (_act(cfg, "act3" if legacy else "act2"),))


def bottleneck_mid(cfg: BlockConfig, width: int) -> int:
    """Inner width of a bottleneck (torchvision): int(width × width_per_group / 64) × groups."""
    return int(width * (cfg.width_per_group / 64.0)) * cfg.groups


def bottleneck(cfg: BlockConfig, cin: int, width: int, stride: int) -> BlockOps:
    """1×1 → BN → ReLU → 3×3 (groups) → BN → ReLU → 1×1 → BN (→ attention); ReLU after the add.

    The stride sits on the 3×3 (v1.5) or on the first 1×1 (the original model), per ``stride_on``.
    """
    c1, mid = branch_widths(cfg, bottleneck_mid(cfg, width), 2)
    cout = width * cfg.expansion
    s1, s3 = (stride, 1) if cfg.stride_on == "1x1" else (1, stride)
    aa = antialias(cfg, "aa", mid, s3)
    main: tuple[Op, ...] = (
        _conv("conv1", cin, c1, 1, s1, cfg),
        *_norm(cfg, "bn1", c1),
        _act(cfg, "act1"),
        _conv("conv2", c1, mid, 3, 1 if aa else s3, cfg, groups=cfg.groups, dilation=cfg.first_dil),
        *_norm(cfg, "bn2", mid),
        *drop_block(cfg, mid),
        _act(cfg, "act2"),
        *aa,
        _conv("conv3", mid, cout, 1, 1, cfg),
        *_norm(cfg, "bn3", cout, zero_init=cfg.zero_init),
        *attention(cfg, cout),
    )
    return BlockOps(mid, cout, main, (_act(cfg, "act3"),))


def _norm_act(cfg: BlockConfig, i: int, channels: int) -> tuple[Op, ...]:
    """The i-th norm + activation of a pre-activation block: ``bn{i}``, ``act{i}`` (resnet; the stage's norm and
    activation) or one ``norm{i}`` (resnetv2: one of timm's norm-act modules, the stage's norm kind)."""
    if cfg.layout == "resnetv2":
        return (cfg.norm_act.norm_act_op(f"norm{i}", channels),)
    norm = _norm(cfg, f"bn{i}", channels)
    act = _act(cfg, f"act{i}")
    if not norm and i == 1:  # no norm before it: an in-place act would overwrite the block input the shortcut reads
        act = replace(act, inplace=False)
    return (*norm, act)


def preact_basic(cfg: BlockConfig, cin: int, width: int, stride: int) -> BlockOps:
    """BN → ReLU → 3×3 conv (stride) → BN → ReLU → [dropout] → 3×3 conv (→ attention); nothing after the add.

    He et al. 2016 ("Identity Mappings"); with ``dropout`` the Wide ResNet block (Zagoruyko & Komodakis 2016).
    """
    cout = width * cfg.expansion
    (c1,) = branch_widths(cfg, width, 1)
    drop: tuple[Op, ...] = (Dropout("dropout", cfg.dropout),) if cfg.dropout > 0 else ()
    main: tuple[Op, ...] = (
        _conv("conv1", cin, c1, 3, stride, cfg, dilation=cfg.first_dil),
        *_norm_act(cfg, 2, c1),
        *drop,
        replace(_conv("conv2", c1, cout, 3, 1, cfg, dilation=cfg.dilation), zero_init=cfg.zero_init),
        *attention(cfg, cout),
    )
    return BlockOps(c1, cout, main, (), pre=_norm_act(cfg, 1, cin))


def preact_bottleneck(cfg: BlockConfig, cin: int, width: int, stride: int) -> BlockOps:
    """BN → ReLU → 1×1 → BN → ReLU → 3×3 (groups) → BN → ReLU → 1×1 (→ attention); nothing after the add.

    He et al. 2016; the stride sits on the 3×3 (timm) or on the first 1×1 (the paper's code), per ``stride_on``.
    """
    c1, mid = branch_widths(cfg, bottleneck_mid(cfg, width), 2)
    cout = width * cfg.expansion
    s1, s3 = (stride, 1) if cfg.stride_on == "1x1" else (1, stride)
    main: tuple[Op, ...] = (
        _conv("conv1", cin, c1, 1, s1, cfg),
        *_norm_act(cfg, 2, c1),
        _conv("conv2", c1, mid, 3, s3, cfg, groups=cfg.groups, dilation=cfg.first_dil),
        *_norm_act(cfg, 3, mid),
        replace(_conv("conv3", mid, cout, 1, 1, cfg), zero_init=cfg.zero_init),
        *attention(cfg, cout),
    )
    return BlockOps(mid, cout, main, (), pre=_norm_act(cfg, 1, cin))


# --- selective kernels (issue 18, SK family) -------------------------------------------------------------------


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


# --- family: anti-aliased downsampling and split attention (issue 18) -----------------------------------------

AA_KINDS = frozenset({"basic", "bottleneck"})
"""The block kinds that take ``aa`` (timm's BasicBlock and Bottleneck)."""


def aa_pool(kind: str, name: str, channels: int, stride: int) -> tuple[Op, ...]:
    """timm's ``create_aa``: a blur pool of ``stride``, or an s×s/s average pool (``nn.AvgPool2d(stride)``)."""
    if kind == "blur":
        return (BlurPool(name, channels, stride, BLUR_FILTER_SIZE),)
    if kind == "avg":
        return (Pool(name, "avg", stride, stride),)
    return ()


def antialias(cfg: BlockConfig, name: str, channels: int, stride: int) -> tuple[Op, ...]:
    """The anti-aliasing pool after a block's strided 3×3 (which then runs at stride 1): where the block
    downsamples, or where its first 3×3 keeps a smaller dilation than the stage's (then at stride 1), as timm's
    ``use_aa``; none otherwise."""
    if cfg.aa == "none" or cfg.block not in AA_KINDS or not (stride > 1 or cfg.first_dil != cfg.dilation):
        return ()
    return aa_pool(cfg.aa, name, channels, stride)


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


BlockBuilder = Callable[[BlockConfig, int, int, int], BlockOps]
"""A block kind's ops: ``build(cfg, in_channels, width, stride)``."""

KIND_SETTINGS = (
    frozenset({"stride_on", "groups", "width_per_group", "dropout"})
    | frozenset(
        {"sk_kernels", "sk_keep_3x3", "sk_split_input", "sk_rd_ratio", "sk_rd_divisor"}  # issue 18: SK family
    )
    | frozenset({"group_width", "bottleneck_ratio"})  # issue 19: RegNet
    | frozenset({"radix", "avd"})  # family: split attention (issue 18)
)
"""Block settings that only some block kinds use; each kind lists those it uses (:attr:`BlockKind.uses`), and
lowering reports one that no block it reaches uses. Every other block setting applies to every kind."""


@dataclass(frozen=True, slots=True)
class BlockKind:
    """Everything the house knows about one block kind. Add a kind with :func:`register_block_kind`."""

    name: str
    """The spec's word for it (``block: basic``)."""
    build: BlockBuilder
    """Its ops (main path, post ops, pre-activation ops), for resolved settings, input channels, width, stride."""
    expansion: int
    """The default ``expansion``: output channels = width × this."""
    preact: bool
    """Pre-activation family: a bare stem, norm + act before each conv, a final norm + act after the stages."""
    uses: frozenset[str]
    """The settings of :data:`KIND_SETTINGS` it uses (a bottleneck: ``stride_on``, ``groups``,
    ``width_per_group``)."""
    title: str
    """Diagram title (``BasicBlock``)."""
    class_name: str
    """Its class in exported PyTorch source (``BasicBlock``)."""


BLOCK_KINDS: dict[str, BlockKind] = {}
"""Every block kind, by name."""


def register_block_kind(kind: BlockKind) -> BlockKind:
    """Add ``kind`` to :data:`BLOCK_KINDS` (every table below reads it).

    Raises:
        ValueError: the name is taken, or ``uses`` names a setting outside :data:`KIND_SETTINGS`.
    """
    if kind.name in BLOCK_KINDS:
        raise ValueError(f"block kind '{kind.name}' is already registered")
    unknown = kind.uses - KIND_SETTINGS
    if unknown:
        raise ValueError(f"block kind '{kind.name}' uses {sorted(unknown)}, not kind-specific settings")
    BLOCK_KINDS[kind.name] = kind
    return kind


_T = TypeVar("_T")


class _Column(Mapping[str, _T], Generic[_T]):
    """One field of every :class:`BlockKind`, by kind name; always the table as it is now."""

    def __init__(self, field: str) -> None:
        self._field = field

    def __getitem__(self, kind: str) -> _T:
        value: _T = getattr(BLOCK_KINDS[kind], self._field)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(BLOCK_KINDS)

    def __len__(self) -> int:
        return len(BLOCK_KINDS)


class _Kinds(Set[str]):
    """The names of the block kinds that pass ``test``; always the table as it is now."""

    def __init__(self, test: Callable[[BlockKind], bool]) -> None:
        self._test = test

    def __contains__(self, kind: object) -> bool:
        found = BLOCK_KINDS.get(kind) if isinstance(kind, str) else None
        return found is not None and self._test(found)

    def __iter__(self) -> Iterator[str]:
        return (name for name, kind in BLOCK_KINDS.items() if self._test(kind))

    def __len__(self) -> int:
        return sum(1 for _ in self)


BLOCKS: Mapping[str, BlockBuilder] = _Column("build")
EXPANSION: Mapping[str, int] = _Column("expansion")
TITLES: Mapping[str, str] = _Column("title")
"""Diagram titles (render/labels reads them)."""
CLASS_NAMES: Mapping[str, str] = _Column("class_name")
"""Exported class names (export/python reads them)."""
PREACT: Set[str] = _Kinds(lambda k: k.preact)
"""Pre-activation block kinds: BN + ReLU before each conv, a bare stem, a final BN + ReLU."""
BASIC_KINDS: Set[str] = _Kinds(lambda k: not k.uses & {"stride_on", "groups", "width_per_group", "group_width"})
"""Kinds with no place for the bottleneck settings (two 3×3 convs)."""

_BOTTLENECK_SETTINGS = frozenset({"stride_on", "groups", "width_per_group"})
for _kind in (
    BlockKind("basic", basic, 1, False, frozenset(), "BasicBlock", "BasicBlock"),
    BlockKind("bottleneck", bottleneck, 4, False, _BOTTLENECK_SETTINGS, "Bottleneck", "Bottleneck"),
    BlockKind("preact_basic", preact_basic, 1, True, frozenset({"dropout"}), "PreActBasic", "PreActBasicBlock"),
    BlockKind(
        "preact_bottleneck", preact_bottleneck, 4, True, _BOTTLENECK_SETTINGS, "PreActBottleneck", "PreActBottleneck"
    ),
    # family: split attention (issue 18)
    BlockKind(
        "resnest",
        resnest,
        4,
        False,
        frozenset({"groups", "width_per_group", "radix", "avd"}),
        "ResNeSt",
        "ResNestBottleneck",
    ),
):
    register_block_kind(_kind)

# selective kernels (issue 18, SK family)
_SK_SETTINGS = frozenset({"sk_kernels", "sk_keep_3x3", "sk_split_input", "sk_rd_ratio", "sk_rd_divisor"})
register_block_kind(BlockKind("sk_basic", sk_basic, 1, False, _SK_SETTINGS, "SKBasic", "SelectiveKernelBasic"))
register_block_kind(
    BlockKind(
        "sk_bottleneck",
        sk_bottleneck,
        4,
        False,
        _SK_SETTINGS | {"groups", "width_per_group"},
        "SKBottleneck",
        "SelectiveKernelBottleneck",
    )
)


def norm_act_op(name: str, channels: int) -> Op:
    """timm's BatchNormAct2d (batch norm + ReLU in one module) as a plan op."""
    return NormAct(name, channels)


# RegNet (issue 19): its block kind lives in its own module and registers itself here
from resnetdsl import blocks_regnet as blocks_regnet  # noqa: E402

LAYOUT_STAGE_NAMES: dict[str, Callable[[int], str]] = {
    "resnetv2": lambda i: f"stages.{i}",
    "regnet": lambda i: f"s{i + 1}",
    "tv_regnet": lambda i: f"trunk_output.block{i + 1}",
}
"""Stage module names of the layouts that name them (stage i from 0); the others take ``layer{i+1}`` or the
stage's ``name``."""
LAYOUT_BLOCK_NAMES: dict[str, Callable[[int, int], str]] = {
    "resnetv2": lambda i, j: f"blocks.{j}",
    "regnet": lambda i, j: f"b{j + 1}",
    "tv_regnet": lambda i, j: f"block{i + 1}-{j}",
}
"""Block module names (block j of stage i) of the layouts that name them; the others take ``str(j)``."""


def make_block(cfg: BlockConfig, name: str, cin: int, width: int, stride: int, drop_path: float = 0.0) -> Block:
    """The plan's block: ``cfg.block``'s ops, the shortcut its policy gives, stochastic depth of rate
    ``drop_path`` where there is an add, module names for ``cfg.layout``."""
    ops = BLOCKS[cfg.block](cfg, cin, width, stride)
    if cfg.linear_out:  # RegNet Z (issue 19): nothing after the add
        ops = replace(ops, post=())
    use, sc_ops = shortcut(cfg, cin, ops.out_channels, stride)
    sc_ops = layout_shortcut(cfg, use, sc_ops)
    if use != "none":
        ops = with_drop_path(ops, drop_path)
    return Block(
        name=name,
        kind=cfg.block,
        in_channels=cin,
        mid_channels=ops.mid_channels,
        out_channels=ops.out_channels,
        stride=stride,
        groups=cfg.groups if ops.groups is None else ops.groups,
        shortcut=use,
        main=ops.main,
        shortcut_ops=sc_ops,
        post=ops.post,
        pre=ops.pre,
        shortcut_from_pre=bool(ops.pre) and (shortcut_reads_pre(use) if ops.shortcut_from_pre is None else True),
    )


_V2_SHORTCUT_NAMES = {
    "projection": {"downsample.0": "downsample.conv", "downsample.1": "downsample.norm"},
    "avgpool_projection": {
        "downsample.0": "downsample.pool",
        "downsample.1": "downsample.conv",
        "downsample.2": "downsample.norm",
    },
}


_LAYOUT_SHORTCUT_NAMES: dict[str, dict[str, dict[str, str]]] = {
    "resnetv2": _V2_SHORTCUT_NAMES,
    # RegNet (issue 19)
    "regnet": {"projection": {"downsample.0": "downsample.conv", "downsample.1": "downsample.bn"}},
    "tv_regnet": {"projection": {"downsample.0": "proj.0", "downsample.1": "proj.1"}},
}


def shortcut_reads_pre(use: ShortcutUse) -> bool:
    """Whether a pre-activation block's shortcut reads the pre-activated input: projections do (He et al. 2016,
    timm's ResNetV2); the identity and option A's zero-pad read the block input, keeping that path clean."""
    return use in ("projection", "avgpool_projection")


def layout_shortcut(cfg: BlockConfig, use: ShortcutUse, ops: tuple[Op, ...]) -> tuple[Op, ...]:
    """Shortcut ops renamed for the layout: timm's ResNetV2 names ``downsample.pool/conv/norm``, timm's RegNet
    ``downsample.conv/bn``, torchvision's RegNet ``proj.0/1``."""
    table = _LAYOUT_SHORTCUT_NAMES.get(cfg.layout)
    if cfg.layout == "regnet" and not cfg.shortcut_norm:  # timm's RegNet V: a bare conv (after a pool)
        table = {"projection": {"downsample.0": "downsample"}}
    names = table.get(use) if table is not None else None
    if names is None:
        return ops
    return tuple(replace(op, name=names[op.name]) for op in ops)


def shortcut(cfg: BlockConfig, cin: int, cout: int, stride: int) -> tuple[ShortcutUse, tuple[Op, ...]]:
    """The shortcut a block gets under its stage's policy."""
    changes = stride != 1 or cin != cout
    policy = cfg.shortcut
    if policy == "none" or (policy == "identity" and changes):  # identity: timm's RegNet downsample=None
        return "none", ()
    if policy == "projection_all" or (policy == "projection" and changes):
        # timm's downsample_conv: its kernel where the block strides or dilates, 1×1 elsewhere
        k = cfg.shortcut_kernel if stride != 1 or cfg.dilation != 1 else 1
        d = cfg.first_dil if k > 1 else 1
        pad = (stride - 1 + d * (k - 1)) // 2 if k > 1 else 0  # timm's get_padding; a 1×1 never pads
        conv = Conv(
            "downsample.0",
            cin,
            cout,
            k,
            stride=stride,
            padding=pad,
            dilation=d,
            bias=cfg.conv_bias,
            std_eps=cfg.norm_act.std,
        )
        ops: tuple[Op, ...] = (conv,)
        if cfg.shortcut_norm:
            ops += _norm(cfg, "downsample.1", cout)
        return "projection", ops
    if policy == "avgpool_projection" and changes:
        pool: Op
        if cfg.dilation > 1 and stride == 1:  # timm: in a dilated stage a stride-1 'SAME' pool keeps the size
            pool = Pool("downsample.0", "avg", 2, 1, ceil_mode=True, count_include_pad=False, same=True)
        elif stride != 1:
            pool = Pool("downsample.0", "avg", 2, stride, ceil_mode=True, count_include_pad=False)
        else:
            pool = Identity("downsample.0")
        ops = (pool, Conv("downsample.1", cin, cout, 1, bias=cfg.conv_bias, std_eps=cfg.norm_act.std))
        if cfg.shortcut_norm:
            ops += _norm(cfg, "downsample.2", cout)
        return "avgpool_projection", ops
    if policy == "identity_pad" and changes:
        return "pad", (PadShortcut("downsample", cin, cout, stride),)
    return "identity", ()
