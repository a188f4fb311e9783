"""Convolution: the 2-D conv of every path (the stem's, a block's, a projection shortcut's)."""

from __future__ import annotations

from resnetdsl import plan as P
from resnetdsl.ops.base import (
    Entry,
    FoldRole,
    OpT,
    OpType,
    Shape,
    Tracker,
    Window,
    conv_entries,
    kernel_text,
    out_len,
    save_stats,
    stride_text,
)
from resnetdsl.ops.pool import POOL_FILL


def is_conv_pool(op: P.Conv) -> bool:
    """The stem's downsampling conv (ResNet-RS ``pool: conv``: ``maxpool.0``), drawn as the pool it replaces."""
    return op.name.startswith("maxpool.")


CONV_FILL = "#d6e6f7"


class ConvFamily(OpType[OpT]):
    """A convolution (plain, or with its norm and act in one module): a fresh output, starting a diagram line."""

    family = "conv"
    fill = CONV_FILL
    line = "start"
    fresh = True


class ConvType(ConvFamily[P.Conv]):
    """``nn.Conv2d`` or timm's ``StdConv2d`` (weight standardisation, ``std_eps``): square kernels, symmetric
    padding."""

    op = P.Conv
    channels_field = "in_channels"
    strided = True

    def infer(self, op: P.Conv, x: Shape) -> tuple[Shape, int, int]:
        _, h, w = x
        k, s, p, d = op.kernel_size, op.stride, op.padding, op.dilation
        out = (op.out_channels, out_len(h, k, s, p, d), out_len(w, k, s, p, d))
        n = out[0] * out[1] * out[2]
        return out, n * (op.in_channels // op.groups) * k * k, n

    def entries(self, op: P.Conv) -> tuple[Entry, ...]:
        k = op.kernel_size
        return conv_entries(op.out_channels, op.in_channels // op.groups, (k, k), op.bias)

    def reach(self, op: P.Conv) -> Window:
        return Window(op.kernel_size, op.stride, op.dilation)

    def saves(self, op: P.Conv, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        t.save(x)  # the weight's gradient needs the input
        if op.std_eps is not None:  # weight standardisation: its mean and inverse std, and the standardised weight
            save_stats(t, op.out_channels)
            t.save(t.new(op.out_channels * (op.in_channels // op.groups) * op.kernel_size**2, batched=False))
        return t.new(size_out)

    def fold_role(self, op: P.Conv) -> FoldRole:
        return "conv"

    def torch_name(self, op: P.Conv) -> str:
        extra = (f" g{op.groups}" if op.groups > 1 else "") + (f" d{op.dilation}" if op.dilation > 1 else "")
        conv = "StdConv2d" if op.std_eps is not None else "Conv2d"
        return f"{conv} {kernel_text(op.kernel_size, op.stride)}{extra}"

    def label(self, op: P.Conv) -> str:
        k = op.kernel_size
        extra = "".join(
            [
                f", g{op.groups}" if op.groups != 1 else "",
                f", dil {op.dilation}" if op.dilation != 1 else "",
                ", bias" if op.bias else "",
                ", WS" if op.std_eps is not None else "",
            ]
        )
        what = "conv pool" if is_conv_pool(op) else "conv"
        return f"{k}×{k} {what}, {op.out_channels}{stride_text(op.stride)}{extra}"

    def shortcut_words(self, op: P.Conv) -> tuple[str, str]:
        k = op.kernel_size
        return " → ", f"{k}×{k} conv{stride_text(op.stride)}"

    def fill_of(self, op: P.Conv) -> str:
        return POOL_FILL if is_conv_pool(op) else self.fill


DESCRIPTIONS = (ConvType(),)
