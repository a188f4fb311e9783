"""The figures of a candidate (parameters, MACs, activations, memory, receptive field, …), computed statically
from its checked plan, and the conditions on them: budget lines, a target, the AnyNetX constraints.

Figures: ``params``; ``macs`` and ``gmacs`` (MACs / 10⁹); ``activations`` (elements of every conv output, pycls's
``acts``); ``depth`` (blocks) and ``stages``; ``output_stride``; ``rf`` (the receptive field of the last stage's
output) and ``rf.N`` (of stage N's output, 0 the stem's), ``inf`` where channel attention makes it global;
``memory`` (bytes of one float32 training step at the space's ``batch``: activations kept for backward,
parameters, gradients, SGD momentum; :mod:`resnetdsl.memory`).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from fractions import Fraction
from typing import TYPE_CHECKING

from resnetdsl.records import record

if TYPE_CHECKING:
    from resnetdsl.check import Checked
    from resnetdsl.plan import Plan

BASE_FIGURES = ("params", "gmacs", "activations")
"""Figures every candidate shows."""
_PLAIN = ("params", "macs", "gmacs", "activations", "depth", "stages", "output_stride", "rf", "memory")
_RF = re.compile(r"^rf\.(\d{1,2})$")
FIGURE_HELP = f"one of {', '.join(_PLAIN)}, or rf.N (the receptive field of stage N, 0 the stem)"

CONSTRAINTS = ("shared_bottleneck_ratio", "shared_group_width", "widths_nondecreasing", "depths_nondecreasing")
"""The AnyNetX constraints of Radosavovic et al. 2020, in the paper's order: AnyNetX_B shares the bottleneck
ratio of every stage, C also the group width, D also asks for widths w_{i+1} ≥ w_i, E also depths d_{i+1} ≥ d_i."""
CONSTRAINT_LETTERS = dict(zip(CONSTRAINTS, "BCDE", strict=True))

_UNITS = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "KiB": 2**10,
    "MiB": 2**20,
    "GiB": 2**30,
    "TiB": 2**40,
}
_OPS = ("<=", ">=", "==", "<", ">")
_COND = re.compile(
    r"^\s*(?P<fig>[a-z_]+(?:\.\d+)?)\s*(?P<op><=|>=|==|<|>|=)\s*(?P<num>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)"
    r"\s*(?P<unit>[A-Za-z]*)\s*$"
)


def check_figure(name: str) -> str:
    """``name`` if it names a figure.

    Raises:
        ValueError: it does not.
    """
    if name in _PLAIN or _RF.match(name):
        return name
    from resnetdsl.load import did_you_mean

    raise ValueError(f"unknown figure '{name}'{did_you_mean(name, _PLAIN)}; {FIGURE_HELP}")


@record
class Condition:
    """``FIGURE OP VALUE``: a budget line (``gmacs <= 0.4``), or a target (``=``: within a tolerance)."""

    figure: str
    op: str
    value: float
    text: str

    def holds(self, x: float | None, tolerance: float = 0.0) -> bool:
        if x is None:
            return False
        if self.op == "=":
            return abs(x - self.value) <= tolerance * abs(self.value)
        return {
            "<=": x <= self.value,
            "<": x < self.value,
            ">=": x >= self.value,
            ">": x > self.value,
            "==": x == self.value,
        }[self.op]


def parse_condition(text: str, *, target: bool = False) -> Condition:
    """``gmacs <= 0.4``, ``params < 5M``, ``memory <= 8 GiB``, ``rf.3 >= 200``; a target: ``gmacs = 0.4``.

    Raises:
        ValueError: the message says what is wrong.
    """
    want = "FIGURE = VALUE, such as gmacs = 0.4" if target else "FIGURE OP VALUE, such as gmacs <= 0.4"
    m = _COND.match(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"expected {want}; OP is one of {', '.join(_OPS)} (got {text!r})")
    if (m["op"] == "=") != target:
        raise ValueError(f"expected {want} (got '{text}')")
    if m["unit"] not in _UNITS:
        raise ValueError(f"unknown unit '{m['unit']}' in '{text}'; use k, M, G, or KiB, MiB, GiB (KB, MB, GB)")
    figure = check_figure(m["fig"])
    return Condition(figure, m["op"], float(m["num"]) * _UNITS[m["unit"]], text.strip())


@record
class Objective:
    """One axis of the Pareto front: a figure, minimised unless ``maximise``."""

    figure: str
    maximise: bool = False

    @property
    def text(self) -> str:
        return f"max {self.figure}" if self.maximise else self.figure


def parse_objective(text: str) -> Objective:
    """``params`` (minimised) or ``max rf.4``.

    Raises:
        ValueError: not a figure.
    """
    words = str(text).split()
    if len(words) == 2 and words[0] in ("max", "min"):
        return Objective(check_figure(words[1]), words[0] == "max")
    if len(words) != 1:
        raise ValueError(f"expected a figure, or 'max FIGURE' (got '{text}')")
    return Objective(check_figure(words[0]))


def figures(checked: Checked, names: Sequence[str], batch: int | None) -> tuple[float, ...]:
    """The figures ``names`` of one checked candidate (``math.inf``: a global receptive field; ``nan``: a
    stage that does not exist)."""
    a = checked.analysis
    plan = a.plan
    facts = None
    out: list[float] = []
    for name in names:
        if name in ("params", "macs", "gmacs", "activations"):
            t = a.totals
            out.append({"params": t.params, "macs": t.macs, "gmacs": t.macs / 1e9, "activations": t.acts}[name])
        elif name == "depth":
            out.append(sum(len(st.blocks) for st in plan.stages))
        elif name == "stages":
            out.append(len(plan.stages))
        elif name == "memory":
            out.append(_memory(checked, batch or 1))
        else:
            if facts is None:
                from resnetdsl.receptive import feature_facts

                facts = feature_facts(plan)
            m = _RF.match(name)
            i = int(m[1]) if m else len(facts) - 1
            if i >= len(facts):
                out.append(math.nan)
                continue
            f = facts[i]
            if name == "output_stride":
                out.append(f.reduction)
                continue
            out.append(math.inf if f.receptive_field is None else f.receptive_field)
    return tuple(out)


def _memory(checked: Checked, batch: int) -> int:
    from resnetdsl.memory import activation_report

    r = activation_report(checked.analysis, batch, "float32")
    return r.activation_total + r.param_bytes + r.grad_bytes + r.sgd_state_bytes


def stage_shapes(plan: Plan) -> list[tuple[int, int, Fraction, Fraction]]:
    """Per stage: depth, output width, bottleneck ratio (inner / output width) and group width (inner / groups)
    of its first block, read from the plan: what the AnyNetX constraints compare."""
    out = []
    for st in plan.stages:
        b = st.blocks[0]
        out.append(
            (
                len(st.blocks),
                st.out_channels,
                Fraction(b.mid_channels, b.out_channels),
                Fraction(b.mid_channels, b.groups),
            )
        )
    return out


def constraints_met(plan: Plan) -> tuple[bool, ...]:
    """Whether the plan meets each of :data:`CONSTRAINTS`, alone."""
    shapes = stage_shapes(plan)
    depths = [s[0] for s in shapes]
    widths = [s[1] for s in shapes]
    return (
        len({s[2] for s in shapes}) == 1,
        len({s[3] for s in shapes}) == 1,
        all(a <= b for a, b in itertools.pairwise(widths)),
        all(a <= b for a, b in itertools.pairwise(depths)),
    )
