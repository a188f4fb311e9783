"""Training memory known before training: activations a step keeps for backward, parameters, gradients and
optimizer state, exactly, from the plan (no torch).

The activation figure counts the distinct tensors autograd saves during one training-mode forward pass
(parameters and buffers excluded: they live anyway). Each op type has a rule in :data:`RULES` saying which
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

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from resnetdsl import plan as P
from resnetdsl.analyze import Analysis, LayerInfo

DTYPE_BYTES = {"float32": 4, "bfloat16": 2}
STAT_BYTES = 4
"""Batch and group norm statistics are saved in float32 (also for bfloat16 activations on CPU)."""
INDEX_BYTES = 8


@dataclass
class _Tracker:
    """Symbolic tensors (id → bytes) and the set of those saved for backward, attributed to a section."""

    batch: int
    elem: int
    sizes: list[int] = field(default_factory=list)
    saved: dict[int, str] = field(default_factory=dict)
    section: str = "stem"

    def new(self, per_sample: int, elem: int | None = None, batched: bool = True) -> int:
        self.sizes.append(per_sample * (self.batch if batched else 1) * (elem or self.elem))
        return len(self.sizes) - 1

    def save(self, tid: int) -> None:
        self.saved.setdefault(tid, self.section)


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


Rule = Callable[[Any, int, LayerInfo, _Tracker], int]


def _conv(op: P.Conv | P.Linear, x: int, info: LayerInfo, t: _Tracker) -> int:
    t.save(x)
    return t.new(_numel(info.out_shape))


def _norm(op: P.Norm, x: int, info: LayerInfo, t: _Tracker) -> int:
    if op.kind == "frozen_batch":
        t.save(t.new(op.channels, batched=False))
        return t.new(_numel(info.out_shape))
    t.save(x)
    stats = op.channels if op.kind == "batch" else op.groups * t.batch
    t.save(t.new(stats, STAT_BYTES, batched=False))
    t.save(t.new(stats, STAT_BYTES, batched=False))
    return t.new(_numel(info.out_shape))


def _norm_act(op: P.NormAct, x: int, info: LayerInfo, t: _Tracker) -> int:
    t.save(x)
    t.save(t.new(op.channels, STAT_BYTES, batched=False))
    t.save(t.new(op.channels, STAT_BYTES, batched=False))
    out = t.new(_numel(info.out_shape))
    t.save(out)
    return out


def _act(op: P.Act, x: int, info: LayerInfo, t: _Tracker) -> int:
    if op.kind in ("relu", "leaky_relu"):
        if op.inplace:
            t.save(x)
            return x
        out = t.new(_numel(info.out_shape))
        t.save(out)
        return out
    if op.inplace and op.kind != "gelu":  # the in-place form saves a copy of its input, then overwrites it
        t.save(t.new(_numel(info.in_shape)))
        return x
    t.save(x)
    return t.new(_numel(info.out_shape))


def _pool(op: P.Pool, x: int, info: LayerInfo, t: _Tracker) -> int:
    t.save(x)
    if op.kind == "max":
        t.save(t.new(_numel(info.out_shape), INDEX_BYTES))
    return t.new(_numel(info.out_shape))


def _global_pool(op: P.GlobalPool, x: int, info: LayerInfo, t: _Tracker) -> int:
    if op.kind == "max":  # global average pooling runs as a mean, which needs only sizes
        t.save(x)
        t.save(t.new(_numel(info.out_shape), INDEX_BYTES))
    return t.new(_numel(info.out_shape))


def _same(op: P.Op, x: int, info: LayerInfo, t: _Tracker) -> int:
    return x


def _dropout(op: P.Dropout, x: int, info: LayerInfo, t: _Tracker) -> int:
    if op.p <= 0:
        return x
    t.save(t.new(_numel(info.out_shape)))  # on CPU the mask is a scaled noise tensor of the input's dtype
    return t.new(_numel(info.out_shape))


def _drop_path(op: P.DropPath, x: int, info: LayerInfo, t: _Tracker) -> int:
    if op.p <= 0:
        return x
    t.save(t.new(1))
    return t.new(_numel(info.out_shape))


def _pad(op: P.PadShortcut, x: int, info: LayerInfo, t: _Tracker) -> int:
    return x if op.out_channels == op.in_channels else t.new(_numel(info.out_shape))


def _se(op: P.SqueezeExcite, x: int, info: LayerInfo, t: _Tracker) -> int:
    t.save(x)
    t.save(t.new(op.channels))
    t.save(t.new(op.reduced_channels))
    t.save(t.new(op.channels))
    return t.new(_numel(info.out_shape))


def _eca(op: P.EfficientChannelAttn, x: int, info: LayerInfo, t: _Tracker) -> int:
    t.save(x)
    t.save(t.new(op.channels))
    t.save(t.new(op.channels))
    return t.new(_numel(info.out_shape))


RULES: dict[type, Rule] = {
    P.Conv: _conv,
    P.Norm: _norm,
    P.NormAct: _norm_act,
    P.Act: _act,
    P.Pool: _pool,
    P.GlobalPool: _global_pool,
    P.Flatten: _same,
    P.Dropout: _dropout,
    P.Linear: _conv,
    P.Identity: _same,
    P.PadShortcut: _pad,
    P.SqueezeExcite: _se,
    P.EfficientChannelAttn: _eca,
    P.DropPath: _drop_path,
}
"""Op type → what it saves for backward and what its output is (see the module docstring)."""


def _apply(op: P.Op, x: int, info: LayerInfo, t: _Tracker) -> int:
    return RULES[type(op)](op, x, info, t)  # KeyError: an op type without a rule


def _inplace_add(block: P.Block) -> bool:
    last = next(op for op in reversed(block.main) if not isinstance(op, P.DropPath))
    return isinstance(last, P.Norm | P.Conv | P.SqueezeExcite | P.EfficientChannelAttn)


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
    x = t.new(_numel(analysis.input_shape))
    for info in analysis.stem:
        x = _apply(info.op, x, info, t)
    for st in analysis.stages:
        t.section = st.stage.name
        for bi in st.blocks:
            block = bi.block
            infos = {layer.path.rsplit(f"{bi.path}.", 1)[-1]: layer for layer in bi.layers}
            if st.stage.checkpoint:
                t.save(x)
                x = t.new(_numel(bi.out_shape))
                continue
            inp = x
            pre = x
            for op in block.pre:
                pre = _apply(op, pre, infos[op.name], t)
            out = pre
            for op in block.main:
                out = _apply(op, out, infos[op.name], t)
            if block.has_add:
                s = pre if block.shortcut_from_pre else inp
                for op in block.shortcut_ops:
                    s = _apply(op, s, infos[op.name], t)
                if not _inplace_add(block):
                    out = t.new(_numel(bi.out_shape))
            for op in block.post:
                out = _apply(op, out, infos[op.name], t)
            x = out
    t.section = "final"
    for info in analysis.final:
        x = _apply(info.op, x, info, t)
    t.section = "head"
    for info in analysis.head:
        x = _apply(info.op, x, info, t)
    sections: dict[str, int] = {"stem": 0, **{s.name: 0 for s in plan.stages}, "final": 0, "head": 0}
    for tid, section in t.saved.items():
        sections[section] += t.sizes[tid]
    if not plan.final:
        sections.pop("final")
    tensors = sum(_param_tensors(op) for _, op in plan.named_ops())
    return MemoryReport(batch, dtype, sections, analysis.totals.params, tensors)


def _param_tensors(op: P.Op) -> int:
    if isinstance(op, P.Conv | P.Linear):
        return 1 + int(op.bias)
    if isinstance(op, P.Norm):
        return 0 if op.kind == "frozen_batch" else 2
    if isinstance(op, P.NormAct):
        return 2
    if isinstance(op, P.SqueezeExcite):
        return 4
    if isinstance(op, P.EfficientChannelAttn):
        return 1
    return 0


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
