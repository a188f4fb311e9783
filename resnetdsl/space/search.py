"""Exploring a space: enumerate it (when it holds no more members than asked for) or sample it (seeded: member i
is drawn from its own generator, so the draw does not depend on how the work is split), check every candidate
through the one checking path, compute its figures, keep those that meet the constraints, the budget and the
target, and mark the Pareto front. Chunks of candidates run in worker processes, in order.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import random
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from resnetdsl.errors import Path
from resnetdsl.records import record
from resnetdsl.space.figures import CONSTRAINTS, constraints_met, figures
from resnetdsl.space.file import Space

SERIAL_BELOW = 200
"""Fewer candidates than this run in this process: starting workers would cost more than it saves."""


@record
class Record:
    """One candidate: its values, and its figures or why it is invalid."""

    index: int
    values: tuple[Any, ...]
    """One per variable of the space, in its order."""
    figures: tuple[float, ...] | None
    """One per :attr:`Space.figures`; ``None``: invalid."""
    problem: str = ""
    """The first problem of an invalid candidate, as ``validate`` writes it."""
    constraints: tuple[bool, ...] = ()
    """Whether it meets each of :data:`~resnetdsl.space.figures.CONSTRAINTS`."""


def values_of(space: Space, index: int, enumerate_all: bool) -> tuple[Any, ...]:
    """The values of candidate ``index``: the ``index``-th member in enumeration order (the last variable varies
    fastest), or a draw from candidate ``index``'s own generator."""
    if enumerate_all:
        out = []
        for v in reversed(space.variables):
            n = v.values.size or 1
            index, i = divmod(index, n)
            out.append(v.values.value(i))
        return tuple(reversed(out))
    rng = random.Random(f"{space.seed}/{index}")
    return tuple(v.values.sample(rng) for v in space.variables)


def _set(data: Any, path: Path, value: Any) -> Any:
    """``data`` with ``value`` at ``path``; the containers on the way are copied, the rest shared."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, list) and isinstance(head, int):
        out = list(data)
        out[head] = _set(out[head], rest, value)
        return out
    out_d = dict(data) if isinstance(data, dict) else {}
    out_d[head] = _set(out_d.get(head), rest, value)
    return out_d


def document(space: Space, values: Sequence[Any]) -> dict[str, Any]:
    """The candidate's document: the base with each variable's value set (a generator not yet expanded)."""
    data: dict[str, Any] = space.base
    for v, value in zip(space.variables, values, strict=True):
        for path in v.paths:
            data = _set(data, path, value)
    return data


def spec_data(space: Space, values: Sequence[Any]) -> dict[str, Any]:
    """The spec (plain data) of the candidate with ``values``; a generator is expanded (a RegNet into a spec
    with the ``regnet:`` key, an AnyNet into its ``regnet`` blocks).

    Raises:
        SpecError: the generator's settings are invalid.
    """
    data = document(space, values)
    if space.generator is None:
        return data
    from resnetdsl.regnet import expand

    return expand(data)[0]


def evaluate(space: Space, index: int, values: tuple[Any, ...]) -> Record:
    """Check one candidate and compute its figures."""
    from resnetdsl.check import check_with_issues
    from resnetdsl.errors import SpecError

    data = document(space, values)
    try:
        spec = spec_data(space, values) if space.generator else data
    except SpecError as exc:
        return Record(index, values, None, exc.issues[0].format())
    checked, issues = check_with_issues(spec)
    if checked is None:
        first = next(i for i in issues if i.severity == "error")
        return Record(index, values, None, first.format())
    figs = figures(checked, space.figures, space.batch)
    return Record(index, values, figs, "", constraints_met(checked.plan))


# --- running the candidates ------------------------------------------------------------------------------


@record
class Chunk:
    start: int
    stop: int
    total: int
    enumerate_all: bool
    indices: tuple[int, ...] | None = None

    def __str__(self) -> str:
        return f"candidates {self.start + 1:,}–{self.stop:,} of {self.total:,}"


_SPACE: Space | None = None


def _init(space: Space) -> None:
    global _SPACE
    _SPACE = space


def _work(chunk: Chunk) -> list[Record]:
    assert _SPACE is not None
    return [evaluate(_SPACE, i, values_of(_SPACE, i, chunk.enumerate_all)) for i in range(chunk.start, chunk.stop)]


def default_jobs() -> int:
    """The CPUs this process may use."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _context() -> Any:
    # fork starts workers in milliseconds with everything imported; elsewhere (macOS, Windows) spawn is the safe one
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods and sys.platform.startswith("linux") else "spawn")


def run(space: Space, *, jobs: int | None = None, show_progress: bool = True) -> tuple[list[Record], str, int]:
    """Every candidate's record, in order; how they were chosen (``enumerated`` or ``sampled``); the jobs used."""
    from resnetdsl.progress import progress

    size = space.size
    enumerate_all = size is not None and size <= space.count
    total = size if enumerate_all and size is not None else space.count
    jobs = max(1, min(jobs or default_jobs(), 64))
    if total < SERIAL_BELOW:
        jobs = 1
    per = max(16, min(256, math.ceil(total / (jobs * 8))))
    chunks = [Chunk(a, min(a + per, total), total, enumerate_all) for a in range(0, total, per)]
    steps: Iterable[Chunk] = progress(chunks, "exploring") if show_progress else chunks
    records: list[Record] = []
    if jobs == 1:
        _init(space)
        for chunk in steps:
            records += _work(chunk)
    else:
        with _context().Pool(jobs, initializer=_init, initargs=(space,)) as pool:
            results: Iterator[list[Record]] = pool.imap(_work, chunks)
            for _chunk, recs in zip(steps, results, strict=True):  # the line shows the chunk being waited for
                records += recs
    return records, "enumerated" if enumerate_all else "sampled", jobs


# --- what fits, and the front ---------------------------------------------------------------------------------


def pareto_front(points: Sequence[tuple[float, float]]) -> set[int]:
    """Indices of the points no other point dominates (at most in both coordinates, less in one); both
    coordinates minimised."""
    order = sorted(range(len(points)), key=lambda i: points[i])
    front: set[int] = set()
    best_y = math.inf
    last: tuple[float, float] | None = None
    for i in order:
        p = points[i]
        if p[1] < best_y or p == last:
            front.add(i)
            best_y = min(best_y, p[1])
            last = p
    return front


@dataclass(frozen=True)
class Result:
    """What exploring a space gave."""

    space: Space
    records: tuple[Record, ...]
    """Every distinct candidate, in index order."""
    mode: str
    """``enumerated`` (every member) or ``sampled``."""
    drawn: int
    jobs: int
    seconds: float
    fit: tuple[Record, ...] = ()
    """The candidates that meet the constraints, the budget and the target, by the first Pareto figure."""
    front: frozenset[int] = frozenset()
    """Indices of the fit candidates on the Pareto front."""
    funnel: tuple[tuple[str, int], ...] = ()
    """Each step and how many candidates are left after it."""
    constraint_report: tuple[tuple[str, int, int], ...] = ()
    """Per AnyNetX constraint: how many valid candidates meet it alone, and with every one before it."""
    _figure_index: Mapping[str, int] = field(default_factory=dict, repr=False)

    @property
    def valid(self) -> tuple[Record, ...]:
        return tuple(r for r in self.records if r.figures is not None)

    @property
    def invalid(self) -> tuple[Record, ...]:
        return tuple(r for r in self.records if r.figures is None)

    def figure(self, record: Record, name: str) -> float:
        assert record.figures is not None
        return record.figures[self._figure_index[name]]

    def spec_data(self, record: Record) -> dict[str, Any]:
        """The candidate's spec (plain data), named ``SPACE_INDEX``."""
        data = spec_data(self.space, record.values)
        return {**data, "name": f"{self.space.name}_{record.index}"}


def explore(space: Space, *, jobs: int | None = None, show_progress: bool = True) -> Result:
    """Enumerate or sample ``space``, check and measure every candidate, and keep what fits.

    Args:
        jobs: worker processes (default: every CPU this process may use; one below 200 candidates).
        show_progress: draw a progress line on a terminal (stderr; see :mod:`resnetdsl.progress`).
    """
    start = time.perf_counter()
    records, mode, used = run(space, jobs=jobs, show_progress=show_progress)
    seconds = time.perf_counter() - start
    drawn = len(records)
    seen: set[tuple[Any, ...]] = set()
    distinct = []
    for r in records:
        if r.values not in seen:
            seen.add(r.values)
            distinct.append(r)
    return select(space, distinct, mode=mode, drawn=drawn, jobs=used, seconds=seconds)


def select(space: Space, records: Sequence[Record], *, mode: str, drawn: int, jobs: int, seconds: float) -> Result:
    """The fit candidates of ``records``, the front, the funnel and the constraint report."""
    index = {name: i for i, name in enumerate(space.figures)}
    valid = [r for r in records if r.figures is not None]
    funnel: list[tuple[str, int]] = [("drawn" if mode == "sampled" else "members", drawn)]
    if mode == "sampled":
        funnel.append(("distinct", len(records)))
    funnel.append(("valid", len(valid)))
    left = valid
    for name in space.constraints:
        k = CONSTRAINTS.index(name)
        left = [r for r in left if r.constraints[k]]
        funnel.append((f"constraint {name}", len(left)))
    for cond in space.budget:
        left = [r for r in left if cond.holds(_fig(r, index[cond.figure]))]
        funnel.append((f"budget {cond.text}", len(left)))
    if space.target is not None:
        t = space.target
        left = [r for r in left if t.holds(_fig(r, index[t.figure]), space.tolerance)]
        funnel.append((f"target {t.figure} within {space.tolerance:.0%} of {t.value:g}", len(left)))
    report = []
    for k, name in enumerate(CONSTRAINTS):
        alone = sum(1 for r in valid if r.constraints[k])
        cumulative = sum(1 for r in valid if all(r.constraints[: k + 1]))
        report.append((name, alone, cumulative))
    axes = [(index[o.figure], -1.0 if o.maximise else 1.0) for o in space.pareto]
    points = [tuple(_ordered(sign * _fig(r, i)) for i, sign in axes) for r in left]
    front_at = {i for i in pareto_front([(p[0], p[1]) for p in points]) if math.inf not in points[i]}
    order = sorted(range(len(left)), key=lambda i: (points[i], left[i].index))
    fit = tuple(left[i] for i in order)
    front = frozenset(left[i].index for i in front_at)
    return Result(space, tuple(records), mode, drawn, jobs, seconds, fit, front, tuple(funnel), tuple(report), index)


def _fig(r: Record, i: int) -> float:
    assert r.figures is not None
    return r.figures[i]


def _ordered(x: float) -> float:
    """A figure as the front orders it: a missing one (nan) last."""
    return math.inf if math.isnan(x) else x
