"""YAML → plain data with source marks: the safe reader, its limits, and :class:`Document`.

YAML is read safely: only the core tags (map, seq, str, int, float, bool, null), duplicate keys are errors,
alias expansion and nesting are bounded, and the file size is capped.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path as FsPath
from typing import Any

import yaml

from resnetdsl.errors import Issue, Mark, Path, SpecError
from resnetdsl.load.document import Document, ParsedSourceMap
from resnetdsl.load.lines import Lines
from resnetdsl.load.messages import type_name
from resnetdsl.load.presets import nearby_hint
from resnetdsl.text import unsafe_char

MAX_BYTES = 1 << 20
"""Largest spec file accepted (1 MiB)."""
MAX_NODES = 100_000
"""Most YAML nodes visited, aliases counted each time they are used (bounds alias bombs)."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and sequences."""

_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_SCALAR_TAGS = {_STR, _INT, _FLOAT, _BOOL, _NULL}
_TEXT_TAGS = {"tag:yaml.org,2002:timestamp"}  # an explicit `!!timestamp`: kept as the text the user wrote
_TOO_MANY = (
    f"the YAML expands to more than {MAX_NODES} nodes (aliases counted each time they are used); "
    "refusing it as a possible alias bomb"
)


_SCALAR_NODE, _SEQUENCE_NODE = yaml.ScalarNode, yaml.SequenceNode


class _CoreResolver(yaml.resolver.BaseResolver):
    """Plain scalars resolved as the YAML 1.2 core schema reads them (``1e-3`` a float, ``0o10`` 8, ``yes`` and
    ``=`` strings, no timestamps), plus ``<<`` for merge keys. Used by both the libyaml and the Python loader."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is _SCALAR_NODE:
            if not implicit[0] or (value and value[0] not in _FIRST):
                return _STR  # most keys and words: no regex needed
            if value.isdigit() and value.isascii():
                return _INT  # what the int pattern says of plain digits, first of the patterns tried for them
            return str(super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]
        return _SEQ if kind is _SEQUENCE_NODE else _MAP


_CoreResolver.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_CoreResolver.add_implicit_resolver(
    _INT, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
_CoreResolver.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
_CoreResolver.add_implicit_resolver(_NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_CoreResolver.add_implicit_resolver(_MERGE, re.compile(r"^<<$"), ["<"])
_FIRST = frozenset(_CoreResolver.yaml_implicit_resolvers)
_PLAIN = _CoreResolver()


def reads_as_text(text: str) -> bool:
    """``text`` written as a plain (unquoted) scalar is read back as that string, not as a number, a boolean,
    null or a merge key (what a YAML writer must quote for this loader)."""
    return bool(_PLAIN.resolve(yaml.ScalarNode, text, (True, False)) == _STR)


class _PyLoader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer, _CoreResolver):
    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _CoreResolver.__init__(self)


_CLoader: Any = None
try:
    from yaml.cyaml import CParser as _CParser  # type: ignore[attr-defined]
except ImportError:  # PyYAML built without libyaml
    pass
else:

    class _CLoader(_CParser, _CoreResolver):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            _CoreResolver.__init__(self)


class _Limit(Exception):
    pass


def forbidden_message(what: str) -> str:
    """What is said about a character a spec may not contain (``what`` from :func:`~resnetdsl.text.unsafe_char`)."""
    return f"{what} is not allowed in a spec; remove it"


class _YamlNodeWalker:
    """Walks a composed YAML node tree into plain data: marks every value and key, reports what a spec may not
    hold (tags, duplicate keys, forbidden characters, YAML 1.1 surprises), applies merge keys, counts nodes."""

    def __init__(self, file: str | None, lines: Lines) -> None:
        self.file = file
        self.lines = lines
        self.source = ParsedSourceMap(file)
        self.issues: list[Issue] = []
        self.count = 0
        self.constructor = yaml.SafeLoader("")
        self.merged: dict[int, list[tuple[yaml.Node, yaml.Node]]] = {}
        self.merging: set[int] = set()

    def mark(self, node: yaml.Node) -> Mark:
        m = node.start_mark
        return Mark(self.file, m.line + 1, m.column + 1)

    def unsafe(self, node: yaml.ScalarNode, path: Path) -> bool:
        """Report a character a spec may not contain, reached through an escape (``"\\x01"``, ``"\\ud800"``)."""
        bad = unsafe_char(node.value)
        if bad is None:
            return False
        start = self.lines.index(node.start_mark.line, node.start_mark.column)
        end = self.lines.index(node.end_mark.line, node.end_mark.column)
        from resnetdsl.load import syntax  # the error path only

        escape = syntax.find_escape(self.lines.text, start, end, node.value[bad[0]])
        if escape is not None and 0xD800 <= ord(node.value[bad[0]]) <= 0xDFFF:
            # the same words and place as when libyaml refuses the escape itself
            self.issues.append(
                Issue(
                    (),
                    "invalid YAML: " + syntax.surrogate_message(self.lines.text, escape),
                    self.lines.mark(self.file, escape),
                )
            )
            return True
        mark = self.lines.mark(self.file, escape) if escape is not None else self.mark(node)
        self.issues.append(Issue(path, forbidden_message(bad[1]), mark))
        return True

    def walk(self, node: yaml.Node, path: Path, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _Limit(_TOO_MANY)
        if depth > MAX_DEPTH:
            raise _Limit(f"the YAML nests deeper than {MAX_DEPTH} levels (or an alias refers to itself)")
        m = node.start_mark
        self.source.value_at[path] = (m.line, m.column)
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP:
                self.issues.append(Issue(path, f"unsupported YAML tag {_show_tag(node.tag)}", self.mark(node)))
                return None
            return self.mapping(node, path, depth)
        if node.tag != _SEQ:
            self.issues.append(Issue(path, f"unsupported YAML tag {_show_tag(node.tag)}", self.mark(node)))
            return None
        walk = self.walk
        return [walk(v, (*path, i), depth + 1) for i, v in enumerate(node.value)]

    def mapping(self, node: yaml.MappingNode, path: Path, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        key_at, walk = self.source.key_at, self.walk
        for k_node, v_node in self.pairs(node, path):
            if not isinstance(k_node, yaml.ScalarNode) or k_node.tag not in _SCALAR_TAGS:
                self.issues.append(Issue(path, "mapping keys must be plain strings", self.mark(k_node)))
                continue
            if k_node.style == '"' and self.unsafe(k_node, path):
                continue
            key = str(k_node.value)
            sub = (*path, key)
            if key in out:
                says = f"duplicate key '{key}' (first defined at line {key_at[sub][0] + 1})"
                self.issues.append(Issue(sub, says, self.mark(k_node)))
                continue
            m = k_node.start_mark
            key_at[sub] = (m.line, m.column)
            out[key] = walk(v_node, sub, depth + 1)
        return out

    def scalar(self, node: yaml.ScalarNode, path: Path) -> Any:
        """The value of a scalar. Only an escape of a double-quoted scalar can hold a character the check of the
        whole text has not seen (:func:`parse_yaml`)."""
        if node.style == '"' and self.unsafe(node, path):
            return None
        tag = node.tag
        if tag == _INT and _DECIMAL.match(node.value):
            return int(node.value)  # the common case (no leading zero: no surprise), without the constructor
        if tag in _TEXT_TAGS or tag == _MERGE:
            return node.value  # `<<` where a value is written is the text '<<'
        if tag not in _SCALAR_TAGS:
            self.issues.append(Issue(path, f"unsupported YAML tag {_show_tag(tag)}", self.mark(node)))
            return None
        surprise = self.yaml11_surprise(node)
        if surprise:
            self.issues.append(Issue(path, surprise, self.mark(node)))
            return None
        if tag == _BOOL and node.value.lower() not in ("true", "false"):
            return node.value  # `!!bool yes`: YAML 1.1 booleans, read as the words they are
        try:
            return self.constructor.construct_object(node)
        except (ValueError, KeyError, yaml.YAMLError):  # e.g. `!!int abc`, `!!bool maybe`, a 5000-digit integer
            shown = node.value if len(node.value) <= 40 else node.value[:40] + "…"
            self.issues.append(Issue(path, f"cannot read '{shown}' as {_show_tag(tag)}", self.mark(node)))
            return None

    def yaml11_surprise(self, node: yaml.ScalarNode) -> str | None:
        """A plain scalar that YAML 1.1 reads as another number than YAML 1.2 does (or as a number where YAML 1.2
        reads a string): ``010`` (1.1: octal 8), ``09``, ``1_0`` (1.1: 10), ``1:04`` (1.1: 64), ``0b101``."""
        v = node.value
        if node.style or len(v) > 100 or v[:1] not in _NUMBER_START:  # quoted: a string (plain: None, or "")
            return None
        if node.tag == _INT and _LEADING_ZERO.match(v):
            digits = v.lstrip("+-").lstrip("0") or "0"
            plain = ("-" if v.startswith("-") else "") + digits
            if _YAML11_INT.match(v):
                octal = self.constructor.construct_yaml_int(yaml.ScalarNode(_INT, v))
                return (
                    f"ambiguous number '{v}': YAML 1.1 reads it as octal {octal}, YAML 1.2 as {plain}; "
                    f"write {plain} (or 0o{digits} for octal)"
                )
            return f"ambiguous number '{v}': YAML 1.1 reads a leading 0 as octal, YAML 1.2 as {plain}; write {plain}"
        if node.tag == _STR and (_YAML11_INT.match(v) or _YAML11_FLOAT.match(v)):
            try:
                if _YAML11_INT.match(v):
                    value: Any = self.constructor.construct_yaml_int(yaml.ScalarNode(_INT, v))
                else:
                    value = self.constructor.construct_yaml_float(yaml.ScalarNode(_FLOAT, v))
            except (ValueError, OverflowError):
                return None
            how = " (base 60)" if ":" in v else " (binary)" if "0b" in v else ""
            text = ", or quote it for text" if ":" in v else ""
            return (
                f"ambiguous number '{v}': YAML 1.1 reads it as {value}{how}, YAML 1.2 as a string; write {value}{text}"
            )
        return None

    def pairs(self, node: yaml.MappingNode, path: Path) -> list[tuple[yaml.Node, yaml.Node]]:
        """The key/value nodes of a mapping with YAML merge keys (``<<``) applied.

        Keys written in the mapping win over merged ones, and earlier merged mappings over later ones (the YAML
        merge-key rules). Keys written twice are kept, for the caller to report as duplicates.
        """
        for k, _ in node.value:
            if k.tag == _MERGE:
                break
        else:
            pairs: list[tuple[yaml.Node, yaml.Node]] = node.value
            return pairs  # no merge key: the pairs as written (the common case)
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


_NUMBER_START = frozenset("-+.0123456789")
"""How every number of both YAML versions starts (the patterns below)."""
_LEADING_ZERO = re.compile(r"^[-+]?0[0-9]+$")
_DECIMAL = re.compile(r"^[-+]?(?:0|[1-9][0-9]{0,17})$")
_YAML11_INT = re.compile(r"^[-+]?(0b[01_]+|0[0-7_]+|0|[1-9][0-9_]*|0x[0-9a-fA-F_]+|[1-9][0-9_]*(:[0-5]?[0-9])+)$")
_YAML11_FLOAT = re.compile(
    r"^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?"
    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


def _show_tag(tag: str) -> str:
    return "'!!" + tag.removeprefix("tag:yaml.org,2002:") + "'" if tag.startswith("tag:yaml.org,2002:") else f"'{tag}'"


def _compose(text: str) -> yaml.Node | None:
    """Compose with libyaml when PyYAML has it (about 15× faster), else with the pure-Python loader. Either way
    a syntax error is reported from that one parse (:mod:`.syntax` puts both loaders' words into ours)."""
    loader = (_CLoader if _CLoader is not None and not _PURE_PYTHON else _PyLoader)(text)
    try:
        node: yaml.Node | None = loader.get_single_node()
        return node
    finally:
        loader.dispose()


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """A node tree of 1 MiB is ~10^5 linked objects, made in one go: the cycle collector would rescan it again and
    again (4× the time of the parse itself); nothing made here is garbage until the tree is dropped."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


_PURE_PYTHON = False
"""Tests set this to check the pure-Python loader gives the same messages."""


def parse_yaml(text: str | bytes, file: str | None = None) -> Document:
    """Parse one YAML document safely into plain data with marks.

    Raises:
        SpecError: on bad YAML, unsupported tags, duplicate keys, size limits, or a non-mapping top level.
    """
    whole = Mark(file)  # problems of the whole text have no line
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise SpecError.single(f"file is too large ({len(text)} bytes; the limit is {MAX_BYTES})", mark=whole)
        if b"\x00" in text:
            raise SpecError.single("file is binary, not YAML text", mark=whole)
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SpecError.single(_not_utf8(exc), mark=_byte_mark(exc.object, exc.start, file)) from None
    if len(text) > MAX_BYTES:
        raise SpecError.single(f"text is too large ({len(text)} characters; the limit is {MAX_BYTES})", mark=whole)
    text = text.removeprefix("\ufeff")
    lines = Lines(text)
    bad = unsafe_char(text)  # an ASCII text is searched with the small ASCII class only (resnetdsl.text)
    if bad is not None:  # before the parser: its reader would refuse some with other words, or fail to encode
        raise SpecError.single(forbidden_message(bad[1]), mark=lines.mark(file, bad[0]))
    with _no_cycle_collection():
        return _parse(text, file, lines)


def _not_utf8(exc: UnicodeDecodeError) -> str:
    byte = exc.object[exc.start]
    return f"file is not valid UTF-8 (byte {exc.start}, 0x{byte:02x}); save it as UTF-8"


def _byte_mark(raw: bytes, at: int, file: str | None) -> Mark:
    """The mark of the byte at ``at``: line and column of the character it would start, counted in the valid
    text before it (as the parser would count them)."""
    before = raw[:at].decode("utf-8", "replace").removeprefix("\ufeff")
    return Lines(before).mark(file, len(before))


def _parse(text: str, file: str | None, lines: Lines) -> Document:
    whole = Mark(file)
    try:
        node = _compose(text)
    except RecursionError:
        raise SpecError.single("the YAML nests too deeply", mark=whole) from None
    except yaml.MarkedYAMLError as exc:
        from resnetdsl.load import syntax  # explains errors: imported when there is one

        message, (line, col) = syntax.explain(exc, lines)
        if "nesting depth" in message:  # libyaml's own bound (1000 levels), before Python's recursion limit
            raise SpecError.single("the YAML nests too deeply", mark=Mark(file, line, col)) from None
        raise SpecError.single(f"invalid YAML: {message}", mark=Mark(file, line, col)) from None
    except yaml.YAMLError as exc:
        raise SpecError.single(f"invalid YAML: {' '.join(str(exc).split())}", mark=whole) from None
    except ValueError:  # the pure-Python scanner meeting an escape beyond U+10FFFF ('\U00110000')
        from resnetdsl.load import syntax

        at = syntax.find_bad_escape(text)
        if at is None:
            raise
        raise SpecError.single(
            f"invalid YAML: {syntax.surrogate_message(text, at)}", mark=lines.mark(file, at)
        ) from None
    if node is None:
        raise SpecError.single("the spec is empty: expected a mapping with at least 'stages'", mark=whole)
    walker = _YamlNodeWalker(file, lines)
    try:
        data = walker.walk(node, (), 0)
    except _Limit as exc:
        raise SpecError.single(str(exc), mark=walker.mark(node)) from None
    except RecursionError:
        raise SpecError.single("the YAML nests too deeply", mark=whole) from None
    if walker.issues:
        raise SpecError(walker.issues)
    if not isinstance(data, dict):
        from resnetdsl.load.syntax import missing_space_hint

        hint = missing_space_hint(data) if isinstance(data, str) else ""
        raise SpecError.single(f"the top level must be a mapping, not {type_name(data)}{hint}", mark=walker.mark(node))
    return Document(data, walker.source, file)


def read_file(path: str | os.PathLike[str], *, shown: str | None = None) -> Document:
    """Read and parse a spec file (size-capped, UTF-8, safe YAML).

    Args:
        path: the file.
        shown: how messages name the file (default: ``path`` as given).
    """
    p = FsPath(path)
    shown = shown or str(path)
    whole = Mark(shown)
    try:
        st = p.stat()
        if stat.S_ISDIR(st.st_mode):
            raise SpecError.single("is a directory, not a spec file", mark=whole)
        if not stat.S_ISREG(st.st_mode):  # a FIFO or /dev/zero would block or never end
            raise SpecError.single("is not a regular file", mark=whole)
        if st.st_size > MAX_BYTES:
            raise SpecError.single(f"file is too large ({st.st_size} bytes; the limit is {MAX_BYTES})", mark=whole)
        with p.open("rb") as f:
            # at most one byte past the limit (the file may have grown since stat); sized by stat, because a
            # 1 MiB read buffer would raise the allocator's mmap threshold and slow every later large allocation
            raw = f.read(min(st.st_size, MAX_BYTES) + 1)
            if len(raw) > st.st_size:
                raw += f.read(MAX_BYTES + 1 - len(raw))
    except FileNotFoundError:
        raise SpecError.single(f"no such file{nearby_hint(shown)}", mark=whole) from None
    except OSError as exc:
        raise SpecError.single(f"cannot read file: {exc.strerror or exc}", mark=whole) from None
    return parse_yaml(raw, shown)
