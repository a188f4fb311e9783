"""YAML syntax errors in our words: what the user most likely did, and how to fix it.

Both loaders (libyaml and PyYAML's pure-Python one) word their errors differently; :func:`explain` recognises
either wording of the common mistakes (tabs, indentation, unclosed quotes and brackets, a second document, a
missing space after ``:``, bad escapes) and says the same thing for both. Anything else keeps the loader's words.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import yaml

    from resnetdsl.load.source import Lines

_NO_SPACE = re.compile(r"^\s*(?:-\s+)*([A-Za-z_][\w.-]*):([^\s:/\\].*)$")
_KEY_LINE = re.compile(r"^(\s*)(?:(-\s+)*)[^\s#-]")
_ESCAPE = re.compile(r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", re.S)
_SIMPLE = {"0": 0, "a": 7, "b": 8, "t": 9, "\t": 9, "n": 10, "v": 11, "f": 12, "r": 13, "e": 27, " ": 32}
_SIMPLE |= {'"': 34, "/": 47, "\\": 92, "N": 0x85, "_": 0xA0, "L": 0x2028, "P": 0x2029}


def explain(exc: yaml.MarkedYAMLError, lines: Lines) -> tuple[str, tuple[int, int]]:
    """(message, (line, col) 1-based) for a parser's error."""
    problem = exc.problem or exc.context or "invalid YAML"
    context = exc.context or ""
    pm = exc.problem_mark or exc.context_mark
    cm = exc.context_mark
    if pm is None:
        return problem, (1, 1)
    at = (pm.line + 1, pm.column + 1)
    i = lines.index(pm.line, pm.column)
    text = lines.text
    ch = text[i] if i < len(text) else ""
    opened = f"line {cm.line + 1}, column {cm.column + 1}" if cm else "above"

    if "cannot start any token" in problem:
        if ch == "\t":
            return "a tab here; YAML indents with spaces only: replace the tab with spaces", at
        return f"a plain value cannot start with '{ch}'; put the value in quotes", at
    if "found another document" in problem:
        return (
            "a second document starts here ('---'); a spec file holds one spec: remove this line and what "
            "follows, or put the other spec in its own file"
        ), at
    if "<document start>" in problem:
        return "more YAML after the end of the document ('...'); a spec file holds one spec: remove it", at
    if "end of stream" in problem and "quoted scalar" in context and cm is not None:
        quote = text[lines.index(cm.line, cm.column)]
        return f"the {quote} opened here is never closed; add the closing {quote}", (cm.line + 1, cm.column + 1)
    flow = re.search(r"expected ',' or '([\]}])'", problem)
    if flow and cm is not None:
        close = flow[1]
        start = "[" if close == "]" else "{"
        if not text[i:].strip():
            return f"the '{start}' opened here is never closed; add '{close}'", (cm.line + 1, cm.column + 1)
        if ch in "]}" and ch != close:
            return f"'{ch}' here, but the '{start}' opened at {opened} is still open; close it with '{close}' first", at
        if pm.line > cm.line:
            return (
                f"the '{start}' opened at {opened} is not closed before this; add '{close}' where it ends "
                f"(or a ',' between its items)"
            ), at
        return f"expected ',' or '{close}' here, inside the '{start}' opened at column {cm.column + 1}", at
    if problem.startswith("mapping values are not allowed"):
        line = lines.line(pm.line)
        before = line[: pm.column]
        if re.search(r":\s", before):
            return "a second ': ' in this value; if the ':' belongs to the value, put the value in quotes", at
        hint = _missing_space_above(lines, pm.line)
        if hint:
            return hint, at
        return (
            "this key is indented more than the key above it, which already has a value; line it up with its "
            "sibling keys"
        ), at
    if "simple key" in context and cm is not None:
        kv = _missing_space(lines.line(cm.line))
        if kv:
            return f"'{kv[0]}:{kv[1]}' needs a space after ':' ({kv[0]}: {kv[1]})", (cm.line + 1, cm.column + 1)
        return "a line without ':' where a key is expected; write key: value", (cm.line + 1, cm.column + 1)
    if "block mapping" in context or "block collection" in context:
        if ch == "-" and text[i + 1 : i + 2] in ("", " ", "\n", "\r", "\t"):
            first = lines.line(cm.line)[cm.column :] if cm else ""
            if re.match(r"-[^\s-]", first) and cm is not None:
                return f"'{first.split(':')[0]}' on line {cm.line + 1} needs a space after '-' to be a list item", at
            return "this list item lines up with no list above it; start every '- ' of one list at the same column", at
        if i > 0 and text[i - 1] in "\"'":
            q = text[i - 1]
            return (
                f"a {q}-quoted string ends just before this; probably a {q} opened earlier is not closed where it "
                "should be: check the quotes above"
            ), at
        columns = _columns_above(lines, cm.line if cm else 0, pm.line)
        lower = [c for c in columns if c < pm.column + 1]
        higher = [c for c in columns if c > pm.column + 1]
        near = sorted({max(lower)} if lower else set()) + sorted({min(higher)} if higher else set())
        where = " and ".join(str(c) for c in near)
        if near:
            return (
                f"this line starts at column {pm.column + 1}, which lines up with nothing above it "
                f"(nearest: column {where}); indent it like the keys it belongs with, using spaces"
            ), at
    if "undefined alias" in problem:
        name = re.match(r"\*([^\s,\[\]{}]+)", text[i:])
        shown = name[1] if name else problem.rsplit(" ", 1)[-1].strip("'")
        return f"'*{shown}' refers to no anchor '&{shown}' defined before it", at
    if "duplicate anchor" in context:
        return f"this anchor is defined a second time (first at {opened}); give each anchor its own name", at
    if "escape" in problem:
        j = text.rfind("\\", 0, i + 1)
        if j >= 0:
            if "Unicode" in problem:
                return surrogate_message(text, j), lines.line_col(j)
            esc = _ESCAPE.match(text, j)
            shown = esc[0] if esc else text[j : j + 2]
            return (
                f"unknown escape '{shown}' in a double-quoted string; write '\\\\' for a backslash, or use single "
                "quotes"
            ), lines.line_col(j)
    if "node content" in problem:
        return "a value is missing here", at
    if "alphabetic or numeric" in problem and "anchor" in context:
        return "an anchor or alias needs a name ('&name', '*name')", at
    words = problem if problem[0].islower() else problem[0].lower() + problem[1:]
    return words, at


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
