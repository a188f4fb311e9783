"""The light install: `pip install resnetdsl` brings no torch, and validate, summary and render work with it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_checking_specs_needs_no_torch(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    src = tmp_path / "src"  # a copy, so that the build leaves nothing in the checkout
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", ".git", "*_cache", "__pycache__", "build"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    install = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", str(src)], capture_output=True, text=True, env=env, timeout=600
    )
    assert install.returncode == 0, install.stdout + install.stderr
    cli = venv / "bin" / "resnetdsl"
    has_torch = subprocess.run([str(py), "-c", "import torch"], capture_output=True, cwd=tmp_path, env=env)
    assert has_torch.returncode != 0, "the light install must not bring torch"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(cli), *args], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)

    done = run("validate", "resnet50", "cifar_resnet56")
    assert (done.returncode, done.stdout) == (0, "2 files checked, no errors\n"), done.stderr
    done = run("summary", "resnet50", "--depth", "stage")
    assert done.returncode == 0 and "25,557,032" in done.stdout, done.stderr
    done = run("render", "resnet18", "-o", "r18.svg")
    assert done.returncode == 0 and (tmp_path / "r18.svg").read_text().startswith("<?xml"), done.stderr
    done = run("render", "resnet18", "-o", "r18.html")  # the web assets are package data of the wheel
    assert done.returncode == 0 and 'id="rd-model"' in (tmp_path / "r18.html").read_text(), done.stderr
    done = run("build", "resnet18")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        "resnetdsl: error: building a model needs torch: pip install 'resnetdsl[torch]' "
        "(validate, summary and render do not)\n"
    )
    api = subprocess.run(
        [
            str(py),
            "-c",
            "import resnetdsl\ntry:\n    resnetdsl.build_model('resnet18')\n"
            "except resnetdsl.TorchMissing as e:\n    print(e)",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert api.stdout.startswith("building a model needs torch"), api.stderr
