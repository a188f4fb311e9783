"""The diagram object :func:`resnetdsl.render` returns: a ``graphviz.Digraph`` drawn by resnetdsl's engine.

The graphviz package draws by running a system ``dot`` executable, which most machines lack (pygraphviz's wheels
bring the Graphviz library, not the program). :class:`Diagram` keeps the whole ``graphviz.Digraph`` interface and
sends every way of getting a drawing out of it — :meth:`~Diagram.pipe`, :meth:`~Diagram.render`, ``view()``,
Jupyter's display — through :func:`resnetdsl.render.engine.draw` instead, so they work wherever ``render`` does
and fail the same way (:class:`~resnetdsl.render.engine.RenderError`, never a half-drawn file).

Unlike graphviz's own ``render()``, :meth:`Diagram.render` writes only the drawing; the DOT source file is
written too only when asked for by ``filename=`` (as graphviz names it: ``<filename>`` beside
``<filename>.<format>``).

Here too :func:`digraph_of` and :func:`to_digraph`, which make one of :mod:`resnetdsl.render.graph`'s DOT graphs.
Importing this module imports graphviz; nothing else in the package does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import graphviz

from resnetdsl.io import atomic_write_bytes
from resnetdsl.render.engine import draw, safe_filename
from resnetdsl.render.graph import View, analysis_for, dot_of

if TYPE_CHECKING:
    from resnetdsl import plan as P
    from resnetdsl.analyze import Analysis
    from resnetdsl.check import InputSize
    from resnetdsl.render.graph import Detail, RankDir


def _only_dot(renderer: str | None, formatter: str | None, neato_no_op: bool | int | None, engine: str | None) -> None:
    """resnetdsl lays out with ``dot`` and Graphviz's default renderer for each format; say so, not ignore it."""
    if engine not in (None, "dot"):
        raise ValueError(f"resnetdsl diagrams are laid out with dot, not '{engine}'")
    for what, value in (("renderer", renderer), ("formatter", formatter), ("neato_no_op", neato_no_op)):
        if value:
            raise ValueError(f"{what} is not supported by resnetdsl's engine (got {value!r})")


class Diagram(graphviz.Digraph):  # type: ignore[misc]
    """A ``graphviz.Digraph`` whose drawings come from resnetdsl's engine (no system Graphviz needed).

    Formats: any Graphviz knows (``svg``, ``png``, ``pdf``, ``jpeg``, ``ps``, ``json``, …); bitmaps follow the
    size rule of :func:`resnetdsl.render.engine.bitmap_scale`. Default format: ``svg``.
    """

    interactive: tuple[Any, Any]
    """The analysis and options it was drawn from (what :meth:`html` draws)."""

    def pipe(
        self,
        format: str | None = None,
        renderer: str | None = None,
        formatter: str | None = None,
        neato_no_op: bool | int | None = None,
        quiet: bool = False,
        *,
        engine: str | None = None,
        encoding: str | None = None,
    ) -> bytes | str:
        """The diagram drawn as ``format`` (default: :attr:`format`): bytes, or text when ``encoding`` is given.

        Raises:
            RenderError: Graphviz reported a problem, or does not know the format.
            DiagramTooLarge: a bitmap would be too large to draw readably.
            EngineNotFound: no Graphviz engine (pygraphviz, or ``dot`` on PATH).
        """
        _only_dot(renderer, formatter, neato_no_op, engine)
        data = draw(self.source, format or self.format)
        return data.decode(encoding) if encoding is not None else data

    def render(
        self,
        filename: str | os.PathLike[str] | None = None,
        directory: str | os.PathLike[str] | None = None,
        view: bool = False,
        cleanup: bool = False,
        format: str | None = None,
        renderer: str | None = None,
        formatter: str | None = None,
        neato_no_op: bool | int | None = None,
        quiet: bool = False,
        quiet_view: bool = False,
        *,
        outfile: str | os.PathLike[str] | None = None,
        engine: str | None = None,
        raise_if_result_exists: bool = False,
        overwrite_source: bool = False,
    ) -> str:
        """Draw the diagram into a file and return its path.

        Where: ``outfile`` (its extension gives the format unless ``format`` is given); else
        ``<filename>.<format>`` when ``filename`` is given (graphviz's naming, the source saved as ``filename``);
        else ``<name of the network>.<format>``. Relative paths are taken in ``directory`` (default:
        :attr:`directory`). The source file is written only when ``filename`` is given and ``cleanup`` is not;
        the drawing is written atomically, and not at all when Graphviz reports a problem.

        Raises:
            RenderError: Graphviz reported a problem (nothing is written).
            graphviz.FileExistsError: ``raise_if_result_exists`` and the file exists.
            ValueError: the drawing would overwrite the source (unless ``overwrite_source``).
        """
        _only_dot(renderer, formatter, neato_no_op, engine)
        folder = Path(self.directory if directory is None else directory)
        if outfile is not None:
            out = folder / outfile
            fmt = format or out.suffix.lstrip(".").lower() or self.format
        else:
            fmt = format or self.format
            stem = os.fspath(filename) if filename is not None else Path(self.filename).stem
            out = folder / f"{stem}.{fmt}"
        source = folder / filename if filename is not None and not cleanup else None
        if source is not None and out.resolve() == source.resolve() and not overwrite_source:
            raise ValueError(f"the drawing '{out}' would overwrite its source (pass overwrite_source=True)")
        if raise_if_result_exists and out.exists():
            raise graphviz.FileExistsError(f"output file exists: {os.fspath(out)!r}")
        data = draw(self.source, fmt)
        out.parent.mkdir(parents=True, exist_ok=True)
        if source is not None:
            self.save(filename, directory=folder)
        atomic_write_bytes(out, data)
        if view or quiet_view:
            self._view(out, format=fmt, quiet=quiet_view)
        return os.fspath(out)

    def html(self) -> Any:
        """The interactive HTML diagram of the same network and options (:func:`resnetdsl.web.page.diagram_page`):
        shown in Jupyter in a frame of its own, written by ``.save("net.html")``."""
        from resnetdsl.web.page import diagram_page

        analysis, view = self.interactive
        return diagram_page(analysis, view)

    def _repr_svg_(self) -> str:
        """SVG for displays that ask for it by this name (IPython's older protocol)."""
        return draw(self.source, "svg").decode("utf-8")


def digraph_of(
    analysis: Analysis, *, detail: Detail = "block", collapse: bool | None = None, rankdir: RankDir = "TB"
) -> Diagram:
    """The diagram of an analysed plan (see :func:`to_digraph`): :func:`dot_of`'s lines in a
    :class:`Diagram`, the same source.

    Raises:
        ValueError: an unknown ``detail`` or ``rankdir``.
    """
    dot = dot_of(analysis, detail=detail, collapse=collapse, rankdir=rankdir)
    name = safe_filename(analysis.plan.name)
    g = Diagram(name=dot.name, filename=f"{name}.gv", engine="dot", format="svg", body=dot.body)
    g.interactive = (analysis, View(detail, collapse, rankdir))  # what Diagram.html() draws
    return g


def to_digraph(
    plan: P.Plan,
    *,
    detail: Detail = "block",
    collapse: bool | None = None,
    rankdir: RankDir = "TB",
    input_shape: InputSize | None = None,
) -> Diagram:
    """The diagram of ``plan`` as a :class:`Diagram` (a ``graphviz.Digraph``; no
    layout engine needed until it is drawn).

    Args:
        plan: the network.
        detail: ``stage``, ``block`` or ``layer``.
        collapse: draw runs of identical blocks once, as ``×N``. ``None``: only in stages deeper than
            :data:`COLLAPSE_OVER` blocks. Ignored at stage level.
        rankdir: ``TB`` (top to bottom) or ``LR`` (left to right).
        input_shape: ``H``, ``(H, W)`` or ``(C, H, W)`` for the shapes (default: the spec's input).

    Raises:
        SpecError: the input is too small for the network.
        ValueError: an unknown ``detail`` or ``rankdir``.
    """
    return digraph_of(analysis_for(plan, input_shape), detail=detail, collapse=collapse, rankdir=rankdir)
