"""The project's own gates: lint, format, strict typing, the README's commands, torch-free import."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


@pytest.mark.slow
def test_ruff_lint_and_format() -> None:
    lint = subprocess.run([_tool("ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = subprocess.run([_tool("ruff"), "format", "--check", "."], cwd=ROOT, capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


@pytest.mark.slow
def test_mypy_strict() -> None:
    run = subprocess.run([_tool("mypy"), "resnetdsl"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def _readme_command(marker: str) -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"<!-- {marker} -->\n```\n(.+?)\n```", text)
    assert match, f"README has no {marker} block"
    return match.group(1)


def test_readme_has_exactly_two_commands_and_ci_runs_the_test_one() -> None:
    main_cmd = _readme_command("main-command")
    test_cmd = _readme_command("test-command")
    assert "python3 -m venv .venv" in main_cmd and "python3 -m venv .venv" in test_cmd
    assert "pytest" in test_cmd and "pytest" not in main_cmd
    # .ci/run extracts the test command from the README; check it extracts exactly that line
    awk = re.search(r"cmd=\$\(awk '(.+?)' README.md\)", (ROOT / ".ci" / "run").read_text())
    assert awk
    got = subprocess.run(["awk", awk.group(1), "README.md"], cwd=ROOT, capture_output=True, text=True)
    assert got.stdout.strip() == test_cmd


def test_importing_the_package_does_not_import_torch() -> None:
    code = "import sys, resnetdsl; resnetdsl.load_spec('resnet50'); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr
