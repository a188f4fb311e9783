"""Worst-case time of validate, summary and render on the largest specs the language admits.

    .venv/bin/python bench/worst_case.py [--repeats 3]

A spec holds at most 2,000 blocks (``resnetdsl.spec.MAX_BLOCKS``) and 64 stages, widths up to 65,536 and inputs
up to 65,536 × 65,536; the bar is about a second for each command on each spec (collapsed diagram, DOT and SVG),
and the ratio to the same command on resnet50 is printed beside it. One spec over the block limit shows that
the refusal is immediate.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

from timing import time_once

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import resnetdsl  # noqa: E402
from resnetdsl.render import layout  # noqa: E402
from resnetdsl.summary import format_summary  # noqa: E402
from resnetdsl.validate import validate_file  # noqa: E402


def _spec(stages: list[tuple[int, int]], size: int, block: str = "basic") -> str:
    body = "".join(f"  - {{depth: {d}, width: {w}}}\n" for d, w in stages)
    return f"name: worst\ninput: {{size: [{size}, {size}]}}\ndefaults: {{block: {block}}}\nstages:\n{body}"


SPECS = {
    "resnet50 (for scale)": (ROOT / "specs" / "resnet50.yaml").read_text(),
    "1 stage × 2000 basic": _spec([(2000, 64)], 224),
    "64 stages, 2000 bottlenecks": _spec([(31 + (i < 16), 8 + 8 * i) for i in range(64)], 65536, "bottleneck"),
    "4 stages × 500, width 65536": _spec([(500, 65536)] * 4, 65536),
    "2001 blocks (refused)": _spec([(2000, 8), (1, 8)], 224),
}


def _commands(text: str, tmp: Path) -> dict[str, Callable[[], object]]:
    path = tmp / "worst.yaml"
    path.write_text(text)

    def summary() -> object:
        try:
            return format_summary(resnetdsl.summarize(path), "table", "layer")
        except resnetdsl.SpecError:
            return None

    def render(fmt: str) -> Callable[[], object]:
        def run() -> object:
            try:
                source = resnetdsl.render(path).source
            except resnetdsl.SpecError:
                return None
            return source if fmt == "dot" else layout(source, "svg")

        return run

    return {
        "validate": lambda: validate_file(path),
        "summary": summary,
        "render dot": render("dot"),
        "render svg": render("svg"),
    }


def main() -> None:
    import tempfile

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base: dict[str, float] = {}
        print(f"{'spec':32} {'command':11} {'median s':>9} {'× resnet50':>11}")
        for name, text in SPECS.items():
            for command, fn in _commands(text, Path(tmp)).items():
                fn()  # warm-up
                t = statistics.median(time_once(fn) for _ in range(args.repeats))
                base.setdefault(command, t)
                print(f"{name:32} {command:11} {t:9.3f} {t / base[command]:11.1f}")


if __name__ == "__main__":
    main()
