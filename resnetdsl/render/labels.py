"""Label text: what an op or a shortcut does in words, escaping of user text, number formats, block titles.

Everything here is pure text; the graph builder (:mod:`resnetdsl.render.graph`) puts it into HTML-like labels.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from resnetdsl import plan as P

MUTED = "#666666"

LEGEND_TEXT = {
    "identity": "identity: x added unchanged",
    "pad": "zero-pad: subsample, add zero channels",
    "projection": "projection: 1×1 conv matches shape",
    "avgpool_projection": "avg-pool → 1×1 conv matches shape",
}
BLOCK_TITLES = {"basic": "BasicBlock", "bottleneck": "Bottleneck"}

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def esc(text: str) -> str:
    """``text`` made safe for a Graphviz HTML-like label; newlines become line breaks."""
    text = _CONTROL.sub("\N{REPLACEMENT CHARACTER}", newlines(text).replace("\t", " "))
    # Graphviz expands \G, \N, \L… even inside HTML-like labels (after entities are decoded); a doubled
    # backslash is its escape for one literal backslash.
    text = text.replace("\\", "\\\\")
    return "<br/>".join(html.escape(line, quote=True) for line in text.split("\n"))


def html_label(body: str) -> str:
    """An HTML-like label (the graphviz package passes ``<…>`` through unquoted)."""
    return f"<{body}>"


def small(text: str, color: str = MUTED, size: int = 9) -> str:
    return f'<font point-size="{size}" color="{color}">{text}</font>'


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
        return f"{k}×{k} conv, {op.out_channels}{stride_text(op.stride)}{extra}"
    if isinstance(op, P.Norm):
        return "BN"
    if isinstance(op, P.Act):
        return "ReLU" if op.kind == "relu" else op.kind
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
        return f"zero-pad{stride_text(op.stride)}"
    return "identity"


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
            part, sep = "BN", " + "
        else:
            part, sep = op_text(op), " → "
        out = f"{out}{sep}{part}" if out else part
    return out


def main_lines(ops: Iterable[P.Op]) -> list[str]:
    """The main path as lines, one per conv with the norm/act that follow it."""
    lines: list[list[str]] = []
    for op in ops:
        if isinstance(op, P.Conv | P.Pool | P.Linear) or not lines:
            lines.append([])
        lines[-1].append(op_text(op))
    return [" · ".join(line) for line in lines]
