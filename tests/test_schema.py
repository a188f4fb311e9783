"""The JSON Schema: in sync with the models, valid, accepts every preset, rejects the schema-level bad specs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

import resnetdsl
from resnetdsl.load import parse_yaml
from resnetdsl.validate import SCHEMA_DIALECT, export_schema, schema_text
from tests.conftest import FIXTURES, ROOT, SPECS

SCHEMA_FILE = ROOT / "schemas" / "resnet-spec.schema.json"
INVALID = FIXTURES / "invalid"
PRESETS = sorted(SPECS.glob("*.yaml"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(export_schema())


def errors(validator: jsonschema.Draft202012Validator, data: Any) -> list[str]:
    return sorted(f"{e.json_path}: {e.message}" for e in validator.iter_errors(data))


def test_committed_schema_is_in_sync() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        "schemas/resnet-spec.schema.json is stale; run: resnetdsl schema -o schemas/resnet-spec.schema.json"
    )


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = export_schema()
    assert schema["$schema"] == SCHEMA_DIALECT
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_names_no_made_up_site() -> None:
    """The ``$id`` is a name (no site serves the schema); the one address in the file is the dialect's, and the
    path written specs give editors (``show``, ``import``) reaches the committed file from ``specs/``."""
    import re

    from resnetdsl.show import SCHEMA_PATH

    assert export_schema()["$id"] == "urn:resnetdsl:schema:resnet-spec"
    assert re.findall(r"[a-z]+://[^\s\"]*", SCHEMA_FILE.read_text(encoding="utf-8")) == [SCHEMA_DIALECT]
    assert (SPECS / SCHEMA_PATH).resolve() == SCHEMA_FILE.resolve()
    # the internal $refs resolve against the URN: a document using them validates, a bad one does not
    validator = jsonschema.Draft202012Validator(export_schema())
    assert validator.is_valid({"name": "n", "stages": [{"depth": 1, "width": 8}]})
    assert not validator.is_valid({"name": "n", "stages": [{"depth": 1, "width": "wide"}]})


def properties(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from schema["properties"].items()
    for name, d in schema["$defs"].items():
        for prop, sub in d.get("properties", {}).items():
            yield f"{name}.{prop}", sub


def test_every_property_is_described_and_titled() -> None:
    for name, sub in properties(export_schema()):
        assert sub.get("description"), name
        assert sub.get("title") or "$ref" in sub, name


def test_enums_for_completion() -> None:
    defs = export_schema()["$defs"]

    def enum(prop: dict[str, Any]) -> list[str]:
        (found,) = [a["enum"] for a in prop.get("anyOf", [prop]) if "enum" in a]
        return list(found)

    assert enum(defs["BlockSettings"]["properties"]["block"]) == [
        "basic",
        "bottleneck",
        "preact_basic",
        "preact_bottleneck",
        "sk_basic",
        "sk_bottleneck",
        "regnet",
        "preact_regnet",
        "resnest",
        "res2net",
    ]
    assert enum(defs["Stage"]["properties"]["shortcut"]) == [
        "identity_pad",
        "projection",
        "projection_all",
        "avgpool_projection",
        "none",
        "identity",
    ]
    assert enum(defs["Stem"]["properties"]["kind"]) == ["conv7", "conv3", "deep", "simple"]
    assert enum(defs["Head"]["properties"]["pool"]) == ["avg", "max"]


def test_no_null_defaults() -> None:
    # an unset block setting is inherited; "default: null" would tell an editor user to write null
    def walk(node: Any) -> Iterator[Any]:
        if isinstance(node, dict):
            if "default" in node:
                yield node["default"]
            for v in node.values():
                yield from walk(v)
        elif isinstance(node, list):
            for v in node:
                yield from walk(v)

    defaults = list(walk(export_schema()))
    assert defaults and all(d is not None and not isinstance(d, dict) for d in defaults)


@pytest.mark.parametrize("preset", PRESETS, ids=[p.stem for p in PRESETS])
def test_every_preset_is_valid(validator: jsonschema.Draft202012Validator, preset: Path) -> None:
    text = preset.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=../schemas/resnet-spec.schema.json\n")
    assert errors(validator, parse_yaml(text).data) == []
    assert errors(validator, yaml.safe_load(text)) == []  # what other YAML readers give


def test_head_none_or_mapping(validator: jsonschema.Draft202012Validator) -> None:
    base = {"name": "t", "stages": [{"depth": 1, "width": 8}]}
    assert errors(validator, {**base, "head": "none"}) == []
    assert errors(validator, {**base, "head": {"num_classes": 10}}) == []
    assert errors(validator, {**base, "head": "nothing"}) != []
    assert errors(validator, {**base, "head": None}) != []


def test_extends_makes_name_and_stages_optional(validator: jsonschema.Draft202012Validator) -> None:
    assert errors(validator, {"extends": "resnet50", "head": {"num_classes": 10}}) == []
    assert errors(validator, {"head": {"num_classes": 10}}) == [
        "$: 'name' is a required property",
        "$: 'stages' is a required property",
    ]
    # a stage still needs its depth and width: lists are replaced, not merged
    assert errors(validator, {"extends": "resnet50", "stages": [{"depth": 1}]}) == [
        "$.stages[0]: 'width' is a required property"
    ]


def test_schema_rejects_what_resnetdsl_rejects(validator: jsonschema.Draft202012Validator) -> None:
    base = {"name": "t", "stages": [{"depth": 1, "width": 8}]}
    assert errors(validator, {**base, "stages": [{"depth": 0, "width": 8}]}) == [
        "$.stages[0].depth: 0 is less than the minimum of 1"
    ]
    assert errors(validator, {**base, "stages": [{"depth": True, "width": 8}]}) == [
        "$.stages[0].depth: True is not of type 'integer'"
    ]
    assert errors(validator, {**base, "defaults": {"stide_on": "1x1"}}) == [
        "$.defaults: Additional properties are not allowed ('stide_on' was unexpected)"
    ]


def fixture_verdicts() -> list[tuple[str, str]]:
    out = []
    for expected in sorted(INVALID.glob("*.expected")):
        head = expected.read_text(encoding="utf-8").partition("\n\n")[0]
        fields = dict(line.split(": ", 1) for line in head.splitlines())
        out.append((expected.stem, fields["jsonschema"]))
    return out


VERDICTS = fixture_verdicts()


def test_fixture_verdicts_cover_all_kinds() -> None:
    kinds = [v for _, v in VERDICTS]
    assert set(kinds) == {"reject", "accept", "unreadable"}
    assert kinds.count("reject") >= 20


@pytest.mark.parametrize(("name", "verdict"), VERDICTS, ids=[n for n, _ in VERDICTS])
def test_schema_on_invalid_fixtures(validator: jsonschema.Draft202012Validator, name: str, verdict: str) -> None:
    from resnetdsl import SpecError

    raw = (INVALID / f"{name}.yaml").read_bytes()
    try:
        data = parse_yaml(raw).data
    except SpecError:
        assert verdict == "unreadable"
        return
    found = errors(validator, data)
    if verdict == "reject":
        assert found, f"the schema accepts {name}.yaml"
    else:
        assert verdict == "accept"
        assert found == [], f"the schema rejects {name}.yaml, which only resnetdsl's own checks should catch"


def check_jsonschema() -> str | None:
    beside = Path(sys.executable).parent / "check-jsonschema"
    return str(beside) if beside.exists() else shutil.which("check-jsonschema")


@pytest.mark.skipif(check_jsonschema() is None, reason="check-jsonschema is not installed")
def test_check_jsonschema_accepts_the_presets() -> None:
    run = subprocess.run(
        [str(check_jsonschema()), "--schemafile", str(SCHEMA_FILE), *(str(p) for p in PRESETS)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_stages_by_index_with_extends(validator: jsonschema.Draft202012Validator) -> None:
    # the documented override form: accepted where the loader accepts it, refused where it refuses it
    child = {"extends": "resnet18", "stages": {"2": {"depth": 1}}}
    assert errors(validator, child) == []
    assert resnetdsl_accepts(child) and resnetdsl_accepts(parse_yaml("extends: resnet18\nstages: {2: {depth: 1}}").data)
    assert errors(validator, {"extends": "resnet18", "stages": {"two": {"depth": 1}}}) == [
        "$.stages: 'two' does not match '^(0|[1-9][0-9]{0,5})$'"
    ]
    assert errors(validator, {"extends": "resnet18", "stages": {"2": {"dpth": 1}}}) == [
        "$.stages['2']: Additional properties are not allowed ('dpth' was unexpected)"
    ]
    alone = {"name": "t", "stages": {"2": {"depth": 1}}}
    assert errors(validator, alone) == ["$.stages: {'2': {'depth': 1}} is not of type 'array'"]
    assert not resnetdsl_accepts(alone)


def resnetdsl_accepts(data: Any) -> bool:
    import resnetdsl

    try:
        resnetdsl.check(data)
    except resnetdsl.SpecError:
        return False
    return True


def test_show_and_import_name_the_schema_as_the_docs_recommend() -> None:
    import re

    from resnetdsl.show import resolved, to_yaml

    docs = (Path(__file__).parent.parent / "docs" / "spec.md").read_text(encoding="utf-8")
    recommended = re.search(r"^# yaml-language-server: \$schema=(\S+)$", docs, re.M)
    assert recommended is not None
    first = to_yaml(resolved(resnetdsl.load_spec("resnet18"))).splitlines()[0]  # what show and import write
    assert first == f"# yaml-language-server: $schema={recommended[1]}"
    assert "://" not in first
