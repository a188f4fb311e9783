"""Loading weights into a network: a checkpoint's tensors mapped by name, adapted where they can be.

The rule of what goes where is :func:`resnetdsl.weights.fit.match_state` (torch-free, shared with
``resnetdsl diff``); this module reads checkpoints and moves tensors.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from resnetdsl.state import Shape, classifier_keys, input_conv_key
from resnetdsl.weights.fit import WeightReport, match_state


class WeightError(ValueError):
    """``strict=True`` and the checkpoint does not fit exactly; ``report`` tells every tensor's fate."""

    def __init__(self, report: WeightReport) -> None:
        super().__init__(report.format())
        self.report = report


def read_state(source: Any) -> tuple[dict[str, Tensor], str]:
    """A state dict from a mapping, a ``.pt``/``.pth``/``.bin`` or ``.safetensors`` file, or a module; and how
    reports name it. A checkpoint that wraps its state dict (``{"state_dict": …}``, ``{"model": …}``) is unwrapped,
    and DataParallel's ``module.`` prefix dropped. Files are read with ``weights_only=True``: no code runs."""
    if isinstance(source, nn.Module):
        return dict(source.state_dict()), type(source).__name__
    if isinstance(source, Mapping):
        return _unwrap(source), "state_dict"
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no checkpoint file '{path}'")
        if path.endswith(".safetensors"):
            try:
                from safetensors.torch import load_file
            except ImportError:  # pragma: no cover - depends on the environment
                raise ImportError(f"reading '{path}' needs the safetensors package (pip install safetensors)") from None
            return dict(load_file(path, device="cpu")), os.path.basename(path)
        data = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(data, Mapping):
            raise ValueError(f"'{path}' holds a {type(data).__name__}, not a state dict")
        return _unwrap(data), os.path.basename(path)
    raise TypeError(f"expected a state dict, a checkpoint path or a torch module, got {type(source).__name__}")


def _unwrap(data: Mapping[str, Any]) -> dict[str, Tensor]:
    for key in ("state_dict", "model", "model_state_dict"):
        inner = data.get(key)
        if isinstance(inner, Mapping) and inner and all(isinstance(v, Tensor) for v in inner.values()):
            data = inner
            break
    bad = [k for k, v in data.items() if not isinstance(v, Tensor)]
    if bad:
        raise ValueError(f"not a state dict: '{bad[0]}' is a {type(data[bad[0]]).__name__}, not a tensor")
    state = {str(k): v for k, v in data.items()}
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state


def adapt_input_conv(weight: Tensor, in_channels: int) -> Tensor:
    """A 3-channel input conv's weight for ``in_channels`` (timm's ``adapt_input_conv``): one channel sums the
    three; more repeat them and scale by 3 / ``in_channels``."""
    base = weight.shape[1]
    dtype = weight.dtype
    w = weight.float()
    if in_channels == 1:
        w = w.sum(dim=1, keepdim=True)
    else:
        repeat = math.ceil(in_channels / base)
        w = w.repeat(1, repeat, 1, 1)[:, :in_channels] * (base / float(in_channels))
    return w.to(dtype)


def _roles(model: nn.Module, shapes: Mapping[str, Shape]) -> tuple[str | None, frozenset[str]]:
    plan = getattr(model, "plan", None)
    from resnetdsl.plan import Plan

    if isinstance(plan, Plan):
        return input_conv_key(plan), classifier_keys(plan)
    first = next((k for k, s in shapes.items() if k.endswith(".weight") and len(s) == 4), None)
    head = frozenset(k for k in shapes if k.startswith(("fc.", "head.fc.")))
    return first, head


def load_weights(model: nn.Module, source: Any, *, strict: bool = False) -> WeightReport:
    """Load a checkpoint into ``model``, mapping names where layouts differ and adapting what can be.

    Args:
        model: a network from :func:`resnetdsl.build_model` (or any module with ResNet names).
        source: a state dict, a ``.pt``/``.pth`` file (read with ``torch.load(weights_only=True)``), a
            ``.safetensors`` file, or a torchvision/timm model instance.
        strict: raise :class:`WeightError` (with the report) unless every tensor of ``model`` is loaded or
            adapted and every tensor of ``source`` is used; ``model`` is left untouched then.

    Returns:
        The report: loaded, adapted, re-initialised (a classifier for another class count), missing,
        unexpected and shape-mismatched tensors, each with its key. Tensors not loaded keep their values.
    """
    state, name = read_state(source)
    target = model.state_dict()
    tshapes = {k: tuple(v.shape) for k, v in target.items()}
    first, head = _roles(model, tshapes)
    plan = getattr(model, "plan", None)
    report = match_state(
        {k: tuple(v.shape) for k, v in state.items()},
        tshapes,
        input_conv=first,
        classifier=head,
        source_name=name,
        target_name=getattr(plan, "name", type(model).__name__),
    )
    if strict and not report.ok:
        raise WeightError(report)
    new: dict[str, Tensor] = {}
    for e in report.loaded:
        assert e.source_key is not None
        new[e.key] = state[e.source_key]
    for e in report.adapted:
        assert e.source_key is not None and e.target_shape is not None
        t = state[e.source_key]
        if e.key == first and t.shape[1] != e.target_shape[1]:
            t = adapt_input_conv(t, e.target_shape[1])
        new[e.key] = t.reshape(e.target_shape)
    with torch.no_grad():
        for key, value in new.items():
            target[key].copy_(value)
    return report
