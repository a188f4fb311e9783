"""Anti-aliased downsampling (issue 18): the blur pool, timm's ``BlurPool2d`` (its avg-pool variant is a plain
:class:`~resnetdsl.plan.Pool`).

A blur pool is a depthwise conv of fixed weights after reflect padding: it counts by the conv rule (C × k² MACs
per output position, its output among the activations), holds nothing in the ``state_dict``, and a training step
keeps its input (reflect padding's backward reads it), the padded input (the conv's) and the k×k filter.
"""

from __future__ import annotations

from resnetdsl import plan as P
from resnetdsl.ops.base import Shape, Tracker, out_len
from resnetdsl.ops.pool import WindowPool


def blur_padding(op: P.BlurPool) -> int:
    """The reflect padding on every side (timm's ``get_padding(filter_size, stride)``)."""
    return padding_of(op.stride, op.filter_size)


def padding_of(stride: int, filter_size: int) -> int:
    return ((stride - 1) + (filter_size - 1)) // 2


class BlurPoolType(WindowPool[P.BlurPool]):
    op = P.BlurPool
    fresh = True
    channels_field = "channels"
    kernel_field = "filter_size"
    legend = "k×k blur pool /s: anti-aliasing (a fixed binomial k×k filter after reflect padding), then the stride"

    def infer(self, op: P.BlurPool, x: Shape) -> tuple[Shape, int, int]:
        c, h, w = x
        p, k, s = blur_padding(op), op.filter_size, op.stride
        if min(h, w) <= p:  # reflect padding needs more pixels than it pads: torch refuses the input
            return (c, 0, 0), 0, 0
        out = (c, out_len(h, k, s, p), out_len(w, k, s, p))
        n = out[0] * out[1] * out[2]
        return out, n * k * k, n

    def saves(self, op: P.BlurPool, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        c, h, w = t.shape
        p = blur_padding(op)
        t.save(x)  # reflect padding's backward reads its input
        t.save(t.new(c * (h + 2 * p) * (w + 2 * p)))  # the padded input, which the conv's backward reads
        t.save(t.new(op.filter_size**2, batched=False))  # the filter (expanded over channels: a view)
        return t.new(size_out)

    def words(self, op: P.BlurPool) -> tuple[str, str, str]:
        return "Blur", "blur pool", "blur"


DESCRIPTIONS = (BlurPoolType(),)
