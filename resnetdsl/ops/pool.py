"""Pooling: sliding-window max and average pools (timm's 'SAME' average pool among them) and global pools."""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar, Protocol, TypeVar

from resnetdsl import plan as P
from resnetdsl.ops.base import (
    INDEX_BYTES,
    Line,
    OpT,
    OpType,
    Shape,
    Tracker,
    Window,
    kernel_text,
    out_len,
    stride_text,
)
from resnetdsl.vocab import POOLS

POOL_FILL = "#e6dff2"


class PoolFamily(OpType[OpT]):
    """A pool or padding: drawn in the pools' colour."""

    family = "pool"
    fill = POOL_FILL


class _Strided(Protocol):
    @property
    def stride(self) -> int: ...


Pool = TypeVar("Pool", bound=_Strided)
"""A sliding-window pool op (max or average pool, blur pool)."""


class WindowPool(PoolFamily[Pool]):
    """A sliding-window pool (max, average, blur): its reach, summary name, label and shortcut words come from
    its kernel (the op's :attr:`kernel_field`), its stride and its :meth:`words`."""

    line: ClassVar[Line] = "start"
    strided = True
    kernel_field: ClassVar[str] = "kernel_size"

    def kernel(self, op: Pool) -> int:
        return int(getattr(op, self.kernel_field))

    @abstractmethod
    def words(self, op: Pool) -> tuple[str, str, str]:
        """Its torch class's first word (``Max``), and its words in a diagram's node and on a shortcut."""

    def reach(self, op: Pool) -> Window:
        return Window(self.kernel(op), op.stride)

    def torch_name(self, op: Pool) -> str:
        return f"{self.words(op)[0]}Pool2d {kernel_text(self.kernel(op), op.stride)}"

    def label(self, op: Pool) -> str:
        k = self.kernel(op)
        return f"{k}×{k} {self.words(op)[1]}{stride_text(op.stride)}"

    def shortcut_words(self, op: Pool) -> tuple[str, str]:
        return " → ", f"{self.words(op)[2]}{stride_text(op.stride)}"


class PoolType(WindowPool[P.Pool]):
    op = P.Pool

    def words(self, op: P.Pool) -> tuple[str, str, str]:
        return POOLS[op.kind], f"{op.kind}pool", f"{op.kind}pool"

    def infer(self, op: P.Pool, x: Shape) -> tuple[Shape, int, int]:
        c, h, w = x
        s = op.stride
        if op.same:  # padded first to cover every position: ceil(size / stride) outputs
            return (c, -(-h // s), -(-w // s)), 0, 0
        k, p, ceil = op.kernel_size, op.padding, op.ceil_mode
        return (c, out_len(h, k, s, p, ceil=ceil), out_len(w, k, s, p, ceil=ceil)), 0, 0

    def saves(self, op: P.Pool, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        t.save(x)
        if op.kind == "max":  # and the int64 indices of the maxima
            t.save(t.new(size_out, INDEX_BYTES))
        return t.new(size_out)


class GlobalPoolType(PoolFamily[P.GlobalPool]):
    op = P.GlobalPool
    whole_map = True

    def infer(self, op: P.GlobalPool, x: Shape) -> tuple[Shape, int, int]:
        return (x[0], 1, 1), 0, 0

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
