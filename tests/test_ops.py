"""Op types: every table covers every op type the plan declares, each op type is named in few modules, only the
walker reads a block's parts, and a test-only op type goes through exactly the places docs/architecture.md names."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import importlib.util
import re
import statistics
import typing
from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import resnetdsl
from resnetdsl import build_torch, walk
from resnetdsl import plan as P
from resnetdsl.analyze import analyze
from resnetdsl.export import ops as export_ops
from resnetdsl.export.python import to_python
from resnetdsl.importer import verify
from resnetdsl.memory import activation_report
from resnetdsl.ops import DESCRIPTIONS, describe
from resnetdsl.ops.base import STAT_BYTES, Entry, FoldRole, OpType, Tracker
from resnetdsl.ops.norm import NORM_FILL
from resnetdsl.passes import fuse
from resnetdsl.render.diagram import to_digraph
from resnetdsl.summary import summary_of
from tests.conftest import ROOT
from tests.family_helpers import load_exported_module

PACKAGE = ROOT / "resnetdsl"
OP_TYPES: tuple[type, ...] = typing.get_args(P.Op)
"""The op types the plan declares (its ``Op`` union)."""

TABLES: dict[str, Mapping[type, Any]] = {
    "resnetdsl.ops.DESCRIPTIONS": DESCRIPTIONS,
    "resnetdsl.build_torch.FACTORIES": build_torch.FACTORIES,
    "resnetdsl.export.ops.CONSTRUCTORS": export_ops.CONSTRUCTORS,
    "resnetdsl.importer.verify.CHECKS": verify.CHECKS,
}
"""Every table keyed by op type: the descriptions, and one per backend that imports torch or writes source."""

CONSTRUCTORS_ASIDE = ("plan.py", "blocks", "lower/make.py")
"""Where ops are defined (``plan.py``) or created from a spec: a block's ops in ``blocks.py`` and the builders it
splits out (``blocks_*.py``), the stem's and the head's in ``lower/make.py``. The rest of ``lower/`` (the rules)
reads ops as a backend does, so it counts."""
BLOCK_PARTS = frozenset({"pre", "main", "shortcut_ops", "post", "shortcut_from_pre"})


def missing(table: Mapping[type, Any]) -> list[str]:
    return [t.__name__ for t in OP_TYPES if t not in table]


# --- coverage ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TABLES)
def test_every_table_covers_every_op_type(name: str) -> None:
    assert missing(TABLES[name]) == [], f"{name} lacks entries"
    assert set(TABLES[name]) <= set(OP_TYPES), f"{name} has entries for types the plan does not declare"


def test_a_table_that_loses_an_entry_fails_the_check() -> None:
    for table in TABLES.values():
        assert missing({t: v for t, v in table.items() if t is not P.SqueezeExcite}) == ["SqueezeExcite"]


def test_the_fuse_pass_handles_every_fold_role() -> None:
    """The inference pass has no table of op types: it acts on each op's fold role, and handles every role."""
    assert set(fuse._HANDLERS) == set(typing.get_args(FoldRole))


def test_every_description_says_what_it_describes() -> None:
    for op_type, description in DESCRIPTIONS.items():
        assert description.op is op_type and isinstance(description, OpType)
        assert description.family in {"conv", "norm", "act", "pool", "attention", "shortcut", "linear", "misc"}
        assert re.fullmatch(r"#[0-9a-f]{6}", description.fill)


def test_an_op_without_a_description_fails_loudly() -> None:
    @dataclasses.dataclass(frozen=True)
    class Unknown:
        name: str

    with pytest.raises(KeyError, match="Unknown"):
        describe(Unknown("u"))


# --- where op types are named ----------------------------------------------------------------------------------


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        yield rel, ast.parse(path.read_text(encoding="utf-8"))


def _op_references(tree: ast.Module) -> set[str]:
    """The op classes a module refers to in code: ``P.Conv`` (the plan module under any alias) or a name
    imported from ``resnetdsl.plan``; docstrings and comments do not count."""
    names = {t.__name__ for t in OP_TYPES}
    aliases, imported = set(), {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "resnetdsl":
            aliases |= {a.asname or a.name for a in node.names if a.name == "plan"}
        elif isinstance(node, ast.ImportFrom) and node.module == "resnetdsl.plan":
            imported |= {(a.asname or a.name, a.name) for a in node.names if a.name in names}
        elif isinstance(node, ast.Import):
            aliases |= {a.asname for a in node.names if a.name == "resnetdsl.plan" and a.asname}
    local = dict(imported)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            if node.attr in names:
                found.add(node.attr)
        elif isinstance(node, ast.Name) and node.id in local:
            found.add(local[node.id])
    return found


def test_each_op_type_is_named_in_few_modules() -> None:
    """Issue 16: six modules at most name any one op type, four or fewer for most, "plan and blocks aside".

    Every module of the package is read; only :data:`CONSTRUCTORS_ASIDE` is set aside: where the op classes are
    defined and where a spec's settings become ops (a block's in ``blocks*.py``, the stem's and the head's in
    ``lower/make.py``, which is to the stem and head what ``blocks.py`` is to a block). The rules in
    ``lower/`` count: they read the ops the plan holds, through their descriptions where they can.
    """
    named: dict[str, set[str]] = defaultdict(set)
    modules = list(_modules())
    aside = sorted(rel for rel, _ in modules if rel.startswith(CONSTRUCTORS_ASIDE))
    assert all(rel in {"plan.py", "lower/make.py"} or re.fullmatch(r"blocks(_\w+)?\.py", rel) for rel in aside), aside
    for rel, tree in modules:
        if rel not in aside:
            for name in _op_references(tree):
                named[name].add(rel)
    counts = {t.__name__: len(named[t.__name__]) for t in OP_TYPES}
    print(f"\nmodules naming each op type ({len(modules) - len(aside)} of {len(modules)} read; aside: {aside}):")
    for name in sorted(counts, key=lambda n: (-counts[n], n)):
        print(f"  {name:<22}{counts[name]}  {', '.join(sorted(named[name]))}")
    print(f"median {statistics.median(counts.values())}, max {max(counts.values())}")
    assert max(counts.values()) <= 6, counts
    assert sum(1 for n in counts.values() if n <= 4) >= 0.75 * len(counts), counts


def test_the_reference_counter_sees_every_way_of_naming() -> None:
    tree = ast.parse("from resnetdsl import plan as Q\nfrom resnetdsl.plan import Conv as C\nx = (Q.Norm, C)\n")
    assert _op_references(tree) == {"Norm", "Conv"}


def test_no_table_is_keyed_by_op_type_names() -> None:
    """Tables are keyed by the op classes: a string key spelling an op type would hide from the counts."""
    names = {t.__name__ for t in OP_TYPES}
    for rel, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                keys = {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
                assert not keys & names, f"{rel}:{node.lineno}: a table keyed by op type names"


def test_only_the_walker_reads_a_blocks_parts() -> None:
    for rel, tree in _modules():
        if rel == "walk.py" or rel.startswith(CONSTRUCTORS_ASIDE):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in BLOCK_PARTS:
                pytest.fail(f"resnetdsl/{rel}:{node.lineno}: reads a block's .{node.attr}: use resnetdsl.walk")


# --- the walker --------------------------------------------------------------------------------------------------


def test_the_two_orders_have_honest_names() -> None:
    for name in ("resnet50", "resnetv2_50"):
        plan = resnetdsl.plan_of(name)
        forward = list(walk.ops_in_forward_order(plan))
        assert forward == list(plan.named_ops())  # the documented name keeps the forward order
        registered = [p for p, _ in walk.ops_in_registration_order(plan)]
        assert sorted(registered) == sorted(p for p, _ in forward)
        model = resnetdsl.build_model(plan, device="meta")
        paths = set(registered)
        assert [n for n, _ in model.named_modules() if n in paths] == registered  # the builder's order


def test_the_walk_visits_in_forward_order_with_the_add_between() -> None:
    class Trace(walk.Visitor[str]):
        def __init__(self) -> None:
            self.seen: list[str] = []

        def op(self, op: P.Op, x: str, part: walk.Part) -> str:
            self.seen.append(f"{part}:{op.name}<{x}")
            return op.name

        def add(self, main: str, shortcut: str) -> str:
            self.seen.append(f"add({main},{shortcut})")
            return "sum"

    block = resnetdsl.plan_of("preact_resnet164").stages[1].blocks[0]  # a projection reading the pre-activation
    trace = Trace()
    walk.run_block(block, "x", trace)
    assert trace.seen[:3] == ["pre:bn1<x", "pre:act1<bn1", "main:conv1<act1"]
    assert trace.seen[-2:] == ["shortcut:downsample.0<act1", "add(conv3,downsample.0)"]


# --- a test-only op type, registered through exactly the places docs/architecture.md names ------------------


@dataclasses.dataclass(frozen=True, slots=True)
class InstanceNorm:
    name: str
    channels: int


class InstanceNormType(OpType[InstanceNorm]):
    op = InstanceNorm
    family = "norm"
    fill = NORM_FILL
    fresh = True

    def entries(self, op: InstanceNorm) -> tuple[Entry, ...]:
        return (Entry("weight", (op.channels,), True), Entry("bias", (op.channels,), True))

    def in_channels(self, op: InstanceNorm) -> int:
        return op.channels

    def saves(self, op: InstanceNorm, x: int, t: Tracker, size_in: int, size_out: int) -> int:
        t.save(x)
        t.save(t.new(op.channels, STAT_BYTES))
        t.save(t.new(op.channels, STAT_BYTES))
        return t.new(size_out)

    def torch_name(self, op: InstanceNorm) -> str:
        return "InstanceNorm2d"

    def label(self, op: InstanceNorm) -> str:
        return "IN"


ENTRIES: dict[str, Any] = {
    "DESCRIPTIONS": InstanceNormType(),
    "FACTORIES": lambda op: nn.InstanceNorm2d(op.channels, affine=True),
    "CONSTRUCTORS": lambda op, v: f"nn.InstanceNorm2d({v('channels')}, affine=True)",
}
"""What the test registers, by table name."""


def _documented_tables() -> list[str]:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- op-type-tables[^>]*-->(.*?)<!-- /op-type-tables -->", text, re.S)
    assert block is not None, "docs/architecture.md lost its list of op-type tables"
    return re.findall(r"^- `([\w.]+)`", block.group(1), re.M)


def _with_instance_norm(plan: P.Plan) -> P.Plan:
    """``plan`` with the first block's ``bn1`` an instance norm."""
    stage = plan.stages[0]
    block = stage.blocks[0]
    main = tuple(InstanceNorm("bn1", block.mid_channels) if op.name == "bn1" else op for op in block.main)
    blocks = (dataclasses.replace(block, main=main), *stage.blocks[1:])
    return dataclasses.replace(plan, stages=(dataclasses.replace(stage, blocks=blocks), *plan.stages[1:]))


def test_a_new_op_type_needs_only_the_documented_places(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    documented = _documented_tables()
    assert sorted(name.rsplit(".", 1)[1] for name in documented) == sorted(ENTRIES)
    for name in documented:
        module, table = name.rsplit(".", 1)
        monkeypatch.setitem(getattr(importlib.import_module(module), table), InstanceNorm, ENTRIES[table])

    plan = _with_instance_norm(resnetdsl.plan_of("cifar_resnet20"))
    analysis = analyze(plan)
    model = resnetdsl.build_model(plan, seed=0).eval()
    assert isinstance(model.get_submodule("layer1.0.bn1"), nn.InstanceNorm2d)
    assert analysis.totals.params == sum(p.numel() for p in model.parameters())
    assert analysis.totals.buffers == sum(b.numel() for b in model.buffers())
    shapes: dict[str, tuple[int, ...]] = {}
    for layer in analysis.layers():
        module = model.get_submodule(layer.path)
        module.register_forward_hook(lambda m, i, o, path=layer.path: shapes.__setitem__(path, tuple(o.shape[1:])))
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(x)
    assert shapes == {layer.path: layer.output_dims for layer in analysis.layers()}

    rows = {r.name: r.kind for r in summary_of(analysis).rows}
    assert rows["layer1.0.bn1"] == "InstanceNorm2d"
    assert activation_report(analysis, 2).activation_total > 0
    dot = to_digraph(plan, detail="layer").source
    assert "IN  <font" in dot and f'fillcolor="{NORM_FILL}"' in dot

    source = to_python(plan)
    assert re.search(r"self\.bn1 = nn\.InstanceNorm2d\(\w+, affine=True\)", source)
    exported = load_exported_module(source, tmp_path, "instance_norm").CifarResNet20().eval()
    assert list(exported.state_dict()) == list(model.state_dict())
    exported.load_state_dict(model.state_dict(), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(exported(x), expected, rtol=0, atol=0)


def test_the_test_only_op_type_is_not_left_registered() -> None:
    for table in TABLES.values():
        assert InstanceNorm not in table
