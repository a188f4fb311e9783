"""Making user text safe to show: the one place every string from a spec passes before it reaches a terminal,
a message, a DOT label or a file.

:func:`printable` escapes what must not be shown raw (control characters, line and paragraph separators,
bidirectional overrides, lone surrogates, non-characters) as ``\\xNN``/``\\uNNNN``/``\\UNNNNNNNN``;
:func:`unsafe_char` finds the first character that a spec may not contain at all (a loader rejects it with a
location).
"""

from __future__ import annotations

import re
from functools import cache

# C0 and C1 controls, DEL; line/paragraph separators; bidi embeddings, overrides and isolates (Trojan Source);
# surrogates; non-characters (U+FDD0..U+FDEF and the last two code points of every plane).
_NONCHAR = "\ufdd0-\ufdef\ufffe\uffff" + "".join(
    f"{chr(p * 0x10000 + 0xFFFE)}{chr(p * 0x10000 + 0xFFFF)}" for p in range(1, 17)
)
_ASCII_ESCAPE = re.compile("[\x00-\x1f\x7f]")
_ASCII_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# the full classes are compiled when a text past ASCII first needs them (they cost more than the rest of the module)
@cache
def _escape_re() -> re.Pattern[str]:
    return re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff" + _NONCHAR + "]")


@cache
def _forbidden_re() -> re.Pattern[str]:
    return re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff" + _NONCHAR + "]")


def _escape(m: re.Match[str]) -> str:
    c = ord(m[0])
    if c < 0x100:
        return f"\\x{c:02x}"
    if c < 0x10000:
        return f"\\u{c:04x}"
    return f"\\U{c:08x}"


def printable(text: str) -> str:
    """``text`` with every character that could break a line, a terminal or an encoder written as an escape."""
    return (_ASCII_ESCAPE if text.isascii() else _escape_re()).sub(_escape, text)


def unsafe_char(text: str) -> tuple[int, str] | None:
    """(index, description) of the first character a spec may not contain, or ``None``.

    Forbidden: control characters other than tab, line feed, carriage return and next line; lone surrogates
    (``"\\ud800"``, also what ``json.dumps`` writes for an emoji when read back as two escapes); non-characters.
    """
    m = (_ASCII_FORBIDDEN if text.isascii() else _forbidden_re()).search(text)
    if m is None:
        return None
    c = ord(m[0])
    if 0xD800 <= c <= 0xDFFF:
        what = "a lone surrogate"
    elif c < 0xA0:
        what = "a control character"
    else:
        what = "a non-character"
    return m.start(), f"{what} U+{c:04X}"
