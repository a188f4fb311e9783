"""Plan → Graphviz diagram: the block, its main path, and the shortcut beside it.

Three levels of detail, each stage drawn as a cluster:

* ``stage``: one node per stage (block kind, depth, channels, stride, parameters, shortcuts used);
* ``block``: one node per block, an explicit add node ``+``, and the shortcut drawn as an edge beside the block;
* ``layer``: every conv / norm / activation / pool / add, each block a cluster; shortcut ops drawn beside
  the main path.

Shortcut edges are solid when the input is added unchanged (identity, and the parameter-free zero-pad of
option A) and dashed when a 1×1 convolution projects it (``projection``, ``avgpool_projection``); every
shortcut is labelled with what it does. Every edge carries the C×H×W shape of its tensor, from
:func:`resnetdsl.analyze.analyze`. Runs of identical blocks can be collapsed into one ``×N`` node.

Layout uses the Graphviz bundled in the pygraphviz wheels (no system install needed); a ``dot`` executable on
``PATH`` is the fallback. DOT output needs no engine. This package never imports torch.

All user text (name, description) goes into HTML-like labels after XML escaping, so quotes, ``<``, ``>``,
``&``, braces, backslashes and newlines are shown as written and cannot change the graph.

The package: :mod:`~resnetdsl.render.labels` (label text), :mod:`~resnetdsl.render.graph` (the graph builder),
:mod:`~resnetdsl.render.engine` (layout, formats, files); this module holds the public API.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resnetdsl.render.engine import (
    EXTENSIONS,
    FORMATS,
    EngineNotFound,
    Format,
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
    block_groups,
    to_digraph,
)
from resnetdsl.render.labels import block_title, esc, fmt_count, fmt_macs, op_text, shortcut_text

if TYPE_CHECKING:
    import graphviz


# --- public API (re-exported by resnetdsl) -----------------------------------------------------------------


def render(
    source: Any,
    *,
    detail: Detail = "block",
    collapse: bool | None = None,
    rankdir: RankDir = "TB",
    input: tuple[int, int, int] | None = None,
) -> graphviz.Digraph:
    """The diagram of a spec as a ``graphviz.Digraph``; in Jupyter it displays inline (no system Graphviz).

    Args:
        source: a path, YAML text, a mapping, a Spec, a Plan, or a preset name.
        detail: ``stage``, ``block`` or ``layer``.
        collapse: draw runs of identical blocks once as ``×N`` (``None``: in stages deeper than
            :data:`COLLAPSE_OVER` blocks).
        rankdir: ``TB`` or ``LR``.
        input: C, H, W for the shapes (default: the spec's input).

    Raises:
        SpecError: the spec is invalid or the input too small.
    """
    from resnetdsl import plan_of

    return to_digraph(plan_of(source), detail=detail, collapse=collapse, rankdir=rankdir, input_shape=input)


def render_to(
    source: Any,
    path: str | os.PathLike[str],
    *,
    format: Format | None = None,
    detail: Detail = "block",
    collapse: bool | None = None,
    rankdir: RankDir = "TB",
    input: tuple[int, int, int] | None = None,
) -> Path:
    """Draw a spec into ``path`` (svg, png, pdf or dot; from the extension unless ``format`` is given).

    The file is written atomically: readers see the old file or the complete new one.

    Raises:
        SpecError: the spec is invalid or the input too small.
        EngineNotFound: no Graphviz engine for svg/png/pdf.
        ValueError: the format cannot be told from the path.
    """
    fmt = format_of(path, format)
    digraph = render(source, detail=detail, collapse=collapse, rankdir=rankdir, input=input)
    return write(digraph, path, fmt)


# --- command line ------------------------------------------------------------------------------------------


def cli_main(args: argparse.Namespace) -> int:
    """``resnetdsl render SPEC [-o FILE] [--format F] [--detail D] [--collapse|--no-collapse] [--rankdir R]``.

    Without ``-o``: ``--format dot`` prints the DOT source to stdout; other formats are written to
    ``<name>.<format>`` (default ``svg``) in the current directory.
    """
    from resnetdsl import plan_of

    try:
        fmt = format_of(args.output, args.format) if args.output else (args.format or "svg")
    except ValueError as exc:
        print(f"resnetdsl render: {exc}", file=sys.stderr)
        return 2
    plan = plan_of(args.spec)
    dg = to_digraph(plan, detail=args.detail, collapse=args.collapse, rankdir=args.rankdir, input_shape=args.input)
    if args.output is None and fmt == "dot":
        sys.stdout.write(dg.source)
        return 0
    path = args.output or f"{safe_filename(plan.name)}.{fmt}"
    try:
        write(dg, path, fmt)
    except EngineNotFound as exc:
        print(f"resnetdsl render: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


__all__ = [
    "COLLAPSE_OVER",
    "DETAILS",
    "EXTENSIONS",
    "FORMATS",
    "PROJECTIONS",
    "Detail",
    "EngineNotFound",
    "Format",
    "RankDir",
    "block_groups",
    "block_title",
    "cli_main",
    "esc",
    "fmt_count",
    "fmt_macs",
    "format_of",
    "layout",
    "op_text",
    "render",
    "render_to",
    "safe_filename",
    "shortcut_text",
    "to_digraph",
    "write",
]
