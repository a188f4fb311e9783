"""A Python mapping → plain data, checked as the YAML reader checks text, so that every form a spec comes in
meets the same rules.

Keys are strings; a whole-number key is taken as its digits, as YAML reads ``2:`` (``stages: {2: {depth: 1}}``
changes one stage of a base). No string may hold a character a spec may not contain
(:func:`~resnetdsl.text.unsafe_char`, the one definition); nesting and size are bounded as for YAML. Lists and
tuples become lists, nested mappings dicts; other values are left for the schema to judge.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from resnetdsl.errors import Issue, Path, SpecError
from resnetdsl.load.document import Document, SourceMap
from resnetdsl.load.messages import type_name
from resnetdsl.load.source import MAX_DEPTH, MAX_NODES, forbidden_message
from resnetdsl.text import unsafe_char


class _TooBig(Exception):
    pass


class _PlainData:
    """Walks a Python mapping into the plain data a YAML file would give, collecting every problem."""

    def __init__(self) -> None:
        self.issues: list[Issue] = []
        self.count = 0

    def value(self, value: Any, path: Path, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooBig(f"the mapping holds more than {MAX_NODES} values")
        if depth > MAX_DEPTH:
            raise _TooBig(f"the mapping nests deeper than {MAX_DEPTH} levels (or contains itself)")
        if isinstance(value, Mapping):
            return self.mapping(value, path, depth)
        if isinstance(value, list | tuple):
            return [self.value(v, (*path, i), depth + 1) for i, v in enumerate(value)]
        if isinstance(value, str):
            self.text(value, path)
        return value

    def mapping(self, value: Mapping[Any, Any], path: Path, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, int) and not isinstance(key, bool):
                name = str(key)  # YAML's `2:` is the key '2'
            elif isinstance(key, str):
                if not self.text(key, path):
                    continue
                name = key
            else:
                self.issues.append(Issue(path, f"mapping keys must be strings, not {type_name(key)} ({key!r})"))
                continue
            if name in out:
                self.issues.append(Issue((*path, name), f"duplicate key '{name}' (written as a number and a string)"))
                continue
            out[name] = self.value(item, (*path, name), depth + 1)
        return out

    def text(self, value: str, path: Path) -> bool:
        """Report a character a spec may not contain; whether ``value`` is clean."""
        bad = unsafe_char(value)
        if bad is not None:
            self.issues.append(Issue(path, forbidden_message(bad[1])))
        return bad is None


def plain_data(source: Mapping[Any, Any]) -> dict[str, Any]:
    """``source`` as the plain data YAML text would give.

    Raises:
        SpecError: every key that is not a string or a whole number, every string with a character a spec may not
            contain, or a mapping nested too deeply or too large.
    """
    walker = _PlainData()
    try:
        data = walker.mapping(source, (), 0)
    except _TooBig as exc:
        raise SpecError.single(str(exc)) from None
    except RecursionError:
        raise SpecError.single("the mapping nests too deeply") from None
    if walker.issues:
        raise SpecError(walker.issues)
    return data


def read_mapping(source: Mapping[Any, Any]) -> Document:
    """A spec given as a Python mapping → :class:`Document` (no marks: it has no text)."""
    return Document(plain_data(source), SourceMap(), None)
