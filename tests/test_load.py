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
    assert len(names) == len(list(SPECS.glob("*.yaml"))) >= 33
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
        SpecError, match=r"'resnet5O' is neither a preset nor a spec file \(did you mean the preset 'resnet50'\?\)"
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
    with pytest.raises(SpecError) as info:
        resnetdsl.load_spec(latin)
    [issue] = info.value.issues  # placed on the byte: line 1, the 10th character
    assert (issue.line, issue.col, issue.message) == (1, 10, "file is not valid UTF-8 (byte 9, 0xe9); save it as UTF-8")
    latin.write_bytes("\ufeffname: a\r\ndescription: \u00e9t\u00e9 ".encode() + b"\xe9\n")  # BOM, CRLF, é
    with pytest.raises(SpecError) as info:
        resnetdsl.load_spec(latin)
    assert [(i.line, i.col) for i in info.value.issues] == [(2, 18)]
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


# --- YAML 1.2 scalars, as docs/spec.md promises ----------------------------------------------------


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("1e-3", 1e-3),
        ("1e-09", 1e-09),  # what json.dumps writes
        ("1E3", 1000.0),
        ("-2.5e+2", -250.0),
        (".5", 0.5),
        ("1.", 1.0),
        ("0o10", 8),
        ("0x1F", 31),
        ("+7", 7),
        ("=", "="),
        ("<<", "<<"),
        ("yes", "yes"),
        ("off", "off"),
        ("2001-12-14", "2001-12-14"),
        ("True", True),
        ("NULL", None),
        ("~", None),
        ("'010'", "010"),
    ],
)
def test_plain_scalars_read_as_yaml_1_2(written: str, value: object) -> None:
    got = parse_yaml(f"name: x\nv: {written}\n").data["v"]
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("010", "ambiguous number '010': YAML 1.1 reads it as octal 8, YAML 1.2 as 10; write 10 (or 0o10 for octal)"),
        ("09", "ambiguous number '09': YAML 1.1 reads a leading 0 as octal, YAML 1.2 as 9; write 9"),
        ("1_0", "ambiguous number '1_0': YAML 1.1 reads it as 10, YAML 1.2 as a string; write 10"),
        ("1_0.5", "ambiguous number '1_0.5': YAML 1.1 reads it as 10.5, YAML 1.2 as a string; write 10.5"),
        (
            "1:00",
            "ambiguous number '1:00': YAML 1.1 reads it as 60 (base 60), YAML 1.2 as a string; write 60, or quote it "
            "for text",
        ),
        ("0b101", "ambiguous number '0b101': YAML 1.1 reads it as 5 (binary), YAML 1.2 as a string; write 5"),
    ],
)
def test_yaml_1_1_surprises_are_reported(written: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_yaml(f"name: x\nv: {written}\n", "f.yaml")
    assert str(info.value) == f"f.yaml:2:4: v: {message}"


def test_yaml_1_1_booleans_are_words_with_a_hint() -> None:
    with pytest.raises(SpecError) as info:
        resnetdsl.load_spec("name: x\nstem: {conv_bias: off}\nstages: [{depth: 1, width: 8}]\n")
    assert str(info.value) == (
        "<string>:2:19: stem.conv_bias: must be true or false (got a string 'off'); YAML 1.2 reads off as a word: "
        "write false"
    )


def test_exponent_floats_are_numbers_in_specs() -> None:
    spec = resnetdsl.load_spec("name: x\nstages: [{depth: 1, width: 8}]\nhead: {dropout: 1e-3}\n")
    assert spec.head != "none" and spec.head.dropout == 1e-3
    assert resnetdsl.load_spec("name: =\nstages: [{depth: 1, width: 8}]\n").name == "="


# --- YAML mistakes, said the same way by both loaders ----------------------------------------------

SYNTAX = [
    ("name: t\nhead:\n    dropout: 0.1\n  num_classes: 10\n", "4:3", "this line starts at column 3, which lines up "
     "with nothing above it (nearest: column 1 and 5); indent it like the keys it belongs with, using spaces"),
    ("name: t\nstages:\n  - depth: 1\n    width: 8\n   stride: 2\n", "5:4", "this line starts at column 4, which "
     "lines up with nothing above it (nearest: column 3 and 5); indent it like the keys it belongs with, using spaces"),
    ("name: t\n  stem: {kind: conv3}\n", "2:3", "this key is indented more than the key above it, which already "
     "has a value; line it up with its sibling keys"),
    ("a: 1\n---\nb: 2\n", "2:1", "a second document starts here ('---'); a spec file holds one spec: remove this "
     "line and what follows, or put the other spec in its own file"),
    ("a: 1\n...\nb: 2\n", "3:1", "more YAML after the end of the document ('...'); a spec file holds one spec: "
     "remove it"),
    ("name: t\nhead:\n\tdropout: 0.1\n", "3:1", "a tab here; YAML indents with spaces only: replace the tab with "
     "spaces"),
    ("name: @x\n", "1:7", "a plain value cannot start with '@'; put the value in quotes"),
    ('name: "t\nstages: [1]\n', "1:7", 'the " opened here is never closed; add the closing "'),
    ("name: 't\n", "1:7", "the ' opened here is never closed; add the closing '"),
    ("stages: [{depth: 1}\n", "1:9", "the '[' opened here is never closed; add ']'"),
    ("head: {pool: avg\n", "1:7", "the '{' opened here is never closed; add '}'"),
    ("stages: [{depth: 1}\nhead: {x: 1}\n", "2:1", "the '[' opened at line 1, column 9 is not closed before this; "
     "add ']' where it ends (or a ',' between its items)"),
    ("stages: [{depth: 1, width: 8]\n", "1:29", "']' here, but the '{' opened at line 1, column 10 is still open; "
     "close it with '}' first"),
    ("name:t\nstages: [1]\n", "2:7", "'name:t' on line 1 needs a space after ':' (name: t)"),
    ("a: b\nd:e\n", "2:1", "'d:e' needs a space after ':' (d: e)"),
    ("name: a: b\n", "1:8", "a second ': ' in this value; if the ':' belongs to the value, put the value in quotes"),
    ("stages:\n  -depth: 1\n  - x\n", "3:3", "'-depth' on line 2 needs a space after '-' to be a list item"),
    ("a:\n  - 1\n - 2\n", "3:2", "this list item lines up with no list above it; start every '- ' of one list at "
     "the same column"),
    ('name: "t\nstages: [1]\ndesc: "x"\n', "3:8", 'a "-quoted string ends just before this; probably a " opened '
     "earlier is not closed where it should be: check the quotes above"),
    ("a: *x\n", "1:4", "'*x' refers to no anchor '&x' defined before it"),
    ("a: &x 1\nb: &x 2\n", "2:4", "this anchor is defined a second time (first at line 1, column 4); give each "
     "anchor its own name"),
    ('a: "\\q"\n', "1:5", "unknown escape '\\q' in a double-quoted string; write '\\\\' for a backslash, or use "
     "single quotes"),
    ('a: "\\U00110000"\n', "1:5", "'\\U00110000' is not a Unicode character"),
    ("a: 1\nb: [\n", "3:1", "a value is missing here"),
    ("a: & 1\n", "1:5", "an anchor or alias needs a name ('&name', '*name')"),
    ('a: 1\nb: "\\ud800"\n', "2:5", "'\\ud800' is a lone surrogate, not a character; remove it"),
    ('a: 1\nb: "x\\ud83d\\ude80"\n', "2:6", "'\\ud83d\\ude80' is a UTF-16 surrogate pair (how JSON escapes "
     "U+1F680); write the character itself, or '\\U0001F680'"),
    ("a:\r    b: 1\r  c: 2\r", "3:3", "this line starts at column 3, which lines up with nothing above it (nearest: "
     "column 1 and 5); indent it like the keys it belongs with, using spaces"),
]  # fmt: skip


@pytest.mark.parametrize("pure_python", [False, True], ids=["libyaml", "python"])
@pytest.mark.parametrize(("text", "where", "message"), SYNTAX)
def test_yaml_mistakes_in_our_words(
    text: str, where: str, message: str, pure_python: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from resnetdsl.load import source

    if not pure_python and source._CLoader is None:
        pytest.skip("PyYAML without libyaml")
    monkeypatch.setattr(source, "_PURE_PYTHON", pure_python)
    with pytest.raises(SpecError) as info:
        parse_yaml(text, "f.yaml")
    assert str(info.value) == f"f.yaml:{where}: invalid YAML: {message}"


def test_a_scalar_where_a_mapping_belongs_says_what_was_meant() -> None:
    base = "name: t\nstages: [{depth: 1, width: 8}]\n"
    cases = {
        "stem: conv7": "stem: must be a mapping (got a string 'conv7'); write stem: {kind: conv7}",
        "head: avg": "head: must be 'none' or a mapping (got 'avg'); write head: {pool: avg}",
        "input: 224": "input: must be a mapping (got an integer 224); write input: {size: [224, 224]}",
        "defaults: bottleneck": "defaults: must be a mapping (got a string 'bottleneck'); write defaults: "
        "{block: bottleneck}",
        "init: 3": "init: must be a mapping (got an integer 3)",
    }
    for line, message in cases.items():
        with pytest.raises(SpecError) as info:
            resnetdsl.load_spec(base + line + "\n")
        assert [i.format() for i in info.value.issues] == [f"<string>:3:{line.index(':') + 3}: {message}"]
    with pytest.raises(SpecError) as info:
        resnetdsl.load_spec("name: t\nstages: [basic]\n")
    assert str(info.value) == (
        "<string>:2:10: stages[0]: must be a mapping (got a string 'basic'); a stage is a mapping: "
        "{depth: 2, width: 64}"
    )
    with pytest.raises(SpecError) as info:
        resnetdsl.load_spec("name:t\n")
    assert str(info.value) == (
        "<string>:1:1: the top level must be a mapping, not a string; 'name:t' needs a space after ':' (name: t)"
    )


# --- characters a spec may not contain ---------------------------------------------------------------


def test_lone_surrogates_in_python_text_are_spec_errors() -> None:
    with pytest.raises(SpecError) as info:
        resnetdsl.load_spec("name: \ud800\nstages: [{depth: 1, width: 8}]\n")
    assert str(info.value) == "<string>:1:7: a lone surrogate U+D800 is not allowed in a spec; remove it"
    with pytest.raises(SpecError) as info:
        parse_yaml(b"# ok\n" + "k: \ufffe\n".encode(), "f.yaml")
    assert str(info.value) == "f.yaml:2:4: a non-character U+FFFE is not allowed in a spec; remove it"


@pytest.mark.parametrize("pure_python", [False, True], ids=["libyaml", "python"])
@pytest.mark.parametrize(
    ("escape", "where", "message"),
    [
        ("\\x01", "v", "a control character U+0001"),
        ("\\a", "v", "a control character U+0007"),
        ("\\e", "v", "a control character U+001B"),
        ("\\x9b", "v", "a control character U+009B"),
        ("\\uFFFE", "v", "a non-character U+FFFE"),
        ("\\uFDD0", "v", "a non-character U+FDD0"),
        ("\\U0010FFFF", "v", "a non-character U+10FFFF"),
    ],
)
def test_escapes_that_write_forbidden_characters(
    escape: str, where: str, message: str, pure_python: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from resnetdsl.load import source

    monkeypatch.setattr(source, "_PURE_PYTHON", pure_python)
    for breaks in ("\n", "\r", "\r\n", "\x85", "\u2028"):
        text = f'a: 1{breaks}b: 2{breaks}{breaks}v: "ok {escape}"{breaks}'
        with pytest.raises(SpecError) as info:
            parse_yaml(text, "f.yaml")
        assert str(info.value) == f"f.yaml:4:8: {where}: {message} is not allowed in a spec; remove it", breaks
        with pytest.raises(SpecError) as info:  # in a key: the mark is the escape
            parse_yaml(text.replace("v:", f'"k{escape}":'), "f.yaml")
        assert str(info.value) == f"f.yaml:4:3: {message} is not allowed in a spec; remove it", breaks


@pytest.mark.parametrize("breaks", ["\n", "\r", "\r\n", "\x85", "\u2028", "\u2029"])
def test_raw_control_characters_and_marks_count_yaml_line_breaks(breaks: str) -> None:
    text = f"name: t{breaks}stages:{breaks}  - {{depth: 0, width: 8}}{breaks}"
    with pytest.raises(SpecError) as info:
        resnetdsl.load_spec(text)
    assert str(info.value) == "<string>:3:13: stages[0].depth: must be >= 1 (got 0)"
    with pytest.raises(SpecError) as info:
        resnetdsl.load_spec(text + f"# x{breaks}description: a\x08b{breaks}")
    assert str(info.value) == "<string>:5:15: a control character U+0008 is not allowed in a spec; remove it"


# --- files: whole-file marks, names, did-you-mean ------------------------------------------------------


def test_whole_file_problems_have_file_level_marks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("hetero.yaml").write_text("name: h\nstages: [{depth: 1, width: 8}]\n")
    Path("empty.yaml").write_text("# nothing\n")
    Path("sub").mkdir()
    cases = {
        "hetro.yaml": "hetro.yaml: no such file (did you mean 'hetero.yaml'?)",
        "./sub/../hetro.yaml": "hetro.yaml: no such file (did you mean 'hetero.yaml'?)",
        "resnet50.yml": "resnet50.yml: no such file (did you mean the preset 'resnet50'?)",
        "resnet5.yaml": "resnet5.yaml: no such file (did you mean the preset 'resnet50'?)",
        "sub/zzz.yaml": "sub/zzz.yaml: no such file",
        "empty.yaml": "empty.yaml: the spec is empty: expected a mapping with at least 'stages'",
        "sub": "sub: is a directory, not a spec file",
    }
    for given, message in cases.items():
        with pytest.raises(SpecError) as info:
            resnetdsl.load_spec(given)
        assert str(info.value) == message
        assert info.value.issues[0].line is None


def test_extends_names_its_base_plainly_and_suggests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "base.yaml").write_text("name: b\nstages: [{depth: 0, width: 8}]\n")
    child = tmp_path / "a" / "b" / "child.yaml"
    child.write_text("extends: ../../base.yaml\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError) as info:
        resnetdsl.load_spec("a/b/child.yaml")
    assert str(info.value) == "base.yaml:2:18: stages[0].depth: must be >= 1 (got 0)"
    with pytest.raises(SpecError) as info:
        resnetdsl.load_spec("./a/b/child.yaml")
    assert str(info.value) == "base.yaml:2:18: stages[0].depth: must be >= 1 (got 0)"
    with pytest.raises(SpecError) as info:
        resnetdsl.load_spec("name: x\nextends: base.yaml\n")  # from text: relative to the working folder, not absolute
    assert str(info.value) == "base.yaml:2:18: stages[0].depth: must be >= 1 (got 0)"
    for ref, hint in [
        ("../../bse.yaml", " (did you mean '../../base.yaml'?)"),
        ("resnet50.yaml", " (did you mean the preset 'resnet50'?)"),
        ("resnet5", " (did you mean the preset 'resnet50'?)"),
        ("chil.yaml", ""),  # the spec itself is no suggestion
    ]:
        child.write_text(f"extends: {ref}\n")
        with pytest.raises(SpecError) as info:
            resnetdsl.load_spec(child)
        assert info.value.issues[0].message == f"'{ref}' is neither a preset nor a spec file{hint}"


def test_worst_case_file_is_parsed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file just under the size cap with a YAML error at its very end: one parse, not two (it was parsed again
    by the pure-Python loader for its message, ~7 s; bench/validate.py times it)."""
    from resnetdsl.load import source

    line = "k: {depth: 1, width: 8}  # padding\n"
    text = ("a:\n" + "  - " + line * ((MAX_BYTES - 40) // (len(line) + 4)) + "z: [1\n").encode()
    assert len(text) <= MAX_BYTES
    (tmp_path / "big.yaml").write_bytes(text)
    parses: list[int] = []
    compose = source._compose
    monkeypatch.setattr(source, "_compose", lambda t: parses.append(len(t)) or compose(t))
    with pytest.raises(SpecError, match="never closed"):
        resnetdsl.load_spec(tmp_path / "big.yaml")
    assert parses == [len(text)]


def test_the_load_modules_import_one_another_in_one_direction() -> None:
    # every import counts, at the top, inside functions and under TYPE_CHECKING: no circle, so that each module
    # can be read knowing only the ones before it
    import ast
    import graphlib

    from tests.conftest import ROOT

    folder = ROOT / "resnetdsl" / "load"
    graph: dict[str, set[str]] = {}
    for path in folder.glob("*.py"):
        name = path.stem
        if name == "__init__":
            continue
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module.startswith("resnetdsl.load."):
                    deps.add(node.module.removeprefix("resnetdsl.load."))
                elif node.module == "resnetdsl.load":  # `from resnetdsl.load import syntax`, or the package itself
                    deps |= {a.name if (folder / f"{a.name}.py").exists() else "__init__" for a in node.names}
        graph[name] = deps
    assert "__init__" not in set().union(*graph.values()), "a load module imports the package's __init__"
    order = list(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError on a circle
    assert {"presets", "lines", "document", "mapping"} <= set(order)


def test_every_module_says_what_it_is_for() -> None:
    import ast

    from tests.conftest import ROOT

    for path in sorted((ROOT / "resnetdsl").rglob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        if path.name == "__main__.py":
            continue
        assert doc and len(doc.splitlines()[0]) > 20, f"{path.relative_to(ROOT)}: no first line saying what it is for"


def test_the_ascii_patterns_are_the_full_classes_among_ascii() -> None:
    # unsafe_char and printable search an ASCII text with the small classes, any other with the full ones
    from resnetdsl import text

    ascii_chars = [chr(c) for c in range(128)]
    for small, full in ((text._ASCII_FORBIDDEN, text._forbidden_re()), (text._ASCII_ESCAPE, text._escape_re())):
        assert [c for c in ascii_chars if small.match(c)] == [c for c in ascii_chars if full.match(c)]
    assert text.unsafe_char("a\x7fb") == (1, "a control character U+007F")
    assert text.printable("tab\there") == "tab\\x09here" and text.printable("é\u202e") == "é\\u202e"


MARKED = """\
name: marked  # comment
base: &base {norm: batch, act: relu}
defaults:
  <<: *base
  groups: 1
stages:
  - {depth: 2, width: 64}
  - depth: 1
    width: 128
    blocks: [{at: 0, stride: 2}]
"""


def test_marks_made_when_asked_for_are_those_of_the_full_tables() -> None:
    # the source map of a parse makes a mark only when asked for; its tables, once made, say the same everywhere
    from resnetdsl.load.document import SourceMap

    lazy = parse_yaml(MARKED, "m.yaml").source
    full = SourceMap(dict(lazy.values), dict(lazy.keys))
    fresh = parse_yaml(MARKED, "m.yaml").source  # its tables never made
    paths = [*full.values, *full.keys, ("stages", 0, "nowhere"), ("nowhere",)]
    assert len(full.values) == 20 and len(full.keys) == 16
    for path in paths:
        for key in (False, True):
            assert fresh.mark_for(path, key=key) == full.mark_for(path, key=key), (path, key)
    assert full.mark_for(("stages", 1, "blocks", 0, "stride")) == resnetdsl.errors.Mark("m.yaml", 10, 30)
    assert fresh.mark_for(("defaults", "norm"), key=True) == resnetdsl.errors.Mark("m.yaml", 2, 14)  # merged from base
    assert fresh == lazy == full
