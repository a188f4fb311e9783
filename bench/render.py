"""Render time of the diagrams (DOT built from the spec, laid out to SVG by the bundled Graphviz).

    .venv/bin/python bench/render.py [--repeats 5]

Cases and targets: resnet152 at layer level (every op drawn, no collapsing) ≤ 2 s; cifar_resnet1202 at block
level with its default collapsing ≤ 1 s. Also shown, without a target: the parts (plan + analysis + DOT, and
layout) and cifar_resnet1202 at block level fully expanded. Times are medians; exit status 1 if a target is
missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import resnetdsl
from resnetdsl.render import Detail, layout


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
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
