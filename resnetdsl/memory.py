"""Training memory known before training: activations a step keeps for backward, parameters, gradients and
optimizer state, exactly, from the plan (no torch).

The activation figure counts the distinct tensors autograd saves during one training-mode forward pass
(parameters and buffers excluded: they live anyway). Each op type's description has a rule
(:meth:`resnetdsl.ops.base.OpType.saves`; this module keeps the tracker and the walk) saying which
tensors it saves and whether its output is a new tensor or its input's storage (in-place ops, views). The rules,
each measured on torch 2.x with ``torch.autograd.graph.saved_tensors_hooks`` (tests/test_memory.py checks every
preset within 1 %):

==================  ==========================================================================================
op                  saves
==================  ==========================================================================================
conv, linear        its input (weight grads need it)
batch norm          its input, and the batch mean and inverse std (C float32 each)
group norm          its input, and mean and rstd (N × groups float32 each)
frozen batch norm   the per-channel scale (C); the input not (the scale needs no grad)
NormAct             batch norm's, then the ReLU's output (in place: the norm's output)
ReLU / LeakyReLU    in place: its output, the input's own storage; otherwise its new output
SiLU / Mish /       their input (the in-place forms save a copy of it — a new tensor of the input's size —
Hardswish / GELU    and write their output over it)
max pool            its input and the int64 indices of the output's size
avg pool            its input (``AvgPool2d``)
global avg pool     nothing (it runs as a mean over H, W, whose backward needs only sizes)
global max pool     its input and int64 indices (N × C)
flatten, identity   nothing; the output is a view of the input
dropout             the mask: on CPU a scaled noise tensor of the input's size and dtype (CUDA's fused
                    kernel saves a bool mask instead, 1 byte per element: the figure is then an upper bound)
drop path           the per-sample scale (N values)
SE                  its input, the pooled (N×C), fc1's output (N×reduced, the ReLU works in place), the gate (N×C)
ECA                 its input, the pooled (N×C), the gate (N×C)
zero-pad shortcut   nothing (slicing and padding need only sizes)
add                 nothing
==================  ==========================================================================================

Tensors are counted once however many ops save them (a conv and the next ReLU often save the same one). In a
``checkpoint: true`` stage each block keeps only its input (non-reentrant ``torch.utils.checkpoint`` holds the
block's arguments; everything inside is recomputed in backward).

Optimizer state (``torch.optim`` defaults, float32 parameters): SGD with momentum keeps one momentum buffer per
parameter (P values); Adam keeps ``exp_avg`` and ``exp_avg_sq`` (2P values) and one float32 ``step`` per
parameter tensor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from resnetdsl import plan as P
from resnetdsl.analyze import Analysis
from resnetdsl.ops import DESCRIPTIONS, counts
from resnetdsl.ops.base import INDEX_BYTES, STAT_BYTES, numel
from resnetdsl.walk import Part, Visitor, add_in_place, ops_in_forward_order, run_block, run_plan

__all__ = [
    "DTYPE_BYTES",
    "INDEX_BYTES",
    "STAT_BYTES",
    "MemoryReport",
    "activation_bytes",
    "activation_report",
    "format_memory",
    "memory_report",
]

DTYPE_BYTES = {"float32": 4, "bfloat16": 2}


@dataclass
class _Tracker:
    """Symbolic tensors (id → bytes) and the set of those saved for backward, attributed to a section (the
    :class:`~resnetdsl.ops.base.Tracker` each op's memory rule works on)."""

    batch: int
    elem: int
    sizes: list[int] = field(default_factory=list)
    saved: dict[int, str] = field(default_factory=dict)
    section: str = "stem"
    shape: tuple[int, int, int] = (0, 0, 0)
    """The input shape of the op whose rule runs (set by the walk before each rule)."""

    def new(self, per_sample: int, elem: int | None = None, batched: bool = True) -> int:
        self.sizes.append(per_sample * (self.batch if batched else 1) * (elem or self.elem))
        return len(self.sizes) - 1

    def save(self, tid: int) -> None:
        self.saved.setdefault(tid, self.section)


class _Step(Visitor[int]):
    """The walk of one training step: each op's rule (its description's :meth:`~resnetdsl.ops.base.OpType.saves`)
    on the tensor ids, the analysis giving each op's sizes (its layers come in walk order)."""

    def __init__(self, analysis: Analysis, t: _Tracker) -> None:
        self.t = t
        self.layers = analysis.layers()
        self.blocks = analysis.blocks()
        self.in_place = False
        self.out_size = 0

    def op(self, op: P.Op, x: int, part: Part) -> int:
        info = next(self.layers)
        assert info.op is op, (info.path, op.name)
        if part in ("final", "head"):
            self.t.section = part
        rule = DESCRIPTIONS[type(op)].saves  # KeyError: an op type without a description
        self.t.shape = info.in_shape
        return rule(op, x, self.t, numel(info.in_shape), numel(info.out_shape))

    def block(self, stage: P.Stage, block: P.Block, x: int) -> int:
        self.t.section = stage.name
        info = next(self.blocks)
        if not stage.checkpoint:
            self.in_place, self.out_size = add_in_place(block), numel(info.out_shape)
            return run_block(block, x, self)
        for _ in info.layers:  # a checkpointed block keeps only its input; the rest is recomputed in backward
            next(self.layers)
        self.t.save(x)
        return self.t.new(numel(info.out_shape))

    def add(self, main: int, shortcut: int) -> int:
        return main if self.in_place else self.t.new(self.out_size)  # an in-place add keeps the branch's tensor


@dataclass(frozen=True)
class MemoryReport:
    """Bytes one training step needs beyond the input batch's own tensors, per part of the network."""

    batch: int
    dtype: str
    activations: dict[str, int]
    """Section (``stem``, each stage's name, ``final``, ``head``) → bytes of the tensors saved there."""
    params: int
    """Parameter count (trainable values)."""
    param_tensors: int

    @property
    def activation_total(self) -> int:
        return sum(self.activations.values())

    @property
    def param_bytes(self) -> int:
        return self.params * DTYPE_BYTES[self.dtype]

    @property
    def grad_bytes(self) -> int:
        return self.param_bytes

    @property
    def sgd_state_bytes(self) -> int:
        """SGD with momentum: one momentum buffer per parameter."""
        return self.param_bytes

    @property
    def adam_state_bytes(self) -> int:
        """Adam: exp_avg and exp_avg_sq per parameter, and a float32 step count per parameter tensor."""
        return 2 * self.param_bytes + 4 * self.param_tensors


def activation_report(analysis: Analysis, batch: int, dtype: str = "float32") -> MemoryReport:
    """The memory report of one training step at ``batch`` (activations as ``dtype``: float32 or bfloat16).

    Raises:
        KeyError: the plan holds an op type without a rule.
    """
    plan = analysis.plan
    t = _Tracker(batch, DTYPE_BYTES[dtype], section="stem")  # the stem's first conv saves the input batch
    run_plan(plan, t.new(numel(analysis.input_shape)), _Step(analysis, t))
    sections: dict[str, int] = {"stem": 0, **{s.name: 0 for s in plan.stages}, "final": 0, "head": 0}
    for tid, section in t.saved.items():
        sections[section] += t.sizes[tid]
    if not plan.final:
        sections.pop("final")
    tensors = sum(counts(op)[2] for _, op in ops_in_forward_order(plan))
    return MemoryReport(batch, dtype, sections, analysis.totals.params, tensors)


def activation_bytes(plan: P.Plan, batch: int, dtype: str = "float32") -> int:
    """Total activation bytes a training step at ``batch`` keeps for backward (the plan's input size)."""
    from resnetdsl.analyze import analyze

    return activation_report(analyze(plan), batch, dtype).activation_total


def memory_report(source: Any, batch: int, input_size: tuple[int, int] | None = None) -> dict[str, MemoryReport]:
    """float32 and bfloat16 reports of a training step at ``batch``, for a spec in any form ``check`` takes.

    Raises:
        SpecError: the spec is invalid.
    """
    from resnetdsl.check import check

    analysis = check(source, input_size=input_size).analysis
    return {dtype: activation_report(analysis, batch, dtype) for dtype in DTYPE_BYTES}


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def format_memory(reports: dict[str, MemoryReport]) -> str:
    """The memory section ``summary --batch`` prints."""
    f32, bf16 = reports["float32"], reports["bfloat16"]
    width = max(len(k) for k in [*f32.activations, "SGD momentum", "activations"]) + 2
    lines = [
        "",
        f"Training memory at batch {f32.batch} (activations saved for backward; exact, see resnetdsl.memory):",
        f"  {'part':<{width}}{'float32':>14}{'bfloat16':>14}",
    ]
    for key, value in f32.activations.items():
        lines.append(f"  {key:<{width}}{_mib(value):>14}{_mib(bf16.activations[key]):>14}")
    lines.append(f"  {'activations':<{width}}{_mib(f32.activation_total):>14}{_mib(bf16.activation_total):>14}")
    lines.append(f"  {'parameters':<{width}}{_mib(f32.param_bytes):>14}{_mib(bf16.param_bytes):>14}")
    lines.append(f"  {'gradients':<{width}}{_mib(f32.grad_bytes):>14}{_mib(bf16.grad_bytes):>14}")
    lines.append(f"  {'SGD momentum':<{width}}{_mib(f32.sgd_state_bytes):>14}{_mib(bf16.sgd_state_bytes):>14}")
    lines.append(f"  {'Adam state':<{width}}{_mib(f32.adam_state_bytes):>14}{_mib(bf16.adam_state_bytes):>14}")
    for opt, state in (("SGD", f32.sgd_state_bytes), ("Adam", f32.adam_state_bytes)):
        total = f32.activation_total + f32.param_bytes + f32.grad_bytes + state
        lines.append(f"  total with {opt} (float32): {_mib(total)}")
    return "\n".join(lines) + "\n"
