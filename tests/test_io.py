"""Atomic writes: whole files or nothing, ordinary permissions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from resnetdsl.io import atomic_write_bytes, atomic_write_text


def test_atomic_write_replaces_whole_file_with_ordinary_mode(tmp_path: Path) -> None:
    target = tmp_path / "out.svg"
    target.write_text("old")
    old = os.umask(0o022)
    try:
        atomic_write_text(target, "new")
    finally:
        os.umask(old)
    assert target.read_text() == "new"
    assert target.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["out.svg"]


def test_failed_write_leaves_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
