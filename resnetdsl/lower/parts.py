"""The parts around the stages: the stem (both layouts), the final norm of a pre-activation network, the
ResNetV2 head."""

from __future__ import annotations

from resnetdsl import blocks as B
from resnetdsl.lower.common import _Issues
from resnetdsl.lower.settings import _norm_act, _norm_act_values
from resnetdsl.plan import (
    Conv,
    Dropout,
    Flatten,
    GlobalPool,
    NormAct,
    Op,
    Pool,
)
from resnetdsl.spec import Spec


def _stem_v2(spec: Spec) -> tuple[Op, ...]:
    """timm's ResNetV2 stem for pre-activation: ``stem.conv`` (or ``stem.conv1…conv3`` with BN + ReLU between
    them), then ``stem.pool``; no norm after the last conv (the first block pre-activates)."""
    st = spec.stem
    cin, w, bias = spec.input.channels, st.width, st.conv_bias
    ops: list[Op]
    if st.kind == "deep":
        m1, m2 = st.mid_widths or (w // 2, w // 2)
        m1, m2 = max(m1, 1), max(m2, 1)
        ops = [
            Conv("stem.conv1", cin, m1, 3, stride=2, padding=1, bias=bias),
            NormAct("stem.norm1", m1),
            Conv("stem.conv2", m1, m2, 3, stride=1, padding=1, bias=bias),
            NormAct("stem.norm2", m2),
            Conv("stem.conv3", m2, w, 3, stride=1, padding=1, bias=bias),
        ]
    else:
        k, s = (7, 2) if st.kind == "conv7" else (3, 1)
        ops = [Conv("stem.conv", cin, w, k, stride=s, padding=k // 2, bias=bias)]
    if (st.pool or ("none" if st.kind == "conv3" else "max")) == "max":
        ops.append(Pool("stem.pool", "max", 3, 2, padding=1))
    return tuple(ops)


def _final(spec: Spec, channels: int, last: B.BlockConfig) -> tuple[Op, ...]:
    """The final norm + activation of a pre-activation network (those of its last stage)."""
    if spec.layout == "resnetv2":
        return (NormAct("norm", channels),)
    return (*last.norm_act.norm_op("final_norm", channels), last.norm_act.act_op("final_act"))


def _head_v2(spec: Spec, channels: int) -> tuple[Op, ...]:
    """timm's ClassifierHead with ``use_conv``: pool (keeping 1×1), dropout, ``fc`` as a 1×1 conv, flatten."""
    h = spec.head
    assert h != "none"
    ops: tuple[Op, ...] = (GlobalPool("head.global_pool", h.pool),)
    if h.dropout > 0:
        ops += (Dropout("head.drop", h.dropout),)
    return (*ops, Conv("head.fc", channels, h.num_classes, 1, bias=h.bias), Flatten("head.flatten"))


def _stem(spec: Spec, issues: _Issues) -> tuple[tuple[Op, ...], int]:
    st = spec.stem
    cin = spec.input.channels
    w = st.width
    bias = st.conv_bias
    na = _norm_act(_norm_act_values(spec, ("stem",))[0])
    ops: list[Op] = []
    if st.kind == "deep":
        m1, m2 = st.mid_widths or (w // 2, w // 2)
        if min(m1, m2) < 1:
            issues.add(("stem", "width"), f"a deep stem needs width >= 2 or explicit mid_widths (got {w})")
            m1, m2 = max(m1, 1), max(m2, 1)
        ops += [
            Conv("conv1.0", cin, m1, 3, stride=2, padding=1, bias=bias),
            *na.norm_op("conv1.1", m1),
            na.act_op("conv1.2"),
            Conv("conv1.3", m1, m2, 3, stride=1, padding=1, bias=bias),
            *na.norm_op("conv1.4", m2),
            na.act_op("conv1.5"),
            Conv("conv1.6", m2, w, 3, stride=1, padding=1, bias=bias),
        ]
    else:
        if st.mid_widths is not None:
            issues.add(("stem", "mid_widths"), f"applies only to the deep stem (this stem is '{st.kind}')", key=True)
        k, s = (7, 2) if st.kind == "conv7" else (3, 1)
        ops.append(Conv("conv1", cin, w, k, stride=s, padding=k // 2, bias=bias))
    ops += [*na.norm_op("bn1", w), na.act_op("act1")]
    pool = st.pool or ("none" if st.kind == "conv3" else "max")
    if pool == "max":
        ops.append(Pool("maxpool", "max", 3, 2, padding=1))
    elif pool == "conv":
        ops += [
            Conv("maxpool.0", w, w, 3, stride=2, padding=1, bias=bias),
            *na.norm_op("maxpool.1", w),
            na.act_op("maxpool.2"),
        ]
    return tuple(ops), w
