"""docs/weights.md: its Python blocks run, in order, in one namespace, in a scratch folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import ROOT


@pytest.mark.parity
def test_weights_walkthrough_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / "docs" / "weights.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 4
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, "docs/weights.md", "exec"), namespace)
    assert (tmp_path / "resnet50_tv.pth").is_file()


def test_yaml_example_loads() -> None:
    import resnetdsl

    text = (ROOT / "docs" / "weights.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    spec = resnetdsl.load_spec(block)
    assert [s.depth for s in spec.stages] == [3, 4, 8, 3]
