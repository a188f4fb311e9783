"""Exact static analysis of a plan: shapes, parameters, buffers, MACs and activations, without torch.

One function per op kind (pycls-style integer arithmetic, torch's own output-size formulas). MACs count the
multiply-accumulates of convolutions and linear layers only, the convention of torchvision's ``_ops``
(FLOPs ≈ 2 × MACs); activations count the elements of every conv output (pycls' convention). Attention modules
count by the same rule: SE as its two 1×1 convs on the pooled map (2·C·r MACs), ECA as its 1-D conv (C·k MACs);
their pooling, gating and scaling are not multiply-accumulates of a conv, just as norms and activations are not.

Input sizes the network cannot use are reported as :class:`SpecError`: the feature map collapsing to zero
anywhere, an op that still downsamples (stride > 1) a map that is already one pixel high or wide, and a map
that reaches 1×1 while convolutions with a kernel larger than 1×1 still follow (torch runs it, but those convs
see only zero padding around their centre tap). A map one pixel high but wider (or the reverse) before k×k
convs is legal and keeps information along its long side; it is reported in :attr:`Analysis.warnings`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from resnetdsl import plan as P
from resnetdsl.errors import Issue, Path, SpecError

if TYPE_CHECKING:
    from resnetdsl.load import SourceMap
    from resnetdsl.spec import Spec

Shape = tuple[int, int, int]
"""C, H, W."""

CIFAR_STEM_HINT = "for small inputs use the CIFAR stem (stem: {kind: conv3, pool: none})"


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
    """Output as C, H, W; after a ``Flatten`` the vector of C features is written C×1×1 (see
    :attr:`output_dims`)."""
    params: int
    buffers: int
    macs: int
    acts: int
    role: str
    """``stem``, ``pre`` (a pre-activation block's norm + act before the fork), ``main``, ``shortcut``, ``post``,
    ``final`` (the norm + act after the last stage of a pre-activation network) or ``head``."""
    flattened: bool = False
    """The output is a flat feature vector (the op runs after the head's ``Flatten``)."""
    frozen: bool = False
    """The op belongs to a frozen part (``frozen_stages``): its parameters do not require gradients."""

    @property
    def kind(self) -> str:
        return type(self.op).__name__

    @property
    def output_dims(self) -> tuple[int, ...]:
        """The output shape as the tensor has it, without the batch dimension: (C,) for a flat vector."""
        return (self.out_shape[0],) if self.flattened else self.out_shape

    @property
    def trainable_params(self) -> int:
        """Parameters that require gradients: all of them unless the op is frozen (``frozen_stages``); a frozen
        batch norm holds buffers, not parameters."""
        return 0 if self.frozen else self.params


@dataclass(frozen=True, slots=True)
class Totals:
    params: int = 0
    """Parameters (all trainable: a frozen norm holds buffers, not parameters)."""
    buffers: int = 0
    """Buffer elements (BatchNorm running statistics and batch counters; a frozen norm's affine and statistics)."""
    macs: int = 0
    """Multiply-accumulates of conv and linear layers for one input."""
    acts: int = 0
    """Elements of every conv output."""
    frozen_params: int = 0
    """Parameters of the frozen stem and stages (``frozen_stages``): they do not require gradients."""

    @property
    def trainable_params(self) -> int:
        """Parameters updated by training: all but those of frozen parts (buffers are not parameters)."""
        return self.params - self.frozen_params

    @property
    def non_trainable_params(self) -> int:
        """Parameters excluded from training: those of the frozen stem and stages."""
        return self.frozen_params

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.params + other.params,
            self.buffers + other.buffers,
            self.macs + other.macs,
            self.acts + other.acts,
            self.frozen_params + other.frozen_params,
        )

    @staticmethod
    def of(layers: Iterable[LayerInfo]) -> Totals:
        params = buffers = macs = acts = frozen = 0
        for layer in layers:
            params += layer.params
            buffers += layer.buffers
            macs += layer.macs
            acts += layer.acts
            frozen += layer.params - layer.trainable_params
        return Totals(params, buffers, macs, acts, frozen)


@dataclass(frozen=True, slots=True)
class BlockInfo:
    stage: P.Stage
    block: P.Block
    path: str
    """Module path of the block (``layer1.0``)."""
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

    @property
    def path(self) -> str:
        """Module path of the stage (``layer1``)."""
        return self.stage.name


@dataclass(frozen=True, slots=True)
class Analysis:
    """Shapes and costs of every layer, block and stage of a plan, for one input size."""

    plan: P.Plan
    input_shape: Shape
    stem: tuple[LayerInfo, ...]
    stages: tuple[StageInfo, ...]
    head: tuple[LayerInfo, ...]
    output_shape: tuple[int, ...]
    """(num_classes,) with a head; the last feature map C, H, W for a backbone."""
    totals: Totals = field(default_factory=Totals)
    warnings: tuple[Issue, ...] = ()
    """Legal but wasteful choices for this input size (severity ``warning``)."""
    final: tuple[LayerInfo, ...] = ()
    """The ops after the last stage (a pre-activation network's final norm + act); empty otherwise."""

    @property
    def stem_totals(self) -> Totals:
        return Totals.of(self.stem)

    @property
    def final_totals(self) -> Totals:
        return Totals.of(self.final)

    @property
    def head_totals(self) -> Totals:
        return Totals.of(self.head)

    def layers(self) -> Iterator[LayerInfo]:
        """Every op in build order."""
        yield from self.stem
        for st in self.stages:
            for b in st.blocks:
                yield from b.layers
        yield from self.final
        yield from self.head

    def blocks(self) -> Iterator[BlockInfo]:
        for st in self.stages:
            yield from st.blocks


# --- one function per op kind: (op, input shape) -> (output shape, cost) --------------------------


def _out_len(size: int, k: int, s: int, p: int, d: int = 1, ceil: bool = False) -> int:
    """Output length of a sliding window, as torch computes it (0 where torch refuses the input)."""
    n = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)) // s + 1
    if ceil and (n - 1) * s >= size + p:  # the last window must start inside the input or the left padding
        n -= 1
    return max(n, 0)


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
    c = op.channels
    if op.kind == "group":  # weight, bias; no statistics
        return x, OpCost(params=2 * c)
    if op.kind == "frozen_batch":  # weight, bias, running_mean, running_var, all buffers
        return x, OpCost(buffers=4 * c)
    # weight, bias; running_mean, running_var, num_batches_tracked
    return x, OpCost(params=2 * c, buffers=2 * c + 1)


def squeeze_excite(op: P.SqueezeExcite, x: Shape) -> tuple[Shape, OpCost]:
    # two 1×1 convs with bias on the pooled 1×1 map: C·r + r and r·C + C parameters, C·r MACs each
    c, r = op.channels, op.reduced_channels
    return x, OpCost(params=2 * c * r + r + c, macs=2 * c * r, acts=r + c)


def efficient_channel_attn(op: P.EfficientChannelAttn, x: Shape) -> tuple[Shape, OpCost]:
    # one bias-free 1-D conv of k taps over the C pooled values (zero-padded): C outputs of k MACs each
    c, k = op.channels, op.kernel_size
    return x, OpCost(params=k, macs=c * k, acts=c)


def pool(op: P.Pool, x: Shape) -> tuple[Shape, OpCost]:
    c, h, w = x
    if op.same:  # padded first to cover every position: ceil(size / stride) outputs
        return (c, -(-h // op.stride), -(-w // op.stride)), OpCost()
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
    P.NormAct: norm,
    P.Act: passthrough,
    P.Pool: pool,
    P.GlobalPool: global_pool,
    P.Flatten: passthrough,
    P.Dropout: passthrough,
    P.Linear: linear,
    P.Identity: passthrough,
    P.PadShortcut: pad_shortcut,
    P.SqueezeExcite: squeeze_excite,
    P.EfficientChannelAttn: efficient_channel_attn,
    P.DropPath: passthrough,
}


_CHANNELS_FIELD = {
    P.Conv: "in_channels",
    P.PadShortcut: "in_channels",
    P.Norm: "channels",
    P.NormAct: "channels",
    P.Linear: "in_features",
    P.SqueezeExcite: "channels",
    P.EfficientChannelAttn: "channels",
}
_STRIDED = (P.Conv, P.Pool, P.PadShortcut)


def in_channels_of(op: P.Op) -> int | None:
    """The channel count ``op`` requires of its input (``None``: any)."""
    name = _CHANNELS_FIELD.get(type(op))
    return None if name is None else int(getattr(op, name))


def stride_of(op: P.Op) -> int:
    """How much ``op`` downsamples (1: not at all)."""
    return op.stride if isinstance(op, _STRIDED) else 1


def stem_stride(plan: P.Plan) -> int:
    """Total downsampling of the stem (4 for the ImageNet stem, 1 for the CIFAR stem)."""
    total = 1
    for op in plan.stem:
        total *= stride_of(op)
    return total


# --- the walk ---------------------------------------------------------------------------------------


def format_shape(dims: Sequence[int], sep: str = "×") -> str:
    """``(64, 56, 56)`` → ``64×56×56``: how every part of resnetdsl writes a shape."""
    return sep.join(str(d) for d in dims)


@dataclass(frozen=True, slots=True)
class _Small:
    """Where the feature map first became small."""

    where: Path
    """The spec part that produced it: ``("stem",)``, ``("stages", i)`` or ``("input", "size")``."""
    path: str | None
    """The op whose output it is (``layer3.0.conv2``); ``None``: the input itself."""
    hw: tuple[int, int]

    def says(self, start: Shape) -> str:
        size = f"{self.hw[0]}×{self.hw[1]}"
        if self.path is None:
            return f"the {format_shape(start)} input is already {size}"
        return f"the feature map reaches {size} at {self.path} for a {format_shape(start)} input"


class _Walker:
    def __init__(self, plan: P.Plan, start: Shape, source: SourceMap | None, input_name: str | None) -> None:
        self.plan = plan
        self.start = start
        self.source = source
        self.input_name = input_name
        self.small: _Small | None = None
        """Where the map first became one pixel high or wide."""
        self.one: _Small | None = None
        """Where the map first became 1×1."""
        if start[1] == 1 or start[2] == 1:
            self.small = _Small(("input", "size"), None, (start[1], start[2]))
        if start[1:] == (1, 1):
            self.one = self.small
        self.warnings: list[Issue] = []
        self.wide: dict[Path, tuple[str, int, int, int]] = {}
        """Per spec part, the first dilated conv whose dilation reaches across the map it reads."""

    def issue(self, where: Path, message: str, *, warning: bool = False) -> Issue:
        severity: Literal["error", "warning"] = "warning" if warning else "error"
        if where[:1] == ("input",) and self.input_name is not None:
            # the input came from the caller (--input, input_size=), not from the spec's `input:` line
            return Issue((self.input_name,), message, None, severity)
        mark = self.source.mark_for(where) if self.source is not None else None
        if where[:1] == ("input",) and self.start != (self.plan.in_channels, *self.plan.input_size):
            mark = None  # an input size given by a caller that did not name it
        return Issue(where, message, mark, severity)

    def hint(self) -> str:
        s = stem_stride(self.plan)
        return f"; the stem downsamples by {s}: {CIFAR_STEM_HINT}" if s > 1 else ""

    def run(
        self, ops: tuple[P.Op, ...], prefix: str, x: Shape, role: str, where: Path, frozen: bool = False
    ) -> tuple[list[LayerInfo], Shape]:
        layers: list[LayerInfo] = []
        flat = False
        for op in ops:
            path = prefix + op.name
            need = in_channels_of(op)
            if need is not None and need != x[0]:
                raise SpecError([self._channel_issue(op, path, need, x[0], where)])
            y, cost = RULES[type(op)](op, x)
            if y[1] < 1 or y[2] < 1:
                raise SpecError(
                    [
                        self.issue(
                            where,
                            f"the feature map collapses to {y[1]}×{y[2]} at {path} "
                            f"for a {format_shape(self.start)} input{self.hint()}",
                        )
                    ]
                )
            s = stride_of(op)
            if s > 1 and self.small is not None and (x[1] == 1 or x[2] == 1):
                small = self.small
                raise SpecError(
                    [
                        self.issue(
                            small.where,
                            f"{small.says(self.start)}, but {path} still downsamples it (stride {s}){self.hint()}",
                        )
                    ]
                )
            one = self.one
            if isinstance(op, P.Conv) and op.kernel_size > 1 and x[1:] == (1, 1) and one:
                # torch would run it, but nothing spatial is left: every k×k conv after this point multiplies
                # zero padding around its centre tap. For the network a spec describes, that is a collapse.
                k = op.kernel_size
                raise SpecError(
                    [
                        self.issue(
                            one.where,
                            f"{one.says(self.start)}, so the {k}×{k} convs after it (first: {path}) see zero "
                            f"padding around the centre tap only{self.hint()}",
                        )
                    ]
                )
            thin_since = self.small
            thin = (x[1] == 1) != (x[2] == 1)
            if isinstance(op, P.Conv) and op.kernel_size > 1 and thin and thin_since and not self.warnings:
                # one side is gone but the other still carries information: legal, but most taps are padding
                k = op.kernel_size
                pad = "above and below" if x[1] == 1 else "left and right"
                self.warnings.append(
                    self.issue(
                        thin_since.where,
                        f"{thin_since.says(self.start)}, so the {k}×{k} convs after it (first: {path}) see zero "
                        f"padding {pad}{self.hint()}",
                        warning=True,
                    )
                )
            if isinstance(op, P.Conv) and op.dilation > 1 and op.dilation >= min(x[1], x[2]):
                self.wide.setdefault(where, (path, op.dilation, x[1], x[2]))
            if not isinstance(op, P.GlobalPool):  # global pooling is meant to reach 1×1
                if self.small is None and (y[1] == 1 or y[2] == 1):
                    self.small = _Small(where, path, (y[1], y[2]))
                if self.one is None and y[1:] == (1, 1):
                    self.one = _Small(where, path, (1, 1))
            flat = flat or isinstance(op, P.Flatten)
            layers.append(
                LayerInfo(
                    path, op, x, y, cost.params, cost.buffers, cost.macs, cost.acts, role, flattened=flat, frozen=frozen
                )
            )
            x = y
        return layers, x

    def _channel_issue(self, op: P.Op, path: str, need: int, got: int, where: Path) -> Issue:
        if where == ("stem",) and path == self.plan.stem[0].name:
            return self.issue(
                ("input", "channels"),
                f"the input has {got} channel{'s' if got != 1 else ''} but {path} takes {need}",
            )
        return self.issue(where, f"{path} takes {need} channels but receives {got}")


def _dilation_warnings(plan: P.Plan, walk: _Walker) -> list[Issue]:
    """A dilated conv whose dilation is at least the height or width of the map it reads sees only zero padding
    through its off-centre taps: the receptive field outgrows the input, and the dilation buys nothing."""
    from resnetdsl.receptive import feature_facts

    facts = {f.name: f for f in feature_facts(plan)}
    out: list[Issue] = []
    _, h, w = walk.start
    for where, (path, d, mh, mw) in walk.wide.items():
        stage = plan.stages[int(where[1])] if where[0] == "stages" else None
        rf = facts[stage.name].receptive_field if stage is not None else None
        field = f"its receptive field ({rf} px) exceeds the {h}×{w} input, and " if rf is not None else ""
        out.append(
            walk.issue(
                where,
                f"{path} has dilation {d} on a {mh}×{mw} map: {field}its off-centre taps read zero padding only; "
                "use a larger input, a larger output_stride or a smaller dilation",
                warning=True,
            )
        )
    return out


def analyze(
    plan: P.Plan,
    input_size: tuple[int, int] | None = None,
    in_channels: int | None = None,
    *,
    source: SourceMap | None = None,
    input_name: str | None = None,
) -> Analysis:
    """Shapes and costs of ``plan`` for an input of ``input_size`` (default: the spec's).

    Args:
        plan: the plan to analyse.
        input_size: (height, width) of the input; default ``plan.input_size``.
        in_channels: channels of the input; default ``plan.in_channels`` (another value is an error unless the
            stem takes it).
        source: the spec's source marks (``spec._source``), so that errors carry file:line:col; see
            :func:`analyze_spec`.
        input_name: the caller's name for the input size when it gave one (``--input``, ``input_size``):
            problems of the input are then reported against it, without a mark in the spec.

    Raises:
        SpecError: the input does not fit: the spatial size collapses to zero, an op downsamples a map that is
            already one pixel high or wide, the channel count differs from what the stem takes; or a block's
            two paths disagree.
        ValueError: an input size or channel count that is not a whole number >= 1 (a programming error).
    """
    h, w = plan.input_size if input_size is None else input_size
    c = plan.in_channels if in_channels is None else in_channels
    for what, value in (("channels", c), ("height", h), ("width", w)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"input {what} must be a whole number >= 1, got {value!r}")
    start: Shape = (c, h, w)
    walk = _Walker(plan, start, source, input_name)
    stem, x = walk.run(plan.stem, "", start, "stem", ("stem",), plan.frozen(None))
    stages: list[StageInfo] = []
    for st in plan.stages:
        where: Path = ("stages", st.index)
        st_in = x
        binfos: list[BlockInfo] = []
        cold = plan.frozen(st.index)
        for b in st.blocks:
            prefix = f"{st.name}.{b.name}."
            pre, p = walk.run(b.pre, prefix, x, "pre", where, cold)
            main, y = walk.run(b.main, prefix, p, "main", where, cold)
            s_in = p if b.shortcut_from_pre else x
            sc, z = walk.run(b.shortcut_ops, prefix, s_in, "shortcut", where, cold) if b.has_add else ([], y)
            if b.has_add and z != y:
                says = f"main path gives {format_shape(y)} but the shortcut gives {format_shape(z)}"
                raise SpecError([walk.issue(where, f"{prefix[:-1]}: {says}")])
            post, y = walk.run(b.post, prefix, y, "post", where, cold)
            layers = tuple(pre + main + sc + post)
            binfos.append(BlockInfo(st, b, prefix[:-1], x, y, layers, Totals.of(layers)))
            x = y
        stages.append(StageInfo(st, st_in, x, tuple(binfos), sum((bi.totals for bi in binfos), Totals())))
    final, x = walk.run(plan.final, "", x, "final", ("stages", plan.stages[-1].index) if plan.stages else ("stem",))
    head, x = walk.run(plan.head, "", x, "head", ("head",))
    out: tuple[int, ...] = (x[0],) if plan.head else x
    walk.warnings += _dilation_warnings(plan, walk)
    all_layers = [*stem, *(layer for s in stages for b in s.blocks for layer in b.layers), *final, *head]
    return Analysis(
        plan,
        start,
        tuple(stem),
        tuple(stages),
        tuple(head),
        out,
        Totals.of(all_layers),
        tuple(walk.warnings),
        final=tuple(final),
    )


def analyze_spec(spec: Spec, input_size: tuple[int, int] | None = None, in_channels: int | None = None) -> Analysis:
    """Lower ``spec`` and analyse it; errors point at the spec's file:line:col.

    Raises:
        SpecError: the spec is invalid, or the input does not fit (see :func:`analyze`).
    """
    from resnetdsl.lower import lower

    return analyze(lower(spec), input_size, in_channels, source=spec._source)
