"""What each plan op becomes in the exported source: its constructor expression (:data:`CONSTRUCTORS`, the one
table of this backend, one emitter per op type; a missing type raises :class:`KeyError`), and the source of the
helper modules the standalone file defines itself (:data:`HELPERS`: the builder's own classes, copied from
:mod:`resnetdsl.layers`), and what the Python and ONNX exports do with each op field (:data:`OP_FIELDS`)."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from resnetdsl import plan as P
from resnetdsl.vocab import ACTIVATIONS, NORM_ACTS, POOLS

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
    if op.std_eps is not None:  # weight standardisation (issue 18, family c)
        eps = v("std_eps")
        return f"StdConv2d({', '.join(args)}, eps={eps})"
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
    act = [] if op.act == "relu" else [f"act={ACTIVATIONS[op.act].torch!r}"]  # RegNet's variants (issue 19)
    if op.kind in ("group", "evonorm_s0"):
        extra = act if op.kind == "group" else []
        return f"{NORM_ACTS[op.kind]}({', '.join([v('channels'), v('groups'), *_eps_momentum(v, op, False), *extra])})"
    if op.kind == "frn":
        return f"FilterResponseNormTlu2d({', '.join([v('channels'), *_eps_momentum(v, op, False)])})"
    return f"BatchNormAct2d({', '.join([v('channels'), *_eps_momentum(v, op), *act])})"


def _squeeze_excite(op: P.SqueezeExcite, v: Value) -> str:
    act = "" if op.act == "relu" else f", {ACTIVATIONS[op.act].torch!r}"  # a RegNet block's own (issue 19)
    return f"SqueezeExcite({v('channels')}, {v('reduced_channels')}{act})"


def _act(op: P.Act, v: Value) -> str:
    kind = ACTIVATIONS[op.kind]
    args = [v("negative_slope")] if kind.slope else []
    if op.inplace and kind.inplace:
        args.append("inplace=True")
    return f"nn.{kind.torch}({', '.join(args)})"


def _pool(op: P.Pool, v: Value) -> str:
    if op.same:  # timm's 'SAME' average pool, as the builder makes it
        if op.kind != "avg" or op.padding:
            raise ValueError(f"{op.name}: 'SAME' padding is built for avg pools without padding only")
        same = [v("kernel_size"), v("stride"), "0"] + (["ceil_mode=True"] if op.ceil_mode else [])
        same += [] if op.count_include_pad else ["count_include_pad=False"]
        return f"AvgPool2dSame({', '.join(same)})"
    args = [v("kernel_size"), v("stride")]
    if op.padding or op.ceil_mode or (op.kind == "avg" and not op.count_include_pad):
        args.append(v("padding"))
    if op.ceil_mode:
        args.append("ceil_mode=True")
    if op.kind == "avg" and not op.count_include_pad:
        args.append("count_include_pad=False")
    return f"nn.{POOLS[op.kind]}Pool2d({', '.join(args)})"


def _sub(op: Any) -> str:
    """A sub-op of a composite op, its fields as literals (a composite's class is per structure)."""
    if op is None:
        return "nn.Identity()"
    return CONSTRUCTORS[type(op)](op, lambda name: _lit(getattr(op, name)))


def _conv_norm_act(op: P.ConvNormAct) -> str:
    return f"ConvNormAct({_sub(op.conv)}, {_sub(op.norm)}, {_sub(op.act)})"


CONSTRUCTORS: dict[type, Callable[[Any, Value], str]] = {
    P.Conv: _conv,
    P.Norm: _norm,
    P.NormAct: _norm_act,
    P.Act: _act,
    P.Pool: _pool,
    P.GlobalPool: lambda op, v: f"nn.Adaptive{POOLS[op.kind]}Pool2d(1)",
    P.Flatten: lambda op, v: "nn.Flatten(1)",
    P.Dropout: lambda op, v: f"nn.Dropout({v('p')})",
    P.Linear: lambda op, v: (
        f"nn.Linear({v('in_features')}, {v('out_features')}" + ("" if op.bias else ", bias=False") + ")"
    ),
    P.Identity: lambda op, v: "nn.Identity()",
    P.PadShortcut: lambda op, v: f"PadShortcut({v('in_channels')}, {v('out_channels')}, {v('stride')})",
    P.SqueezeExcite: _squeeze_excite,
    P.EfficientChannelAttn: lambda op, v: f"EfficientChannelAttn({v('kernel_size')})",
    P.DropPath: lambda op, v: f"DropPath({v('p')})",
    # selective kernels (issue 18, SK family)
    P.ConvNormAct: lambda op, v: _conv_norm_act(op),
    P.SelectiveKernel: lambda op, v: (
        f"SelectiveKernel([{', '.join(_conv_norm_act(p) for p in op.paths)}], {v('out_channels')}, "
        f"{v('attn_channels')}, {v('split_input')})"
    ),
    # issue 18, family c (ResNetV2 / BiT)
    P.ConstantPad: lambda op, v: f"nn.ConstantPad2d({v('padding')}, {v('value')})",
    # family senet (issue 18)
    P.Cbam: lambda op, v: f"Cbam({v('channels')}, {v('reduced_channels')}, {v('spatial_kernel')})",
    P.GlobalContext: lambda op, v: f"GlobalContext({v('channels')}, {v('reduced_channels')})",
    P.DropBlock: lambda op, v: f"DropBlock({v('p')}, {v('block_size')}, {v('gamma_scale')})",
}
"""Op type → source of the expression that creates its module (a class of :mod:`resnetdsl.layers` where torch
has none; the file then defines that class, see :func:`helper_sources`)."""


def _layer_classes() -> dict[str, str]:
    """The classes of :mod:`resnetdsl.layers` as source text, cut from the file (read as text: torch-free)."""
    out: dict[str, str] = {}
    for module in ("layers.py", "layers_res2net.py"):  # layers_res2net: family Res2Net (issue 18)
        text = (Path(__file__).resolve().parent.parent / module).read_text(encoding="utf-8")
        out.update(
            (node.name, ast.get_source_segment(text, node) or "")
            for node in ast.parse(text).body
            if isinstance(node, ast.ClassDef)
        )
    return out


HELPERS: dict[str, str] = _layer_classes()
"""Name → source of each helper module class (the builder's own, from :mod:`resnetdsl.layers`), in its order."""


def helper_sources(code: str) -> list[str]:
    """The helper classes ``code`` uses (each named as a call ``Name(``), in :data:`HELPERS` order."""
    return [src for name, src in HELPERS.items() if re.search(rf"\b{name}\(", code)]


# --- family: anti-aliased downsampling and split attention (issue 18) ---------------------------------------


def _blur_pool(op: P.BlurPool, v: Value) -> str:
    return f"BlurPool2d({', '.join([v('channels'), *_kw(v, op, 'stride', 2), *_kw(v, op, 'filter_size', 3)])})"


def _split_attention(op: P.SplitAttention, v: Value) -> str:
    args = [v("in_channels"), v("out_channels"), v("attn_channels"), *_kw(v, op, "radix", 2)]
    args += _kw(v, op, "groups", 1) + _kw(v, op, "stride", 1) + _kw(v, op, "dilation", 1) + _kw(v, op, "norm", "batch")
    kind = ACTIVATIONS[op.act]
    if kind.torch != "ReLU":
        args.append(f"act={_lit(kind.torch)}")
    if kind.slope:
        args.append(f"negative_slope={v('negative_slope')}")
    return f"SplitAttn({', '.join(args)})"


CONSTRUCTORS[P.BlurPool] = _blur_pool
CONSTRUCTORS[P.SplitAttention] = _split_attention


# --- family: Res2Net (issue 18) ---------------------------------------------------------------------------------


def _res2_split(op: P.Res2Split, v: Value) -> str:
    n = len(op.convs)
    convs = f"[{_sub(op.convs[0])} for _ in range({n})]"  # the split convs are alike, so are their norms
    norms = f"[{_sub(op.norms[0])} for _ in range({n})]" if op.norms else "[]"
    pool = _sub(op.pool) if op.pool is not None else "None"
    args = f"{convs}, {norms}, {_sub(op.act)}, {pool}, {v('width')}, {v('cumulative')}"
    return f"Res2Split({args}).attach(self, {op.name!r})"


CONSTRUCTORS[P.Res2Split] = _res2_split


# --- what the exports do with each op field ------------------------------------------------------------------

CARRIED = "carried"
"""An argument of the op's module: the Python source writes it, and ONNX traces the module built with it."""
TRAINING = "training"
"""Carried in the Python source as an argument; ONNX holds the eval-mode graph, where it does nothing."""
IMPLIED = "implied"
"""No argument of the module, in the built model as in the source: the value follows from the others (a tensor's
size), so there is nothing to carry."""
INIT = "init"
"""The starting weights: the source's ``__init__`` sets them as ``build_model`` does; ONNX holds the weights."""
STRUCTURE = "structure"
"""Sub-ops of a composite op, each written by its own type's entry."""


def _carried(*names: str) -> dict[str, tuple[str, str]]:
    return {n: (CARRIED, "") for n in names}


_BN_MOMENTUM = (TRAINING, "batch norm only: how running statistics update")
_EVAL_IDENTITY = (TRAINING, "the identity in eval mode")

OP_FIELDS: dict[type, dict[str, tuple[str, str]]] = {
    P.Conv: {
        **_carried("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias"),
        "zero_init": (INIT, "the weight starts at zero"),
        "std_eps": (CARRIED, "StdConv2d's eps (weight standardisation)"),
    },
    P.Norm: {
        **_carried("channels", "eps"),
        "kind": (CARRIED, "BatchNorm2d, GroupNorm or FrozenBatchNorm2d"),
        "momentum": _BN_MOMENTUM,
        "zero_init": (INIT, "γ starts at zero"),
        "groups": (CARRIED, "group norm only"),
    },
    P.NormAct: {
        **_carried("channels", "eps"),
        "kind": (CARRIED, "BatchNormAct2d, GroupNormAct, EvoNorm2dS0 or FilterResponseNormTlu2d"),
        "act": (CARRIED, "batch and group norm: the activation after the norm (RegNet's variants)"),
        "momentum": _BN_MOMENTUM,
        "groups": (CARRIED, "group norm and EvoNorm only"),
    },
    P.Act: {**_carried("kind", "inplace"), "negative_slope": (CARRIED, "leaky ReLU only")},
    P.Pool: {
        **_carried("kind", "kernel_size", "stride", "padding", "ceil_mode"),
        "count_include_pad": (CARRIED, "average pools only"),
        "same": (CARRIED, "timm's 'SAME' average pool (AvgPool2dSame)"),
    },
    P.GlobalPool: _carried("kind"),
    P.Flatten: {},
    P.Dropout: {"p": _EVAL_IDENTITY},
    P.Linear: _carried("in_features", "out_features", "bias"),
    P.Identity: {},
    P.PadShortcut: _carried("in_channels", "out_channels", "stride"),
    P.SqueezeExcite: _carried("channels", "reduced_channels", "act"),
    P.EfficientChannelAttn: {
        "channels": (IMPLIED, "the 1-D conv runs along the channels of any input; channels chose its kernel"),
        "kernel_size": (CARRIED, ""),
    },
    P.DropPath: {"p": _EVAL_IDENTITY},
    P.ConvNormAct: {
        "conv": (STRUCTURE, "a Conv"),
        "norm": (STRUCTURE, "a Norm or none"),
        "act": (STRUCTURE, "an Act or none"),
    },
    P.SelectiveKernel: {
        **_carried("out_channels", "split_input", "attn_channels"),
        "in_channels": (IMPLIED, "the paths' convs take it"),
        "stride": (IMPLIED, "the paths' convs take it"),
        "paths": (STRUCTURE, "ConvNormAct ops"),
    },
    P.ConstantPad: _carried("padding", "value"),
    P.Cbam: _carried("channels", "reduced_channels", "spatial_kernel"),
    P.GlobalContext: _carried("channels", "reduced_channels"),
    P.DropBlock: {
        "channels": (IMPLIED, "the mask covers any input"),
        **dict.fromkeys(("p", "block_size", "gamma_scale"), _EVAL_IDENTITY),
    },
    P.BlurPool: _carried("channels", "stride", "filter_size"),
    P.SplitAttention: {
        **_carried("in_channels", "out_channels", "attn_channels", "radix", "groups", "stride", "dilation", "act"),
        "norm": (CARRIED, "batch norms or identities"),
        "negative_slope": (CARRIED, "leaky ReLU only"),
    },
    # family: Res2Net (issue 18)
    P.Res2Split: {
        **_carried("width", "cumulative"),
        **dict.fromkeys(("convs", "norms", "act", "pool"), (STRUCTURE, "its parts (convs.i, bns.i, pool)")),
    },
}
"""Every field of every plan op type (but ``name``, the module's path, which both exporters keep) → what the
exporters do with it, and a note: :data:`CARRIED`, :data:`TRAINING`, :data:`IMPLIED`, :data:`INIT` or
:data:`STRUCTURE`. Nothing an op holds is refused today (a value no exporter can write, such as a 'SAME' pool
with padding, is refused by the builder too); tests walk this table against the plan's op types and check each
claim on the emitted source and the built module."""
