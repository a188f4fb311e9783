"""Checking the spec read from a model against the model itself, layer by layer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from resnetdsl import plan as P
from resnetdsl.importer import sk
from resnetdsl.importer.antialias import blur_of  # family: anti-aliasing (issue 18)
from resnetdsl.importer.modules import _ACTS, UnsupportedModel, _sub
from resnetdsl.importer.resnest import is_split_attention  # family: split attention (issue 18)
from resnetdsl.vocab import ACTIVATIONS, GROUPED_NORMS, NORM_ACTS

_HARMLESS = (
    nn.Identity,
    *_ACTS,  # the activations the spec language has
    nn.Sigmoid,
    nn.Flatten,
    nn.Dropout,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveMaxPool2d,
)

Check = Callable[[Any, Any, str], None]
"""(op, the model's module at the op's path, the path) → nothing, or :class:`UnsupportedModel`."""


def _present(op: Any, m: Any, path: str) -> None:
    """The model has a module here; its tensors are compared with the spec's through the state_dict."""


def _conv(op: P.Conv, m: Any, path: str) -> None:
    got = (m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0], m.padding[0], m.dilation[0], m.groups)
    want = (op.in_channels, op.out_channels, op.kernel_size, op.stride, op.padding, op.dilation, op.groups)
    if (*got, m.bias is not None) != (*want, op.bias):
        raise UnsupportedModel(
            path, m, f"differs from the spec's conv: {(*got, m.bias is not None)} != {(*want, op.bias)}"
        )
    std = getattr(m, "eps", None) if type(m).__name__ == "StdConv2d" else None
    if std != op.std_eps:
        raise UnsupportedModel(path, m, f"weight standardisation eps {std}; the spec's is {op.std_eps}")


def _pool(op: P.Pool, m: Any, path: str) -> None:
    k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
    s = m.stride if isinstance(m.stride, int) else m.stride[0]
    extra = (getattr(m, "ceil_mode", False), getattr(m, "count_include_pad", True))
    want = (op.kernel_size, op.stride, op.ceil_mode, op.count_include_pad if op.kind == "avg" else True)
    if (k, s, *extra) != want:
        raise UnsupportedModel(
            path, m, f"a {k}×{k}/{s} pool; the spec's is {op.kernel_size}×{op.kernel_size}/{op.stride}"
        )


def _constant_pad(op: P.ConstantPad, m: Any, path: str) -> None:
    p = op.padding
    if type(m) is not nn.ConstantPad2d or tuple(m.padding) != (p, p, p, p) or m.value != op.value:
        raise UnsupportedModel(path, m, f"the spec pads {p} on every side with {op.value:g}")


def _norm_act(op: P.NormAct, m: Any, path: str) -> None:
    """The kind and the groups of a norm-act module (its tensors are compared through the state_dict)."""
    kinds = {"batch": isinstance(m, nn.BatchNorm2d), "group": isinstance(m, nn.GroupNorm)}
    if not kinds.get(op.kind, type(m).__name__ == NORM_ACTS[op.kind]):
        raise UnsupportedModel(path, m, f"the spec has a {NORM_ACTS[op.kind]} here")
    groups = getattr(m, "num_groups", getattr(m, "groups", None))
    if op.kind in GROUPED_NORMS and groups != op.groups:
        raise UnsupportedModel(path, m, f"{groups} groups; the spec's norm has {op.groups}")
    _same_act(op.act, getattr(m, "act", None), path, op.kind in ("batch", "group"))


def _same_act(kind: str, act: Any, path: str, check: bool = True) -> None:
    """A norm-act module's (or an SE's) activation is the spec's (RegNet's variants: SiLU, issue 19)."""
    want = ACTIVATIONS[kind].torch
    if check and act is not None and type(act).__name__ != want:
        raise UnsupportedModel(f"{path}.act", act, f"the spec has {want} here")


def _squeeze_excite(op: P.SqueezeExcite, m: Any, path: str) -> None:
    _present(op, m, path)
    act = next((getattr(m, a) for a in ("act", "activation", "relu") if hasattr(m, a)), None)  # timm, tv, legacy
    _same_act(op.act, act, path)


def _drop_block(op: P.DropBlock, m: Any, path: str) -> None:
    got = (getattr(m, "drop_prob", None), getattr(m, "block_size", None), getattr(m, "gamma_scale", None))
    if got != (op.p, op.block_size, op.gamma_scale):
        raise UnsupportedModel(
            path, m, f"DropBlock {got} differs from the spec's {(op.p, op.block_size, op.gamma_scale)}"
        )


# --- family: anti-aliasing and split attention (issue 18) ---


def _blur(op: P.BlurPool, m: Any, path: str) -> None:
    got = blur_of(m)
    if got != (op.channels, op.stride, op.filter_size):
        raise UnsupportedModel(path, m, f"expected a blur pool {(op.channels, op.stride, op.filter_size)}; got {got}")


def _split(op: P.SplitAttention, m: Any, path: str) -> None:
    if not is_split_attention(m):
        raise UnsupportedModel(path, m, "expected a split-attention module (conv, fc1, fc2)")
    conv, fc1 = m.conv, m.fc1
    radix = conv.out_channels // fc1.in_channels
    got = (conv.in_channels, fc1.in_channels, fc1.out_channels, radix, fc1.groups, conv.stride[0], conv.dilation[0])
    want = (op.in_channels, op.out_channels, op.attn_channels, op.radix, op.groups, op.stride, op.dilation)
    if got != want:
        raise UnsupportedModel(path, m, f"differs from the spec's split attention: {got} != {want}")


CHECKS: dict[type, Check | None] = {
    P.Conv: _conv,
    P.Norm: _present,
    P.NormAct: _norm_act,
    P.Act: None,
    P.Pool: _pool,
    P.GlobalPool: None,
    P.Flatten: None,
    P.Dropout: None,
    P.Linear: _present,
    P.Identity: None,
    P.PadShortcut: None,
    P.SqueezeExcite: _squeeze_excite,
    P.EfficientChannelAttn: _present,
    P.DropPath: None,
    # selective kernels (issue 18, SK family)
    P.ConvNormAct: sk.check_conv_norm_act,
    P.SelectiveKernel: sk.check_selective_kernel,
    # issue 18, family c (ResNetV2 / BiT)
    P.ConstantPad: _constant_pad,
    # family senet (issue 18)
    P.Cbam: _present,
    P.GlobalContext: _present,
    P.DropBlock: _drop_block,
    # family: anti-aliasing and split attention (issue 18)
    P.BlurPool: _blur,
    P.SplitAttention: _split,
    # family: Res2Net (issue 18): its parts are checked where they sit (convs.i, bns.i, pool), not the op
    P.Res2Split: None,
}
"""Plan op type → how the model's module at its path is checked; ``None``: the model need not have one there
(parameter-free modules a model may leave out or write inline). A type missing here is a KeyError."""


def _verify(plan: P.Plan, model: nn.Module) -> None:
    from resnetdsl.state import state_entries
    from resnetdsl.walk import ops_in_registration_order

    covered: set[str] = set()
    for path, op in ops_in_registration_order(plan):
        check = CHECKS[type(op)]
        if check is None:
            continue
        m: Any = _sub(model, path)
        if m is None:
            raise UnsupportedModel(path, model, "the spec has a layer here that the model lacks")
        covered.add(path)
        covered.update(f"{path}.{n}" for n, _ in m.named_modules() if n)
        check(op, m, path)
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
