"""The 1000-layer presets on CPU: build time, one training step, peak memory, with and without checkpointing.

    PYTHONPATH=. python bench/deep.py [--batch 32] [--threads 2] [names…]

Each configuration runs in a fresh process (peak RSS is per process): build the model, run one SGD step
(batch × 3 × 32 × 32, cross-entropy), report the seconds of each and the peak resident memory. "checkpoint"
sets ``checkpoint: true`` on every stage (the plan's stages, replaced). Also prints the activation bytes a step
keeps for backward as the summary computes them (:mod:`resnetdsl.memory`), where that module is present.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import time


def child(name: str, batch: int, threads: int, ckpt: bool) -> None:
    import torch
    from torch.nn import functional as F

    import resnetdsl

    torch.set_num_threads(threads)
    plan = resnetdsl.plan_of(name)
    if ckpt:
        plan = dataclasses.replace(plan, stages=tuple(dataclasses.replace(s, checkpoint=True) for s in plan.stages))
    t0 = time.perf_counter()
    model = resnetdsl.build_model(plan, seed=0)
    build = time.perf_counter() - t0
    x, y = torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    t0 = time.perf_counter()
    F.cross_entropy(model(x), y).backward()
    opt.step()
    step = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    saved = None
    try:
        from resnetdsl.memory import activation_bytes

        saved = activation_bytes(plan, batch)
    except ImportError:
        pass
    print(json.dumps({"build_s": build, "step_s": step, "peak_rss": rss, "saved": saved}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("names", nargs="*", default=["cifar_resnet1202", "preact_resnet1001"])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child[0], a.batch, a.threads, a.child[1] == "1")
        return
    import torch

    print(f"# torch {torch.__version__}, {a.threads} threads, batch {a.batch} × 3 × 32 × 32, one SGD step")
    print(f"{'model':<20} {'checkpoint':>10} {'build s':>8} {'step s':>8} {'peak RSS MiB':>13} {'saved MiB':>10}")
    for name in a.names:
        for ckpt in (False, True):
            cmd = [sys.executable, __file__, "--batch", str(a.batch), "--threads", str(a.threads)]
            out = subprocess.run([*cmd, "--child", name, "1" if ckpt else "0"], capture_output=True, text=True)
            if out.returncode:
                print(out.stderr, file=sys.stderr)
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            saved = f"{r['saved'] / 2**20:10.1f}" if r["saved"] is not None else f"{'—':>10}"
            print(
                f"{name:<20} {'yes' if ckpt else 'no':>10} {r['build_s']:8.2f} {r['step_s']:8.2f}"
                f" {r['peak_rss'] / 2**20:13.0f} {saved}"
            )


if __name__ == "__main__":
    main()
