"""The commands package: one module per command, and which of the project's modules each command imports.

The import sets below are pinned on purpose (a deterministic guard, not a timing): ``import resnetdsl.cli`` and
``resnetdsl --help`` import no command module; each torch-free command imports its own module (and the shared
options), never torch, never another command's module, and never graphviz (``render`` writes the DOT itself; the
graphviz package is for the ``graphviz.Digraph`` that :func:`resnetdsl.render` returns). When a change adds or
drops a module on one of these paths, the failure lists the difference: update the set here if that is meant.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from resnetdsl.cli import make_parser
from resnetdsl.commands import COMMANDS, command_module
from tests.conftest import ROOT

# --- what each command imports ------------------------------------------------------------------------------

PACKAGE = {"resnetdsl", "errors", "text", "check", "render", "records", "lazy"}
"""``import resnetdsl``: the package binds ``check`` and ``render`` (whose modules import nothing heavy) and loads
every other name on first use; neither pydantic nor YAML."""
CLI = PACKAGE | {"cli", "commands", "io", "schema_cache"}
"""``import resnetdsl.cli``: the package, the registry of commands and the output helpers (and where the records'
compiled methods are kept: the registry's first record reads them); no command."""
CHECKING = set(
    """
    spec plan analyze features receptive blocks vocab walk
    load load.compose load.document load.lines load.mapping load.messages load.presets load.source
    lower lower.common lower.make lower.network_rules lower.resolve lower.rules lower.sk_rules lower.regnet_rules
    lower.senet_rules ops.senet lower.aa_resnest_rules ops.antialias ops.split
    regnet regnet_key blocks_regnet blocks_base blocks_sk blocks_resnest field_docs schema_cache
    blocks_res2net lower.res2net_rules ops.res2net
    ops ops.act ops.attention ops.base ops.bit ops.conv ops.misc ops.norm ops.pool ops.shortcut ops.sk
    """.split()
)
"""What checking a spec adds: the schema, the loader, lowering to a plan and the analysis (what explains a
YAML error, ``load.syntax``, only when there is one)."""
RENDER = {
    *("render.branches", "render.dot", "render.engine", "render.graph", "render.labels"),
    *("render.legend", "render.style", "ops.branches"),
}
"""The drawing modules (and what multi-branch ops say about their branches): the ``render`` command only."""

RUNS: dict[str, tuple[list[str], set[str]]] = {
    # command: (its arguments, what it imports beyond CLI)
    "--help": (["--help"], set()),
    "validate": (
        ["validate", "resnet18"],
        {"commands.options", "commands.validate", "validate", "progress", *CHECKING},
    ),
    "summary": (
        ["summary", "resnet18"],
        {"commands.options", "commands.summary", "summary", "summary_rows", *CHECKING},
    ),
    "render": (["render", "resnet18", "--format", "dot"], {"commands.options", "commands.render", *CHECKING, *RENDER}),
    "show": (["show", "resnet18"], {"commands.options", "commands.show", "show", *CHECKING}),
    "diff": (
        ["diff", "resnet18", "resnet34"],
        {"commands.options", "commands.diff", "compare", "show", "state", "weights", "weights.fit", *CHECKING},
    ),
    "presets": (
        ["presets"],
        {"commands.presets", "preset_table", "load", "load.document", "load.messages", "load.presets"},
    ),
    "schema": (["schema"], {"commands.schema", "validate", "spec", "field_docs", "vocab", "regnet", "schema_cache"}),
}
"""With nothing cached (:mod:`resnetdsl.schema_cache`): each probe runs with an empty byte-code folder of its own."""

_PROBE = """
import contextlib, io, json, sys
argv = json.loads(sys.argv[1])
if argv is None:
    import resnetdsl.cli
    code = 0
else:
    from resnetdsl.cli import main
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
ours = sorted(m.removeprefix("resnetdsl.") for m in sys.modules if m == "resnetdsl" or m.startswith("resnetdsl."))
others = sorted(m for m in ("pydantic", "yaml", "importlib.metadata") if m in sys.modules)
docs = sys.modules.get("resnetdsl.field_docs")
print(json.dumps({
    "code": code, "ours": ours, "torch": "torch" in sys.modules, "graphviz": "graphviz" in sys.modules,
    "others": others, "parsed_docs": docs is not None and not docs._pending,
}))
"""


_PACKAGE_PROBE = """
import json, sys
import resnetdsl
ours = sorted(m.removeprefix("resnetdsl.") for m in sys.modules if m == "resnetdsl" or m.startswith("resnetdsl."))
others = sorted(m for m in ("pydantic", "yaml", "graphviz", "pygraphviz", "torch", "jsonschema") if m in sys.modules)
print(json.dumps({"ours": ours, "others": others}))
"""


def _imports(argv: list[str] | None, cache: Path | None = None) -> dict[str, object]:
    """What running ``argv`` in a fresh process imports; with byte-code (and the schema cache) in ``cache``, else
    in an empty folder of its own that it does not write to."""
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as empty:
        if cache is None:
            env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONPYCACHEPREFIX=empty)
        else:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(cache)
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, json.dumps(argv)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
            env=env,
        )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def _same(name: str, found: object, expected: set[str]) -> None:
    got = set(found)  # type: ignore[call-overload]
    assert got == expected, (
        f"{name}: imports {sorted(got - expected)} beyond the pinned set, and not {sorted(expected - got)}; "
        "if that is meant, update the sets in tests/test_commands.py"
    )


def test_importing_the_package_loads_no_pydantic_yaml_or_graphviz() -> None:
    done = subprocess.run([sys.executable, "-c", _PACKAGE_PROBE], capture_output=True, text=True, cwd=ROOT, check=True)
    found = json.loads(done.stdout)
    _same("import resnetdsl", found["ours"], PACKAGE)
    assert found["others"] == [], f"import resnetdsl imports {found['others']}"


def test_importing_the_cli_imports_no_command() -> None:
    found = _imports(None)
    _same("import resnetdsl.cli", found["ours"], CLI)
    assert not found["torch"] and not found["graphviz"]


@pytest.mark.parametrize("command", sorted(RUNS))
def test_each_torch_free_command_imports_its_own_module_only(command: str) -> None:
    argv, extra = RUNS[command]
    found = _imports(argv)
    assert found["code"] == 0
    _same(f"resnetdsl {' '.join(argv)}", found["ours"], CLI | extra)
    assert not found["torch"], f"resnetdsl {command} imports torch"
    assert not found["graphviz"], f"resnetdsl {command} imports graphviz"
    own = {m for m in extra if m.startswith("commands.")} - {"commands.options"}
    assert own == ({f"commands.{command}"} if command != "--help" else set())
    assert "importlib.metadata" not in found["others"], f"resnetdsl {command} looks for pydantic plugins"  # type: ignore[operator]


def test_a_command_after_the_first_takes_the_schemas_from_the_cache(tmp_path: Path) -> None:
    first = {argv[0]: _imports(argv, tmp_path) for argv in (["validate", "resnet18"], ["schema"])}
    assert first["validate"]["parsed_docs"] and first["schema"]["parsed_docs"]
    validate = _imports(["validate", "resnet18"], tmp_path)
    _same("resnetdsl validate resnet18 (cached)", validate["ours"], CLI | RUNS["validate"][1])
    assert validate["code"] == 0 and not validate["parsed_docs"]  # the validator's schema came from the cache
    assert "importlib.metadata" not in validate["others"]  # type: ignore[operator]
    schema = _imports(["schema"], tmp_path)
    _same("resnetdsl schema (cached)", schema["ours"], CLI | {"commands.schema", "validate", "schema_cache"})
    assert schema["code"] == 0 and schema["others"] == []  # the JSON Schema text came from the cache: no pydantic


# --- the registry and the modules -----------------------------------------------------------------------


def test_the_parser_lists_the_registry_in_order() -> None:
    sub = next(a for a in make_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == [c.name for c in COMMANDS]
    helps = {a.dest: a.help for a in sub._choices_actions}
    assert helps == {c.name: c.help for c in COMMANDS}


def test_a_parser_for_one_command_has_only_its_arguments() -> None:
    sub = next(a for a in make_parser(("summary",))._actions if isinstance(a, argparse._SubParsersAction))
    sizes = {name: len(p._actions) for name, p in sub.choices.items()}
    assert sizes["summary"] > 1 and {n for n, k in sizes.items() if k > 1} == {"summary"}  # the others: -h only


@pytest.mark.parametrize("command", COMMANDS, ids=[c.name for c in COMMANDS])
def test_a_command_module_is_arguments_and_a_handler(command: object) -> None:
    module = command_module(command)  # type: ignore[arg-type]
    assert callable(module.add_arguments) and callable(module.run)
    path = ROOT / "resnetdsl" / "commands" / f"{command.module}.py"  # type: ignore[attr-defined]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    doc = ast.get_docstring(tree) or ""
    assert doc.startswith(f"``resnetdsl {command.name}``: "), doc  # type: ignore[attr-defined]
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")}
    assert functions == {"add_arguments", "run"}


def test_library_modules_never_import_the_command_line() -> None:
    for path in sorted((ROOT / "resnetdsl").rglob("*.py")):
        rel = path.relative_to(ROOT / "resnetdsl").as_posix()
        if rel.startswith("commands/") or rel in ("cli.py", "__main__.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            bad = [n for n in names if n == "resnetdsl.cli" or n.startswith("resnetdsl.commands")]
            assert not bad, f"resnetdsl/{rel} imports {bad}"
            assert "cli_main" not in {getattr(node, "name", None)}, f"resnetdsl/{rel} defines cli_main"


_PLUGINS_PROBE = """
import json, sys
from resnetdsl.cli import main
code = main(["validate", "resnet18"])
loader = sys.modules["pydantic.plugin._loader"]
found = {"code": code, "plugins": list(loader.get_plugins()), "metadata": "importlib.metadata" in sys.modules}
found["real"] = hasattr(loader, "__file__")
found["group"] = loader.PYDANTIC_ENTRY_POINT_GROUP  # any other name: from pydantic's own module
print(json.dumps(found))
"""


@pytest.mark.parametrize("setting", [None, "", "__all__"])
def test_the_command_line_looks_for_no_pydantic_plugins_unless_told_how(setting: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    if setting is not None:
        env["PYDANTIC_DISABLE_PLUGINS"] = setting
    done = subprocess.run(
        [sys.executable, "-c", _PLUGINS_PROBE], capture_output=True, text=True, cwd=ROOT, check=True, env=env
    )
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["code"] == 0 and found["plugins"] == [] and found["group"] == "pydantic"
    # unset: the stub answered (no metadata read); set, to any value: pydantic's loader, as pydantic documents
    assert found["real"] == found["metadata"] == (setting is not None)
