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
from resnetdsl.text import printable

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
    """What an op does, in the words of a ResNet lecture (``3×3 conv, 64 /2``)."""
    if isinstance(op, P.Conv):
        k = op.kernel_size
        extra = "".join(
            [
                f", g{op.groups}" if op.groups != 1 else "",
                f", dil {op.dilation}" if op.dilation != 1 else "",
                ", bias" if op.bias else "",
            ]
        )
        what = "conv pool" if is_conv_pool(op) else "conv"
        return f"{k}×{k} {what}, {op.out_channels}{stride_text(op.stride)}{extra}"
    if isinstance(op, P.Norm):
        return {"batch": "BN", "group": f"GN {op.groups}", "frozen_batch": "frozen BN"}[op.kind]
    if isinstance(op, P.NormAct):
        return "BN-ReLU"
    if isinstance(op, P.Act):
        return P.ACT_NAMES[op.kind] + (f" {op.negative_slope:g}" if op.kind == "leaky_relu" else "")
    if isinstance(op, P.SqueezeExcite):
        return f"SE {op.channels}→{op.reduced_channels}"
    if isinstance(op, P.EfficientChannelAttn):
        return f"ECA k{op.kernel_size}"
    if isinstance(op, P.DropPath):
        return f"drop path {op.p:.3g}"
    if isinstance(op, P.Pool):
        k = op.kernel_size
        return f"{k}×{k} {op.kind}pool{stride_text(op.stride)}"
    if isinstance(op, P.GlobalPool):
        return f"global {op.kind}pool"
    if isinstance(op, P.Flatten):
        return "flatten"
    if isinstance(op, P.Dropout):
        return f"dropout {op.p:g}"
    if isinstance(op, P.Linear):
        return f"fc, {op.out_features}" + ("" if op.bias else ", no bias")
    if isinstance(op, P.PadShortcut):
        if op.out_channels == op.in_channels:
            return f"subsample{stride_text(op.stride)}" if op.stride != 1 else "identity"
        return f"zero-pad{stride_text(op.stride)}"
    if isinstance(op, P.Identity):
        return "identity"
    raise KeyError(f"render: no label for op type {type(op).__name__} ({op.name})")


def is_conv_pool(op: P.Op) -> bool:
    """The stem's downsampling conv (ResNet-RS ``pool: conv``: ``maxpool.0``), drawn as the pool it replaces."""
    return isinstance(op, P.Conv) and op.name.startswith("maxpool.")


def shortcut_style(block: P.Block) -> str:
    """How the shortcut of ``block`` is drawn: a key of :data:`LEGEND_TEXT`, by what the shortcut does.

    An option-A shortcut that only strides is ``subsample`` (nothing is padded); an avg-pool projection whose
    pool is an identity (stride 1) is a plain ``projection``.
    """
    use = block.shortcut
    if use == "pad" and all(
        op.in_channels == op.out_channels for op in block.shortcut_ops if isinstance(op, P.PadShortcut)
    ):
        return "subsample"
    if use == "avgpool_projection" and not any(isinstance(op, P.Pool) for op in block.shortcut_ops):
        return "projection"
    return use


def shortcut_text(block: P.Block) -> str:
    """What the shortcut does: ``identity``, ``1×1 conv /2 + BN``, ``zero-pad /2``, ``avgpool /2 → 1×1 conv + BN``."""
    if block.shortcut == "identity" or not block.shortcut_ops:
        return "identity"
    out = ""
    for op in block.shortcut_ops:
        if isinstance(op, P.Identity):
            continue
        if isinstance(op, P.Conv):
            k = op.kernel_size
            part, sep = f"{k}×{k} conv{stride_text(op.stride)}", " → "
        elif isinstance(op, P.Pool):
            part, sep = f"{op.kind}pool{stride_text(op.stride)}", " → "
        elif isinstance(op, P.Norm):
            part, sep = op_text(op), " + "
        else:
            part, sep = op_text(op), " → "
        out = f"{out}{sep}{part}" if out else part
    return out


ATTENTION = (P.SqueezeExcite, P.EfficientChannelAttn)
"""Channel attention, drawn on a line (block level) or in a node (layer level) of its own."""


def main_lines(ops: Iterable[P.Op], *, pre_activation: bool = False) -> list[str]:
    """The main path as lines: one per conv with the norm/act that follow it, or, pre-activated, with the norm/act
    that come before it (``BN · ReLU → 3×3 conv, 64``); channel attention on a line of its own."""
    lines: list[list[str]] = []
    fresh = True  # the next op starts a line
    for op in ops:
        opens = isinstance(op, ATTENTION) or (not pre_activation and isinstance(op, P.Conv | P.Pool | P.Linear))
        if fresh or opens:
            lines.append([])
        lines[-1].append(op_text(op))
        fresh = isinstance(op, ATTENTION) or (pre_activation and isinstance(op, P.Conv | P.Pool | P.Linear))
    sep = " → " if pre_activation else " · "
    return [sep.join(line) if pre_activation else " · ".join(line) for line in lines]
