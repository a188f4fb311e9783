"""Lowering, step 3: the plan made from the resolved network: the stem (both layouts), every block (through
:func:`resnetdsl.blocks.make_block`), the final norm of a pre-activation network, the head.

It reports nothing and never fails: a plan made from a network with problems still exists, so that the rules
and the analyzer can report theirs too (it must then not be used for anything else).
"""

from __future__ import annotations

from dataclasses import fields
from operator import attrgetter

from resnetdsl import blocks as B
from resnetdsl.blocks_regnet import final_ops
from resnetdsl.lower.resolve import Network, ResolvedStage
from resnetdsl.plan import (
    Block,
    ConstantPad,
    Conv,
    Dropout,
    Flatten,
    GlobalPool,
    Linear,
    Op,
    Plan,
    Pool,
    Stage,
)
from resnetdsl.spec import Spec


def make_plan(net: Network) -> Plan:
    spec = net.spec
    stem = stem_ops(net)
    stages: list[Stage] = []
    channels = spec.stem.width
    for st in net.stages:
        stage = make_stage(st, channels, spec.layout)
        stages.append(stage)
        channels = stage.out_channels
    final = _final(spec, channels, net.stages[-1].config) if net.preact else ()
    conv_width = spec.head.conv_width if spec.head != "none" else None
    regnet_final = final_ops(net.stages[-1].config, channels, conv_width, net.preact)  # RegNet (issue 19)
    if regnet_final is not None:
        final = (*(() if net.stages[-1].config.block == "preact_regnet" else final), *regnet_final)
        channels = conv_width or channels
    head = _head(spec, channels)
    return Plan(
        name=spec.name,
        description=spec.description,
        in_channels=spec.input.channels,
        input_size=spec.input.size,
        stem=stem,
        stages=tuple(stages),
        head=head,
        num_classes=spec.head.num_classes if spec.head != "none" else None,
        zero_init_residual=spec.init.zero_init_residual,
        final=final,
        layout=spec.layout,
        frozen_stages=spec.frozen_stages,
        norm_eval=spec.norm_eval,
        pretrained_cfg=pretrained_items(spec),
    )


def pretrained_items(spec: Spec) -> tuple[tuple[str, object], ...]:
    """The spec's ``pretrained_cfg`` as (key, value) pairs, the keys it sets, lists as tuples (as timm's)."""
    if spec.pretrained_cfg is None:
        return ()
    return tuple((k, v) for k, v in spec.pretrained_cfg.model_dump(exclude_none=True).items())


_BUT_NAME = attrgetter(*(f.name for f in fields(Block) if f.name != "name"))
"""A block's fields after its name (the first), in order: what a block alike keeps under another name."""


def make_stage(st: ResolvedStage, channels: int, layout: str) -> Stage:
    """A stage's blocks, each reading the previous one's output channels."""
    stage_in = channels
    blocks: list[Block] = []
    namer = B.LAYOUT_BLOCK_NAMES.get(layout)
    made: dict[tuple[int, int, int, int, float], Block] = {}
    """Blocks made so far, by what :func:`~resnetdsl.blocks.make_block` reads besides the name (the config by
    identity: resolving shares one config among a stage's blocks alike)."""
    for b in st.blocks:
        name = namer(st.index, b.index) if namer is not None else str(b.index)
        key = (id(b.config), channels, b.width, b.stride, b.drop_path_rate)
        like = made.get(key)
        if like is None:
            block = made[key] = B.make_block(b.config, name, channels, b.width, b.stride, b.drop_path_rate)
        else:  # the same ops again (shared: the plan is immutable), under this block's name
            block = Block(name, *_BUT_NAME(like))
        blocks.append(block)
        channels = block.out_channels
    kinds = "+".join(dict.fromkeys(b.kind for b in blocks))
    return Stage(
        st.name,
        st.index,
        kinds,
        stage_in,
        channels,
        st.stride,
        tuple(blocks),
        dilation=st.dilation,
        checkpoint=st.checkpoint,
    )


def stem_ops(net: Network) -> tuple[Op, ...]:
    """The stem: torchvision's (``conv1``, ``bn1``, …), timm's ResNetV2 stem, or torchvision's without its
    norm and act for a pre-activation network (its first block pre-activates the stem's output)."""
    if net.timm_names:
        return _timm_stem(net)
    if net.spec.stem.kind == "simple":
        return _simple_stem(net)
    if net.spec.layout == "senet":
        return _senet_stem(net)
    ops = _torchvision_stem(net)
    if net.preact:
        return tuple(op for op in ops if op.name not in ("bn1", "act1"))
    return ops


def deep_stem_widths(spec: Spec) -> tuple[int, int]:
    """The first two convs' widths of a deep stem, as written (the rules report one below 1)."""
    w = spec.stem.width
    return spec.stem.mid_widths or (w // 2, w // 2)


def _torchvision_stem(net: Network) -> tuple[Op, ...]:
    spec = net.spec
    st = spec.stem
    cin, w, bias = spec.input.channels, st.width, st.conv_bias
    na = net.stem.norm_act
    std = na.std
    ops: list[Op] = []
    if st.kind == "deep":
        m1, m2 = (max(m, 1) for m in deep_stem_widths(spec))
        ops += [
            Conv("conv1.0", cin, m1, 3, stride=2, padding=1, bias=bias, std_eps=std),
            *na.norm_op("conv1.1", m1),
            na.act_op("conv1.2"),
            Conv("conv1.3", m1, m2, 3, stride=1, padding=1, bias=bias, std_eps=std),
            *na.norm_op("conv1.4", m2),
            na.act_op("conv1.5"),
            Conv("conv1.6", m2, w, 3, stride=1, padding=1, bias=bias, std_eps=std),
        ]
    else:
        k, s = (7, 2) if st.kind == "conv7" else (3, 1)
        ops.append(Conv("conv1", cin, w, k, stride=s, padding=k // 2, bias=bias, std_eps=std))
    ops += [*na.norm_op("bn1", w), na.act_op("act1")]
    if net.stem.aa != "none" and net.stem.pool != "none":
        ops += _antialiased_stem_pool(net, w)
    elif net.stem.pool == "max":
        ops.append(Pool("maxpool", "max", 3, 2, padding=1))
    elif net.stem.pool == "max_fixed":  # BiT's 'fixed' stem: zeros around the map, an unpadded max pool
        ops += [ConstantPad("pad", 1), Pool("maxpool", "max", 3, 2)]
    elif net.stem.pool == "max_ceil":
        ops.append(Pool("maxpool", "max", 3, 2, ceil_mode=True))
    elif net.stem.pool == "conv":
        ops += [
            Conv("maxpool.0", w, w, 3, stride=2, padding=1, bias=bias, std_eps=std),
            *na.norm_op("maxpool.1", w),
            na.act_op("maxpool.2"),
        ]
    return tuple(ops)


def _senet_stem(net: Network) -> tuple[Op, ...]:
    """The legacy SENets' stem (family senet, issue 18): ``layer0`` holding ``conv1``, ``bn1``, ``relu1`` (a deep
    stem: three of each), then ``pool0``."""
    spec = net.spec
    st = spec.stem
    cin, w, bias = spec.input.channels, st.width, st.conv_bias
    na = net.stem.norm_act
    if st.kind == "deep":
        m1, m2 = (max(m, 1) for m in deep_stem_widths(spec))
        convs = [(cin, m1, 3, 2), (m1, m2, 3, 1), (m2, w, 3, 1)]
    else:
        k, s = (7, 2) if st.kind == "conv7" else (3, 1)
        convs = [(cin, w, k, s)]
    ops: list[Op] = []
    for i, (a, b, k, s) in enumerate(convs, 1):
        conv = Conv(f"layer0.conv{i}", a, b, k, stride=s, padding=k // 2, bias=bias)
        ops += [conv, *na.norm_op(f"layer0.bn{i}", b), na.act_op(f"layer0.relu{i}")]
    if net.stem.pool == "max":
        ops.append(Pool("pool0", "max", 3, 2, padding=1))
    elif net.stem.pool == "max_ceil":
        ops.append(Pool("pool0", "max", 3, 2, ceil_mode=True))
    elif net.stem.pool == "conv":
        ops += [
            Conv("pool0.0", w, w, 3, stride=2, padding=1, bias=bias),
            *na.norm_op("pool0.1", w),
            na.act_op("pool0.2"),
        ]
    return tuple(ops)


def _antialiased_stem_pool(net: Network, w: int) -> list[Op]:
    """timm's stem pool with ``aa_layer`` (issue 18): a stride-1 max pool and a blur pool (``maxpool.0``, ``.1``),
    a 2×2/2 average pool in the max pool's place, or the ``conv`` pool's conv at stride 1 with the pool after it."""
    aa, na = net.stem.aa, net.stem.norm_act
    if net.stem.pool == "conv":
        return [
            Conv("maxpool.0", w, w, 3, stride=1, padding=1, bias=net.spec.stem.conv_bias),
            *B.aa_pool(aa, "maxpool.1", w, 2),
            *na.norm_op("maxpool.2", w),
            na.act_op("maxpool.3"),
        ]
    if aa == "avg":
        return list(B.aa_pool(aa, "maxpool", w, 2))
    return [Pool("maxpool.0", "max", 3, 1, padding=1), *B.aa_pool(aa, "maxpool.1", w, 2)]


def _timm_stem(net: Network) -> tuple[Op, ...]:
    """timm's ResNetV2 stem for pre-activation: ``stem.conv`` (or ``stem.conv1…conv3`` with BN + ReLU between
    them), then ``stem.pool``; no norm after the last conv (the first block pre-activates)."""
    spec = net.spec
    st = spec.stem
    cin, w, bias = spec.input.channels, st.width, st.conv_bias
    na = net.stem.norm_act
    std = na.std
    ops: list[Op]
    if st.kind == "deep":
        m1, m2 = (max(m, 1) for m in deep_stem_widths(spec))
        ops = [
            Conv("stem.conv1", cin, m1, 3, stride=2, padding=1, bias=bias, std_eps=std),
            na.norm_act_op("stem.norm1", m1),
            Conv("stem.conv2", m1, m2, 3, stride=1, padding=1, bias=bias, std_eps=std),
            na.norm_act_op("stem.norm2", m2),
            Conv("stem.conv3", m2, w, 3, stride=1, padding=1, bias=bias, std_eps=std),
        ]
    else:
        k, s = (7, 2) if st.kind == "conv7" else (3, 1)
        ops = [Conv("stem.conv", cin, w, k, stride=s, padding=k // 2, bias=bias, std_eps=std)]
    if net.stem.pool == "max":
        ops.append(Pool("stem.pool", "max", 3, 2, padding=1))
    elif net.stem.pool == "max_fixed":  # BiT's 'fixed' stem (timm's stem_type 'fixed')
        ops += [ConstantPad("stem.pad", 1), Pool("stem.pool", "max", 3, 2)]
    return tuple(ops)


def _simple_stem(net: Network) -> tuple[Op, ...]:
    """RegNet's stem: one 3×3/2 conv + BN + ReLU (``stem.conv``/``stem.bn`` in timm's RegNet, ``stem.0/1/2``
    in torchvision's, ``conv1``/``bn1``/``act1`` otherwise), then the pool if one is asked for."""
    spec = net.spec
    st = spec.stem
    cin, w, bias = spec.input.channels, st.width, st.conv_bias
    na = net.stem.norm_act
    names = {"regnet": ("stem.conv", "stem.bn", ""), "tv_regnet": ("stem.0", "stem.1", "stem.2")}
    conv, norm, act = names.get(spec.layout, ("conv1", "bn1", "act1"))
    if net.preact:  # timm's RegNet V: the conv alone (``stem``); its first block pre-activates
        return (Conv("stem" if spec.layout == "regnet" else conv, cin, w, 3, stride=2, padding=1, bias=bias),)
    ops: list[Op] = [Conv(conv, cin, w, 3, stride=2, padding=1, bias=bias)]
    if spec.layout == "regnet":
        ops.append(na.norm_act_op(norm, w))
    else:
        normed = na.norm_op(norm, w)
        if not normed and spec.layout == "tv_regnet":  # torchvision's Conv2dNormActivation without a norm
            act = norm
        ops += [*normed, na.act_op(act)]
    if net.stem.pool == "max":
        ops.append(Pool("maxpool", "max", 3, 2, padding=1))
    return tuple(ops)


def _final(spec: Spec, channels: int, last: B.BlockConfig) -> tuple[Op, ...]:
    """The final norm + activation of a pre-activation network (those of its last stage)."""
    if spec.layout == "resnetv2":
        return (last.norm_act.norm_act_op("norm", channels),)
    return (*last.norm_act.norm_op("final_norm", channels), last.norm_act.act_op("final_act"))


def _head(spec: Spec, channels: int) -> tuple[Op, ...]:
    """torchvision's head (pool, flatten, dropout, ``fc``) or, for ``layout: resnetv2``, timm's ClassifierHead
    with ``use_conv`` (pool keeping 1×1, dropout, ``fc`` as a 1×1 conv, flatten); none for ``head: none``."""
    h = spec.head
    if h == "none":
        return ()
    if spec.layout == "resnetv2":
        ops: tuple[Op, ...] = (GlobalPool("head.global_pool", h.pool),)
        if h.dropout > 0:
            ops += (Dropout("head.drop", h.dropout),)
        return (*ops, Conv("head.fc", channels, h.num_classes, 1, bias=h.bias), Flatten("head.flatten"))
    if spec.layout == "regnet":  # timm's ClassifierHead without use_conv: pool and flatten, dropout, linear fc
        ops = (GlobalPool("head.global_pool", h.pool), Flatten("head.flatten"))
        if h.dropout > 0:
            ops += (Dropout("head.drop", h.dropout),)
        return (*ops, Linear("head.fc", channels, h.num_classes, bias=h.bias))
    ops = (GlobalPool("global_pool", h.pool), Flatten("flatten"))
    if h.dropout > 0:
        ops += (Dropout("dropout", h.dropout),)
    fc = "last_linear" if spec.layout == "senet" else "fc"
    return (*ops, Linear(fc, channels, h.num_classes, bias=h.bias))
