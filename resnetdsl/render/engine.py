"""The layout engine and files: DOT → svg/png/pdf bytes through the Graphviz bundled in pygraphviz's wheels (a
``dot`` executable on ``PATH`` is the fallback), output formats, and atomic writing of files.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import graphviz

Format = Literal["svg", "png", "pdf", "dot"]

FORMATS: tuple[Format, ...] = ("svg", "png", "pdf", "dot")
EXTENSIONS: dict[str, Format] = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}

INSTALL_HINT = (
    "no Graphviz layout engine found: pip install 'pygraphviz>=2.0.4' (its wheels bundle Graphviz), "
    "or install Graphviz so that `dot` is on PATH; --format dot needs no engine"
)


class EngineNotFound(RuntimeError):
    """No Graphviz layout engine is available (neither pygraphviz nor a ``dot`` executable)."""


def _import_pygraphviz() -> Any:
    import pygraphviz

    return pygraphviz


@contextlib.contextmanager
def _without_fontconfig_noise() -> Iterator[None]:
    """Hold back what C code writes to fd 2 while Graphviz draws, then pass it on without fontconfig's warnings.

    The fontconfig bundled in pygraphviz's wheels is older than many systems' font configuration and warns about
    elements it does not know ("unknown element reset-dirs") on every first draw; the fonts still resolve.
    Graphviz's own warnings are passed on.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            text = held.read().decode("utf-8", "replace")
            kept = [line for line in text.splitlines() if not line.startswith("Fontconfig warning:")]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")


def _pygraphviz_layout(source: str, fmt: str) -> bytes | None:
    try:
        pgv = _import_pygraphviz()
    except (ImportError, OSError):
        return None
    graph = pgv.AGraph(string=source)
    # pygraphviz writes "layout may take a long time" to sys.stderr above 1000 nodes; ours take well under a
    # second, so the note would only alarm. Graphviz's own errors still raise.
    with _without_fontconfig_noise(), contextlib.redirect_stderr(io.StringIO()):
        data: bytes = graph.draw(format=fmt, prog="dot")
    return data


def _dot_layout(source: str, fmt: str) -> bytes | None:
    exe = shutil.which("dot")
    if exe is None:
        return None
    done = subprocess.run([exe, f"-T{fmt}"], input=source.encode("utf-8"), capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"dot failed: {done.stderr.decode('utf-8', 'replace').strip()}")
    return done.stdout


ENGINES: tuple[Callable[[str, str], bytes | None], ...] = (_pygraphviz_layout, _dot_layout)


def layout(source: str, fmt: Format) -> bytes:
    """Lay out DOT ``source`` and draw it as ``fmt`` bytes (``dot``: the source itself, no engine).

    Raises:
        EngineNotFound: neither pygraphviz nor a ``dot`` executable is available.
    """
    if fmt == "dot":
        return source.encode("utf-8")
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got '{fmt}'")
    for engine in ENGINES:
        data = engine(source, fmt)
        if data is not None:
            return data
    raise EngineNotFound(INSTALL_HINT)


# --- files -------------------------------------------------------------------------------------------------


def format_of(path: str | os.PathLike[str], format: str | None = None) -> Format:
    """The output format: ``format`` when given, else from the file extension.

    Raises:
        ValueError: no format given and the extension is not one of .svg .png .pdf .dot .gv.
    """
    if format is not None:
        if format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got '{format}'")
        return format
    ext = Path(path).suffix.lower()
    if ext not in EXTENSIONS:
        raise ValueError(f"cannot tell the format of '{path}' from its extension; use --format svg|png|pdf|dot")
    return EXTENSIONS[ext]


def write(digraph: graphviz.Digraph, path: str | os.PathLike[str], format: str | None = None) -> Path:
    """Draw ``digraph`` into ``path`` atomically: the whole file is made in memory, then renamed into place."""
    from resnetdsl.io import atomic_write_bytes

    fmt = format_of(path, format)
    data = layout(digraph.source, fmt)
    atomic_write_bytes(path, data)
    return Path(path)


def safe_filename(name: str) -> str:
    """A file name stem made of a network name (``my net/v2`` → ``my_net_v2``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "network"
