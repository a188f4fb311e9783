"""The one door from the web pages to the renderer's and the summary's words and colours.

Everything the HTML diagram writes about an op or a shortcut (its words, its fill, its torch layer name, how its
shortcut is drawn) is read here, from the modules that draw the static diagrams and print the summary, so that
the interactive page and the SVG say the same thing. When those tables move (one description per op type), this
module is the only one to change.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from resnetdsl import plan as P
from resnetdsl.ops import DESCRIPTIONS, Window, describe
from resnetdsl.render import labels as _labels
from resnetdsl.render import style as _style
from resnetdsl.summary import block_kind as _block_kind
from resnetdsl.summary import op_kind as _op_kind

FONT = _style.FONT
INK = _style.INK
SHAPE_INK = _style.SHAPE_INK
STAGE_FILLS: tuple[str, ...] = _style.STAGE_FILLS
SHORTCUT_STYLE: dict[str, dict[str, str]] = _style.SHORTCUT_STYLE
LEGEND_TEXT: dict[str, str] = _labels.LEGEND_TEXT
PROJECTIONS = _style.PROJECTIONS
COLLAPSE_OVER = _style.COLLAPSE_OVER


def legend_notes() -> dict[str, str]:
    """The legend's notes: ``pre`` for pre-activation blocks, and each op type's own (keyed by
    :func:`legend_key`), as the static legend writes them."""
    notes = {"pre": _style.PRE_ACTIVATION_NOTE}
    notes.update({d.op.__name__: d.legend for d in DESCRIPTIONS.values() if d.legend})
    return notes


def legend_key(op: P.Op) -> str | None:
    """The key of the op's legend note in :func:`legend_notes` (channel attention explains its label), or
    ``None``."""
    return type(op).__name__ if describe(op).legend else None


def op_family(op: P.Op) -> str:
    """``conv``, ``norm``, ``act``, ``pool``, ``attention``…: what kind of layer the op is."""
    return describe(op).family


def op_dilation(op: P.Op) -> int:
    """The dilation of a sliding window (1 for anything else)."""
    reach = describe(op).reach(op)
    return reach.dilation if isinstance(reach, Window) else 1


def shown(text: str) -> str:
    """User text as the static diagram shows it (control characters, lone surrogates, text that draws nothing
    written as escapes), but not yet escaped for any markup: the page escapes it for DOT and for HTML."""
    return html.unescape(_labels.esc(text)).replace("\\\\", "\\")


def op_words(op: P.Op) -> str:
    """``3×3 conv, 64 /2``: what the op does, as its node in the static diagram says."""
    return _labels.op_text(op)


def op_fill(op: P.Op) -> str:
    """The op's fill in the static layer-level diagram (KeyError for an op type the renderer does not know)."""
    return describe(op).fill_of(op)


def op_kind(op: P.Op) -> str:
    """``Conv2d 3×3/2``: the torch layer, as the summary's rows name it."""
    return _op_kind(op)


def block_kind(block: P.Block) -> str:
    """``bottleneck /2, projection``: the block, as the summary's rows name it."""
    return _block_kind(block)


def shortcut_style(block: P.Block) -> str:
    """How the block's shortcut is drawn: a key of :data:`SHORTCUT_STYLE` (``identity``, ``projection``…)."""
    return _labels.shortcut_style(block)


def shortcut_words(block: P.Block) -> str:
    """``1×1 conv /2 + BN``: what the shortcut does."""
    return _labels.shortcut_text(block)


def block_title(kind: str) -> str:
    """``Bottleneck`` for ``bottleneck``."""
    return _labels.block_title(kind)


def main_lines(ops: Iterable[P.Op], *, pre_activation: bool = False) -> list[str]:
    """A block's main path as the lines of its node (one per conv with its norm and activation)."""
    return _labels.main_lines(ops, pre_activation=pre_activation)


def description_lines(text: str) -> list[str]:
    """A description as the title's lines (wrapped, at most 20), each still raw text."""
    return _labels.text_lines(text)


def stride_words(stride: int) -> str:
    """`` /2`` for a stride of 2, nothing for 1."""
    return _labels.stride_text(stride)


def count(n: int) -> str:
    """``11.69M``."""
    return _labels.fmt_count(n)


def macs(n: int) -> str:
    """``4.09 GMACs``."""
    return _labels.fmt_macs(n)
