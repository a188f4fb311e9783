"""``@record`` makes what ``@dataclass(frozen=True, slots=True)`` makes: each behaviour side by side with one."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import marshal
import os
import pickle
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from resnetdsl import plan as P
from resnetdsl.records import record
from tests.conftest import ROOT


@record
class Rec:
    """A record."""

    name: str
    size: int
    dims: tuple[int, ...] = ()
    rate: float | None = None

    @property
    def twice(self) -> int:
        return 2 * self.size


@dataclass(frozen=True, slots=True)
class Ref:
    name: str
    size: int
    dims: tuple[int, ...] = ()
    rate: float | None = None


def _pair(*args: object, **kwargs: object) -> tuple[Rec, Ref]:
    return Rec(*args, **kwargs), Ref(*args, **kwargs)  # type: ignore[arg-type]


def test_a_record_behaves_as_the_frozen_slotted_dataclass() -> None:
    rec, ref = _pair("a", 3, dims=(1, 2))
    assert repr(rec) == repr(ref).replace("Ref(", "Rec(") == "Rec(name='a', size=3, dims=(1, 2), rate=None)"
    assert rec == Rec("a", 3, (1, 2)) and rec != Rec("a", 4, (1, 2)) and rec != ref
    assert hash(rec) == hash(Rec("a", 3, (1, 2))) and len({rec, Rec("a", 3, (1, 2)), Rec("b", 3)}) == 2
    assert Rec.__slots__ == Ref.__slots__ == Rec.__match_args__ == ("name", "size", "dims", "rate")
    assert not hasattr(rec, "__dict__") and rec.twice == 6 and Rec.__doc__ == "A record."
    assert str(inspect.signature(Rec)) == str(inspect.signature(Ref))
    assert Rec.__init__.__qualname__ == "Rec.__init__"
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'size'"):
        rec.size = 4  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'size'"):
        del rec.size  # type: ignore[misc]
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'size'"):
        Rec("a")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        Rec("a", 1, colour=2)  # type: ignore[call-arg]


def test_the_standard_library_sees_a_dataclass() -> None:
    rec, ref = _pair("a", 3, rate=0.5)
    assert dataclasses.is_dataclass(rec) and dataclasses.is_dataclass(Rec)
    assert [(f.name, f.type, f.default) for f in dataclasses.fields(rec)] == [
        (f.name, f.type, f.default) for f in dataclasses.fields(ref)
    ]
    assert dataclasses.asdict(rec) == dataclasses.asdict(ref) == {"name": "a", "size": 3, "dims": (), "rate": 0.5}
    assert dataclasses.replace(rec, size=5) == Rec("a", 5, rate=0.5)
    assert dataclasses.astuple(rec) == ("a", 3, (), 0.5)
    for copied in (pickle.loads(pickle.dumps(rec)), copy.copy(rec), copy.deepcopy(rec)):
        assert copied == rec and copied is not rec
    match rec:
        case Rec(name, size):
            assert (name, size) == ("a", 3)


def test_what_record_does_not_make_itself_is_a_dataclass_all_the_same() -> None:
    @record
    class WithFactory:
        items: tuple[int, ...] = dataclasses.field(default_factory=tuple)

    @record
    class WithPostInit:
        n: int

        def __post_init__(self) -> None:
            object.__setattr__(self, "n", self.n + 1)

    assert WithFactory().items == () and WithPostInit(1).n == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        WithPostInit(1).n = 3  # type: ignore[misc]
    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):

        @record
        class Misordered:
            a: int = 0
            b: int  # type: ignore[misc]


def test_the_plan_records_are_records() -> None:
    conv = P.Conv("conv1", 3, 64, 7, stride=2, padding=3)
    assert dataclasses.replace(conv, stride=1) == P.Conv("conv1", 3, 64, 7, padding=3)
    assert repr(conv).startswith("Conv(name='conv1', in_channels=3, out_channels=64, kernel_size=7, stride=2")
    assert not hasattr(conv, "__dict__") and pickle.loads(pickle.dumps(conv)) == conv


def test_the_written_methods_come_on_first_use_whichever_it_is() -> None:
    def fresh() -> type:
        @record
        class Late:
            a: int
            b: str = "x"

        return Late

    late = fresh()
    assert f"Late{inspect.signature(late)}" == "Late(a: 'int', b: 'str' = 'x') -> None"  # signature first
    late = fresh()
    made = late.__new__(late)
    made.__setstate__([1, "y"])  # as pickle and copy make one: no __init__
    assert made == late(1, "y") and hash(made) == hash(late(1, "y")) and repr(made).endswith(".Late(a=1, b='y')")
    late = fresh()
    assert repr(late(2)).endswith(".Late(a=2, b='x')") and type(late.__dict__["__eq__"]).__name__ == "function"

    class Sub(fresh()):  # type: ignore[misc]
        pass

    assert Sub(3) == Sub(3) and repr(Sub(3)).endswith(".Sub(a=3, b='x')")

    @dataclass(frozen=True)
    class Extended(fresh()):  # type: ignore[misc]  # a dataclass extending a record: its fields first, in order
        c: int = 0

    assert [f.name for f in dataclasses.fields(Extended)] == ["a", "b", "c"] and Extended(1, "y", 2).c == 2
    assert repr(Rec.__dataclass_params__) == repr(Ref.__dataclass_params__)  # no __eq__ of its own


# --- the compiled methods, kept beside the byte-code ---------------------------------------------------------

_COMPILES = """
import builtins, sys
made = []
real = builtins.compile
def counting(source, filename, *args, **kwargs):
    if filename == "<record>":
        made.append(source)
    return real(source, filename, *args, **kwargs)
builtins.compile = counting
from resnetdsl.check import check
checked = check("resnet50")
print(len(made), checked.analysis.totals.params)
"""


def _compiles(cache: Path, *, write: bool = True) -> tuple[int, int]:
    """How many record methods a fresh process checking resnet50 compiles, and the parameters it counts."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    if not write:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    done = subprocess.run([sys.executable, "-c", _COMPILES], capture_output=True, text=True, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr
    made, params = done.stdout.split()
    return int(made), int(params)


def _codes(cache: Path) -> list[Path]:
    return sorted(cache.rglob("records.*.methods.marshal"))


def test_a_later_process_reads_the_methods_an_earlier_one_compiled(tmp_path: Path) -> None:
    made, params = _compiles(tmp_path)
    assert made > 10 and params == 25_557_032 and len(_codes(tmp_path)) == 1
    stamp = _codes(tmp_path)[0].stat().st_mtime_ns
    assert _compiles(tmp_path) == (0, params)  # the same methods, none compiled
    assert _codes(tmp_path)[0].stat().st_mtime_ns == stamp  # and the file not written again


def test_a_file_that_does_not_match_is_compiled_again(tmp_path: Path) -> None:
    made, params = _compiles(tmp_path)
    path = _codes(tmp_path)[0]
    key, codes = marshal.loads(path.read_bytes())
    path.write_bytes(marshal.dumps(((*key[:-1], ("records.py", 0, 0)), codes)))  # another records.py
    assert _compiles(tmp_path) == (made, params)
    path.write_bytes(b"not marshal data")
    assert _compiles(tmp_path) == (made, params)
    assert marshal.loads(path.read_bytes())[0] == key  # rewritten whole


def test_no_methods_file_where_python_writes_no_byte_code(tmp_path: Path) -> None:
    assert _compiles(tmp_path, write=False)[0] > 10
    assert _codes(tmp_path) == []
