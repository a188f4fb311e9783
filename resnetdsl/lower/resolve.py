"""Lowering, step 1: every block's settings resolved once (defaults → stage → per-block entry), each value with
the path where it was set, and the geometry of every block (width, stride, dilation, drop-path rate).

Nothing here reports a problem: the rules (:mod:`.rules`) read what this step resolved, and the plan
(:mod:`.make`) is made from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from resnetdsl import blocks as B
from resnetdsl.errors import Path
from resnetdsl.lower.common import BUILTIN_DEFAULTS, inherited
from resnetdsl.records import record
from resnetdsl.spec import BlockOverride, BlockSettings, NormActSettings, Spec
from resnetdsl.vocab import DEFAULT_NEGATIVE_SLOPE, DEFAULT_STD_EPS, SE_RATIO, SPLIT_RADIX

_GROUP_SIZE = ("norm_groups", "norm_group_channels")


@record
class Settings:
    """Settings layered through scopes (widest first, a narrower scope's value wins)."""

    values: Mapping[str, Any]
    """Every setting's value: the one written in the narrowest scope that sets it, else the built-in
    (``None`` where the built-in depends on the block: see :data:`~resnetdsl.lower.BUILTIN_DEFAULTS`)."""
    origin: Mapping[str, Path]
    """The path where each written setting was set (``("stages", 1, "groups")``); absent: built-in."""


@record
class ResolvedBlock:
    """One block of the network, every setting resolved."""

    stage: int
    """Its stage's index in ``spec.stages``."""
    index: int
    """Its index in the stage (from 0)."""
    number: int
    """Its index in the network (from 0, across stages)."""
    entry: int | None
    """The per-block entry that chose it (``stages[stage].blocks[entry]``), if any."""
    settings: Settings
    config: B.BlockConfig
    """The settings made explicit for :func:`~resnetdsl.blocks.make_block` (dilations included)."""
    width: int
    width_at: Path
    """Where its width was set: the stage's ``width`` or the entry's."""
    stride: int
    """Its stride after ``output_stride`` (a stride the network may no longer take becomes dilation)."""
    written_stride: int
    """Its stride as written: the entry's, else the stage's for the first block, else 1."""
    drop_path_rate: float
    """Its stochastic-depth rate (timm's linear rule over the whole network; 0 gives no module)."""

    @property
    def kind(self) -> str:
        return self.config.block

    @property
    def scope(self) -> Path:
        """The narrowest scope that gives it settings: its entry, else its stage."""
        if self.entry is not None:
            return ("stages", self.stage, "blocks", self.entry)
        return ("stages", self.stage)


@record
class Choice:
    """What one index of an entry's ``at`` chose."""

    path: Path
    """``stages[i].blocks[k].at`` (or ``….at[n]`` in a list)."""
    written: int
    block: int | None
    """The block chosen (``None``: the index names no block of the stage)."""
    taken_by: int | None
    """The entry that chose that block before (the choice is then ignored)."""


@record
class ResolvedStage:
    index: int
    name: str
    """Its module name (``layer1``, ``stages.0``)."""
    stride: int
    """Its first block's stride, after ``output_stride``."""
    dilation: int
    """The dilation of its 3×3 convs at its end (what carries on to the next stage)."""
    settings: Settings
    """Its own block settings (defaults → stage, no entry): those of its blocks that no entry chooses."""
    config: B.BlockConfig
    blocks: tuple[ResolvedBlock, ...]
    choices: tuple[Choice, ...]
    checkpoint: bool


@record
class ResolvedStem:
    settings: Settings
    """Its norm/act settings (defaults → stem)."""
    norm_act: B.NormActConfig
    pool: str
    """``max``, ``conv`` or ``none`` (its default made explicit)."""
    reduction: int
    """How much it downsamples."""
    aa: str = "none"
    """Its anti-aliasing pool (``blur``, ``avg``, ``none``): ``stem.aa``, else ``defaults.aa`` (issue 18)."""
    aa_at: Path | None = None
    """Where ``aa`` was set (``("stem", "aa")`` or ``("defaults", "aa")``); ``None``: the built-in."""


@record
class Network:
    """The spec with every block resolved: what the rules check and the plan is made from."""

    spec: Spec
    stem: ResolvedStem
    stages: tuple[ResolvedStage, ...]
    preact: bool
    """Pre-activation network (the first stage's own block kind decides)."""
    reached: tuple[int, ...]
    """The reductions the stem and the strides reach, in order (before ``output_stride`` stops them)."""
    inherited: frozenset[Path]
    """Settings written in a base spec (through ``extends``): dropped, not blamed, where they do not apply."""
    reach: Mapping[Path, tuple[ResolvedBlock, ...]]
    """Each written block setting (its path) → the blocks that take their value from it."""
    writes: Mapping[str, tuple[tuple[Path, Any], ...]]
    """Each block setting → every place it is written (its path) with its value, scopes in order
    (:func:`scopes`); what the rules ask again and again, found once."""

    def written(self, key: str) -> tuple[tuple[Path, Any], ...]:
        """Each place the block setting ``key`` is written, with its value."""
        return self.writes.get(key, ())

    def blocks(self) -> Iterator[ResolvedBlock]:
        for st in self.stages:
            yield from st.blocks

    @property
    def total(self) -> int:
        return sum(len(st.blocks) for st in self.stages)

    @property
    def timm_names(self) -> bool:
        """``layout: resnetv2``: timm's ResNetV2 module names."""
        return self.spec.layout == "resnetv2"

    def stem_takes(self, path: Path) -> bool:
        """Whether the stem takes its value of a norm/act setting from ``path``."""
        return path in self.stem.settings.origin.values()


def layered(scopes: Iterable[tuple[Any, Path]], keys: Iterable[str]) -> Settings:
    """Settings ``keys`` through ``scopes`` (widest first). ``norm_groups`` and ``norm_group_channels`` are one
    setting: a narrower scope that sets either replaces both."""
    keys = tuple(keys)
    values: dict[str, Any] = {key: BUILTIN_DEFAULTS.get(key) for key in keys}
    origin: dict[str, Path] = {}
    for scope, where in scopes:
        written = scope.__dict__  # a spec model's field values (a setting it has no field for is not written)
        if written.get("norm_groups") is not None or written.get("norm_group_channels") is not None:
            for key in _GROUP_SIZE:
                values[key] = None
                origin.pop(key, None)
        for key in keys:
            v = written.get(key)
            if v is not None:
                values[key] = v
                origin[key] = (*where, key)
    return Settings(values, origin)


def norm_act(values: Mapping[str, Any]) -> B.NormActConfig:
    slope = values["act_negative_slope"]
    return B.NormActConfig(
        norm=values["norm"],
        groups=values["norm_groups"],
        group_channels=values["norm_group_channels"],
        act=values["act"],
        negative_slope=slope if slope is not None else DEFAULT_NEGATIVE_SLOPE,
        conv=values["conv"],
        std_eps=values["std_eps"] if values["std_eps"] is not None else DEFAULT_STD_EPS,
    )


def block_config(spec: Spec, values: Mapping[str, Any]) -> B.BlockConfig:
    """Resolved values made explicit: every built-in that depends on the block kind filled in, and the
    kind-specific settings the kind does not use (a ``groups`` that reaches a basic block) left at theirs."""
    kind = values["block"]
    uses = B.BLOCK_KINDS[kind].uses
    values = {k: v if k not in B.KIND_SETTINGS or k in uses else None for k, v in values.items()}
    return B.BlockConfig(
        block=kind,
        shortcut=values["shortcut"],
        stride_on=values["stride_on"] or "3x3",
        groups=values["groups"] or 1,
        width_per_group=values["width_per_group"] or 64,
        expansion=values["expansion"] or B.EXPANSION[kind],
        conv_bias=values["conv_bias"],
        shortcut_norm=values["shortcut_norm"] if values["shortcut_norm"] is not None else kind not in B.PREACT,
        zero_init=spec.init.zero_init_residual,
        dropout=values["dropout"] or 0.0,
        layout=spec.layout,
        norm_act=norm_act(values),
        attention=values["attention"],
        se_ratio=values["se_ratio"] if values["se_ratio"] is not None else SE_RATIO,
        se_divisor=values["se_divisor"] or 8,
        eca_kernel=values["eca_kernel"],
        drop_path=values["drop_path"] or 0.0,
        **_sk_config(values),
        group_width=values["group_width"],
        bottleneck_ratio=values["bottleneck_ratio"] or 1.0,
        linear_out=bool(values["linear_out"]),
        # family senet (issue 18)
        shortcut_kernel=values["shortcut_kernel"] or 1,
        reduce_first=values["reduce_first"] or 1,
        conv_widths=values["conv_widths"],
        # family: anti-aliasing and split attention (issue 18)
        aa=values["aa"] if kind in B.AA_KINDS else "none",
        radix=values["radix"] or SPLIT_RADIX,
        avd=values["avd"] or "last",
        scale=values["scale"] or 4,  # family: Res2Net (issue 18)
    )


def _sk_config(values: Mapping[str, Any]) -> dict[str, Any]:
    """The selective-kernel settings (issue 18, SK family), built-ins filled in."""
    out: dict[str, Any] = {}
    for key in ("sk_kernels", "sk_keep_3x3", "sk_split_input", "sk_rd_ratio", "sk_rd_divisor"):
        if values.get(key) is not None:
            out[key] = tuple(values[key]) if key == "sk_kernels" else values[key]
    return out


def stem_reduction(spec: Spec) -> int:
    """How much the stem downsamples: 2 for its strided conv (not the CIFAR stem), 2 more for its pool."""
    return (1 if spec.stem.kind == "conv3" else 2) * (1 if _stem_pool(spec) == "none" else 2)


def _stem_pool(spec: Spec) -> str:
    return spec.stem.pool or ("none" if spec.stem.kind in ("conv3", "simple") else "max")


def entry_choices(spec: Spec, index: int) -> tuple[tuple[Choice, ...], dict[int, int]]:
    """What each index of each entry's ``at`` chose, and block → the entry that chose it."""
    stage = spec.stages[index]
    chosen: dict[int, int] = {}
    out: list[Choice] = []
    for k, entry in enumerate(stage.blocks):
        at: Path = ("stages", index, "blocks", k, "at")
        wanted = (entry.at,) if isinstance(entry.at, int) else entry.at
        for n, j in enumerate(wanted):
            where = at if isinstance(entry.at, int) else (*at, n)
            if not -stage.depth <= j < stage.depth:
                out.append(Choice(where, j, None, None))
                continue
            block = j % stage.depth
            out.append(Choice(where, j, block, chosen.get(block)))
            chosen.setdefault(block, k)
    return tuple(out), chosen


class _Geometry:
    """Strides and dilations block by block: timm's and torchvision's output-stride rule.

    Once the stem and the strides before have reduced the input by ``output_stride``, every later stride, a
    stage's or a per-block entry's, becomes 1 and multiplies the dilation instead. A block's first 3×3 conv keeps
    the dilation before it (torchvision's ``previous_dilation``), its other 3×3 convs and the blocks after take
    the new one. A stage's own ``dilation`` replaces the one its blocks would get, from its first block on.
    """

    def __init__(self, spec: Spec) -> None:
        self.target = spec.output_stride
        self.net = stem_reduction(spec)
        self.reached = [self.net]
        self.dilation = 1

    def block(self, written: int, stage_dilation: int | None) -> tuple[int, int, int]:
        """(stride, dilation of its first 3×3, dilation of its other 3×3 convs) of the next block."""
        before = self.dilation
        stride = written
        if written > 1 and self.target is not None and self.net >= self.target:
            stride, self.dilation = 1, self.dilation * written
        elif written > 1:
            self.net *= written
            self.reached.append(self.net)
        if stage_dilation is not None:
            self.dilation = stage_dilation
        return stride, before, self.dilation


def resolve_network(spec: Spec) -> Network:
    """Every block of ``spec`` with its settings, their origins and its geometry."""
    stem_settings = layered([(spec.defaults, ("defaults",)), (spec.stem, ("stem",))], NormActSettings.model_fields)
    aa_at: Path | None = next(
        ((where, "aa") for scope, where in ((spec.stem, "stem"), (spec.defaults, "defaults")) if scope.aa is not None),
        None,
    )
    aa = spec.stem.aa or spec.defaults.aa or "none"
    stem = ResolvedStem(
        stem_settings, norm_act(stem_settings.values), _stem_pool(spec), stem_reduction(spec), aa, aa_at
    )
    geometry = _Geometry(spec)
    total = sum(st.depth for st in spec.stages)
    stages: list[ResolvedStage] = []
    number = 0
    for i in range(len(spec.stages)):
        stage = _stage(spec, i, geometry, number, total)
        stages.append(stage)
        number += len(stage.blocks)
    first = stages[0].config.block
    reach: dict[Path, list[ResolvedBlock]] = {}
    for st in stages:
        for b in st.blocks:
            for path in b.settings.origin.values():
                reach.setdefault(path, []).append(b)
    writes = _writes(spec)
    return Network(
        spec,
        stem,
        tuple(stages),
        first in B.PREACT,
        tuple(geometry.reached),
        _inherited_paths(spec, writes),
        {path: tuple(blocks) for path, blocks in reach.items()},
        writes,
    )


def scopes(spec: Spec) -> list[tuple[Path, Any]]:
    """Every scope a block setting can be written in: defaults, the stem (norm/act only), stages, entries."""
    out: list[tuple[Path, Any]] = [(("defaults",), spec.defaults), (("stem",), spec.stem)]
    for i, st in enumerate(spec.stages):
        out.append((("stages", i), st))
        out += [(("stages", i, "blocks", k), entry) for k, entry in enumerate(st.blocks)]
    return out


def _writes(spec: Spec) -> dict[str, tuple[tuple[Path, Any], ...]]:
    """:attr:`Network.writes`: each scope's fields that are block settings and set (a scope's model holds its
    fields' values in its ``__dict__``; a setting it has no field for is written nowhere in it)."""
    out: dict[str, list[tuple[Path, Any]]] = {}
    settings = BlockSettings.model_fields
    for where, scope in scopes(spec):
        for key, value in scope.__dict__.items():
            if value is not None and key in settings:
                out.setdefault(key, []).append(((*where, key), value))
    return {key: tuple(places) for key, places in out.items()}


def _stage(spec: Spec, i: int, geometry: _Geometry, number: int, total: int) -> ResolvedStage:
    st = spec.stages[i]
    here: list[tuple[Any, Path]] = [(spec.defaults, ("defaults",)), (st, ("stages", i))]
    own = layered(here, BlockSettings.model_fields)
    config = block_config(spec, own.values)
    choices, chosen = entry_choices(spec, i)
    entries: dict[int, tuple[Settings, B.BlockConfig]] = {}
    for n in sorted(set(chosen.values())):
        layers = layered([*here, (st.blocks[n], ("stages", i, "blocks", n))], BlockSettings.model_fields)
        entries[n] = layers, block_config(spec, layers.values)
    blocks: list[ResolvedBlock] = []
    placed: dict[tuple[int | None, int, int], B.BlockConfig] = {}
    for j in range(st.depth):
        k = chosen.get(j)
        entry: BlockOverride | None = None
        settings, cfg = own, config
        width: int = st.width
        width_at: Path = ("stages", i, "width")
        if k is not None:
            entry, (settings, cfg) = st.blocks[k], entries[k]
            if entry.width is not None:
                width, width_at = entry.width, ("stages", i, "blocks", k, "width")
        written = entry.stride if entry is not None and entry.stride is not None else st.stride if j == 0 else 1
        stride, first_dilation, dilation = geometry.block(written, st.dilation if j == 0 else None)
        key = (k, first_dilation, dilation)
        if key not in placed:  # one config per entry and dilations: blocks alike share it
            placed[key] = replace(
                cfg, dilation=dilation, first_dilation=first_dilation, drop_block=_drop_block(spec, i)
            )
        cfg = placed[key]
        rate = B.drop_path_rate(cfg.drop_path, number + j, total)
        blocks.append(ResolvedBlock(i, j, number + j, k, settings, cfg, width, width_at, stride, written, rate))
    name = B.LAYOUT_STAGE_NAMES[spec.layout](i) if spec.layout in B.LAYOUT_STAGE_NAMES else st.name or f"layer{i + 1}"
    return ResolvedStage(
        i, name, blocks[0].stride, geometry.dilation, own, config, tuple(blocks), choices, st.checkpoint
    )


def _drop_block(spec: Spec, stage: int) -> tuple[float, int, float] | None:
    """timm's DropBlock schedule (``drop_blocks``): the third stage 5×5 blocks at γ scale 0.25, the fourth 3×3 at
    1.0, none elsewhere (family senet, issue 18)."""
    rate = spec.drop_block
    if not rate or stage not in (2, 3):
        return None
    return (rate, 5, 0.25) if stage == 2 else (rate, 3, 1.0)


def _inherited_paths(spec: Spec, writes: Mapping[str, tuple[tuple[Path, Any], ...]]) -> frozenset[Path]:
    """The written block settings (``writes``, :func:`_writes`) that ``spec`` takes from the spec it extends."""
    if spec._via is None:
        return frozenset()
    return frozenset(path for places in writes.values() for path, _ in places if inherited(spec, path))
