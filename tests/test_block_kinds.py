"""Adding a block kind (docs/architecture.md): a test-only kind registered through the block-kind
table alone is built, analysed, checked, drawn, summarised and exported like the built-in ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import resnetdsl
from resnetdsl import blocks as B
from resnetdsl import plan as P
from resnetdsl.analyze import analyze
from resnetdsl.errors import SpecError
from resnetdsl.export.python import to_python
from resnetdsl.spec import Spec
from tests.family_helpers import load_exported


def grouped_basic(cfg: B.BlockConfig, cin: int, width: int, stride: int) -> B.BlockOps:
    """A basic block whose two 3×3 convs are grouped by ``groups``."""
    cout = width * cfg.expansion
    main: tuple[P.Op, ...] = (
        B._conv("conv1", cin, width, 3, stride, cfg, groups=cfg.groups, dilation=cfg.first_dil),
        *B._norm(cfg, "bn1", width),
        B._act(cfg, "act1"),
        B._conv("conv2", width, cout, 3, 1, cfg, groups=cfg.groups, dilation=cfg.dilation),
        *B._norm(cfg, "bn2", cout, zero_init=cfg.zero_init),
        *B.attention(cfg, cout),
    )
    return B.BlockOps(width, cout, main, (B._act(cfg, "act2"),))


GROUPED_BASIC = B.BlockKind(
    name="grouped_basic",
    build=grouped_basic,
    expansion=1,
    preact=False,
    uses=frozenset({"groups"}),
    title="GroupedBasic",
    class_name="GroupedBasicBlock",
)


@pytest.fixture
def registered() -> Iterator[B.BlockKind]:
    B.register_block_kind(GROUPED_BASIC)
    try:
        yield GROUPED_BASIC
    finally:
        del B.BLOCK_KINDS[GROUPED_BASIC.name]


TEXT = (
    "name: grouped\ninput: {size: [32, 32]}\nstem: {kind: conv3, width: 16}\ndefaults: {groups: 4}\n"
    "stages:\n  - {depth: 2, width: 16, blocks: [{at: 1, attention: se}]}\n  - {depth: 1, width: 32, stride: 2}\n"
    "head: {num_classes: 10}\n"
)


def _with_kind(kind: str) -> Spec:
    """The spec with every stage of ``kind`` (its name would be in spec.BlockKind for a kind of the house)."""
    spec = resnetdsl.load_spec(TEXT)
    stages = tuple(st.model_copy(update={"block": kind}) for st in spec.stages)
    return spec.model_copy(update={"stages": stages})


def test_a_registered_kind_goes_through_every_backend(registered: B.BlockKind, tmp_path: Path) -> None:
    spec = _with_kind(registered.name)
    checked = resnetdsl.check(spec)
    plan = checked.plan
    assert {b.kind for _, b in plan.blocks()} == {"grouped_basic"}
    conv = plan.stages[1].blocks[0].main[0]
    assert isinstance(conv, P.Conv) and (conv.groups, conv.stride) == (4, 2)
    assert isinstance(plan.stages[0].blocks[1].main[-1], P.SqueezeExcite)

    model = resnetdsl.build_model(spec, seed=0).eval()
    a = analyze(plan)
    assert a.totals.params == sum(p.numel() for p in model.parameters())
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = model(x)
    assert tuple(out.shape) == (2, *a.output_shape) == (2, 10)

    assert "GroupedBasic" in resnetdsl.render(spec, detail="block").source
    assert resnetdsl.summarize(spec).params == a.totals.params

    source = to_python(plan)
    assert "class GroupedBasicBlock(nn.Module)" in source
    twin = load_exported(source, tmp_path, "grouped")().eval()
    twin.load_state_dict(model.state_dict(), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(twin(x), out, rtol=0, atol=0)


def test_the_rules_read_the_kinds_table(registered: B.BlockKind) -> None:
    resnetdsl.check(_with_kind(registered.name))  # `groups` applies to it
    with pytest.raises(SpecError) as info:
        resnetdsl.check(_with_kind("basic"))
    assert [i.format() for i in info.value.issues] == [
        "<string>:4:12: defaults.groups: applies only to bottleneck, resnest, res2net or grouped_basic blocks "
        "(every stage uses basic blocks)"
    ]
    assert B.EXPANSION["grouped_basic"] == 1 and "grouped_basic" not in B.PREACT


def test_the_table_refuses_a_taken_name_and_unknown_settings() -> None:
    with pytest.raises(ValueError, match="'basic' is already registered"):
        B.register_block_kind(B.BLOCK_KINDS["basic"])
    odd = B.BlockKind("odd", grouped_basic, 1, False, frozenset({"norm"}), "Odd", "OddBlock")
    with pytest.raises(ValueError, match=r"uses \['norm'\], not kind-specific settings"):
        B.register_block_kind(odd)
    assert "odd" not in B.BLOCK_KINDS
    with pytest.raises(SpecError) as info:
        resnetdsl.check(TEXT)  # the registered kind is gone again: groups on basic blocks
    assert "applies only to bottleneck, resnest or res2net blocks (every stage uses basic blocks)" in str(info.value)
