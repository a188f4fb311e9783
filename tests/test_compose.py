"""Overrides (--set, load_spec(overrides=…)), stages as a mapping under extends, show and presets."""

from __future__ import annotations

import pytest

import resnetdsl
from resnetdsl.load import Overridden, parse_set
from resnetdsl.show import show

from .conftest import run_cli


def _errors(source: object, *sets: str) -> list[str]:
    with pytest.raises(resnetdsl.SpecError) as exc:
        resnetdsl.check(Overridden(source, tuple(parse_set(s) for s in sets)))
    return [i.format(severity=True) for i in exc.value.issues]


def test_overrides_from_python() -> None:
    spec = resnetdsl.load_spec("resnet50", overrides={"stages.2.depth": 23, "head.num_classes": 10})
    assert [s.depth for s in spec.stages] == [3, 4, 23, 3] and spec.head != "none" and spec.head.num_classes == 10
    model = resnetdsl.build_model("resnet50", num_classes=10, in_chans=1, device="meta")
    assert model.conv1.in_channels == 1 and model.fc.out_features == 10
    assert resnetdsl.plan_of("resnet18", overrides={"stages.-1.width": 256}).stages[3].out_channels == 256


@pytest.mark.parametrize(
    ("sets", "expected"),
    [
        (["stages.2.dept=23"], ["--set stages.2.dept=23: error: unknown key 'dept' (did you mean 'depth'?)"]),
        (
            ["stages.7.depth=2"],
            ["--set stages.7.depth=2: error: 'stages' has 4 items (indices 0 to 3); there is no item 7"],
        ),
        (
            ["stages.2.depth=abc"],
            ["--set stages.2.depth=abc: error: stages[2].depth: must be an integer (got a string 'abc')"],
        ),
        (["head.num_classes=0"], ["--set head.num_classes=0: error: head.num_classes: must be >= 1 (got 0)"]),
        (["depth=3"], ["--set depth=3: error: unknown key 'depth'"]),
        (["stem.kind.x=1"], ["--set stem.kind.x=1: error: 'stem.kind' is a value, not a mapping; it has no key 'x'"]),
        (["nameless"], ["--set nameless: error: expected KEY.PATH=VALUE, such as stages.2.depth=23"]),
        (
            ["stages.0.groups=4"],
            [
                "--set stages.0.groups=4: error: stages[0].groups: applies only to bottleneck, resnest or res2net "
                "blocks (stages[0] uses basic blocks)"
            ],
        ),
    ],
)
def test_override_messages(sets: list[str], expected: list[str]) -> None:
    if sets == ["nameless"]:
        with pytest.raises(resnetdsl.SpecError) as exc:
            parse_set("nameless")
        assert [i.format(severity=True) for i in exc.value.issues] == expected
        return
    assert _errors("resnet18", *sets) == expected


def test_override_problem_stays_on_the_set_through_extends() -> None:
    text = "extends: resnet18\nname: mine\n"
    with pytest.raises(resnetdsl.SpecError) as exc:
        resnetdsl.check(text, overrides={"stages.0.groups": 4})
    assert [i.format() for i in exc.value.issues] == [
        "overrides['stages.0.groups']: stages[0].groups: applies only to bottleneck, resnest or res2net blocks "
        "(stages[0] uses basic blocks)"
    ]


def test_stages_as_a_mapping_under_extends() -> None:
    spec = resnetdsl.load_spec("extends: resnet50\nname: r\nstages: {2: {depth: 23}}\n")
    assert [(s.depth, s.width) for s in spec.stages] == [(3, 64), (4, 128), (23, 256), (3, 512)]
    more = resnetdsl.load_spec("extends: resnet18\nname: r\nstages: {4: {depth: 1, width: 1024, stride: 2}}\n")
    assert len(more.stages) == 5
    with pytest.raises(resnetdsl.SpecError) as exc:
        resnetdsl.check("extends: resnet50\nname: r\nstages: {2: {dept: 0}, 7: {depth: 1}}\n")
    assert [i.format() for i in exc.value.issues] == [
        "<string>:3:24: stages[7]: no item 7 to change: the base has 4 (indices 0–3); index 4 appends one"
    ]


def test_cli_set_on_every_command(tmp_path) -> None:  # type: ignore[no-untyped-def]
    for cmd in (["validate"], ["summary"], ["render", "--format", "dot"], ["show"], ["build"]):
        r = run_cli(*cmd, "cifar_resnet20", "--set", "stages.1.dept=3")
        assert r.returncode == 1, (cmd, r.stdout, r.stderr)
        assert "--set stages.1.dept=3: error: unknown key 'dept' (did you mean 'depth'?)" in r.stderr + r.stdout
    r = run_cli("summary", "cifar_resnet20", "--set", "stages.2.depth=5", "--depth", "stage", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert '"depth": 5' in r.stdout or "layer3" in r.stdout


@pytest.mark.parametrize("name", resnetdsl.presets())
def test_show_round_trips(name: str) -> None:
    text = show(name)
    checked = resnetdsl.check(text)
    assert checked.plan == resnetdsl.plan_of(name)
    assert not checked.warnings
    assert "extends" not in text


def test_show_makes_defaults_explicit() -> None:
    text = show("resnet18", overrides={"stages.0.depth": 3})
    assert "stem: {kind: conv7, width: 64, pool: max, conv_bias: false}" in text.splitlines()
    for line in ("  block: basic", "  shortcut: projection", "- {depth: 3, width: 64, stride: 1, checkpoint: false}"):
        assert line in text.splitlines()
    assert "stride_on" not in text  # bottleneck only: not written for a basic network


def test_presets_table() -> None:
    r = run_cli("presets")
    assert r.returncode == 0
    rows = {line.split()[0]: line.split() for line in r.stdout.splitlines()[1:]}
    assert rows["resnet50"][1:4] == ["25.56M", "4.09", "3×224×224"]
    assert set(rows) == set(resnetdsl.presets())
    names = run_cli("presets", "--names")
    assert names.stdout.split() == list(resnetdsl.presets())
