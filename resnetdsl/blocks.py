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
    Conv,
    Dropout,
    DropPath,
    EfficientChannelAttn,
    Identity,
    Norm,
    NormAct,
    Op,
    PadShortcut,
    Pool,
    ShortcutUse,
    SplitAttention,
    SqueezeExcite,
)
from resnetdsl.vocab import (
    ACTIVATIONS,
    BLUR_FILTER_SIZE,
    DEFAULT_NEGATIVE_SLOPE,
    DEFAULT_NORM_GROUPS,
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
    """The attention module at the end of a residual branch (timm's ``se`` attribute), or none."""
    if cfg.attention == "se":
        return (SqueezeExcite("se", channels, se_channels(cfg, channels)),)
    if cfg.attention == "eca":
        k = cfg.eca_kernel if cfg.eca_kernel is not None else eca_kernel_size(channels)
        return (EfficientChannelAttn("se", channels, k),)
    return ()


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


def _conv(
    name: str, cin: int, cout: int, k: int, stride: int, cfg: BlockConfig, groups: int = 1, dilation: int = 1
) -> Conv:
    d = dilation if k > 1 else 1
    return Conv(name, cin, cout, k, stride=stride, padding=k // 2 * d, dilation=d, groups=groups, bias=cfg.conv_bias)


def basic(cfg: BlockConfig, cin: int, width: int, stride: int) -> BlockOps:
    """3×3 conv (stride) → BN → ReLU → 3×3 conv → BN (→ attention); ReLU after the add.

    BN and ReLU stand for the stage's norm and activation."""
    cout = width * cfg.expansion
    aa = antialias(cfg, "aa", width, stride)
    main: tuple[Op, ...] = (
        _conv("conv1", cin, width, 3, 1 if aa else stride, cfg, dilation=cfg.first_dil),
        *_norm(cfg, "bn1", width),
        _act(cfg, "act1"),
        *aa,
        _conv("conv2", width, cout, 3, 1, cfg, dilation=cfg.dilation),
        *_norm(cfg, "bn2", cout, zero_init=cfg.zero_init),
        *attention(cfg, cout),
    )
    return BlockOps(width, cout, main, (_act(cfg, "act2"),))


def bottleneck_mid(cfg: BlockConfig, width: int) -> int:
    """Inner width of a bottleneck (torchvision): int(width × width_per_group / 64) × groups."""
    return int(width * (cfg.width_per_group / 64.0)) * cfg.groups


def bottleneck(cfg: BlockConfig, cin: int, width: int, stride: int) -> BlockOps:
    """1×1 → BN → ReLU → 3×3 (groups) → BN → ReLU → 1×1 → BN (→ attention); ReLU after the add.

    The stride sits on the 3×3 (v1.5) or on the first 1×1 (the original model), per ``stride_on``.
    """
    mid = bottleneck_mid(cfg, width)
    cout = width * cfg.expansion
    s1, s3 = (stride, 1) if cfg.stride_on == "1x1" else (1, stride)
    aa = antialias(cfg, "aa", mid, s3)
    main: tuple[Op, ...] = (
        _conv("conv1", cin, mid, 1, s1, cfg),
        *_norm(cfg, "bn1", mid),
        _act(cfg, "act1"),
        _conv("conv2", mid, mid, 3, 1 if aa else s3, cfg, groups=cfg.groups, dilation=cfg.first_dil),
        *_norm(cfg, "bn2", mid),
        _act(cfg, "act2"),
        *aa,
        _conv("conv3", mid, cout, 1, 1, cfg),
        *_norm(cfg, "bn3", cout, zero_init=cfg.zero_init),
        *attention(cfg, cout),
    )
    return BlockOps(mid, cout, main, (_act(cfg, "act3"),))


def _norm_act(cfg: BlockConfig, i: int, channels: int) -> tuple[Op, ...]:
    """The i-th norm + activation of a pre-activation block: ``bn{i}``, ``act{i}`` (resnet; the stage's norm and
    activation) or one ``norm{i}`` (resnetv2: timm's BatchNormAct2d, batch norm and ReLU only)."""
    if cfg.layout == "resnetv2":
        return (NormAct(f"norm{i}", channels),)
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
    drop: tuple[Op, ...] = (Dropout("dropout", cfg.dropout),) if cfg.dropout > 0 else ()
    main: tuple[Op, ...] = (
        _conv("conv1", cin, width, 3, stride, cfg, dilation=cfg.first_dil),
        *_norm_act(cfg, 2, width),
        *drop,
        replace(_conv("conv2", width, cout, 3, 1, cfg, dilation=cfg.dilation), zero_init=cfg.zero_init),
        *attention(cfg, cout),
    )
    return BlockOps(width, cout, main, (), pre=_norm_act(cfg, 1, cin))


def preact_bottleneck(cfg: BlockConfig, cin: int, width: int, stride: int) -> BlockOps:
    """BN → ReLU → 1×1 → BN → ReLU → 3×3 (groups) → BN → ReLU → 1×1 (→ attention); nothing after the add.

    He et al. 2016; the stride sits on the 3×3 (timm) or on the first 1×1 (the paper's code), per ``stride_on``.
    """
    mid = bottleneck_mid(cfg, width)
    cout = width * cfg.expansion
    s1, s3 = (stride, 1) if cfg.stride_on == "1x1" else (1, stride)
    main: tuple[Op, ...] = (
        _conv("conv1", cin, mid, 1, s1, cfg),
        *_norm_act(cfg, 2, mid),
        _conv("conv2", mid, mid, 3, s3, cfg, groups=cfg.groups, dilation=cfg.first_dil),
        *_norm_act(cfg, 3, mid),
        replace(_conv("conv3", mid, cout, 1, 1, cfg), zero_init=cfg.zero_init),
        *attention(cfg, cout),
    )
    return BlockOps(mid, cout, main, (), pre=_norm_act(cfg, 1, cin))


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

KIND_SETTINGS = frozenset(
    {"stride_on", "groups", "width_per_group", "dropout"} | {"radix", "avd"}  # family: split attention (issue 18)
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
BASIC_KINDS: Set[str] = _Kinds(lambda k: not k.uses & {"stride_on", "groups", "width_per_group"})
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


def make_block(cfg: BlockConfig, name: str, cin: int, width: int, stride: int, drop_path: float = 0.0) -> Block:
    """The plan's block: ``cfg.block``'s ops, the shortcut its policy gives, stochastic depth of rate
    ``drop_path`` where there is an add, module names for ``cfg.layout``."""
    ops = BLOCKS[cfg.block](cfg, cin, width, stride)
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
        groups=cfg.groups,
        shortcut=use,
        main=ops.main,
        shortcut_ops=sc_ops,
        post=ops.post,
        pre=ops.pre,
        shortcut_from_pre=bool(ops.pre) and shortcut_reads_pre(use),
    )


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
        ops = (pool, Conv("downsample.1", cin, cout, 1, bias=cfg.conv_bias))
        if cfg.shortcut_norm:
            ops += _norm(cfg, "downsample.2", cout)
        return "avgpool_projection", ops
    if policy == "identity_pad" and changes:
        return "pad", (PadShortcut("downsample", cin, cout, stride),)
    return "identity", ()
