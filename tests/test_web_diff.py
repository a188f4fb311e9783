"""The diff page's data: what differs between aligned items, every tensor's fate as load_weights decides it,
sides that are presets, imports or checkpoints; and the commands that write the pages."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from resnetdsl.check import check
from resnetdsl.state import state_entries
from resnetdsl.web.diff import diff_data
from resnetdsl.weights.fit import predict


def _data(path: Path, block: str) -> Any:
    match = re.search(rf'id="{block}">(.*?)</script>', path.read_text(encoding="utf-8"))
    assert match, block
    return json.loads(match.group(1))


@pytest.fixture(scope="module")
def r50_r50d() -> dict[str, Any]:
    return diff_data("resnet50", "resnet50d")


def test_the_stem_and_the_strided_projections_differ(r50_r50d: dict[str, Any]) -> None:
    d = r50_r50d
    assert d["changes"]["b"]["stem"] == ["4 → 10 layers", "8 layers differ"]
    for block in ("s1b0", "s2b0", "s3b0"):
        reasons = d["changes"]["b"][block]
        assert "shortcut projection → avgpool_projection" in reasons
        assert "shortcut ops 1×1 conv /2 + BN → avgpool /2 → 1×1 conv + BN" in reasons
    assert d["changes"]["b"]["s0b0"] == [
        "shortcut projection → avgpool_projection"
    ]  # stride 1: the pool is an identity
    assert sorted(d["shortcutChanges"]["b"]) == ["s0b0", "s1b0", "s2b0", "s3b0"]
    assert "s1b1" not in d["changes"]["b"] and "1 of 4 blocks differ" in d["changes"]["b"]["s1"]
    assert d["deltas"]["stem"] == {"params": 28_768 - 9_536, "macs": d["deltas"]["stem"]["macs"]}
    assert d["deltas"]["s1"] == {"params": 0, "macs": 0}
    keys = {k["path"] for k in d["keys"]}
    assert {"stem.kind", "defaults.shortcut"} <= keys


def test_every_tensor_is_coloured_as_load_weights_would_load_it(r50_r50d: dict[str, Any]) -> None:
    d = r50_r50d
    a, b = check("resnet50").plan, check("resnet50d").plan
    report = predict(a, b)
    assert d["counts"] == report.counts()
    assert set(d["status"]["b"]) == set(state_entries(b))
    assert set(d["status"]["a"]) == set(state_entries(a))
    assert d["status"]["b"]["conv1.0.weight"] == "missing" and d["status"]["a"]["conv1.weight"] == "unexpected"
    assert d["status"]["b"]["layer2.0.downsample.1.weight"] == "loaded"  # downsample.0 in resnet50, same tensor
    assert d["status"]["a"]["layer2.0.downsample.0.weight"] == "loaded"


def test_the_same_network_differs_nowhere() -> None:
    d = diff_data("resnet18", "resnet18")
    assert d["changes"] == {"a": {}, "b": {}} and d["only"] == {"a": [], "b": []}
    assert set(d["status"]["b"].values()) == {"loaded"} and d["keys"] == []


def test_blocks_present_on_one_side_only_and_a_reinitialised_classifier() -> None:
    d = diff_data("resnet18", {"extends": "resnet34", "head": {"num_classes": 10}})
    assert "s0b2" in d["only"]["b"] and "s0b2" not in d["only"]["a"]
    assert "depth 2 → 3" in d["changes"]["b"]["s0"]
    assert d["status"]["b"]["fc.weight"] == "reinitialised"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch = pytest.importorskip("torch")
    import resnetdsl

    path = tmp_path_factory.mktemp("ckpt") / "c20.pt"
    torch.save(resnetdsl.build_model("cifar_resnet20", seed=0).state_dict(), path)
    return path


def test_a_checkpoint_is_drawn_against_the_other_sides_tensors(checkpoint: Path) -> None:
    d = diff_data(str(checkpoint), "cifar_resnet20")
    assert d["a"]["kind"] == "checkpoint" and "model" not in d["a"] and d["a"]["label"] == "c20.pt"
    assert len(d["a"]["tensors"]) == len(state_entries(check("cifar_resnet20").plan))
    assert set(d["status"]["b"].values()) == {"loaded"}
    d = diff_data("cifar_resnet32", str(checkpoint))  # B a checkpoint: A's extra blocks go nowhere
    assert d["status"]["a"]["layer1.3.conv1.weight"] == "unexpected" and d["b"]["kind"] == "checkpoint"


@pytest.mark.slow
def test_an_imported_model_is_a_side() -> None:
    pytest.importorskip("torchvision")
    d = diff_data("torchvision:resnet18", "resnet18")
    assert d["a"]["kind"] == "torchvision" and d["a"]["label"] == "torchvision:resnet18"
    assert d["changes"] == {"a": {}, "b": {}} and set(d["status"]["b"].values()) == {"loaded"}


def test_two_checkpoints_are_refused() -> None:
    with pytest.raises(ValueError, match="two checkpoints"):
        diff_data("a.pt", "b.pth")


# --- the commands (in process: the parser and handlers are what the command runs) ---------------------------


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from resnetdsl.cli import main

    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_render_writes_the_html_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "r18.html"
    code, stdout, err = _cli(
        capsys, "render", "resnet18", "-o", str(out), "--detail", "stage", "--set", "stages.0.depth=3"
    )
    assert (code, stdout) == (0, f"wrote {out}\n"), err
    model = _data(out, "rd-model")
    assert model["open"] == [] and model["parts"][1]["depth"] == 3
    assert "depth: 3" in _data(out, "rd-spec")["text"]
    monkeypatch.chdir(tmp_path)
    code, _, err = _cli(capsys, "render", "resnet18", "--format", "html")
    assert code == 0 and (tmp_path / "resnet18.html").exists(), err
    code, _, err = _cli(capsys, "render", "resnet18", "-o", "r18.dot")  # the other formats are as they were
    assert code == 0 and (tmp_path / "r18.dot").read_text().startswith("digraph resnet {"), err


def test_render_html_reports_an_invalid_spec_as_every_command_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _cli(capsys, "render", "resnet18", "-o", str(tmp_path / "x.html"), "--set", "stages.0.depth=0")
    assert code == 1 and "stages[0].depth: must be >= 1 (got 0)" in err
    assert not (tmp_path / "x.html").exists()


def test_diff_writes_the_html_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "d.html"
    code, stdout, err = _cli(capsys, "diff", "resnet50", "resnet50d", "--html", str(out))
    assert (code, stdout) == (0, f"wrote {out}\n"), err
    assert _data(out, "rd-diff")["counts"]["missing"] == 13
    code, _, err = _cli(capsys, "diff", "a.pt", "b.safetensors", "--html", str(out))
    assert code == 1 and "two checkpoints" in err
    code, _, err = _cli(capsys, "diff", "resnet18", "resnet18", "--set", "stages.0.depth=3", "--html", str(out))
    assert code == 0 and _data(out, "rd-diff")["changes"]["b"]["s0"][0] == "depth 2 → 3", err
    code, stdout, _ = _cli(capsys, "diff", "resnet18", "resnet34")  # without --html: the text diff, as before
    assert code == 0 and stdout.startswith("--- resnet18\n+++ resnet34\n")


def test_a_checkpoint_missing_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    code, _, err = _cli(capsys, "diff", str(tmp_path / "none.pt"), "resnet18", "--html", str(tmp_path / "d.html"))
    assert code == 1 and err.startswith("resnetdsl diff: no checkpoint file") and not (tmp_path / "d.html").exists()
