"""What each plan op becomes in the exported source: its constructor expression (:data:`CONSTRUCTORS`, one
emitter per op type; a missing type raises :class:`KeyError`) and the source of the helper modules the standalone
file defines itself (:data:`HELPERS`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from resnetdsl import plan as P

Value = Callable[[str], str]
"""An op field's value as source text: a literal, or the name of a constructor argument."""


def _lit(value: object) -> str:
    return repr(value)


def _kw(v: Value, op: P.Op, name: str, default: object) -> list[str]:
    """``name=value`` when the value is an argument or differs from torch's default."""
    text = v(name)
    if text == _lit(default):
        return []
    return [f"{name}={text}"]


def _conv(op: P.Conv, v: Value) -> str:
    args = [v("in_channels"), v("out_channels"), v("kernel_size")]
    args += _kw(v, op, "stride", 1) + _kw(v, op, "padding", 0) + _kw(v, op, "dilation", 1) + _kw(v, op, "groups", 1)
    args.append(f"bias={v('bias')}")
    return f"nn.Conv2d({', '.join(args)})"


def _eps_momentum(v: Value, op: P.Norm | P.NormAct, momentum: bool = True) -> list[str]:
    return _kw(v, op, "eps", 1e-5) + (_kw(v, op, "momentum", 0.1) if momentum else [])


def _norm(op: P.Norm, v: Value) -> str:
    if op.kind == "group":
        return f"nn.GroupNorm({', '.join([v('groups'), v('channels'), *_eps_momentum(v, op, False)])})"
    if op.kind == "frozen_batch":
        return f"FrozenBatchNorm2d({', '.join([v('channels'), *_eps_momentum(v, op, False)])})"
    return f"nn.BatchNorm2d({', '.join([v('channels'), *_eps_momentum(v, op)])})"


def _norm_act(op: P.NormAct, v: Value) -> str:
    return f"BatchNormAct2d({', '.join([v('channels'), *_eps_momentum(v, op)])})"


_ACTS = {
    "relu": "nn.ReLU",
    "leaky_relu": "nn.LeakyReLU",
    "silu": "nn.SiLU",
    "gelu": "nn.GELU",
    "mish": "nn.Mish",
    "hardswish": "nn.Hardswish",
}


def _act(op: P.Act, v: Value) -> str:
    cls = _ACTS[op.kind]
    if op.kind == "gelu":
        return f"{cls}()"
    args = [v("negative_slope")] if op.kind == "leaky_relu" else []
    if op.inplace:
        args.append("inplace=True")
    return f"{cls}({', '.join(args)})"


def _pool(op: P.Pool, v: Value) -> str:
    args = [v("kernel_size"), v("stride")]
    if op.padding or op.ceil_mode or (op.kind == "avg" and not op.count_include_pad):
        args.append(v("padding"))
    if op.ceil_mode:
        args.append("ceil_mode=True")
    if op.kind == "avg" and not op.count_include_pad:
        args.append("count_include_pad=False")
    return f"nn.{'MaxPool2d' if op.kind == 'max' else 'AvgPool2d'}({', '.join(args)})"


CONSTRUCTORS: dict[type, Callable[[Any, Value], str]] = {
    P.Conv: _conv,
    P.Norm: _norm,
    P.NormAct: _norm_act,
    P.Act: _act,
    P.Pool: _pool,
    P.GlobalPool: lambda op, v: f"nn.Adaptive{'Avg' if op.kind == 'avg' else 'Max'}Pool2d(1)",
    P.Flatten: lambda op, v: "nn.Flatten(1)",
    P.Dropout: lambda op, v: f"nn.Dropout({v('p')})",
    P.Linear: lambda op, v: (
        f"nn.Linear({v('in_features')}, {v('out_features')}" + ("" if op.bias else ", bias=False") + ")"
    ),
    P.Identity: lambda op, v: "nn.Identity()",
    P.PadShortcut: lambda op, v: f"PadShortcut({v('in_channels')}, {v('out_channels')}, {v('stride')})",
    P.SqueezeExcite: lambda op, v: f"SqueezeExcite({v('channels')}, {v('reduced_channels')})",
    P.EfficientChannelAttn: lambda op, v: f"EfficientChannelAttn({v('kernel_size')})",
    P.DropPath: lambda op, v: f"DropPath({v('p')})",
}
"""Op type → source of the expression that creates its module."""

_HELPER_OF: dict[type, str] = {P.PadShortcut: "PadShortcut", P.SqueezeExcite: "SqueezeExcite"}
_HELPER_OF.update({P.EfficientChannelAttn: "EfficientChannelAttn", P.DropPath: "DropPath"})
_HELPER_OF.update({P.NormAct: "BatchNormAct2d"})

HELPERS: dict[str, str] = {
    "FrozenBatchNorm2d": '''
class FrozenBatchNorm2d(nn.Module):
    """BatchNorm2d with fixed statistics and affine, all buffers (torchvision.ops.FrozenBatchNorm2d)."""

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x: Tensor) -> Tensor:
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        shift = self.bias - self.running_mean * scale
        return x * scale.reshape(1, -1, 1, 1) + shift.reshape(1, -1, 1, 1)
''',
    "BatchNormAct2d": '''
class BatchNormAct2d(nn.BatchNorm2d):
    """BatchNorm then ReLU in one module (timm's BatchNormAct2d): the norm's state under the module's name."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__(num_features, eps=eps, momentum=momentum)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        if self.training and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
        x = F.batch_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias, self.training, self.momentum, self.eps
        )
        return self.act(x)
''',
    "PadShortcut": '''
class PadShortcut(nn.Module):
    """Option A shortcut: subsample by ``stride``, then append zero channels."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.extra = out_channels - in_channels
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, [0, 0, 0, 0, 0, self.extra]) if self.extra else x
''',
    "SqueezeExcite": '''
class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation: x * sigmoid(fc2(relu(fc1(mean(x)))))."""

    def __init__(self, channels: int, reduced_channels: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, reduced_channels, 1)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(reduced_channels, channels, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        s = x.mean((2, 3), keepdim=True)
        return x * self.gate(self.fc2(self.act(self.fc1(s))))
''',
    "EfficientChannelAttn": '''
class EfficientChannelAttn(nn.Module):
    """Efficient channel attention: x * sigmoid(conv1d over the channels of mean(x))."""

    def __init__(self, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 1, kernel_size, padding=(kernel_size - 1) // 2, bias=False)
        self.gate = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        gate = self.gate(self.conv(x.mean((2, 3)).view(x.shape[0], 1, -1)))
        return x * gate.view(x.shape[0], -1, 1, 1)
''',
    "DropPath": '''
class DropPath(nn.Module):
    """Stochastic depth per sample; the identity in eval mode."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        shape = [x.shape[0]] + [1] * (x.dim() - 1)
        return x * x.new_empty(shape).bernoulli_(keep).div_(keep)
''',
}
"""Helper module classes, emitted only when the plan uses them."""
