"""Generate the tutorial's summaries and diagrams from its specs (docs/tutorial/NN_*.yaml).

    python docs/tutorial/make_images.py           # write NN_*.summary.txt, NN_*.dot and NN_*.svg
    python docs/tutorial/make_images.py --check   # write nothing; exit 1 when a summary or DOT file is stale

The check compares the generated text (summaries and DOT sources), not the SVG bytes; the training curves
(plain_vs_residual.png) come from examples/plain_vs_residual.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import resnetdsl
from resnetdsl.io import atomic_write_text
from resnetdsl.summary import format_summary

HERE = Path(__file__).resolve().parent


def specs() -> list[Path]:
    return sorted(HERE.glob("[0-9][0-9]_*.yaml"))


def outputs(spec: Path) -> dict[Path, str]:
    """Generated text for one spec: its summary (every layer for the first two steps, blocks after) and its
    block-level DOT source."""
    depth = "layer" if spec.name[:2] in ("01", "02") else "block"
    summary = format_summary(resnetdsl.summarize(spec), "table", depth=depth)
    dot = resnetdsl.render(spec, detail="block").source
    return {spec.with_suffix(".summary.txt"): summary, spec.with_suffix(".dot"): dot}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file is stale")
    args = p.parse_args(argv)
    stale = []
    for spec in specs():
        for path, text in outputs(spec).items():
            current = path.read_text(encoding="utf-8") if path.exists() else None
            if current != text:
                stale.append(path.name)
                if not args.check:
                    atomic_write_text(path, text)
        if not args.check:
            resnetdsl.render_to(spec, spec.with_suffix(".svg"), detail="block")
    if args.check and stale:
        print(f"stale: {', '.join(stale)} (run python docs/tutorial/make_images.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
