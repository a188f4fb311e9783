"""Plan → ``torch.nn.Module`` with stock torch layers and torchvision/timm module names.

One table, :data:`FACTORIES`, says what each plan op type becomes (the classes torch lacks are in
:mod:`resnetdsl.layers`); a block's parts and their order come from the plan walk (:mod:`resnetdsl.walk`).
Modules are created in torchvision's order (a block's shortcut before its main path, the classifier last) and
initialised by the same loop, so with the same seed the weights equal torchvision's own.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

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
from resnetdsl.lower import reserved_name_problem
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


class ResidualBlock(nn.Module):
    """``post(main(x) + shortcut(x))``; the modules are plain attributes named as in torchvision/timm.

    ``parts`` holds each part's named modules; they are registered in the order ``order`` gives (the plan
    walk's registration order), and ``forward`` runs them as the walk does (:func:`resnetdsl.walk.run_block`).
    """

    def __init__(
        self,
        parts: Mapping[BlockPart, Sequence[tuple[str, nn.Module]]],
        *,
        order: Sequence[BlockPart],
        shortcut: Literal["pre", "input"] | None,
        inplace_add: bool,
    ) -> None:
        super().__init__()
        for part in order:
            for name, module in parts.get(part, ()):
                self.add_module(name, module)
        # Names, not module objects, so that `block.conv2 = ...` replaces what forward runs.
        self._pre = tuple(n for n, _ in parts.get("pre", ()))
        self._main = tuple(n for n, _ in parts.get("main", ()))
        self._shortcut = None if shortcut is None else tuple(n for n, _ in parts.get("shortcut", ()))
        self._post = tuple(n for n, _ in parts.get("post", ()))
        self._shortcut_from_pre = shortcut == "pre"
        self._inplace_add = inplace_add

    def forward(self, x: Tensor) -> Tensor:
        mods = self._modules
        pre = x
        for name in self._pre:  # pre-activation: the main path (and a projection) read its output
            pre = mods[name](pre)  # type: ignore[misc]
        out = pre
        for name in self._main:
            out = mods[name](out)  # type: ignore[misc]
        if self._shortcut is not None:
            identity = pre if self._shortcut_from_pre else x
            for name in self._shortcut:
                identity = mods[name](identity)  # type: ignore[misc]
            if self._inplace_add:
                out += identity
            else:
                out = out + identity
        for name in self._post:
            out = mods[name](out)  # type: ignore[misc]
        return out


class ResNet(nn.Module):
    """A network built from a :class:`~resnetdsl.plan.Plan`; ``.plan`` keeps it.

    A multi-scale backbone (``plan.out_indices``) returns the list of its feature maps from ``forward``;
    ``feature_info`` describes them (channels, reduction, module name) as timm's does.
    """

    def __init__(
        self,
        plan: P.Plan,
        features: Sequence[tuple[str, nn.Module]],
        head: Sequence[tuple[str, nn.Module]],
    ) -> None:
        from resnetdsl.features import FeatureInfo, selected

        super().__init__()
        self.plan = plan
        for name, module in (*features, *head):
            self.add_module(name, module)
        self._features = tuple(n for n, _ in features)
        self._head = tuple(n for n, _ in head)
        self.num_classes = plan.num_classes
        self.num_features = plan.feature_channels
        if plan.pretrained_cfg:  # timm's attributes (family senet, issue 18): the spec's pretrained_cfg
            self.pretrained_cfg: dict[str, Any] = dict(plan.pretrained_cfg)
            self.default_cfg = self.pretrained_cfg
        self.feature_info = FeatureInfo(selected(plan))
        self._taps = frozenset(self.feature_info.module_name()) if plan.out_indices else frozenset()

    def forward_features(self, x: Tensor) -> Tensor:
        mods = self._modules
        for name in self._features:
            x = mods[name](x)  # type: ignore[misc]
        return x

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """The head on the last feature map; ``pre_logits=True``: everything but the classifier (the pooled,
        flattened features; timm's ``forward_head``)."""
        mods = self._modules
        if not pre_logits:
            for name in self._head:
                x = mods[name](x)  # type: ignore[misc]
            return x
        classifier = self._classifier_name()
        for name in self._head:
            module = self.get_submodule(name)
            inside = isinstance(module, nn.Sequential) and classifier.startswith(name + ".")
            for path, sub in module.named_children() if inside else [("", module)]:
                if (f"{name}.{path}" if path else name) != classifier:
                    x = sub(x)
        return x

    def _classifier_name(self) -> str:
        """The module path of the classifier (the head's last Linear or 1×1 conv; ``""``: none)."""
        found = [op.name for op in self.plan.head if isinstance(op, P.Linear | P.Conv)]
        return found[-1] if found else ""

    def get_classifier(self) -> nn.Module:
        """The classifier (``fc``; ``head.fc`` under layout resnetv2): an ``nn.Identity`` when there is none."""
        name = self._classifier_name()
        return self.get_submodule(name) if name else nn.Identity()

    def reset_classifier(self, num_classes: int) -> None:
        """A new, freshly initialised classifier of ``num_classes`` outputs; ``0``: none (an ``nn.Identity``),
        ``forward`` then returns the pooled features (timm's ``reset_classifier``). ``plan`` still describes the
        spec's head.

        Raises:
            ValueError: the network has no head (``head: none``), or ``num_classes`` is negative.
        """
        name = self._classifier_name()
        if not name:
            raise ValueError("the network has no head (head: none): there is no classifier to reset")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 0:
            raise ValueError(f"num_classes must be a whole number >= 0 (0: no classifier), got {num_classes!r}")
        parent_name, _, child = name.rpartition(".")
        parent = self.get_submodule(parent_name) if parent_name else self
        old = self.get_submodule(name)
        weight = next(self.parameters())
        new: nn.Module
        if num_classes == 0:
            new = nn.Identity()
        elif isinstance(old, nn.Conv2d) or (isinstance(old, nn.Identity) and self.plan.layout == "resnetv2"):
            new = nn.Conv2d(self.num_features, num_classes, 1, bias=True)
        else:
            new = nn.Linear(self.num_features, num_classes, bias=getattr(old, "bias", True) is not None)
        setattr(parent, child, new.to(device=weight.device, dtype=weight.dtype))
        self.num_classes = num_classes

    def forward_taps(self, x: Tensor) -> list[Tensor]:
        """The feature maps of ``feature_info``, in order (``forward`` of a multi-scale backbone)."""
        out: list[Tensor] = []
        taps = self._taps
        for name in self._features:
            module = self._modules[name]
            if isinstance(module, nn.Sequential) and any(t.startswith(name + ".") for t in taps):
                for child, sub in module.named_children():  # a tap inside a container (stem.conv)
                    x = sub(x)
                    if f"{name}.{child}" in taps:
                        out.append(x)
            else:
                x = module(x)  # type: ignore[misc]
            if name in taps:
                out.append(x)
        return out

    def forward(self, x: Tensor) -> Any:
        if self._taps:
            return self.forward_taps(x)
        return self.forward_head(self.forward_features(x))

    def frozen_modules(self) -> list[nn.Module]:
        """The stem's modules and those of the first ``frozen_stages`` stages (none when nothing is frozen)."""
        plan = self.plan
        if plan.frozen_stages is None:
            return []
        names = dict.fromkeys(op.name for op in plan.stem)
        names.update(dict.fromkeys(st.name for st in plan.stages[: plan.frozen_stages]))
        return [self.get_submodule(n) for n in names]

    def train(self, mode: bool = True) -> ResNet:
        """``nn.Module.train``, keeping the frozen stem and stages in eval mode and, with ``norm_eval``, every
        batch norm (mmdetection's convention)."""
        super().train(mode)
        if mode:
            for m in self.frozen_modules():
                m.eval()
            if self.plan.norm_eval:
                for m in self.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):
                        m.eval()
        return self


class FeatureDict(nn.Module):
    """A multi-scale backbone's maps as an ordered dict, with ``out_channels``: the contract torchvision's
    detection and segmentation models expect of a backbone body (what ``IntermediateLayerGetter`` gives).

    The model stays a child module, so ``train()`` still keeps its frozen stages and (``norm_eval``) its batch
    norms in eval mode; ``IntermediateLayerGetter`` copies the children and loses that.
    """

    def __init__(self, model: ResNet, names: Sequence[str] | None = None) -> None:
        super().__init__()
        if not model.plan.out_indices:
            raise ValueError("FeatureDict needs a multi-scale backbone: build it with features_only=True")
        n = len(model.feature_info)
        self.names = [str(i) for i in range(n)] if names is None else list(names)
        if len(self.names) != n:
            raise ValueError(f"{len(self.names)} names for {n} feature maps")
        self.body = model
        self.out_channels: list[int] = model.feature_info.channels()

    def forward(self, x: Tensor) -> OrderedDict[str, Tensor]:
        return OrderedDict(zip(self.names, self.body(x), strict=True))


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


class _RecomputeKeepsStats:
    """A block run under checkpoint: its forward runs twice (forward, then recompute in backward); the second
    run must not update batch-norm running statistics again, so it restores the buffers it changed."""

    def __init__(self, block: nn.Module) -> None:
        self.block = block
        self.calls = 0

    def __call__(self, x: Tensor) -> Tensor:
        self.calls += 1
        if self.calls == 1:
            return self.block(x)  # type: ignore[no-any-return]
        saved = [b.clone() for b in self.block.buffers()]
        try:  # the recompute may stop early, by an exception, once it has what backward needs
            out: Tensor = self.block(x)
        finally:
            with torch.no_grad():
                for b, s in zip(self.block.buffers(), saved, strict=True):
                    b.copy_(s)
        return out


class CheckpointSequential(nn.Sequential):
    """A stage's blocks with activation checkpointing in training (``checkpoint: true``): each block keeps only
    its input for backward and recomputes its forward there. The module names are those of ``nn.Sequential``;
    eval mode and no-grad runs are plain sequential calls."""

    def forward(self, x: Tensor) -> Tensor:
        for module in self:
            if self.training and torch.is_grad_enabled() and isinstance(module, ResidualBlock):
                x = checkpoint(_RecomputeKeepsStats(module), x, use_reentrant=False)
            else:
                x = module(x)
        return x


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
