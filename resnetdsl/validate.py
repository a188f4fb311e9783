"""Check spec files for CI and editors: every problem of every file, with ``file:line:col``.

A file's problems are its YAML problems; else its schema problems (types, ranges, unknown keys); else its
semantic problems (from :func:`~resnetdsl.lower.lower` and the analyzer's shape checks), all reported together.
Nothing here imports torch.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from resnetdsl.errors import Issue, Mark
from resnetdsl.records import record
from resnetdsl.text import printable

Format = Literal["text", "json", "github"]

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
SPEC_SUFFIXES = (".yaml", ".yml")
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class UsageError(Exception):
    """The command line names nothing to check (a missing path, a glob or directory without specs)."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@record
class FileResult:
    """The outcome of checking one file.

    Attributes:
        path: The file, written as it was given or found (never made absolute).
        issues: Every problem found, in source order.
    """

    path: str
    issues: tuple[Issue, ...]

    @property
    def errors(self) -> int:
        return sum(1 for i in self.issues if i.severity == "error")

    @property
    def ok(self) -> bool:
        return self.errors == 0


@record
class Report:
    """The outcome of checking some files."""

    files: tuple[FileResult, ...]

    @property
    def errors(self) -> int:
        """Number of errors in all files."""
        return sum(f.errors for f in self.files)

    @property
    def invalid(self) -> tuple[FileResult, ...]:
        """The files with at least one error."""
        return tuple(f for f in self.files if not f.ok)

    @property
    def ok(self) -> bool:
        return not self.invalid

    @property
    def warnings(self) -> int:
        """Number of warnings in all files (they do not make a file invalid)."""
        return sum(len(f.issues) - f.errors for f in self.files)

    def summary(self) -> str:
        """``2 files checked, 3 errors in 1 file`` (or ``…, no errors``), then ``, 1 warning`` if any."""
        out = _count(len(self.files), "file") + " checked, "
        if self.ok:
            out += "no errors"
        else:
            out += f"{_count(self.errors, 'error')} in {_count(len(self.invalid), 'file')}"
        return out + (f", {_count(self.warnings, 'warning')}" if self.warnings else "")


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# --- which files --------------------------------------------------------------------------------


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Specs named by ``paths``: files as given, directories searched recursively for ``*.yaml``/``*.yml``
    (skipping names that start with a dot), globs (``specs/**/*.yaml``) expanded; YAML text and preset names
    as they are (as every command takes them). Each once, in order.

    Raises:
        UsageError: a path that does not exist, or a glob or directory that yields no file.
    """
    from resnetdsl.load.presets import nearby_hint

    found: list[str] = []
    problems: list[str] = []
    for arg in paths:
        given = os.fspath(arg)
        if os.path.isdir(given):
            files = _search(given)
            if not files:
                problems.append(f"no *.yaml or *.yml files in directory '{given}'")
        elif os.path.lexists(given):
            files = [given]
        elif _is_spec_text(given):
            files = [given]  # YAML text or a preset name, checked as the other commands take it
        elif glob.has_magic(given):
            files = []
            for match in sorted(glob.glob(given, recursive=True)):
                files += _search(match) if os.path.isdir(match) else [match]
            if not files:
                problems.append(f"no files match '{given}'")
        else:
            problems.append(f"no such file or directory: '{given}'{nearby_hint(given)}")
            files = []
        found += files
    if problems:
        raise UsageError(problems)
    seen: set[str] = set()
    unique: list[str] = []
    for f in found:
        key = os.path.normcase(os.path.normpath(f))
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def _is_spec_text(arg: str) -> bool:
    """``arg`` is YAML text or a bundled preset's name rather than a path that does not exist."""
    from resnetdsl.load import preset_names

    return "\n" in arg or ("{" in arg and ":" in arg) or arg in preset_names()


def _search(top: str) -> list[str]:
    out: list[str] = []
    for root, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out += [os.path.join(root, f) for f in sorted(files) if f.endswith(SPEC_SUFFIXES) and not f.startswith(".")]
    return out


# --- checking ------------------------------------------------------------------------------------


def validate_file(path: str | os.PathLike[str], overrides: Any = None) -> FileResult:
    """Check one spec (a file, or YAML text or a preset name that names no file), with ``overrides`` set
    (``--set``); never raises for anything in the spec."""
    from pathlib import Path

    from resnetdsl.check import check_with_issues

    given = os.fspath(path)
    text = not os.path.lexists(given) and _is_spec_text(given)
    shown = ("<string>" if "\n" in given or ":" in given else given) if text else os.path.normpath(given)
    try:
        _, issues = check_with_issues(given if text else Path(given), overrides=overrides)
    except Exception as exc:  # a bug in resnetdsl: report it against the spec, keep checking the others
        if os.environ.get("RESNETDSL_DEBUG"):
            raise
        issues = [Issue((), f"internal error: {type(exc).__name__}: {exc}", Mark(shown))]
    return FileResult(shown, tuple(issues))


def validate_paths(
    paths: Iterable[str | os.PathLike[str]], overrides: Any = None, *, show_progress: bool = False
) -> Report:
    """Check every spec file that ``paths`` names (see :func:`expand_paths`), with ``overrides`` applied to each;
    with ``show_progress``, a progress line on stderr while it works, when stderr is a terminal
    (:mod:`resnetdsl.progress`).

    Raises:
        UsageError: a path names nothing to check.
    """
    from resnetdsl.progress import progress

    files = expand_paths(paths)
    shown = progress(files, "validating") if show_progress else files
    return Report(tuple(validate_file(f, overrides) for f in shown))


# --- output --------------------------------------------------------------------------------------


def format_text(report: Report) -> str:
    """One ``file:line:col: error: path: message`` line per problem, then the summary line."""
    lines = [i.format(severity=True) for f in report.files for i in f.issues]
    return "\n".join([*lines, report.summary()]) + "\n"


def format_json(report: Report) -> str:
    """One JSON document: ``{"files": [{"file", "valid", "issues": [...]}], "summary": {...}}``."""
    doc: dict[str, Any] = {
        "files": [
            {
                "file": f.path,
                "valid": f.ok,
                "issues": [i.to_dict() for i in f.issues],
            }
            for f in report.files
        ],
        "summary": {
            "files": len(report.files),
            "invalid_files": len(report.invalid),
            "errors": report.errors,
            "valid": report.ok,
        },
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def escape_data(text: str) -> str:
    """Escape a GitHub Actions workflow-command message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a GitHub Actions workflow-command property value (``file=…``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_github(report: Report) -> str:
    """One ``::error file=…,line=…,col=…::path: message`` annotation per problem, then the summary line."""
    lines: list[str] = []
    for f in report.files:
        for i in f.issues:
            props = [f"file={escape_property(i.file or f.path)}"]
            if i.line is not None:
                props += [f"line={i.line}", f"col={i.col}"]
            text = printable(f"{i.dotted}: {i.message}" if i.path else i.message)
            lines.append(f"::{i.severity} {','.join(props)}::{escape_data(text)}")
    return "\n".join([*lines, report.summary()]) + "\n"


FORMATTERS = {"text": format_text, "json": format_json, "github": format_github}


def write_escaped(stream: Any, text: str) -> None:
    """``text`` to ``stream``, with what its encoding cannot write as a backslash escape."""
    # A lone surrogate (`"\ud800"` in YAML) must not turn into a UnicodeEncodeError halfway through the output.
    encoding = getattr(stream, "encoding", None) or "utf-8"
    stream.write(text.encode(encoding, "backslashreplace").decode(encoding))
    stream.flush()


def default_format() -> Format:
    """``github`` under GitHub Actions, else ``text``."""
    return "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"


# --- JSON Schema ---------------------------------------------------------------------------------


def export_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the spec language, for editors and other validators.

    It is :meth:`Spec.model_json_schema` with the ``$schema`` dialect first, no ``null`` values (an empty
    value is an error; leaving the key out inherits), no ``null`` or whole-object defaults, and
    ``name``/``stages`` required only in a spec without ``extends`` (one that extends another gets them from its base),
    and ``stages`` not at all beside ``regnet`` (which generates them).
    """
    from resnetdsl.spec import SCHEMA_ID, Spec

    raw = Spec.model_json_schema()
    body = _clean(raw)
    assert isinstance(body, dict)
    required = body.pop("required", [])
    body.pop("$id", None)
    defs = body.pop("$defs", {})
    _stage_changes(body["properties"]["stages"], defs)
    out: dict[str, Any] = {"$schema": SCHEMA_DIALECT, "$id": SCHEMA_ID, **body}
    out["if"] = {"required": ["extends"]}
    out["then"] = {}
    plain = {"required": required, "properties": {"stages": {"type": "array"}}}
    # RegNet (issue 19): the regnet: key generates the stages, and cannot be given with them
    generated = {"required": [r for r in required if r != "stages"], "not": {"required": ["stages"]}}
    out["else"] = {"if": {"required": ["regnet"]}, "then": generated, "else": plain}
    out["$defs"] = defs
    return out


INDEX_PATTERN = r"^(0|[1-9][0-9]{0,5})$"
"""A key of the index form of ``stages`` (the loader's rule for merging onto a base's list)."""


def _stage_changes(stages: dict[str, Any], defs: dict[str, Any]) -> None:
    """Let ``stages`` also be the index form a spec with ``extends`` may use, ``stages: {2: {depth: 1}}``: a
    mapping of the base's stage indices to the settings that change (each keyword of JSON Schema applies to its
    own type only, so the list form keeps its own messages); without ``extends`` only the list is allowed."""
    stage = defs["Stage"]
    defs["StageChange"] = {
        **{k: v for k, v in stage.items() if k != "required"},
        "title": "StageChange",
        "description": "Settings that change in one stage of the base (``extends``), by its index; the index just "
        "past the end appends a stage, which then needs its depth and width.",
    }
    stages["type"] = ["array", "object"]
    stages["description"] += (
        " With ``extends``, also a mapping of the base's stage indices to what changes: ``{2: {depth: 23}}``."
    )
    stages["propertyNames"] = {"pattern": INDEX_PATTERN}
    stages["additionalProperties"] = {"$ref": "#/$defs/StageChange"}
    stages["minProperties"] = 1


def _clean(node: Any) -> Any:
    if isinstance(node, list):
        return [_clean(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _clean(v) for k, v in node.items()}
    if "default" in out and (out["default"] is None or isinstance(out["default"], dict)):
        del out["default"]
    if isinstance(out.get("anyOf"), list):  # an explicit null is an error ("is empty"): leave it out
        branches = [b for b in out["anyOf"] if b != {"type": "null"}]
        if len(branches) == 1:
            del out["anyOf"]
            out = {**branches[0], **out}
        else:
            out["anyOf"] = branches
    return out


def schema_text() -> str:
    """The schema as the committed ``schemas/resnet-spec.schema.json`` holds it (made once for the installed
    models and pydantic, then read from :mod:`resnetdsl.schema_cache`)."""
    from resnetdsl import schema_cache

    cached = schema_cache.load("json", schema_cache.JSON_SOURCES)
    if isinstance(cached, str):
        return cached
    text = json.dumps(export_schema(), indent=2, ensure_ascii=False) + "\n"
    schema_cache.store("json", text, schema_cache.JSON_SOURCES)
    return text
