"""Activations: one description for every kind of :data:`resnetdsl.vocab.ACTIVATIONS`."""

from __future__ import annotations

from resnetdsl import plan as P
from resnetdsl.ops.base import OpType, Tracker
from resnetdsl.vocab import ACTIVATIONS


class ActType(OpType[P.Act]):
    op = P.Act
    family = "act"
    fill = "#dcefd5"

    def saves(self, op: P.Act, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        kind = ACTIVATIONS[op.kind]
        if kind.backward_reads == "output":
            if op.inplace:  # its output is the input's own storage
                t.save(x)
                return x
            out = t.new(size_out)
            t.save(out)
            return out
        if op.inplace and kind.inplace:  # the in-place form saves a copy of its input, then overwrites it
            t.save(t.new(size_in))
            return x
        t.save(x)
        return t.new(size_out)

    def torch_name(self, op: P.Act) -> str:
        return act_words(op.kind, op.negative_slope)

    def label(self, op: P.Act) -> str:
        return self.torch_name(op)


def act_words(kind: str, negative_slope: float) -> str:
    """An activation's torch name, with its slope where it has one (``LeakyReLU 0.1``): the words of an act op,
    and of the act inside a composite op."""
    act = ACTIVATIONS[kind]
    return act.torch + (f" {negative_slope:g}" if act.slope else "")


DESCRIPTIONS = (ActType(),)
