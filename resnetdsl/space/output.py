"""What ``resnetdsl space`` prints (a table, JSON or CSV) and writes (the chosen candidates' specs)."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Sequence
from typing import Any

from resnetdsl.space.figures import CONSTRAINT_LETTERS
from resnetdsl.space.search import Record, Result

FORMATS = ("table", "json", "csv")
_HEADS = {"params": "params", "macs": "MACs", "gmacs": "GMACs", "activations": "acts (M)", "memory": "memory (MiB)"}


def chosen(result: Result, *, front_only: bool = False, limit: int | None = None) -> list[Record]:
    """The fit candidates to show and write: all, or the front only; the first ``limit`` of them."""
    rows = [r for r in result.fit if not front_only or r.index in result.front]
    return rows if not limit else rows[:limit]


def _value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _figure(name: str, x: float) -> str:
    if math.isnan(x):
        return "-"
    if math.isinf(x):
        return "global"
    if name == "gmacs":
        return f"{x:.3f}"
    if name == "activations":
        return f"{x / 1e6:.2f}"
    if name == "memory":
        return f"{x / 2**20:,.1f}"
    return f"{int(x):,}" if x == int(x) else f"{x:.6g}"


def _figure_json(x: float) -> Any:
    if math.isnan(x):
        return None
    if math.isinf(x):
        return "global"
    return int(x) if x == int(x) and abs(x) < 2**63 else x


def _header(result: Result) -> list[str]:
    s = result.space
    rate = result.drawn / result.seconds * 60 if result.seconds > 0 else math.inf
    what = (
        f"every one of {result.drawn:,} members"
        if result.mode == "enumerated"
        else (f"{result.drawn:,} sampled (seed {s.seed})")
    )
    lines = [
        f"space {s.name}: {what}; {result.jobs} job{'s' if result.jobs != 1 else ''}, "
        f"{result.seconds:.1f} s ({rate:,.0f} candidates a minute)"
    ]
    width = max(len(step) for step, _ in result.funnel)
    for step, n in result.funnel:
        lines.append(f"  {step:<{width}}  {n:>9,}")
    invalid = result.invalid
    if invalid:
        lines.append(f"  {len(invalid):,} invalid, e.g. candidate {invalid[0].index}: {invalid[0].problem}")
    valid = len(result.valid)
    if valid:
        lines.append(
            f"AnyNetX constraints, share of the {valid:,} valid candidates that meet each (alone; with "
            "every one before it):"
        )
        for name, alone, cumulative in result.constraint_report:
            applied = " (applied)" if name in s.constraints else ""
            lines.append(
                f"  {CONSTRAINT_LETTERS[name]} {name:<24} {alone / valid:>6.1%}  "
                f"A→{CONSTRAINT_LETTERS[name]} {cumulative / valid:>6.1%}{applied}"
            )
    axes = ", ".join(o.text for o in s.pareto)
    lines.append(f"{len(result.fit):,} fit; {len(result.front):,} on the Pareto front of {axes} (*)")
    return lines


def format_table(result: Result, rows: Sequence[Record]) -> str:
    s = result.space
    keys = [v.key for v in s.variables]
    heads = ["#", *keys, *(_HEADS.get(f, f) for f in s.figures), "front"]
    cells = [heads]
    for r in rows:
        figs = [_figure(f, result.figure(r, f)) for f in s.figures]
        cells.append([str(r.index), *map(_value, r.values), *figs, "*" if r.index in result.front else ""])
    widths = [max(len(c[i]) for c in cells) for i in range(len(heads))]
    lines = [*_header(result), ""] if rows else _header(result)
    for c in cells if rows else ():
        lines.append("  ".join(x.rjust(w) if i else x.ljust(w) for i, (x, w) in enumerate(zip(c, widths, strict=True))))
    return "\n".join(lines).rstrip() + "\n"


def to_dict(result: Result, rows: Sequence[Record]) -> dict[str, Any]:
    """Plain data, ready for JSON."""
    s = result.space
    return {
        "space": s.name,
        "mode": result.mode,
        "seed": s.seed,
        "jobs": result.jobs,
        "seconds": round(result.seconds, 3),
        "funnel": [{"step": step, "left": n} for step, n in result.funnel],
        "constraints": [
            {"name": name, "letter": CONSTRAINT_LETTERS[name], "alone": alone, "with_previous": cum}
            for name, alone, cum in result.constraint_report
        ],
        "pareto": [o.text for o in s.pareto],
        "invalid": [{"index": r.index, "problem": r.problem} for r in result.invalid[:20]],
        "candidates": [
            {
                "index": r.index,
                "values": {v.key: x for v, x in zip(s.variables, r.values, strict=True)},
                "figures": {f: _figure_json(result.figure(r, f)) for f in s.figures},
                "front": r.index in result.front,
            }
            for r in rows
        ],
    }


def format_csv(result: Result, rows: Sequence[Record]) -> str:
    s = result.space
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["index", *(v.key for v in s.variables), *s.figures, "front"])
    for r in rows:
        figs = [_figure_json(result.figure(r, f)) for f in s.figures]
        w.writerow([r.index, *r.values, *figs, int(r.index in result.front)])
    return buf.getvalue()


def format_result(result: Result, fmt: str = "table", rows: Sequence[Record] | None = None) -> str:
    """The result as ``table``, ``json`` or ``csv``, listing ``rows`` (default: every fit candidate).

    Raises:
        ValueError: an unknown format.
    """
    rows = result.fit if rows is None else rows
    if fmt == "table":
        return format_table(result, rows)
    if fmt == "json":
        return json.dumps(to_dict(result, rows), indent=2) + "\n"
    if fmt == "csv":
        return format_csv(result, rows)
    raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")


def spec_text(result: Result, record: Record) -> str:
    """The YAML of a candidate's spec, its values and figures in a comment above."""
    import yaml

    s = result.space
    data = result.spec_data(record)
    values = ", ".join(f"{v.key}={_value(x)}" for v, x in zip(s.variables, record.values, strict=True))
    figs = ", ".join(f"{f} {_figure(f, result.figure(record, f))}" for f in s.figures)
    lines = [f"# candidate {record.index} of space {s.name}: {values}", f"# {figs}"]
    if s.generator is not None:
        gen = yaml.safe_dump(
            {s.generator: data_of_generator(result, record)}, default_flow_style=True, width=1000, sort_keys=False
        )
        lines.append(f"# generated by {gen.strip()}")
    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=120, allow_unicode=True)
    return "\n".join(lines) + "\n" + body


def data_of_generator(result: Result, record: Record) -> Any:
    from resnetdsl.space.search import document

    s = result.space
    assert s.generator is not None
    return document(s, record.values)[s.generator]


def write_specs(result: Result, folder: str | os.PathLike[str], rows: Sequence[Record]) -> list[str]:
    """Each candidate's spec as ``FOLDER/SPACE_INDEX.yaml`` (the folder made if need be; each file written
    atomically). Returns the paths written.

    Raises:
        OutputError: the folder cannot be made, or a file cannot be written.
    """
    from resnetdsl.io import OutputError, atomic_write_text

    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot make the folder '{os.fspath(folder)}': {exc.strerror or exc}") from None
    paths = []
    for r in rows:
        path = os.path.join(folder, f"{result.space.name}_{r.index}.yaml")
        atomic_write_text(path, spec_text(result, r))
        paths.append(path)
    return paths
