"""The documentation is checked against the code it describes.

- Every ```python block of README.md and docs/**/*.md runs (blocks of one file in order, in one namespace, in a
  temporary directory that sees the repository's specs/, docs/ and examples/). A block opts out only with a
  ``# doc-test: skip <reason>`` line; the reasons are listed by a test of their own.
- docs/cli.md names every command, option and choice of ``resnetdsl.cli.make_parser()``, and nothing else.
- docs/python.md has a section for every name in ``resnetdsl.__all__`` that names each of its parameters.
- docs/spec.md names every property path of the JSON Schema.

All of it is read when the tests run: a new command, option, public function or spec key is checked as soon as
it exists.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import resnetdsl
from resnetdsl.cli import make_parser

from .conftest import ROOT

DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
SKIP = re.compile(r"^\s*#\s*doc-test:\s*skip\b(.*)$", re.MULTILINE)


# --- python blocks -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    file: Path
    line: int  # of the opening fence, 1-based
    code: str

    @property
    def where(self) -> str:
        return f"{self.file.relative_to(ROOT)}:{self.line}"

    @property
    def skip_reason(self) -> str | None:
        m = SKIP.search(self.code)
        return None if m is None else m.group(1).strip(" -:—()")


def python_blocks(path: Path) -> list[Block]:
    """The ```python fenced blocks of a Markdown file (fences may be indented, as in lists)."""
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)```\s*python\s*$", lines[i])
        if m is None:
            i += 1
            continue
        indent, start, body = m.group(1), i + 1, []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        assert i < len(lines), f"{path.relative_to(ROOT)}:{start}: unclosed ```python block"
        blocks.append(Block(path, start, "\n".join(body) + "\n"))
        i += 1
    return blocks


ALL_BLOCKS = [b for doc in DOCS for b in python_blocks(doc)]
FILES_WITH_BLOCKS = sorted({b.file for b in ALL_BLOCKS})


@pytest.fixture
def doc_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch directory that looks like the repository root to a doc block (specs/, docs/, examples/ linked)."""
    for name in ("specs", "docs", "examples", "schemas"):
        if (ROOT / name).exists():
            os.symlink(ROOT / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return tmp_path


@pytest.mark.parametrize("doc", FILES_WITH_BLOCKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_run(doc: Path, doc_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, Any] = {"__name__": "__doc_test__"}
    ran = 0
    for block in python_blocks(doc):
        if block.skip_reason is not None:
            continue
        try:
            exec(compile(block.code, block.where, "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"the ```python block at {block.where} fails: {type(exc).__name__}: {exc}") from exc
        ran += 1
    assert ran, f"every block of {doc.relative_to(ROOT)} opts out"


def test_opted_out_blocks_give_a_reason(capsys: pytest.CaptureFixture[str]) -> None:
    skipped = [b for b in ALL_BLOCKS if b.skip_reason is not None]
    with capsys.disabled():
        print(f"\n{len(ALL_BLOCKS) - len(skipped)} doc blocks run, {len(skipped)} opted out")
        for b in skipped:
            print(f"  opted out: {b.where}: {b.skip_reason}")
    assert all(b.skip_reason for b in skipped), [b.where for b in skipped if not b.skip_reason]
    assert len(skipped) <= len(ALL_BLOCKS) // 4, "more than a quarter of the doc blocks do not run"


def test_block_extraction_sees_the_readme_block() -> None:
    readme = python_blocks(ROOT / "README.md")
    assert readme and "build_model" in readme[0].code
    assert len(ALL_BLOCKS) >= 6


# --- docs/cli.md against the parser ----------------------------------------------------------------------------


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _cli_sections() -> dict[str, str]:
    """``## `resnetdsl NAME` `` section of docs/cli.md → its text."""
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    parts = re.split(r"^## `resnetdsl ([\w-]+)`\s*$", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def _documented_options(section: str) -> set[str]:
    """Options in the first cell of the section's table rows (`` `-o`, `--output` ``)."""
    found: set[str] = set()
    for row in re.findall(r"^\|([^|\n]*)\|", section, flags=re.MULTILINE):
        found |= set(re.findall(r"`(--?[\w-]+)`", row))
    return found


def test_cli_md_documents_every_command_and_nothing_else() -> None:
    assert set(_cli_sections()) == set(_subcommands(make_parser()))


@pytest.mark.parametrize("command", sorted(_subcommands(make_parser())))
def test_cli_md_documents_every_option_of(command: str) -> None:
    parser = _subcommands(make_parser())[command]
    section = _cli_sections().get(command)
    assert section is not None, f"docs/cli.md has no section ## `resnetdsl {command}`"
    options: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        options |= set(action.option_strings)
        if not action.option_strings:  # a positional: its name in capitals
            name = (action.metavar or action.dest).upper()
            assert re.search(rf"`{re.escape(name)}(\.\.\.)?`", section) or name.rstrip("S") in section, (
                f"docs/cli.md does not name {command}'s argument {name}"
            )
        for choice in action.choices or ():
            assert re.search(rf"`{re.escape(str(choice))}`|\b{re.escape(str(choice))}\b", section), (
                f"docs/cli.md: {command} {'/'.join(action.option_strings)}: choice {choice!r} undocumented"
            )
        assert f"resnetdsl {command}" in section
    documented = _documented_options(section)
    assert options == documented, (
        f"resnetdsl {command}: in the parser only: {sorted(options - documented)}; "
        f"in docs/cli.md only: {sorted(documented - options)}"
    )


def test_cli_md_usage_lines_name_every_option() -> None:
    sections = _cli_sections()
    for command, parser in _subcommands(make_parser()).items():
        usage = re.search(rf"^`resnetdsl {command}[^`]*`$", sections[command], flags=re.MULTILINE)
        assert usage is not None, f"docs/cli.md: no usage line for {command}"
        for action in parser._actions:
            if action.option_strings and not isinstance(action, argparse._HelpAction):
                assert any(o in usage.group(0) for o in action.option_strings), (command, action.option_strings)


# --- docs/python.md against resnetdsl.__all__ ------------------------------------------------------------------


def _python_sections() -> dict[str, str]:
    text = (ROOT / "docs" / "python.md").read_text(encoding="utf-8")
    parts = re.split(r"^### `resnetdsl\.(\w+)`\s*$", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1].split("\n## ")[0] for i in range(1, len(parts), 2)}


@pytest.mark.parametrize("name", resnetdsl.__all__)
def test_python_md_documents(name: str) -> None:
    sections = _python_sections()
    assert name in sections, f"docs/python.md has no section ### `resnetdsl.{name}`"
    obj = getattr(resnetdsl, name)
    section = sections[name]
    if inspect.isfunction(obj):
        for param in inspect.signature(obj).parameters:
            assert f"`{param}`" in section or f"{param}=" in section, f"resnetdsl.{name}: parameter {param}"
        # every error its docstring promises
        doc = inspect.getdoc(obj) or ""
        raises = doc.split("Raises:")[1] if "Raises:" in doc else ""
        for error in re.findall(r"^\s{4}(\w+):", raises, flags=re.MULTILINE):
            assert error in section, f"resnetdsl.{name} raises {error}, which docs/python.md does not say"


def test_python_md_documents_nothing_that_is_gone() -> None:
    assert set(_python_sections()) <= set(resnetdsl.__all__)


# --- docs/spec.md against the JSON Schema ----------------------------------------------------------------------


def schema_paths(schema: dict[str, Any]) -> set[str]:
    """Every property path of the schema: ``stem.kind``, ``stages[i].blocks[j].at``, … (array items as [i], [j])."""
    defs = schema.get("$defs", {})
    out: set[str] = set()

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = defs[node["$ref"].split("/")[-1]]
        return node

    def walk(node: dict[str, Any], prefix: str, depth: int) -> None:
        node = resolve(node)
        for key in ("anyOf", "oneOf", "allOf"):
            for branch in node.get(key, []):
                walk(branch, prefix, depth)
        types = node.get("type")
        if "array" in (types if isinstance(types, list) else [types]) and isinstance(node.get("items"), dict):
            walk(node["items"], f"{prefix}[{'ijk'[depth]}]", depth + 1)
        for name, sub in node.get("properties", {}).items():
            path = f"{prefix}.{name}" if prefix else name
            out.add(path)
            walk(sub, path, depth)

    walk(schema, "", 0)
    return out


def spec_md_keys() -> set[str]:
    """The keys that docs/spec.md's tables name in their first column (`` `a.b`, `a.c` ``)."""
    text = (ROOT / "docs" / "spec.md").read_text(encoding="utf-8")
    keys: set[str] = set()
    for cell in re.findall(r"^\|([^|\n]*)\|", text, flags=re.MULTILINE):
        for token in re.findall(r"`([^`]+)`", cell):
            keys |= {t.strip() for t in token.split("/")}
    return keys


def documented(path: str, keys: set[str]) -> bool:
    """A path is documented by its own row, or by a leaf row under a documented wildcard (`defaults.*`)."""
    if path in keys:
        return True
    prefix, _, leaf = path.rpartition(".")
    return bool(prefix) and f"{prefix}.*" in keys and leaf in keys


def test_spec_md_names_every_schema_property() -> None:
    schema = json.loads((ROOT / "schemas" / "resnet-spec.schema.json").read_text(encoding="utf-8"))
    paths = schema_paths(schema)
    assert {"name", "stem.kind", "stages[i].depth", "defaults.block", "stages[i].blocks[j].at"} <= paths
    keys = spec_md_keys()
    containers = {p for p in paths if any(q.startswith((f"{p}.", f"{p}[")) for q in paths)}  # told by their keys
    missing = sorted(p for p in paths - containers if not documented(p, keys))
    assert not missing, f"docs/spec.md does not document: {missing}"


# --- the tutorial: generated files fresh, quoted numbers from the tool's own output -----------------------------

TUTORIAL = ROOT / "docs" / "tutorial"


def _make_images() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_images", TUTORIAL / "make_images.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tutorial_summaries_and_diagrams_are_fresh() -> None:
    make = _make_images()
    specs = make.specs()
    assert len(specs) >= 6
    for spec in specs:
        for path, text in make.outputs(spec).items():
            assert path.exists(), f"{path.relative_to(ROOT)} missing: run python docs/tutorial/make_images.py"
            assert path.read_text(encoding="utf-8") == text, (
                f"{path.relative_to(ROOT)} is stale: run python docs/tutorial/make_images.py"
            )
        assert spec.with_suffix(".svg").exists()
    shown = (ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8")
    assert shown == make.tutorial_md(), "docs/tutorial.md is stale: run python docs/tutorial/make_images.py"
    assert shown.count("<!-- step ") == len(specs), "every step shows its spec and its summary"


def test_tutorial_numbers_come_from_the_generated_summaries() -> None:
    text = (ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8")
    summaries = "\n".join(p.read_text(encoding="utf-8") for p in TUTORIAL.glob("*.summary.txt"))
    quoted = set(re.findall(r"(?<![\d,.])\d{1,3}(?:,\d{3})+(?![\d,])", text))
    assert {"36,864", "11,689,512", "11,692,520"} <= quoted
    missing = sorted(n for n in quoted if not re.search(rf"(?<![\d,]){re.escape(n)}(?![\d,])", summaries))
    assert not missing, f"docs/tutorial.md quotes numbers no generated summary shows: {missing}"
    for spec in re.findall(r"\((tutorial/[\w.]+)\)", text):
        assert (ROOT / "docs" / spec).exists(), spec


def test_tutorial_presets_agree() -> None:
    assert (
        resnetdsl.summarize(TUTORIAL / "04_tutorial_resnet18.yaml").params
        == resnetdsl.summarize("tutorial_resnet18").params
    )
    assert resnetdsl.summarize(TUTORIAL / "03_resnet18.yaml").params == resnetdsl.summarize("resnet18").params


def test_tutorial_training_table_is_the_runs() -> None:
    """The plain-vs-residual table quotes the last epoch of the run in docs/tutorial/plain_vs_residual.json."""
    curves = json.loads((TUTORIAL / "plain_vs_residual.json").read_text(encoding="utf-8"))
    text = (ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8")
    names = {"plain20": "plain-20", "resnet20": "ResNet-20", "plain56": "plain-56", "resnet56": "ResNet-56"}
    for key, hist in curves.items():
        row = f"| {names[key]} | {hist['train_loss'][-1]:.4f} | {100 * hist['train_acc'][-1]:.2f} % | "
        row += f"{100 * hist['test_acc'][-1]:.2f} % |"
        assert row in text, row
