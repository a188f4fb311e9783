"""Render every bundled preset at block level into docs/gallery/, and write docs/gallery/README.md.

    .venv/bin/python docs/gallery/make_gallery.py [--check]

Run it after changing the renderer or a preset; ``--check`` writes nothing and exits 1 when a file would
change (the SVGs are byte-identical across runs with the same Graphviz).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import resnetdsl
from resnetdsl.analyze import analyze
from resnetdsl.io import atomic_write_bytes, atomic_write_text
from resnetdsl.render import fmt_count, fmt_macs, layout

HERE = Path(__file__).resolve().parent


def readme(rows: list[tuple[str, str, str, str, str]]) -> str:
    lines = [
        "# Gallery",
        "",
        "Every bundled preset drawn at block level (`resnetdsl render NAME`): one node per block, the add `+`,",
        "shortcuts beside the main path (solid: identity or zero-pad; dashed: 1×1 projection), the tensor shape on",
        "every arrow, and runs of identical blocks in deep stages collapsed into one `×N` node; a selective kernel's",
        "branches (skresnet50) and split attention's radix splits (resnest50d) side by side in their blocks, the blur",
        "pool (resnetblur50) and the avg pool (resnetaa50d) on the downsampling path after the stride-1 3×3.",
        "Regenerate with `.venv/bin/python docs/gallery/make_gallery.py`; see [../render.md](../render.md).",
        "",
        "| preset | description | params | MACs |",
        "|---|---|---|---|",
    ]
    for name, file, desc, params, macs in rows:
        lines.append(f"| [{name}]({file}) | {desc} | {params} | {macs} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is out of date")
    args = ap.parse_args()
    outputs: dict[Path, bytes] = {}
    rows = []
    for name in resnetdsl.presets():
        plan = resnetdsl.plan_of(name)
        totals = analyze(plan).totals
        svg = layout(resnetdsl.render(plan, detail="block").source, "svg")
        outputs[HERE / f"{name}.svg"] = svg
        desc = plan.description.replace("|", "\\|").replace("\n", " ")
        rows.append((name, f"{name}.svg", desc, fmt_count(totals.params), fmt_macs(totals.macs)))
    outputs[HERE / "README.md"] = readme(rows).encode("utf-8")
    stale = [p for p, data in outputs.items() if not p.exists() or p.read_bytes() != data]
    if args.check:
        for p in stale:
            print(f"out of date: {p.relative_to(HERE.parent.parent)}")
        return 1 if stale else 0
    for p in stale:
        if p.suffix == ".md":
            atomic_write_text(p, outputs[p].decode("utf-8"))
        else:
            atomic_write_bytes(p, outputs[p])
        print(f"wrote {p.relative_to(HERE.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
