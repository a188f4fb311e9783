"""Cold start of every torch-free command against a bare interpreter, in fresh processes, in one run.

    .venv/bin/python bench/startup.py [--rounds 21] [--markdown] [--instructions]

Each round runs every command once as a fresh process (``python -m resnetdsl …``, output thrown away), in an
order that turns round by round, with ``python -c pass`` (the peer: what any Python program pays) among them, so
that drift on a shared machine hits every command alike. Printed per command: the median wall time, the median
CPU time (user + system of the process: less moved by other work on the machine than the wall time), and the
median of the per-round ratios to the peer. Budget: each command 0.25 s, ``import resnetdsl`` 0.15 s (wall,
median). ``--markdown`` prints the table bench/README.md holds.

A second reference row, ``pydantic + PyYAML``, makes one pydantic model and imports PyYAML: the floor under
every command that checks a spec (pydantic stays the one validator). ``--instructions`` adds each command's
instruction count under valgrind (callgrind; one more run each, slow): unlike seconds it does not drift with the
machine's load or its host, so two runs hours apart compare.

Byte-code is cached as an installed package has it (the run writes ``.pyc`` files into a temporary
``PYTHONPYCACHEPREFIX``, warmed by one untimed run of each command; ``PYTHONDONTWRITEBYTECODE`` is dropped), so
the figures are the start-up a user sees, not the compiler's.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

from timing import cached_bytecode_env

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
DSL = [PY, "-m", "resnetdsl"]

FLOOR = (
    "import os\nos.environ['PYDANTIC_DISABLE_PLUGINS'] = '__all__'\nfrom pydantic import BaseModel\nimport yaml\n"
    "class M(BaseModel, defer_build=True):\n    x: int"
)
"""What every command that checks a spec pays before any of its own work: pydantic with one model class made (no
plugin search, no schema built: the commands do neither), PyYAML."""
COMMANDS: dict[str, tuple[list[str], float | None]] = {
    # label: (argv, budget in seconds)
    "python -c pass": ([PY, "-c", "pass"], None),
    "pydantic + PyYAML": ([PY, "-c", FLOOR], None),
    "import resnetdsl": ([PY, "-c", "import resnetdsl"], 0.15),
    "validate specs/resnet50.yaml": ([*DSL, "validate", "specs/resnet50.yaml"], 0.25),
    "summary specs/resnet50.yaml": ([*DSL, "summary", "specs/resnet50.yaml"], 0.25),
    "render specs/resnet50.yaml --format dot": ([*DSL, "render", "specs/resnet50.yaml", "--format", "dot"], 0.25),
    "show specs/resnet50.yaml": ([*DSL, "show", "specs/resnet50.yaml"], 0.25),
    "diff resnet18 resnet34": ([*DSL, "diff", "resnet18", "resnet34"], 0.25),
    "presets": ([*DSL, "presets"], 0.25),
    "schema": ([*DSL, "schema"], 0.25),
}
PEER = "python -c pass"


def _env(cache: str) -> dict[str, str]:
    env = cached_bytecode_env(cache)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one fresh process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):  # 1: a warning-free spec never exits 1, but diff may report differences
        err = proc.stderr.read().decode() if proc.stderr else ""
        sys.exit(f"{' '.join(argv)} exited {proc.returncode}:\n{err}")
    if proc.stderr:
        proc.stderr.close()
    return wall, usage.ru_utime + usage.ru_stime


def measure(rounds: int) -> dict[str, dict[str, float]]:
    labels = list(COMMANDS)
    walls: dict[str, list[float]] = {k: [] for k in labels}
    cpus: dict[str, list[float]] = {k: [] for k in labels}
    ratios: dict[str, list[float]] = {k: [] for k in labels}
    with tempfile.TemporaryDirectory(prefix="resnetdsl-pyc-") as cache:
        env = _env(cache)
        for label in labels:  # warm-up: byte-code written, files in the page cache
            run_once(COMMANDS[label][0], env)
        for r in range(rounds):
            order = labels[r % len(labels) :] + labels[: r % len(labels)]
            if r % 2:
                order.reverse()
            got = {label: run_once(COMMANDS[label][0], env) for label in order}
            for label, (wall, cpu) in got.items():
                walls[label].append(wall)
                cpus[label].append(cpu)
                ratios[label].append(wall / got[PEER][0])
    return {
        k: {
            "wall": statistics.median(walls[k]),
            "cpu": statistics.median(cpus[k]),
            "ratio": statistics.median(ratios[k]),
        }
        for k in labels
    }


def instructions(argv: list[str], env: dict[str, str]) -> int:
    """Instructions one fresh process runs (valgrind's callgrind: deterministic, unlike seconds)."""
    with tempfile.TemporaryDirectory(prefix="resnetdsl-callgrind-") as out:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg.%p", *argv],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    found = [line.rsplit(":", 1)[1] for line in done.stderr.splitlines() if "Collected :" in line]
    if done.returncode not in (0, 1) or not found:
        sys.exit(f"valgrind {' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return int(found[-1].strip())


def count_all() -> dict[str, int]:
    if shutil.which("valgrind") is None:
        sys.exit("--instructions needs valgrind on PATH")
    with tempfile.TemporaryDirectory(prefix="resnetdsl-pyc-") as cache:
        env = _env(cache)
        for argv, _ in COMMANDS.values():  # byte-code and the schemas written first, as for the timing
            run_once(argv, env)
        return {label: instructions(argv, env) for label, (argv, _) in COMMANDS.items()}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def machine() -> str:
    load = os.getloadavg()
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("pydantic", "pydantic-core", "PyYAML", "graphviz")
    )
    return (
        f"{platform.machine()} {cpu_model()}, {os.cpu_count()} CPUs, "
        f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min) at the end; "
        f"Python {platform.python_version()}, {versions}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=21, help="fresh processes per command (default: 21)")
    ap.add_argument("--markdown", action="store_true", help="the table for bench/README.md")
    ap.add_argument("--instructions", action="store_true", help="also count each command's instructions (valgrind)")
    args = ap.parse_args()
    results = measure(args.rounds)
    counts = count_all() if args.instructions else {}
    peer = results[PEER]["wall"]
    print(f"{args.rounds} rounds; {machine()}")
    if args.markdown:
        print()
        extra = (" | instructions (M)", "|---:") if counts else ("", "")
        print(f"| command | wall s (median) | CPU s (median) | × `python -c pass` | budget s | within{extra[0]} |")
        print(f"|---|---:|---:|---:|---:|---{extra[1]}|")
    for label, r in results.items():
        budget = COMMANDS[label][1]
        within = "" if budget is None else ("yes" if r["wall"] <= budget else "**no**")
        limit = "" if budget is None else f"{budget:.2f}"
        ins = f"{counts[label] / 1e6:,.0f}" if counts else ""
        if args.markdown:
            plain = label in (PEER, "import resnetdsl", "pydantic + PyYAML")
            name = f"`{label}`" if plain else f"`resnetdsl {label}`"
            cells = f"| {name} | {r['wall']:.3f} | {r['cpu']:.3f} | {r['ratio']:.1f} | {limit} | {within} |"
            print(cells + (f" {ins} |" if counts else ""))
        else:
            print(
                f"{label:42s} wall {r['wall']:6.3f} s  cpu {r['cpu']:6.3f} s  {r['ratio']:5.1f}× peer"
                + (f"  budget {limit} s: {within}" if budget is not None else f"  (peer: {peer:.3f} s)")
                + (f"  {ins} M instructions" if counts else "")
            )


if __name__ == "__main__":
    main()
