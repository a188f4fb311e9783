"""The line table of a spec's text: where each line starts, counted as YAML counts lines, so that positions found
in the text (an escape, a byte that is not UTF-8) agree with the parser's marks."""

from __future__ import annotations

import bisect
import re
from functools import cached_property

from resnetdsl.errors import Mark

YAML_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
"""What ends a line for YAML: CRLF, CR, LF, NEL, LS and PS."""


class Lines:
    """Line starts of a text (CRLF, CR, LF, NEL, LS and PS each end a line)."""

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def starts(self) -> list[int]:
        """Where each line starts (found when first asked: only a problem's place needs them)."""
        return [0] + [m.end() for m in YAML_BREAK.finditer(self.text)]

    def mark(self, file: str | None, index: int) -> Mark:
        """The mark of the character at ``index``."""
        return Mark(file, *self.line_col(index))

    def line_col(self, index: int) -> tuple[int, int]:
        """1-based (line, column) of the character at ``index``."""
        line = bisect.bisect_right(self.starts, index)
        return line, index - self.starts[line - 1] + 1

    def index(self, line: int, col: int) -> int:
        """The index of 0-based ``line`` and ``col`` (as in PyYAML's marks)."""
        return min(self.starts[min(line, len(self.starts) - 1)] + col, len(self.text))

    def line(self, line: int) -> str:
        """The text of 0-based ``line``, without its line break."""
        if line >= len(self.starts):
            return ""
        end = self.starts[line + 1] if line + 1 < len(self.starts) else len(self.text)
        return self.text[self.starts[line] : end].rstrip("\r\n\x85\u2028\u2029")
