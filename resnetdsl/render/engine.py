"""The layout engine and files: DOT → svg/png/pdf bytes through the Graphviz bundled in pygraphviz's wheels (a
``dot`` executable on ``PATH`` is the fallback), output formats, the size rule for bitmaps, and atomic writing.

Graphviz reports problems by writing to the process's stderr and drawing on regardless (a label it cannot parse
is dropped, a bitmap too large is shrunk). Here every such report is held back and turned into a
:class:`RenderError`: a drawing is either complete or not made at all.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from resnetdsl.text import printable

if TYPE_CHECKING:
    import graphviz

    from resnetdsl.render.dot import DotGraph

Format = Literal["svg", "png", "pdf", "dot"]

FORMATS: tuple[Format, ...] = ("svg", "png", "pdf", "dot")
EXTENSIONS: dict[str, Format] = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}

BITMAPS = frozenset({"png", "jpeg", "jpg", "jpe", "gif", "gd", "gd2", "wbmp"})
"""Formats drawn as pixels (the size rule applies); everything else is drawn in points and has no limit."""

BITMAP_DPI = 96
"""Graphviz's resolution for bitmaps: 1 pt of the layout is 96/72 pixels."""

BITMAP_MAX_SIDE = 32_000
"""The longest side a bitmap may have, in pixels (Graphviz's cairo renderer cannot draw 32,767 or more)."""

BITMAP_MIN_SCALE = 0.5
"""A bitmap over :data:`BITMAP_MAX_SIDE` is drawn smaller to fit, down to this scale; below it the text would be
unreadable, and drawing is refused (:class:`DiagramTooLarge`)."""

_PAD_PT = 4
"""Graphviz's default ``pad`` around the drawing, in points per side."""

INSTALL_HINT = (
    "no Graphviz layout engine found: pip install 'pygraphviz>=2.0.4' (its wheels bundle Graphviz), "
    "or install Graphviz so that `dot` is on PATH; --format dot needs no engine"
)


class EngineNotFound(RuntimeError):
    """No Graphviz layout engine is available (neither pygraphviz nor a ``dot`` executable)."""


class RenderError(RuntimeError):
    """Graphviz reported an error or a warning while drawing; nothing was drawn (the message is one line)."""


class DiagramTooLarge(RenderError):
    """A bitmap would be too large to draw readably (see :data:`BITMAP_MAX_SIDE`, :data:`BITMAP_MIN_SCALE`)."""


def _import_pygraphviz() -> Any:
    import pygraphviz

    return pygraphviz


def _is_noise(line: str) -> bool:
    """Output that says nothing about the drawing.

    The fontconfig bundled in pygraphviz's wheels is older than many systems' font configuration and warns about
    elements it does not know ("unknown element reset-dirs") on every first draw; the fonts still resolve.
    """
    return not line.strip() or line.startswith("Fontconfig warning:") or line.startswith("Fontconfig error:")


def _report(lines: list[str]) -> str:
    """Graphviz's multi-line report as one line (user text in it made printable, length bounded)."""
    text = printable(" ".join(" ".join(line.split()) for line in lines))
    return text if len(text) <= 300 else text[:299] + "…"


@contextlib.contextmanager
def _held_stderr() -> Iterator[list[str]]:
    """Hold back what C code writes to fd 2 while Graphviz works; the list is filled, noise dropped, on exit."""
    held_lines: list[str] = []
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield held_lines
        return
    import tempfile

    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield held_lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            text = held.read().decode("utf-8", "replace")
            held_lines.extend(line for line in text.splitlines() if not _is_noise(line))


def bitmap_scale(width_pt: float, height_pt: float, fmt: str = "png") -> float:
    """The scale a bitmap of a layout this size (its bounding box, in points) is drawn at: 1, or less to fit.

    Raises:
        DiagramTooLarge: it would have to be drawn below :data:`BITMAP_MIN_SCALE`.
    """
    side = max(width_pt, height_pt) + 2 * _PAD_PT
    px = side * BITMAP_DPI / 72
    if px <= BITMAP_MAX_SIDE:
        return 1.0
    scale = BITMAP_MAX_SIDE / px
    if scale < BITMAP_MIN_SCALE:
        w = math.ceil((width_pt + 2 * _PAD_PT) * BITMAP_DPI / 72)
        h = math.ceil((height_pt + 2 * _PAD_PT) * BITMAP_DPI / 72)
        raise DiagramTooLarge(
            f"the diagram is too large for {printable(fmt)}: {w:,}×{h:,} px at {BITMAP_DPI} dpi, and a bitmap is "
            f"shrunk to fit {BITMAP_MAX_SIDE:,} px a side only down to {BITMAP_MIN_SCALE:.0%}; draw it as svg or "
            "pdf, or draw runs of identical blocks once (--collapse)"
        )
    return scale


def _pygraphviz_draw(pgv: Any, source: str, fmt: str) -> bytes:
    gv = pgv.graphviz  # the library's own bindings: lay out once, look at the size, then draw that layout
    graph = pgv.AGraph(string=source)
    ctx = gv.gvContextWithBuiltins()
    try:
        if gv.gvLayout(ctx, graph.handle, b"dot"):
            raise RenderError("Graphviz could not lay out the diagram")
        if fmt.split(":")[0] in BITMAPS:
            x0, y0, x1, y1 = (float(v) for v in str(graph.graph_attr["bb"]).split())
            scale = bitmap_scale(x1 - x0, y1 - y0, fmt)
            if scale < 1:
                # dpi is read when a layout starts: lay out again with it (the positions in points stay)
                gv.gvFreeLayout(ctx, graph.handle)
                graph.graph_attr["dpi"] = f"{BITMAP_DPI * scale:.3f}"
                if gv.gvLayout(ctx, graph.handle, b"dot"):
                    raise RenderError("Graphviz could not lay out the diagram")
        err, data = gv.gvRenderData(ctx, graph.handle, fmt.encode("ascii", "replace"))
        gv.gvFreeLayout(ctx, graph.handle)
        if err:
            raise RenderError(f"Graphviz could not draw the diagram as {printable(fmt)}")
        return bytes(data)
    finally:
        gv.gvFreeContext(ctx)


def _pygraphviz_layout(source: str, fmt: str) -> bytes | None:
    try:
        pgv = _import_pygraphviz()
    except (ImportError, OSError):
        return None
    failure = ""
    data = b""
    with _held_stderr() as notes:
        try:
            data = _pygraphviz_draw(pgv, source, fmt)
        except DiagramTooLarge:
            raise
        except RenderError as exc:
            failure = str(exc)
        except Exception as exc:  # pygraphviz's own errors (a DOT it cannot read, a format it does not know)
            failure = f"Graphviz could not draw the diagram: {_report([f'{type(exc).__name__}: {exc}'])}"
    if notes:  # Graphviz's own words say more than the exception that may follow them
        raise RenderError(f"Graphviz could not draw the diagram: {_report(notes)}")
    if failure:
        raise RenderError(failure)
    return data


def _dot_layout(source: str, fmt: str) -> bytes | None:
    import shutil
    import subprocess

    exe = shutil.which("dot")
    if exe is None:
        return None
    done = subprocess.run([exe, f"-T{fmt}"], input=source.encode("utf-8"), capture_output=True, check=False)
    notes = [line for line in done.stderr.decode("utf-8", "replace").splitlines() if not _is_noise(line)]
    if done.returncode != 0 or notes:
        raise RenderError(f"Graphviz (dot) could not draw the diagram: {_report(notes) or f'exit {done.returncode}'}")
    return done.stdout


ENGINES: tuple[Callable[[str, str], bytes | None], ...] = (_pygraphviz_layout, _dot_layout)


def draw(source: str, fmt: str) -> bytes:
    """Lay out DOT ``source`` with the first engine available and draw it in any format Graphviz knows.

    Raises:
        EngineNotFound: neither pygraphviz nor a ``dot`` executable is available.
        RenderError: Graphviz reported a problem (an unknown format, a label it cannot read, …).
        DiagramTooLarge: a bitmap would be too large (see :func:`bitmap_scale`).
    """
    for engine in ENGINES:
        data = engine(source, fmt)
        if data is not None:
            return data
    raise EngineNotFound(INSTALL_HINT)


def layout(source: str, fmt: Format) -> bytes:
    """Lay out DOT ``source`` and draw it as ``fmt`` bytes (``dot``: the source itself, no engine).

    Bitmaps (``png``) are drawn at 96 dpi; one whose longest side would exceed :data:`BITMAP_MAX_SIDE` pixels is
    drawn smaller to fit, down to :data:`BITMAP_MIN_SCALE`, and refused beyond.

    Raises:
        EngineNotFound: neither pygraphviz nor a ``dot`` executable is available.
        RenderError: Graphviz reported an error or a warning (nothing is returned half-drawn).
        DiagramTooLarge: a bitmap would be too large to draw readably.
    """
    if fmt == "dot":
        return source.encode("utf-8")
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got '{fmt}'")
    return draw(source, fmt)


# --- files -------------------------------------------------------------------------------------------------


def format_of(path: str | os.PathLike[str], format: str | None = None, *, cli: bool = False) -> Format:
    """The output format: ``format`` when given, else from the file extension.

    Args:
        cli: word the advice for the command line (``--format``) rather than for a Python caller (``format=``).

    Raises:
        ValueError: no format given and the extension is not one of .svg .png .pdf .dot .gv.
    """
    if format is not None:
        if format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got '{format}'")
        return format
    ext = Path(path).suffix.lower()
    if ext not in EXTENSIONS:
        advice = "use --format svg|png|pdf|dot" if cli else "pass format='svg', 'png', 'pdf' or 'dot'"
        raise ValueError(f"cannot tell the format of '{path}' from its extension; {advice}")
    return EXTENSIONS[ext]


def write(digraph: graphviz.Digraph | DotGraph, path: str | os.PathLike[str], format: str | None = None) -> Path:
    """Draw ``digraph`` into ``path`` atomically: the whole file is made in memory, then renamed into place."""
    from resnetdsl.io import atomic_write_bytes

    fmt = format_of(path, format)
    data = layout(digraph.source, fmt)
    atomic_write_bytes(path, data)
    return Path(path)


def safe_filename(name: str) -> str:
    """A file name stem made of a network name (``my net/v2`` → ``my_net_v2``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "network"
