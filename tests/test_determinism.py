"""Same spec + seed → bitwise-equal weights; same spec → byte-identical DOT, summary and exported Python, also
across processes with different hash seeds (set iteration order must never leak into output)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import resnetdsl
from resnetdsl.export.python import to_python

from .conftest import run_cli

PRESETS = ["resnet50d", "seresnext50_32x4d", "preact_resnet164", "resnetv2_50", "resnet50_gn"]


@pytest.mark.parametrize("name", ["resnet18", "ecaresnet50d", "resnetv2_18", "wrn16_8"])
def test_same_seed_same_weights_bitwise(name: str) -> None:
    a = resnetdsl.build_model(name, seed=1234).state_dict()
    b = resnetdsl.build_model(name, seed=1234).state_dict()
    c = resnetdsl.build_model(name, seed=1235).state_dict()
    assert list(a) == list(b)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point() and a[k].numel() > 1000)


@pytest.mark.parametrize("name", PRESETS)
def test_same_spec_same_text_in_process(name: str) -> None:
    assert resnetdsl.render(name).source == resnetdsl.render(name).source
    assert str(resnetdsl.summarize(name)) == str(resnetdsl.summarize(name))
    assert to_python(resnetdsl.plan_of(name)) == to_python(resnetdsl.plan_of(name))


@pytest.mark.parametrize("name", ["seresnext50_32x4d", "resnetv2_50"])
def test_same_spec_same_bytes_across_processes(name: str, tmp_path: Path) -> None:
    outputs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        dot = tmp_path / f"{hash_seed}.dot"
        py = tmp_path / f"{hash_seed}.py"
        runs = [
            run_cli("render", name, "-o", str(dot), env=env),
            run_cli("export", name, "--format", "python", "-o", str(py), env=env),
            run_cli("summary", name, "--format", "json", env=env),
        ]
        assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
        outputs.append((dot.read_bytes(), py.read_bytes(), runs[2].stdout))
    assert outputs[0] == outputs[1]
