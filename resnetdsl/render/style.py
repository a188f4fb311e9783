"""What a diagram looks like (fonts, inks, fills, shortcut edge styles) and which blocks it draws once (runs of
identical blocks collapse into one ``×N`` node)."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

from resnetdsl import plan as P
from resnetdsl.analyze import BlockInfo, StageInfo
from resnetdsl.ops import describe
from resnetdsl.walk import block_ops

COLLAPSE_OVER = 8
"""With ``collapse=None``, runs of identical blocks collapse only in stages deeper than this."""

PROJECTIONS = frozenset({"projection", "avgpool_projection"})
"""Shortcut uses drawn dashed: the input is transformed by a learned 1×1 convolution."""

# --- look --------------------------------------------------------------------------------------------------

FONT = "Helvetica"
INK = "#222222"
SHAPE_INK = "#555555"
STAGE_FILLS = ("#eef4fb", "#f3f0fa", "#eef8f1", "#fbf3ea", "#f9eef1", "#eef6f8")
SHORTCUT_STYLE: dict[str, dict[str, str]] = {
    "identity": {"style": "solid", "color": "#2b6cb0", "fontcolor": "#2b6cb0", "penwidth": "1.4"},
    "pad": {"style": "solid", "color": "#2f855a", "fontcolor": "#2f855a", "penwidth": "1.4"},
    "subsample": {"style": "solid", "color": "#2c7a7b", "fontcolor": "#2c7a7b", "penwidth": "1.4"},
    "projection": {"style": "dashed", "color": "#c05621", "fontcolor": "#c05621", "penwidth": "1.4"},
    "avgpool_projection": {"style": "dashed", "color": "#9b2c2c", "fontcolor": "#9b2c2c", "penwidth": "1.4"},
}
"""Edge style per :func:`~resnetdsl.render.labels.shortcut_style`: solid when nothing is learned, dashed for a
1×1 projection."""

SHORTCUT_PORTS: dict[str, tuple[str, str]] = {"TB": ("se", "e"), "LR": ("se", "s")}
"""Per ``rankdir``, the compass ports a shortcut edge leaves its first node by and enters its add by: on the side,
leaving by its lower corner (``se``) and entering at its middle, so that at an add where one block's shortcut
arrives and the next block's leaves, the arrowhead and the next edge's start do not meet."""

SHORTCUT_LABEL_PAD = 4
"""Points of margin around a shortcut edge's words, which the curve passes beside."""

PRE_ACTIVATION_NOTE = "pre-activation: norm → act → conv; nothing after the add"
"""The legend's note when pre-activation blocks are drawn (op types bring their own notes: ``OpType.legend``)."""

# --- grouping of identical blocks --------------------------------------------------------------------------


def _block_key(b: BlockInfo) -> tuple[Any, ...]:
    k = b.block
    shape = (k.kind, k.in_channels, k.mid_channels, k.out_channels, k.stride, k.groups, k.shortcut)
    return (*shape, tuple(block_ops(k)), b.in_shape, b.out_shape)


def block_groups(stage: StageInfo, collapse: bool | None) -> list[tuple[BlockInfo, ...]]:
    """The blocks of a stage as drawn: runs of identical consecutive blocks become one group when collapsing.

    ``collapse=None`` collapses only in stages deeper than :data:`COLLAPSE_OVER`.
    """
    on = collapse if collapse is not None else len(stage.blocks) > COLLAPSE_OVER
    groups: list[list[BlockInfo]] = []
    for b in stage.blocks:
        if on and groups and _block_key(groups[-1][0]) == _block_key(b):
            groups[-1].append(b)
        else:
            groups.append([b])
    return [tuple(g) for g in groups]


# --- ops ----------------------------------------------------------------------------------------


def op_fill(op: P.Op) -> str:
    """An op's node fill: its description's colour."""
    return describe(op).fill_of(op)  # KeyError: an op type without a description


# --- what is drawn -----------------------------------------------------------------------------------------

Detail = Literal["stage", "block", "layer"]
RankDir = Literal["TB", "LR"]

DETAILS: tuple[Detail, ...] = ("stage", "block", "layer")


class View(NamedTuple):
    """How a network is drawn: what is open (``detail``), which runs of identical blocks are one ``×N`` node
    (``collapse``; ``None``: in stages deeper than :data:`COLLAPSE_OVER`) and the direction (``rankdir``)."""

    detail: Detail = "block"
    collapse: bool | None = None
    rankdir: RankDir = "TB"
