"""The one checking path: every command and every API entry point checks a spec here.

``validate``, ``summary``, ``render``, ``build`` and the Python API (:func:`~resnetdsl.build_model`,
:func:`~resnetdsl.summarize`, :func:`~resnetdsl.render`) all call :func:`check` (or :func:`check_with_issues`),
so they report the same problems with the same marks: the YAML's, the schema's, lowering's (semantics) and the
analyzer's (shapes for the input size). A problem that lies in a file the spec ``extends`` is placed on the
user's ``extends`` line, the base's own place told in the message: the user's file and line first, the base's
second, in every output format.

Nothing here imports torch.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from resnetdsl.errors import Issue, Mark, SpecError
from resnetdsl.records import record

if TYPE_CHECKING:
    from resnetdsl.analyze import Analysis
    from resnetdsl.load import Override, SourceMap
    from resnetdsl.plan import Plan
    from resnetdsl.spec import Spec

InputSize = int | Sequence[int]
"""An input size as every API function takes it: ``H`` (square), ``(H, W)`` or ``(C, H, W)``; a size without
channels keeps the spec's channel count."""


def input_shape_arg(value: InputSize | None, name: str = "input_size") -> tuple[int | None, int, int] | None:
    """``value`` as (C or None, H, W); ``None`` stays ``None`` (the spec's own input).

    Raises:
        ValueError: ``value`` is not a whole number >= 1 or a sequence of two or three of them; the message
            names the argument.
    """
    if value is None:
        return None
    items: list[Any]
    if isinstance(value, int) and not isinstance(value, bool):
        items = [value, value]
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        items = list(value)
    else:
        raise ValueError(f"{name} must be H, (H, W) or (C, H, W), got {value!r}")
    if len(items) not in (2, 3) or not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        raise ValueError(f"{name} must be H, (H, W) or (C, H, W) of whole numbers, got {value!r}")
    if min(items) < 1:
        raise ValueError(f"{name} must hold whole numbers >= 1, got {value!r}")
    if len(items) == 2:
        return None, items[0], items[1]
    return items[0], items[1], items[2]


@record
class Checked:
    """A spec that passed every check: its plan and its analysis for the input size checked."""

    spec: Spec | None
    """The spec (``None`` when a plan was checked directly)."""
    plan: Plan
    analysis: Analysis

    @property
    def warnings(self) -> tuple[Issue, ...]:
        """Legal but wasteful choices (severity ``warning``), placed as errors are."""
        return self.analysis.warnings

    def __repr__(self) -> str:
        t = self.analysis.totals
        blocks = sum(len(st.blocks) for st in self.plan.stages)
        return (
            f"<Checked {self.plan.name}: {t.params:,} params, {t.macs / 1e9:.2f} GMACs, {len(self.plan.stages)} "
            f"stages, {blocks} blocks, {len(self.warnings)} warnings>"
        )


def check(
    source: Any, *, input_size: InputSize | None = None, input_name: str = "input_size", overrides: Any = None
) -> Checked:
    """Load, validate, lower and analyse a spec; raise every problem at once.

    Args:
        source: a path, YAML text, a mapping, a preset name, a :class:`~resnetdsl.spec.Spec` or a
            :class:`~resnetdsl.plan.Plan`.
        input_size: the input to analyse for (``H``, ``(H, W)`` or ``(C, H, W)``); default: the spec's.
        input_name: how problems of ``input_size`` name it (``--input`` on the command line).
        overrides: ``{"stages.2.depth": 23}`` (or :class:`~resnetdsl.load.Override`\\ s, as ``--set`` makes them):
            set after ``extends``, before validation; problems they cause are placed on them.

    Raises:
        SpecError: every error found (warnings ride along in ``issues`` when there are errors).
        ValueError: ``input_size`` is malformed.
    """
    checked, issues = check_with_issues(source, input_size=input_size, input_name=input_name, overrides=overrides)
    if checked is None:
        raise SpecError(issues)
    return checked


def check_with_issues(
    source: Any, *, input_size: InputSize | None = None, input_name: str = "input_size", overrides: Any = None
) -> tuple[Checked | None, list[Issue]]:
    """:func:`check`, returning the problems instead of raising them.

    The steps: the source → a spec (:func:`_load`: the YAML, ``extends``, overrides, the schema), the spec → a
    plan (lowering: the semantics), the plan → its analysis for the input (:func:`_analysed`: the shapes); each
    problem placed in the user's own file (:func:`place`).

    Returns:
        ``(checked, issues)``: ``checked`` is ``None`` when any issue is an error; ``issues`` holds every error
        and warning, in source order.
    """
    from resnetdsl.load import Overridden, overrides_arg
    from resnetdsl.lower import lower_with_issues
    from resnetdsl.plan import Plan

    shape = input_shape_arg(input_size, input_name)
    if isinstance(source, Overridden):
        source, overrides = source.source, (*source.overrides, *overrides_arg(overrides))
    changes = overrides_arg(overrides)
    if isinstance(source, Plan):
        if changes:
            raise TypeError("overrides apply to a spec, not to a plan")
        return _analysed(None, source, [], shape, input_name, _Where())
    loaded = _load(source, changes)
    if isinstance(loaded, list):
        return None, loaded
    spec, where = loaded
    try:
        plan, issues = lower_with_issues(spec)
    except SpecError as exc:
        return None, where.place_all(exc.issues)
    return _analysed(spec, plan, issues, shape, input_name, where)


@record
class _Where:
    """Where a spec's problems are placed: its source map, its own file, and its ``extends`` line."""

    source: SourceMap | None = None
    own: str | None = None
    via: Mark | None = None

    def place_all(self, issues: Iterable[Issue]) -> list[Issue]:
        """Every issue placed (:func:`place`), in source order."""
        return _sorted(place(i, self.source, self.own, self.via) for i in issues)


def _load(source: Any, changes: Sequence[Override]) -> tuple[Spec, _Where] | list[Issue]:
    """The spec of ``source`` with ``changes`` set, and where its problems go; or every problem, placed."""
    from resnetdsl.load import (
        apply_overrides,
        checked_spec,
        read_source,
        resolve_extends,
        spec_data,
        spec_from_document,
    )
    from resnetdsl.spec import Spec

    if isinstance(source, Spec) and not changes:
        try:
            spec = checked_spec(source)
        except SpecError as exc:
            return _Where(source._source, source._file, source._via).place_all(exc.issues)
        return spec, _Where(spec._source, spec._file, spec._via)
    try:
        doc = read_source(spec_data(source) if isinstance(source, Spec) else source)
    except SpecError as exc:
        return _sorted(exc.issues)
    own = doc.file
    via = doc.source.mark_for(("extends",)) if "extends" in doc.data else None
    try:
        doc = resolve_extends(doc)
        doc = apply_overrides(doc, changes)
        spec = spec_from_document(doc)
    except SpecError as exc:
        return _Where(doc.source, own, via).place_all(exc.issues)
    return spec, _Where(spec._source, own or spec._file, via or spec._via)


def _analysed(
    spec: Spec | None,
    plan: Plan,
    issues: list[Issue],
    shape: tuple[int | None, int, int] | None,
    input_name: str,
    where: _Where,
) -> tuple[Checked | None, list[Issue]]:
    """Analyse ``plan`` for the input (the spec's, or ``shape``); with lowering's ``issues``, every problem."""
    from resnetdsl.analyze import analyze

    analysis: Analysis | None = None
    c, h, w = shape if shape is not None else (None, None, None)
    try:
        analysis = analyze(
            plan,
            None if h is None or w is None else (h, w),
            c,
            source=where.source,
            input_name=input_name if shape is not None else None,
        )
        issues = [*issues, *analysis.warnings]
    except SpecError as exc:
        issues = [*issues, *exc.issues]
    except Exception:
        if not issues:
            raise
        # the plan came with problems already reported; what the analyzer makes of it adds nothing
    placed = where.place_all(issues)
    if analysis is None or any(i.severity == "error" for i in placed):
        return None, placed
    if placed != list(analysis.warnings):
        analysis = dataclasses.replace(analysis, warnings=tuple(placed))
    return Checked(spec, plan, analysis), placed


_SPEC_KEYS = frozenset("name description extends input stem defaults stages head init".split())


def _sorted(issues: Any) -> list[Issue]:
    return SpecError(issues).issues


def place(issue: Issue, source: SourceMap | None, own: str | None, via: Mark | None) -> Issue:
    """The issue with its mark in the user's own file.

    An issue without a mark gets one from the spec's source map. One that lies in a file this one ``extends``
    is moved onto the ``extends`` line (``via``), its own place told in the message: the user's file comes
    first, and a CI annotation lands on the file that was checked.
    """
    from resnetdsl.load import is_override_mark, preset_of_display
    from resnetdsl.spec import Spec

    mark = issue.mark
    if mark is None and source is not None and (not issue.path or issue.path[0] in Spec.model_fields):
        mark = source.mark_for(issue.path)  # not for a caller's argument (`--input`), which is in no file
    if mark is None:
        return issue
    preset = preset_of_display(mark.file)
    if via is not None and mark.file != own and not is_override_mark(mark):
        if preset is not None:
            where = f"line {mark.line} of preset '{preset}'" if mark.line is not None else f"preset '{preset}'"
        else:
            where = dataclasses.replace(mark, file=relative(mark.file or "<string>")).format()
        return dataclasses.replace(issue, mark=via, message=f"{issue.message} (at {where}, through 'extends')")
    if preset is not None:  # a bundled preset checked directly: its path says all, a mark would name no file
        return dataclasses.replace(issue, mark=None)
    return issue if mark == issue.mark else dataclasses.replace(issue, mark=mark)


def relative(file: str) -> str:
    """``file`` relative to the working directory where it lies below it, else as it is."""
    if not os.path.isabs(file):
        return file
    try:
        rel = os.path.relpath(file)
    except ValueError:  # another drive
        return file
    return file if rel.startswith(os.pardir) else rel
