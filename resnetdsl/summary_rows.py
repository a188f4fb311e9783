"""The rows of a :class:`~resnetdsl.summary.Summary`: one per stage (or stem, final, head), block and layer, in build
order, each op's and block's words found once per distinct op and block."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from resnetdsl import plan as P
from resnetdsl.analyze import Analysis, LayerInfo, Totals, stem_stride
from resnetdsl.summary import Depth, Row, batch_norms, block_kind, op_kind
from resnetdsl.walk import work_id

_Dims = tuple[int, ...]
_Layers = Sequence[LayerInfo]
_Out = list[Row]


class Rows:
    """Rows of an analysis; ``norm_eval`` decides which batch norms of the parts that train stay in eval.

    What a row reads of an op (its kind, its batch norms) and of a block (its kind) is found once per distinct op
    and block, by identity: lowering shares the ops of a stage's blocks alike, and the analysis holds them all
    while the rows are made.
    """

    def __init__(self, norm_eval: bool, frozen_stages: int | None = None) -> None:
        self.norm_eval = norm_eval
        self.trains_apart = norm_eval or frozen_stages is not None
        """Some row may be frozen or hold batch norms in eval; otherwise none is and none does."""
        self.kinds: dict[int, str] = {}
        self.norms: dict[int, int] = {}
        self.block_kinds: dict[tuple[object, ...], str] = {}

    def layer(self, la: LayerInfo, level: int) -> Row:
        op = la.op
        kind = self.kinds.get(id(op))
        if kind is None:
            kind = self.kinds[id(op)] = op_kind(op)
        norms = 0
        if la.frozen or self.norm_eval:
            norms = self.norms.get(id(op), -1)
            if norms < 0:
                norms = self.norms[id(op)] = batch_norms(op)
        counts = (la.params, la.buffers, la.macs, la.acts, la.trainable_params)
        return Row(la.path, kind, "layer", level, la.output_dims, *counts, la.frozen, norms)

    def part(self, name: str, kind: str, depth: Depth, level: int, shape: _Dims, layers: _Layers, t: Totals) -> _Out:
        """The row of a group of layers, then each layer's row."""
        rows = [self.layer(la, level + 1) for la in layers]
        return [self.group(name, kind, depth, level, shape, rows, t), *rows]

    def group(self, name: str, kind: str, depth: Depth, level: int, shape: _Dims, layers: list[Row], t: Totals) -> Row:
        """The row of a group, from its layers' rows."""
        counts = (t.params, t.buffers, t.macs, t.acts, t.trainable_params)
        if not self.trains_apart:
            return Row(name, kind, depth, level, shape, *counts, False, 0)
        frozen = bool(layers) and all(r.frozen for r in layers)
        return Row(name, kind, depth, level, shape, *counts, frozen, sum(r.eval_norms for r in layers))

    def block_kind(self, block: P.Block) -> str:
        key = (*work_id(block), block.stride)
        kind = self.block_kinds.get(key)
        if kind is None:
            kind = self.block_kinds[key] = block_kind(block)
        return kind

    def of(self, a: Analysis) -> Iterator[Row]:
        if a.stem:
            s = stem_stride(a.plan)
            kind = "stem" + (f" /{s}" if s > 1 else "")
            yield from self.part("stem", kind, "stage", 0, a.stem[-1].output_dims, a.stem, a.stem_totals)
        for st in a.stages:
            stride = f" /{st.stage.stride}" if st.stage.stride > 1 else ""
            kind = f"{st.stage.depth} × {st.stage.block_kind}{stride}" + (
                " (checkpoint)" if st.stage.checkpoint else ""
            )
            blocks = [
                self.part(b.path, self.block_kind(b.block), "block", 1, b.out_shape, b.layers, b.totals)
                for b in st.blocks
            ]
            layers = [r for rows in blocks for r in rows[1:]]
            yield self.group(st.path, kind, "stage", 0, st.out_shape, layers, st.totals)
            for rows in blocks:
                yield from rows
        if a.final:
            yield from self.part("final", "norm + act", "stage", 0, a.final[-1].output_dims, a.final, a.final_totals)
        if a.head:
            yield from self.part("head", "head", "stage", 0, a.output_shape, a.head, a.head_totals)
