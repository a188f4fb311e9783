"""The one place where each block kind and shortcut policy becomes plan ops, and the table of block kinds.

Lowering's last step calls :func:`make_block` with a block's resolved settings (a :class:`BlockConfig`);
everything the house knows about a block kind (its builder, expansion, family, the kind-specific settings it
uses, its diagram title and exported class name) is one :class:`BlockKind` entry of :data:`BLOCK_KINDS`.
The settings and the ops every kind shares live in :mod:`resnetdsl.blocks_base` (re-exported here); the
builders of the larger families in ``blocks_sk``, ``blocks_resnest`` and ``blocks_regnet``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Set
from dataclasses import replace
from typing import Generic, TypeVar

from resnetdsl.blocks_base import AA_KINDS as AA_KINDS
from resnetdsl.blocks_base import BlockConfig as BlockConfig
from resnetdsl.blocks_base import BlockOps as BlockOps
from resnetdsl.blocks_base import NormActConfig as NormActConfig
from resnetdsl.blocks_base import _act as _act
from resnetdsl.blocks_base import _conv as _conv
from resnetdsl.blocks_base import _norm as _norm
from resnetdsl.blocks_base import aa_pool as aa_pool
from resnetdsl.blocks_base import antialias as antialias
from resnetdsl.blocks_base import attention as attention
from resnetdsl.blocks_base import bottleneck_mid as bottleneck_mid
from resnetdsl.blocks_base import branch_widths as branch_widths
from resnetdsl.blocks_base import drop_block as drop_block
from resnetdsl.blocks_base import drop_path_rate as drop_path_rate
from resnetdsl.blocks_base import make_divisible as make_divisible
from resnetdsl.blocks_base import se_channels as se_channels
from resnetdsl.blocks_base import with_drop_path as with_drop_path
from resnetdsl.blocks_resnest import resnest as resnest
from resnetdsl.blocks_resnest import split_attn_channels as split_attn_channels
from resnetdsl.blocks_resnest import timm_make_divisible as timm_make_divisible
from resnetdsl.blocks_sk import selective_kernel as selective_kernel
from resnetdsl.blocks_sk import sk_basic as sk_basic
from resnetdsl.blocks_sk import sk_bottleneck as sk_bottleneck
from resnetdsl.plan import Block, Conv, Dropout, Identity, NormAct, Op, PadShortcut, Pool, ShortcutUse
from resnetdsl.records import record
from resnetdsl.vocab import eca_kernel_size as eca_kernel_size  # re-exported: the importer reads it here


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


BlockBuilder = Callable[[BlockConfig, int, int, int], BlockOps]
"""A block kind's ops: ``build(cfg, in_channels, width, stride)``."""

KIND_SETTINGS = (
    frozenset({"stride_on", "groups", "width_per_group", "dropout"})
    | frozenset(
        {"sk_kernels", "sk_keep_3x3", "sk_split_input", "sk_rd_ratio", "sk_rd_divisor"}  # issue 18: SK family
    )
    | frozenset({"group_width", "bottleneck_ratio"})  # issue 19: RegNet
    | frozenset({"radix", "avd"})  # family: split attention (issue 18)
    | frozenset({"scale"})  # family: Res2Net (issue 18)
)
"""Block settings that only some block kinds use; each kind lists those it uses (:attr:`BlockKind.uses`), and
lowering reports one that no block it reaches uses. Every other block setting applies to every kind."""


@record
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
from resnetdsl import blocks_res2net as blocks_res2net  # noqa: E402  # family: Res2Net (issue 18)

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
