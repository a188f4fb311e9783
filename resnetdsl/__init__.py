"""resnetdsl: describe a ResNet in YAML; get the exact network, its numbers and its diagram.

The pipeline: :mod:`~resnetdsl.spec` (what a user writes) → :mod:`~resnetdsl.load` (YAML with marks, presets,
``extends``) → :mod:`~resnetdsl.lower` → :mod:`~resnetdsl.plan` (the explicit IR) → backends that read only the
plan (:mod:`~resnetdsl.build_torch`, :mod:`~resnetdsl.analyze`, :mod:`~resnetdsl.render`).

Importing this package does not import torch; :func:`build_model` does, on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from resnetdsl.errors import Issue, Mark, SpecError
from resnetdsl.load import load_spec, preset_names
from resnetdsl.lower import lower
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
    """The :class:`Plan` of a spec given in any form :func:`load_spec` takes (or a plan, returned as is)."""
    if isinstance(source, Plan):
        return source
    return lower(load_spec(source))


def build_model(
    source: Any,
    *,
    seed: int | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> ResNet:
    """Build the ``torch.nn.Module`` a spec describes.

    Args:
        source: a path, YAML text, a mapping, a :class:`Spec`, a :class:`Plan`, or a preset name (``"resnet50"``).
        seed: seed for the weights; the global RNG is left as it was. With the same seed, torchvision's
            architectures get torchvision's own weights.
        device: device to create parameters on (``"meta"`` allocates nothing).
        dtype: parameter dtype.

    Raises:
        SpecError: the spec is invalid; every problem is listed.
    """
    plan = plan_of(source)
    from resnetdsl.build_torch import build

    return build(plan, seed=seed, device=device, dtype=dtype)
