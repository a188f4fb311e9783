"""YAML → plain data with source marks: the safe reader, its limits, and :class:`Document`.

YAML is read safely: only the core tags (map, seq, str, int, float, bool, null), duplicate keys are errors,
alias expansion and nesting are bounded, and the file size is capped.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import yaml

from resnetdsl.errors import Issue, Mark, Path, SpecError
from resnetdsl.load.messages import type_name

MAX_BYTES = 1 << 20
"""Largest spec file accepted (1 MiB)."""
MAX_NODES = 100_000
"""Most YAML nodes visited, aliases counted each time they are used (bounds alias bombs)."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and sequences."""

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
        raise SpecError.single(f"the top level must be a mapping, not {type_name(data)}", mark=walker.mark(node))
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
