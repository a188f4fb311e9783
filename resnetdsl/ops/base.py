"""What a description of an op type holds: the one place every torch-free backend reads about it.

An :class:`OpType` tells, for the plan ops of one class: the output shape and the exact cost (MACs,
activations; parameters and buffers come from its state_dict :class:`Entry` list, so the two cannot drift), the
channel count it requires of its input and its stride, its receptive-field behaviour (:class:`Window`,
``"neutral"`` or ``"global"``), what a training step saves for backward (the memory rule), its role for
inference folding, how summaries name it and diagrams word and colour it, and whether its output is a fresh
tensor. Nothing here imports torch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, NamedTuple, Protocol, TypeVar, cast

if TYPE_CHECKING:
    from resnetdsl.ops.branches import Branches

Shape = tuple[int, int, int]
"""C, H, W (a flat vector of C features is C×1×1)."""

OpT = TypeVar("OpT")

FoldRole = Literal["keep", "drop", "norm", "conv", "inner"]
"""What the inference pass does with an op: ``keep`` it, ``drop`` it (the identity in eval mode), fold it into the
conv before it (``norm``: an affine of fixed statistics), or take a following ``norm`` into its weights
(``conv``); ``inner``: a composite op whose own convs take their norms (:meth:`OpType.inner_folds`), kept."""

Line = Literal["join", "start", "own"]
"""Where a diagram node's text puts the op: ``join`` the current line, ``start`` a new one (a conv and what
follows it), or take a line of its ``own`` (channel attention)."""


class Entry(NamedTuple):
    """One tensor of an op's module in the ``state_dict``."""

    name: str
    """Relative to the op's module: ``weight``, ``fc1.bias``."""
    shape: tuple[int, ...]
    """``()`` for a scalar (``num_batches_tracked``)."""
    param: bool
    """A parameter (trained) rather than a buffer."""


class Window(NamedTuple):
    """A sliding window, as the receptive field sees it."""

    kernel: int
    stride: int
    dilation: int = 1


Reach = Window | Literal["neutral", "global"]
"""Receptive-field behaviour: a sliding window, ``neutral`` (keeps the geometry) or ``global``."""


class Tracker(Protocol):
    """The symbolic tensors of a training step (:mod:`resnetdsl.memory`): a memory rule makes and saves them."""

    batch: int
    shape: tuple[int, int, int]
    """The input shape (C, H, W) of the op whose rule runs (a rule whose saved tensors are not the input's size
    nor the output's, such as a blur pool's padded input, reads it)."""

    def new(self, per_sample: int, elem: int | None = None, batched: bool = True) -> int:
        """A new tensor of ``per_sample`` elements per sample (``elem`` bytes each, else the activations' dtype);
        its id."""
        ...

    def save(self, tid: int) -> None:
        """Autograd keeps tensor ``tid`` for backward."""
        ...


STAT_BYTES = 4
"""Batch and group norm statistics are saved in float32 (also for bfloat16 activations on CPU)."""
INDEX_BYTES = 8
"""Max pooling saves int64 indices."""


def save_new(t: Tracker, *per_sample: int) -> None:
    """Save a new tensor of each of these sizes (elements per sample) for backward."""
    for n in per_sample:
        t.save(t.new(n))


def save_stats(t: Tracker, count: int) -> None:
    """Save a norm's mean and inverse std for backward: ``count`` float32 values each, for the whole batch."""
    t.save(t.new(count, STAT_BYTES, batched=False))
    t.save(t.new(count, STAT_BYTES, batched=False))


def conv_entries(out_channels: int, in_per_group: int, kernel: tuple[int, ...], bias: bool) -> tuple[Entry, ...]:
    """A convolution's weight (and bias): the building block of composite ops (SE's ``fc1``, ``fc2``)."""
    weight = Entry("weight", (out_channels, in_per_group, *kernel), True)
    return (weight, Entry("bias", (out_channels,), True)) if bias else (weight,)


def batch_norm_entries(channels: int, *, trained: bool = True, tracked: bool = True) -> tuple[Entry, ...]:
    """A batch norm's affine and statistics; a frozen one holds them all as buffers, without a batch counter."""
    c = (channels,)
    out: tuple[Entry, ...] = (Entry("weight", c, trained), Entry("bias", c, trained))
    out += (Entry("running_mean", c, False), Entry("running_var", c, False))
    return (*out, Entry("num_batches_tracked", (), False)) if tracked else out


def nested(prefix: str, entries: tuple[Entry, ...]) -> tuple[Entry, ...]:
    """The entries of a sub-module ``prefix`` of a composite op (``fc1`` → ``fc1.weight``)."""
    return tuple(Entry(f"{prefix}.{e.name}", e.shape, e.param) for e in entries)


def out_len(size: int, k: int, s: int, p: int, d: int = 1, ceil: bool = False) -> int:
    """Output length of a sliding window, as torch computes it (0 where torch refuses the input)."""
    n = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)) // s + 1
    if ceil and (n - 1) * s >= size + p:  # the last window must start inside the input or the left padding
        n -= 1
    return max(n, 0)


def numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


class OpType(ABC, Generic[OpT]):
    """The description of one plan op type. Subclasses set :attr:`op` and override what differs from a
    parameter-free op that keeps the shape; :meth:`torch_name`, :meth:`label` and :meth:`saves` every op type
    must say."""

    op: ClassVar[type]
    """The plan op class described."""
    family: ClassVar[str]
    """``conv``, ``norm``, ``act``, ``pool``, ``attention``, ``shortcut``, ``linear``, ``misc``: what kind of layer
    it is (the analyzer's small-map checks apply to ``conv``; a diagram's avg-pool shortcut is one with a
    ``pool``)."""
    fill: ClassVar[str] = "#eeeeee"
    """Diagram fill colour."""
    line: ClassVar[Line] = "join"
    """Where a diagram node's text puts the op (:data:`Line`)."""
    legend: ClassVar[str | None] = None
    """A note for the diagram's legend when a block uses the op (channel attention explains its label)."""
    fresh: ClassVar[bool | None] = False
    """The output is a fresh tensor no one else holds (a residual add may then write into it); ``None``: the op
    hands its input on in eval mode (drop path, dropout), so the op before it decides."""
    flattens: ClassVar[bool] = False
    """The output is a flat feature vector (``Flatten``)."""
    channels_field: ClassVar[str | None] = None
    """The op's field that holds the channel count it requires of its input (``channels``, ``in_channels``):
    what :meth:`in_channels` returns; ``None``: any."""
    strided: ClassVar[bool] = False
    """The op's ``stride`` field is how much it downsamples (:meth:`stride`); otherwise it keeps the size."""
    mark: ClassVar[str | None] = None
    """What :meth:`block_mark` says by default."""
    whole_map: ClassVar[bool] = False
    """Every output position sees the whole input (channel attention's mean, a global pool): :meth:`reach` is
    ``global``; otherwise ``neutral``."""

    # --- shape and cost --------------------------------------------------------------------------------------

    def infer(self, op: OpT, x: Shape) -> tuple[Shape, int, int]:
        """Output shape, MACs (multiply-accumulates of conv and linear layers) and activations (elements of
        every conv output, pycls' convention) for an input of shape ``x``."""
        return x, 0, 0

    def entries(self, op: OpT) -> tuple[Entry, ...]:
        """The op's parameters and buffers, as its module holds them (in registration order)."""
        return ()

    def in_channels(self, op: OpT) -> int | None:
        """The channel count the op requires of its input (``None``: any); by default its
        :attr:`channels_field`."""
        field = self.channels_field
        return None if field is None else int(getattr(op, field))

    def stride(self, op: OpT) -> int:
        """How much the op downsamples (1: not at all); by default its ``stride`` where :attr:`strided`."""
        return int(cast(Any, op).stride) if self.strided else 1

    def reach(self, op: OpT) -> Reach:
        """Receptive field: a sliding window, ``neutral`` (keeps the geometry) or ``global`` (every output
        position sees the whole input: channel attention's mean, a global pool); by default from
        :attr:`whole_map`."""
        return "global" if self.whole_map else "neutral"

    def norm_groups(self, op: OpT) -> int | None:
        """A grouped norm (group norm, EvoNorm-S0): the groups it splits its channels into, which must divide
        them; ``None`` for every other op."""
        return None

    def batch_stats(self, op: OpT) -> bool:
        """The op keeps batch statistics that ``norm_eval`` can hold fixed (a batch norm)."""
        return False

    # --- training memory -------------------------------------------------------------------------------------

    @abstractmethod
    def saves(self, op: OpT, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        """What a training step keeps for backward: save tensors on ``t`` (the input is tensor ``x``; sizes are
        elements per sample); returns the output's tensor id (``x`` itself for an in-place op or a view)."""

    # --- inference folding -----------------------------------------------------------------------------------

    def fold_role(self, op: OpT) -> FoldRole:
        return "keep"

    def inner_folds(self, op: OpT) -> tuple[tuple[str, str], ...]:
        """A composite op (fold role ``inner``): the (conv, norm) pairs of its sub-modules that fold for inference,
        by path relative to its module."""
        return ()

    def beside(self, op: OpT) -> tuple[Any, ...]:
        """A composite op whose modules sit beside it on the block under their own names (Res2Net's ``convs.0``,
        ``bns.0``, ``pool``): those sub-ops, named relative to the block, in registration order; the state_dict
        listing and the importer's check read them instead of the op, and :meth:`inner_folds` paths start at the
        block. ``()`` for most ops."""
        return ()

    # --- names -----------------------------------------------------------------------------------------------

    def block_mark(self, op: OpT) -> str | None:
        """The word a summary's block row adds for this op (``SE``, ``group norm``): what the block has beyond a
        plain batch-norm block; ``None`` for most ops. By default its :attr:`mark`."""
        return self.mark

    @abstractmethod
    def torch_name(self, op: OpT) -> str:
        """How summaries name the op: its torch layer with kernel, stride and groups where it has them
        (``Conv2d 3×3/2``)."""

    @abstractmethod
    def label(self, op: OpT) -> str:
        """What the op does, in the words of a ResNet lecture, for diagrams (``3×3 conv, 64 /2``)."""

    def shortcut_words(self, op: OpT) -> tuple[str, str]:
        """How a shortcut edge's label writes the op: (separator from the op before, text); no text: left out."""
        return " → ", self.label(op)

    def fill_of(self, op: OpT) -> str:
        return self.fill

    def branches(self, op: OpT, x: Shape) -> Branches | None:
        """A multi-branch op's branches and how they merge, for an input of shape ``x``, as the diagrams draw
        them (:class:`~resnetdsl.ops.branches.Branches`); ``None`` (most ops): drawn as one node."""
        return None


Description = OpType[Any]


def stride_text(s: int) -> str:
    """`` /2`` for a stride of 2, nothing for 1."""
    return f" /{s}" if s != 1 else ""


def kernel_text(k: int, s: int) -> str:
    """``3×3/2``: a square kernel and its stride (for summaries)."""
    return f"{k}×{k}" + (f"/{s}" if s > 1 else "")
