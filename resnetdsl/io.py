"""File output for the CLI and the API: atomic for regular files, clear errors for everything else."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path


class OutputError(Exception):
    """An output file cannot be written; the message names the file and the reason."""


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one, never a part.

    A symbolic link is followed: the file it points to is replaced, the link stays. A character device or a FIFO
    (``/dev/stdout``, a pipe) is written to directly, as there is nothing to replace atomically.

    Raises:
        OutputError: the folder does not exist, the path is a folder, or the file cannot be written.
    """
    shown = os.fspath(path)
    try:
        st = os.stat(path)  # follows links: what would be written to
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(f"cannot write '{shown}': {exc.strerror or exc}") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise OutputError(f"cannot write '{shown}': it is a directory")
    if st is not None and not stat.S_ISREG(st.st_mode):
        try:
            with open(path, "wb") as f:
                f.write(data)
        except OSError as exc:
            raise OutputError(f"cannot write '{shown}': {exc.strerror or exc}") from None
        return
    target = Path(os.path.realpath(path))
    if not target.parent.is_dir():
        raise OutputError(f"cannot write '{shown}': no such directory '{target.parent}'")
    try:
        import tempfile  # only when a file is written (not at every command's start)

        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"cannot write '{shown}': {exc.strerror or exc}") from None
    try:
        # mkstemp creates 0600; give the file the mode an ordinary open() would (0666 less the umask)
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write '{shown}': {exc.strerror or exc}") from None
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_or_print(path: str | os.PathLike[str] | None, text: str) -> None:
    """``text`` into ``path`` atomically (and ``wrote PATH`` on stdout), or on stdout when no path is given."""
    import sys

    if path is None:
        sys.stdout.write(text)
        return
    atomic_write_text(path, text)
    print(f"wrote {os.fspath(path)}")
