"""Pydantic's validation errors in our words and paths; did-you-mean."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from resnetdsl.errors import Issue, Path, format_path
from resnetdsl.load.document import SourceMap

if TYPE_CHECKING:
    from pydantic import ValidationError


def did_you_mean(word: str, choices: Any) -> str:
    """``" (did you mean 'x'?)"`` for the closest choice, or ``""``."""
    import difflib  # an error's hint only

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


_STAGE_ONLY = ("depth", "width", "stride", "name")
_TAGS = {"mapping", "none"}  # union tags pydantic puts into locations; not part of the user's path


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


_TYPE_NAMES: tuple[tuple[type, str], ...] = (
    (bool, "a boolean"),  # before int: a bool is an int
    (int, "an integer"),
    (float, "a number"),
    (str, "a string"),
    (list, "a list"),
    (dict, "a mapping"),
    (type(None), "null"),
)


def type_name(value: Any) -> str:
    """How a message names a YAML value's type (``an integer``); a Python type's own name otherwise."""
    return next((name for kind, name in _TYPE_NAMES if isinstance(value, kind)), type(value).__name__)


def _got(value: Any) -> str:
    """``an integer 3``, ``a string '3'``; just ``null``, ``a mapping`` or ``a list`` where the value adds nothing."""
    kind = type_name(value)
    return kind if value is None or isinstance(value, (dict, list)) else f"{kind} {_show(value)}"


def _allowed_keys(model: Any, path: Path) -> list[str]:
    """Field names of the model at ``path`` (for did-you-mean on unknown keys)."""
    from pydantic import BaseModel

    from resnetdsl.spec_paths import model_at

    m = model_at(path)
    if m is None or not (isinstance(m, type) and issubclass(m, BaseModel)):
        return []
    return list(m.model_fields)


_YAML11_BOOL = {w: "true" for w in ("yes", "Yes", "YES", "on", "On", "ON", "y", "Y")} | {
    w: "false" for w in ("no", "No", "NO", "off", "Off", "OFF", "n", "N")
}


def mapping_hint(path: Path, value: Any) -> str:
    """What a scalar written where a mapping belongs most likely meant: ``stem: conv7`` → ``stem: {kind: conv7}``,
    ``input: 224`` → ``input: {size: [224, 224]}``; a ``key:value`` missing its space; else ``""``."""
    from typing import get_args

    from pydantic import BaseModel

    from resnetdsl.load.syntax import missing_space_hint
    from resnetdsl.spec_paths import model_at

    if isinstance(value, str) and missing_space_hint(value):
        return missing_space_hint(value)
    where = format_path(path) if path else "it"
    if path and isinstance(path[-1], int) and path[:-1] == ("stages",):
        if isinstance(value, int) and not isinstance(value, bool):
            return f"; a stage is a mapping: {{depth: 2, width: {value}}}"
        return "; a stage is a mapping: {depth: 2, width: 64}"
    model = model_at(path)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return ""
    if isinstance(value, str):
        for name, info in model.model_fields.items():
            if value in _literals(info.annotation, get_args):
                return f"; write {where}: {{{name}: {value}}}"
    if isinstance(value, int) and not isinstance(value, bool) and "size" in model.model_fields:
        return f"; write {where}: {{size: [{value}, {value}]}}"
    return ""


def _literals(ann: Any, get_args: Any) -> set[Any]:
    out: set[Any] = set()
    for a in get_args(ann):
        if isinstance(a, str):
            out.add(a)
        else:
            out |= _literals(a, get_args)
    return out


_PLAIN_TYPES = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "a string",
    "list_type": "a list",
    "tuple_type": "a list",
}
"""Pydantic's type errors whose message is only the type a value must have."""


def issues_from_pydantic(exc: ValidationError, source: SourceMap) -> list[Issue]:
    """Turn a pydantic ``ValidationError`` into issues with our paths, words and marks."""
    from resnetdsl.load.foreign import foreign_hint

    issues: list[Issue] = []
    seen: set[tuple[Path, str]] = set()
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        # pydantic names the union branch right after the union field ('head'); keep everything else
        path: Path = tuple(p for i, p in enumerate(loc) if not (i == 1 and loc[0] == "head" and p in _TAGS))
        etype = err["type"]
        inp = err.get("input")
        ctx = err.get("ctx") or {}
        key_mark = False
        if etype == "extra_forbidden":
            key = str(path[-1])
            allowed = _allowed_keys(None, path[:-1])
            if path[:-1] == ("defaults",) and key in _STAGE_ONLY:
                msg = f"unknown key '{key}' ('{key}' is set per stage, in stages[i].{key})"
            else:
                msg = f"unknown key '{key}'{foreign_hint(key, inp, path[:-1]) or did_you_mean(key, allowed)}"
            key_mark = True
        elif etype == "missing":
            msg = "is required"
            mark = source.mark_for(path[:-1])
            issue = Issue(path, msg, mark)
            if (path, msg) not in seen:
                seen.add((path, msg))
                issues.append(issue)
            continue
        elif etype in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
            op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[etype]
            bound = next(iter(ctx.values()))
            msg = f"must be {op} {bound} (got {_show(inp)})"
        elif etype == "literal_error":
            choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
            hint = did_you_mean(str(inp), choices) if isinstance(inp, str) else ""
            msg = f"must be one of {', '.join(repr(c) for c in choices)} (got {_show(inp)}){hint}"
        elif etype in _PLAIN_TYPES:
            msg = f"must be {_PLAIN_TYPES[etype]} (got {_got(inp)})"
        elif etype in ("bool_type", "bool_parsing"):
            word = _YAML11_BOOL.get(inp) if isinstance(inp, str) else None
            hint = f"; YAML 1.2 reads {inp} as a word: write {word}" if word else ""
            msg = f"must be true or false (got {_got(inp)}){hint}"
        elif etype in ("model_type", "model_attributes_type", "dict_type"):
            msg = f"must be a mapping (got {_got(inp)}){mapping_hint(path, inp)}"
        elif etype in ("too_short", "too_long"):
            n = ctx.get("min_length") if etype == "too_short" else ctx.get("max_length")
            if etype == "too_short" and isinstance(inp, list) and len(inp) >= int(n or 0):
                continue  # pydantic counts only the items that validated; those have their own errors
            word = "at least" if etype == "too_short" else "at most"
            got = len(inp) if isinstance(inp, list) else ctx.get("actual_length")
            msg = f"must have {word} {n} item{'s' if n != 1 else ''} (got {got})"
        elif etype == "string_too_short":
            msg = "must not be empty"
        elif etype == "string_too_long":
            msg = (
                f"must be at most {ctx.get('max_length')} characters (got {len(inp) if isinstance(inp, str) else '?'})"
            )
        elif etype == "string_pattern_mismatch":
            msg = f"must match {ctx.get('pattern')} (got {_show(inp)})"
        elif etype in ("union_tag_invalid", "union_tag_not_found"):
            msg = f"must be 'none' or a mapping (got {_show(inp)}){mapping_hint(path, inp)}"
        elif etype == "value_error":
            msg = str(ctx.get("error", err["msg"]))
        else:
            msg = err["msg"][0].lower() + err["msg"][1:]
        if (path, msg) in seen:
            continue
        seen.add((path, msg))
        issues.append(Issue(path, msg, source.mark_for(path, key=key_mark)))
    return _one_per_typo(issues)


def _one_per_typo(issues: list[Issue]) -> list[Issue]:
    """An unknown key whose did-you-mean is a required key missing beside it is one mistake, not two: the
    "is required" goes, the unknown key (which names the fix) stays."""
    suggested = set()
    for i in issues:
        found = re.fullmatch(r"unknown key '.*' \(did you mean '([^']*)'\?\)", i.message)
        if found and i.path:
            suggested.add((*i.path[:-1], found[1]))
    return [i for i in issues if not (i.message == "is required" and i.path in suggested)]
