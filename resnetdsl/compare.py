"""The diff of two specs (``resnetdsl diff A B``): what differs between the resolved specs, their numbers per
stage side by side, and which of A's tensors load into B (as they are, adapted, or not at all), all without torch.

The weight part is :func:`resnetdsl.weights.fit.predict`: the rule :func:`resnetdsl.load_weights` applies.
"""

from __future__ import annotations

import json
import re
from typing import Any

from resnetdsl.analyze import Analysis, Totals
from resnetdsl.check import check
from resnetdsl.errors import format_path
from resnetdsl.records import record
from resnetdsl.show import resolved
from resnetdsl.weights.fit import STATUSES, WeightReport, predict

_MISSING: Any = object()
"""A key one side of a :class:`KeyChange` does not have."""


@record
class KeyChange:
    """One key of the resolved specs whose value differs (``_MISSING`` where a side has none)."""

    path: str
    """As messages write it (``stages[1].width``)."""
    a: Any
    b: Any


@record
class PartRow:
    """One part of the networks (stem, a stage, final, head, total), A's numbers beside B's."""

    part: str
    a: Totals | None
    """``None`` where A has no such part (a stage B has beyond A's)."""
    b: Totals | None


@record
class Diff:
    """What :func:`resnetdsl.diff` finds between two specs: the keys, the numbers part by part, the weights."""

    a_name: str
    b_name: str
    weights: WeightReport
    """Whether the weights of one load into the other, tensor by tensor."""
    keys: tuple[KeyChange, ...]
    rows: tuple[PartRow, ...]

    def to_dict(self) -> dict[str, Any]:
        def totals(t: Totals | None) -> dict[str, int] | None:
            return None if t is None else {"params": t.params, "macs": t.macs}

        def value(v: Any) -> Any:
            return None if v is _MISSING else v

        return {
            "a": self.a_name,
            "b": self.b_name,
            "keys": [{"path": k.path, "a": value(k.a), "b": value(k.b)} for k in self.keys],
            "parts": [{"part": r.part, "a": totals(r.a), "b": totals(r.b)} for r in self.rows],
            "weights": self.weights.as_dict(),
        }

    def __repr__(self) -> str:
        changed = sum(1 for r in self.rows if r.a != r.b)
        return (
            f"<Diff {self.a_name} → {self.b_name}: {len(self.keys)} spec keys, {changed} parts changed; "
            f"weights {'load strictly' if self.weights.ok else 'do not load strictly'}>"
        )

    def __str__(self) -> str:
        return self.format()

    def _repr_markdown_(self) -> str:
        return f"```\n{self.format()}```"

    def format(self, *, tensors: bool = False) -> str:
        out = [f"--- {self.a_name}", f"+++ {self.b_name}", ""]
        if self.keys:
            out.append("spec:")
            out += [f"  {k.path}: {_show(k.a)} → {_show(k.b)}" for k in self.keys]
        else:
            out.append("spec: the same")
        out += ["", _table(self.rows), "", self.weights.format(loaded=tensors, grouped=not tensors)]
        return "\n".join(out) + "\n"


def _show(v: Any) -> str:
    if v is _MISSING:
        return "(unset)"
    return json.dumps(v, ensure_ascii=False)


def _fmt(n: int) -> str:
    return f"{n:,}"


def _table(rows: tuple[PartRow, ...]) -> str:
    head = ("part", "params A", "params B", "Δ params", "MACs A", "MACs B", "Δ MACs")
    body = []
    for r in rows:
        pa, pb = (r.a.params if r.a else 0), (r.b.params if r.b else 0)
        ma, mb = (r.a.macs if r.a else 0), (r.b.macs if r.b else 0)
        body.append(
            (
                r.part,
                _fmt(pa) if r.a else "-",
                _fmt(pb) if r.b else "-",
                f"{pb - pa:+,}",
                _fmt(ma) if r.a else "-",
                _fmt(mb) if r.b else "-",
                f"{mb - ma:+,}",
            )
        )
    widths = [max(len(row[i]) for row in (head, *body)) for i in range(len(head))]
    lines = [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        for row in (head, *body)
    ]
    return "\n".join(line.rstrip() for line in lines)


def _flatten(value: Any, path: tuple[Any, ...] = ()) -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, (*path, k)))
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = {}
        for i, v in enumerate(value):
            out.update(_flatten(v, (*path, i)))
        return out
    return {format_path(path): value}


_SCOPED = re.compile(r"^(stem|stages\[\d+\])\.(\w+)$")


def _canonical(flat: dict[str, Any]) -> dict[str, Any]:
    """The flattened resolved spec without what a scope takes from ``defaults`` anyway: a stem's norm/act key
    or a stage's block setting equal to ``defaults``' value says nothing, so two ways of writing one network
    compare equal (``stem.norm: batch`` written or inherited)."""
    from resnetdsl.spec import BlockSettings, NormActSettings

    out = {}
    for key, value in flat.items():
        m = _SCOPED.match(key)
        inherits = NormActSettings.model_fields if m and m[1] == "stem" else BlockSettings.model_fields
        if m and m[2] in inherits and flat.get(f"defaults.{m[2]}", _MISSING) == value:
            continue
        out[key] = value
    return out


def _parts(a: Analysis) -> dict[str, Totals]:
    parts = {"stem": a.stem_totals}
    parts.update({s.path: s.totals for s in a.stages})
    if a.final:
        parts["final"] = a.final_totals
    if a.head:
        parts["head"] = a.head_totals
    return parts


def diff(a: Any, b: Any, *, input_size: Any = None, overrides: Any = None) -> Diff:
    """Compare spec ``a`` (the weights' source) with spec ``b`` (the target; ``overrides`` apply to it).

    Raises:
        SpecError: either spec is invalid.
    """
    ca = check(a, input_size=input_size)
    cb = check(b, input_size=input_size, overrides=overrides)
    fa, fb = _canonical(_flatten(resolved(a))), _canonical(_flatten(resolved(b, overrides=overrides)))
    order = list(fa) + [k for k in fb if k not in fa]
    keys = tuple(
        KeyChange(k, fa.get(k, _MISSING), fb.get(k, _MISSING))
        for k in order
        if k not in ("name", "description") and fa.get(k, _MISSING) != fb.get(k, _MISSING)
    )
    pa, pb = _parts(ca.analysis), _parts(cb.analysis)
    names = list(pa) + [p for p in pb if p not in pa]
    first = [n for n in names if n not in ("final", "head")] + [n for n in ("final", "head") if n in names]
    rows = [PartRow(n, pa.get(n), pb.get(n)) for n in first]
    rows.append(PartRow("total", ca.analysis.totals, cb.analysis.totals))
    return Diff(ca.plan.name, cb.plan.name, predict(ca.plan, cb.plan), keys, tuple(rows))


__all__ = ["STATUSES", "Diff", "KeyChange", "PartRow", "diff"]
