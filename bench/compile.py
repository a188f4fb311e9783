"""torch.compile with inductor on the built model: compile time, and the outputs checked against eager.

    PYTHONPATH=. python bench/compile.py [--threads 2] [models…]

For each spec (default cifar_resnet20 and a tiny resnet18-style net), in one process: inductor of the eval model
(outputs against the eval model's, rtol = atol = 1e-4) and of the training model with ``fullgraph=True`` (no graph
break allowed; one step's loss and gradients against the eager step's, rtol = atol = 1e-4). Exits 1 if
any output differs. The unit tests check capture and autograd (``aot_eager``) in seconds; inductor's C++ code
generation costs a minute or more on 2 cores whatever the network's size, so its check lives here.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import torch
from torch import nn

import resnetdsl

TINY = """name: tiny
input: {channels: 3, size: [32, 32]}
stem: {kind: conv3, width: 8, pool: none}
defaults: {block: basic, drop_path: 0.1}
stages: [{depth: 1, width: 8}, {depth: 1, width: 16, stride: 2}]
head: {pool: avg, num_classes: 4}
"""


def step(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    model.zero_grad()
    loss = nn.functional.cross_entropy(model(x), target)
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return bool(torch.allclose(a, b, rtol=1e-4, atol=1e-4))


def check(source: str, label: str) -> bool:
    model = resnetdsl.build_model(source, seed=0).eval()
    h, w = model.plan.input_size
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, model.plan.in_channels, h, w, generator=g)
    classes = model(x).shape[1]
    target = torch.randint(0, classes, (2,), generator=g)

    torch._dynamo.reset()
    t0 = time.perf_counter()
    compiled = torch.compile(model, backend="inductor", dynamic=False)
    with torch.no_grad():
        got, want = compiled(x), model(x)
    eval_s = time.perf_counter() - t0
    eval_ok = close(got, want)

    model.train()
    torch._dynamo.reset()
    t0 = time.perf_counter()
    compiled = torch.compile(model, backend="inductor", fullgraph=True, dynamic=False)
    torch.manual_seed(0)
    got_loss, got_grads = step(compiled, x, target)
    train_s = time.perf_counter() - t0
    torch.manual_seed(0)
    want_loss, want_grads = step(model, x, target)
    train_ok = close(got_loss, want_loss) and all(close(a, b) for a, b in zip(got_grads, want_grads, strict=True))
    err = (got - want).abs().max().item()
    print(
        f"| {label} | {eval_s:.1f} | {'equal' if eval_ok else 'DIFFERENT'} ({err:.1e}) | {train_s:.1f} | "
        f"{'equal' if train_ok else 'DIFFERENT'} |",
        flush=True,
    )
    return eval_ok and train_ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", default=["cifar_resnet20", "tiny"])
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    one, five, _ = os.getloadavg()
    print(f"# {platform.machine()}, {a.threads} threads; torch {torch.__version__}, python {platform.python_version()}")
    print(f"# load average {one:.1f} (1 min), {five:.1f} (5 min)")
    print("| spec | eval compile + run s | eval outputs | train fullgraph compile + step s | loss and grads |")
    print("|---|---|---|---|---|")
    ok = all([check(TINY if name == "tiny" else name, name) for name in a.models])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
