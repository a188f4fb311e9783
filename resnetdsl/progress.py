"""Progress on a terminal for commands that can take a while (``validate`` over hundreds of files).

The line goes to stderr, and only when stderr is a terminal: piped or redirected output, CI logs and
``--format json`` consumers see nothing of it. It appears only once the work has taken longer than
:data:`DELAY` seconds (a quick run does not flicker), is redrawn at most every :data:`INTERVAL` seconds, and is
erased when the work ends, so what the command prints afterwards starts on a clean line. ``TERM=dumb`` or
``NO_PROGRESS`` (any value) in the environment turns it off.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from typing import IO, TypeVar

T = TypeVar("T")

DELAY = 0.5
"""Seconds of work before the line first appears."""
INTERVAL = 0.1
"""Least seconds between two redraws."""
WIDTH = 79
"""The line is cut to this many characters, so it never wraps (a wrapped line cannot be erased with ``\\r``)."""


def enabled(stream: IO[str]) -> bool:
    """Whether progress should be drawn on ``stream``: a terminal, and not turned off by the environment."""
    if os.environ.get("NO_PROGRESS") is not None or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):  # a closed stream
        return False


def progress(
    items: Sequence[T],
    label: str,
    *,
    stream: IO[str] | None = None,
) -> Iterator[T]:
    """Yield ``items`` one by one, drawing ``label: i/N name-of-item`` on ``stream`` (stderr) when it is a terminal.

    Args:
        items: the work, in order (its length is the total shown).
        label: what is being done, e.g. ``"validating"``.
        stream: where to draw; default ``sys.stderr`` (looked up when called, so redirection is honoured).
    """
    out = sys.stderr if stream is None else stream
    if not enabled(out):
        yield from items
        return
    total = len(items)
    start = time.monotonic()
    last = -INTERVAL
    drawn = 0
    try:
        for i, item in enumerate(items):
            now = time.monotonic()
            if now - start >= DELAY and now - last >= INTERVAL:
                line = f"{label}: {i}/{total} {item}"
                line = line if len(line) <= WIDTH else line[: WIDTH - 1] + "…"
                out.write("\r" + line.ljust(drawn))
                out.flush()
                drawn = len(line)
                last = now
            yield item
    finally:
        if drawn:
            out.write("\r" + " " * drawn + "\r")
            out.flush()
