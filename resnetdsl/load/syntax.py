"""YAML syntax errors in our words: what the user most likely did, and how to fix it.

Both loaders (libyaml and PyYAML's pure-Python one) word their errors differently; :func:`explain` recognises
either wording of the common mistakes (tabs, indentation, unclosed quotes and brackets, a second document, a
missing space after ``:``, bad escapes) and says the same thing for both. Anything else keeps the loader's words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from resnetdsl.load.lines import Lines
from resnetdsl.records import record

if TYPE_CHECKING:
    import yaml

_NO_SPACE = re.compile(r"^\s*(?:-\s+)*([A-Za-z_][\w.-]*):([^\s:/\\].*)$")
_KEY_LINE = re.compile(r"^(\s*)(?:(-\s+)*)[^\s#-]")
_ESCAPE = re.compile(r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", re.S)
_SIMPLE = {"0": 0, "a": 7, "b": 8, "t": 9, "\t": 9, "n": 10, "v": 11, "f": 12, "r": 13, "e": 27, " ": 32}
_SIMPLE |= {'"': 34, "/": 47, "\\": 92, "N": 0x85, "_": 0xA0, "L": 0x2028, "P": 0x2029}


@record
class _Failure:
    """One parser error, with what each rule below reads from it."""

    problem: str
    context: str
    pm: Any
    """Where the parser stopped (PyYAML's 0-based mark)."""
    cm: Any
    """Where what it was reading began (``None`` if it did not say)."""
    lines: Lines

    @property
    def at(self) -> tuple[int, int]:
        return self.pm.line + 1, self.pm.column + 1

    @property
    def opened_at(self) -> tuple[int, int]:
        return self.cm.line + 1, self.cm.column + 1

    @property
    def text(self) -> str:
        return self.lines.text

    @property
    def i(self) -> int:
        return self.lines.index(self.pm.line, self.pm.column)

    @property
    def ch(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    @property
    def opened(self) -> str:
        return f"line {self.cm.line + 1}, column {self.cm.column + 1}" if self.cm else "above"


Explained = tuple[str, tuple[int, int]]
"""A message and its 1-based (line, column)."""


def explain(exc: yaml.MarkedYAMLError, lines: Lines) -> Explained:
    """(message, (line, col) 1-based) for a parser's error: the first rule of :data:`_RULES` that recognises it,
    else the parser's own words."""
    problem = exc.problem or exc.context or "invalid YAML"
    pm = exc.problem_mark or exc.context_mark
    if pm is None:
        return problem, (1, 1)
    failure = _Failure(problem, exc.context or "", pm, exc.context_mark, lines)
    for rule in _RULES:
        found = rule(failure)
        if found is not None:
            return found
    words = problem if problem[0].islower() else problem[0].lower() + problem[1:]
    return words, failure.at


def _bad_token(f: _Failure) -> Explained | None:
    if "cannot start any token" not in f.problem:
        return None
    if f.ch == "\t":
        return "a tab here; YAML indents with spaces only: replace the tab with spaces", f.at
    return f"a plain value cannot start with '{f.ch}'; put the value in quotes", f.at


def _more_documents(f: _Failure) -> Explained | None:
    if "found another document" in f.problem:
        return (
            "a second document starts here ('---'); a spec file holds one spec: remove this line and what "
            "follows, or put the other spec in its own file"
        ), f.at
    if "<document start>" in f.problem:
        return "more YAML after the end of the document ('...'); a spec file holds one spec: remove it", f.at
    return None


def _unclosed_quote(f: _Failure) -> Explained | None:
    if "end of stream" in f.problem and "quoted scalar" in f.context and f.cm is not None:
        quote = f.text[f.lines.index(f.cm.line, f.cm.column)]
        return f"the {quote} opened here is never closed; add the closing {quote}", f.opened_at
    return None


def _flow_collection(f: _Failure) -> Explained | None:
    """A ``[...]`` or ``{...}`` not closed, or closed with the other bracket."""
    flow = re.search(r"expected ',' or '([\]}])'", f.problem)
    if not flow or f.cm is None:
        return None
    close = flow[1]
    start = "[" if close == "]" else "{"
    if not f.text[f.i :].strip():
        return f"the '{start}' opened here is never closed; add '{close}'", f.opened_at
    if f.ch in "]}" and f.ch != close:
        return (
            f"'{f.ch}' here, but the '{start}' opened at {f.opened} is still open; close it with '{close}' first",
            f.at,
        )
    if f.pm.line > f.cm.line:
        return (
            f"the '{start}' opened at {f.opened} is not closed before this; add '{close}' where it ends "
            f"(or a ',' between its items)"
        ), f.at
    return f"expected ',' or '{close}' here, inside the '{start}' opened at column {f.cm.column + 1}", f.at


def _mapping_value(f: _Failure) -> Explained | None:
    """``mapping values are not allowed here``: a second ``: ``, a key missing its space, or one indented too far."""
    if not f.problem.startswith("mapping values are not allowed"):
        return None
    before = f.lines.line(f.pm.line)[: f.pm.column]
    if re.search(r":\s", before):
        return "a second ': ' in this value; if the ':' belongs to the value, put the value in quotes", f.at
    hint = _missing_space_above(f.lines, f.pm.line)
    if hint:
        return hint, f.at
    line = f.lines.line(f.pm.line)
    key_col = len(line) - len(re.sub(r"^(?:[ ]*-[ ]+)*[ ]*", "", line)) + 1  # the key's column, not its colon's
    return (
        "this key is indented more than the key above it, which already has a value; line it up with its sibling keys"
    ), (f.at[0], key_col)


def _simple_key(f: _Failure) -> Explained | None:
    if "simple key" not in f.context or f.cm is None:
        return None
    kv = _missing_space(f.lines.line(f.cm.line))
    if kv:
        return f"'{kv[0]}:{kv[1]}' needs a space after ':' ({kv[0]}: {kv[1]})", f.opened_at
    return "a line without ':' where a key is expected; write key: value", f.opened_at


def _block_indent(f: _Failure) -> Explained | None:
    """A block mapping or list broken by a line that lines up with nothing: a list item, a quote, an indent."""
    if "block mapping" not in f.context and "block collection" not in f.context:
        return None
    text, i, cm = f.text, f.i, f.cm
    if f.ch == "-" and text[i + 1 : i + 2] in ("", " ", "\n", "\r", "\t"):
        first = f.lines.line(cm.line)[cm.column :] if cm else ""
        if re.match(r"-[^\s-]", first) and cm is not None:
            return f"'{first.split(':')[0]}' on line {cm.line + 1} needs a space after '-' to be a list item", f.at
        return "this list item lines up with no list above it; start every '- ' of one list at the same column", f.at
    if i > 0 and text[i - 1] in "\"'":
        q = text[i - 1]
        return (
            f"a {q}-quoted string ends just before this; probably a {q} opened earlier is not closed where it "
            "should be: check the quotes above"
        ), f.at
    columns = _columns_above(f.lines, cm.line if cm else 0, f.pm.line)
    lower = [c for c in columns if c < f.pm.column + 1]
    higher = [c for c in columns if c > f.pm.column + 1]
    near = sorted({max(lower)} if lower else set()) + sorted({min(higher)} if higher else set())
    if not near:
        return None
    where = " and ".join(str(c) for c in near)
    return (
        f"this line starts at column {f.pm.column + 1}, which lines up with nothing above it "
        f"(nearest: column {where}); indent it like the keys it belongs with, using spaces"
    ), f.at


def _alias(f: _Failure) -> Explained | None:
    if "undefined alias" in f.problem:
        name = re.match(r"\*([^\s,\[\]{}]+)", f.text[f.i :])
        shown = name[1] if name else f.problem.rsplit(" ", 1)[-1].strip("'")
        return f"'*{shown}' refers to no anchor '&{shown}' defined before it", f.at
    if "duplicate anchor" in f.context:
        return f"this anchor is defined a second time (first at {f.opened}); give each anchor its own name", f.at
    return None


def _escape(f: _Failure) -> Explained | None:
    if "escape" not in f.problem:
        return None
    j = f.text.rfind("\\", 0, f.i + 1)
    if j < 0:
        return None
    if "Unicode" in f.problem:
        return surrogate_message(f.text, j), f.lines.line_col(j)
    esc = _ESCAPE.match(f.text, j)
    shown = esc[0] if esc else f.text[j : j + 2]
    return (
        f"unknown escape '{shown}' in a double-quoted string; write '\\\\' for a backslash, or use single quotes"
    ), f.lines.line_col(j)


def _missing_value(f: _Failure) -> Explained | None:
    return ("a value is missing here", f.at) if "node content" in f.problem else None


def _anchor_name(f: _Failure) -> Explained | None:
    if "alphabetic or numeric" in f.problem and "anchor" in f.context:
        return "an anchor or alias needs a name ('&name', '*name')", f.at
    return None


_RULES: tuple[Callable[[_Failure], Explained | None], ...] = (
    _bad_token,
    _more_documents,
    _unclosed_quote,
    _flow_collection,
    _mapping_value,
    _simple_key,
    _block_indent,
    _alias,
    _escape,
    _missing_value,
    _anchor_name,
)
"""Tried in order; the first that recognises the error words it."""


def surrogate_message(text: str, j: int) -> str:
    """What to say about the ``\\u``/``\\U`` escape at ``text[j]`` that names no character."""
    esc = _ESCAPE.match(text, j)
    shown = esc[0] if esc else text[j : j + 6]
    if len(shown) < 6 or shown[1] not in "uU":
        return f"'{shown}' is not a Unicode character"
    code = int(shown[2:], 16)
    if 0xD800 <= code < 0xDC00:
        low = _ESCAPE.match(text, j + len(shown))
        if low and low[0][1] == "u" and 0xDC00 <= int(low[0][2:], 16) <= 0xDFFF:
            cp = 0x10000 + ((code - 0xD800) << 10) + (int(low[0][2:], 16) - 0xDC00)
            return (
                f"'{shown}{low[0]}' is a UTF-16 surrogate pair (how JSON escapes U+{cp:04X}); write the character "
                f"itself, or '\\U{cp:08X}'"
            )
    if 0xD800 <= code <= 0xDFFF:
        return f"'{shown}' is a lone surrogate, not a character; remove it"
    return f"'{shown}' is not a Unicode character"


def find_bad_escape(text: str) -> int | None:
    """Where the first ``\\U`` escape beyond U+10FFFF is (the pure-Python loader fails on it without a mark)."""
    for m in re.finditer(r"\\U([0-9a-fA-F]{8})", text):
        if int(m[1], 16) > 0x10FFFF:
            return m.start()
    return None


def find_escape(text: str, start: int, end: int, char: str) -> int | None:
    """Where, in ``text[start:end]`` (a quoted scalar), the escape is that wrote ``char``."""
    for m in _ESCAPE.finditer(text, start, end):
        e = m[0]
        code = int(e[2:], 16) if e[1] in "xuU" and len(e) > 2 else _SIMPLE.get(e[1], -1)
        if code == ord(char):
            return m.start()
    return None


def missing_space_hint(value: str) -> str:
    """``; 'dropout:0.1' needs a space after ':' (dropout: 0.1)`` for such a value, else ``""``."""
    kv = _missing_space(value.split("\n")[0])
    return f"; '{kv[0]}:{kv[1]}' needs a space after ':' ({kv[0]}: {kv[1]})" if kv else ""


def _missing_space(line: str) -> tuple[str, str] | None:
    m = _NO_SPACE.match(line)
    return (m[1], m[2].rstrip()) if m else None


def _missing_space_above(lines: Lines, line: int) -> str:
    for n in range(line - 1, max(line - 20, -1), -1):
        text = lines.line(n)
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        kv = _missing_space(text)
        return f"'{kv[0]}:{kv[1]}' on line {n + 1} needs a space after ':' ({kv[0]}: {kv[1]})" if kv else ""
    return ""


def _columns_above(lines: Lines, first: int, last: int) -> set[int]:
    """1-based columns where keys (and list items' keys) start on lines ``first`` to ``last - 1``."""
    cols: set[int] = set()
    for n in range(max(first, last - 200), last):
        text = lines.line(n)
        m = _KEY_LINE.match(text)
        if m is None:
            continue
        cols.add(len(m[1]) + 1)
        if m[2]:
            cols.add(m.end() - 1 + 1)
    return cols
