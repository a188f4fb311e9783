"""resnetdsl: describe a ResNet in YAML; get the exact network, its numbers and its diagram.

The pipeline: :mod:`~resnetdsl.spec` (what a user writes) → :mod:`~resnetdsl.load` (YAML with marks, presets,
``extends``) → :mod:`~resnetdsl.lower` → :mod:`~resnetdsl.plan` (the explicit IR) → backends that read only the
plan (:mod:`~resnetdsl.build_torch`, :mod:`~resnetdsl.analyze`, :mod:`~resnetdsl.render`).

Importing this package does not import torch; :func:`build_model` does, on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from resnetdsl.check import check
from resnetdsl.errors import Issue, Mark, SpecError
from resnetdsl.load import load_spec, preset_names
from resnetdsl.plan import Plan

# Imported eagerly (the module loads neither graphviz nor torch): binding the function here keeps the name
# ``resnetdsl.render`` on the function; a submodule first imported later would rebind it to the module.
# The module itself: ``importlib.import_module("resnetdsl.render")``.
from resnetdsl.render import render, render_to
from resnetdsl.spec import Spec
from resnetdsl.summary import Summary, summarize

if TYPE_CHECKING:
    import torch

    from resnetdsl.build_torch import ResNet

__version__ = "0.1.0"

__all__ = [
    "Issue",
    "Mark",
    "Plan",
    "Spec",
    "SpecError",
    "Summary",
    "__version__",
    "build_model",
    "check",
    "load_spec",
    "plan_of",
    "presets",
    "render",
    "render_to",
    "summarize",
]


def presets() -> tuple[str, ...]:
    """Names of the bundled presets (``resnet50``, ``cifar_resnet56``, …)."""
    return preset_names()


def plan_of(source: Any) -> Plan:
    """The :class:`Plan` of a spec given in any form :func:`load_spec` takes (or a plan, returned as is).

    Raises:
        SpecError: the spec is invalid, with the same problems ``resnetdsl validate`` reports.
    """
    return check(source).plan


def _seed(seed: Any) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ValueError(f"seed must be a whole number from 0 to 2**63-1, got {seed!r}")
    return seed


def _without_features(source: Any) -> Spec:
    spec = check(source).spec
    if spec is None:
        raise ValueError("out_indices cannot re-select the maps of a plan that has chosen its own")
    data = spec.model_dump(exclude_unset=True, exclude={"features"})
    return Spec.model_validate(data)


def build_model(
    source: Any,
    *,
    seed: int | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
    features_only: bool = False,
    out_indices: Sequence[int] | None = None,
) -> ResNet:
    """Build the ``torch.nn.Module`` a spec describes.

    Args:
        source: a path, YAML text, a mapping, a :class:`Spec`, a :class:`Plan`, or a preset name (``"resnet50"``).
        seed: seed for the weights; the global RNG is left as it was. With the same seed, torchvision's
            architectures get torchvision's own weights.
        device: device to create parameters on (``"meta"`` allocates nothing).
        dtype: parameter dtype.
        features_only: build a multi-scale backbone whose ``forward`` returns a list of feature maps
            (timm's ``features_only``); ``model.feature_info`` describes them.
        out_indices: with ``features_only``, which maps: 0 the stem's (after its activation, before its pool),
            i stage i's. Default: the spec's ``features.out_indices``, else every one.

    Raises:
        SpecError: the spec is invalid; every problem is listed, as ``resnetdsl validate`` lists them (the input
            size checks included).
        ValueError: ``seed`` is not a whole number from 0 to 2**63-1; ``out_indices`` without
            ``features_only``, or naming no feature map.
    """
    seed = _seed(seed)
    plan = check(source).plan
    if out_indices is not None and not features_only:
        raise ValueError("out_indices applies only with features_only=True")
    if features_only:
        from resnetdsl.features import with_features

        if out_indices is None:
            out_indices = plan.out_indices or range(len(plan.stages) + 1)
        elif plan.out_indices:  # the spec's selection cut the stages; start again from the whole network
            plan = check(_without_features(source)).plan
        plan = with_features(plan, tuple(out_indices))
    from resnetdsl.build_torch import build

    return build(plan, seed=seed, device=device, dtype=dtype)
