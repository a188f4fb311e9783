"""Plan → ``torch.nn.Module`` with stock torch layers and torchvision/timm module names.

One table, :data:`FACTORIES`, says what each plan op type becomes (the classes torch lacks are in
:mod:`resnetdsl.layers`); a block's parts and their order come from the plan walk (:mod:`resnetdsl.walk`).
Modules are created in torchvision's order (a block's shortcut before its main path, the classifier last) and
initialised by the same loop, so with the same seed the weights equal torchvision's own.
The module classes a built network is made of (:class:`ResNet`, :class:`ResidualBlock`, …) live in
:mod:`resnetdsl.torch_model` and are re-exported here.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import nn

from resnetdsl import plan as P
from resnetdsl.errors import SpecError
from resnetdsl.layers import (  # family: anti-aliasing and split attention (issue 18)
    AvgPool2dSame,
    BatchNormAct2d,
    BlurPool2d,
    Cbam,
    ConvNormAct,
    DropBlock,
    DropPath,
    EfficientChannelAttn,
    EvoNorm2dS0,
    FilterResponseNormTlu2d,
    FrozenBatchNorm2d,
    GlobalContext,
    GroupNormAct,
    PadShortcut,
    SelectiveKernel,
    SplitAttn,
    SqueezeExcite,
    StdConv2d,
)
from resnetdsl.layers_res2net import Res2Split  # family: Res2Net (issue 18)
from resnetdsl.lower import reserved_name_problem
from resnetdsl.torch_model import CheckpointSequential as CheckpointSequential
from resnetdsl.torch_model import FeatureDict as FeatureDict
from resnetdsl.torch_model import ResidualBlock as ResidualBlock
from resnetdsl.torch_model import ResNet as ResNet
from resnetdsl.vocab import ACTIVATIONS
from resnetdsl.walk import BlockPart, add_in_place, block_ops, ops_in_forward_order, registration_order, shortcut_source

__all__ = [
    "FACTORIES",
    "AvgPool2dSame",
    "BatchNormAct2d",
    "CheckpointSequential",
    "DropPath",
    "EfficientChannelAttn",
    "EvoNorm2dS0",
    "FeatureDict",
    "FilterResponseNormTlu2d",
    "FrozenBatchNorm2d",
    "GroupNormAct",
    "PadShortcut",
    "ResNet",
    "ResidualBlock",
    "SqueezeExcite",
    "StdConv2d",
    "build",
    "make_module",
]


def _conv(op: P.Conv) -> nn.Module:
    args = (op.in_channels, op.out_channels, op.kernel_size, op.stride, op.padding, op.dilation, op.groups, op.bias)
    if op.std_eps is not None:  # weight standardisation (issue 18, family c): StdConv2d takes Conv2d's arguments
        return StdConv2d(*args, eps=op.std_eps)
    return nn.Conv2d(*args)


def _norm(op: P.Norm) -> nn.Module:
    if op.kind == "group":
        return nn.GroupNorm(op.groups, op.channels, eps=op.eps)
    if op.kind == "frozen_batch":
        return FrozenBatchNorm2d(op.channels, eps=op.eps)
    return nn.BatchNorm2d(op.channels, eps=op.eps, momentum=op.momentum)


def _norm_act(op: P.NormAct) -> nn.Module:
    act = ACTIVATIONS[op.act].torch
    if op.kind == "group":
        return GroupNormAct(op.channels, op.groups, eps=op.eps, act=act)
    if op.kind == "evonorm_s0":
        return EvoNorm2dS0(op.channels, op.groups, eps=op.eps)
    if op.kind == "frn":
        return FilterResponseNormTlu2d(op.channels, eps=op.eps)
    return BatchNormAct2d(op.channels, eps=op.eps, momentum=op.momentum, act=act)


def _act(op: P.Act) -> nn.Module:
    kind = ACTIVATIONS[op.kind]
    args = (op.negative_slope,) if kind.slope else ()
    layer: nn.Module = getattr(nn, kind.torch)(*args, **({"inplace": op.inplace} if kind.inplace else {}))
    return layer


def _pool(op: P.Pool) -> nn.Module:
    if op.same:
        if op.kind != "avg" or op.padding:
            raise ValueError(f"{op.name}: 'SAME' padding is built for avg pools without padding only")
        return AvgPool2dSame(
            op.kernel_size, op.stride, 0, ceil_mode=op.ceil_mode, count_include_pad=op.count_include_pad
        )
    if op.kind == "max":
        return nn.MaxPool2d(op.kernel_size, op.stride, op.padding, ceil_mode=op.ceil_mode)
    return nn.AvgPool2d(
        op.kernel_size, op.stride, op.padding, ceil_mode=op.ceil_mode, count_include_pad=op.count_include_pad
    )


def _global_pool(op: P.GlobalPool) -> nn.Module:
    return nn.AdaptiveAvgPool2d(1) if op.kind == "avg" else nn.AdaptiveMaxPool2d(1)


FACTORIES: dict[type, Callable[[Any], nn.Module]] = {
    P.Conv: _conv,
    P.Norm: _norm,
    P.NormAct: _norm_act,
    P.Act: _act,
    P.Pool: _pool,
    P.GlobalPool: _global_pool,
    P.Flatten: lambda op: nn.Flatten(1),
    P.Dropout: lambda op: nn.Dropout(op.p),
    P.Linear: lambda op: nn.Linear(op.in_features, op.out_features, bias=op.bias),
    P.Identity: lambda op: nn.Identity(),
    P.PadShortcut: lambda op: PadShortcut(op.in_channels, op.out_channels, op.stride),
    P.SqueezeExcite: lambda op: SqueezeExcite(op.channels, op.reduced_channels, ACTIVATIONS[op.act].torch),
    P.EfficientChannelAttn: lambda op: EfficientChannelAttn(op.kernel_size),
    P.DropPath: lambda op: DropPath(op.p),
    # selective kernels (issue 18, SK family)
    P.ConvNormAct: lambda op: _conv_norm_act(op),
    P.SelectiveKernel: lambda op: SelectiveKernel(
        [_conv_norm_act(p) for p in op.paths], op.out_channels, op.attn_channels, op.split_input
    ),
    # issue 18, family c (ResNetV2 / BiT)
    P.ConstantPad: lambda op: nn.ConstantPad2d(op.padding, op.value),
    # family senet (issue 18)
    P.Cbam: lambda op: Cbam(op.channels, op.reduced_channels, op.spatial_kernel),
    P.GlobalContext: lambda op: GlobalContext(op.channels, op.reduced_channels),
    P.DropBlock: lambda op: DropBlock(op.p, op.block_size, op.gamma_scale),
}
"""Plan op type → the torch module it becomes (stock layers, or those of :mod:`resnetdsl.layers`). A type
missing here is a KeyError."""


def _conv_norm_act(op: P.ConvNormAct) -> nn.Module:
    def part(sub: P.Op | None) -> nn.Module:
        return nn.Identity() if sub is None else make_module(sub)

    return ConvNormAct(_conv(op.conv), part(op.norm), part(op.act))


def make_module(op: P.Op) -> nn.Module:
    """The stock torch layer for one plan op."""
    return FACTORIES[type(op)](op)  # KeyError: an op type without a factory


def _assemble(ops: Sequence[P.Op]) -> list[tuple[str, nn.Module]]:
    """Ops → named modules; dotted names (``conv1.0``…, ``f.a.0``) are gathered into Sequentials of those names,
    nested as deep as the name goes."""
    out: list[tuple[str, nn.Module]] = []
    groups: dict[str, OrderedDict[str, nn.Module]] = {}
    for op in ops:
        head, dot, tail = op.name.partition(".")
        module = make_module(op)
        if not dot:
            out.append((head, module))
            continue
        if head not in groups:
            groups[head] = OrderedDict()
            out.append((head, nn.Sequential(groups[head])))
        seq = out[-1][1]
        assert isinstance(seq, nn.Sequential) and out[-1][0] == head, f"ops of '{head}' are not contiguous"
        _place(seq, tail, module)
    return out


def _place(seq: nn.Sequential, name: str, module: nn.Module) -> None:
    """Add ``module`` to ``seq`` at ``name``, inside nested Sequentials where the name is dotted (``a.0``)."""
    head, dot, tail = name.partition(".")
    if not dot:
        seq.add_module(head, module)
        return
    children = list(seq._modules.items())
    if not children or children[-1][0] != head:
        seq.add_module(head, nn.Sequential())
    inner = seq._modules[head]
    assert isinstance(inner, nn.Sequential), f"'{head}' is both a layer and a container"
    _place(inner, tail, module)


def _block(block: P.Block, layout: str = "resnet") -> ResidualBlock:
    ops: dict[BlockPart, list[P.Op]] = {}
    for part, op in block_ops(block):
        ops.setdefault(part, []).append(op)
    # torchvision creates the downsample before the block's layers: keep that order for identical RNG use
    creation: tuple[BlockPart, ...] = ("shortcut", "main", "post", "pre")
    parts = {part: _assemble(ops.get(part, ())) for part in creation}
    return ResidualBlock(
        parts,
        order=registration_order(layout),
        shortcut=shortcut_source(block),
        inplace_add=add_in_place(block),
    )


def _nest(items: Sequence[tuple[str, nn.Module]]) -> list[tuple[str, nn.Module]]:
    """Named modules whose names may be dotted (``stages.0``, ``blocks.0``): a dotted name places the module at
    that index of a Sequential of that name; consecutive items share it."""
    out: list[tuple[str, nn.Module]] = []
    for name, module in items:
        head, dot, tail = name.partition(".")
        if not dot:
            out.append((name, module))
            continue
        if not out or out[-1][0] != head or not isinstance(out[-1][1], nn.Sequential):
            out.append((head, nn.Sequential()))
        out[-1][1].add_module(tail, module)
    return out


def _stage(stage: P.Stage, layout: str) -> nn.Module:
    blocks = _nest([(b.name, _block(b, layout)) for b in stage.blocks])
    if stage.checkpoint:  # nested block containers (``blocks.0``) checkpoint their blocks too
        blocks = [
            (n, CheckpointSequential(OrderedDict(m.named_children())) if type(m) is nn.Sequential else m)
            for n, m in blocks
        ]
        return CheckpointSequential(OrderedDict(blocks))
    return nn.Sequential(OrderedDict(blocks))


def _init(model: nn.Module, zero_init: set[nn.Module]) -> None:
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d | nn.GroupNorm):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
    for m in zero_init:
        nn.init.constant_(m.weight, 0)  # type: ignore[arg-type]


def _zero_init_modules(model: ResNet) -> Iterator[nn.Module]:
    """The modules whose weight starts at zero (an op's ``zero_init``: the last norm or conv of a branch)."""
    for path, op in ops_in_forward_order(model.plan):
        if getattr(op, "zero_init", False):
            yield model.get_submodule(path)
        if getattr(getattr(op, "norm", None), "zero_init", False):  # a composite op's own norm (ConvNormAct)
            yield model.get_submodule(f"{path}.bn")


def build(
    plan: P.Plan,
    *,
    seed: int | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> ResNet:
    """Build the network a plan describes.

    Args:
        plan: the plan.
        seed: if given, weights are drawn from a generator seeded with it (the global RNG is left untouched);
            the same seed gives torchvision's own weights for its architectures.
        device: where to create the parameters; ``"meta"`` builds without allocating.
        dtype: parameter dtype (default: torch's default dtype).
    """
    rng = torch.random.fork_rng(devices=[]) if seed is not None else contextlib.nullcontext()
    dev = torch.device(device) if device is not None else contextlib.nullcontext()
    with rng, dev:
        if seed is not None:
            torch.manual_seed(seed)
        features = _assemble(plan.stem)
        bare = nn.Module()  # instance attributes (training, …) too; torch may add names lowering cannot know
        stages: list[tuple[str, nn.Module]] = []
        for stage in plan.stages:
            if hasattr(ResNet, stage.name) or hasattr(bare, stage.name):
                raise SpecError.single(reserved_name_problem(stage.name), path=("stages", stage.index, "name"))
            stages.append((stage.name, _stage(stage, plan.layout)))
        features += _nest(stages)
        features += _assemble(plan.final)
        head = _assemble(plan.head)
        model = ResNet(plan, features, head)
        _init(model, set(_zero_init_modules(model)))
    if dtype is not None:
        model.to(dtype=dtype)
    for m in model.frozen_modules():
        m.requires_grad_(False)
    model.train()  # puts the frozen parts (and with norm_eval the batch norms) in eval mode
    return model


# --- family: anti-aliased downsampling and split attention (issue 18) ---------------------------------------


def _split_attention(op: P.SplitAttention) -> nn.Module:
    return SplitAttn(
        op.in_channels,
        op.out_channels,
        op.attn_channels,
        radix=op.radix,
        groups=op.groups,
        stride=op.stride,
        dilation=op.dilation,
        norm=op.norm,
        act=ACTIVATIONS[op.act].torch,
        negative_slope=op.negative_slope,
    )


FACTORIES[P.BlurPool] = lambda op: BlurPool2d(op.channels, op.stride, op.filter_size)
FACTORIES[P.SplitAttention] = _split_attention


# --- family: Res2Net (issue 18) ---------------------------------------------------------------------------------


def _res2_split(op: P.Res2Split) -> nn.Module:
    pool = make_module(op.pool) if op.pool is not None else None
    convs, norms = [make_module(c) for c in op.convs], [make_module(n) for n in op.norms]
    return Res2Split(convs, norms, make_module(op.act), pool, op.width, op.cumulative)


FACTORIES[P.Res2Split] = _res2_split
