"""The classifier and the ops between: linear layer, flatten, dropout, stochastic depth (drop path)."""

from __future__ import annotations

from resnetdsl import plan as P
from resnetdsl.ops.base import Entry, FoldRole, OpType, Reach, Shape, Tracker

PLAIN_FILL = "#eeeeee"


class LinearType(OpType[P.Linear]):
    op = P.Linear
    family = "linear"
    fill = "#f6d8cf"
    line = "start"

    def infer(self, op: P.Linear, x: Shape) -> tuple[Shape, int, int]:
        return (op.out_features, 1, 1), op.in_features * op.out_features, 0

    def entries(self, op: P.Linear) -> tuple[Entry, ...]:
        weight = Entry("weight", (op.out_features, op.in_features), True)
        return (weight, Entry("bias", (op.out_features,), True)) if op.bias else (weight,)

    def in_channels(self, op: P.Linear) -> int:
        return op.in_features

    def reach(self, op: P.Linear) -> Reach:
        return "global"

    def saves(self, op: P.Linear, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        t.save(x)  # the weight's gradient needs the input
        return t.new(size_out)

    def torch_name(self, op: P.Linear) -> str:
        return "Linear"

    def label(self, op: P.Linear) -> str:
        return f"fc, {op.out_features}" + ("" if op.bias else ", no bias")


class FlattenType(OpType[P.Flatten]):
    op = P.Flatten
    family = "misc"
    flattens = True

    def saves(self, op: P.Flatten, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        return x  # a view

    def torch_name(self, op: P.Flatten) -> str:
        return "Flatten"

    def label(self, op: P.Flatten) -> str:
        return "flatten"


class DropoutType(OpType[P.Dropout]):
    op = P.Dropout
    family = "misc"
    fresh = None  # the identity in eval mode

    def saves(self, op: P.Dropout, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        if op.p <= 0:
            return x
        # the mask: on CPU a scaled noise tensor of the input's dtype (CUDA's fused kernel saves a bool mask)
        t.save(t.new(size_out))
        return t.new(size_out)

    def fold_role(self, op: P.Dropout) -> FoldRole:
        return "drop"

    def torch_name(self, op: P.Dropout) -> str:
        return f"Dropout p={op.p:g}"

    def label(self, op: P.Dropout) -> str:
        return f"dropout {op.p:g}"


class DropPathType(OpType[P.DropPath]):
    op = P.DropPath
    family = "misc"
    fresh = None  # the identity in eval mode: the op before decides

    def saves(self, op: P.DropPath, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        if op.p <= 0:
            return x
        t.save(t.new(1))  # the per-sample scale
        return t.new(size_out)

    def fold_role(self, op: P.DropPath) -> FoldRole:
        return "drop"

    def torch_name(self, op: P.DropPath) -> str:
        return f"DropPath p={op.p:.4g}"

    def label(self, op: P.DropPath) -> str:
        return f"drop path {op.p:.3g}"


DESCRIPTIONS = (LinearType(), FlattenType(), DropoutType(), DropPathType())
