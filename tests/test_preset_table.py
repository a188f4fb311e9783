"""``resnetdsl presets``: the stored table (specs/presets.json) is what checking each preset gives, and is used only
while it describes the bundled presets as they are."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from resnetdsl import preset_table
from resnetdsl.load import presets
from tests.conftest import ROOT

INDEX = ROOT / "specs" / preset_table.INDEX_NAME


def test_the_stored_table_is_the_checked_one(request: pytest.FixtureRequest) -> None:
    expected = preset_table.index_text(preset_table.computed_rows())
    if request.config.getoption("--accept"):
        INDEX.write_text(expected, encoding="utf-8")
    assert INDEX.read_text(encoding="utf-8") == expected, (
        "specs/presets.json differs from the presets (pytest --accept tests/test_preset_table.py rewrites it)"
    )
    assert preset_table.stored_rows() == json.loads(expected)["rows"]


def test_a_changed_preset_makes_the_table_checked_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", folder)
    monkeypatch.setattr(presets, "preset_dir", lambda: folder)
    presets.preset_names.cache_clear()
    try:
        assert preset_table.stored_rows() is not None
        spec = folder / "resnet18.yaml"
        spec.write_text(spec.read_text(encoding="utf-8").replace("num_classes: 1000", "num_classes: 10"), "utf-8")
        assert preset_table.stored_rows() is None
        row = next(r for r in preset_table.preset_rows() if r["name"] == "resnet18")
        assert row["params"] == 11_689_512 - 990 * 512 - 990  # the head of 10 classes, not the stored 1000
        (folder / preset_table.INDEX_NAME).write_text("{", encoding="utf-8")
        assert preset_table.stored_rows() is None
    finally:
        presets.preset_names.cache_clear()
