"""Inference rewrite of a fused model's channel gates: a squeeze-excite or ECA gate right after a 1×1 conv pools
the conv's input instead of its output, so the conv, the gate's multiply, the residual add and the ReLU become
one oneDNN primitive under :func:`~resnetdsl.passes.freeze.freeze_for_inference`.

The gate's squeeze is the spatial mean of the conv's output ``y = W·x + b``. A 1×1 conv with stride 1 and no
padding is the same affine map at every pixel, so the mean commutes with it: ``mean(y) = W·mean(x) + b``
(exactly, up to float rounding). The rewritten block computes ``conv(x) · gate(W·mean(x) + b)``, and

- the mean reads ``x`` (a bottleneck's ``conv3`` input, a quarter of the channels of its output) instead of
  ``y``;
- the gate no longer reads the conv's output, so the multiply is a post-op of the conv (a per-sample,
  per-channel scale), and with the residual add and ReLU after it oneDNN Graph runs
  ``conv → ×gate → +identity → ReLU`` as one primitive, one pass over the tensor, as it runs a plain
  bottleneck's ``conv3 → +identity → ReLU``. Without the rewrite it writes the conv's output, multiplies in a
  second pass and adds in a third;
- for squeeze-excite the conv's ``W``, ``b`` fold into the gate's first 1×1 conv (``fc1``: nothing stands
  between them), so the gate keeps its two small convs.

A gate after any other op (a 3×3 conv, a norm that did not fold) stays as it is: the mean of a zero-padded or
strided conv's output is not the conv of the mean.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

from resnetdsl.build_torch import EfficientChannelAttn, ResidualBlock, ResNet, SqueezeExcite
from resnetdsl.passes.fuse import replace_module


def _pointwise(conv: nn.Module) -> bool:
    """A dense 1×1 conv with stride 1 and no padding: the same affine map at every pixel."""
    return (
        type(conv) is nn.Conv2d
        and conv.kernel_size == (1, 1)
        and conv.stride == (1, 1)
        and conv.padding in ((0, 0), "valid")
        and conv.groups == 1
    )


def _affine(conv: nn.Conv2d) -> tuple[Tensor, Tensor]:
    """The 1×1 conv's matrix (out × in) and bias, in float64 (they are multiplied into another matrix)."""
    weight = conv.weight.detach().double().flatten(1)
    bias = conv.bias.detach().double() if conv.bias is not None else weight.new_zeros(weight.shape[0])
    return weight, bias


def _conv1x1(weight: Tensor, bias: Tensor, like: nn.Conv2d) -> nn.Conv2d:
    """A 1×1 conv with this matrix (out × in) and bias, in ``like``'s dtype and on its device."""
    conv = nn.Conv2d(weight.shape[1], weight.shape[0], 1, device=like.weight.device, dtype=like.weight.dtype)
    with torch.no_grad():
        conv.weight.copy_(weight.view_as(conv.weight))
        conv.bias.copy_(bias)  # type: ignore[union-attr]
    return conv


class PooledGateConv(nn.Module):
    """``conv(x) · gate(mean(conv(x)))`` computed as ``conv(x) · gate(conv(mean(x)))`` (see the module
    docstring): ``conv`` a 1×1 conv, ``gate`` the squeeze-excite or ECA module that followed it."""

    def __init__(self, conv: nn.Conv2d, attention: SqueezeExcite | EfficientChannelAttn) -> None:
        super().__init__()
        assert _pointwise(conv), conv
        self.conv = conv
        weight, bias = _affine(conv)
        self.eca: EfficientChannelAttn | None = None
        if isinstance(attention, SqueezeExcite):  # fc1 ∘ conv: one 1×1 conv on the pooled input
            w1, b1 = _affine(attention.fc1)
            self.squeeze = _conv1x1(w1 @ weight, w1 @ bias + b1, conv)
            self.act, self.fc2, self.gate = attention.act, attention.fc2, attention.gate
        else:  # ECA: its conv runs across the channels of the pooled output, which the conv gives
            self.squeeze = _conv1x1(weight, bias, conv)
            self.eca = attention
        self.requires_grad_(False)

    def forward(self, x: Tensor) -> Tensor:
        pooled = self.squeeze(x.mean((2, 3), keepdim=True))  # fc1(mean(conv(x))) for SE, mean(conv(x)) for ECA
        if self.eca is not None:
            n = x.shape[0]
            gate = self.eca.gate(self.eca.conv(pooled.view(n, 1, -1))).view(n, -1, 1, 1)
        else:
            gate = self.gate(self.fc2(self.act(pooled)))
        out: Tensor = self.conv(x) * gate
        return out


def pool_gate_inputs(model: ResNet) -> int:
    """Rewrite, in place, every block of a fused ``model`` whose main path runs a 1×1 conv and then a
    squeeze-excite or ECA gate (nothing between them): the conv becomes a :class:`PooledGateConv` and the gate
    is removed. Returns how many it rewrote."""
    count = 0
    for block in model.modules():
        if not isinstance(block, ResidualBlock):
            continue
        main = block._main
        for conv_name, gate_name in itertools.pairwise(main):
            conv, attention = block.get_submodule(conv_name), block.get_submodule(gate_name)
            if _pointwise(conv) and type(attention) in (SqueezeExcite, EfficientChannelAttn):
                assert isinstance(conv, nn.Conv2d) and isinstance(attention, SqueezeExcite | EfficientChannelAttn)
                replace_module(block, conv_name, PooledGateConv(conv, attention))
                replace_module(block, gate_name, nn.Identity())
                count += 1
                break
    return count
