"""The spec's schemas kept beside the byte-code (resnetdsl.schema_cache): a process that reads them checks every
spec exactly as one that builds them, and a file that does not match is never used."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from resnetdsl import schema_cache
from tests.conftest import ROOT

INVALID = ROOT / "tests" / "fixtures" / "invalid"
SCHEMA = (ROOT / "schemas" / "resnet-spec.schema.json").read_text(encoding="utf-8")


def _run(*args: str, cache: Path, write: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    if not write:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "resnetdsl", *args], capture_output=True, text=True, cwd=ROOT, env=env, check=False
    )


def _files(cache: Path) -> dict[str, Path]:
    return {p.name.split(".")[-2]: p for p in cache.rglob("spec.*.pickle")}


@pytest.fixture(scope="module")
def checked_without_cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    done = _run("validate", str(INVALID), "--format", "json", cache=tmp_path_factory.mktemp("none"), write=False)
    assert done.returncode == 1 and done.stdout.count('"severity": "error"') > 90
    return done.stdout


def test_a_process_reading_the_cache_checks_as_one_building_it(tmp_path: Path, checked_without_cache: str) -> None:
    built = _run("validate", str(INVALID), "--format", "json", cache=tmp_path)
    assert sorted(_files(tmp_path)) == ["core"]
    assert built.stdout == checked_without_cache
    stamp = _files(tmp_path)["core"].stat().st_mtime_ns
    read = _run("validate", str(INVALID), "--format", "json", cache=tmp_path)
    assert read.stdout == checked_without_cache and read.returncode == 1
    assert _files(tmp_path)["core"].stat().st_mtime_ns == stamp  # read, not written again
    for _ in range(2):  # builds the JSON Schema text, then reads it
        done = _run("schema", cache=tmp_path)
        assert done.returncode == 0 and done.stdout == SCHEMA
    assert sorted(_files(tmp_path)) == ["core", "json"]


def test_a_file_that_does_not_match_is_rebuilt(tmp_path: Path, checked_without_cache: str) -> None:
    _run("schema", cache=tmp_path)
    path = _files(tmp_path)["json"]
    key, text = pickle.loads(path.read_bytes())
    path.write_bytes(pickle.dumps(((*key[:-1], ("pydantic_core", "elsewhere", 0, 0)), "stale text")))
    assert _run("schema", cache=tmp_path).stdout == SCHEMA  # another key: rebuilt, and written again
    assert pickle.loads(path.read_bytes()) == (key, text)
    path.write_bytes(path.read_bytes()[:40])  # half a file
    assert _run("schema", cache=tmp_path).stdout == SCHEMA
    core = tmp_path / path.relative_to(tmp_path).with_name(path.name.replace(".json.", ".core."))
    core.write_bytes(b"not a pickle")
    assert _run("validate", str(INVALID), "--format", "json", cache=tmp_path).stdout == checked_without_cache


def test_nothing_is_written_where_python_writes_no_byte_code(tmp_path: Path) -> None:
    assert _run("schema", cache=tmp_path, write=False).stdout == SCHEMA
    assert _files(tmp_path) == {}


def _loaded(module: str) -> set[str]:
    probe = f"import sys, {module}; print(' '.join(m for m in sys.modules if m.startswith('resnetdsl.')))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    return {m.removeprefix("resnetdsl.").replace(".", "/") + ".py" for m in done.stdout.split()}


def test_the_key_names_every_source_of_the_models() -> None:
    # what the spec's modules import beyond the package's own light imports (check, render: no models)
    models = _loaded("resnetdsl.spec") - (_loaded("resnetdsl") - set(schema_cache.SPEC_SOURCES))
    assert models <= set(schema_cache.SPEC_SOURCES), sorted(models - set(schema_cache.SPEC_SOURCES))
    assert {"spec.py", "regnet.py", "vocab.py", "records.py"} <= models
    assert set(schema_cache.JSON_SOURCES) - set(schema_cache.SPEC_SOURCES) == {"validate.py"}


def test_store_and_load_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema_cache, "cache_file", lambda kind: str(tmp_path / f"{kind}.pickle"))
    monkeypatch.setattr(schema_cache, "_settled", set())
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    assert schema_cache.load("x") is None
    schema_cache.store("x", {"a": 1})
    assert schema_cache.load("x") == {"a": 1}
    assert list(tmp_path.iterdir()) == [tmp_path / "x.pickle"]  # no temporary file left behind
    schema_cache.store("x", {"a": 2})  # this process already wrote it
    assert schema_cache.load("x") == {"a": 1}
    assert schema_cache.load("x", sources=("spec.py",)) is None  # another key
