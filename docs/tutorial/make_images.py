"""Generate the tutorial's summaries and diagrams from its specs (docs/tutorial/NN_*.yaml).

    python docs/tutorial/make_images.py           # write NN_*.summary.txt, NN_*.dot, NN_*.svg; fill docs/tutorial.md
    python docs/tutorial/make_images.py --check   # write nothing; exit 1 when a summary or DOT file is stale

The check compares the generated text (summaries and DOT sources), not the SVG bytes; the training curves
(plain_vs_residual.png) come from examples/plain_vs_residual.py.
"""

from __future__ import annotations

import argparse
import re
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


TUTORIAL_MD = HERE.parent / "tutorial.md"
_STEP = re.compile(r"<!-- step (\w+) -->\n.*?<!-- /step -->", re.S)


def _step(name: str) -> str:
    """What the tutorial shows of one step, between its markers: the spec, then its summary (folded)."""
    spec = HERE / f"{name}.yaml"
    summary = next(text for path, text in outputs(spec).items() if path.suffix == ".txt")
    return (
        f"<!-- step {name} -->\n"
        f"```yaml\n# docs/tutorial/{spec.name}\n{spec.read_text(encoding='utf-8').rstrip()}\n```\n\n"
        f"<details><summary>resnetdsl summary docs/tutorial/{spec.name}</summary>\n\n"
        f"```\n{summary.rstrip()}\n```\n\n</details>\n<!-- /step -->"
    )


def tutorial_md() -> str:
    """docs/tutorial.md with every step's spec and summary filled in between its markers."""
    text = TUTORIAL_MD.read_text(encoding="utf-8")
    return _STEP.sub(lambda m: _step(m[1]), text)


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
    md = tutorial_md()
    if md != TUTORIAL_MD.read_text(encoding="utf-8"):
        stale.append(TUTORIAL_MD.name)
        if not args.check:
            atomic_write_text(TUTORIAL_MD, md)
    if args.check and stale:
        print(f"stale: {', '.join(stale)} (run python docs/tutorial/make_images.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
