"""resnetdsl: describe a ResNet in YAML; get the exact network, its numbers and its diagram.

The pipeline: :mod:`~resnetdsl.spec` (what a user writes) → :mod:`~resnetdsl.load` (YAML with marks, presets,
``extends``) → :mod:`~resnetdsl.lower` → :mod:`~resnetdsl.plan` (the explicit IR) → backends that read only the
plan (:mod:`~resnetdsl.build_torch`, :mod:`~resnetdsl.analyze`, :mod:`~resnetdsl.render`).

Importing this package does not import torch (:func:`build_model` does, on first use), nor pydantic, YAML or
graphviz: each name loads its modules when it is first used (``tests/test_commands.py`` pins what the import
loads).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

# Bound here, at import, because each shares its name with a module of this package (``resnetdsl.check``,
# ``resnetdsl.render``): a submodule first imported later would otherwise rebind the name to the module. Both
# modules are light at import (no pydantic, no YAML, no graphviz); the work is imported when called. The
# modules themselves: ``importlib.import_module("resnetdsl.render")``.
from resnetdsl.check import check
from resnetdsl.errors import Issue, Mark, SpecError
from resnetdsl.lazy import lazy_names
from resnetdsl.render import render, render_to

if TYPE_CHECKING:
    import torch

    from resnetdsl.build_torch import ResNet
    from resnetdsl.load import load_spec
    from resnetdsl.plan import Plan
    from resnetdsl.spec import Spec
    from resnetdsl.summary import Summary, summarize

_LAZY = {
    "Plan": "resnetdsl.plan",
    "Spec": "resnetdsl.spec",
    "Summary": "resnetdsl.summary",
    "load_spec": "resnetdsl.load",
    "summarize": "resnetdsl.summary",
}
"""Names imported on first use (PEP 562), so that ``import resnetdsl`` loads neither pydantic nor YAML: a
command or a script pays for the modules it uses."""


__getattr__, __dir__ = lazy_names(globals(), _LAZY)


__version__ = "0.1.0"

__all__ = [
    "Issue",
    "Mark",
    "Plan",
    "Spec",
    "SpecError",
    "Summary",
    "TorchMissing",
    "__version__",
    "build_model",
    "check",
    "diff",
    "freeze_for_inference",
    "fuse_for_inference",
    "load_spec",
    "load_weights",
    "pack_for_inference",
    "plan_of",
    "presets",
    "render",
    "render_to",
    "spec_from_model",
    "summarize",
]


def load_weights(model: Any, source: Any, *, strict: bool = False) -> Any:
    """Load a checkpoint into a model, mapping names and adapting what can be; see
    :func:`resnetdsl.weights.load_weights` (imports torch)."""
    from resnetdsl.weights import load_weights as load

    return load(model, source, strict=strict)


def spec_from_model(model: Any, *, name: str | None = None) -> Spec:
    """The spec of a torchvision or timm ResNet instance; see :func:`resnetdsl.importer.spec_from_model`."""
    from resnetdsl.importer import spec_from_model as convert

    return convert(model, name=name)


def diff(a: Any, b: Any, *, input_size: Any = None, overrides: Any = None) -> Any:
    """What differs between two specs, and which of A's weights load into B; see :func:`resnetdsl.compare.diff`."""
    from resnetdsl.compare import diff as compare

    return compare(a, b, input_size=input_size, overrides=overrides)


def presets() -> tuple[str, ...]:
    """Names of the bundled presets (``resnet50``, ``cifar_resnet56``, …)."""
    from resnetdsl.load import preset_names

    return preset_names()


def plan_of(source: Any, *, overrides: Any = None) -> Plan:
    """The :class:`Plan` of a spec given in any form :func:`load_spec` takes (or a plan, returned as is), with
    ``overrides`` (``{"stages.2.depth": 23}``) set after ``extends``.

    Raises:
        SpecError: the spec is invalid, with the same problems ``resnetdsl validate`` reports.
    """
    return check(source, overrides=overrides).plan


def _model_overrides(overrides: Any, num_classes: int | None, in_chans: int | None) -> Any:
    from resnetdsl.load import Override, overrides_arg

    items = list(overrides_arg(overrides))
    if num_classes is not None:
        items.append(Override("head.num_classes", num_classes, "num_classes"))
    if in_chans is not None:
        items.append(Override("input.channels", in_chans, "in_chans"))
    return tuple(items)


class TorchMissing(ImportError):
    """Building a model needs torch, which the light install (``pip install resnetdsl``) leaves out."""


TORCH_HINT = "building a model needs torch: pip install 'resnetdsl[torch]' (validate, summary and render do not)"


def require_torch() -> None:
    """Raise :class:`TorchMissing`, with the one line that says what to install, when torch cannot be imported."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        raise TorchMissing(TORCH_HINT)


def _seed(seed: Any) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ValueError(f"seed must be a whole number from 0 to 2**63-1, got {seed!r}")
    return seed


def _without_features(source: Any, overrides: Any = None) -> Spec:
    from resnetdsl.spec import Spec

    spec = check(source, overrides=overrides).spec
    if spec is None:
        raise ValueError("out_indices cannot re-select the maps of a plan that has chosen its own")
    data = spec.model_dump(exclude_unset=True, exclude={"features"})
    return Spec.model_validate(data)


def build_model(
    source: Any,
    *,
    seed: int | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | str | None = None,
    num_classes: int | None = None,
    in_chans: int | None = None,
    overrides: Any = None,
    inference: bool = False,
    features_only: bool = False,
    out_indices: Sequence[int] | None = None,
) -> ResNet:
    """Build the ``torch.nn.Module`` a spec describes.

    Args:
        source: a path, YAML text, a mapping, a :class:`Spec`, a :class:`Plan`, or a preset name (``"resnet50"``).
        num_classes: classes of the head (``head.num_classes``), as timm's ``create_model`` takes it; ``0``: no
            classifier, ``forward`` returns the pooled features (timm's ``num_classes=0``).
        in_chans: input channels (``input.channels``), as timm's ``create_model`` takes it.
        overrides: ``{"stages.2.depth": 23}``: dotted key paths set after ``extends``, before checking.
        seed: seed for the weights; the global RNG is left as it was. With the same seed, torchvision's
            architectures get torchvision's own weights.
        device: device to create parameters on (``"meta"`` allocates nothing).
        dtype: parameter dtype: a floating ``torch.dtype`` or its name (``"float16"``).
        inference: return :func:`fuse_for_inference` of the model (eval mode, norms folded into convs,
            channels_last); its state_dict is no longer the spec's.
        features_only: build a multi-scale backbone whose ``forward`` returns a list of feature maps
            (timm's ``features_only``); ``model.feature_info`` describes them.
        out_indices: with ``features_only``, which maps: 0 the stem's (after its activation, before its pool),
            i stage i's. Default: the spec's ``features.out_indices``, else every one.

    Raises:
        SpecError: the spec is invalid; every problem is listed, as ``resnetdsl validate`` lists them (the input
            size checks included).
        ValueError: ``seed`` is not a whole number from 0 to 2**63-1; ``out_indices`` without
            ``features_only``, or naming no feature map; ``dtype`` is no floating dtype; ``num_classes``
            beside ``features_only``, beside an override of the head's classes, or on a spec with ``head: none``
            (each message names both sides).
        TorchMissing: torch is not installed (``pip install 'resnetdsl[torch]'``).
    """
    from resnetdsl import buildargs
    from resnetdsl.load import overrides_arg

    seed = _seed(seed)
    buildargs.num_classes_conflicts(num_classes, features_only, overrides_arg(overrides))
    if num_classes is not None and not check(source, overrides=overrides).plan.head:
        raise ValueError(buildargs.no_head_problem(num_classes))
    overrides = _model_overrides(overrides, num_classes or None, in_chans)  # 0: the spec's head, then no classifier
    plan = check(source, overrides=overrides).plan
    require_torch()
    dtype = buildargs.dtype_arg(dtype)
    if out_indices is not None and not features_only:
        raise ValueError("out_indices applies only with features_only=True")
    if features_only:
        from resnetdsl.features import with_features

        if out_indices is None:
            out_indices = plan.out_indices or range(len(plan.stages) + 1)
        elif plan.out_indices:  # the spec's selection cut the stages; start again from the whole network
            plan = check(_without_features(source, overrides)).plan
        plan = with_features(plan, tuple(out_indices))
    from resnetdsl.build_torch import build

    model = build(plan, seed=seed, device=device, dtype=dtype)
    if num_classes == 0:  # timm's meaning: no classifier, the pooled features
        model.reset_classifier(0)
    return fuse_for_inference(model) if inference else model


def fuse_for_inference(model: ResNet, *, channels_last: bool = True) -> ResNet:
    """An eval-mode copy of ``model`` for fast inference: every batch norm (frozen ones too) that follows a
    conv folded into it, dropout and drop path removed, channels_last memory. Group norms and norms after an
    add stay (see :mod:`resnetdsl.passes.fuse`). Outputs equal the eval-mode model's to float rounding.

    Raises:
        KeyError: the plan holds an op type the pass does not know.
    """
    from resnetdsl.passes.fuse import fuse_for_inference as fuse

    return fuse(model, channels_last=channels_last)


def freeze_for_inference(
    model: ResNet, *, batch_size: int = 1, input_size: tuple[int, int] | None = None
) -> torch.nn.Module:
    """The fastest CPU inference copy of ``model`` (float32): :func:`fuse_for_inference`, traced, frozen and run by
    TorchScript with oneDNN Graph fusion (each conv with its residual add and ReLU one compiled oneDNN partition),
    warmed up at ``batch_size`` × ``input_size``; see :mod:`resnetdsl.passes.freeze`.

    Raises:
        ValueError: the model is not float32 on the CPU, or torch has no oneDNN.
    """
    from resnetdsl.passes.freeze import freeze_for_inference as freeze

    return freeze(model, batch_size=batch_size, input_size=input_size)


def pack_for_inference(model: ResNet, *, input_size: tuple[int, int] | None = None) -> torch.nn.Module:
    """A CPU inference copy of ``model`` (float32) with no trace or compile step: :func:`fuse_for_inference`, then
    each conv, with the residual add and ReLU after it, one oneDNN primitive with pre-packed weights. Returns a
    ``torch.fx.GraphModule`` (run it under ``torch.inference_mode()``); see :mod:`resnetdsl.passes.pack`.

    Raises:
        ValueError: the model is not float32 on the CPU, or torch has no oneDNN.
    """
    from resnetdsl.passes.pack import pack_for_inference as pack

    return pack(model, input_size=input_size)
