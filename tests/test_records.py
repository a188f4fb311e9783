"""``@record`` makes what ``@dataclass(frozen=True, slots=True)`` makes: each behaviour side by side with one."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from dataclasses import dataclass

import pytest

from resnetdsl import plan as P
from resnetdsl.records import record


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
