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


class ParsedSourceMap(SourceMap):
    """The source map of a parsed text, its marks made when first asked for: the parser's 0-based (line, column)
    of each value and key is kept until then, so that a spec without problems makes none (a 1 MiB spec has some
    10^5). :meth:`mark_for` makes only the mark it returns; :attr:`values` and :attr:`keys` make them all."""

    def __init__(self, file: str | None) -> None:  # no SourceMap.__init__: its two tables are made on demand
        self.file = file
        self.value_at: dict[Path, tuple[int, int]] = {}
        self.key_at: dict[Path, tuple[int, int]] = {}
        self._made: tuple[dict[Path, Mark], dict[Path, Mark]] | None = None

    def _tables(self) -> tuple[dict[Path, Mark], dict[Path, Mark]]:
        if self._made is None:
            f = self.file
            values = {path: Mark(f, line + 1, col + 1) for path, (line, col) in self.value_at.items()}
            keys = {path: Mark(f, line + 1, col + 1) for path, (line, col) in self.key_at.items()}
            self._made = (values, keys)
        return self._made

    @property
    def values(self) -> dict[Path, Mark]:
        return self._tables()[0]

    @values.setter
    def values(self, table: dict[Path, Mark]) -> None:
        self._made = (table, self._tables()[1])

    @property
    def keys(self) -> dict[Path, Mark]:
        return self._tables()[1]

    @keys.setter
    def keys(self, table: dict[Path, Mark]) -> None:
        self._made = (self._tables()[0], table)

    def __eq__(self, other: object) -> bool:  # equal to any source map of the same marks, as a SourceMap is
        if not isinstance(other, SourceMap):
            return NotImplemented
        return (self.values, self.keys) == (other.values, other.keys)

    __hash__ = None  # type: ignore[assignment]

    def mark_for(self, path: Path, *, key: bool = False) -> Mark | None:
        if self._made is not None:  # the tables are made (and may have been changed): theirs
            return super().mark_for(path, key=key)
        at = self.key_at.get(path) if key else None
        p = path
        while at is None:
            at = self.value_at.get(p)
            if at is None:
                if not p:
                    return None
                p = p[:-1]
        return Mark(self.file, at[0] + 1, at[1] + 1)


@dataclass
class Document:
    """A parsed spec source: plain data plus where each part came from."""

    data: dict[str, Any]
    source: SourceMap
    file: str | None
    via: Mark | None = None
    """Where this document says ``extends`` (set once the bases are merged in), for placing their problems."""
