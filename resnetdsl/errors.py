"""One error type for every problem found in a spec, with where it was found."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from resnetdsl.records import record
from resnetdsl.text import printable

PathPart = str | int
Path = tuple[PathPart, ...]


@record
class Mark:
    """A position in a source file (1-based line and column); a file-level mark (a file that cannot be read)
    has neither line nor column."""

    file: str | None
    line: int | None = None
    col: int | None = None

    def format(self) -> str:
        """``file:line:col``, or just ``file`` for a file-level mark."""
        where = printable(self.file or "<string>")
        return where if self.line is None else f"{where}:{self.line}:{self.col}"


@record
class Issue:
    """One problem in a spec.

    Attributes:
        path: Where in the spec, as a tuple of keys and list indices (empty: the whole document).
        message: What is wrong, in words a user can act on.
        mark: Where in the source text, when the spec came from YAML.
        severity: ``"error"`` or ``"warning"``.
    """

    path: Path
    message: str
    mark: Mark | None = None
    severity: Literal["error", "warning"] = "error"

    @property
    def dotted(self) -> str:
        """The path written as ``stages[2].depth``."""
        return format_path(self.path)

    @property
    def file(self) -> str | None:
        return self.mark.file if self.mark else None

    @property
    def line(self) -> int | None:
        return self.mark.line if self.mark else None

    @property
    def col(self) -> int | None:
        return self.mark.col if self.mark else None

    def to_dict(self) -> dict[str, str | int | None]:
        """Plain data for JSON output: file, line, col, severity, path (dotted), message."""
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "severity": self.severity,
            "path": self.dotted,
            "message": self.message,
        }

    def format(self, *, severity: bool = False) -> str:
        """``file:line:col: [error: ]path: message`` on one line; parts that are unknown are left out, and user
        text is escaped (:func:`~resnetdsl.text.printable`)."""
        parts: list[str] = []
        if self.mark is not None:
            parts.append(self.mark.format())
        if severity:
            parts.append(self.severity)
        if self.path:
            parts.append(printable(self.dotted))
        parts.append(printable(self.message))
        return ": ".join(parts)


def format_path(path: Sequence[PathPart]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _sort_key(issue: Issue) -> tuple[str, int, int, str]:
    m = issue.mark
    return (m.file or "", m.line or 0, m.col or 0, issue.message) if m else ("", 0, 0, issue.message)


class SpecError(ValueError):
    """A spec is invalid. ``issues`` holds every problem found, in source order.

    Its text is one line per issue; when warnings ride along with the errors, every line says which it is
    (``file:line:col: error: path: message``, as ``resnetdsl validate`` prints it).
    """

    def __init__(self, issues: Iterable[Issue]) -> None:
        found = list(issues)
        # Sort by position where known, keep unmarked issues in the order they were found.
        marked = sorted((i for i in found if i.mark), key=_sort_key)
        unmarked = [i for i in found if not i.mark]
        self.issues: list[Issue] = marked + unmarked
        mixed = any(i.severity != "error" for i in self.issues)
        super().__init__("\n".join(i.format(severity=mixed) for i in self.issues) or "invalid spec")

    @classmethod
    def single(cls, message: str, *, path: Path = (), mark: Mark | None = None) -> SpecError:
        return cls([Issue(path, message, mark)])


def print_issues(issues: Iterable[Issue]) -> None:
    """Every issue to stderr as ``resnetdsl validate`` writes it: ``file:line:col: severity: path: message``."""
    import sys

    for issue in issues:
        print(issue.format(severity=True), file=sys.stderr)
