"""Loading: safe YAML, marks, presets, extends."""

from __future__ import annotations

from pathlib import Path

import pytest

import resnetdsl
from resnetdsl import SpecError
from resnetdsl.load import MAX_BYTES, parse_yaml
from tests.conftest import SPECS


def test_every_preset_loads_and_lowers() -> None:
    names = resnetdsl.presets()
    assert len(names) == len(list(SPECS.glob("*.yaml"))) >= 26
    for name in names:
        plan = resnetdsl.plan_of(name)
        assert plan.name == name


def test_marks_point_at_values_and_keys() -> None:
    doc = parse_yaml("name: x\nstages:\n  - depth: 2\n    width: 8\n", "f.yaml")
    assert doc.source.values[("stages", 0, "width")].line == 4
    assert doc.source.values[("stages", 0, "width")].col == 12
    assert doc.source.keys[("stages", 0, "width")].col == 5
    assert doc.source.mark_for(("stages", 0, "nope")) == doc.source.values[("stages", 0)]


def test_extends_merges_mappings_and_replaces_lists(tmp_path: Path) -> None:
    child = tmp_path / "narrow.yaml"
    child.write_text("extends: resnet50\nname: resnet50_10c\nhead: {num_classes: 10}\ndefaults: {groups: 2}\n")
    spec = resnetdsl.load_spec(child)
    assert spec.name == "resnet50_10c"
    assert spec.head != "none" and spec.head.num_classes == 10 and spec.head.pool == "avg"
    assert spec.defaults.block == "bottleneck" and spec.defaults.groups == 2
    assert [s.depth for s in spec.stages] == [3, 4, 6, 3]
    # a list given in the child replaces the base's list
    child.write_text("extends: resnet50\nstages: [{depth: 1, width: 64}]\n")
    assert [s.depth for s in resnetdsl.load_spec(child).stages] == [1]


def test_extends_errors_point_into_the_right_file(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("name: b\nstem: {kind: conv3, width: 8}\nstages: [{depth: 1, width: 8}]\n")
    child = tmp_path / "child.yaml"
    child.write_text("extends: base.yaml\nstages: [{depth: 0, width: 8}]\n")
    with pytest.raises(SpecError) as info:
        resnetdsl.load_spec(child)
    issue = info.value.issues[0]
    assert (Path(issue.file or "").name, issue.line, issue.col) == ("child.yaml", 2, 18)
    child.write_text("extends: child.yaml\n")
    with pytest.raises(SpecError, match="extends cycle"):
        resnetdsl.load_spec(child)
    child.write_text("extends: resnet5O\n")
    with pytest.raises(
        SpecError, match=r"'resnet5O' is neither a preset nor a spec file \(did you mean 'resnet50'\?\)"
    ):
        resnetdsl.load_spec(child)


def test_yaml_merge_keys_and_anchors() -> None:
    text = "name: m\nx: &s {depth: 1, width: 8}\nstages: [*s, {<<: *s, stride: 2}]\n"
    # 'x' is unknown: the anchors still resolve and the error names it
    with pytest.raises(SpecError, match="unknown key 'x'"):
        resnetdsl.load_spec(text)
    doc = parse_yaml(text)
    assert doc.data["stages"] == [{"depth": 1, "width": 8}, {"depth": 1, "width": 8, "stride": 2}]


def test_alias_bomb_fails_fast() -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 10):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 9)}]")
    with pytest.raises(SpecError, match="more than 100000 nodes"):
        parse_yaml("\n".join(lines))


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(SpecError, match="nests deeper than 64"):
        parse_yaml("a: &a [*a]\n")


def test_size_encoding_and_binary_limits(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (MAX_BYTES + 1))
    with pytest.raises(SpecError, match="file is too large"):
        resnetdsl.load_spec(big)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(SpecError, match=r"not valid UTF-8 \(byte 9\)"):
        resnetdsl.load_spec(latin)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(SpecError, match="binary"):
        resnetdsl.load_spec(binary)
    with pytest.raises(SpecError, match="is a directory"):
        resnetdsl.load_spec(tmp_path)
    with pytest.raises(SpecError, match="no such file"):
        resnetdsl.load_spec(tmp_path / "missing.yaml")


def test_specs_are_immutable() -> None:
    from pydantic import ValidationError

    spec = resnetdsl.load_spec("resnet18")
    with pytest.raises(ValidationError):
        spec.name = "other"  # type: ignore[misc]


def test_strict_scalars() -> None:
    with pytest.raises(SpecError, match=r"head.dropout: must be a number \(got a string '0.1'\)"):
        resnetdsl.load_spec("name: x\nstages: [{depth: 1, width: 8}]\nhead: {dropout: '0.1'}\n")
    spec = resnetdsl.load_spec("name: x\nstages: [{depth: 1, width: 8}]\nhead: {dropout: 0}\n")
    assert spec.head != "none" and spec.head.dropout == 0.0
