"""Plan → Graphviz diagram: the block, its main path, and the shortcut beside it.

Three levels of detail, each stage drawn as a cluster:

* ``stage``: one node per stage (block kind, depth, channels, stride, parameters, shortcuts used);
* ``block``: one node per block, an explicit add node ``+``, and the shortcut drawn as an edge beside the block;
* ``layer``: every conv / norm / activation / pool / add, each block a cluster; shortcut ops drawn beside
  the main path.

Shortcut edges are solid when nothing is learned (identity; option A's zero-pad, or plain subsampling where
no channels are added) and dashed when a 1×1 convolution projects the input (``projection``,
``avgpool_projection``); every shortcut is labelled with what it does. Every edge carries the C×H×W shape of its
tensor, from :func:`resnetdsl.analyze.analyze`. Runs of identical blocks can be collapsed into one ``×N`` node.

Layout uses the Graphviz bundled in the pygraphviz wheels (no system install needed); a ``dot`` executable on
``PATH`` is the fallback. DOT output needs no engine. Any error or warning Graphviz reports fails the drawing
(:class:`RenderError`); nothing is written half-drawn. This package never imports torch.

All user text (name, description, stage names) goes through :func:`resnetdsl.text.printable` and XML escaping
into HTML-like labels, so control characters, lone surrogates, non-characters, quotes, ``<``, ``>``, ``&``,
braces and backslashes are shown as written (or escaped) and cannot change the graph.

The package: :mod:`~resnetdsl.render.labels` (label text), :mod:`~resnetdsl.render.graph` (the graph builder),
:mod:`~resnetdsl.render.dot` (DOT text without graphviz), :mod:`~resnetdsl.render.engine` (layout, formats, the size
rule, files), :mod:`~resnetdsl.render.diagram` (the returned ``graphviz.Digraph``, drawn by that engine); this module
holds the public API.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import graphviz

    from resnetdsl.check import InputSize
    from resnetdsl.render.diagram import digraph_of, to_digraph
    from resnetdsl.render.engine import (
        BITMAP_MAX_SIDE,
        BITMAP_MIN_SCALE,
        EXTENSIONS,
        FORMATS,
        DiagramTooLarge,
        EngineNotFound,
        Format,
        RenderError,
        draw,
        format_of,
        layout,
        safe_filename,
        write,
    )
    from resnetdsl.render.graph import (
        COLLAPSE_OVER,
        DETAILS,
        PROJECTIONS,
        Detail,
        RankDir,
        analysis_for,
        block_groups,
    )
    from resnetdsl.render.labels import (
        block_title,
        esc,
        fmt_count,
        fmt_macs,
        op_text,
        shortcut_style,
        shortcut_text,
    )

_FROM = {
    **dict.fromkeys(
        "BITMAP_MAX_SIDE BITMAP_MIN_SCALE EXTENSIONS FORMATS DiagramTooLarge EngineNotFound Format RenderError draw "
        "format_of layout safe_filename write".split(),
        "engine",
    ),
    **dict.fromkeys(
        "COLLAPSE_OVER DETAILS PROJECTIONS Detail RankDir analysis_for block_groups".split(),
        "graph",
    ),
    **dict.fromkeys(("digraph_of", "to_digraph"), "diagram"),
    **dict.fromkeys("block_title esc fmt_count fmt_macs op_text shortcut_style shortcut_text".split(), "labels"),
}
"""Where each re-exported name lives: imported on first use (PEP 562), so that ``import resnetdsl`` (which
binds :func:`render`) loads none of the drawing modules; the ``render`` command and the web pages do."""


def __getattr__(name: str) -> Any:
    module = _FROM.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_FROM})


# --- public API (re-exported by resnetdsl) -----------------------------------------------------------------


def render(
    source: Any,
    *,
    detail: Detail = "block",
    collapse: bool | None = None,
    rankdir: RankDir = "TB",
    input_size: InputSize | None = None,
) -> graphviz.Digraph:
    """The diagram of a spec as a ``graphviz.Digraph``, drawn by resnetdsl's engine (no system Graphviz).

    Its ``.source`` is the DOT text; ``.pipe(format=…)``, ``.render(outfile=…)``, ``.view()`` and Jupyter's
    inline display work without a ``dot`` executable (see :class:`~resnetdsl.render.diagram.Diagram`).

    Args:
        source: a path, YAML text, a mapping, a Spec, a Plan, or a preset name.
        detail: ``stage``, ``block`` or ``layer``.
        collapse: draw runs of identical blocks once as ``×N`` (``None``: in stages deeper than
            :data:`COLLAPSE_OVER` blocks).
        rankdir: ``TB`` or ``LR``.
        input_size: ``H``, ``(H, W)`` or ``(C, H, W)`` for the shapes (default: the spec's input; without
            channels the spec's are kept).

    Raises:
        SpecError: the spec is invalid or the input too small (as ``resnetdsl validate`` reports it).
        ValueError: a malformed ``input_size``, ``detail`` or ``rankdir``.
    """
    from resnetdsl.check import check
    from resnetdsl.render.diagram import digraph_of

    analysis = check(source, input_size=input_size).analysis
    return digraph_of(analysis, detail=detail, collapse=collapse, rankdir=rankdir)


def render_to(
    source: Any,
    path: str | os.PathLike[str],
    *,
    format: Format | None = None,
    detail: Detail = "block",
    collapse: bool | None = None,
    rankdir: RankDir = "TB",
    input_size: InputSize | None = None,
) -> Path:
    """Draw a spec into ``path`` (svg, png, pdf or dot; from the extension unless ``format`` is given).

    The file is written atomically: readers see the old file or the complete new one; when Graphviz reports a
    problem nothing is written.

    Raises:
        SpecError: the spec is invalid or the input too small.
        EngineNotFound: no Graphviz engine for svg/png/pdf.
        RenderError: Graphviz reported an error or a warning.
        DiagramTooLarge: a png would be too large to draw readably (see :func:`~resnetdsl.render.engine.bitmap_scale`).
        ValueError: the format cannot be told from the path.
    """
    from resnetdsl.render.engine import format_of, write

    fmt = format_of(path, format)
    digraph = render(source, detail=detail, collapse=collapse, rankdir=rankdir, input_size=input_size)
    return write(digraph, path, fmt)


__all__ = [
    "BITMAP_MAX_SIDE",
    "BITMAP_MIN_SCALE",
    "COLLAPSE_OVER",
    "DETAILS",
    "EXTENSIONS",
    "FORMATS",
    "PROJECTIONS",
    "Detail",
    "DiagramTooLarge",
    "EngineNotFound",
    "Format",
    "RankDir",
    "RenderError",
    "analysis_for",
    "block_groups",
    "block_title",
    "digraph_of",
    "draw",
    "esc",
    "fmt_count",
    "fmt_macs",
    "format_of",
    "layout",
    "op_text",
    "render",
    "render_to",
    "safe_filename",
    "shortcut_style",
    "shortcut_text",
    "to_digraph",
    "write",
]
