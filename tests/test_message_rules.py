"""The rules every checker message follows: one typo gives one error; the key's mark for "this key cannot be
here", the value's mark for "this value is wrong"; other libraries' words get a suggestion in ours."""

from __future__ import annotations

import pytest

from resnetdsl.check import check_with_issues
from resnetdsl.errors import Issue
from resnetdsl.load import parse_yaml

KEY_WORDS = ("unknown key", "applies only to", "has no effect", "cannot be set", "set either")
"""How a message says that its key cannot be where it is written: such a message is marked at the key."""

# each spec plants several mistakes of both kinds, in block and flow style, in every scope a setting lives in
SPECS = [
    """name: t
stem: {kind: conv7, mid_widths: [8, 8]}
defaults:
  block: basic
  groups: 2
  shortcut: none
  shortcut_norm: true
stages:
  - depth: 2
    width: 64
    width_per_group: 9
    eca_kernel: 5
  - {depth: 2, width: 128, stride_on: 1x1, se_ratio: 0.5, drop_path: 0.1}
  - {depth: 1, width: 32, shortcut: identity_pad, attention: eca, eca_kernel: 4}
""",
    """name: t
stem: {kind: conv7, widht: 3, pool: maxx}
defaults: {groups: 0, colour: red}
stages:
  - depth: 0
    width: 64
    strides: 2
head: {num_classes: 0}
""",
    """name: t
norm_eval: true
defaults: {norm: none, drop_path: 0.1, act_negative_slope: 0.2, norm_groups: 2, norm_group_channels: 4}
stages:
  - {depth: 1, width: 16, eca_kernel: 4, attention: eca, dropout: 0.1}
init: {zero_init_residual: true}
""",
    """name: t
layout: resnetv2
defaults: {block: preact_basic}
stages:
  - {depth: 1, width: 16, name: first, blocks: [{at: 5, width: 8}]}
output_stride: 8
frozen_stages: 9
""",
]


def _issues(text: str) -> list[Issue]:
    checked, issues = check_with_issues(text)
    assert checked is None
    return issues


@pytest.mark.parametrize("text", SPECS, ids=["stages", "norms", "layout", "schema"])
def test_key_marks_for_misplaced_keys_value_marks_for_wrong_values(text: str) -> None:
    source = parse_yaml(text).source
    issues = _issues(text)
    assert len(issues) >= 4
    kinds = set()
    for issue in issues:
        at_key = issue.message.startswith(KEY_WORDS)
        kinds.add(at_key)
        where = source.keys.get(issue.path) if at_key else source.values.get(issue.path)
        assert where is not None, issue.format()
        assert (issue.line, issue.col) == (where.line, where.col), (
            f"{issue.format()}: expected the {'key' if at_key else 'value'} at {where.line}:{where.col}"
        )
    assert kinds == {True, False}  # both rules are exercised by each spec


def test_a_typo_of_a_required_key_is_one_error() -> None:
    issues = _issues("name: t\nstages:\n  - widht: 64\n    depth: 2\n  - {depht: 2, width: 8}\n")
    assert [i.format() for i in issues] == [
        "<string>:3:5: stages[0].widht: unknown key 'widht' (did you mean 'width'?)",
        "<string>:5:6: stages[1].depht: unknown key 'depht' (did you mean 'depth'?)",
    ]


def test_a_missing_key_without_a_typo_is_still_required() -> None:
    issues = _issues("name: t\nstages:\n  - {depth: 2, colour: 64}\n")
    assert [i.message for i in issues] == ["is required", "unknown key 'colour'"]


def test_an_over_indented_key_is_marked_at_the_key() -> None:
    issues = _issues("name: t\nstem:\n  kind: conv7\n    width: 64\nstages: [{depth: 1, width: 8}]\n")
    assert [(i.line, i.col) for i in issues] == [(4, 5)]
    issues = _issues("name: t\nstages:\n  - depth: 1\n      width: 8\n")
    assert [(i.line, i.col) for i in issues] == [(4, 7)]


FOREIGN = [
    ("defaults", "cardinality: 32", "(timm's and mmcls' word; write groups: 32)"),
    ("defaults", "base_width: 4", "(timm's word; write width_per_group: 4)"),
    ("defaults", "avg_down: true", "(timm's and mmcls' word; write shortcut: avgpool_projection)"),
    ("defaults", "avg_down: false", "(timm's and mmcls' word; write shortcut: projection (the default))"),
    ("defaults", "norm_layer: group", "(torchvision's and timm's word; write norm: group)"),
    ("defaults", "drop_path_rate: 0.1", "(timm's word; write drop_path: 0.1)"),
    ("defaults", "zero_init_residual: true", "(it is set in init.zero_init_residual)"),
    ("stem", "stem_type: deep", "(timm's word; write stem: {kind: deep})"),
    ("stem", "stem_type: deep_tiered", "(timm's word; write stem: {kind: deep, mid_widths: [24, 32]})"),
    ("stem", "stem_width: 32", "(timm's word; write stem: {kind: deep, mid_widths: [32, 32]})"),
    ("stem", "deep_stem: true", "(mmcls' word; write stem: {kind: deep})"),
    ("stem", "width_per_group: 4", "(it is set in defaults.width_per_group or stages[i].width_per_group)"),
    ("head", "groups: 4", "(it is set in defaults.groups or stages[i].groups)"),
    ("", "zero_init_last: true", "(timm's word; write init: {zero_init_residual: true})"),
    ("", "replace_stride_with_dilation: [false, true, true]", "(torchvision's word; write output_stride: 8)"),
    ("", "replace_stride_with_dilation: [false, false, true]", "(torchvision's word; write output_stride: 16)"),
    ("", "num_classes: 10", "(it is set in head.num_classes)"),
    ("", "in_chans: 1", "(timm's word; write input: {channels: 1})"),
    ("", "depth: 50", "(mmcls' word; write extends: resnet50 (a preset), or stages with their depths)"),
    ("", "global_pool: max", "(timm's word; write head: {pool: avg} (or max))"),
    ("stage", "channels: 64", "(a stage's base width; write width: 64)"),
]


@pytest.mark.parametrize(("scope", "line", "hint"), FOREIGN, ids=[f[1].split(":")[0] + "@" + f[0] for f in FOREIGN])
def test_other_libraries_words_suggest_ours(scope: str, line: str, hint: str) -> None:
    stage = "{depth: 1, width: 16}" if scope != "stage" else "{depth: 1, width: 16, " + line + "}"
    text = f"name: t\nstages: [{stage}]\n"
    if scope in ("defaults", "stem", "head"):
        text += f"{scope}: {{{line}}}\n"
    elif scope == "":
        text += line + "\n"
    key = line.split(":")[0]
    [issue] = _issues(text)
    assert issue.message == f"unknown key '{key}' {hint}"


def test_a_real_typo_in_a_stage_still_gets_its_did_you_mean() -> None:
    [issue] = _issues("name: t\nstages: [{depth: 1, width: 16, strides: 2}]\n")
    assert issue.message == "unknown key 'strides' (did you mean 'stride'?)"
