"""YAML → plain data with source marks; presets; ``extends``; pydantic errors → :class:`SpecError`.

YAML is read safely: only the core tags (map, seq, str, int, float, bool, null), duplicate keys are errors,
alias expansion and nesting are bounded, and the file size is capped.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any

import yaml

from resnetdsl.errors import Issue, Mark, Path, SpecError

if TYPE_CHECKING:
    from pydantic import ValidationError

    from resnetdsl.spec import Spec

MAX_BYTES = 1 << 20
"""Largest spec file accepted (1 MiB)."""
MAX_NODES = 100_000
"""Most YAML nodes visited, aliases counted each time they are used (bounds alias bombs)."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and sequences."""
MAX_EXTENDS = 16
"""Longest ``extends`` chain."""

_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_TEXT_TAGS = {"tag:yaml.org,2002:timestamp"}  # kept as the text the user wrote
_MERGE = "tag:yaml.org,2002:merge"
_KEY_TAGS = _SCALAR_TAGS | {"tag:yaml.org,2002:value"}  # `=` is a plain key
_TOO_MANY = (
    f"the YAML expands to more than {MAX_NODES} nodes (aliases counted each time they are used); "
    "refusing it as a possible alias bomb"
)
_PRESET_RE = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass
class SourceMap:
    """Where each value (and each mapping key) of a document was written."""

    values: dict[Path, Mark] = field(default_factory=dict)
    keys: dict[Path, Mark] = field(default_factory=dict)

    def mark_for(self, path: Path, *, key: bool = False) -> Mark | None:
        """The mark of ``path``; for a key, where the key is written; else the nearest enclosing value."""
        if key and path in self.keys:
            return self.keys[path]
        p = path
        while True:
            if p in self.values:
                return self.values[p]
            if not p:
                return None
            p = p[:-1]


@dataclass
class Document:
    """A parsed spec source: plain data plus where each part came from."""

    data: dict[str, Any]
    source: SourceMap
    file: str | None
    via: Mark | None = None
    """Where this document says ``extends`` (set once the bases are merged in), for placing their problems."""


class _Limit(Exception):
    pass


class _Walker:
    def __init__(self, file: str | None) -> None:
        self.file = file
        self.source = SourceMap()
        self.issues: list[Issue] = []
        self.count = 0
        self.constructor = yaml.SafeLoader("")
        self.merged: dict[int, list[tuple[yaml.Node, yaml.Node]]] = {}
        self.merging: set[int] = set()

    def mark(self, node: yaml.Node) -> Mark:
        m = node.start_mark
        return Mark(self.file, m.line + 1, m.column + 1)

    def walk(self, node: yaml.Node, path: Path, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _Limit(_TOO_MANY)
        if depth > MAX_DEPTH:
            raise _Limit(f"the YAML nests deeper than {MAX_DEPTH} levels (or an alias refers to itself)")
        self.source.values[path] = self.mark(node)
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP:
                self.issues.append(Issue(path, f"unsupported YAML tag {_show_tag(node.tag)}", self.mark(node)))
                return None
            out: dict[str, Any] = {}
            for k_node, v_node in self.pairs(node, path):
                if not isinstance(k_node, yaml.ScalarNode) or k_node.tag not in _KEY_TAGS:
                    self.issues.append(Issue(path, "mapping keys must be plain strings", self.mark(k_node)))
                    continue
                key = str(k_node.value)
                sub = (*path, key)
                if key in out:
                    first = self.source.keys[sub]
                    self.issues.append(
                        Issue(sub, f"duplicate key '{key}' (first defined at line {first.line})", self.mark(k_node))
                    )
                    continue
                self.source.keys[sub] = self.mark(k_node)
                out[key] = self.walk(v_node, sub, depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                self.issues.append(Issue(path, f"unsupported YAML tag {_show_tag(node.tag)}", self.mark(node)))
                return None
            return [self.walk(v, (*path, i), depth + 1) for i, v in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        if node.tag in _TEXT_TAGS:
            return node.value
        if node.tag not in _SCALAR_TAGS:
            self.issues.append(Issue(path, f"unsupported YAML tag {_show_tag(node.tag)}", self.mark(node)))
            return None
        surprise = _yaml11_surprise(node)
        if surprise:
            self.issues.append(Issue(path, surprise, self.mark(node)))
            return None
        if node.tag == _BOOL and node.value.lower() not in ("true", "false"):
            return node.value  # yes/no/on/off: YAML 1.1 booleans, read as the words they are
        try:
            return self.constructor.construct_object(node)
        except (ValueError, KeyError, yaml.YAMLError):  # e.g. `!!int abc`, `!!bool maybe`, a 5000-digit integer
            shown = node.value if len(node.value) <= 40 else node.value[:40] + "…"
            self.issues.append(Issue(path, f"cannot read '{shown}' as {_show_tag(node.tag)}", self.mark(node)))
            return None

    def pairs(self, node: yaml.MappingNode, path: Path) -> list[tuple[yaml.Node, yaml.Node]]:
        """The key/value nodes of a mapping with YAML merge keys (``<<``) applied.

        Keys written in the mapping win over merged ones, and earlier merged mappings over later ones (the YAML
        merge-key rules). Keys written twice are kept, for the caller to report as duplicates.
        """
        key = id(node)
        if key in self.merged:
            return self.merged[key]
        if key in self.merging:
            raise _Limit("a merge key '<<' refers to the mapping it is in")
        written = [(k, v) for k, v in node.value if k.tag != _MERGE]
        sources: list[yaml.MappingNode] = []
        for k, v in node.value:
            if k.tag != _MERGE:
                continue
            for item in v.value if isinstance(v, yaml.SequenceNode) else [v]:
                if isinstance(item, yaml.MappingNode) and item.tag == _MAP:
                    sources.append(item)
                else:
                    msg = "a merge key '<<' takes a mapping or a list of mappings"
                    self.issues.append(Issue(path, msg, self.mark(item)))
        if not sources:
            return written
        self.merging.add(key)
        seen = {str(k.value) for k, _ in written if isinstance(k, yaml.ScalarNode)}
        merged: list[tuple[yaml.Node, yaml.Node]] = []
        for src in sources:
            for k, v in self.pairs(src, path):
                self.count += 1
                if self.count > MAX_NODES:
                    raise _Limit(_TOO_MANY)
                if isinstance(k, yaml.ScalarNode):
                    if str(k.value) in seen:
                        continue
                    seen.add(str(k.value))
                merged.append((k, v))
        self.merging.discard(key)
        self.merged[key] = merged + written
        return self.merged[key]


_BOOL = "tag:yaml.org,2002:bool"
_PLAIN_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*|0x[0-9a-fA-F]+)$")
_YAML11_INT = re.compile(r"^[-+]?(0b[01_]+|0[0-7_]+|0|[1-9][0-9_]*|0x[0-9a-fA-F_]+|[1-9][0-9_]*(:[0-5]?[0-9])+)$")


def _yaml11_surprise(node: yaml.ScalarNode) -> str | None:
    """Plain scalars that YAML 1.1 reads as numbers nobody meant: ``010`` is 8, ``1:00`` is 60, ``1_0`` is 10."""
    if node.style:  # quoted: a string (a plain scalar has style None, or "" from libyaml)
        return None
    if node.tag == "tag:yaml.org,2002:int" and _YAML11_INT.match(node.value) and not _PLAIN_INT.match(node.value):
        return f"ambiguous number '{node.value}' (YAML 1.1 reads it as octal, base 60 or with '_'); write it plainly"
    if node.tag == "tag:yaml.org,2002:float" and ":" in node.value:
        return f"ambiguous number '{node.value}' (YAML 1.1 reads it as base 60); write it plainly"
    return None


def _show_tag(tag: str) -> str:
    return "'!!" + tag.removeprefix("tag:yaml.org,2002:") + "'" if tag.startswith("tag:yaml.org,2002:") else f"'{tag}'"


_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", None)


def _compose(text: str) -> yaml.Node | None:
    """Compose with libyaml when PyYAML has it (about 15× faster); on any problem, compose again with the
    pure-Python loader, whose error messages are the ones we report. Both give the same marks."""
    if _FAST_LOADER is not None:
        try:
            node: yaml.Node | None = yaml.compose(text, Loader=_FAST_LOADER)
            return node
        except (yaml.YAMLError, RecursionError):
            pass
    result: yaml.Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
    return result


def parse_yaml(text: str | bytes, file: str | None = None) -> Document:
    """Parse one YAML document safely into plain data with marks.

    Raises:
        SpecError: on bad YAML, unsupported tags, duplicate keys, size limits, or a non-mapping top level.
    """
    top = Mark(file, 1, 1)
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise SpecError.single(f"file is too large ({len(text)} bytes; the limit is {MAX_BYTES})", mark=top)
        if b"\x00" in text:
            raise SpecError.single("file is binary, not YAML text", mark=top)
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SpecError.single(f"file is not valid UTF-8 (byte {exc.start})", mark=top) from None
    if len(text) > MAX_BYTES:
        raise SpecError.single(f"text is too large ({len(text)} characters; the limit is {MAX_BYTES})", mark=top)
    text = text.removeprefix("\ufeff")
    try:
        node = _compose(text)
    except RecursionError:
        raise SpecError.single("the YAML nests too deeply", mark=top) from None
    except yaml.MarkedYAMLError as exc:
        m = exc.problem_mark or exc.context_mark
        mark = Mark(file, m.line + 1, m.column + 1) if m else top
        problem = exc.problem or exc.context or "invalid YAML"
        raise SpecError.single(f"invalid YAML: {problem}", mark=mark) from None
    except yaml.reader.ReaderError as exc:
        before = text[: exc.position]
        line, col = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        raise SpecError.single(
            f"invalid YAML: unacceptable character #x{ord(char):04x}: control characters are not allowed",
            mark=Mark(file, line, col),
        ) from None
    except yaml.YAMLError as exc:
        raise SpecError.single(f"invalid YAML: {' '.join(str(exc).split())}", mark=top) from None
    if node is None:
        raise SpecError.single("the spec is empty: expected a mapping with at least 'stages'", mark=top)
    walker = _Walker(file)
    try:
        data = walker.walk(node, (), 0)
    except _Limit as exc:
        raise SpecError.single(str(exc), mark=walker.mark(node)) from None
    except RecursionError:
        raise SpecError.single("the YAML nests too deeply", mark=top) from None
    if walker.issues:
        raise SpecError(walker.issues)
    if not isinstance(data, dict):
        raise SpecError.single(f"the top level must be a mapping, not {_type_name(data)}", mark=walker.mark(node))
    return Document(data, walker.source, file)


def read_file(path: str | os.PathLike[str], *, shown: str | None = None) -> Document:
    """Read and parse a spec file (size-capped, UTF-8, safe YAML).

    Args:
        path: the file.
        shown: how messages name the file (default: ``path`` as given).
    """
    p = FsPath(path)
    shown = shown or str(path)
    top = Mark(shown, 1, 1)
    try:
        st = p.stat()
        if stat.S_ISDIR(st.st_mode):
            raise SpecError.single("is a directory, not a spec file", mark=top)
        if not stat.S_ISREG(st.st_mode):  # a FIFO or /dev/zero would block or never end
            raise SpecError.single("is not a regular file", mark=top)
        if st.st_size > MAX_BYTES:
            raise SpecError.single(f"file is too large ({st.st_size} bytes; the limit is {MAX_BYTES})", mark=top)
        with p.open("rb") as f:
            # at most one byte past the limit (the file may have grown since stat); sized by stat, because a
            # 1 MiB read buffer would raise the allocator's mmap threshold and slow every later large allocation
            raw = f.read(min(st.st_size, MAX_BYTES) + 1)
            if len(raw) > st.st_size:
                raw += f.read(MAX_BYTES + 1 - len(raw))
    except FileNotFoundError:
        raise SpecError.single("no such file", mark=top) from None
    except OSError as exc:
        raise SpecError.single(f"cannot read file: {exc.strerror or exc}", mark=top) from None
    return parse_yaml(raw, shown)


# --- presets -------------------------------------------------------------------------------------


def preset_dir() -> FsPath:
    """Folder of bundled presets: inside the installed package, or ``specs/`` of a source checkout."""
    here = FsPath(__file__).resolve().parent
    bundled = here / "specs"
    return bundled if bundled.is_dir() else here.parent / "specs"


@cache
def preset_names() -> tuple[str, ...]:
    """Names of the bundled presets, sorted."""
    return tuple(sorted(p.stem for p in preset_dir().glob("*.yaml")))


def preset_display(name: str) -> str:
    """How marks name a bundled preset's file: ``preset 'resnet50'``, never a path (an installed package's
    folder is nobody's business, and ``specs/`` exists only in a source checkout)."""
    return f"preset '{name}'"


def preset_of_display(file: str | None) -> str | None:
    """The preset a mark's file names (see :func:`preset_display`), else ``None``."""
    m = _PRESET_DISPLAY.match(file or "")
    return m[1] if m else None


_PRESET_DISPLAY = re.compile(r"^preset '([A-Za-z0-9_]+)'$")


def preset_path(name: str) -> FsPath:
    if name not in preset_names():
        raise SpecError.single(f"unknown preset '{name}'{did_you_mean(name, preset_names())}")
    return preset_dir() / f"{name}.yaml"


def did_you_mean(word: str, choices: Any) -> str:
    """``" (did you mean 'x'?)"`` for the closest choice, or ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


# --- extends -------------------------------------------------------------------------------------


def _merge(base: Any, over: Any, bsrc: SourceMap, osrc: SourceMap, out: SourceMap, path: Path) -> Any:
    """Deep-merge ``over`` onto ``base``: mappings merge key by key; anything else is replaced."""
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
    if _PRESET_RE.match(base_ref) and base_ref in preset_names():
        target = preset_dir() / f"{base_ref}.yaml"
        shown = preset_display(base_ref)
    else:
        rel = FsPath(doc.file).parent if doc.file else FsPath.cwd()
        target = rel / base_ref
        if not _is_file(target):
            hint = did_you_mean(base_ref, preset_names()) if _PRESET_RE.match(base_ref) else ""
            raise SpecError.single(
                f"'{base_ref}' is neither a preset nor a spec file{hint}", path=("extends",), mark=mark
            )
    key = str(target.resolve())
    if key in _seen:
        raise SpecError.single(f"extends cycle through '{base_ref}'", path=("extends",), mark=mark)
    base = resolve_extends(read_file(target, shown=shown), _seen=(*_seen, key))
    child = {k: v for k, v in doc.data.items() if k != "extends"}
    out = SourceMap()
    data = _merge(base.data, child, base.source, doc.source, out, ())
    return Document(data, out, doc.file, via=mark)


# --- to a Spec -----------------------------------------------------------------------------------


def load_document(source: Any) -> Document:
    """A path, YAML text, preset name or mapping → :class:`Document` (extends applied)."""
    return resolve_extends(read_source(source))


def read_source(source: Any) -> Document:
    """A path, YAML text, preset name or mapping → :class:`Document`, as written (``extends`` not applied)."""
    if isinstance(source, Mapping):
        doc = Document(dict(source), SourceMap(), None)
    elif isinstance(source, os.PathLike):
        doc = read_file(source)
    elif isinstance(source, str):
        s = source.strip()
        if _PRESET_RE.match(s) and s in preset_names():
            doc = read_file(preset_path(s), shown=preset_display(s))
        elif s.endswith((".yaml", ".yml")) and "\n" not in s:
            doc = read_file(s)
        elif "\n" in s or ":" in s or "{" in s:
            doc = parse_yaml(source)
        elif os.path.exists(s) or "/" in s or os.sep in s or "." in s:
            doc = read_file(s)  # a path: say what is wrong with it, not that no preset has that name
        else:
            raise SpecError.single(f"unknown preset '{s}'{did_you_mean(s, preset_names())}")
    elif isinstance(source, bytes):
        doc = parse_yaml(source)
    else:
        raise TypeError(f"expected a Spec, a mapping, YAML text, a path or a preset name, got {type(source).__name__}")
    return doc


def load_spec(source: Any) -> Spec:
    """Load and validate a spec.

    Args:
        source: a :class:`~resnetdsl.spec.Spec`, a mapping, YAML text, a path to a YAML file, or a preset name.

    Raises:
        SpecError: listing every problem found (schema and semantics), with file:line:col where known.
    """
    from resnetdsl.spec import Spec

    if isinstance(source, Spec):
        return source
    doc = load_document(source)
    return spec_from_document(doc)


def spec_from_document(doc: Document) -> Spec:
    from pydantic import ValidationError

    from resnetdsl.spec import Spec

    try:
        spec = Spec.model_validate(doc.data)
    except ValidationError as exc:
        raise SpecError(issues_from_pydantic(exc, doc.source)) from None
    spec._source = doc.source
    spec._file = doc.file
    spec._via = doc.via
    return spec


# --- pydantic errors in our words -----------------------------------------------------------------

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


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "null"
    return type(value).__name__


def _got(value: Any) -> str:
    """``an integer 3``, ``a string '3'``; just ``null``, ``a mapping`` or ``a list`` where the value adds nothing."""
    kind = _type_name(value)
    return kind if value is None or isinstance(value, (dict, list)) else f"{kind} {_show(value)}"


def _allowed_keys(model: Any, path: Path) -> list[str]:
    """Field names of the model at ``path`` (for did-you-mean on unknown keys)."""
    from pydantic import BaseModel

    from resnetdsl.spec import model_at

    m = model_at(path)
    if m is None or not (isinstance(m, type) and issubclass(m, BaseModel)):
        return []
    return list(m.model_fields)


def issues_from_pydantic(exc: ValidationError, source: SourceMap) -> list[Issue]:
    """Turn a pydantic ``ValidationError`` into issues with our paths, words and marks."""
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
                msg = f"unknown key '{key}'{did_you_mean(key, allowed)}"
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
        elif etype in ("int_type", "int_parsing", "int_from_float"):
            msg = f"must be an integer (got {_got(inp)})"
        elif etype in ("float_type", "float_parsing"):
            msg = f"must be a number (got {_got(inp)})"
        elif etype in ("bool_type", "bool_parsing"):
            msg = f"must be true or false (got {_got(inp)})"
        elif etype in ("string_type",):
            msg = f"must be a string (got {_got(inp)})"
        elif etype in ("model_type", "model_attributes_type", "dict_type"):
            msg = f"must be a mapping (got {_got(inp)})"
        elif etype in ("list_type", "tuple_type"):
            msg = f"must be a list (got {_got(inp)})"
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
            msg = f"must be 'none' or a mapping (got {_show(inp)})"
        elif etype == "value_error":
            msg = str(ctx.get("error", err["msg"]))
        else:
            msg = err["msg"][0].lower() + err["msg"][1:]
        if (path, msg) in seen:
            continue
        seen.add((path, msg))
        issues.append(Issue(path, msg, source.mark_for(path, key=key_mark)))
    return issues
