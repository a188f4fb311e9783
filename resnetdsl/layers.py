"""The torch modules the builder uses beyond torch's own layers, written once: the builder creates them and the
Python exporter copies their source (cut from this file with ``ast``) into the files it writes.

Each class is therefore self-contained (it uses only ``torch``, ``torch.nn.functional as F``, ``Tensor`` and
``nn``), passes ``torch.jit.script`` and reads well on its own: no reference to the rest of the package.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class FrozenBatchNorm2d(nn.Module):
    """BatchNorm2d with fixed statistics and affine (torchvision.ops.FrozenBatchNorm2d semantics).

    ``weight``, ``bias``, ``running_mean`` and ``running_var`` are buffers: nothing is trained and no statistics
    are tracked. A checkpoint of an ordinary BatchNorm2d loads into it (its ``num_batches_tracked`` is dropped).
    """

    weight: Tensor
    bias: Tensor
    running_mean: Tensor
    running_var: Tensor

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def _load_from_state_dict(
        self,
        state_dict: dict[str, Tensor],
        prefix: str,
        local_metadata: dict[str, object],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        state_dict.pop(prefix + "num_batches_tracked", None)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def forward(self, x: Tensor) -> Tensor:
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        shift = self.bias - self.running_mean * scale
        return x * scale.reshape(1, -1, 1, 1) + shift.reshape(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}"


class BatchNormAct2d(nn.BatchNorm2d):
    """BatchNorm then its activation in one module (timm's ``BatchNormAct2d``: the norm's state sits under the
    module's own name, ``norm1.weight``; the activation is the parameter-free child ``act``)."""

    def __init__(self, num_features: int, *, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__(num_features, eps=eps, momentum=momentum)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        # BatchNorm2d's forward for running statistics and a fixed momentum, written out: TorchScript cannot
        # compile a call of super().forward
        self._check_input_dim(x)
        if self.training and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
        momentum = 0.0 if self.momentum is None else self.momentum
        x = F.batch_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias, self.training, momentum, self.eps
        )
        out: Tensor = self.act(x)
        return out


class PadShortcut(nn.Module):
    """Option A shortcut: subsample by ``stride``, then append zero channels."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        extra = self.out_channels - self.in_channels
        return F.pad(x, [0, 0, 0, 0, 0, extra]) if extra else x

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"


class AvgPool2dSame(nn.AvgPool2d):
    """Average pool after TensorFlow-style 'SAME' zero padding (the extra pixel after), zeros counted in the
    mean: timm's ``AvgPool2dSame``, the stride-1 pool of an avg-pool shortcut in a dilated stage."""

    def forward(self, x: Tensor) -> Tensor:
        k, s = self.kernel_size, self.stride
        assert isinstance(k, int) and isinstance(s, int)
        pads: list[int] = []
        for size in (x.shape[-1], x.shape[-2]):  # F.pad takes the last dimension first
            total = max((-(-size // s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return F.avg_pool2d(F.pad(x, pads), k, s, 0, self.ceil_mode, self.count_include_pad)


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation with timm's module names (``fc1``, ``act``, ``fc2``, ``gate``):
    ``x * sigmoid(fc2(relu(fc1(mean(x)))))``."""

    def __init__(self, channels: int, reduced_channels: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, reduced_channels, 1, bias=True)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(reduced_channels, channels, 1, bias=True)
        self.gate = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        s = x.mean((2, 3), keepdim=True)
        gate: Tensor = self.gate(self.fc2(self.act(self.fc1(s))))
        return x * gate


class EfficientChannelAttn(nn.Module):
    """ECA with timm's module names (``conv``, a bias-free Conv1d across the channels; ``gate``):
    ``x * sigmoid(conv(mean(x)))``."""

    def __init__(self, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 1, kernel_size, padding=(kernel_size - 1) // 2, bias=False)
        self.gate = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        gate: Tensor = self.gate(self.conv(x.mean((2, 3)).view(x.shape[0], 1, -1)))
        return x * gate.view(x.shape[0], -1, 1, 1)


class DropPath(nn.Module):
    """Stochastic depth per sample (timm's ``DropPath``): the identity in eval mode."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        shape = [x.shape[0]] + [1] * (x.dim() - 1)
        return x * x.new_empty(shape).bernoulli_(keep).div_(keep)

    def extra_repr(self) -> str:
        return f"p={self.p:g}"


# --- family: anti-aliased downsampling and split attention (issue 18) ---------------------------------------


class BlurPool2d(nn.Module):
    """Anti-aliased downsampling (timm's ``BlurPool2d``): reflect padding, then a depthwise conv whose fixed
    weights are the outer product of binomial coefficients, at ``stride``. The filter is computed, not stored: it
    is no part of the ``state_dict`` (timm keeps it in a non-persistent buffer)."""

    def __init__(self, channels: int, stride: int = 2, filter_size: int = 3) -> None:
        super().__init__()
        self.channels = channels
        self.stride = stride
        self.filter_size = filter_size
        self.pad = ((stride - 1) + (filter_size - 1)) // 2
        n = filter_size - 1
        row = [1.0]
        for k in range(n):  # C(n, k + 1) from C(n, k)
            row.append(row[-1] * (n - k) / (k + 1))
        self.coefficients = [c / 2**n for c in row]

    def forward(self, x: Tensor) -> Tensor:
        c = torch.tensor(self.coefficients, dtype=x.dtype, device=x.device)
        k = self.filter_size
        weight = (c[:, None] * c[None, :])[None, None, :, :].expand(self.channels, 1, k, k)
        x = F.pad(x, [self.pad, self.pad, self.pad, self.pad], mode="reflect")
        return F.conv2d(x, weight, stride=self.stride, groups=self.channels)

    def extra_repr(self) -> str:
        return f"{self.channels}, stride={self.stride}, filter_size={self.filter_size}"


class SplitAttn(nn.Module):
    """Split attention with timm's module names (``conv``, ``bn0``, ``act0``, ``fc1``, ``bn1``, ``act1``,
    ``fc2``): a grouped 3×3 conv makes ``radix`` splits; their sum, averaged over the map, gives through
    ``fc1``/``fc2`` one weight per split and channel (softmax over the splits; sigmoid for radix 1), and the
    output is the weighted sum of the splits. ``norm`` ``none`` leaves out ``bn0`` and ``bn1``; ``act`` is the
    ``torch.nn`` activation's class name."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        attn_channels: int,
        radix: int = 2,
        groups: int = 1,
        stride: int = 1,
        dilation: int = 1,
        norm: str = "batch",
        act: str = "ReLU",
        negative_slope: float = 0.01,
    ) -> None:
        super().__init__()
        self.radix = radix
        self.cardinality = groups
        mid = out_channels * radix
        self.conv = nn.Conv2d(
            in_channels, mid, 3, stride, padding=dilation, dilation=dilation, groups=groups * radix, bias=False
        )
        self.bn0 = nn.BatchNorm2d(mid) if norm == "batch" else nn.Identity()
        self.act0 = self._act(act, negative_slope)
        self.fc1 = nn.Conv2d(out_channels, attn_channels, 1, groups=groups)
        self.bn1 = nn.BatchNorm2d(attn_channels) if norm == "batch" else nn.Identity()
        self.act1 = self._act(act, negative_slope)
        self.fc2 = nn.Conv2d(attn_channels, mid, 1, groups=groups)

    @staticmethod
    def _act(name: str, negative_slope: float) -> nn.Module:
        if name == "LeakyReLU":
            return nn.LeakyReLU(negative_slope, inplace=True)
        if name == "GELU":
            return nn.GELU()
        layer: nn.Module = getattr(nn, name)(inplace=True)
        return layer

    def forward(self, x: Tensor) -> Tensor:
        x = self.act0(self.bn0(self.conv(x)))
        b, rc, h, w = x.shape
        if self.radix > 1:
            x = x.reshape((b, self.radix, rc // self.radix, h, w))
            gap = x.sum(dim=1)
        else:
            gap = x
        gap = self.act1(self.bn1(self.fc1(gap.mean((2, 3), keepdim=True))))
        attn = self.fc2(gap)
        if self.radix > 1:
            attn = F.softmax(attn.view(b, self.cardinality, self.radix, -1).transpose(1, 2), dim=1).reshape(b, -1)
            out = (x * attn.reshape((b, self.radix, rc // self.radix, 1, 1))).sum(dim=1)
        else:
            out = x * torch.sigmoid(attn).view(b, -1, 1, 1)
        return out.contiguous()
