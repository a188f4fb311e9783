"""DOT text made without the graphviz package: what the graph builder writes, line for line as a
``graphviz.Digraph`` would write it.

:mod:`resnetdsl.render.graph` draws into a :class:`DotGraph`, which has the part of the ``graphviz.Digraph``
interface the builder uses (``attr``, ``node``, ``edge``, ``subgraph`` as a ``with`` block, ``body``,
``source``). ``render --format dot`` prints its source directly, and a drawing is laid out from that source,
so the command never imports graphviz (a tenth of its start); :func:`resnetdsl.render` turns it into the
``graphviz.Digraph`` it returns by handing over the body lines, so both sources are the same text.

The quoting is graphviz's (0.20 and later): an HTML-like string ``<…>`` is kept as it is, an identifier or a
numeral is left bare unless it is a DOT keyword, anything else is double-quoted with its unescaped quotes
escaped. Keyword attributes are written sorted by name, as graphviz writes a plain ``dict``; the label first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

_HTML = re.compile(r"<.*>$", re.DOTALL)
_ID = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*|-?(\.[0-9]+|[0-9]+(\.[0-9]*)?))$")
_KEYWORDS = frozenset({"node", "edge", "graph", "digraph", "subgraph", "strict"})
_QUOTE = re.compile(r'(?P<backslashes>(?:\\{2})*)\\?(?P<quote>")')


def quote(text: str) -> str:
    """``text`` as a DOT ID: bare, HTML-like, or double-quoted."""
    if _HTML.match(text):
        return text
    if _ID.match(text) and text.lower() not in _KEYWORDS:
        return text
    return '"' + _QUOTE.sub(r"\g<backslashes>\\\g<quote>", text) + '"'


def quote_edge(end: str) -> str:
    """An edge's end, ``node[:port[:compass]]``, with the node and the port quoted."""
    node, _, rest = end.partition(":")
    parts = [quote(node)]
    if rest:
        port, _, compass = rest.partition(":")
        parts.append(quote(port))
        if compass:
            parts.append(compass)
    return ":".join(parts)


def _items(label: str | None, attrs: dict[str, str | None]) -> str:
    out = [f"label={quote(label)}"] if label is not None else []
    out += [f"{quote(k)}={quote(v)}" for k, v in sorted(attrs.items()) if v is not None]
    return " ".join(out)


def _bracketed(label: str | None, attrs: dict[str, str | None]) -> str:
    items = _items(label, attrs)
    return f" [{items}]" if items else ""


class DotGraph:
    """A directed graph as DOT lines: ``digraph <name> {``, the :attr:`body`, ``}``."""

    __slots__ = ("body", "name")

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self.body: list[str] = []
        """The statements, each a line with its newline, as ``graphviz.Digraph.body`` holds them."""

    def attr(self, kw: str | None = None, **attrs: str | None) -> None:
        """An attribute statement: ``kw [a=b]`` for ``graph``, ``node`` or ``edge``; bare ``a=b`` without ``kw``."""
        if kw is not None and kw.lower() not in ("graph", "node", "edge"):
            raise ValueError(f"attr statement must target graph, node, or edge: {kw!r}")
        if attrs:
            self.body.append(f"\t{_items(None, attrs)}\n" if kw is None else f"\t{kw}{_bracketed(None, attrs)}\n")

    def node(self, name: str, label: str | None = None, **attrs: str | None) -> None:
        self.body.append(f"\t{quote(name)}{_bracketed(label, attrs)}\n")

    def edge(self, tail_name: str, head_name: str, label: str | None = None, **attrs: str | None) -> None:
        self.body.append(f"\t{quote_edge(tail_name)} -> {quote_edge(head_name)}{_bracketed(label, attrs)}\n")

    @contextmanager
    def subgraph(self, *, name: str | None = None) -> Iterator[DotGraph]:
        """A ``with`` block: the subgraph drawn inside it is added to this graph, indented, when the block ends."""
        sub = DotGraph(name)
        yield sub
        self.body += [f"\t{line}" for line in sub.lines(subgraph=True)]

    def lines(self, *, subgraph: bool = False) -> Iterator[str]:
        """The DOT source, line by line."""
        head = f"{quote(self.name)} " if self.name else ""
        yield f"{'subgraph ' if subgraph and self.name else '' if subgraph else 'digraph '}{head}{{\n"
        yield from self.body
        yield "}\n"

    @property
    def source(self) -> str:
        """The DOT source text."""
        return "".join(self.lines())
