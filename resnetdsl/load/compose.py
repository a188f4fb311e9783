"""Composing a spec: ``extends`` (a base deep-merged with the document that names it), ``--set`` overrides, and
a source (path, text, mapping, preset name) → :class:`Document` → :class:`Spec`."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any

from resnetdsl.errors import Issue, Mark, Path, SpecError
from resnetdsl.load.document import Document, SourceMap
from resnetdsl.load.mapping import plain_data, read_mapping
from resnetdsl.load.messages import did_you_mean, issues_from_pydantic
from resnetdsl.load.presets import is_preset, nearby_hint, preset_display, preset_names, preset_path
from resnetdsl.load.source import parse_yaml, read_file
from resnetdsl.records import record

if TYPE_CHECKING:
    from resnetdsl.spec import Spec

MAX_EXTENDS = 16
"""Longest ``extends`` chain."""

# --- extends -------------------------------------------------------------------------------------


def _merge(base: Any, over: Any, bsrc: SourceMap, osrc: SourceMap, out: SourceMap, path: Path) -> Any:
    """Deep-merge ``over`` onto ``base``: mappings merge key by key; a list takes a mapping of indices
    (``stages: {2: {depth: 23}}`` changes one stage, :func:`_merge_items`); anything else is replaced."""
    if isinstance(base, list) and isinstance(over, dict) and over and all(_INDEX_RE.match(k) for k in over):
        return _merge_items(base, over, bsrc, osrc, out, path)
    if isinstance(base, dict) and isinstance(over, dict):
        merged: dict[str, Any] = {}
        if path in osrc.values:
            out.values[path] = osrc.values[path]
        for k in base.keys() | over.keys():
            sub = (*path, k)
            if k in over and k in base:
                merged[k] = _merge(base[k], over[k], bsrc, osrc, out, sub)
                if sub in osrc.keys:
                    out.keys[sub] = osrc.keys[sub]
            elif k in over:
                merged[k] = over[k]
                _copy_marks(osrc, out, sub)
            else:
                merged[k] = base[k]
                _copy_marks(bsrc, out, sub)
        # keep the child's key order, then the base's remaining keys
        order = [k for k in over if k in merged] + [k for k in base if k not in over]
        return {k: merged[k] for k in order}
    _copy_marks(osrc, out, path)
    return over


_INDEX_RE = re.compile(r"^(0|[1-9][0-9]{0,5})$")


def _merge_items(
    base: list[Any], over: dict[str, Any], bsrc: SourceMap, osrc: SourceMap, out: SourceMap, path: Path
) -> list[Any]:
    """A base list with some items changed (``{"2": {...}}`` merges onto item 2) or one appended (the index
    just past the end)."""
    items = list(base)
    _copy_marks(bsrc, out, path)
    for key in sorted(over, key=int):
        i = int(key)
        here = osrc.mark_for((*path, key), key=True)
        if i > len(items):
            last = f"0–{len(items) - 1}" if items else "none"
            raise SpecError.single(
                f"no item {i} to change: the base has {len(items)} (indices {last}); index {len(items)} appends one",
                path=(*path, i),
                mark=here,
            )
        moved = _reindex(osrc, (*path, key), (*path, i))
        if i == len(items):
            items.append(over[key])
            _copy_marks(moved, out, (*path, i))
        else:
            items[i] = _merge(items[i], over[key], bsrc, moved, out, (*path, i))
    return items


def _reindex(src: SourceMap, old: Path, new: Path) -> SourceMap:
    """``src`` with the marks under ``old`` moved under ``new`` (a mapping key ``"2"`` → list index ``2``)."""
    n = len(old)
    moved = SourceMap()
    for table, target in ((src.values, moved.values), (src.keys, moved.keys)):
        for p, m in table.items():
            target[(*new, *p[n:]) if p[:n] == old else p] = m
    return moved


def _copy_marks(src: SourceMap, dst: SourceMap, prefix: Path) -> None:
    n = len(prefix)
    for table, target in ((src.values, dst.values), (src.keys, dst.keys)):
        for p, m in table.items():
            if p[:n] == prefix:
                target[p] = m


def _is_file(path: FsPath) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name too long, a loop of links
        return False


def resolve_extends(doc: Document, *, _seen: tuple[str, ...] = ()) -> Document:
    """Apply ``extends: <preset or relative path>``: the base, deep-merged with this document."""
    base_ref = doc.data.get("extends")
    if base_ref is None:
        return doc
    mark = doc.source.mark_for(("extends",))
    if not isinstance(base_ref, str) or not base_ref:
        raise SpecError.single("must be a preset name or a path to a spec file", path=("extends",), mark=mark)
    if not _seen and doc.file is not None and _is_file(FsPath(doc.file)):
        _seen = (str(FsPath(doc.file).resolve()),)
    if len(_seen) >= MAX_EXTENDS:
        raise SpecError.single(f"extends chain is longer than {MAX_EXTENDS}", path=("extends",), mark=mark)
    shown: str | None = None  # how messages name the base: a bundled preset by its place in the source tree
    if is_preset(base_ref):
        target = preset_path(base_ref)
        shown = preset_display(base_ref)
    else:
        # named relative to the spec that extends it, as ``base.yaml`` rather than ``a/b/../../base.yaml``
        shown = os.path.normpath(os.path.join(os.path.dirname(doc.file or ""), base_ref))
        target = FsPath(shown)
        if not _is_file(target):
            near = nearby_hint(shown, shown_dir=os.path.dirname(base_ref), exclude=doc.file)
            raise SpecError.single(
                f"'{base_ref}' is neither a preset nor a spec file{near}", path=("extends",), mark=mark
            )
    key = str(target.resolve())
    if key in _seen:
        raise SpecError.single(f"extends cycle through '{base_ref}'", path=("extends",), mark=mark)
    base = resolve_extends(read_file(target, shown=shown), _seen=(*_seen, key))
    child = {k: v for k, v in doc.data.items() if k != "extends"}
    out = SourceMap()
    data = _merge(base.data, child, base.source, doc.source, out, ())
    return Document(data, out, doc.file, via=mark)


# --- overrides (``--set key.path=value``) -----------------------------------------------------------


@record
class Override:
    """One ``key.path=value`` applied after ``extends`` and before validation."""

    path: str
    """Dotted: ``stages.2.depth``, ``head.num_classes`` (a list index is a number; ``-1`` is the last item)."""
    value: Any
    label: str
    """How messages place it: ``--set stages.2.depth=23`` on the command line, ``overrides['stages.2.depth']``
    from Python."""

    @property
    def mark(self) -> Mark:
        return Mark(self.label)


OVERRIDE_PREFIXES = ("--set ", "overrides[")
"""How an override's mark names its place (instead of a file)."""


def is_override_mark(mark: Mark | None) -> bool:
    """The mark places an override, not a line of a file."""
    return mark is not None and (mark.file or "").startswith(OVERRIDE_PREFIXES)


def parse_set(text: str) -> Override:
    """``stages.2.depth=23`` → an :class:`Override`; the value is YAML (a scalar or flow: ``[224, 224]``,
    ``{depth: 3}``), read as spec files are.

    Raises:
        SpecError: no ``=``, an empty path, or a value that is not YAML.
    """
    label = f"--set {text}"
    path, eq, value = text.partition("=")
    path = path.strip()
    if not eq or not path:
        raise SpecError.single("expected KEY.PATH=VALUE, such as stages.2.depth=23", mark=Mark(label))
    if not value.strip():
        raise SpecError.single(f"no value after '='; {EMPTY_VALUE_HINT}", mark=Mark(label))
    try:
        doc = parse_yaml(f"value: {value}")
    except SpecError as exc:
        message = exc.issues[0].message if exc.issues else "not a YAML value"
        raise SpecError.single(f"value '{value}' is not YAML: {message}", mark=Mark(label)) from None
    return Override(path, doc.data.get("value"), label)


EMPTY_VALUE_HINT = "write a value (a number, a word, [a, list] or {a: mapping})"


def overrides_arg(overrides: Any) -> tuple[Override, ...]:
    """``{"stages.2.depth": 23}`` (Python values), or :class:`Override`\\ s, as a tuple of overrides."""
    if overrides is None:
        return ()
    if isinstance(overrides, Mapping):
        out = []
        for k, v in overrides.items():
            if not isinstance(k, str):
                raise TypeError(f"override paths are dotted strings such as 'stages.2.depth', got {k!r}")
            out.append(Override(k, v, f"overrides[{k!r}]"))
        return tuple(out)
    if isinstance(overrides, Override):
        return (overrides,)
    items = tuple(overrides)
    if not all(isinstance(o, Override) for o in items):
        raise TypeError("overrides must be a mapping of dotted paths to values, or Override objects")
    return items


@record
class Overridden:
    """A spec source with overrides: what the command line hands the checking path for ``--set``."""

    source: Any
    overrides: tuple[Override, ...]


def apply_overrides(doc: Document, overrides: Any) -> Document:
    """The document with each override set, in order (a later one wins). Every path is checked against the
    spec language first: an unknown key is an error with a did-you-mean, placed on the override.

    Raises:
        SpecError: every override whose path does not exist.
    """
    items = overrides_arg(overrides)
    if not items:
        return doc
    import copy

    data = copy.deepcopy(doc.data)
    source = SourceMap(dict(doc.source.values), dict(doc.source.keys))
    issues: list[Issue] = []
    for o in items:
        try:
            path = _set_override(data, o)
        except SpecError as exc:
            issues += exc.issues
            continue
        n = len(path)
        for table in (source.values, source.keys):
            for p in [p for p in table if p[:n] == path]:
                del table[p]
        source.values[path] = o.mark
        source.keys[path] = o.mark
    if issues:
        raise SpecError(issues)
    return Document(data, source, doc.file, via=doc.via)


def _set_override(data: dict[str, Any], o: Override) -> Path:
    """Set one override in ``data``; the path it set (list indices as numbers)."""
    from resnetdsl.spec import Spec

    def fail(message: str) -> SpecError:
        return SpecError.single(message, mark=o.mark)

    parts = o.path.split(".")
    if any(not p for p in parts):
        raise fail(f"'{o.path}' is not a dotted key path such as stages.2.depth")
    model: Any = Spec
    node: Any = data
    done: list[str | int] = []
    for n, part in enumerate(parts):
        last = n == len(parts) - 1
        where = ".".join(map(str, done)) or "the spec"
        if isinstance(node, list):
            if not re.match(r"^-?[0-9]+$", part):
                raise fail(f"'{where}' is a list; expected an index (0 to {len(node) - 1}), got '{part}'")
            i = int(part)
            if not -len(node) <= i < len(node):
                raise fail(f"'{where}' has {len(node)} items (indices 0 to {len(node) - 1}); there is no item {i}")
            i %= len(node)
            done.append(i)
            if last:
                node[i] = o.value
                return tuple(done)
            if not isinstance(node[i], dict):
                node[i] = {}
            node = node[i]
            continue
        fields = getattr(model, "model_fields", None) if model is not None else None
        if fields is None:
            raise fail(f"'{where}' is a value, not a mapping; it has no key '{part}'")
        if part not in fields:
            raise fail(f"unknown key '{part}'{did_you_mean(part, fields)}")
        if part == "extends":
            raise fail("'extends' is resolved before overrides apply; give another spec instead")
        done.append(part)
        if last:
            node[part] = o.value
            return tuple(done)
        from resnetdsl.spec_paths import model_at

        model = model_at(tuple(done))
        child = node.get(part)
        if isinstance(child, list | dict):
            node = child
        else:  # absent, or a scalar such as `head: none` that a nested key replaces
            node[part] = {}
            node = node[part]
    raise AssertionError("unreachable")


# --- to a Spec -----------------------------------------------------------------------------------


def load_document(source: Any) -> Document:
    """A path, YAML text, preset name or mapping → :class:`Document` (extends applied)."""
    return resolve_extends(read_source(source))


def read_source(source: Any) -> Document:
    """A path, YAML text, preset name or mapping → :class:`Document`, as written (``extends`` not applied)."""
    if isinstance(source, Mapping):
        doc = read_mapping(source)
    elif isinstance(source, os.PathLike):
        doc = read_file(source)
    elif isinstance(source, str):
        s = source.strip()
        if is_preset(s):
            doc = read_file(preset_path(s), shown=preset_display(s))
        elif s.endswith((".yaml", ".yml")) and "\n" not in s:
            doc = read_file(s, shown=os.path.normpath(s))
        elif "\n" in s or ":" in s or "{" in s:
            doc = parse_yaml(source)
        elif os.path.exists(s) or "/" in s or os.sep in s or "." in s:
            # a path: say what is wrong with it, not that no preset has that name
            doc = read_file(s, shown=os.path.normpath(s))
        else:
            raise SpecError.single(f"unknown preset '{s}'{did_you_mean(s, preset_names())}")
    elif isinstance(source, bytes):
        doc = parse_yaml(source)
    else:
        raise TypeError(f"expected a Spec, a mapping, YAML text, a path or a preset name, got {type(source).__name__}")
    return doc


def load_spec(source: Any, *, overrides: Any = None) -> Spec:
    """Load and validate a spec.

    Args:
        source: a :class:`~resnetdsl.spec.Spec`, a mapping, YAML text, a path to a YAML file, or a preset name.
        overrides: ``{"stages.2.depth": 23, "head.num_classes": 10}``: dotted key paths set after ``extends``
            and before validation (an unknown path is an error with a did-you-mean).

    Raises:
        SpecError: listing every problem found (schema and semantics), with file:line:col where known.
    """
    from resnetdsl.spec import Spec

    if isinstance(source, Overridden):
        source, overrides = source.source, (*source.overrides, *overrides_arg(overrides))
    if isinstance(source, Spec):
        if not overrides_arg(overrides):
            return checked_spec(source)
        source = spec_data(source)
    doc = apply_overrides(load_document(source), overrides)
    return spec_from_document(doc)


def spec_data(spec: Spec) -> dict[str, Any]:
    """A spec as the plain data a YAML file would hold (what was set; defaults left out)."""
    data: dict[str, Any] = spec.model_dump(mode="json", exclude_unset=True)
    return data


def checked_spec(spec: Spec) -> Spec:
    """A :class:`Spec` built in Python, held to what a spec file may hold: the schema checked it when it was
    made; its text is checked here as the YAML reader checks a file's.

    Raises:
        SpecError: every string with a character a spec may not contain.
    """
    plain_data(spec_data(spec))
    return spec


def spec_from_document(doc: Document) -> Spec:
    from pydantic import ValidationError

    from resnetdsl.regnet_key import expand_regnet
    from resnetdsl.spec import Spec

    doc = expand_regnet(doc)  # RegNet (issue 19): the regnet: key becomes stem, defaults and stages
    try:
        spec = Spec.model_validate(doc.data)
    except ValidationError as exc:
        raise SpecError(issues_from_pydantic(exc, doc.source)) from None
    spec._source = doc.source
    spec._file = doc.file
    spec._via = doc.via
    return spec
