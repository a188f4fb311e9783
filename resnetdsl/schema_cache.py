"""What the spec's pydantic models derive, kept beside the package's byte-code: the core schema their validator
is built from, and the JSON Schema text.

Every command that checks a spec builds the validator of :class:`~resnetdsl.spec.Spec` first: pydantic generates
its core schema from fifteen model classes, a tenth of a command's start. Both schemas depend only on the
models' source and on the installed pydantic, so the first process writes them and later ones read them back,
under the rules Python keeps its byte-code by:

- the files lie in the ``__pycache__`` folder beside ``spec.py`` (or under ``PYTHONPYCACHEPREFIX``), named with
  the interpreter's cache tag;
- nothing is written where Python writes no byte-code (``PYTHONDONTWRITEBYTECODE``, ``-B``), or into a folder
  that cannot be written (a read-only install simply builds each time);
- a file is used only when the key stored in it matches: the size and modification time of every source file
  the schema is made from, and of the installed pydantic and pydantic-core, as a ``.pyc`` is checked against
  its source. A stale, unreadable or foreign file is ignored and rewritten; a write goes to a temporary file that
  replaces the old one, so no process reads half a file.

The files hold pickles written by this package into its own byte-code folder, which holds code Python runs
anyway.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

SPEC_SOURCES = (
    *("spec.py", "regnet.py", "vocab.py", "field_docs.py", "errors.py", "text.py", "records.py", "schema_cache.py"),
)
"""The modules of this package the spec's models are made from (a test keeps this list complete: every module of
ours that importing :mod:`resnetdsl.spec` loads is in it)."""
JSON_SOURCES = (*SPEC_SOURCES, "validate.py")
"""The JSON Schema is the models' schema as :func:`resnetdsl.validate.export_schema` shapes it."""
_PACKAGES = ("pydantic", "pydantic_core")
_HERE = os.path.dirname(os.path.abspath(__file__))

_settled: set[str] = set()
"""The kinds this process read from the cache or wrote to it (not written again)."""


def cache_file(kind: str, module: str = "spec", ext: str = "pickle") -> str | None:
    """Where the cache of ``kind`` lies, beside ``module``'s byte-code (``None`` where this interpreter keeps no
    byte-code)."""
    tag = sys.implementation.cache_tag
    if tag is None:
        return None
    from importlib.util import cache_from_source

    folder = os.path.dirname(cache_from_source(os.path.join(_HERE, f"{module}.py")))
    return os.path.join(folder, f"{module}.{tag}.{kind}.{ext}")


def key(sources: tuple[str, ...], packages: tuple[str, ...] = _PACKAGES) -> tuple[Any, ...] | None:
    """What a cache made from ``sources`` (this package's modules) and ``packages`` (installed ones) is valid
    for: the Python version, and each file's size and modification time; ``None`` when one cannot be read."""
    parts: list[Any] = [sys.version]
    try:
        for name in sources:
            st = os.stat(os.path.join(_HERE, name))
            parts.append((name, st.st_mtime_ns, st.st_size))
        from importlib.util import find_spec

        for package in packages:
            found = find_spec(package)
            origin = found.origin if found is not None else None
            if origin is None:
                return None
            st = os.stat(origin)
            parts.append((package, origin, st.st_mtime_ns, st.st_size))
    except (OSError, ImportError, ValueError):
        return None
    return tuple(parts)


def read_keyed(path: str | None, valid: tuple[Any, ...] | None, loads: Callable[[bytes], Any]) -> Any:
    """What the cache file at ``path`` holds, when the key stored with it equals ``valid``; ``None`` otherwise (no
    file, another key, unreadable). ``loads`` is the file's format (``pickle.loads``, ``marshal.loads``)."""
    if path is None or valid is None:
        return None
    try:
        with open(path, "rb") as f:
            stored_key, value = loads(f.read())  # read whole: load(f) reads a file in small pieces, 8× slower
    except Exception:  # a missing, truncated or foreign file: build instead
        return None
    return value if stored_key == valid else None


def write_keyed(path: str | None, valid: tuple[Any, ...] | None, value: Any, dumps: Callable[[Any], bytes]) -> bool:
    """Keep ``value`` with its key ``valid`` at ``path`` in the format ``dumps`` writes, through a temporary file
    that replaces the old one; ``False`` (nothing written) where Python writes no byte-code, where the folder cannot
    be written (a read-only install, a full disk) or where the value does not serialise."""
    if path is None or valid is None or sys.dont_write_bytecode:
        return False
    from resnetdsl.io import atomic_write_bytes

    try:
        data = dumps((valid, value))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write_bytes(path, data)
    except Exception:  # OutputError, or a value that does not serialise: build again next time
        return False
    return True


def load(kind: str, sources: tuple[str, ...] = SPEC_SOURCES) -> Any:
    """What :func:`store` kept for ``kind``, or ``None`` (no file, another key, unreadable)."""
    import pickle

    value = read_keyed(cache_file(kind), key(sources), pickle.loads)
    if value is not None:
        _settled.add(kind)
    return value


def store(kind: str, value: Any, sources: tuple[str, ...] = SPEC_SOURCES) -> None:
    """Keep ``value`` for ``kind``, unless this process read it from the cache, Python writes no byte-code, or
    the folder cannot be written (then nothing happens)."""
    if kind in _settled or sys.dont_write_bytecode:  # (the early out spares the key's file checks)
        return
    import pickle

    if write_keyed(cache_file(kind), key(sources), value, lambda v: pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL)):
        _settled.add(kind)
