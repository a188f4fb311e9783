"""The examples run: a small ResNet spec learns scikit-learn's bundled digits (no download)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from .conftest import ROOT

pytest.importorskip("sklearn")

ARGS = ["--epochs", "3", "--seed", "0", "--quiet", "--min-accuracy", "0.8"]


def test_train_digits_learns_quickly() -> None:
    """A shortened run (3 epochs, fixed seed) of examples/train_digits.py is far better than chance (10 %)."""
    done = subprocess.run(
        [sys.executable, "examples/train_digits.py", *ARGS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    m = re.search(r"test accuracy ([\d.]+)%", done.stdout)
    assert m is not None, done.stdout
    assert float(m.group(1)) >= 80.0


def test_plain_vs_residual_specs_differ_only_in_the_shortcut() -> None:
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        from plain_vs_residual import spec
    finally:
        sys.path.remove(str(ROOT / "examples"))
    import resnetdsl

    for depth in (20, 56):
        plain, residual = resnetdsl.plan_of(spec(depth, False)), resnetdsl.plan_of(spec(depth, True))
        assert {b.shortcut for _, b in plain.blocks()} == {"none"}
        assert "identity" in {b.shortcut for _, b in residual.blocks()}
        assert sum(1 for _ in plain.blocks()) * 2 + 2 == depth
        s_plain, s_res = resnetdsl.summarize(plain), resnetdsl.summarize(residual)
        assert s_plain.params == s_res.params and s_plain.macs == s_res.macs
