"""Checking the spec read from a model against the model itself, layer by layer."""

from __future__ import annotations

from typing import Any

from torch import nn

from resnetdsl import plan as P
from resnetdsl.importer.modules import _ACTS, UnsupportedModel, _sub

_HARMLESS = (
    nn.Identity,
    *_ACTS,  # the activations the spec language has
    nn.Sigmoid,
    nn.Flatten,
    nn.Dropout,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveMaxPool2d,
)


def _verify(plan: P.Plan, model: nn.Module) -> None:
    from resnetdsl.state import named_ops, state_entries

    covered: set[str] = set()
    for path, op in named_ops(plan):
        m: Any = _sub(model, path)
        if isinstance(op, P.Conv | P.Norm | P.NormAct | P.Pool | P.Linear | P.SqueezeExcite | P.EfficientChannelAttn):
            if m is None:
                raise UnsupportedModel(path, model, "the spec has a layer here that the model lacks")
            covered.add(path)
            covered.update(f"{path}.{n}" for n, _ in m.named_modules() if n)
        if isinstance(op, P.Conv):
            got = (
                m.in_channels,
                m.out_channels,
                m.kernel_size[0],
                m.stride[0],
                m.padding[0],
                m.dilation[0],
                m.groups,
                m.bias is not None,
            )
            want = (
                op.in_channels,
                op.out_channels,
                op.kernel_size,
                op.stride,
                op.padding,
                op.dilation,
                op.groups,
                op.bias,
            )
            if got != want:
                raise UnsupportedModel(path, m, f"differs from the spec's conv: {got} != {want}")
        elif isinstance(op, P.Pool):
            k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
            s = m.stride if isinstance(m.stride, int) else m.stride[0]
            extra = (getattr(m, "ceil_mode", False), getattr(m, "count_include_pad", True))
            if (k, s, *extra) != (
                op.kernel_size,
                op.stride,
                op.ceil_mode,
                op.count_include_pad if op.kind == "avg" else True,
            ):
                raise UnsupportedModel(
                    path, m, f"a {k}×{k}/{s} pool; the spec's is {op.kernel_size}×{op.kernel_size}/{op.stride}"
                )
    for name, m in model.named_modules():
        if not name or name in covered or list(m.children()):
            continue
        if isinstance(m, _HARMLESS) or type(m).__name__ == "DropPath":
            continue
        if (
            not list(m.parameters(recurse=False))
            and not list(m.buffers(recurse=False))
            and type(m) in (nn.AvgPool2d, nn.MaxPool2d)
        ):
            raise UnsupportedModel(name, m, "a pool the spec does not have here")
        raise UnsupportedModel(name, m, "no counterpart in the spec language")
    entries = state_entries(plan)
    held = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if entries != held:
        surplus = sorted(set(held) - set(entries))
        lack = sorted(set(entries) - set(held))
        diff = [k for k in entries if k in held and entries[k] != held[k]]
        raise UnsupportedModel(
            "", model, f"state_dict differs: extra {surplus[:3]}, lacking {lack[:3]}, other shapes {diff[:3]}"
        )
