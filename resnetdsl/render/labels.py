"""Label text: what an op or a shortcut does in words, escaping of user text, number formats, block titles.

Everything here is pure text; the graph builder (:mod:`resnetdsl.render.graph`) puts it into HTML-like labels.
"""

from __future__ import annotations

import html
import re
import textwrap
import unicodedata
from collections.abc import Iterable

from resnetdsl import plan as P
from resnetdsl.blocks import TITLES
from resnetdsl.ops import describe
from resnetdsl.text import printable
from resnetdsl.walk import part_ops

MUTED = "#666666"

LEGEND_TEXT = {
    "identity": "identity: x added unchanged",
    "pad": "zero-pad: subsample, add zero channels",
    "subsample": "subsample: x strided, no parameters",
    "projection": "projection: 1×1 conv matches shape",
    "avgpool_projection": "avg-pool → 1×1 conv matches shape",
}
"""What each shortcut style of the legend means (keys as :func:`shortcut_style`)."""

BLOCK_TITLES = TITLES
"""Each block kind's title (the block-kind table's, :data:`resnetdsl.blocks.BLOCK_KINDS`)."""

DESCRIPTION_WIDTH = 90
DESCRIPTION_MAX_LINES = 20
"""A description is wrapped at this many characters and shown up to this many lines (then ``…``)."""

_LINE_BREAK = re.compile("\r\n|[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
"""What ends a line of free text: what :meth:`str.splitlines` splits on."""


def _code(c: str) -> str:
    n = ord(c)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def _visible(c: str) -> bool:
    """A character that draws something on its own (a mark needs a base; spaces and format characters draw
    nothing)."""
    return c.isprintable() and not c.isspace() and not unicodedata.category(c).startswith("M")


def esc(text: str) -> str:
    """``text`` as one line of a Graphviz HTML-like label, shown as written.

    Every character that could break a line, a terminal or an encoder is escaped first
    (:func:`resnetdsl.text.printable`: a newline shows as ``\\x0a``, a lone surrogate as ``\\ud800``); a text
    none of whose characters shows on its own (only spaces, zero-width or format characters, marks) is written
    wholly as escapes, since Graphviz's text layout fails on a text that draws nothing. Backslashes are doubled
    (Graphviz expands ``\\N``, ``\\G``, ``\\L``… even inside HTML-like labels, after entities are decoded)
    and ``& < > " '`` become entities.
    """
    text = printable(text)
    if text and not any(map(_visible, text)):
        text = "".join(map(_code, text))
    return html.escape(text.replace("\\", "\\\\"), quote=True)


def text_lines(text: str, width: int = DESCRIPTION_WIDTH, max_lines: int = DESCRIPTION_MAX_LINES) -> list[str]:
    """Free text (a description) as the lines to show: split at line breaks (also U+0085, U+2028, U+2029), tabs
    made spaces, each paragraph wrapped at ``width``; blank lines at either end dropped, at most ``max_lines``.

    Whitespace only: no lines. The lines are raw text; pass each through :func:`esc`.
    """
    lines: list[str] = []
    for paragraph in _LINE_BREAK.split(text):
        paragraph = paragraph.replace("\t", " ").rstrip()
        lines += textwrap.wrap(paragraph, width) if paragraph.strip() else [""]
        if len(lines) > max_lines:
            break
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], lines[max_lines - 1] + " …"]
    return lines


def html_label(body: str) -> str:
    """An HTML-like label (the graphviz package passes ``<…>`` through unquoted)."""
    return f"<{body}>"


def small(text: str, color: str = MUTED, size: int = 9) -> str:
    """``text`` (label markup) in a smaller, muted font; nothing for no text (Graphviz rejects an empty
    ``<font></font>``)."""
    return f'<font point-size="{size}" color="{color}">{text}</font>' if text else ""


def bold(text: str) -> str:
    """``text`` (label markup) in bold; nothing for no text (Graphviz rejects an empty ``<b></b>``)."""
    return f"<b>{text}</b>" if text else ""


def fmt_count(n: int) -> str:
    """``11689512`` → ``11.69M``; ``2048`` → ``2.0k``."""
    if n >= 1_000_000:
        return f"{n / 1e6:.2f}M"
    if n >= 1_000:
        return f"{n / 1e3:.1f}k"
    return str(n)


def fmt_macs(macs: int) -> str:
    if macs >= 100_000_000:
        return f"{macs / 1e9:.2f} GMACs"
    return f"{macs / 1e6:.1f} MMACs"


def block_title(kind: str) -> str:
    return BLOCK_TITLES.get(kind, kind[:1].upper() + kind[1:])


def stride_text(s: int) -> str:
    return f" /{s}" if s != 1 else ""


def op_text(op: P.Op) -> str:
    """What an op does, in the words of a ResNet lecture (``3×3 conv, 64 /2``): its description's label.

    Raises:
        KeyError: an op type without a description.
    """
    return describe(op).label(op)


def shortcut_style(block: P.Block) -> str:
    """How the shortcut of ``block`` is drawn: a key of :data:`LEGEND_TEXT`, by what the shortcut does.

    An option-A shortcut that only strides is ``subsample`` (nothing is padded); an avg-pool projection whose
    pool is an identity (stride 1) is a plain ``projection``.
    """
    use = block.shortcut
    if use == "pad" and block.in_channels == block.out_channels:
        return "subsample"
    if use == "avgpool_projection" and not any(describe(op).family == "pool" for op in part_ops(block, "shortcut")):
        return "projection"
    return use


def shortcut_text(block: P.Block) -> str:
    """What the shortcut does: ``identity``, ``1×1 conv /2 + BN``, ``zero-pad /2``, ``avgpool /2 → 1×1 conv + BN``."""
    ops = part_ops(block, "shortcut")
    if block.shortcut == "identity" or not ops:
        return "identity"
    out = ""
    for op in ops:
        sep, part = describe(op).shortcut_words(op)
        if part:
            out = f"{out}{sep}{part}" if out else part
    return out


def main_lines(ops: Iterable[P.Op], *, pre_activation: bool = False) -> list[str]:
    """The main path as lines: one per conv with the norm/act that follow it, or, pre-activated, with the norm/act
    that come before it (``BN · ReLU → 3×3 conv, 64``); channel attention on a line of its own."""
    lines: list[list[str]] = []
    fresh = True  # the next op starts a line
    for op in ops:
        d = describe(op)
        own = d.line == "own"
        if fresh or own or (not pre_activation and d.line == "start"):
            lines.append([])
        lines[-1].append(d.label(op))
        fresh = own or (pre_activation and d.line == "start")
    sep = " → " if pre_activation else " · "
    return [sep.join(line) for line in lines]
