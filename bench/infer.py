"""Eval throughput: ``fuse_for_inference(build_model(...))`` against torchvision's model with the same weights.

Both run in one process, interleaved (bench/timing.py), batch 16 at 224², under ``torch.inference_mode``.
Run: ``python bench/infer.py [--repeats N] [--batch B] [--size S] [--threads T] [models…]``.
"""

from __future__ import annotations

import argparse
import platform

import torch
import torchvision
from timing import interleaved

import resnetdsl
from resnetdsl.passes.fuse import fuse_for_inference


def bench(name: str, batch: int, size: int, repeats: int) -> tuple[float, float, float]:
    ours = resnetdsl.build_model(name, seed=0)
    peer = getattr(torchvision.models, name)()
    peer.load_state_dict(ours.state_dict())
    peer.eval()
    fused = fuse_for_inference(ours)
    x = torch.randn(batch, 3, size, size)
    with torch.inference_mode():
        torch.testing.assert_close(fused(x), peer(x), rtol=1e-3, atol=1e-3)
        return interleaved(lambda: fused(x), lambda: peer(x), repeats)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("models", nargs="*", default=["resnet18", "resnet50"])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    print(
        f"# {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__},"
        f" torchvision {torchvision.__version__}, python {platform.python_version()}"
    )
    print(f"# batch {a.batch}, {a.size}x{a.size}, median of {a.repeats} interleaved runs")
    print(f"{'model':<12} {'fused s':>9} {'tv s':>9} {'fused img/s':>12} {'tv img/s':>9} {'speed-up':>9}")
    for name in a.models:
        t_ours, t_tv, _ = bench(name, a.batch, a.size, a.repeats)
        print(
            f"{name:<12} {t_ours:9.3f} {t_tv:9.3f} {a.batch / t_ours:12.1f} {a.batch / t_tv:9.1f} {t_tv / t_ours:8.2f}x"
        )


if __name__ == "__main__":
    main()
