"""Normalisation: batch, group and frozen batch norm, and timm's norm-act modules (BatchNormAct2d, GroupNormAct,
EvoNorm2dS0, FilterResponseNormTlu2d: a norm and its nonlinearity in one module)."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from resnetdsl import plan as P
from resnetdsl.ops.base import STAT_BYTES, Entry, FoldRole, OpType, Tracker, batch_norm_entries, save_stats
from resnetdsl.vocab import ACTIVATIONS, GROUPED_NORMS, NORM_ACTS, NORMS

NORM_FILL = "#fbf1c7"

_LABELS = {"batch": "BN", "group": "GN", "frozen_batch": "frozen BN"}


Normed = TypeVar("Normed", P.Norm, P.NormAct)


class NormFamily(OpType[Normed]):
    """A norm (alone, or with its nonlinearity in one module) of its ``channels``: its ``kind`` says whether
    it groups them (:attr:`grouped`) and whether it keeps batch statistics."""

    family = "norm"
    fill = NORM_FILL
    channels_field = "channels"
    grouped: ClassVar[frozenset[str]]
    """The kinds that split the channels into ``groups``."""

    def norm_groups(self, op: Normed) -> int | None:
        return op.groups if op.kind in self.grouped else None

    def batch_stats(self, op: Normed) -> bool:
        return op.kind == "batch"

    def block_mark(self, op: Normed) -> str | None:
        return "group norm" if op.kind == "group" else None


class NormType(NormFamily[P.Norm]):
    op = P.Norm
    fresh = True
    grouped = frozenset({"group"})

    def entries(self, op: P.Norm) -> tuple[Entry, ...]:
        if op.kind == "group":  # weight and bias; no statistics
            return (Entry("weight", (op.channels,), True), Entry("bias", (op.channels,), True))
        return batch_norm_entries(op.channels, trained=op.kind == "batch", tracked=op.kind == "batch")

    def saves(self, op: P.Norm, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        if op.kind == "frozen_batch":  # the per-channel scale; the input not (the scale needs no grad)
            t.save(t.new(op.channels, batched=False))
            return t.new(size_out)
        t.save(x)  # the input, and the mean and inverse std (per channel, or per sample and group)
        stats = op.channels if op.kind == "batch" else op.groups * t.batch
        save_stats(t, stats)
        return t.new(size_out)

    def fold_role(self, op: P.Norm) -> FoldRole:
        # group norm normalises with its own input's statistics, not constants: it cannot fold
        return "keep" if op.kind == "group" else "norm"

    def torch_name(self, op: P.Norm) -> str:
        return NORMS[op.kind] + (f" g{op.groups}" if op.kind == "group" else "")

    def label(self, op: P.Norm) -> str:
        return _LABELS[op.kind] + (f" {op.groups}" if op.kind == "group" else "")

    def shortcut_words(self, op: P.Norm) -> tuple[str, str]:
        return " + ", self.label(op)  # a projection's norm: "1×1 conv /2 + BN"


class NormActType(NormFamily[P.NormAct]):
    op = P.NormAct
    grouped = frozenset(GROUPED_NORMS)

    def entries(self, op: P.NormAct) -> tuple[Entry, ...]:
        c = (op.channels,)
        affine = (Entry("weight", c, True), Entry("bias", c, True))
        if op.kind == "group":
            return affine
        if op.kind == "evonorm_s0":
            return (*affine, Entry("v", c, True))
        if op.kind == "frn":
            return (*affine, Entry("tau", c, True))
        return batch_norm_entries(op.channels)

    def saves(self, op: P.NormAct, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        # measured in float32 (tests/test_family_v2.py); the statistics are float32 in any dtype
        t.save(x)  # every kind keeps its input
        if op.kind == "evonorm_s0":  # the group std (N × groups), then σ(v·x), x·σ, the std spread out, the quotient
            t.save(t.new(op.groups * t.batch, STAT_BYTES, batched=False))
            # spreading the std over a group of one channel is a view of it; over wider groups, a copy
            for _ in range(4 if op.channels // op.groups > 1 else 3):
                t.save(t.new(size_in))
            return t.new(size_out)
        if op.kind == "frn":  # the inverse rms (N × C), the normalised and the affine tensors (max reads it)
            t.save(t.new(op.channels * t.batch, STAT_BYTES, batched=False))
            for _ in range(2):
                t.save(t.new(size_in))
            return t.new(size_out)
        # batch / group norm's statistics, then the ReLU's output (in place: the norm's output)
        stats = op.groups * t.batch if op.kind == "group" else op.channels
        save_stats(t, stats)
        out = t.new(size_out)
        t.save(out)
        return out

    def fold_role(self, op: P.NormAct) -> FoldRole:
        # only batch norm's eval-mode affine is constant; the others normalise with their input's own statistics
        return "norm" if op.kind == "batch" else "keep"

    def torch_name(self, op: P.NormAct) -> str:
        return NORM_ACTS[op.kind] + (f" g{op.groups}" if op.kind in GROUPED_NORMS else "")

    def label(self, op: P.NormAct) -> str:
        groups = f" {op.groups}" if op.kind in GROUPED_NORMS else ""
        return _NORM_ACT_LABELS[op.kind].format(groups=groups, act=ACTIVATIONS[op.act].torch)


_NORM_ACT_LABELS = {
    "batch": "BN-{act}",
    "group": "GN{groups}-{act}",
    "evonorm_s0": "EvoNorm-S0{groups}",
    "frn": "FRN-TLU",
}


DESCRIPTIONS = (NormType(), NormActType())
