"""Exact static analysis of a plan: shapes, parameters, buffers, MACs and activations, without torch.

One function per op kind (pycls-style integer arithmetic). MACs count the multiply-accumulates of
convolutions and linear layers only, the convention of torchvision's ``_ops`` (FLOPs ≈ 2 × MACs);
activations count the elements of every conv output (pycls' convention).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from resnetdsl import plan as P
from resnetdsl.errors import Issue, SpecError

Shape = tuple[int, int, int]
"""C, H, W."""


@dataclass(frozen=True, slots=True)
class OpCost:
    params: int = 0
    buffers: int = 0
    macs: int = 0
    acts: int = 0


@dataclass(frozen=True, slots=True)
class LayerInfo:
    """One op of the network, with its input and output shapes and its costs."""

    path: str
    """Full module path (``layer1.0.conv2``)."""
    op: P.Op
    in_shape: Shape
    out_shape: Shape
    params: int
    buffers: int
    macs: int
    acts: int
    role: str
    """``stem``, ``main``, ``shortcut``, ``post`` or ``head``."""

    @property
    def kind(self) -> str:
        return type(self.op).__name__


@dataclass(frozen=True, slots=True)
class Totals:
    params: int = 0
    buffers: int = 0
    macs: int = 0
    acts: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.params + other.params,
            self.buffers + other.buffers,
            self.macs + other.macs,
            self.acts + other.acts,
        )

    @staticmethod
    def of(layers: Any) -> Totals:
        t = Totals()
        for layer in layers:
            t = t + Totals(layer.params, layer.buffers, layer.macs, layer.acts)
        return t


@dataclass(frozen=True, slots=True)
class BlockInfo:
    stage: P.Stage
    block: P.Block
    path: str
    in_shape: Shape
    out_shape: Shape
    layers: tuple[LayerInfo, ...]
    totals: Totals


@dataclass(frozen=True, slots=True)
class StageInfo:
    stage: P.Stage
    in_shape: Shape
    out_shape: Shape
    blocks: tuple[BlockInfo, ...]
    totals: Totals


@dataclass(frozen=True, slots=True)
class Analysis:
    """Shapes and costs of every layer, block and stage of a plan, for one input size."""

    plan: P.Plan
    input_shape: Shape
    stem: tuple[LayerInfo, ...]
    stages: tuple[StageInfo, ...]
    head: tuple[LayerInfo, ...]
    output_shape: tuple[int, ...]
    totals: Totals = field(default_factory=Totals)

    def layers(self) -> Iterator[LayerInfo]:
        """Every op in build order."""
        yield from self.stem
        for st in self.stages:
            for b in st.blocks:
                yield from b.layers
        yield from self.head

    def blocks(self) -> Iterator[BlockInfo]:
        for st in self.stages:
            yield from st.blocks


# --- one function per op kind: (op, input shape) -> (output shape, cost) --------------------------


def _out_len(size: int, k: int, s: int, p: int, d: int = 1, ceil: bool = False) -> int:
    eff = d * (k - 1) + 1
    span = size + 2 * p - eff
    if span < 0:
        return 0
    n = (-(-span // s) if ceil else span // s) + 1
    if ceil and (n - 1) * s >= size + p:  # torch: the last window must start inside the input or left pad
        n -= 1
    return n


def conv(op: P.Conv, x: Shape) -> tuple[Shape, OpCost]:
    _, h, w = x
    oh = _out_len(h, op.kernel_size, op.stride, op.padding, op.dilation)
    ow = _out_len(w, op.kernel_size, op.stride, op.padding, op.dilation)
    per_out = (op.in_channels // op.groups) * op.kernel_size * op.kernel_size
    params = op.out_channels * per_out + (op.out_channels if op.bias else 0)
    out = (op.out_channels, oh, ow)
    n = op.out_channels * oh * ow
    return out, OpCost(params=params, macs=n * per_out, acts=n)


def norm(op: P.Norm, x: Shape) -> tuple[Shape, OpCost]:
    # weight, bias; running_mean, running_var, num_batches_tracked
    return x, OpCost(params=2 * op.channels, buffers=2 * op.channels + 1)


def pool(op: P.Pool, x: Shape) -> tuple[Shape, OpCost]:
    c, h, w = x
    oh = _out_len(h, op.kernel_size, op.stride, op.padding, ceil=op.ceil_mode)
    ow = _out_len(w, op.kernel_size, op.stride, op.padding, ceil=op.ceil_mode)
    return (c, oh, ow), OpCost()


def global_pool(op: P.GlobalPool, x: Shape) -> tuple[Shape, OpCost]:
    return (x[0], 1, 1), OpCost()


def linear(op: P.Linear, x: Shape) -> tuple[Shape, OpCost]:
    params = op.in_features * op.out_features + (op.out_features if op.bias else 0)
    return (op.out_features, 1, 1), OpCost(params=params, macs=op.in_features * op.out_features)


def pad_shortcut(op: P.PadShortcut, x: Shape) -> tuple[Shape, OpCost]:
    _, h, w = x
    return (op.out_channels, -(-h // op.stride), -(-w // op.stride)), OpCost()


def passthrough(op: P.Op, x: Shape) -> tuple[Shape, OpCost]:
    return x, OpCost()


RULES: dict[type, Callable[[Any, Shape], tuple[Shape, OpCost]]] = {
    P.Conv: conv,
    P.Norm: norm,
    P.Act: passthrough,
    P.Pool: pool,
    P.GlobalPool: global_pool,
    P.Flatten: passthrough,
    P.Dropout: passthrough,
    P.Linear: linear,
    P.Identity: passthrough,
    P.PadShortcut: pad_shortcut,
}


class _Collapse(Exception):
    def __init__(self, path: str, shape: Shape) -> None:
        self.path = path
        self.shape = shape


def _run(ops: tuple[P.Op, ...], prefix: str, x: Shape, role: str) -> tuple[list[LayerInfo], Shape]:
    layers: list[LayerInfo] = []
    for op in ops:
        y, cost = RULES[type(op)](op, x)
        path = prefix + op.name
        if y[1] < 1 or y[2] < 1:
            raise _Collapse(path, y)
        layers.append(LayerInfo(path, op, x, y, cost.params, cost.buffers, cost.macs, cost.acts, role))
        x = y
    return layers, x


def _fmt(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape)


def analyze(plan: P.Plan, input_size: tuple[int, int] | None = None, in_channels: int | None = None) -> Analysis:
    """Shapes and costs of ``plan`` for an input of ``input_size`` (default: the spec's).

    Raises:
        SpecError: the spatial size collapses to zero somewhere, or a block's two paths disagree.
    """
    h, w = input_size or plan.input_size
    x: Shape = (in_channels or plan.in_channels, h, w)
    start = x
    try:
        stem, x = _run(plan.stem, "", x, "stem")
        stages: list[StageInfo] = []
        for st in plan.stages:
            st_in = x
            binfos: list[BlockInfo] = []
            for b in st.blocks:
                prefix = f"{st.name}.{b.name}."
                main, y = _run(b.main, prefix, x, "main")
                sc, z = _run(b.shortcut_ops, prefix, x, "shortcut") if b.has_add else ([], y)
                if b.has_add and z != y:
                    raise SpecError(
                        [
                            Issue(
                                ("stages", st.index),
                                f"{prefix[:-1]}: main path gives {_fmt(y)} but the shortcut gives {_fmt(z)}",
                            )
                        ]
                    )
                post, y = _run(b.post, prefix, y, "post")
                layers = tuple(main + sc + post)
                binfos.append(BlockInfo(st, b, prefix[:-1], x, y, layers, Totals.of(layers)))
                x = y
            stages.append(StageInfo(st, st_in, x, tuple(binfos), sum((bi.totals for bi in binfos), Totals())))
        head, x = _run(plan.head, "", x, "head")
    except _Collapse as exc:
        raise SpecError([_collapse_issue(plan, exc, start)]) from None
    out: tuple[int, ...] = (x[0],) if plan.head else x
    all_layers = [*stem, *(layer for s in stages for b in s.blocks for layer in b.layers), *head]
    return Analysis(plan, start, tuple(stem), tuple(stages), tuple(head), out, Totals.of(all_layers))


def _collapse_issue(plan: P.Plan, exc: _Collapse, start: Shape) -> Issue:
    path = exc.path
    where: tuple[str | int, ...] = ("stem",)
    for st in plan.stages:
        if path.startswith(st.name + "."):
            where = ("stages", st.index)
    hint = ""
    if plan.stem and any(isinstance(op, P.Pool) or getattr(op, "stride", 1) > 1 for op in plan.stem):
        hint = "; for small inputs use the CIFAR stem (stem: {kind: conv3, pool: none})"
    return Issue(
        where,
        f"spatial size collapses to {exc.shape[1]}×{exc.shape[2]} at {path} for a {_fmt(start)} input{hint}",
    )
