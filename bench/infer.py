"""Eval latency of resnetdsl's inference paths against every peer a user would pick instead, side by side.

    PYTHONPATH=. python bench/infer.py [--batch 1 8] [--repeats 15] [--paths …] [--markdown] [models…]

For each model (default resnet18, resnet50, seresnet50, resnetv2_50) and batch size, one process builds the
network once (seed 0) and times, under ``torch.inference_mode()``, float32, 2 threads, 224²:

- ``frozen``: ``resnetdsl.freeze_for_inference(model, batch_size=batch)`` (ours: norms folded, the fused
  model traced, frozen and run by TorchScript with oneDNN Graph fusion, each conv with its add and ReLU one
  compiled oneDNN partition);
- ``packed``: ``resnetdsl.pack_for_inference(model)`` (ours: norms folded, each conv with its add and ReLU one
  oneDNN primitive, weights pre-packed; eager, no compile);
- ``fused``: ``resnetdsl.fuse_for_inference(model)`` (ours: norms folded, channels_last, eager);
- ``reference``: torchvision's model (timm's for seresnet50 and resnetv2_50) holding the same weights, eval,
  channels_last (``model.to(memory_format=torch.channels_last)``, the one line any user writes);
- ``inductor``: ``torch.compile`` of that reference model (inductor, ``freezing=True``, static shapes);
- ``onnxruntime``: our exported ONNX (``resnetdsl.export.onnx.to_onnx``), ORT's default graph optimisations,
  2 intra-op threads;
- optional (``--paths``): ``jit`` (``torch.jit.freeze`` of a trace of the fused model, oneDNN Graph off: what
  ``frozen`` gains from the fusion), ``compiled`` (``torch.compile`` of the fused model, inductor, freezing).

Every path's output is compared with the eval-mode model's (max abs error; within rtol 1e-4 / atol 1e-3?). The
paths alternate, forwards then backwards (ABBA), each call after a garbage collection and a 0.1 s pause (long
enough for the previous path's spinning threads to stop: onnxruntime's spin about 50 ms after a run); the
table gives each path's median and, for each peer, the median over the rounds of its time over the first
path's in that round (above 1: the first path, ``frozen`` by default, is faster); the ``goals`` column says
whether the first path meets issue 21's goals in that row (onnxruntime and inductor ≥ 1.0×, the reference ≥ 1.3×).

On a busy machine run it as ``OMP_WAIT_POLICY=PASSIVE python bench/infer.py``: OpenMP's threads (every torch
path's) spin at barriers by default, and when other processes hold the cores the spinning thread waits out
whole time slices; onnxruntime's own thread pool suffers far less. The header prints the load and the policy.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

import resnetdsl

TIMM_MODELS = {"seresnet50", "resnetv2_50"}
PEERS = ("reference", "inductor", "onnxruntime")
OURS = ("frozen", "packed", "fused")
OPTIONAL = ("jit", "compiled")
Run = Callable[[], torch.Tensor]
PAUSE = 0.1
"""Seconds between two timed calls. After a run, onnxruntime's pool (default settings) keeps a thread spinning
for about 50 ms and OpenMP's workers (every torch path) for under 10 ms, each holding a core: a call started
inside that window shares the 2 cores with it (measured: resnet18 at batch 1 took twice as long right after an
onnxruntime call, and 20 ms after it)."""
GOALS = {"onnxruntime": 1.0, "inductor": 1.0, "reference": 1.3}
"""Issue 21's goals: each peer's time over ours (the first path) at least this."""


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load() -> str:
    """The machine's load and the OpenMP wait policy: on a busy machine spinning OpenMP threads (the default)
    lose their core to other processes at every barrier, which ORT's thread pool suffers far less from."""
    one, five, _ = os.getloadavg()
    policy = os.environ.get("OMP_WAIT_POLICY", "unset")
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min); OMP_WAIT_POLICY={policy}"


def versions() -> str:
    import onnxruntime
    import timm
    import torchvision

    return (
        f"torch {torch.__version__}, torchvision {torchvision.__version__}, timm {timm.__version__}, "
        f"onnxruntime {onnxruntime.__version__}, python {platform.python_version()}"
    )


def reference(name: str, state: dict[str, torch.Tensor]) -> torch.nn.Module:
    if name in TIMM_MODELS:
        import timm

        model = timm.create_model(name, pretrained=False)
    else:
        import torchvision

        model = getattr(torchvision.models, name)()
    model.load_state_dict(state, strict=True)
    return model.eval().to(memory_format=torch.channels_last)


def compiled(model: torch.nn.Module, x: torch.Tensor) -> Run:
    import torch._inductor.config as inductor_config

    torch._dynamo.reset()
    inductor_config.freezing = True
    fn = torch.compile(model, backend="inductor", dynamic=False)
    return lambda: fn(x)  # type: ignore[no-any-return]


def onnxruntime_path(model: torch.nn.Module, x: torch.Tensor, threads: int, tmp: Path) -> Run:
    import onnxruntime as ort

    from resnetdsl.export.onnx import to_onnx

    path = tmp / "model.onnx"
    to_onnx(model, path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    data = x.numpy()
    return lambda: torch.from_numpy(session.run(None, {"input": data})[0])


def jit_path(fused: torch.nn.Module, x: torch.Tensor) -> Run:
    frozen = torch.jit.freeze(torch.jit.trace(fused, x, check_trace=False))  # the trace keeps the channels_last hook
    for _ in range(3):  # the profiling executor specialises on the first calls
        frozen(x)
    return lambda: frozen(x)  # type: ignore[no-any-return]


def setup(name: str, batch: int, size: int, paths: list[str], threads: int, tmp: Path) -> tuple[
    torch.Tensor, dict[str, Run], dict[str, float]
]:  # fmt: skip
    model = resnetdsl.build_model(name, seed=0).eval()
    x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected = model(x)
    runs: dict[str, Run] = {}
    took: dict[str, float] = {}
    fused = resnetdsl.fuse_for_inference(model)
    for path in paths:
        t0 = time.perf_counter()
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if path == "frozen":
                frozen = resnetdsl.freeze_for_inference(model, batch_size=batch, input_size=(size, size))
                runs[path] = lambda f=frozen: f(x)
            elif path == "packed":
                packed = resnetdsl.pack_for_inference(model, input_size=(size, size))
                runs[path] = lambda p=packed: p(x)
            elif path == "fused":
                runs[path] = lambda: fused(x)
            elif path == "reference":
                ref = reference(name, model.state_dict())
                runs[path] = lambda r=ref: r(x)
            elif path == "inductor":
                run = compiled(reference(name, model.state_dict()), x)
                run()  # the compile
                runs[path] = run
            elif path == "compiled":
                run = compiled(fused, x)
                run()
                runs[path] = run
            elif path == "onnxruntime":
                runs[path] = onnxruntime_path(model, x, threads, tmp)
            elif path == "jit":
                runs[path] = jit_path(fused, x)
            else:
                raise KeyError(path)
        took[path] = time.perf_counter() - t0
    return expected, runs, took


def timed(runs: dict[str, Run], repeats: int) -> dict[str, list[float]]:
    names = list(runs)
    times: dict[str, list[float]] = {n: [] for n in names}
    with torch.inference_mode():
        for n in names:  # warm-up: oneDNN primitive caches, packed weights, ORT's arena
            runs[n]()
            runs[n]()
        for i in range(repeats):
            for n in names if i % 2 == 0 else reversed(names):
                gc.collect()
                time.sleep(PAUSE)  # the last path's spinning threads go idle first
                t0 = time.perf_counter()
                runs[n]()
                times[n].append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", default=["resnet18", "resnet50", "seresnet50", "resnetv2_50"])
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--paths", nargs="+", default=[*OURS, *PEERS], choices=[*OURS, *PEERS, *OPTIONAL])
    ap.add_argument("--markdown", action="store_true", help="print the table as markdown (bench/README.md)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"# {cpu_name()}, {a.threads} threads; {versions()}")
    print(f"# {a.size}x{a.size}, float32, inference_mode; median of {a.repeats} ABBA rounds, ms per batch")
    print(f"# every path gets the same contiguous NCHW input; {load()}")
    base = a.paths[0]
    others = a.paths[1:]
    goals = {p: g for p, g in GOALS.items() if p in others}
    head = ["model", "batch", *(f"{p} ms" for p in a.paths), *(f"{p}/{base}" for p in others), "goals", "max abs err"]
    if a.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
    else:
        print(" ".join(f"{h:>14}" for h in head))
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.models:
            for batch in a.batch:
                expected, runs, took = setup(name, batch, a.size, a.paths, a.threads, Path(tmp))
                errors = []
                with torch.inference_mode():
                    for p, run in runs.items():
                        out = run()
                        ok = torch.allclose(out, expected, rtol=1e-4, atol=1e-3)
                        errors.append(f"{p} {(out - expected).abs().max().item():.1e}{'' if ok else ' (NOT CLOSE)'}")
                times = timed(runs, a.repeats)
                med = {p: statistics.median(t) * 1e3 for p, t in times.items()}
                row = [name, str(batch), *(f"{med[p]:.1f}" for p in a.paths)]
                # each round's ratio (the two ran seconds apart, under the same load), then their median
                ratios = {
                    p: statistics.median(t / b for t, b in zip(times[p], times[base], strict=True)) for p in others
                }
                row += [f"{ratios[p]:.2f}x" for p in others]
                missed = [f"{p} {ratios[p]:.2f} < {g}" for p, g in goals.items() if ratios[p] < g]
                row.append(("missed: " + ", ".join(missed)) if missed else "met" if goals else "-")
                row.append(", ".join(errors))
                print(("| " + " | ".join(row) + " |") if a.markdown else " ".join(f"{c:>14}" for c in row), flush=True)
                print("#   setup s: " + ", ".join(f"{p} {t:.1f}" for p, t in took.items()), flush=True)
                print(f"#   {load()}", flush=True)
                print("#   min ms: " + ", ".join(f"{p} {min(t) * 1e3:.1f}" for p, t in times.items()), flush=True)
                del runs
                gc.collect()


if __name__ == "__main__":
    main()
