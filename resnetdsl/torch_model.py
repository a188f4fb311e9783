"""The torch modules a built network is made of: :class:`ResNet`, its :class:`ResidualBlock`s, the stage
container of activation checkpointing and :class:`FeatureDict` for detection backbones.

:mod:`resnetdsl.build_torch` makes them from a plan (and re-exports them); they read the plan only for the
model-level facts (classifier, frozen stages, feature taps), never an op's type.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from resnetdsl import plan as P
from resnetdsl.walk import BlockPart


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
                attach = getattr(module, "attach", None)  # a module whose parts sit beside it (Res2Net's bns, pool)
                if callable(attach):
                    attach(self, name)
                else:
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
        return self.plan.classifier_name()

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
