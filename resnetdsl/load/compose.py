"""Presets, ``extends`` (a base deep-merged with the document that names it), and a document → :class:`Spec`."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any

from resnetdsl.errors import Path, SpecError
from resnetdsl.load.messages import did_you_mean, issues_from_pydantic
from resnetdsl.load.source import Document, SourceMap, nearby_hint, parse_yaml, read_file

if TYPE_CHECKING:
    from resnetdsl.spec import Spec

MAX_EXTENDS = 16
"""Longest ``extends`` chain."""
_PRESET_RE = re.compile(r"^[A-Za-z0-9_]+$")

# --- presets -------------------------------------------------------------------------------------


def preset_dir() -> FsPath:
    """Folder of bundled presets: inside the installed package, or ``specs/`` of a source checkout."""
    here = FsPath(__file__).resolve().parent.parent
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
