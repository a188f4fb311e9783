"""``resnetdsl show``: the fully resolved spec as YAML (the presets' table is :mod:`resnetdsl.preset_table`).

The resolved spec has ``extends`` and overrides applied and every default written out where it applies: a
built-in default is written only where writing it changes nothing (the same plan, no new problem), so the
output validates and builds the identical model. Nothing here imports torch.
"""

from __future__ import annotations

from typing import Any

import yaml

from resnetdsl.check import check
from resnetdsl.load.source import reads_as_text
from resnetdsl.lower import BUILTIN_DEFAULTS
from resnetdsl.spec import Spec
from resnetdsl.text import unsafe_char

_FILL_DEFAULTS = (
    "block",
    "shortcut",
    "stride_on",
    "groups",
    "width_per_group",
    "expansion",
    "conv_bias",
    "shortcut_norm",
    "norm",
    "act",
    "attention",
    "drop_path",
)
"""Block settings ``show`` writes into ``defaults`` when the spec leaves them to the built-in default."""
_DERIVED: dict[str, Any] = {"stride_on": "3x3", "groups": 1, "width_per_group": 64, "drop_path": 0.0}


def resolved(source: Any, *, overrides: Any = None) -> dict[str, Any]:
    """The spec as plain data, extends and overrides applied, every default explicit.

    Raises:
        SpecError: the spec is invalid.
    """
    checked = check(source, overrides=overrides)
    spec = checked.spec
    if spec is None:
        raise TypeError("show needs a spec, not a plan")
    plan = checked.plan
    data: dict[str, Any] = spec.model_dump(mode="json", exclude_none=True)
    data.pop("extends", None)
    for stage in data["stages"]:
        if not stage.get("blocks"):  # no per-block overrides: nothing to say
            stage.pop("blocks", None)
        else:  # `at` first: it says which blocks the rest is for
            stage["blocks"] = [{"at": b["at"], **{k: v for k, v in b.items() if k != "at"}} for b in stage["blocks"]]
    if data.get("head") != "none":
        data["head"] = {**data["head"]}
    defaults = data.setdefault("defaults", {})
    stem = data["stem"]
    candidates: list[tuple[dict[str, Any], str, Any]] = []
    if "pool" not in stem:
        candidates.append((stem, "pool", "none" if stem["kind"] == "conv3" else "max"))
    from resnetdsl.blocks import BLOCK_KINDS, EXPANSION, KIND_SETTINGS

    kinds = {st.block_kind for st in plan.stages}
    # a stage of several kinds ("res2net+basic") names no one kind: every setting may apply there
    used = frozenset().union(*(BLOCK_KINDS[k].uses if k in BLOCK_KINDS else KIND_SETTINGS for k in kinds))
    for key in _FILL_DEFAULTS:
        if key in defaults or (key in KIND_SETTINGS and key not in used):  # lowering reports a setting no block uses
            continue
        value = BUILTIN_DEFAULTS[key] if BUILTIN_DEFAULTS[key] is not None else _DERIVED.get(key)
        if key == "expansion" and len(kinds) == 1 and next(iter(kinds)) in EXPANSION:
            value = EXPANSION[next(iter(kinds))]
        elif key == "shortcut_norm" and len(kinds) == 1:
            from resnetdsl.blocks import PREACT

            value = next(iter(kinds)) not in PREACT
        if value is not None:
            candidates.append((defaults, key, value))
    for scope, key, value in candidates:  # all at once first: mostly they change nothing, then one check does
        scope[key] = value
    if candidates and not _same(data, plan):
        for scope, key, _ in candidates:
            del scope[key]
        for scope, key, value in candidates:
            scope[key] = value
            if not _same(data, plan):
                del scope[key]
    return _ordered(data)


def _same(data: dict[str, Any], plan: Any) -> bool:
    from resnetdsl.check import check_with_issues

    checked, issues = check_with_issues(data)
    return checked is not None and not issues and checked.plan == plan


_ORDER = ("name", "description", "layout", "input", "stem", "defaults", "stages", "head", "init")


def _ordered(data: dict[str, Any]) -> dict[str, Any]:
    out = {k: data[k] for k in _ORDER if k in data}
    out.update({k: v for k, v in data.items() if k not in out})
    for key in ("stem", "defaults"):
        if isinstance(out.get(key), dict):
            fields = list(Spec.model_fields["stem" if key == "stem" else "defaults"].annotation.model_fields)  # type: ignore[union-attr]
            out[key] = {k: out[key][k] for k in fields if k in out[key]}
    return out


class _Flow(dict[str, Any]):
    pass


class _FlowList(list[Any]):
    pass


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, quoting every string that this package's loader would not read back as itself.

    PyYAML quotes what YAML 1.1 would read as something else (``yes``, ``1_0``); the loader reads YAML 1.2's core
    schema, where ``0o10`` and ``1e-3`` are numbers, so those are quoted too. A string holding a line break that a
    quoted scalar would fold (NEL, LS, PS) is written double-quoted, where they are escapes (``\\N``, ``\\L``,
    ``\\P``), and so is one holding a character no spec may hold (only invalid data has one).
    """

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        tag = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
        if kind is yaml.ScalarNode and implicit[0] and tag == _STR and not reads_as_text(value):
            return _NOT_TEXT  # any tag but str: the emitter then quotes the value
        return tag

    def write_double_quoted(self, text: str, split: bool = True) -> None:
        if unsafe_char(text) is None:
            super().write_double_quoted(text, split)
            return
        allow, self.allow_unicode = self.allow_unicode, False  # every character past ASCII as an escape
        try:
            super().write_double_quoted(text, split)
        finally:
            self.allow_unicode = allow


_STR = "tag:yaml.org,2002:str"
_NOT_TEXT = "tag:yaml.org,2002:int"
_FOLDED_BREAKS = frozenset("\x85\u2028\u2029")


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # double-quoted, a character no spec may hold is written as an escape (the loader then names its key path)
    style = '"' if _FOLDED_BREAKS.intersection(value) or unsafe_char(value) is not None else None
    return dumper.represent_scalar(_STR, value, style=style)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(_Flow, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True))
_Dumper.add_representer(_FlowList, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))


def _styled(value: Any, depth: int = 0) -> Any:
    if isinstance(value, dict):
        inner = {k: _styled(v, depth + 1) for k, v in value.items()}
        return _Flow(inner) if depth >= 2 or (depth == 1 and len(inner) <= 4) else inner
    if isinstance(value, list):
        items = [_styled(v, 2) for v in value]
        return _FlowList(items) if all(not isinstance(v, dict) for v in value) else items
    return value


SCHEMA_PATH = "../schemas/resnet-spec.schema.json"
"""The schema a written spec names on its first line: the relative path docs/spec.md recommends (a spec one
folder below the one holding ``schemas/``, as ``resnetdsl schema -o schemas/resnet-spec.schema.json`` writes
it); no URL, as the schema is published nowhere."""


def to_yaml(data: dict[str, Any]) -> str:
    """Spec data as YAML, presets' style: one line per stage, short mappings inline."""
    body = yaml.dump(_styled(data), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
    return f"# yaml-language-server: $schema={SCHEMA_PATH}\n{body}"


def show(source: Any, *, overrides: Any = None) -> str:
    """``resnetdsl show``'s text: the resolved spec as YAML."""
    return to_yaml(resolved(source, overrides=overrides))
