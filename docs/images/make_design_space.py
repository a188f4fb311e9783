"""Draw docs/images/design-space-regnetx.png: 1,000 samples of pycls's RegNetX space with the 24 pycls models.

    .venv/bin/python docs/images/make_design_space.py [--check]

The samples are drawn as the paper draws them (w0, wa, wm, depth, group width; seeded), measured statically and
plotted by ``resnetdsl.space.picture.plot`` (MACs against parameters, coloured by activations, the budget line
and the Pareto front marked); pycls's 24 model-zoo RegNets are the stars. Next to the picture,
``design-space-regnetx.sha256`` holds the hash of everything the picture is drawn from (the space, every
sample's figures, the marks): ``--check`` recomputes it and exits 1 when the picture is stale
(tests/test_regnet_models.py runs it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PICTURE = HERE / "design-space-regnetx.png"
HASH = HERE / "design-space-regnetx.sha256"
SPACE = """\
name: regnetx_space
base:
  regnet: {w0: 24, wa: 24.48, wm: 2.54, depth: 22, group_width: 16}
vary:                                   # pycls's RegNetX sampler (Radosavovic et al. 2020)
  regnet.depth: 12..28
  regnet.w0: 8..256 log step 8
  regnet.wa: 8.0..256.0 log step 0.1
  regnet.wm: 2.0..3.0 log step 0.001
  regnet.group_width: [8, 16, 24, 32, 40, 48, 56, 64]
budget: [params <= 20M]
pareto: [gmacs, params]
count: 1000
seed: 0
"""
PYCLS_ZOO = {  # MODEL_ZOO.md of pycls: w0, wa, wm, depth, group width
    "X-200MF": (24, 36.44, 2.49, 13, 8),
    "X-400MF": (24, 24.48, 2.54, 22, 16),
    "X-600MF": (48, 36.97, 2.24, 16, 24),
    "X-800MF": (56, 35.73, 2.28, 16, 16),
    "X-1.6GF": (80, 34.01, 2.25, 18, 24),
    "X-3.2GF": (88, 26.31, 2.25, 25, 48),
    "X-4.0GF": (96, 38.65, 2.43, 23, 40),
    "X-6.4GF": (184, 60.83, 2.07, 17, 56),
    "X-8.0GF": (80, 49.56, 2.88, 23, 120),
    "X-12GF": (168, 73.36, 2.37, 19, 112),
    "X-16GF": (216, 55.59, 2.1, 22, 128),
    "X-32GF": (320, 69.86, 2.0, 23, 168),
    "Y-200MF": (24, 36.44, 2.49, 13, 8),
    "Y-400MF": (48, 27.89, 2.09, 16, 8),
    "Y-600MF": (48, 32.54, 2.32, 15, 16),
    "Y-800MF": (56, 38.84, 2.4, 14, 16),
    "Y-1.6GF": (48, 20.71, 2.65, 27, 24),
    "Y-3.2GF": (80, 42.63, 2.66, 21, 24),
    "Y-4.0GF": (96, 31.41, 2.24, 22, 64),
    "Y-6.4GF": (112, 33.22, 2.27, 25, 72),
    "Y-8.0GF": (192, 76.82, 2.19, 17, 56),
    "Y-12GF": (168, 73.36, 2.37, 19, 112),
    "Y-16GF": (200, 106.23, 2.48, 18, 112),
    "Y-32GF": (232, 115.89, 2.53, 20, 232),
}


def marks() -> list[tuple[str, float, float]]:
    """(label, GMACs, params) of pycls's 24 models, from specs with the ``regnet:`` key."""
    import resnetdsl

    out = []
    for label, (w0, wa, wm, depth, g) in PYCLS_ZOO.items():
        regnet = {"w0": w0, "wa": wa, "wm": wm, "depth": depth, "group_width": g}
        if label.startswith("Y"):
            regnet["se_ratio"] = 0.25
        s = resnetdsl.summarize({"name": f"regnet{label.lower()}", "regnet": regnet})
        out.append((label, s.macs / 1e9, float(s.params)))
    return out


def inputs(jobs: int | None = None) -> tuple[Any, list[tuple[str, float, float]], str]:
    """The explored space, the marks and the hash of both (what the picture shows)."""
    from resnetdsl.space import explore, load_space

    result = explore(load_space(SPACE), jobs=jobs, show_progress=False)
    got = marks()
    seen = [[r.index, list(r.figures) if r.figures is not None else None] for r in result.records]
    fit = sorted(r.index for r in result.fit)
    text = json.dumps({"space": SPACE, "records": seen, "fit": fit, "front": sorted(result.front), "marks": got})
    return result, got, hashlib.sha256(text.encode("utf-8")).hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if the picture is stale")
    args = ap.parse_args()
    result, got, digest = inputs()
    if args.check:
        stale = not PICTURE.exists() or not HASH.exists() or HASH.read_text(encoding="utf-8").strip() != digest
        if stale:
            print("out of date: docs/images/design-space-regnetx.png (run docs/images/make_design_space.py)")
        return 1 if stale else 0
    from resnetdsl.space.picture import plot

    title = f"pycls's RegNetX space: {result.drawn} samples, the 24 pycls models starred"
    plot(result, PICTURE, marks=got, title=title)
    HASH.write_text(digest + "\n", encoding="utf-8")
    print(f"wrote {PICTURE.name} and {HASH.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
