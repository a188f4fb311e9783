"""Shared test helpers: golden files (rewrite with ``pytest --accept``), paths, the CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
GOLDEN = Path(__file__).resolve().parent / "golden"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

TORCHVISION = [
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnext50_32x4d",
    "resnext101_32x8d",
    "resnext101_64x4d",
    "wide_resnet50_2",
    "wide_resnet101_2",
]
"""The ten torchvision ResNets, each a preset of the same name."""


def pytest_configure(config: pytest.Config) -> None:
    # Under pytest-xdist (the README's `-n 2`: one worker per core), each worker's torch takes one thread, so two
    # workers share the two cores instead of four threads fighting for them; read when torch is first imported
    # (here or in a test's subprocess). A test that wants more threads sets them itself.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(name, "1")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--accept", action="store_true", help="rewrite golden files with the current output")


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """``golden("summary/resnet18.txt", text)``: compare with tests/golden/…, or rewrite under --accept."""
    accept = bool(request.config.getoption("--accept"))

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if accept:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        assert path.exists(), f"no golden file {path.relative_to(ROOT)}; run pytest --accept to create it"
        expected = path.read_text(encoding="utf-8")
        assert text == expected, f"output differs from {path.relative_to(ROOT)} (pytest --accept rewrites it)"

    return check


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m resnetdsl ARGS`` in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "resnetdsl", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=env,
        timeout=300,
    )
