"""Property tests over the forms a spec comes in (hypothesis): every form is checked alike, and ``show`` writes
what loads back.

1. ``show``'s text of a valid spec loads back to the identical plan, for names and descriptions full of what YAML
   reads as something else (``0o10``, ``1e-3``, ``yes``, ``~``), line breaks (NEL, LS, PS, CRLF), quotes and
   indicators; and showing that text again gives the same text.
2. A Python mapping, its YAML text and the :class:`~resnetdsl.spec.Spec` made from it give the same issues (path,
   message, severity): forbidden characters in values and keys, whole-number keys (``stages: {2: …}`` under
   ``extends``). The text is :func:`~resnetdsl.show.to_yaml`'s, which escapes a forbidden character; written raw
   into a file, the reader refuses the whole text at that character's line and column instead.

The valid specs come from ``tests/test_fuzz.py``'s generator; the hostile text is drawn here. Profiles as there
(``RESNETDSL_FUZZ=thorough``).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import assume, given, note
from hypothesis import strategies as st

import resnetdsl
from resnetdsl.check import check_with_issues
from resnetdsl.errors import Issue, SpecError
from resnetdsl.show import show, to_yaml
from resnetdsl.spec import Spec
from resnetdsl.text import unsafe_char
from tests.test_fuzz import checked_or_none, examples, valid_specs

TRICKY = [
    "0o10", "1e-3", "1E5", ".5", "0x1F", "+1", "-0", "0", "1.", "1_0", "1:04", "010", "0b101", "2001-12-14",
    "yes", "No", "on", "OFF", "y", "~", "null", "Null", "NULL", "true", "False", ".inf", "-.Inf", ".nan", "<<", "=",
    "-", "- x", "? x", ": x", "#x", "a #b", "a: b", "a:b", "&a", "*a", "!x", "!!str x", "%x", "@x", "`x", "'", '"',
    "\\", "\\N", "[", "]", "{", "}", ",", "|", ">", "---", "...", " lead", "trail ", "  ", "\t", "a\tb", "\n",
    "a\nb", "a\n", "a \nb", "\n\nx", "\r", "a\r\nb", "\x85", "x\x85y", "é\x85", "\u2028", "a\u2029b", "\ufeff",
    "\xa0", "é", "𝕣𝕖𝕤", "a" * 150 + " \x85 " + "b" * 40,
]  # fmt: skip
"""Strings that a YAML writer must quote or escape to get them back."""

CLEAN_CHARS = st.characters(codec="utf-8")  # no lone surrogates: those cannot be written as YAML text at all
FORBIDDEN = ["\x01", "\x07", "\x1b", "\x7f", "\x9b", "\ufffe", "\uffff", "\U0001fffe", "\ufdd0"]


def _allowed(text: str) -> bool:
    return unsafe_char(text) is None


hostile_text = st.one_of(
    st.sampled_from(TRICKY),
    st.lists(st.sampled_from(TRICKY), min_size=2, max_size=4).map("".join),
    st.text(CLEAN_CHARS, max_size=30),
).filter(_allowed)
"""Text a spec may hold, chosen to be hard to write as YAML."""

forbidden_text = st.one_of(
    hostile_text,
    st.tuples(hostile_text, st.sampled_from(FORBIDDEN), hostile_text).map("".join),
    st.text(CLEAN_CHARS, max_size=12),
)
"""Text a spec may hold, or that holds a character no spec may hold."""


# --- 1. show's text loads back to the identical plan ---------------------------------------------------------


@st.composite
def valid_with_text(draw: st.DrawFn) -> dict[str, Any]:
    spec = draw(valid_specs())
    spec["name"] = draw(hostile_text.filter(lambda s: 1 <= len(s) <= 200))
    if draw(st.booleans()):
        spec["description"] = draw(hostile_text)
    return spec


@examples(60)
@given(valid_with_text())
def test_show_loads_back_to_the_identical_plan(spec: dict[str, Any]) -> None:
    checked = checked_or_none(spec)
    assume(checked is not None)
    assert checked is not None
    text = show(spec)
    note(text)
    back = resnetdsl.check(text)
    assert back.plan == checked.plan
    assert (back.plan.name, back.plan.description) == (spec["name"], spec.get("description", ""))
    assert show(text) == text


@pytest.mark.parametrize("text", TRICKY)
def test_show_keeps_each_tricky_name_and_description(text: str) -> None:
    spec = {"name": text if text.strip() else f"x{text}", "description": text, "extends": "cifar_resnet20"}
    shown = show(spec)
    plan = resnetdsl.plan_of(shown)
    assert (plan.name, plan.description) == (spec["name"], text)


# --- 2. a mapping, its text and its Spec: the same issues ----------------------------------------------------


def _issues(source: Any) -> list[tuple[str, str, str]]:
    _, issues = check_with_issues(source)
    return sorted((i.dotted, i.message, i.severity) for i in issues)


@st.composite
def mapping_with_text(draw: st.DrawFn) -> dict[str, Any]:
    """A valid spec whose strings (values, and sometimes an unknown key) may hold forbidden characters."""
    spec = draw(valid_specs())
    spec["name"] = draw(forbidden_text.filter(lambda s: 1 <= len(s) <= 200))
    if draw(st.booleans()):
        spec["description"] = draw(forbidden_text)
    if draw(st.integers(0, 3)) == 0:
        spec["stem"][draw(forbidden_text.filter(bool))] = 1
    return spec


@examples(80)
@given(mapping_with_text())
def test_a_mapping_and_its_text_give_the_same_issues(spec: dict[str, Any]) -> None:
    text = to_yaml(copy.deepcopy(spec))
    note(text)
    from_mapping, from_text = _issues(spec), _issues(text)
    assert from_mapping == from_text
    if not from_mapping:
        assert resnetdsl.plan_of(spec) == resnetdsl.plan_of(text)


@examples(40)
@given(valid_specs(), forbidden_text.filter(lambda s: 1 <= len(s) <= 200), forbidden_text)
def test_a_spec_made_in_python_is_checked_as_its_mapping(spec: dict[str, Any], name: str, description: str) -> None:
    spec = {**spec, "name": name, "description": description}
    try:
        made = Spec.model_validate(spec)  # pydantic alone: it knows nothing of forbidden characters
    except ValueError:
        assume(False)
        return
    assert _issues(made) == _issues(spec)
    if unsafe_char(name + description) is not None:
        with pytest.raises(SpecError):
            resnetdsl.load_spec(made)


@examples(30)
@given(
    st.sampled_from(["resnet18", "cifar_resnet20", "preact_resnet164"]),
    st.dictionaries(st.integers(0, 4), st.fixed_dictionaries({"depth": st.integers(0, 3)}), min_size=1, max_size=2),
)
def test_whole_number_keys_read_as_yaml_reads_them(base: str, changes: dict[int, dict[str, int]]) -> None:
    mapping = {"extends": base, "stages": changes}
    items = ", ".join(f"{k}: {{depth: {v['depth']}}}" for k, v in changes.items())
    text = f"extends: {base}\nstages: {{{items}}}\n"
    assert _issues(mapping) == _issues(text)  # never a TypeError
    if not _issues(mapping):
        assert resnetdsl.plan_of(mapping) == resnetdsl.plan_of(text)


def test_the_cases_of_the_report() -> None:
    # a control character and a non-character from a mapping, as from text; int keys under extends load
    stages = [{"depth": 1, "width": 8}]
    for name, what in (("a\x01b", "a control character U+0001"), ("\ufffe", "a non-character U+FFFE")):
        message = f"{what} is not allowed in a spec; remove it"
        assert _issues({"name": name, "stages": stages}) == [("name", message, "error")]
        assert _issues(to_yaml({"name": name, "stages": stages})) == [("name", message, "error")]
    plan = resnetdsl.plan_of({"extends": "resnet18", "stages": {2: {"depth": 1}}})
    assert [s.depth for s in plan.stages] == [2, 2, 1, 2]
    with pytest.raises(SpecError) as info:
        resnetdsl.load_spec({"extends": "resnet18", True: 1})
    assert info.value.issues == [Issue((), "mapping keys must be strings, not a boolean (True)")]
