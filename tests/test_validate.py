"""``resnetdsl validate``: every problem of every file, word for word; formats; paths; exit codes; hooks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from resnetdsl.cli import main
from resnetdsl.load import MAX_BYTES, parse_yaml
from resnetdsl.validate import (
    Report,
    UsageError,
    escape_data,
    escape_property,
    export_schema,
    validate_file,
    validate_paths,
)
from tests.conftest import FIXTURES, ROOT, SPECS, run_cli

INVALID = FIXTURES / "invalid"
FIXTURE_NAMES = sorted(p.stem for p in INVALID.glob("*.yaml"))
GOOD = "name: t\nstem: {kind: conv3, width: 16}\nstages:\n  - {depth: 1, width: 16}\n"


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``resnetdsl ARGS`` in this process; (exit code, stdout, stderr)."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# --- the fixtures --------------------------------------------------------------------------------


def read_expected(path: Path) -> tuple[dict[str, str], str]:
    head, _, body = path.read_text(encoding="utf-8").partition("\n\n")
    fields = dict(line.split(": ", 1) for line in head.splitlines())
    return fields, body


def jsonschema_verdict(path: Path) -> str:
    """``reject``, ``accept`` or ``unreadable``: what the committed JSON Schema makes of a fixture."""
    import jsonschema

    from resnetdsl import SpecError

    try:
        data = parse_yaml(path.read_bytes(), str(path)).data
    except SpecError:
        return "unreadable"
    return "reject" if list(jsonschema.Draft202012Validator(export_schema()).iter_errors(data)) else "accept"


def test_there_are_enough_fixtures() -> None:
    assert len(FIXTURE_NAMES) >= 40
    assert sorted(p.stem for p in INVALID.glob("*.expected")) == FIXTURE_NAMES


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_invalid_fixture(
    name: str, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    rel = f"tests/fixtures/invalid/{name}.yaml"
    code, out, err = cli(capsys, "validate", "--format", "text", rel)
    expected = INVALID / f"{name}.expected"
    if request.config.getoption("--accept"):
        verdict = read_expected(expected)[0]["jsonschema"] if expected.exists() else jsonschema_verdict(ROOT / rel)
        expected.write_text(f"exit: {code}\njsonschema: {verdict}\n\n{out}", encoding="utf-8")
        return
    assert expected.exists(), f"no {expected.name}; run pytest --accept to create it"
    fields, body = read_expected(expected)
    assert err == ""
    assert out == body
    assert code == int(fields["exit"])
    assert code == 1, "every fixture here is invalid"
    assert out.startswith(rel + ":"), "a fixture's first problem is in the fixture itself"


# --- hostile input, generated at run time --------------------------------------------------------


def test_hostile_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    Path("big.yaml").write_bytes(b"# padding\n" * (MAX_BYTES // 10 + 1))
    Path("binary.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    Path("latin1.yaml").write_bytes("name: caf\xe9\nstages: [{depth: 1, width: 8}]\n".encode("latin-1"))
    Path("deep.yaml").write_text("name: " + "[" * 200_000)
    Path("deep_closed.yaml").write_text("a: " + "[" * 3000 + "]" * 3000 + "\n")
    Path("merge_cycle.yaml").write_text("a: &a {<<: *a}\n")
    Path("long_int.yaml").write_text(GOOD + "head: {num_classes: " + "9" * 5000 + "}\n")
    Path("surrogate.yaml").write_text(GOOD + 'head: {pool: "\\ud800"}\n')
    Path("crlf_bom.yaml").write_bytes(b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode() + b"bogus: 1\r\n")
    code, out, err = cli(capsys, "validate", "--format", "text", ".")
    assert err == ""
    assert out.splitlines() == [
        "big.yaml: error: file is too large (1048580 bytes; the limit is 1048576)",
        "binary.yaml: error: file is binary, not YAML text",
        "crlf_bom.yaml:5:1: error: bogus: unknown key 'bogus'",
        "deep.yaml:1:1006: error: the YAML nests too deeply",
        "deep_closed.yaml:1:1003: error: the YAML nests too deeply",
        "latin1.yaml:1:10: error: file is not valid UTF-8 (byte 9, 0xe9); save it as UTF-8",
        "long_int.yaml:5:21: error: head.num_classes: cannot read '9999999999999999999999999999999999999999…' "
        "as '!!int'",
        "merge_cycle.yaml:1:1: error: a merge key '<<' refers to the mapping it is in",
        "surrogate.yaml:5:15: error: invalid YAML: '\\ud800' is a lone surrogate, not a character; remove it",
        "9 files checked, 9 errors in 9 files",
    ]
    assert code == 1


def test_a_directory_or_a_device_is_not_a_spec_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("dir.yaml").mkdir()
    result = validate_file("dir.yaml")
    assert [i.format(severity=True) for i in result.issues] == ["dir.yaml: error: is a directory, not a spec file"]
    if hasattr(os, "mkfifo"):
        os.mkfifo("fifo.yaml")  # reading it would block forever
        result = validate_file("fifo.yaml")
        assert [i.format(severity=True) for i in result.issues] == ["fifo.yaml: error: is not a regular file"]
    result = validate_file("missing.yaml")
    assert [i.format(severity=True) for i in result.issues] == ["missing.yaml: error: no such file"]


def test_a_glob_that_matches_a_directory_searches_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("odd.yaml").mkdir()
    Path("odd.yaml/inner.yaml").write_text(GOOD)
    report = validate_paths(["*.yaml"])
    assert [f.path for f in report.files] == [os.path.join("odd.yaml", "inner.yaml")]
    assert report.ok


# --- the bundled specs ---------------------------------------------------------------------------


def test_every_bundled_spec_is_valid() -> None:
    result = run_cli("validate", "--format", "text", "specs/")
    n = len(list(SPECS.glob("*.yaml")))
    assert result.stderr == ""
    assert result.stdout == f"{n} files checked, no errors\n"
    assert result.returncode == 0


def test_validation_never_imports_torch() -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "resnetdsl", "validate", "--format", "text", "specs/"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    modules = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")]
    assert "resnetdsl.analyze" in modules and "pydantic" in modules  # the trace is really there
    assert [m for m in modules if m == "torch" or m.startswith("torch.")] == []


# --- paths: files, directories, globs, usage errors ----------------------------------------------


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / ".hidden").mkdir()
    (tmp_path / "a" / "ok.yaml").write_text(GOOD)
    (tmp_path / "a" / "b" / "bad.yml").write_text(GOOD.replace("depth: 1", "depth: 0"))
    (tmp_path / "a" / "b" / "also_ok.yaml").write_text(GOOD)
    (tmp_path / "a" / ".hidden" / "skipped.yaml").write_text("not: [valid")
    (tmp_path / "a" / ".skipped.yaml").write_text("not: [valid")
    (tmp_path / "a" / "notes.txt").write_text("not a spec")
    return tmp_path


BAD_LINE = "a/b/bad.yml:4:13: error: stages[0].depth: must be >= 1 (got 0)"


def test_directories_are_searched_recursively(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "validate", "--format", "text", "a")
    assert (code, err) == (1, "")
    assert out.splitlines() == [BAD_LINE, "3 files checked, 1 error in 1 file"]
    report = validate_paths(["a/"])
    assert [f.path for f in report.files] == ["a/ok.yaml", "a/b/also_ok.yaml", "a/b/bad.yml"]
    assert [f.ok for f in report.files] == [True, True, False]
    assert (report.errors, len(report.invalid), report.ok) == (1, 1, False)


def test_globs_files_and_duplicates(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "validate", "--format", "text", "a/**/*.yaml")
    assert (code, out) == (0, "2 files checked, no errors\n")
    assert [f.path for f in validate_paths(["a/**/*.yaml"]).files] == ["a/b/also_ok.yaml", "a/ok.yaml"]
    # a file named twice, or by a file and a directory, is checked once, where it is first named
    report = validate_paths(["a/b/bad.yml", "a", "./a/ok.yaml"])
    assert [f.path for f in report.files] == ["a/b/bad.yml", "a/ok.yaml", "a/b/also_ok.yaml"]
    # a file named explicitly is checked whatever it is called, even hidden
    assert not validate_paths(["a/.skipped.yaml"]).ok


def test_usage_errors_exit_2(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tree / "empty").mkdir()
    code, out, err = cli(capsys, "validate", "--format", "text", "a", "nope.yaml", "a/*.json", "empty")
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "resnetdsl validate: error: no such file or directory: 'nope.yaml'",
        "resnetdsl validate: error: no files match 'a/*.json'",
        "resnetdsl validate: error: no *.yaml or *.yml files in directory 'empty'",
    ]
    with pytest.raises(UsageError):
        validate_paths(["nope.yaml"])
    code, out, err = cli(capsys, "validate", "--format", "github", "nope.yaml")
    assert (code, out) == (2, "::error title=resnetdsl validate::no such file or directory: 'nope.yaml'\n")
    assert err == "resnetdsl validate: error: no such file or directory: 'nope.yaml'\n"
    with pytest.raises(SystemExit) as info:
        main(["validate"])
    assert info.value.code == 2
    assert "the following arguments are required: paths" in capsys.readouterr().err


# --- formats -------------------------------------------------------------------------------------


def test_github_escaping() -> None:
    assert escape_data("50% done\r\nnext: a,b") == "50%25 done%0D%0Anext: a,b"
    assert escape_property("dir,1/a:b%.yaml") == "dir%2C1/a%3Ab%25.yaml"
    assert escape_property("x\ny") == "x%0Ay"


def test_github_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a,b:c.yaml").write_text(GOOD + '"100%\\nsure": 1\n')
    Path("ok.yaml").write_text(GOOD)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code, out, err = cli(capsys, "validate", "a,b:c.yaml", "ok.yaml")  # chosen by GITHUB_ACTIONS
    assert (code, err) == (1, "")
    assert out.split("\n") == [
        "::error file=a%2Cb%3Ac.yaml,line=5,col=1::100%25\\x0asure: unknown key '100%25\\x0asure'",
        "2 files checked, 1 error in 1 file",
        "",
    ]
    code, out, _ = cli(capsys, "validate", "--format", "text", "a,b:c.yaml")
    assert (
        out == "a,b:c.yaml:5:1: error: 100%\\x0asure: unknown key '100%\\x0asure'\n1 file checked, 1 error in 1 file\n"
    )
    monkeypatch.setenv("GITHUB_ACTIONS", "false")
    code, out, _ = cli(capsys, "validate", "ok.yaml")
    assert (code, out) == (0, "1 file checked, no errors\n")


def test_json_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bad.yaml").write_text(GOOD.replace("depth: 1, width: 16}", "depth: 1, width: 0, stride: 9}"))
    Path("ok.yaml").write_text(GOOD)
    code, out, err = cli(capsys, "validate", "--format", "json", "bad.yaml", "ok.yaml")
    assert (code, err) == (1, "")
    assert json.loads(out) == {
        "files": [
            {
                "file": "bad.yaml",
                "valid": False,
                "issues": [
                    {
                        "file": "bad.yaml",
                        "line": 4,
                        "col": 23,
                        "severity": "error",
                        "path": "stages[0].width",
                        "message": "must be >= 1 (got 0)",
                    },
                    {
                        "file": "bad.yaml",
                        "line": 4,
                        "col": 34,
                        "severity": "error",
                        "path": "stages[0].stride",
                        "message": "must be <= 4 (got 9)",
                    },
                ],
            },
            {"file": "ok.yaml", "valid": True, "issues": []},
        ],
        "summary": {"files": 2, "invalid_files": 1, "errors": 2, "valid": False},
    }


def test_report_summary_words() -> None:
    from resnetdsl.errors import Issue
    from resnetdsl.validate import FileResult

    one = FileResult("a.yaml", (Issue((), "x"),))
    two = FileResult("b.yaml", (Issue((), "x"), Issue((), "y")))
    fine = FileResult("c.yaml", ())
    assert Report((fine,)).summary() == "1 file checked, no errors"
    assert Report((one, fine)).summary() == "2 files checked, 1 error in 1 file"
    assert Report((one, two, fine)).summary() == "3 files checked, 3 errors in 2 files"


# --- schema command ------------------------------------------------------------------------------


def test_schema_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    committed = (ROOT / "schemas" / "resnet-spec.schema.json").read_text(encoding="utf-8")
    code, out, _ = cli(capsys, "schema")
    assert (code, out) == (0, committed)
    target = tmp_path / "s.json"
    target.write_text("old")
    code, out, err = cli(capsys, "schema", "-o", str(target))
    assert (code, out) == (0, "")
    assert err == f"wrote {target}\n"
    assert target.read_text(encoding="utf-8") == committed
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]  # no temporary file left behind


# --- pre-commit hook and the CI docs -------------------------------------------------------------


def hook_command(entry: str) -> list[str]:
    """The hook's ``entry`` as pre-commit runs it: the installed ``resnetdsl`` script, else ``python -m``."""
    words = entry.split()
    script = Path(sys.executable).parent / words[0]
    if script.exists():
        return [str(script), *words[1:]]
    return [sys.executable, "-m", "resnetdsl", *words[1:]]


def test_pre_commit_hook(tmp_path: Path) -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    (hook,) = (h for h in hooks if h["id"] == "resnetdsl-validate")
    assert (hook["entry"], hook["language"]) == ("resnetdsl validate", "python")
    files = re.compile(hook["files"])
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "good.yaml").write_text(GOOD)
    (tmp_path / "specs" / "bad.yml").write_text(GOOD + "head: {num_classes: 0}\n")
    (tmp_path / "README.md").write_text("# not a spec\n")
    (tmp_path / "data.json").write_text("{}\n")
    staged = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    chosen = [f for f in staged if files.search(f)]
    assert chosen == ["specs/bad.yml", "specs/good.yaml"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("GITHUB_ACTIONS", None)
    run = subprocess.run(
        [*hook_command(hook["entry"]), *chosen], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120
    )
    assert (run.returncode, run.stderr) == (1, "")
    assert run.stdout.splitlines() == [
        "specs/bad.yml:5:21: error: head.num_classes: must be >= 1 (got 0)",
        "2 files checked, 1 error in 1 file",
    ]
    run = subprocess.run(
        [*hook_command(hook["entry"]), "specs/good.yaml"], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert (run.returncode, run.stdout) == (0, "1 file checked, no errors\n")


def fenced_blocks(markdown: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", markdown, flags=re.S | re.M)


def test_ci_docs_are_real() -> None:
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    blocks = [yaml.safe_load(b) for b in fenced_blocks(text, "yaml")]
    workflows = [b for b in blocks if isinstance(b, dict) and "jobs" in b]
    assert len(workflows) == 1
    steps = [s for job in workflows[0]["jobs"].values() for s in job["steps"]]
    assert any("resnetdsl validate" in s.get("run", "") for s in steps)
    configs = [b for b in blocks if isinstance(b, dict) and "repos" in b]
    assert len(configs) == 1
    hook_ids = {h["id"] for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))}
    assert {h["id"] for repo in configs[0]["repos"] for h in repo["hooks"]} <= hook_ids


def test_no_machine_paths_in_outputs(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, out, _ = cli(capsys, "validate", "--format", "json", "tests/fixtures/invalid/", "specs/")
    assert code == 1
    assert str(ROOT) not in out


def test_fixtures_hold_no_absolute_paths() -> None:
    for p in INVALID.iterdir():
        assert str(ROOT) not in p.read_text(encoding="utf-8"), p.name


@pytest.mark.parametrize(
    ("size", "code", "expected"),
    [
        (
            "[1, 1]",
            1,
            [
                "in.yaml:2:15: error: input.size: the 3×1×1 input is already 1×1, so the 3×3 convs after it "
                "(first: conv1) see zero padding around the centre tap only",
                "1 file checked, 1 error in 1 file",
            ],
        ),
        (
            "[1, 32]",
            0,
            [
                "in.yaml:2:15: warning: input.size: the 3×1×32 input is already 1×32, so the 3×3 convs after it "
                "(first: conv1) see zero padding above and below",
                "1 file checked, no errors, 1 warning",
            ],
        ),
    ],
    ids=["1x1-is-an-error", "one-pixel-high-warns"],
)
def test_small_inputs_error_or_warn(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    size: str,
    code: int,
    expected: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("in.yaml").write_text(GOOD.replace("stem:", f"input: {{size: {size}}}\nstem:"))
    got, out, _ = cli(capsys, "validate", "--format", "text", "in.yaml")
    report = validate_paths(["in.yaml"])
    assert got == code and report.ok == (code == 0) and report.warnings == (1 - code)
    assert out.splitlines() == expected
