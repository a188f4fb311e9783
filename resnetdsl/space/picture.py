"""``resnetdsl space --plot``: the candidates drawn as MACs against parameters, coloured by activations, with the
budget lines, the target band and the Pareto front marked. Needs matplotlib (``pip install 'resnetdsl[plot]'``),
imported only here; no pyplot, so no backend or global state is touched.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from resnetdsl.space.search import Result

PLOT_HINT = "plots need matplotlib: pip install 'resnetdsl[plot]'"


def plot(
    result: Result,
    path: str | os.PathLike[str],
    *,
    marks: Sequence[tuple[str, float, float]] = (),
    title: str | None = None,
) -> None:
    """Draw ``result`` into ``path`` (its extension says the format: .png, .svg, .pdf). ``marks``: extra points
    ``(label, GMACs, params)`` drawn as labelled stars (published models, say).

    Raises:
        OutputError: matplotlib is missing, the format is unknown, or the file cannot be written.
    """
    from resnetdsl.io import OutputError, atomic_write_bytes

    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        raise OutputError(PLOT_HINT) from None
    fmt = os.path.splitext(os.fspath(path))[1].lstrip(".").lower()
    if fmt not in ("png", "svg", "pdf"):
        raise OutputError(f"cannot plot to '{os.fspath(path)}': give a .png, .svg or .pdf file")
    fig = Figure(figsize=(7.5, 5.5), dpi=100)
    ax = fig.add_subplot()
    _draw(ax, result, marks)
    ax.set_title(title or f"space {result.space.name}: {len(result.valid):,} valid, {len(result.fit):,} fit")
    if ax.collections:
        fig.colorbar(ax.collections[0], ax=ax, label="activations (M)")
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    meta: dict[str, Any] = {"Date": None} if fmt == "svg" else {"Software": None} if fmt == "png" else {}
    with matplotlib.rc_context({"svg.hashsalt": "resnetdsl", "svg.fonttype": "none"}):
        fig.savefig(buf, format=fmt, metadata=meta)
    atomic_write_bytes(path, buf.getvalue())


def _draw(ax: Any, result: Result, marks: Sequence[tuple[str, float, float]]) -> None:
    valid = result.valid
    fit = {r.index for r in result.fit}
    xs = [r.figures[result._figure_index["gmacs"]] for r in valid if r.figures]
    ys = [r.figures[result._figure_index["params"]] / 1e6 for r in valid if r.figures]
    cs = [r.figures[result._figure_index["activations"]] / 1e6 for r in valid if r.figures]
    sizes = [18 if r.index in fit else 6 for r in valid]
    alphas = [0.9 if r.index in fit else 0.25 for r in valid]
    if valid:
        ax.scatter(xs, ys, c=cs, s=sizes, alpha=alphas, cmap="viridis", linewidths=0)
    front = [r for r in result.fit if r.index in result.front]
    if front:
        pts = sorted((result.figure(r, "gmacs"), result.figure(r, "params") / 1e6) for r in front)
        ax.plot(
            [p[0] for p in pts],
            [p[1] for p in pts],
            "o-",
            mfc="none",
            mec="crimson",
            color="crimson",
            ms=7,
            lw=1,
            label=f"Pareto front ({', '.join(o.text for o in result.space.pareto)})",
        )
    for cond in result.space.budget:
        scale = {"gmacs": 1.0, "macs": 1e-9, "params": 1e-6}.get(cond.figure)
        if scale is None:
            continue
        line = ax.axvline if cond.figure != "params" else ax.axhline
        line(cond.value * scale, color="black", ls="--", lw=0.8)
        ax.annotate(
            f"budget {cond.text}",
            xy=(0.01, 0.97 - 0.04 * len(ax.texts)),
            xycoords="axes fraction",
            fontsize=7,
            va="top",
        )
    t = result.space.target
    if t is not None and t.figure in ("gmacs", "macs"):
        v = t.value * (1e-9 if t.figure == "macs" else 1.0)
        tol = result.space.tolerance
        ax.axvspan(v * (1 - tol), v * (1 + tol), color="orange", alpha=0.15, label=f"target {t.text} ± {tol:.0%}")
    for label, x, y in marks:
        ax.plot([x], [y / 1e6], marker="*", color="black", ms=9, ls="none")
        ax.annotate(label, (x, y / 1e6), xytext=(4, 3), textcoords="offset points", fontsize=7)
    all_x = xs + [m[1] for m in marks]
    all_y = ys + [m[2] / 1e6 for m in marks]
    if all_x and min(all_x) > 0 and max(all_x) / min(all_x) > 30:
        ax.set_xscale("log")
    if all_y and min(all_y) > 0 and max(all_y) / min(all_y) > 30:
        ax.set_yscale("log")
    ax.set_xlabel("GMACs")
    ax.set_ylabel("parameters (M)")
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="lower right")
