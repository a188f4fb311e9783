"""A parsed spec source: its plain data (:class:`Document`) and where each value and key was written
(:class:`SourceMap`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from resnetdsl.errors import Mark, Path


@dataclass
class SourceMap:
    """Where each value (and each mapping key) of a document was written."""

    values: dict[Path, Mark] = field(default_factory=dict)
    keys: dict[Path, Mark] = field(default_factory=dict)

    def mark_for(self, path: Path, *, key: bool = False) -> Mark | None:
        """The mark of ``path``; for a key, where the key is written; else the nearest enclosing value."""
        if key and path in self.keys:
            return self.keys[path]
        p = path
        while True:
            if p in self.values:
                return self.values[p]
            if not p:
                return None
            p = p[:-1]


@dataclass
class Document:
    """A parsed spec source: plain data plus where each part came from."""

    data: dict[str, Any]
    source: SourceMap
    file: str | None
    via: Mark | None = None
    """Where this document says ``extends`` (set once the bases are merged in), for placing their problems."""
