"""Wall time of ``resnetdsl validate DIR`` against ``check-jsonschema`` on the same 100 specs, as a ratio.

    .venv/bin/python bench/validate.py [--files 100] [--repeats 5]

Then the worst case of one file: a spec just under the 1 MiB cap, dense with nodes, once valid YAML and once with
a YAML error at its very end (target: at most a second each; it was ~7 s when the error was parsed twice).

Both are run as fresh processes, as CI and pre-commit run them, so start-up counts: resnetdsl checks YAML,
types, ranges, semantics and shapes; check-jsonschema checks the committed JSON Schema only. The specs are
variations of the bundled presets (depths, widths, head, input size), all valid. Runs are interleaved (ABBA)
and the medians compared. Target: ours <= 0.5x theirs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from timing import cached_bytecode_env

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schemas" / "resnet-spec.schema.json"


def _lists_stages(data: dict[str, object]) -> bool:
    stages = data.get("stages")
    return "extends" not in data and isinstance(stages, list) and all(isinstance(s, dict) for s in stages)


def generate(folder: Path, n: int) -> list[Path]:
    """``n`` valid specs, round-robin over the presets, each with other depths, widths, classes and input size."""
    # presets that list their stages (not those that extend another or generate them from a regnet: key)
    every = sorted((ROOT / "specs").glob("*.yaml"))
    presets = [p for p in every if _lists_stages(yaml.safe_load(p.read_text("utf-8")))]
    out: list[Path] = []
    for i in range(n):
        src = presets[i % len(presets)]
        data = yaml.safe_load(src.read_text(encoding="utf-8"))
        data["name"] = f"{data['name']}_v{i}"
        for j, stage in enumerate(data["stages"]):
            stage["depth"] = 1 + (i + j) % 4
        data.setdefault("head", {})
        if isinstance(data["head"], dict):
            data["head"]["num_classes"] = 10 + i
        side = 224 + 32 * (i % 3) if data["stem"].get("kind", "conv7") != "conv3" else 32
        data["input"] = {"channels": 3, "size": [side, side]}
        path = folder / f"spec_{i:03d}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
        out.append(path)
    return out


def worst_case(folder: Path) -> list[Path]:
    """Two files just under the size cap: ~29 000 stages (valid YAML, refused by the schema), and the same with
    an unclosed '[' on its last line."""
    from resnetdsl.load import MAX_BYTES

    line = "  - {depth: 1, width: 8}  # padding\n"
    body = "name: big\nstages:\n" + line * ((MAX_BYTES - 200) // len(line))
    dense, broken = folder / "dense.yaml", folder / "broken_at_end.yaml"
    dense.write_text(body, encoding="utf-8")
    broken.write_text(body + "head: [1\n", encoding="utf-8")
    return [dense, broken]


_CACHE = tempfile.mkdtemp(prefix="resnetdsl-pyc-")
ENV = cached_bytecode_env(_CACHE)
"""Both sides with cached byte-code, as installed packages have it (see bench/startup.py)."""


def _time(cmd: list[str], ok: int = 0) -> float:
    t0 = time.perf_counter()
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=ENV)
    elapsed = time.perf_counter() - t0
    if run.returncode != ok:
        sys.exit(f"{' '.join(cmd[:4])} … exited {run.returncode}:\n{run.stdout}{run.stderr}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    theirs_exe = Path(sys.executable).parent / "check-jsonschema"
    theirs_bin = str(theirs_exe) if theirs_exe.exists() else shutil.which("check-jsonschema")
    if theirs_bin is None:
        sys.exit("check-jsonschema is not installed (pip install check-jsonschema)")
    with tempfile.TemporaryDirectory(prefix="resnetdsl-bench-") as tmp:
        files = generate(Path(tmp), args.files)
        ours = [sys.executable, "-m", "resnetdsl", "validate", "--format", "text", tmp]
        theirs = [theirs_bin, "--schemafile", str(SCHEMA), *map(str, files)]
        env_note = f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {len(files)} specs"
        _time(ours)
        _time(theirs)  # warm-up: file cache, .pyc files
        t_ours: list[float] = []
        t_theirs: list[float] = []
        for i in range(args.repeats):
            pair = [(ours, t_ours), (theirs, t_theirs)]
            for cmd, into in pair if i % 2 == 0 else pair[::-1]:
                into.append(_time(cmd))
        worst = {}
        for path in worst_case(Path(tmp)):
            cmd = [sys.executable, "-m", "resnetdsl", "validate", "--format", "text", str(path)]
            worst[path.name] = statistics.median(_time(cmd, ok=1) for _ in range(args.repeats))
    a, b = statistics.median(t_ours), statistics.median(t_theirs)
    print(env_note)
    print(
        f"validate   resnetdsl {a * 1e3:8.1f} ms   check-jsonschema {b * 1e3:8.1f} ms   "
        f"ratio {a / b:.3f}x (target: <= 0.5x)"
    )
    for name, t in worst.items():
        print(f"1 MiB     {name:20s} {t * 1e3:8.1f} ms (target: <= 1 s)")
    shutil.rmtree(_CACHE, ignore_errors=True)


if __name__ == "__main__":
    main()
