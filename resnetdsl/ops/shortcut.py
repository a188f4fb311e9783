"""Parameter-free shortcut ops: option A's zero-pad (subsample, append zero channels) and the identity."""

from __future__ import annotations

from resnetdsl import plan as P
from resnetdsl.ops.base import OpType, Shape, Tracker, Window, stride_text


class PadShortcutType(OpType[P.PadShortcut]):
    op = P.PadShortcut
    family = "shortcut"
    channels_field = "in_channels"
    strided = True

    def infer(self, op: P.PadShortcut, x: Shape) -> tuple[Shape, int, int]:
        _, h, w = x
        s = op.stride
        return (op.out_channels, -(-h // s), -(-w // s)), 0, 0

    def reach(self, op: P.PadShortcut) -> Window:
        return Window(1, op.stride)

    def saves(self, op: P.PadShortcut, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        # slicing and padding need only sizes; without padding the output is a view
        return x if op.out_channels == op.in_channels else t.new(size_out)

    def torch_name(self, op: P.PadShortcut) -> str:
        return "PadShortcut" + (f" /{op.stride}" if op.stride > 1 else "")

    def label(self, op: P.PadShortcut) -> str:
        if op.out_channels == op.in_channels:
            return f"subsample{stride_text(op.stride)}" if op.stride != 1 else "identity"
        return f"zero-pad{stride_text(op.stride)}"


class IdentityType(OpType[P.Identity]):
    op = P.Identity
    family = "shortcut"
    fresh = None  # hands its input on

    def saves(self, op: P.Identity, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        return x

    def torch_name(self, op: P.Identity) -> str:
        return "Identity"

    def label(self, op: P.Identity) -> str:
        return "identity"

    def shortcut_words(self, op: P.Identity) -> tuple[str, str]:
        return "", ""  # a stride-1 avg-pool shortcut's pool: nothing to say


DESCRIPTIONS = (PadShortcutType(), IdentityType())
