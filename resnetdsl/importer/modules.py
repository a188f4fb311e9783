"""Reading one module: its type and settings as spec values, or an :class:`UnsupportedModel` naming it."""

from __future__ import annotations

from typing import Any

from torch import nn

from resnetdsl import blocks as B
from resnetdsl.vocab import ACTIVATIONS, SE_DIVISOR, SE_RATIO


class UnsupportedModel(ValueError):
    """A module of the model has no counterpart in the spec language."""

    def __init__(self, path: str, module: Any, why: str) -> None:
        where = path or "<model>"
        super().__init__(f"{where} ({type(module).__name__}): {why}")
        self.path = path
        self.module_type = type(module).__name__


_ACTS: dict[type, str] = {getattr(nn, a.torch): kind for kind, a in ACTIVATIONS.items()}
"""torch activation class → the spec's activation kind."""


def _sub(model: nn.Module, path: str) -> nn.Module | None:
    try:
        return model.get_submodule(path)
    except AttributeError:
        return None


def _conv(m: Any, path: str) -> nn.Conv2d:
    if type(m) is not nn.Conv2d:
        raise UnsupportedModel(path, m, "expected a plain torch.nn.Conv2d")
    k = m.kernel_size
    if k[0] != k[1] or m.stride[0] != m.stride[1]:
        raise UnsupportedModel(path, m, f"non-square kernel {k} or stride {m.stride}")
    d = m.dilation
    if d[0] != d[1]:
        raise UnsupportedModel(path, m, f"non-square dilation {d}")
    if m.padding != (d[0] * (k[0] // 2),) * 2 or m.padding_mode != "zeros":
        raise UnsupportedModel(
            path, m, f"padding {m.padding} ({m.padding_mode}); the spec pads dilation × (kernel // 2) with zeros"
        )
    return m


def _is_frozen_bn(m: nn.Module) -> bool:
    names = {n for n, _ in m.named_buffers(recurse=False)}
    return not list(m.parameters(recurse=False)) and {"weight", "bias", "running_mean", "running_var"} <= names


def _norm(m: Any, path: str) -> dict[str, Any]:
    """Norm settings of a post-activation norm module."""
    if isinstance(m, nn.Identity):
        return {"norm": "none"}
    if type(m) is nn.BatchNorm2d:
        if m.eps != 1e-5 or not m.affine or not m.track_running_stats:
            raise UnsupportedModel(path, m, "a batch norm with eps 1e-5, affine and running statistics is expected")
        return {"norm": "batch"}
    if isinstance(m, nn.GroupNorm):  # timm's GroupNorm subclasses it (same function)
        if m.eps != 1e-5 or not m.affine:
            raise UnsupportedModel(path, m, "a group norm with eps 1e-5 and affine is expected")
        return {"norm": "group", "norm_groups": m.num_groups}
    if _is_frozen_bn(m) and getattr(m, "eps", 1e-5) == 1e-5:
        return {"norm": "frozen_batch"}
    raise UnsupportedModel(path, m, "not a norm the spec language has (batch, group, frozen batch, none)")


def _act(m: Any, path: str) -> dict[str, Any]:
    kind = _ACTS.get(type(m))
    if kind is None:
        raise UnsupportedModel(path, m, "not an activation the spec language has")
    out: dict[str, Any] = {"act": kind}
    if ACTIVATIONS[kind].slope:
        out["act_negative_slope"] = float(m.negative_slope)
    return out


def _norm_act(m: Any, path: str) -> None:
    """timm's BatchNormAct2d (ResNetV2): batch norm + ReLU only."""
    if not isinstance(m, nn.BatchNorm2d) or m.eps != 1e-5 or not m.affine:
        raise UnsupportedModel(path, m, "expected a batch norm + ReLU (timm's BatchNormAct2d)")
    act = getattr(m, "act", None)
    if type(act) is not nn.ReLU:
        raise UnsupportedModel(f"{path}.act", act, "layout resnetv2 names batch norm + ReLU only")
    drop = getattr(m, "drop", None)
    if drop is not None and not isinstance(drop, nn.Identity):
        raise UnsupportedModel(f"{path}.drop", drop, "a dropout inside the norm has no spec")


def _attention(b: Any, path: str, channels: int, attr: str = "se") -> dict[str, Any]:
    se: Any = getattr(b, attr, None)
    if se is None or isinstance(se, nn.Identity):
        return {"attention": "none"}
    fc1, fc2, conv = getattr(se, "fc1", None), getattr(se, "fc2", None), getattr(se, "conv", None)
    if type(fc1) is nn.Conv2d and type(fc2) is nn.Conv2d and fc1.bias is not None:
        act = getattr(se, "act", getattr(se, "relu", None))  # the legacy SENets' SEModule names it relu
        if not isinstance(getattr(se, "bn", nn.Identity()), nn.Identity) or type(act) is not nn.ReLU:
            raise UnsupportedModel(f"{path}.{attr}", se, "squeeze-and-excitation with ReLU and no norm is expected")
        rd = fc1.out_channels
        for ratio in (SE_RATIO, 1 / 8, 1 / 4, 1 / 2, rd / channels):
            for divisor in (SE_DIVISOR, 1):
                if B.make_divisible(channels * ratio, divisor) == rd:
                    return {"attention": "se", "se_ratio": ratio, "se_divisor": divisor}
        raise UnsupportedModel(f"{path}.{attr}.fc1", fc1, f"reduced width {rd} of {channels} fits no ratio")
    if type(conv) is nn.Conv1d and conv.bias is None:
        k = conv.kernel_size[0]
        return {"attention": "eca", "eca_kernel": k}
    from resnetdsl.importer.senet import attention_kind  # family senet (issue 18): CBAM, global context

    found = attention_kind(se, f"{path}.{attr}", channels)
    if found is not None:
        return found
    raise UnsupportedModel(f"{path}.{attr}", se, "neither squeeze-and-excitation (fc1, fc2) nor ECA (conv)")


def _zero(weight: Any) -> bool:
    """All zeros (zero-initialised); never for a tensor without data (device ``meta``)."""
    return not weight.is_meta and bool((weight == 0).all())


def _pool_kind(pool: Any, path: str) -> str:
    inner = getattr(pool, "pool", pool)
    pool_type = getattr(pool, "pool_type", None)
    if type(inner) is nn.AdaptiveAvgPool2d and inner.output_size in (1, (1, 1)):
        kind = "avg"
    elif type(inner) is nn.AdaptiveMaxPool2d and inner.output_size in (1, (1, 1)):
        kind = "max"
    else:
        raise UnsupportedModel(path, pool, "global average or max pooling is expected")
    if pool_type not in (None, kind):
        raise UnsupportedModel(path, pool, f"pool type '{pool_type}'")
    return kind
