"""Export and import time: ``resnetdsl export SPEC --format onnx`` as a user runs it (fresh processes), and
``to_onnx`` in process, beside the floor every torch command pays (``python -c "import torch"``) and, with
``--dynamo``, torch's dynamo-based exporter on the same model (the path resnetdsl used before); then
``resnetdsl import REF`` (fresh processes) beside the same floor and the floor of importing the model's library.

    PYTHONPATH=. python bench/export.py [--repeats 5] [--dynamo] [--imports REF…] [--markdown] [models…]

Fresh processes alternate with the ``import torch`` floor (ABBA), after one untimed run of each (byte-code
written, files in the page cache); in-process figures are medians after one warm-up export. Every file is checked
in onnxruntime against the eval model (max abs error).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

import resnetdsl
from resnetdsl.export.onnx import to_onnx


def cold(argv: list[str]) -> float:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(Path.cwd()), os.environ.get("PYTHONPATH")])))
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env)
    return time.perf_counter() - t0


def cli_times(name: str, out: Path, repeats: int) -> tuple[float, float]:
    """Medians of the cold CLI export and of the ``import torch`` floor, alternating."""
    cli = [sys.executable, "-m", "resnetdsl", "export", name, "--format", "onnx", "--seed", "0", "-o", str(out)]
    floor = [sys.executable, "-c", "import torch"]
    a: list[float] = []
    b: list[float] = []
    cold(cli)  # untimed: byte-code and caches written, files in the page cache, as a user's second run finds them
    for i in range(repeats):
        for which in ("cli", "floor") if i % 2 == 0 else ("floor", "cli"):
            (a if which == "cli" else b).append(cold(cli if which == "cli" else floor))
    return statistics.median(a), statistics.median(b)


def import_times(ref: str, out: Path, repeats: int) -> tuple[float, float, float]:
    """Medians of the cold ``resnetdsl import REF -o FILE``, of ``import torch`` and of importing REF's library."""
    lib = ref.partition(":")[0]
    argvs = {
        "cli": [sys.executable, "-m", "resnetdsl", "import", ref, "-o", str(out)],
        "torch": [sys.executable, "-c", "import torch"],
        "lib": [sys.executable, "-c", f"import {lib}"],
    }
    times: dict[str, list[float]] = {k: [] for k in argvs}
    for argv in argvs.values():  # untimed, as in cli_times
        cold(argv)
    for i in range(repeats):
        for k in list(argvs) if i % 2 == 0 else reversed(list(argvs)):
            times[k].append(cold(argvs[k]))
    return statistics.median(times["cli"]), statistics.median(times["torch"]), statistics.median(times["lib"])


def in_process(model: torch.nn.Module, path: Path, repeats: int) -> float:
    to_onnx(model, path)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        to_onnx(model, path)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def dynamo_time(model: torch.nn.Module) -> float:
    h, w = model.plan.input_size
    dyn = torch.export.Dim.DYNAMIC
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.redirect_stdout(io.StringIO()):
            torch.onnx.export(
                model, (torch.zeros(2, 3, h, w),), io.BytesIO(), input_names=["input"],
                dynamic_shapes={"x": {0: dyn, 2: dyn, 3: dyn}}, dynamo=True, external_data=False,
            )  # fmt: skip
    return time.perf_counter() - t0


def max_error(path: Path, model: torch.nn.Module) -> float:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    h, w = model.plan.input_size
    x = torch.randn(3, 3, h + 32, w)  # not the traced shape
    with torch.no_grad():
        want = model(x)
    return float((torch.from_numpy(session.run(None, {"input": x.numpy()})[0]) - want).abs().max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", default=["resnet18", "resnet50", "wide_resnet50_2"])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dynamo", action="store_true", help="also time torch's dynamo-based exporter (slow)")
    ap.add_argument("--imports", nargs="*", default=["timm:resnet50", "torchvision:resnet50"])
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    import onnx
    import onnxruntime

    print(
        f"# {platform.machine()}, {os.cpu_count()} CPUs, {a.threads} threads; torch {torch.__version__}, onnx "
        f"{onnx.__version__}, onnxruntime {onnxruntime.__version__}, python {platform.python_version()}"
    )
    print(f"# median of {a.repeats}; CLI and floor: fresh processes, alternating")
    head = ["model", "params M", "CLI s", "import torch s", "to_onnx s", *(["dynamo s"] if a.dynamo else []), "max err"]
    print(("| " + " | ".join(head) + " |\n|" + "---|" * len(head)) if a.markdown else "  ".join(head))
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.models:
            out = Path(tmp) / f"{name}.onnx"
            model = resnetdsl.build_model(name, seed=0).eval()
            params = sum(p.numel() for p in model.parameters()) / 1e6
            cli, floor = cli_times(name, out, a.repeats)
            inproc = in_process(model, out, a.repeats)
            row = [name, f"{params:.1f}", f"{cli:.2f}", f"{floor:.2f}", f"{inproc:.2f}"]
            if a.dynamo:
                row.append(f"{dynamo_time(model):.1f}")
            row.append(f"{max_error(out, model):.1e}")
            print(("| " + " | ".join(row) + " |") if a.markdown else "  ".join(row), flush=True)
        if a.imports:
            head = ["import", "CLI s", "import torch s", "import library s"]
            print(("\n| " + " | ".join(head) + " |\n|" + "---|" * len(head)) if a.markdown else "\n" + "  ".join(head))
        for ref in a.imports:
            cli, floor, lib = import_times(ref, Path(tmp) / "imported.yaml", a.repeats)
            row = [ref, f"{cli:.2f}", f"{floor:.2f}", f"{lib:.2f}"]
            print(("| " + " | ".join(row) + " |") if a.markdown else "  ".join(row), flush=True)
    one, five, _ = os.getloadavg()
    print(f"# load average {one:.1f} (1 min), {five:.1f} (5 min)")


if __name__ == "__main__":
    main()
