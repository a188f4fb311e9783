"""The variables of a design space: the key paths a space varies and the values each takes (a list of choices,
an integer range, a float range, uniform or log-uniform, on a grid or not), enumerated or sampled.

Written in a space file as ``KEY: [64, 96, 128]`` or ``KEY: LO..HI [log] [step Q]``: ``2..12`` is every integer
from 2 to 12, ``8..256 log step 8`` the multiples of 8 from 8 to 256 drawn log-uniformly, ``1.5..3.0`` any
float between (uniformly), ``2.0..3.0 log step 0.001`` a grid of 1,001 floats drawn log-uniformly.
"""

from __future__ import annotations

import math
import random
import re
from decimal import Decimal
from typing import Any

from resnetdsl.errors import Path
from resnetdsl.records import record

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_RANGE = re.compile(rf"^\s*(?P<lo>{_NUM})\s*\.\.\s*(?P<hi>{_NUM})(?P<rest>(?:\s+\S+)*)\s*$")
_INT = re.compile(r"^[-+]?\d+$")
RANGE_HELP = "write LO..HI [log] [step Q] (2..12, 8..256 log step 8, 1.5..3.0) or a list of values"


@record
class Values:
    """What one variable takes: choices, or a range (on a grid when ``step`` is set or the ends are integers)."""

    choices: tuple[Any, ...] | None = None
    lo: float = 0.0
    hi: float = 0.0
    step: float | None = None
    """Grid spacing from ``lo``; ``None``: continuous (float ranges only)."""
    log: bool = False
    """Drawn log-uniformly (as pycls draws w0, wa and wm) instead of uniformly."""
    integer: bool = False

    @property
    def size(self) -> int | None:
        """How many values there are (``None``: a continuum)."""
        if self.choices is not None:
            return len(self.choices)
        if self.step is None:
            return None
        return int(Decimal(repr(self.hi - self.lo)) / Decimal(repr(self.step)) + Decimal("1e-9")) + 1

    def value(self, i: int) -> Any:
        """The ``i``-th value (0 ≤ i < size)."""
        if self.choices is not None:
            return self.choices[i]
        assert self.step is not None
        if self.integer:
            return int(self.lo) + i * int(self.step)
        return float(Decimal(repr(self.lo)) + i * Decimal(repr(self.step)))

    def sample(self, rng: random.Random) -> Any:
        """One value drawn with ``rng``."""
        n = self.size
        if self.choices is not None or (n is not None and not self.log):
            return self.value(rng.randrange(n or 1))
        if n is None:
            if self.log:
                return math.exp(rng.uniform(math.log(self.lo), math.log(self.hi)))
            return rng.uniform(self.lo, self.hi)
        # log-uniform on the grid, as pycls's log_uniform: f in (lo − q*, hi], q* = min(q, lo/2), up to the grid
        assert self.step is not None
        below = self.lo - min(self.step, self.lo / 2)
        f = math.exp(rng.uniform(math.log(below), math.log(self.hi)))
        return self.value(min(max(math.ceil((f - self.lo) / self.step - 1e-9), 0), n - 1))

    def describe(self) -> str:
        if self.choices is not None:
            return "[" + ", ".join(map(str, self.choices)) + "]"
        text = f"{_num(self.lo, self.integer)}..{_num(self.hi, self.integer)}"
        if self.log:
            text += " log"
        if self.step is not None and not (self.integer and self.step == 1):
            text += f" step {_num(self.step, self.integer)}"
        return text


def _num(x: float, integer: bool) -> str:
    return str(int(x)) if integer else repr(float(x))


@record
class Variable:
    """One varied key: where it sets its value (several paths when one value is shared) and what it takes."""

    key: str
    """As written (``stages.2.depth``), or one item of a ``*`` key (``stages.0.width``)."""
    paths: tuple[Path, ...]
    values: Values


def parse_values(value: Any) -> Values:
    """A space file's value for a key (a list, or a range string) → :class:`Values`.

    Raises:
        ValueError: the message says what is wrong.
    """
    if isinstance(value, list):
        if not value:
            raise ValueError("the list of values is empty")
        if any(isinstance(v, dict | list) or v is None for v in value):
            raise ValueError("the values must be numbers, words or booleans")
        return Values(choices=tuple(value))
    if not isinstance(value, str):
        raise ValueError(f"expected a list of values or a range; {RANGE_HELP}")
    m = _RANGE.match(value)
    if m is None:
        raise ValueError(f"'{value}' is not a range; {RANGE_HELP}")
    words = m["rest"].split()
    log, step_text = False, None
    while words:
        word = words.pop(0)
        if word == "log" and not log:
            log = True
        elif word == "step" and step_text is None and words and re.fullmatch(_NUM, words[0]):
            step_text = words.pop(0)
        else:
            raise ValueError(f"unexpected '{word}' in range '{value}'; {RANGE_HELP}")
    integer = all(_INT.match(t) for t in (m["lo"], m["hi"], step_text or "1"))
    lo, hi = (int(m["lo"]), int(m["hi"])) if integer else (float(m["lo"]), float(m["hi"]))
    step: float | None = None
    if integer:
        step = int(step_text or 1)
    elif step_text is not None:
        step = float(step_text)
    if hi < lo:
        raise ValueError(f"range '{value}' is empty: {m['hi']} is below {m['lo']}")
    if step is not None and step <= 0:
        raise ValueError(f"step must be > 0 (got {step_text})")
    if log and lo <= 0:
        raise ValueError(f"a log range must start above 0 (got {m['lo']})")
    return Values(lo=lo, hi=hi, step=step, log=log, integer=integer)
