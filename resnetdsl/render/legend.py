"""The legend of a diagram and the look of frozen parts: one table node (no edges, so it never skews edge counts).

Rows: the shortcut styles drawn (a line sample each), the notes of the blocks drawn (pre-activation, what an op's
label means, gate edges), and what is frozen: the stem and stages ``frozen_stages`` freezes (grey, dashed, tagged
``frozen``) and ``norm_eval``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from resnetdsl import plan as P
from resnetdsl.render.labels import LEGEND_TEXT, esc, small
from resnetdsl.render.style import SHORTCUT_STYLE

FROZEN_FILL = "#e2e2e2"
FROZEN_LINE = "#777777"
FROZEN_TAG = "frozen"
"""The word a frozen part's cluster title ends with."""


def frozen_tag() -> str:
    """Label markup appended to a frozen cluster's title."""
    return "  " + small(f"<b>{FROZEN_TAG}</b>", color="#444444", size=10)


def cluster_attrs(label: str, fill: str, *, frozen: bool) -> dict[str, str]:
    """A part's cluster (stem, stage, final, head): rounded and filled; a frozen one grey, dashed and tagged."""
    attrs = {
        "label": f"<{label}{frozen_tag() if frozen else ''}>",
        "style": "rounded,filled,dashed" if frozen else "rounded,filled",
        "fillcolor": FROZEN_FILL if frozen else fill,
        "color": FROZEN_LINE if frozen else "#bbbbbb",
    }
    if frozen:
        attrs["penwidth"] = "1.5"
    return attrs


def frozen_parts(plan: P.Plan) -> list[str]:
    """The module names of the frozen parts, stem first (``frozen_stages``); empty: nothing is frozen."""
    if plan.frozen_stages is None:
        return []
    return ["stem", *(st.name for st in plan.stages if plan.frozen(st.index))]


def frozen_notes(plan: P.Plan) -> list[str]:
    """What the legend says about ``frozen_stages`` and ``norm_eval`` (nothing when neither is set)."""
    notes = []
    parts = frozen_parts(plan)
    if parts:
        notes.append(
            f"frozen (frozen_stages: {plan.frozen_stages}): {', '.join(parts)}; no gradients, norms in eval mode"
        )
    if plan.norm_eval:
        notes.append("norm_eval: every batch norm stays in eval mode in training (running statistics fixed)")
    return notes


def legend_node(g: Any, shortcuts_used: set[str], notes: Iterable[str], frozen: list[str]) -> None:
    """Add the legend node to ``g``: shortcut styles drawn, block notes, frozen notes; nothing when all are
    empty."""
    rows = []
    uses = [use for use in SHORTCUT_STYLE if use in shortcuts_used]
    if uses:
        rows.append('<tr><td colspan="2" align="left"><b>shortcuts</b></td></tr>')
    for use in uses:
        style = SHORTCUT_STYLE[use]
        color = style["color"]
        rows.append(
            f'<tr><td width="36" height="6" sides="b" border="2" color="{color}" style="{style["style"]}"></td>'
            f'<td align="left"><font color="{color}">{esc(LEGEND_TEXT[use])}</font></td></tr>'
        )
    notes = list(notes)
    if notes:
        rows.append('<tr><td colspan="2" align="left"><b>blocks</b></td></tr>')
        rows += [f'<tr><td colspan="2" align="left">{esc(note)}</td></tr>' for note in notes]
    if frozen:
        rows.append('<tr><td colspan="2" align="left"><b>training</b></td></tr>')
    for k, note in enumerate(frozen):
        sample = (
            f'<td width="36" height="10" bgcolor="{FROZEN_FILL}" border="1" color="{FROZEN_LINE}" style="dashed"></td>'
            if k == 0
            else "<td></td>"
        )
        rows.append(f'<tr>{sample}<td align="left">{esc(note)}</td></tr>')
    if not rows:
        return
    table = (
        '<table border="1" style="rounded" color="#bbbbbb" cellborder="0" cellspacing="3" cellpadding="1">'
        + "".join(rows)
        + "</table>"
    )
    g.node("legend", label=f"<{table}>", shape="plaintext", style="", fontsize="9")
