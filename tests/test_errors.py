"""Bad specs: every problem at once, in our words, with file:line:col — checked word for word."""

from __future__ import annotations

from pathlib import Path

import pytest

import resnetdsl
from resnetdsl import SpecError

BASE = "name: t\nstem: {kind: conv3, width: 16}\n"

CASES: list[tuple[str, str, list[str]]] = [
    (
        "depth_zero",
        BASE + "stages:\n  - {depth: 0, width: 16}\n",
        ["t.yaml:4:13: stages[0].depth: must be >= 1 (got 0)"],
    ),
    (
        "typo_with_did_you_mean",
        BASE + "stages:\n  - {depth: 1, width: 16, strides: 2}\n",
        ["t.yaml:4:27: stages[0].strides: unknown key 'strides' (did you mean 'stride'?)"],
    ),
    (
        "enum_typo",
        BASE + "defaults: {block: bottlenek}\nstages: [{depth: 1, width: 16}]\n",
        [
            "t.yaml:3:19: defaults.block: must be one of 'basic', 'bottleneck', 'preact_basic', 'preact_bottleneck', "
            "'sk_basic', 'sk_bottleneck', 'regnet', 'preact_regnet', 'resnest', 'res2net' (got 'bottlenek') "
            "(did you mean 'bottleneck'?)"
        ],
    ),
    (
        "string_depth",
        BASE + "stages: [{depth: '2', width: 16}]\n",
        ["t.yaml:3:18: stages[0].depth: must be an integer (got a string '2')"],
    ),
    (
        "bool_is_not_int",
        BASE + "stages: [{depth: true, width: 16}]\n",
        ["t.yaml:3:18: stages[0].depth: must be an integer (got a boolean true)"],
    ),
    (
        "missing_stages",
        BASE,
        ["t.yaml:1:1: stages: is required"],
    ),
    (
        "missing_name",
        "stages: [{depth: 1, width: 8}]\n",
        ["t.yaml:1:1: name: is required"],
    ),
    (
        "missing_width",
        BASE + "stages:\n  - {depth: 1}\n",
        ["t.yaml:4:5: stages[0].width: is required"],
    ),
    (
        "empty_stages",
        BASE + "stages: []\n",
        ["t.yaml:3:9: stages: must have at least 1 item (got 0)"],
    ),
    (
        "many_problems_at_once",
        BASE + "stages:\n  - {depth: 0, width: -1}\n  - {depth: 1, width: 8, stride: 9}\nhead: {num_clases: 3}\n",
        [
            "t.yaml:4:13: stages[0].depth: must be >= 1 (got 0)",
            "t.yaml:4:23: stages[0].width: must be >= 1 (got -1)",
            "t.yaml:5:34: stages[1].stride: must be <= 4 (got 9)",
            "t.yaml:6:8: head.num_clases: unknown key 'num_clases' (did you mean 'num_classes'?)",
        ],
    ),
    (
        "stride_on_basic",
        BASE + "stages:\n  - {depth: 1, width: 16, stride_on: 1x1}\n",
        ["t.yaml:4:27: stages[0].stride_on: applies only to bottleneck blocks (stages[0] uses basic blocks)"],
    ),
    (
        "groups_on_basic_defaults",
        BASE + "defaults: {groups: 32}\nstages: [{depth: 1, width: 16}]\n",
        [
            "t.yaml:3:12: defaults.groups: applies only to bottleneck, resnest or res2net blocks "
            "(every stage uses basic blocks)"
        ],
    ),
    (
        "identity_pad_cannot_shrink",
        BASE + "defaults: {shortcut: identity_pad}\nstages:\n  - {depth: 1, width: 32}\n  - {depth: 1, width: 16}\n",
        [
            "t.yaml:3:22: defaults.shortcut: 'identity_pad' cannot shrink channels (32 → 16 in layer2.0); "
            "use 'projection'"
        ],
    ),
    (
        "duplicate_stage_names",
        BASE + "stages:\n  - {depth: 1, width: 16, name: body}\n  - {depth: 1, width: 16, name: body}\n",
        ["t.yaml:5:33: stages[1].name: duplicate stage name 'body' (also stages[0])"],
    ),
    (
        "zero_inner_width",
        BASE + "defaults: {block: bottleneck, width_per_group: 1}\nstages: [{depth: 1, width: 16}]\n",
        ["t.yaml:4:28: stages[0].width: inner width int(16 × 1 / 64) × 1 is 0; raise width or width_per_group"],
    ),
    (
        "mid_widths_on_conv7",
        "name: t\nstem: {kind: conv7, mid_widths: [8, 8]}\nstages: [{depth: 1, width: 8}]\n",
        ["t.yaml:2:21: stem.mid_widths: applies only to the deep stem (this stem is 'conv7')"],
    ),
    (
        "head_bad_value",
        BASE + "stages: [{depth: 1, width: 8}]\nhead: nothing\n",
        ["t.yaml:4:7: head: must be 'none' or a mapping (got 'nothing')"],
    ),
    (
        "dropout_out_of_range",
        BASE + "stages: [{depth: 1, width: 8}]\nhead: {dropout: 1.5}\n",
        ["t.yaml:4:17: head.dropout: must be < 1.0 (got 1.5)"],
    ),
    (
        "shortcut_norm_without_projection",
        BASE + "defaults: {shortcut: none, shortcut_norm: false}\nstages: [{depth: 1, width: 8}]\n",
        ["t.yaml:3:28: defaults.shortcut_norm: has no effect with shortcut 'none'"],
    ),
    (
        "duplicate_key",
        BASE + "stages: [{depth: 1, width: 8}]\nname: u\n",
        ["t.yaml:4:1: name: duplicate key 'name' (first defined at line 1)"],
    ),
    (
        "python_tag",
        BASE + "stages: !!python/object/apply:os.system ['echo hi']\n",
        ["t.yaml:3:9: stages: unsupported YAML tag '!!python/object/apply:os.system'"],
    ),
    (
        "yaml_syntax",
        BASE + "stages: [{depth: 1, width: 8}\n",
        ["t.yaml:3:9: invalid YAML: the '[' opened here is never closed; add ']'"],
    ),
    (
        "top_level_list",
        "- 1\n- 2\n",
        ["t.yaml:1:1: the top level must be a mapping, not a list"],
    ),
    (
        "empty_file",
        "# nothing here\n",
        ["t.yaml: the spec is empty: expected a mapping with at least 'stages'"],
    ),
]


@pytest.mark.parametrize(("name", "text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_invalid_spec_messages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str, expected: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("t.yaml").write_text(text)
    with pytest.raises(SpecError) as info:
        resnetdsl.build_model(Path("t.yaml"), device="meta")
    assert [i.format() for i in info.value.issues] == expected
    assert str(info.value) == "\n".join(expected)


def test_unknown_preset_suggests_the_closest() -> None:
    with pytest.raises(SpecError) as info:
        resnetdsl.load_spec("resnet5")
    assert str(info.value) == "unknown preset 'resnet5' (did you mean 'resnet50'?)"


def test_dict_specs_report_paths_without_marks() -> None:
    with pytest.raises(SpecError) as info:
        resnetdsl.load_spec({"name": "x", "stages": [{"depth": 1, "width": 0}]})
    assert str(info.value) == "stages[0].width: must be >= 1 (got 0)"
    issue = info.value.issues[0]
    assert issue.path == ("stages", 0, "width")
    assert issue.mark is None


def test_only_spec_error_escapes_for_hostile_input() -> None:
    for text in ["a: [", "!!binary aGk=", "[1, 2]", "x: &a [*a]", "\x00\x01", "name: [1, {2: 3}]\nstages: 1"]:
        with pytest.raises(SpecError):
            resnetdsl.build_model(text, device="meta")


def test_stage_named_like_a_module_attribute_is_refused() -> None:
    text = "name: t\nstem: {kind: conv3, width: 8}\nstages:\n  - {depth: 1, width: 8, name: forward}\n"
    with pytest.raises(SpecError) as info:
        resnetdsl.build_model(text, device="meta")
    assert str(info.value) == (
        "<string>:4:32: stages[0].name: stage name 'forward' is an attribute of torch.nn.Module or the built "
        "model; choose another"
    )
    with pytest.raises(SpecError, match=r"stages\[0\].name: must match"):
        resnetdsl.load_spec(text.replace("forward", "_private"))


def test_builder_guards_names_torch_may_add(monkeypatch: pytest.MonkeyPatch) -> None:
    from torch import nn

    monkeypatch.setattr(nn.Module, "future_method", lambda self: None, raising=False)
    text = "name: t\nstem: {kind: conv3, width: 8}\nstages:\n  - {depth: 1, width: 8, name: future_method}\n"
    with pytest.raises(SpecError, match=r"stage name 'future_method' is an attribute of torch\.nn\.Module"):
        resnetdsl.build_model(text, device="meta")


def test_shortcut_norm_in_defaults_is_fine_when_some_stage_projects() -> None:
    spec = (
        "name: t\nstem: {kind: conv3, width: 16}\ndefaults: {shortcut_norm: false}\nstages:\n"
        "  - {depth: 1, width: 16, shortcut: identity_pad}\n  - {depth: 1, width: 32, stride: 2}\n"
    )
    plan = resnetdsl.plan_of(spec)
    assert [op.name for op in plan.stages[1].blocks[0].shortcut_ops] == ["downsample.0"]  # no BN
    with pytest.raises(SpecError) as info:
        resnetdsl.plan_of(spec.replace("{depth: 1, width: 32, stride: 2}", "{depth: 1, width: 32, shortcut: none}"))
    assert str(info.value) == (
        "<string>:3:12: defaults.shortcut_norm: has no effect (no stage uses a projection shortcut)"
    )


def test_analysis_rejects_nonsense_input_sizes() -> None:
    from resnetdsl.analyze import analyze

    plan = resnetdsl.plan_of("cifar_resnet20")
    for kwargs in ({"in_channels": 0}, {"input_size": (32.5, 32)}, {"input_size": (0, 32)}):
        with pytest.raises(ValueError, match="must be a whole number >= 1"):
            analyze(plan, **kwargs)  # type: ignore[arg-type]


def test_spec_error_text_says_which_lines_are_warnings() -> None:
    from resnetdsl.errors import Issue, Mark

    error = Issue(("stages", 0, "depth"), "must be >= 1 (got 0)", Mark("t.yaml", 4, 13))
    warning = Issue(("stages", 1), "the map is one pixel high", Mark("t.yaml", 5, 5), severity="warning")
    assert str(SpecError([error])) == "t.yaml:4:13: stages[0].depth: must be >= 1 (got 0)"  # errors alone: as ever
    assert str(SpecError([warning, error])).splitlines() == [
        "t.yaml:4:13: error: stages[0].depth: must be >= 1 (got 0)",
        "t.yaml:5:5: warning: stages[1]: the map is one pixel high",
    ]
