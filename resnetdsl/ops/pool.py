"""Pooling: sliding-window max and average pools (timm's 'SAME' average pool among them) and global pools."""

from __future__ import annotations

from resnetdsl import plan as P
from resnetdsl.ops.base import INDEX_BYTES, OpType, Reach, Shape, Tracker, Window, kernel_text, out_len, stride_text
from resnetdsl.vocab import POOLS

POOL_FILL = "#e6dff2"


class PoolType(OpType[P.Pool]):
    op = P.Pool
    family = "pool"
    fill = POOL_FILL
    line = "start"

    def infer(self, op: P.Pool, x: Shape) -> tuple[Shape, int, int]:
        c, h, w = x
        s = op.stride
        if op.same:  # padded first to cover every position: ceil(size / stride) outputs
            return (c, -(-h // s), -(-w // s)), 0, 0
        k, p, ceil = op.kernel_size, op.padding, op.ceil_mode
        return (c, out_len(h, k, s, p, ceil=ceil), out_len(w, k, s, p, ceil=ceil)), 0, 0

    def stride(self, op: P.Pool) -> int:
        return op.stride

    def reach(self, op: P.Pool) -> Window:
        return Window(op.kernel_size, op.stride)

    def saves(self, op: P.Pool, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        t.save(x)
        if op.kind == "max":  # and the int64 indices of the maxima
            t.save(t.new(size_out, INDEX_BYTES))
        return t.new(size_out)

    def torch_name(self, op: P.Pool) -> str:
        return f"{POOLS[op.kind]}Pool2d {kernel_text(op.kernel_size, op.stride)}"

    def label(self, op: P.Pool) -> str:
        k = op.kernel_size
        return f"{k}×{k} {op.kind}pool{stride_text(op.stride)}"

    def shortcut_words(self, op: P.Pool) -> tuple[str, str]:
        return " → ", f"{op.kind}pool{stride_text(op.stride)}"


class GlobalPoolType(OpType[P.GlobalPool]):
    op = P.GlobalPool
    family = "pool"
    fill = POOL_FILL

    def infer(self, op: P.GlobalPool, x: Shape) -> tuple[Shape, int, int]:
        return (x[0], 1, 1), 0, 0

    def reach(self, op: P.GlobalPool) -> Reach:
        return "global"

    def saves(self, op: P.GlobalPool, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        if op.kind == "max":  # global average pooling runs as a mean, which needs only sizes
            t.save(x)
            t.save(t.new(size_out, INDEX_BYTES))
        return t.new(size_out)

    def torch_name(self, op: P.GlobalPool) -> str:
        return f"Adaptive{POOLS[op.kind]}Pool2d"

    def label(self, op: P.GlobalPool) -> str:
        return f"global {op.kind}pool"


DESCRIPTIONS = (PoolType(), GlobalPoolType())
