"""``@record``: what ``@dataclass(frozen=True, slots=True)`` makes, made in a fraction of its time.

The plan's op types, the analysis's results and the checker's issues are frozen, slotted dataclasses: some sixty
classes, which every command creates when it starts. On the Python versions this package supports,
:func:`dataclasses.dataclass` writes and compiles seven or eight methods for each such class, one ``exec`` each,
and rebuilds the class for its slots: most of a millisecond a class, a sizeable part of a command's start.
:func:`record` makes the same class and shares most methods among all records (frozen assignment, pickling);
the four that name the fields (``__init__``, ``__eq__``, ``__hash__``, ``__repr__``, written as dataclasses
writes them) come from one ``exec``, when one of them is first used.

What comes out is a dataclass to the standard library: :func:`dataclasses.fields`, :func:`~dataclasses.replace`,
:func:`~dataclasses.asdict` and :func:`~dataclasses.is_dataclass` work on it; instances are immutable
(:class:`dataclasses.FrozenInstanceError`), compare and hash by their fields in order, print as a dataclass
does, have ``__slots__`` and ``__match_args__``, and pickle. A class that needs more than that (a base class,
``field(...)``, ``ClassVar``/``InitVar``, ``__post_init__``), or a Python whose :mod:`dataclasses` lacks what
this relies on, gets :func:`dataclasses.dataclass` itself, so ``@record`` never changes what a class means.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
from collections.abc import Callable
from types import CodeType
from typing import TYPE_CHECKING, Any, TypeVar

T = TypeVar("T")

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**kwargs: Any) -> Callable[[T], T]:
        return lambda f: f


_MISSING = dataclasses.MISSING
_FIELD = getattr(dataclasses, "_FIELD", None)
_FULL = dataclasses.dataclass(frozen=True, slots=True)


class _Params:
    """Every record's ``__dataclass_params__`` (frozen, eq, init, repr; no order), made by :mod:`dataclasses`
    itself when it is first read (rarely: by a dataclass that extends a record)."""

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        global _MADE_PARAMS
        if _MADE_PARAMS is None:

            @_FULL
            class Made:
                pass

            _MADE_PARAMS = Made.__dataclass_params__  # type: ignore[attr-defined]
        return _MADE_PARAMS


_MADE_PARAMS: Any = None
_PARAMS = _Params()


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


def _getstate(self: Any) -> list[Any]:
    return [getattr(self, name) for name in self.__slots__]


def _setstate(self: Any, state: list[Any]) -> None:
    for name, value in zip(self.__slots__, state, strict=True):
        object.__setattr__(self, name, value)


def _plain(cls: type) -> bool:
    """``cls`` is what :func:`record` makes on its own (else :func:`dataclasses.dataclass` makes it)."""
    if _FIELD is None or cls.__bases__ != (object,) or "__post_init__" in cls.__dict__:
        return False
    annotations = inspect.get_annotations(cls)
    if not annotations or "__slots__" in cls.__dict__:
        return False
    for name, annotation in annotations.items():
        text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", repr(annotation))
        if "ClassVar" in text or "InitVar" in text or "KW_ONLY" in text:
            return False
        default = cls.__dict__.get(name, _MISSING)
        if isinstance(default, (dataclasses.Field, list, dict, set)) or name.startswith("__"):
            return False
    return True


@dataclass_transform(frozen_default=True)
def record(cls: type[T]) -> type[T]:
    """``@dataclass(frozen=True, slots=True)``, faster to make (see the module's docstring)."""
    if not _plain(cls):
        return _FULL(cls)
    annotations: dict[str, Any] = inspect.get_annotations(cls)
    names = tuple(annotations)
    defaults = {name: cls.__dict__[name] for name in names if name in cls.__dict__}
    seen_default = False
    for name in names:
        if name in defaults:
            seen_default = True
        elif seen_default:
            return _FULL(cls)  # dataclass's own error: a field without a default after one with
    fields = {}
    for name in names:
        f = dataclasses.field(default=defaults.get(name, _MISSING))
        f.name, f.type, f.kw_only = name, annotations[name], False
        f._field_type = _FIELD
        fields[name] = f

    namespace = {k: v for k, v in cls.__dict__.items() if k not in defaults and k not in ("__dict__", "__weakref__")}
    namespace.update(
        __slots__=names,
        __match_args__=names,
        __dataclass_fields__=fields,
        __dataclass_params__=_PARAMS,
        __setattr__=_frozen_setattr,
        __delattr__=_frozen_delattr,
        __getstate__=_getstate,
        __setstate__=_setstate,
    )
    pending = _Pending(annotations, defaults, [name for name in _WRITTEN if name not in cls.__dict__])
    namespace.update({name: _Lazy(name, pending) for name in pending.names})
    metaclass: Any = type(cls)
    made: type[T] = metaclass(cls.__name__, cls.__bases__, namespace)
    made.__qualname__ = cls.__qualname__
    pending.owner = made
    return made


_WRITTEN = ("__init__", "__eq__", "__hash__", "__repr__")


class _Pending:
    """What writing a record's methods needs, until they are written."""

    __slots__ = ("annotations", "defaults", "names", "owner")

    def __init__(self, annotations: dict[str, Any], defaults: dict[str, Any], names: list[str]) -> None:
        self.annotations, self.defaults, self.names = annotations, defaults, names
        self.owner: type | None = None

    def write(self) -> type:
        cls = self.owner
        assert cls is not None
        if any(isinstance(cls.__dict__.get(name), _Lazy) for name in self.names):
            for name, method in _methods(cls, self.annotations, self.defaults).items():
                if name in self.names:
                    setattr(cls, name, method)
        return cls


class _Lazy:
    """Stands for one of a record's written methods until one of them is first looked up (to make an instance,
    to compare, hash or print one, or by :func:`inspect.signature`): then all of them are written, with one
    ``exec``, and replace these. A module defines many records, and a command makes instances of few of them."""

    __slots__ = ("name", "pending")

    def __init__(self, name: str, pending: _Pending) -> None:
        self.name, self.pending = name, pending

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        method = self.pending.write().__dict__[self.name]
        return method.__get__(instance, owner)


def _methods(cls: type, annotations: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """``__init__``, ``__eq__``, ``__hash__`` and ``__repr__`` of ``cls``, as dataclasses writes them, from one
    ``exec``."""
    names = tuple(annotations)
    params = ", ".join(f"{n}=__default_{n}" if n in defaults else n for n in names)
    # each field through its slot's own descriptor: a third of the time of object.__setattr__ by name
    sets = "".join(f"    __set_{n}(self, {n})\n" for n in names)
    mine = "".join(f"self.{n}," for n in names)
    theirs = "".join(f"other.{n}," for n in names)
    shown = ", ".join(f"{n}={{self.{n}!r}}" for n in names)
    source = (
        f"def __init__(self, {params}):\n{sets}"
        f"def __eq__(self, other):\n"
        f"    if other.__class__ is self.__class__:\n        return ({mine}) == ({theirs})\n"
        f"    return NotImplemented\n"
        f"def __hash__(self):\n    return hash(({mine}))\n"
        f"def __repr__(self):\n    return f'{{self.__class__.__qualname__}}({shown})'\n"
    )
    scope: dict[str, Any] = {f"__default_{n}": v for n, v in defaults.items()}
    scope.update({f"__set_{n}": cls.__dict__[n].__set__ for n in names})
    exec(_compiled(source), scope)
    methods = {k: scope[k] for k in ("__init__", "__eq__", "__hash__", "__repr__")}
    for name, method in methods.items():
        method.__qualname__ = f"{cls.__qualname__}.{name}"
        method.__module__ = cls.__module__
    methods["__init__"].__annotations__ = {**annotations, "return": None}
    return methods


# --- the compiled methods, kept beside the byte-code ------------------------------------------------------------

_codes: dict[str, CodeType] | None = None
"""The code of each method source this process wrote, compiled or read back (``None`` until the first)."""


def _compiled(source: str) -> CodeType:
    """``source`` compiled, from the cache file when an earlier process compiled the same text.

    Compiling is most of what writing a record's methods costs (a command writes some twenty records' methods).
    The code depends on the text alone (the defaults and slot setters are in the ``exec``'s scope), so the file
    beside this module's byte-code (:func:`resnetdsl.schema_cache.cache_file`, under the rules Python keeps its
    byte-code by) maps each text to its code, for this Python version, as ``marshal`` writes ``.pyc`` files.

    A text the file lacks is compiled and the file written again at once (the first run of a command writes it
    some twenty times, a few milliseconds in all), not when the process exits: a server stopped by Ctrl-C, or a
    process that exits with daemon threads still running, has nothing left to do at exit."""
    global _codes
    if _codes is None:
        _codes = _read_codes()
    code = _codes.get(source)
    if code is None:
        code = _codes[source] = compile(source, "<record>", "exec")
        _write_codes()
    return code


def _codes_file() -> tuple[str | None, tuple[Any, ...] | None]:
    from resnetdsl import schema_cache

    return schema_cache.cache_file("methods", "records", "marshal"), schema_cache.key(("records.py",), ())


def _read_codes() -> dict[str, CodeType]:
    import marshal

    from resnetdsl import schema_cache

    codes = schema_cache.read_keyed(*_codes_file(), marshal.loads)
    return dict(codes) if isinstance(codes, dict) else {}


def _write_codes() -> None:
    """Keep the codes (what the file held and what this process added), unless Python writes no byte-code here."""
    import marshal

    from resnetdsl import schema_cache

    if _codes and not sys.dont_write_bytecode:  # (the early out spares reading the file back)
        held = {**_read_codes(), **_codes}  # another process may have added others meanwhile
        schema_cache.write_keyed(*_codes_file(), held, marshal.dumps)
