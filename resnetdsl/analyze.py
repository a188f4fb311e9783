"""Exact static analysis of a plan: shapes, parameters, buffers, MACs and activations, without torch.

Each op's shape and cost come from its description (:mod:`resnetdsl.ops`: pycls-style integer arithmetic,
torch's own output-size formulas; parameters and buffers summed from its state_dict entries), the order from
the one walk of the plan (:mod:`resnetdsl.walk`). MACs count the multiply-accumulates of convolutions and linear
layers only, the convention of torchvision's ``_ops`` (FLOPs ≈ 2 × MACs); activations count the elements of every
conv output (pycls' convention). Attention modules count by the same rule: SE as its two 1×1 convs on the pooled
map (2·C·r MACs), ECA as its 1-D conv (C·k MACs); their pooling, gating and scaling are not multiply-accumulates
of a conv, just as norms and activations are not.

Input sizes the network cannot use are reported as :class:`SpecError`: the feature map collapsing to zero
anywhere, an op that still downsamples (stride > 1) a map that is already one pixel high or wide, and a map
that reaches 1×1 while convolutions with a kernel larger than 1×1 still follow (torch runs it, but those convs
see only zero padding around their centre tap). A map one pixel high but wider (or the reverse) before k×k
convs is legal and keeps information along its long side; it is reported in :attr:`Analysis.warnings`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import field
from typing import TYPE_CHECKING, Literal

from resnetdsl import plan as P
from resnetdsl.errors import Issue, Path, SpecError
from resnetdsl.ops import DESCRIPTIONS, counts
from resnetdsl.ops.base import Description, Shape, Window
from resnetdsl.records import record
from resnetdsl.walk import Part, Visitor, run_block, run_plan, work_id, work_key

if TYPE_CHECKING:
    from resnetdsl.load import SourceMap
    from resnetdsl.spec import Spec

CIFAR_STEM_HINT = "for small inputs use the CIFAR stem (stem: {kind: conv3, pool: none})"


@record
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


@record
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
            if layer.frozen:
                frozen += layer.params
        return Totals(params, buffers, macs, acts, frozen)


@record
class BlockInfo:
    stage: P.Stage
    block: P.Block
    path: str
    """Module path of the block (``layer1.0``)."""
    in_shape: Shape
    out_shape: Shape
    layers: tuple[LayerInfo, ...]
    totals: Totals


@record
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


@record
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


# --- what the checks ask of an op -------------------------------------------------------------------------


def in_channels_of(op: P.Op) -> int | None:
    """The channel count ``op`` requires of its input (``None``: any)."""
    return DESCRIPTIONS[type(op)].in_channels(op)


def stride_of(op: P.Op) -> int:
    """How much ``op`` downsamples (1: not at all)."""
    return DESCRIPTIONS[type(op)].stride(op)


def stem_stride(plan: P.Plan) -> int:
    """Total downsampling of the stem (4 for the ImageNet stem, 1 for the CIFAR stem)."""
    total = 1
    for op in plan.stem:
        total *= stride_of(op)
    return total


# --- the walk (input-size checks on the way) ----------------------------------------------------------------


def format_shape(dims: Sequence[int], sep: str = "×") -> str:
    """``(64, 56, 56)`` → ``64×56×56``: how every part of resnetdsl writes a shape."""
    return sep.join(str(d) for d in dims)


@record
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


_TOP: tuple[Part, ...] = ("stem", "final", "head")


class _Analyzer(Visitor[Shape]):
    """The walk of a plan with shapes: each op's :class:`LayerInfo`, each block's and stage's totals, and the
    checks of the input size as the map shrinks."""

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
        last: Path = ("stages", plan.stages[-1].index) if plan.stages else ("stem",)
        self.top: dict[str, tuple[Path, bool]] = {"stem": (("stem",), plan.frozen(None)), "final": (last, False)}
        self.top["head"] = (("head",), False)
        self.sections: dict[str, list[LayerInfo]] = {part: [] for part in _TOP}
        self.layers: list[LayerInfo] = []
        """The layers of the blocks, in walk order."""
        self.flat = False
        self.where: Path = ("stem",)
        self.frozen = False
        self.prefix = ""
        self.stages: list[StageInfo] = []
        self.blocks: list[BlockInfo] = []
        self.stage_in: Shape = start
        self.done: dict[tuple[object, ...], tuple[Shape, tuple[LayerInfo, ...], Totals]] = {}
        """Per block already analysed (its work, input shape and context): its output, layers and totals."""
        self.same: dict[tuple[object, ...], tuple[Shape, tuple[LayerInfo, ...], Totals]] = {}
        """The same, keyed by the identity of the block's op tuples (which the plan holds for the whole walk)."""

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

    # -- the walk --

    def op(self, op: P.Op, x: Shape, part: Part) -> Shape:
        d = DESCRIPTIONS[type(op)]  # KeyError: an op type without a description
        top = self.top.get(part)
        if top is not None:
            where, frozen = top
            path = op.name
        else:
            where, frozen, path = self.where, self.frozen, self.prefix + op.name
        need = d.in_channels(op)
        if need is not None and need != x[0]:
            raise SpecError([self._channel_issue(path, need, x[0], where)])
        y, macs, acts = d.infer(op, x)
        self._check(op, d, path, x, y, where)
        if d.flattens:
            self.flat = True
        params, buffers, _ = counts(op)
        info = LayerInfo(path, op, x, y, params, buffers, macs, acts, part, self.flat, frozen)
        (self.layers if top is None else self.sections[part]).append(info)
        return y

    def block(self, stage: P.Stage, block: P.Block, x: Shape) -> Shape:
        if not self.blocks:  # the stage's first block
            self.stage_in = x
            self.where = ("stages", stage.index)
            self.frozen = self.plan.frozen(stage.index)
        self.prefix = prefix = f"{stage.name}.{block.name}."
        # a stage's blocks after the first mostly repeat one another: the same ops on the same shape in the same
        # stage give the same layers (but for their paths) and the same checks, which found nothing the first time
        context = (x, self.where, self.frozen, self.flat)
        # first by the identity of the op tuples (lowering shares them among a stage's blocks alike), then by value
        same = (work_id(block), *context)
        seen = self.same.get(same)
        if seen is not None:  # the very same ops: each layer's op is this block's
            y, before, totals = seen
            layers = tuple([_moved(layer, prefix, layer.op) for layer in before])
            self.layers += layers
        elif (seen := self.done.get(key := (work_key(block), *context))) is not None:
            y, before, totals = seen
            layers = tuple([_moved(layer, prefix, op) for layer, op in zip(before, block.ops(), strict=True)])
            self.layers += layers
        else:
            first, marks = len(self.layers), self._marks()
            y = run_block(block, x, self)
            layers = tuple(self.layers[first:])
            totals = Totals.of(layers)
            if self._marks() == marks:  # a block that moved no mark of the input-size checks can be reused
                self.done[key] = self.same[same] = (y, layers, totals)
        self.blocks.append(BlockInfo(stage, block, prefix[:-1], x, y, layers, totals))
        return y

    def _marks(self) -> tuple[object, ...]:
        return (self.small, self.one, len(self.warnings), len(self.wide), self.flat)

    def add(self, main: Shape, shortcut: Shape) -> Shape:
        if shortcut != main:
            says = f"main path gives {format_shape(main)} but the shortcut gives {format_shape(shortcut)}"
            raise SpecError([self.issue(self.where, f"{self.prefix[:-1]}: {says}")])
        return main

    def stage_end(self, stage: P.Stage, x: Shape) -> None:
        blocks = tuple(self.blocks)
        self.stages.append(StageInfo(stage, self.stage_in, x, blocks, sum((b.totals for b in blocks), Totals())))
        self.blocks = []

    # -- the checks of the input size --

    def _check(self, op: P.Op, d: Description, path: str, x: Shape, y: Shape, where: Path) -> None:
        if y[1] < 1 or y[2] < 1:
            says = f"the feature map collapses to {y[1]}×{y[2]} at {path} for a {format_shape(self.start)} input"
            raise SpecError([self.issue(where, says + self.hint())])
        thin = x[1] == 1 or x[2] == 1
        if thin and self.small is not None and (s := d.stride(op)) > 1:
            small = self.small
            says = f"{small.says(self.start)}, but {path} still downsamples it (stride {s}){self.hint()}"
            raise SpecError([self.issue(small.where, says)])
        if d.family == "conv":
            window = d.reach(op)
            # the checks of a conv are about a map one pixel high or wide, or a dilated kernel
            if isinstance(window, Window) and (thin or window.dilation > 1):
                self._check_conv(window, path, x, where)
        if (y[1] == 1 or y[2] == 1) and d.reach(op) != "global":  # a global pool is meant to reach 1×1
            if self.small is None:
                self.small = _Small(where, path, (y[1], y[2]))
            if self.one is None and y[1:] == (1, 1):
                self.one = _Small(where, path, (1, 1))

    def _check_conv(self, window: Window, path: str, x: Shape, where: Path) -> None:
        k, one, thin_since = window.kernel, self.one, self.small
        if k > 1 and x[1:] == (1, 1) and one:
            # torch would run it, but nothing spatial is left: every k×k conv after this point multiplies
            # zero padding around its centre tap. For the network a spec describes, that is a collapse.
            says = f"{one.says(self.start)}, so the {k}×{k} convs after it (first: {path}) see zero padding"
            raise SpecError([self.issue(one.where, f"{says} around the centre tap only{self.hint()}")])
        thin = (x[1] == 1) != (x[2] == 1)
        if k > 1 and thin and thin_since and not self.warnings:
            # one side is gone but the other still carries information: legal, but most taps are padding
            pad = "above and below" if x[1] == 1 else "left and right"
            says = f"{thin_since.says(self.start)}, so the {k}×{k} convs after it (first: {path}) see zero padding"
            self.warnings.append(self.issue(thin_since.where, f"{says} {pad}{self.hint()}", warning=True))
        d = window.dilation
        if d > 1 and d >= min(x[1], x[2]):
            self.wide.setdefault(where, (path, d, x[1], x[2]))

    def _channel_issue(self, path: str, need: int, got: int, where: Path) -> Issue:
        if where == ("stem",) and path == self.plan.stem[0].name:
            return self.issue(
                ("input", "channels"),
                f"the input has {got} channel{'s' if got != 1 else ''} but {path} takes {need}",
            )
        return self.issue(where, f"{path} takes {need} channels but receives {got}")


def _moved(layer: LayerInfo, prefix: str, op: P.Op) -> LayerInfo:
    """``layer`` as the equal ``op`` of another block, whose path starts with ``prefix``."""
    return LayerInfo(
        prefix + op.name,
        op,
        layer.in_shape,
        layer.out_shape,
        layer.params,
        layer.buffers,
        layer.macs,
        layer.acts,
        layer.role,
        layer.flattened,
        layer.frozen,
    )


def _dilation_warnings(plan: P.Plan, walk: _Analyzer) -> list[Issue]:
    """A dilated conv whose dilation is at least the height or width of the map it reads sees only zero padding
    through its off-centre taps: the receptive field outgrows the input, and the dilation buys nothing."""
    if not walk.wide:
        return []  # the common case: no walk over the plan for receptive fields
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
    walk = _Analyzer(plan, start, source, input_name)
    x = run_plan(plan, start, walk)
    out: tuple[int, ...] = (x[0],) if plan.head else x
    walk.warnings += _dilation_warnings(plan, walk)
    stem, final, head = (tuple(walk.sections[part]) for part in _TOP)
    stages = tuple(walk.stages)
    # the stages' totals are their blocks' (a repeated block's counted once, with its layers): whole numbers add alike
    totals = sum((s.totals for s in stages), Totals.of(stem)) + Totals.of(final) + Totals.of(head)
    return Analysis(plan, start, stem, stages, head, out, totals, tuple(walk.warnings), final=final)


def analyze_spec(spec: Spec, input_size: tuple[int, int] | None = None, in_channels: int | None = None) -> Analysis:
    """Lower ``spec`` and analyse it; errors point at the spec's file:line:col.

    Raises:
        SpecError: the spec is invalid, or the input does not fit (see :func:`analyze`).
    """
    from resnetdsl.lower import lower

    return analyze(lower(spec), input_size, in_channels, source=spec._source)
