"""Progress lines: drawn on a terminal, never when piped."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from resnetdsl import progress as progress_mod
from resnetdsl.cli import main
from resnetdsl.progress import progress

from .conftest import SPECS


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def immediate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress_mod, "DELAY", 0.0)
    monkeypatch.setattr(progress_mod, "INTERVAL", 0.0)
    monkeypatch.delenv("NO_PROGRESS", raising=False)
    monkeypatch.setenv("TERM", "xterm")


def test_draws_on_a_terminal_and_erases_itself(immediate: None) -> None:
    tty = FakeTTY()
    assert list(progress(["a.yaml", "b.yaml"], "validating", stream=tty)) == ["a.yaml", "b.yaml"]
    text = tty.getvalue()
    assert "\rvalidating: 0/2 a.yaml" in text and "validating: 1/2 b.yaml" in text
    assert text.endswith("\r") and text.rstrip("\r").split("\r")[-1].strip() == ""  # erased at the end


def test_quiet_when_piped_or_turned_off(immediate: None, monkeypatch: pytest.MonkeyPatch) -> None:
    piped = io.StringIO()
    assert list(progress([1, 2, 3], "x", stream=piped)) == [1, 2, 3]
    assert piped.getvalue() == ""
    for var, value in (("NO_PROGRESS", "1"), ("TERM", "dumb")):
        with monkeypatch.context() as m:
            m.setenv(var, value)
            tty = FakeTTY()
            list(progress([1, 2], "x", stream=tty))
            assert tty.getvalue() == ""


def test_waits_before_drawing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress_mod, "DELAY", 3600.0)
    monkeypatch.delenv("NO_PROGRESS", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    tty = FakeTTY()
    list(progress(list(range(100)), "x", stream=tty))
    assert tty.getvalue() == ""


def test_long_names_never_wrap(immediate: None) -> None:
    tty = FakeTTY()
    list(progress(["d/" * 100 + "x.yaml"], "validating", stream=tty))
    assert all(len(part) <= progress_mod.WIDTH for part in tty.getvalue().split("\r"))


def test_validate_shows_progress_on_a_terminal_only(
    immediate: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    files = sorted(SPECS.glob("cifar_resnet*.yaml"))
    tty = FakeTTY()
    monkeypatch.setattr("sys.stderr", tty)
    assert main(["validate", *map(str, files)]) == 0
    assert f"validating: {len(files) - 1}/{len(files)}" in tty.getvalue()
    assert "validating" not in capsys.readouterr().out  # the report itself is untouched
    piped = io.StringIO()
    monkeypatch.setattr("sys.stderr", piped)
    assert main(["validate", *map(str, files)]) == 0
    assert piped.getvalue() == ""  # stderr not a terminal: nothing
