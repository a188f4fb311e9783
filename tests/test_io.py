"""Atomic writes: whole files or nothing, ordinary permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from resnetdsl.io import OutputError, atomic_write_bytes, atomic_write_text


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


def test_links_are_followed_and_kept(tmp_path: Path) -> None:
    real = tmp_path / "real.svg"
    link = tmp_path / "link.svg"
    link.symlink_to(real)
    atomic_write_text(link, "drawn")
    assert link.is_symlink() and real.read_text() == "drawn"


def test_device_files_are_written_through_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        atomic_write_bytes(fifo, b"through")
        assert os.read(reader, 100) == b"through"
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    atomic_write_bytes(os.devnull, b"x")
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("missing/out.svg", "cannot write '{p}': no such directory '{d}'"),
        (".", "cannot write '{p}': it is a directory"),
    ],
)
def test_output_errors_are_one_clear_line(tmp_path: Path, name: str, message: str) -> None:
    target = tmp_path / name
    with pytest.raises(OutputError) as info:
        atomic_write_text(target, "x")
    assert str(info.value) == message.format(p=target, d=tmp_path / "missing")
    assert [p.name for p in tmp_path.iterdir()] == []


def test_cli_reports_output_errors_without_traceback(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    res = run_cli("schema", "-o", str(tmp_path / "nodir" / "s.json"))
    assert res.returncode == 1
    target, folder = tmp_path / "nodir" / "s.json", tmp_path / "nodir"
    assert res.stderr == f"resnetdsl: error: cannot write '{target}': no such directory '{folder}'\n"
