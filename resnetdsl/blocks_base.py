"""What every block kind is made of: its resolved settings and the ops its builders share.

:class:`NormActConfig` and :class:`BlockConfig` are one block's resolved settings (lowering makes them);
:class:`BlockOps` is what a builder returns; the helpers make the convs, norms, activations, attention,
DropBlock and anti-aliasing pools of a residual branch. The block kinds themselves and their table live in
:mod:`resnetdsl.blocks`, which re-exports these names.
"""

from __future__ import annotations

from dataclasses import replace

from resnetdsl.plan import (
    Act,
    BlurPool,
    Cbam,
    Conv,
    DropBlock,
    DropPath,
    EfficientChannelAttn,
    GlobalContext,
    Norm,
    NormAct,
    Op,
    Pool,
    SqueezeExcite,
)
from resnetdsl.records import record
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
    SPLIT_RADIX,
    eca_kernel_size,
)


@record
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


@record
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
    # family: Res2Net (issue 18)
    scale: int = 4
    """``res2net``: splits of the hierarchical 3×3 (timm's ``scale``)."""

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


@record
class BlockOps:
    """What a block kind's builder makes: the block's widths and its ops, part by part."""

    mid_channels: int
    """The inner width (a bottleneck's 3×3)."""
    out_channels: int
    main: tuple[Op, ...]
    """The residual branch, up to the add."""
    post: tuple[Op, ...]
    """After the add (a post-activation block's ReLU)."""
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


def bottleneck_mid(cfg: BlockConfig, width: int) -> int:
    """Inner width of a bottleneck (torchvision): int(width × width_per_group / 64) × groups."""
    return int(width * (cfg.width_per_group / 64.0)) * cfg.groups


# --- family: anti-aliased downsampling (issue 18) -------------------------------------------------------------

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
