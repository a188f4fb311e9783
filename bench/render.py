"""Render time of the diagrams (DOT built from the spec, laid out to SVG by the bundled Graphviz).

    .venv/bin/python bench/render.py [--repeats 5]

Cases and targets: resnet152 at layer level (every op drawn, no collapsing) ≤ 2 s; cifar_resnet1202 at block
level with its default collapsing ≤ 1 s. Also shown, without a target: the parts (plan + analysis + DOT, and
layout) and cifar_resnet1202 at block level fully expanded. Times are medians; exit status 1 if a target is
missed.

Worst case (:func:`bench_render_worst`): a legal spec of :data:`WORST_STAGES` stages of :data:`WORST_DEPTH`
blocks each, analysed once; then DOT + layout to SVG, collapsed (the default), at each level ≤ 1 s. The DOT of
the collapsed diagram must stay small (≤ 64 kB): collapsing makes the drawing independent of depth.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import resnetdsl
from resnetdsl.analyze import analyze
from resnetdsl.render import Detail, digraph_of, layout

WORST_STAGES = 8
WORST_DEPTH = 1000
WORST_TARGET_S = 1.0
WORST_MAX_DOT = 64_000


def median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up (imports, font cache)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def case(name: str, detail: Detail, collapse: bool | None) -> tuple[Callable[[], str], Callable[[], bytes]]:
    def build() -> str:
        source: str = resnetdsl.render(name, detail=detail, collapse=collapse).source
        return source

    src = build()
    return build, lambda: layout(src, "svg")


def worst_spec(stages: int = WORST_STAGES, depth: int = WORST_DEPTH) -> dict[str, object]:
    """Many long stages of bottlenecks (widths cycling 64…256, three of them downsampling)."""
    return {
        "name": f"worst_{stages}x{depth}",
        "input": {"channels": 3, "size": [224, 224]},
        "stem": {"kind": "conv7", "width": 64, "pool": "max"},
        "stages": [
            {"depth": depth, "width": 64 * (1 + i % 4), "stride": 2 if i in (1, 2, 3) else 1} for i in range(stages)
        ],
        "head": {"num_classes": 1000},
    }


def bench_render_worst(repeats: int = 3) -> bool:
    """Render the worst-case spec collapsed at each level; print the times; True if every target is met."""
    t0 = time.perf_counter()
    analysis = analyze(resnetdsl.plan_of(worst_spec()))
    t_analysis = time.perf_counter() - t0
    print(f"worst case {WORST_STAGES} stages × {WORST_DEPTH} blocks: plan + analysis {t_analysis:.2f} s (not counted)")
    ok = True
    for detail in ("stage", "block", "layer"):
        size = len(digraph_of(analysis, detail=detail).source)
        total = median_time(lambda: layout(digraph_of(analysis, detail=detail).source, "svg"), repeats)  # noqa: B023
        met = total <= WORST_TARGET_S and size <= WORST_MAX_DOT
        ok &= met
        verdict = f"≤ {WORST_TARGET_S:.1f} s, DOT ≤ {WORST_MAX_DOT // 1000} kB " + ("ok" if met else "MISSED")
        label = f"  {detail} level, collapsed → svg (DOT {size / 1000:.1f} kB)"
        print(f"{label:46} {total:7.3f}s  {verdict}")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    cases: list[tuple[str, Detail, bool | None, float | None]] = [
        ("resnet152", "layer", False, 2.0),
        ("cifar_resnet1202", "block", None, 1.0),
        ("cifar_resnet1202", "block", False, None),
    ]
    ok = True
    print(f"{'case':42} {'dot':>8} {'layout':>8} {'total':>8}  target")
    for name, detail, collapse, target in cases:
        build, draw = case(name, detail, collapse)
        t_dot = median_time(build, args.repeats)
        t_svg = median_time(draw, args.repeats)
        total = median_time(lambda: layout(build(), "svg"), args.repeats)  # noqa: B023 (called at once)
        label = f"{name} {detail} {'default collapse' if collapse is None else 'no collapse'} → svg"
        verdict = "" if target is None else f"≤ {target:.1f} s " + ("ok" if total <= target else "MISSED")
        ok &= target is None or total <= target
        print(f"{label:42} {t_dot:7.3f}s {t_svg:7.3f}s {total:7.3f}s  {verdict}")
    ok &= bench_render_worst(min(args.repeats, 3))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
