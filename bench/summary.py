"""Speed of ``resnetdsl summary`` against torchinfo, and the cold start of the command.

    .venv/bin/python bench/summary.py [--model resnet152] [--repeats 7] [--cold 5]

In process: ``resnetdsl.summarize(spec file)`` (YAML → spec → plan → analysis, no torch) against
``torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0)`` on the already built model (the build is
not timed, which favours torchinfo). Runs are interleaved (ours, theirs, theirs, ours, …) and the medians
compared; the bar is 5 ms and 50× faster. A second line times ours back to back, with no collection between the
calls: the interleaved timing collects garbage before each call, which leaves the caches cold for the call timed
next (a cost the 4 ms side notices and the 250 ms one does not). Cold start: wall time of ``python -m resnetdsl
summary specs/resnet50.yaml`` in fresh processes, timed first (bar: 0.25 s; bench/startup.py times every
command), beside a bare ``python -c pass`` for scale.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import cached_bytecode_env, interleaved

ROOT = Path(__file__).resolve().parent.parent


def cold(argv: list[str], repeats: int) -> float:
    """Median wall time of fresh processes, with byte-code cached as an installed package has it (one untimed run
    first writes it, and the spec's schemas; see bench/startup.py)."""
    with tempfile.TemporaryDirectory(prefix="resnetdsl-pyc-") as cache:
        env = cached_bytecode_env(cache)
        subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, env=env)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, env=env)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="resnet152", help="preset to summarise in process")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--cold", type=int, default=5, help="fresh processes for the cold start")
    args = ap.parse_args()

    # the fresh processes first, while this one has no torch thread pool that could still spin a core
    cli = cold([sys.executable, "-m", "resnetdsl", "summary", "specs/resnet50.yaml"], args.cold)
    bare = cold([sys.executable, "-c", "pass"], args.cold)

    import torch
    import torchinfo

    import resnetdsl

    spec = ROOT / "specs" / f"{args.model}.yaml"
    model = resnetdsl.build_model(spec).eval()
    print(f"torch {torch.__version__}, torchinfo {torchinfo.__version__}, {torch.get_num_threads()} threads")

    ours, theirs, _ = interleaved(
        lambda: resnetdsl.summarize(spec),
        lambda: torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0),
        args.repeats,
    )
    print(
        f"{args.model:<10} resnetdsl.summarize {ours * 1e3:8.2f} ms   torchinfo.summary {theirs * 1e3:8.1f} ms   "
        f"{theirs / ours:.0f}x faster (bar: <= 5 ms, >= 50x)"
    )
    # the same calls back to back: no collection before each (the interleaved timing collects the garbage of
    # either side before each call, which leaves the caches cold for the call timed next)
    block = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        resnetdsl.summarize(spec)
        block.append(time.perf_counter() - t0)
    print(
        f"{args.model:<10} resnetdsl.summarize {statistics.median(block) * 1e3:8.2f} ms   "
        "back to back, no collection between calls"
    )
    print(
        f"cold start python -m resnetdsl summary specs/resnet50.yaml  {cli:.3f} s (bar: <= 0.25 s; "
        f"bare interpreter {bare:.3f} s)"
    )


if __name__ == "__main__":
    main()
