"""docs/backbones.md runs: each of its Python blocks is executed (small sizes: a detector and a segmenter train one
step and run in eval mode)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "backbones.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_page_has_its_examples() -> None:
    assert len(BLOCKS) == 4
    assert any("FasterRCNN" in b for b in BLOCKS) and any("DeepLabV3" in b for b in BLOCKS)


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_python_block_runs(index: int) -> None:
    import torch

    torch.manual_seed(0)
    exec(compile(BLOCKS[index], f"{DOC.name}[python block {index}]", "exec"), {"__name__": "__doc_example__"})
