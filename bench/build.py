"""Build time and training-step throughput of resnetdsl against torchvision, as ratios from one run.

    .venv/bin/python bench/build.py [--repeats 21] [--batch 8] [--size 224]

Runs are interleaved (ours, theirs, ours, …) so that drift on a shared machine hits both alike; the medians
are compared. Build: ``resnetdsl.build_model("resnet50")`` (YAML → spec → plan → module, weights initialised)
against ``torchvision.models.resnet50()``. Step: forward + backward of both models holding the same weights.
"""

from __future__ import annotations

import argparse
import ctypes
from collections.abc import Callable

import torch
import torchvision.models as tvm
from timing import interleaved

import resnetdsl


def pin_malloc() -> None:
    """Fix glibc's allocator thresholds for the run. Left dynamic, the mmap threshold moves whenever a large block
    is freed, so which side runs after which free decides whether its tensors are mmapped (page faults on every
    build and step) or carved from the heap: a 1.0× vs 1.4× coin flip unrelated to either builder. Pinned high,
    both sides reuse warm heap memory, as a long training process does."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 32 * 1024 * 1024)
    libc.mallopt(m_trim_threshold, 1 << 30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--repeats", type=int, default=21)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=224)
    args = ap.parse_args()
    pin_malloc()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, model {args.model}")

    ours_build, tv_build, build_min = interleaved(
        lambda: resnetdsl.build_model(args.model), lambda: getattr(tvm, args.model)(), args.repeats
    )
    print(
        f"build      resnetdsl {ours_build * 1e3:8.1f} ms   torchvision {tv_build * 1e3:8.1f} ms   "
        f"ratio {ours_build / tv_build:.3f}x, of minimums {build_min:.3f}x (bar: <= 1.10x)"
    )

    ref = getattr(tvm, args.model)()
    ours = resnetdsl.build_model(args.model)
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(args.batch, 3, args.size, args.size)

    def step(model: torch.nn.Module) -> Callable[[], object]:
        def run() -> None:
            model.zero_grad(set_to_none=True)
            model(x).sum().backward()

        return run

    ours_step, tv_step, step_min = interleaved(step(ours), step(ref), args.repeats)
    ips_ours, ips_tv = args.batch / ours_step, args.batch / tv_step
    print(
        f"fwd+bwd    resnetdsl {ips_ours:8.2f} img/s torchvision {ips_tv:8.2f} img/s "
        f"throughput ratio {ips_ours / ips_tv:.3f}x, of best steps {1 / step_min:.3f}x (bar: >= 0.98x)"
    )


if __name__ == "__main__":
    main()
