"""The vocabularies (resnetdsl/vocab.py) against their Literals and every reader: the spec, the plan, the block
defaults, the builder, the exporter and the importer."""

from __future__ import annotations

import typing

import pytest
from torch import nn

from resnetdsl import blocks as B
from resnetdsl import build_torch, vocab
from resnetdsl import plan as P
from resnetdsl import spec as S
from resnetdsl.export.ops import CONSTRUCTORS
from resnetdsl.export.python import _literal_value
from resnetdsl.importer.modules import _ACTS


def _field(cls: type, name: str) -> tuple[object, ...]:
    return typing.get_args(typing.get_type_hints(cls)[name])


def test_each_table_lists_its_literal() -> None:
    assert tuple(vocab.ACTIVATIONS) == typing.get_args(vocab.ActKind)
    assert tuple(vocab.NORMS) == typing.get_args(vocab.NormLayerKind)
    assert typing.get_args(vocab.NormKind) == (*vocab.NORMS, *typing.get_args(vocab.NormActOnlyKind), "none")
    assert tuple(vocab.NORM_ACTS) == typing.get_args(vocab.NormActKind)
    assert set(vocab.NORM_ACTS) - set(vocab.NORMS) == set(typing.get_args(vocab.NormActOnlyKind))
    assert typing.get_args(vocab.AttentionKind) == (*vocab.ATTENTION, "none")
    assert set(vocab.POOLS) == set(typing.get_args(vocab.PoolKind)) == set(typing.get_args(vocab.GlobalPoolKind))


def test_the_spec_and_the_plan_read_the_literals() -> None:
    assert S.ActKind is vocab.ActKind and S.NormKind is vocab.NormKind and S.AttentionKind is vocab.AttentionKind
    assert S.GlobalPoolKind is vocab.GlobalPoolKind
    assert _field(P.Act, "kind") == typing.get_args(vocab.ActKind)
    assert _field(P.Norm, "kind") == typing.get_args(vocab.NormLayerKind)
    assert _field(P.NormAct, "kind") == typing.get_args(vocab.NormActKind)
    assert _field(P.Pool, "kind") == typing.get_args(vocab.PoolKind)
    assert _field(P.GlobalPool, "kind") == typing.get_args(vocab.GlobalPoolKind)


def test_the_defaults_are_the_vocabularys() -> None:
    assert P.Act("a").negative_slope == vocab.DEFAULT_NEGATIVE_SLOPE == B.NormActConfig().negative_slope
    cfg = B.BlockConfig("basic", "projection", "3x3", 1, 64, 1, False, True, False)
    assert (cfg.se_ratio, cfg.se_divisor) == (vocab.SE_RATIO, vocab.SE_DIVISOR) == (1 / 16, 8)
    assert B.NormActConfig(norm="group").norm_groups(64) == vocab.DEFAULT_NORM_GROUPS == 32
    assert B.eca_kernel_size is vocab.eca_kernel_size


@pytest.mark.parametrize("kind", typing.get_args(vocab.ActKind))
def test_every_activation_builds_exports_and_imports(kind: str) -> None:
    act = vocab.ACTIVATIONS[kind]
    op = P.Act("act", kind=kind, negative_slope=0.2)  # type: ignore[arg-type]
    module = build_torch.make_module(op)
    assert type(module) is getattr(nn, act.torch)
    assert getattr(module, "inplace", False) is act.inplace
    if act.slope:
        assert module.negative_slope == 0.2  # type: ignore[comparison-overlap]
    assert CONSTRUCTORS[P.Act](op, _literal_value(op)).startswith(f"nn.{act.torch}(")
    assert _ACTS[type(module)] == kind


@pytest.mark.parametrize("kind", typing.get_args(vocab.NormLayerKind))
def test_every_norm_builds_as_its_torch_name(kind: str) -> None:
    module = build_torch.make_module(P.Norm("bn", 64, kind=kind, groups=32))  # type: ignore[arg-type]
    assert type(module).__name__ == vocab.NORMS[kind]
