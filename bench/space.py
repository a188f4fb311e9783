"""Candidates a minute of ``resnetdsl space``, in one process and in workers, and where a candidate's time goes.

    PYTHONPATH=. .venv/bin/python bench/space.py [--count 2000] [--jobs 2]

Two spaces: RegNetX as pycls samples it (depth 12..28, w0 8..256, wa 8..256, wm 2..3, group width 8..64, all but
depth log-uniform; about 16 blocks a member) and resnet50 with its stage depths and widths varied (16 blocks).
Every candidate goes through the one checking path (``check_with_issues``: read, validate, lower, analyse) and
gets its figures. Target: at least 10,000 candidates a minute on 2 cores. Then a profile of 300 RegNetX
candidates in one process, split by step (cProfile's cumulative times, so the steps' own overhead included).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import time

from resnetdsl.space import explore, load_space
from resnetdsl.space.search import evaluate, values_of

REGNETX = """\
name: regnetx
base:
  regnet: {w0: 24, wa: 24.48, wm: 2.54, depth: 22, group_width: 16}
vary:
  regnet.depth: 12..28
  regnet.w0: 8..256 log step 8
  regnet.wa: 8.0..256.0 log step 0.1
  regnet.wm: 2.0..3.0 log step 0.001
  regnet.group_width: [8, 16, 24, 32, 40, 48, 56, 64]
budget: [gmacs <= 0.4, params <= 6M]
"""
RESNET50 = """\
name: resnet50
base: resnet50
vary:
  stages.*.depth: 1..8
  stages.*.width: [32, 48, 64, 96, 128]
budget: [gmacs <= 2]
"""

STEPS = [
    ("check_with_issues", "the checking path, in all"),
    ("spec_from_document", "  validating (pydantic)"),
    ("lower_with_issues", "  lowering"),
    ("analyze", "  analysing (shapes, costs, warnings)"),
    ("expand", "the RegNet expansion (resnetdsl.regnet)"),
    ("figures", "figures (resnetdsl.space.figures)"),
    ("constraints_met", "AnyNetX constraints"),
]


def _cpu() -> float:
    """CPU seconds of this process and of its reaped children (the workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def rate(text: str, count: int, jobs: int) -> tuple[float, int, float]:
    """Candidates a minute of wall time, valid candidates, CPU milliseconds a candidate."""
    space = load_space(text + f"count: {count}\nseed: 1\n")
    cpu = _cpu()
    result = explore(space, jobs=jobs, show_progress=False)
    return result.drawn / result.seconds * 60, len(result.valid), (_cpu() - cpu) / result.drawn * 1e3


def profile(n: int) -> None:
    space = load_space(REGNETX + "count: 1000\n")
    prof = cProfile.Profile()
    start = time.perf_counter()
    prof.enable()
    for i in range(n):
        evaluate(space, i, values_of(space, i, False))
    prof.disable()
    wall = (time.perf_counter() - start) / n * 1e3
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    total = sum(v[3] for k, v in stats.items() if k[2] == "evaluate")
    print(f"\nProfile of {n} RegNetX candidates in one process ({wall:.1f} ms each under cProfile):\n")
    print("| step | ms a candidate | share |\n|---|---|---|")
    for func, label in STEPS:
        t = sum(v[3] for k, v in stats.items() if k[2] == func and "resnetdsl" in k[0])
        print(f"| {label} | {t / n * 1e3:.2f} | {t / total:.0%} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
    print("| space | jobs | candidates | valid | candidates a minute | CPU ms a candidate |")
    print("|---|---|---|---|---|---|")
    for name, text in (("RegNetX (pycls's ranges)", REGNETX), ("resnet50 depths × widths", RESNET50)):
        for jobs in (1, args.jobs):
            per_minute, valid, cpu_ms = rate(text, args.count, jobs)
            print(f"| {name} | {jobs} | {args.count:,} | {valid:,} | {per_minute:,.0f} | {cpu_ms:.1f} |")
    print("\n(on a machine of its own, 2 workers make about 2 × 60,000 / CPU ms candidates a minute)")
    profile(300)
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
