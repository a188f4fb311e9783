"""Normalisation: batch, group and frozen batch norm, and timm's BatchNormAct2d (norm + ReLU in one module)."""

from __future__ import annotations

from resnetdsl import plan as P
from resnetdsl.ops.base import STAT_BYTES, Entry, FoldRole, OpType, Tracker, batch_norm_entries
from resnetdsl.vocab import NORMS

NORM_FILL = "#fbf1c7"

_LABELS = {"batch": "BN", "group": "GN", "frozen_batch": "frozen BN"}


class NormType(OpType[P.Norm]):
    op = P.Norm
    family = "norm"
    fill = NORM_FILL
    fresh = True

    def entries(self, op: P.Norm) -> tuple[Entry, ...]:
        if op.kind == "group":  # weight and bias; no statistics
            return (Entry("weight", (op.channels,), True), Entry("bias", (op.channels,), True))
        return batch_norm_entries(op.channels, trained=op.kind == "batch", tracked=op.kind == "batch")

    def in_channels(self, op: P.Norm) -> int:
        return op.channels

    def saves(self, op: P.Norm, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        if op.kind == "frozen_batch":  # the per-channel scale; the input not (the scale needs no grad)
            t.save(t.new(op.channels, batched=False))
            return t.new(size_out)
        t.save(x)  # the input, and the mean and inverse std (per channel, or per sample and group)
        stats = op.channels if op.kind == "batch" else op.groups * t.batch
        t.save(t.new(stats, STAT_BYTES, batched=False))
        t.save(t.new(stats, STAT_BYTES, batched=False))
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


class NormActType(OpType[P.NormAct]):
    op = P.NormAct
    family = "norm"
    fill = NORM_FILL

    def entries(self, op: P.NormAct) -> tuple[Entry, ...]:
        return batch_norm_entries(op.channels)

    def in_channels(self, op: P.NormAct) -> int:
        return op.channels

    def saves(self, op: P.NormAct, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        t.save(x)  # batch norm's input and statistics, then the ReLU's output (in place: the norm's output)
        t.save(t.new(op.channels, STAT_BYTES, batched=False))
        t.save(t.new(op.channels, STAT_BYTES, batched=False))
        out = t.new(size_out)
        t.save(out)
        return out

    def fold_role(self, op: P.NormAct) -> FoldRole:
        return "norm"

    def torch_name(self, op: P.NormAct) -> str:
        return "BatchNormAct2d"

    def label(self, op: P.NormAct) -> str:
        return "BN-ReLU"


DESCRIPTIONS = (NormType(), NormActType())
