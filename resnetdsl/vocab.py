"""The language's vocabularies, each defined once: activations, norms, attention kinds, pool kinds, their torch
names and their defaults.

The spec's ``Literal`` aliases, the plan's op fields, the block defaults, the builder, the exporters and the
importer all read these (a test compares each table with its ``Literal``). Nothing here imports torch.
"""

from __future__ import annotations

import math
from typing import Literal

from resnetdsl.records import record

# --- activations ---------------------------------------------------------------------------------------------

ActKind = Literal["relu", "leaky_relu", "silu", "gelu", "mish", "hardswish"]


@record
class Activation:
    """One activation kind as torch has it."""

    torch: str
    """The ``torch.nn`` class (``ReLU``): how summaries and diagrams write it, what the builder creates."""
    inplace: bool = True
    """The class takes ``inplace=`` (GELU has no in-place form)."""
    slope: bool = False
    """The class takes a negative slope as its first argument (``LeakyReLU``)."""
    backward_reads: Literal["output", "input"] = "input"
    """What its backward needs, so what a training step keeps: the output (ReLU, LeakyReLU: the in-place form
    keeps the input's own storage) or the input (the in-place form keeps a copy of it)."""


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("ReLU", backward_reads="output"),
    "leaky_relu": Activation("LeakyReLU", slope=True, backward_reads="output"),
    "silu": Activation("SiLU"),
    "gelu": Activation("GELU", inplace=False),
    "mish": Activation("Mish"),
    "hardswish": Activation("Hardswish"),
}
"""Activation kind → its torch class, in the order of :data:`ActKind`."""

DEFAULT_NEGATIVE_SLOPE = 0.01
"""``leaky_relu``'s slope for negative inputs when the spec sets none (torch's default)."""

# --- norms ---------------------------------------------------------------------------------------------------

NormLayerKind = Literal["batch", "group", "frozen_batch"]
"""A norm layer the plan holds."""
NormActOnlyKind = Literal["evonorm_s0", "frn"]
"""Norm layers with their own nonlinearity built in (timm's EvoNorm2dS0 and FilterResponseNormTlu2d): the plan
holds them as norm-act modules only (``layout: resnetv2``)."""
NormKind = Literal[NormLayerKind, NormActOnlyKind, "none"]
"""A spec's ``norm`` setting: a norm layer, or none at all."""
NormActKind = Literal["batch", "group", "evonorm_s0", "frn"]
"""A norm-act module of the plan (timm's norm + activation in one module, ``layout: resnetv2``)."""

NORMS: dict[str, str] = {"batch": "BatchNorm2d", "group": "GroupNorm", "frozen_batch": "FrozenBatchNorm2d"}
"""Norm layer kind → its torch class (``FrozenBatchNorm2d``: torchvision's semantics, the builder's own class)."""

DEFAULT_NORM_GROUPS = 32
"""Groups of a group norm when neither ``norm_groups`` nor ``norm_group_channels`` is set (timm's GroupNorm)."""

# --- ResNetV2 / BiT (issue 18, family c): norm-act modules and weight-standardised convs ----------------------

NORM_ACTS: dict[str, str] = {
    "batch": "BatchNormAct2d",
    "group": "GroupNormAct",
    "evonorm_s0": "EvoNorm2dS0",
    "frn": "FilterResponseNormTlu2d",
}
"""Norm-act kind → timm's class (the builder's classes of :mod:`resnetdsl.layers` have the same names)."""

GROUPED_NORMS = frozenset({"group", "evonorm_s0"})
"""Norm kinds that normalise over groups of channels: ``norm_groups`` and ``norm_group_channels`` size them."""

ConvKind = Literal["plain", "std"]
"""A spec's ``conv`` setting: ``plain`` (Conv2d) or ``std`` (weight standardisation, timm's StdConv2d)."""

DEFAULT_STD_EPS = 1e-6
"""The eps of a weight-standardised conv when the spec sets no ``std_eps`` (timm's StdConv2d; BiT uses 1e-8)."""

# --- channel attention ---------------------------------------------------------------------------------------

AttentionKind = Literal["se", "eca", "cbam", "gc", "none"]

ATTENTION: dict[str, str] = {
    "se": "SEModule",
    "eca": "EcaModule",
    # family senet (issue 18): timm's CBAM and global context
    "cbam": "CbamModule",
    "gc": "GlobalContext",
}
"""Attention kind → timm's module name (the builder's classes are ``SqueezeExcite`` and
``EfficientChannelAttn``, with timm's child names)."""

SE_RATIO = 1.0 / 16
"""Squeeze-and-excitation: reduced width = channels × this, when the spec sets no ``se_ratio`` (timm's)."""
SE_DIVISOR = 8
"""Squeeze-and-excitation: the reduced width is rounded to a multiple of this (timm's ``rd_divisor``)."""
# family senet (issue 18): the reduction timm's create_attn gives CBAM and global context on a ResNet
CBAM_RATIO = 1.0 / 16
"""CBAM's channel gate: reduced width = channels × this, rounded to a whole channel (timm's ``rd_divisor`` 1)."""
CBAM_KERNEL = 7
"""CBAM's spatial gate: kernel of its conv over the mean and max maps (timm's ``spatial_kernel_size``)."""
GC_RATIO = 1.0 / 8
"""Global context: reduced width of its scale MLP = channels × this, rounded to a whole channel."""


def eca_kernel_size(channels: int, gamma: float = 2, beta: float = 1) -> int:
    """ECA's kernel when the spec sets no ``eca_kernel`` (timm's adaptive rule): t = int(|log2(C) + β| / γ), made
    odd upwards, at least 3."""
    t = int(abs(math.log(channels, 2) + beta) / gamma)
    return max(t if t % 2 else t + 1, 3)


# --- pools ---------------------------------------------------------------------------------------------------

PoolKind = Literal["max", "avg"]
"""A sliding-window pool."""
GlobalPoolKind = Literal["avg", "max"]
"""A global pool (the head's)."""

POOLS: dict[str, str] = {"max": "Max", "avg": "Avg"}
"""Pool kind → the word torch's class names start with (``MaxPool2d``, ``AdaptiveAvgPool2d``)."""

# --- family: anti-aliased downsampling and split attention (issue 18) ---------------------------------------

AaKind = Literal["blur", "avg", "none"]
"""Anti-aliased downsampling (timm's ``aa_layer``): a blur pool (``BlurPool2d``), an average pool, or none."""
BLUR_FILTER_SIZE = 3
"""The blur pool's binomial filter size (timm's ``BlurPool2d`` default)."""

AvdKind = Literal["first", "last", "none"]
"""Where a ``resnest`` block downsamples with its 3×3/s average pool (timm's ``avd``, ``avd_first``): before the
split-attention conv, after it, or not at all (the conv then strides)."""
SPLIT_RADIX = 2
"""Splits per cardinal group of a ``resnest`` block when the spec sets no ``radix`` (timm's ResNeSt models)."""
SPLIT_ATTN_RATIO = 0.25
SPLIT_ATTN_DIVISOR = 8
SPLIT_ATTN_MIN = 32
"""Split attention's hidden width: make_divisible(in × radix × 0.25, 8, at least 32; timm's rounding)."""
