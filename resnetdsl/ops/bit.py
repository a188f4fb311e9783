"""BiT's 'fixed' stem padding (issue 18, family c): a constant pad before the stem's unpadded max pool."""

from __future__ import annotations

from resnetdsl import plan as P
from resnetdsl.ops.base import Shape, Tracker
from resnetdsl.ops.pool import PoolFamily


class ConstantPadType(PoolFamily[P.ConstantPad]):
    op = P.ConstantPad
    fresh = True

    def infer(self, op: P.ConstantPad, x: Shape) -> tuple[Shape, int, int]:
        c, h, w = x
        p = 2 * op.padding
        return (c, h + p, w + p), 0, 0

    def saves(self, op: P.ConstantPad, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        return t.new(size_out)  # its backward slices the gradient: it saves nothing

    def torch_name(self, op: P.ConstantPad) -> str:
        return "ConstantPad2d"

    def label(self, op: P.ConstantPad) -> str:
        return f"pad {op.padding}" + (f" ({op.value:g})" if op.value else "")

    def shortcut_words(self, op: P.ConstantPad) -> tuple[str, str]:
        return " → ", self.label(op)


DESCRIPTIONS = (ConstantPadType(),)
