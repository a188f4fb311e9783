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

    def __init__(self, num_features: int, *, eps: float = 1e-5, momentum: float = 0.1, act: str = "ReLU") -> None:
        super().__init__(num_features, eps=eps, momentum=momentum)
        self.act: nn.Module = nn.GELU() if act == "GELU" else getattr(nn, act)(inplace=True)  # a torch class name

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
    ``x * sigmoid(fc2(relu(fc1(mean(x)))))``; ``act`` names another activation's torch class."""

    def __init__(self, channels: int, reduced_channels: int, act: str = "ReLU") -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, reduced_channels, 1, bias=True)
        self.act: nn.Module = nn.GELU() if act == "GELU" else getattr(nn, act)(inplace=True)  # a torch class name
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


# --- selective kernels (issue 18, SK family) -------------------------------------------------------------------


class ConvNormAct(nn.Module):
    """A conv, its norm and its activation (timm's ``ConvNormAct``: children ``conv`` and ``bn``; the activation,
    parameter-free, is the child ``act`` here). A missing norm or activation is the identity."""

    def __init__(self, conv: nn.Module, bn: nn.Module, act: nn.Module) -> None:
        super().__init__()
        self.conv = conv
        self.bn = bn
        self.act = act

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.act(self.bn(self.conv(x)))
        return out


class SelectiveKernel(nn.Module):
    """Selective kernel convolution with timm's module names (``paths``, ``attn.fc_reduce``, ``attn.bn``,
    ``attn.act``, ``attn.fc_select``): each branch (a conv + norm + act) reads the input, or an equal share of its
    channels with ``split_input``; the branches' sum, averaged over the map, gives one softmax weight per branch and
    channel; the output is the branches weighed by them, summed."""

    def __init__(self, paths: list[nn.Module], out_channels: int, attn_channels: int, split_input: bool) -> None:
        super().__init__()
        self.num_paths = len(paths)
        self.split_input = split_input
        self.paths = nn.ModuleList(paths)
        self.attn = nn.Sequential()
        self.attn.add_module("fc_reduce", nn.Conv2d(out_channels, attn_channels, 1, bias=False))
        self.attn.add_module("bn", nn.BatchNorm2d(attn_channels))
        self.attn.add_module("act", nn.ReLU(inplace=True))
        self.attn.add_module("fc_select", nn.Conv2d(attn_channels, out_channels * self.num_paths, 1, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        branches: list[Tensor] = []
        if self.split_input:
            shares = torch.split(x, x.shape[1] // self.num_paths, 1)
            for i, path in enumerate(self.paths):
                branches.append(path(shares[i]))
        else:
            for path in self.paths:
                branches.append(path(x))
        stacked = torch.stack(branches, dim=1)
        logits = self.attn(stacked.sum(1).mean((2, 3), keepdim=True))
        b, c = logits.shape[0], logits.shape[1]
        weights = torch.softmax(logits.view(b, self.num_paths, c // self.num_paths, 1, 1), dim=1)
        return torch.sum(stacked * weights, dim=1)


# --- ResNetV2 / BiT (issue 18, family c): weight-standardised conv and the norm-act modules timm's ResNetV2 uses


# StdConv2d and SplitAttn spell out the argument lists of the torch and timm modules they stand for (nn.Conv2d's,
# timm's SplitAttn's) on purpose, so that the exported files, which copy these classes, read like the originals.
class StdConv2d(nn.Conv2d):
    """Conv2d with weight standardisation (timm's ``StdConv2d``, BiT): before every forward each output channel's
    weight is standardised to zero mean and unit variance (biased variance, ``eps`` added)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
        groups: int = 1,
        bias: bool = False,
        eps: float = 1e-6,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=groups,
            bias=bias,
        )
        self.eps = eps

    def standardized_weight(self) -> Tensor:
        w = F.batch_norm(
            self.weight.reshape(1, self.out_channels, -1), None, None, training=True, momentum=0.0, eps=self.eps
        )
        return w.reshape_as(self.weight)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.standardized_weight(), self.bias, self.stride, self.padding, self.dilation, self.groups)


class GroupNormAct(nn.GroupNorm):
    """Group norm then ReLU (or ``act``, a torch class name) in one module (timm's ``GroupNormAct``: weight and
    bias under the module's own name, the parameter-free children ``drop`` and ``act``)."""

    def __init__(self, num_channels: int, num_groups: int = 32, *, eps: float = 1e-5, act: str = "ReLU") -> None:
        super().__init__(num_groups, num_channels, eps=eps)
        self.drop = nn.Identity()
        self.act: nn.Module = nn.GELU() if act == "GELU" else getattr(nn, act)(inplace=True)  # a torch class name

    def forward(self, x: Tensor) -> Tensor:
        x = F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)
        out: Tensor = self.act(self.drop(x))
        return out


class EvoNorm2dS0(nn.Module):
    """EvoNorm-S0 (Liu et al. 2020; timm's ``EvoNorm2dS0``): ``x·σ(v·x) / group_std(x) · weight + bias``, its
    nonlinearity built in; the group standard deviation is the biased one, in float32, ``eps`` added."""

    def __init__(self, num_features: int, groups: int = 32, *, eps: float = 1e-5) -> None:
        super().__init__()
        self.groups = groups
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.v = nn.Parameter(torch.ones(num_features))

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        shape = (1, -1, 1, 1)
        g = x.reshape(b, self.groups, c // self.groups, h, w)
        std = g.float().var(dim=(2, 3, 4), unbiased=False, keepdim=True).add(self.eps).sqrt().to(x.dtype)
        std = std.expand(g.shape).reshape(b, c, h, w)
        v = self.v.view(shape).to(x.dtype)
        x = x * (x * v).sigmoid() / std
        return x * self.weight.view(shape).to(x.dtype) + self.bias.view(shape).to(x.dtype)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, groups={self.groups}, eps={self.eps}"


class FilterResponseNormTlu2d(nn.Module):
    """Filter response normalisation with its thresholded linear unit (Singh & Krishnan 2020; timm's
    ``FilterResponseNormTlu2d``): ``max(x / rms_hw(x) · weight + bias, tau)``, the mean square in float32."""

    def __init__(self, num_features: int, *, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.tau = nn.Parameter(torch.zeros(num_features))

    def forward(self, x: Tensor) -> Tensor:
        shape = (1, -1, 1, 1)
        rms = x.square().float().mean(dim=(2, 3), keepdim=True).add(self.eps).rsqrt().to(x.dtype)
        x = x * rms.expand(x.shape)
        x = x * self.weight.view(shape).to(x.dtype) + self.bias.view(shape).to(x.dtype)
        return torch.maximum(x, self.tau.reshape(shape).to(x.dtype))

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"


# --- family senet (issue 18): timm's CBAM and global context, with timm's module names ----------------------


class Cbam(nn.Module):
    """CBAM with timm's names (``CbamModule``): a channel gate from the mean and the max of the map through one
    MLP (``channel``: ``fc1``, ReLU, ``fc2``), summed, then a spatial gate from the mean and max over channels
    through ``spatial.conv`` (a k×k conv, then a one-channel batch norm)."""

    def __init__(self, channels: int, reduced_channels: int, spatial_kernel: int = 7) -> None:
        super().__init__()
        self.channel = nn.Sequential()
        self.channel.add_module("fc1", nn.Conv2d(channels, reduced_channels, 1, bias=False))
        self.channel.add_module("act", nn.ReLU(inplace=True))
        self.channel.add_module("fc2", nn.Conv2d(reduced_channels, channels, 1, bias=False))
        conv = nn.Sequential()
        conv.add_module("conv", nn.Conv2d(2, 1, spatial_kernel, padding=spatial_kernel // 2, bias=False))
        conv.add_module("bn", nn.BatchNorm2d(1))
        self.spatial = nn.Sequential()
        self.spatial.add_module("conv", conv)

    def forward(self, x: Tensor) -> Tensor:
        avg = self.channel(x.mean((2, 3), keepdim=True))
        top = self.channel(x.amax((2, 3), keepdim=True))
        x = x * torch.sigmoid(avg + top)
        maps = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        gate: Tensor = torch.sigmoid(self.spatial(maps))
        return x * gate


class GlobalContext(nn.Module):
    """Global context with timm's names (``GlobalContext`` as create_attn makes it): ``conv_attn`` pools the
    map by a softmax over positions, ``mlp_scale`` (1×1 conv, layer norm over channels, ReLU, 1×1 conv) turns
    the 1×1 context into a per-channel gate (its layer norm normalises the channels, as timm's LayerNorm2d)."""

    def __init__(self, channels: int, reduced_channels: int) -> None:
        super().__init__()
        self.conv_attn = nn.Conv2d(channels, 1, 1, bias=True)
        self.mlp_scale = nn.Sequential()
        self.mlp_scale.add_module("fc1", nn.Conv2d(channels, reduced_channels, 1, bias=True))
        self.mlp_scale.add_module("norm", nn.LayerNorm(reduced_channels, eps=1e-6))
        self.mlp_scale.add_module("act", nn.ReLU())
        self.mlp_scale.add_module("fc2", nn.Conv2d(reduced_channels, channels, 1, bias=True))

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        attn = F.softmax(self.conv_attn(x).reshape(b, 1, h * w), dim=-1).unsqueeze(3)
        context = (x.reshape(b, c, h * w).unsqueeze(1) @ attn).view(b, c, 1, 1)
        m = self.mlp_scale  # fc1, norm (over the channels: the last dimension once permuted), act, fc2
        y = m[1](m[0](context).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        gate: Tensor = torch.sigmoid(m[3](m[2](y)))
        return x * gate


class DropBlock(nn.Module):
    """DropBlock with timm's ``DropBlock2d`` semantics (channels share the mask, kept values scaled to keep the
    mean): the identity in eval mode."""

    def __init__(self, p: float, block_size: int, gamma_scale: float) -> None:
        super().__init__()
        self.p = p
        self.block_size = block_size
        self.gamma_scale = gamma_scale

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        b, _, h, w = x.shape
        kh, kw = min(self.block_size, h), min(self.block_size, w)
        gamma = self.gamma_scale * self.p * h * w / (kh * kw) / ((h - kh + 1) * (w - kw + 1))
        with torch.no_grad():
            seeds = torch.empty((b, 1, h, w), dtype=x.dtype, device=x.device).bernoulli_(gamma)
            blocks = F.max_pool2d(seeds, (kh, kw), stride=1, padding=(kh // 2, kw // 2))
            if kh % 2 == 0 or kw % 2 == 0:
                blocks = blocks[..., (kh + 1) % 2 :, (kw + 1) % 2 :]
            keep = 1.0 - blocks
            keep = keep * (keep.numel() / keep.to(torch.float32).sum().add(1e-7)).to(x.dtype)
        return x * keep

    def extra_repr(self) -> str:
        return f"p={self.p:g}, block_size={self.block_size}, gamma_scale={self.gamma_scale:g}"


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
