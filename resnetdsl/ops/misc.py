"""The classifier and the ops between: linear layer, flatten, dropout, stochastic depth (drop path)."""

from __future__ import annotations

from typing import TypeVar

from resnetdsl import plan as P
from resnetdsl.ops.base import Entry, FoldRole, OpType, Shape, Tracker

PLAIN_FILL = "#eeeeee"


class LinearType(OpType[P.Linear]):
    op = P.Linear
    family = "linear"
    fill = "#f6d8cf"
    line = "start"
    channels_field = "in_features"
    whole_map = True

    def infer(self, op: P.Linear, x: Shape) -> tuple[Shape, int, int]:
        return (op.out_features, 1, 1), op.in_features * op.out_features, 0

    def entries(self, op: P.Linear) -> tuple[Entry, ...]:
        weight = Entry("weight", (op.out_features, op.in_features), True)
        return (weight, Entry("bias", (op.out_features,), True)) if op.bias else (weight,)

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


Drop = TypeVar("Drop", P.Dropout, P.DropPath)


class _Regulariser(OpType[Drop]):
    """Random zeroing in training, the identity in eval mode (so the inference pass drops it and the op before
    it decides whether the output is fresh)."""

    family = "misc"
    fresh = None

    def saves(self, op: Drop, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        if op.p <= 0:
            return x
        t.save(t.new(self.mask(size_out)))
        return t.new(size_out)

    def mask(self, size_out: int) -> int:
        """Elements per sample of the mask a training step keeps."""
        raise NotImplementedError

    def fold_role(self, op: Drop) -> FoldRole:
        return "drop"


class DropoutType(_Regulariser[P.Dropout]):
    op = P.Dropout

    def mask(self, size_out: int) -> int:
        # on CPU a scaled noise tensor of the input's dtype (CUDA's fused kernel saves a bool mask instead)
        return size_out

    def torch_name(self, op: P.Dropout) -> str:
        return f"Dropout p={op.p:g}"

    def label(self, op: P.Dropout) -> str:
        return f"dropout {op.p:g}"


class DropPathType(_Regulariser[P.DropPath]):
    op = P.DropPath

    def mask(self, size_out: int) -> int:
        return 1  # the per-sample scale

    def torch_name(self, op: P.DropPath) -> str:
        return f"DropPath p={op.p:.4g}"

    def label(self, op: P.DropPath) -> str:
        return f"drop path {op.p:.3g}"


DESCRIPTIONS = (LinearType(), FlattenType(), DropoutType(), DropPathType())
