"""Every setting a plan carries reaches every exporter or is refused by it with a clear message."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

import pytest
import torch

import resnetdsl
from resnetdsl import plan as P
from resnetdsl.export.onnx import output_names
from resnetdsl.export.python import to_python
from resnetdsl.export.settings import (
    CARRIED,
    EXPORTED_SETTINGS,
    IMPLIED,
    INIT,
    OP_FIELDS,
    TRAINING,
)
from resnetdsl.export.settings import STRUCTURE as SUB_OPS

from .family_helpers import load_exported

STRUCTURE = {
    P.Plan: {"name", "description", "in_channels", "input_size", "stem", "stages", "head", "num_classes"}
    | {"final", "layout"},
    P.Stage: {"name", "index", "block_kind", "in_channels", "out_channels", "stride", "blocks", "dilation"},
}
"""Fields that describe the network's layers (the exporters write them through the ops, and test_export compares
outputs); every other field is a setting the Python export must carry or refuse (EXPORTED_SETTINGS)."""


@pytest.mark.parametrize("kind", [P.Plan, P.Stage], ids=lambda k: k.__name__)
def test_every_plan_field_is_carried_or_refused(kind: type) -> None:
    fields = {f.name for f in dataclasses.fields(kind)}
    settings = fields - STRUCTURE[kind]
    assert settings <= set(EXPORTED_SETTINGS), f"{sorted(settings - set(EXPORTED_SETTINGS))}: carry or refuse them"
    assert STRUCTURE[kind] <= fields


BACKBONE = {
    "extends": "resnet18d",  # avgpool_projection: timm's 'SAME' pool once the stage is dilated
    "features": {"out_indices": [2, 3, 4]},
    "frozen_stages": 1,
    "norm_eval": True,
    "output_stride": 16,
}


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
def test_python_export_keeps_features_frozen_stages_and_norm_eval(tmp_path: Path) -> None:
    plan = resnetdsl.plan_of(BACKBONE)
    model = resnetdsl.build_model(plan, seed=0)
    exported = load_exported(to_python(plan), tmp_path, "backbone")()
    exported.load_state_dict(model.state_dict(), strict=True)
    assert (
        {n for n, p in exported.named_parameters() if not p.requires_grad}
        == {n for n, p in model.named_parameters() if not p.requires_grad}
        != set()
    )
    exported.train()
    model.train()
    assert {n for n, m in exported.named_modules() if m.training} == {n for n, m in model.named_modules() if m.training}
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = model(x)
        got = exported(x)
        assert isinstance(got, list) and len(got) == len(want) == 3
        for a, b in zip(got, want, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
        for a, b in zip(torch.jit.script(exported)(x), want, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_python_export_refuses_checkpointing() -> None:
    plan = resnetdsl.plan_of({"extends": "resnet18", "stages": {1: {"checkpoint": True}}})
    with pytest.raises(ValueError) as exc:
        to_python(plan)
    assert str(exc.value) == (
        "the Python export does not carry activation checkpointing (layer2 set checkpoint: true); export with "
        "--set stages.N.checkpoint=false, or use resnetdsl.build_model"
    )


def test_cli_export_refusal_is_one_line_exit_1() -> None:
    from .conftest import run_cli

    done = run_cli("export", "resnet18", "--format", "python", "--set", "stages.0.checkpoint=true")
    assert done.returncode == 1
    assert done.stderr.startswith("resnetdsl: error: the Python export does not carry activation checkpointing")
    assert "Traceback" not in done.stderr and "ValueError" not in done.stderr


def test_onnx_outputs_are_named_by_their_feature_map() -> None:
    assert output_names(resnetdsl.plan_of(BACKBONE)) == ["feature_2", "feature_3", "feature_4"]
    assert output_names(resnetdsl.plan_of("resnet18")) == ["output"]


# --- every op field ----------------------------------------------------------------------------------------

OP_TYPES = typing.get_args(P.Op)


def test_every_op_field_is_in_the_table() -> None:
    assert set(OP_FIELDS) == set(OP_TYPES), "every plan op type has a row in export.settings.OP_FIELDS"
    for kind in OP_TYPES:
        fields = {f.name for f in dataclasses.fields(kind)} - {"name"}
        assert set(OP_FIELDS[kind]) == fields, f"{kind.__name__}: say what the exporters do with each field"
        for field_name, (verdict, _) in OP_FIELDS[kind].items():
            assert verdict in {CARRIED, TRAINING, IMPLIED, INIT, SUB_OPS}, (kind.__name__, field_name)


def _conv(**kw: Any) -> P.Conv:
    return P.Conv("conv", 64, 64, 3, **({"padding": 1} | kw))


SAMPLES: list[Any] = [
    _conv(),
    _conv(std_eps=1e-6),
    P.Norm("bn", 64),
    P.Norm("gn", 64, kind="group", groups=8),
    P.Norm("fbn", 64, kind="frozen_batch"),
    P.NormAct("bn", 64),
    P.NormAct("gn", 64, kind="group", groups=8),
    P.NormAct("evo", 64, kind="evonorm_s0", groups=8),
    P.NormAct("frn", 64, kind="frn"),
    P.Act("act", "relu"),
    P.Act("act", "leaky_relu"),
    P.Pool("pool", "max", 3, 2, 1),
    P.Pool("pool", "avg", 2, 2, 0, count_include_pad=False),
    P.Pool("pool", "avg", 2, 1, 0, same=True),
    P.GlobalPool("pool"),
    P.Flatten("flatten"),
    P.Dropout("drop", 0.25),
    P.Linear("fc", 64, 10),
    P.Identity("id"),
    P.PadShortcut("pad", 32, 64, 2),
    P.SqueezeExcite("se", 64, 16),
    P.SqueezeExcite("se", 64, 16, act="silu"),
    P.EfficientChannelAttn("eca", 64, 3),
    P.DropPath("dp", 0.1),
    P.ConvNormAct("cna", _conv(), P.Norm("bn", 64), P.Act("act")),
    P.SelectiveKernel("sk", 64, 64, 1, (P.ConvNormAct("0", _conv(), P.Norm("bn", 64), P.Act("act")),) * 2, False, 32),
    P.ConstantPad("pad", 1, 0.0),
    P.Cbam("cbam", 64, 16),
    P.GlobalContext("gc", 64, 16),
    P.DropBlock("drop_block", 64, 0.1, 3, 0.25),
    P.BlurPool("aa", 64),
    P.SplitAttention("attn", 64, 64, 32),
    P.SplitAttention("attn", 64, 64, 32, act="leaky_relu"),
    P.Res2Split(
        "convs",
        16,
        tuple(P.Conv(f"convs.{i}", 16, 16, 3, padding=1) for i in range(3)),
        tuple(P.Norm(f"bns.{i}", 16) for i in range(3)),
        P.Act("relu"),
        None,
        True,
    ),
]
"""One op of each type, and of each variant whose module reads other fields (a group norm reads ``groups``)."""

ALTERNATIVES: dict[tuple[type, str], object] = {
    (P.BlurPool, "filter_size"): 5,
    (P.Pool, "kernel_size"): 5,
    (P.EfficientChannelAttn, "kernel_size"): 5,
    (P.NormAct, "act"): "gelu",  # the language allows relu alone; both backends must ignore it
}


def _other(kind: type, field_name: str, value: object) -> object:
    """Another legal value of the field: the other truth value, a doubled count, another kind."""
    if (kind, field_name) in ALTERNATIVES:
        return ALTERNATIVES[kind, field_name]
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value * 2 if value else 1
    if isinstance(value, float):
        return value + 0.0625 if value + 0.0625 < 1 else value / 2
    if value is None:
        return 1e-3
    hint = typing.get_type_hints(kind)[field_name]
    choices = [c for arg in (typing.get_args(hint) or (hint,)) for c in (typing.get_args(arg) or (arg,))]
    return next(c for c in choices if isinstance(c, str) and c != value)


def _fingerprint(module: Any) -> list[object]:
    """What the built module is: each sub-module's type, its plain attributes and its tensors' shapes."""
    import torch

    out: list[object] = []
    for name, m in module.named_modules():
        plain = {k: v for k, v in vars(m).items() if not k.startswith("_") and not isinstance(v, torch.Tensor)}
        shapes = [(k, tuple(t.shape)) for k, t in [*m.named_parameters(recurse=False), *m.named_buffers(recurse=False)]]
        out.append((name, type(m).__name__, repr(sorted(plain.items(), key=str)), shapes, m.extra_repr()))
    return out


def _changes(op: Any, field_name: str) -> tuple[bool, bool] | None:
    """Whether another value of the field changes (the exported constructor, the built module); ``None``: no
    other value builds for this op."""
    import torch

    from resnetdsl.build_torch import FACTORIES
    from resnetdsl.export.ops import CONSTRUCTORS

    other = dataclasses.replace(op, **{field_name: _other(type(op), field_name, getattr(op, field_name))})
    try:  # a value both refuse (a 'SAME' pool with padding) tells nothing
        source = [CONSTRUCTORS[type(o)](o, lambda n, o=o: repr(getattr(o, n))) for o in (op, other)]
        with torch.device("meta"):
            built = [_fingerprint(FACTORIES[type(o)](o)) for o in (op, other)]
    except (ValueError, RuntimeError):
        return None
    return source[0] != source[1], built[0] != built[1]


def test_each_claim_holds_on_the_emitted_source_and_the_built_module() -> None:
    """On every sample, another value of a field changes the exported constructor exactly when it changes the module
    the builder makes (which ONNX traces); a carried field changes both for some sample, an implied one neither;
    training-only ones are carried in the source too."""
    assert {type(op) for op in SAMPLES} == set(OP_TYPES)
    for kind, fields in OP_FIELDS.items():
        for field_name, (verdict, _) in fields.items():
            if verdict in (SUB_OPS, INIT):
                continue
            seen = [_changes(op, field_name) for op in SAMPLES if type(op) is kind]
            seen = [s for s in seen if s is not None]
            assert seen, f"{kind.__name__}.{field_name}: no sample builds with another value"
            # on every sample, the source changes exactly when the module the builder makes does
            assert all(src == built for src, built in seen), f"{kind.__name__}.{field_name}: {seen}"
            if verdict in (CARRIED, TRAINING):
                assert (True, True) in seen, f"{kind.__name__}.{field_name}: {verdict}, yet {seen}"
            else:
                assert seen == [(False, False)] * len(seen), f"{kind.__name__}.{field_name}: implied, yet {seen}"


def test_zero_init_is_carried_into_the_exported_init(tmp_path: Path) -> None:
    """``init.zero_init_residual``: the exported class, seeded as ``build_model`` is, starts from the same weights."""
    plan = resnetdsl.plan_of({"extends": "resnet18", "init": {"zero_init_residual": True}})
    cls = load_exported(to_python(plan), tmp_path, "zero_init")
    torch.manual_seed(0)
    exported = cls()
    built = resnetdsl.build_model(plan, seed=0)
    assert built.layer1[0].bn2.weight.abs().sum() == 0
    for key, value in built.state_dict().items():
        assert torch.equal(exported.state_dict()[key], value), key


ONE = {"stages": {i: {"depth": 1} for i in range(4)}}
"""One block a stage: the attributes under test sit in every block, and the nets stay small."""
ATTRIBUTES = {
    "same-pool": ({"extends": "resnet50d", "output_stride": 16} | ONE, 64),  # timm's 'SAME' pool, count_include_pad
    "std_eps": ({"extends": "resnetv2_50x1_bit", "defaults": {"std_eps": 0.25}, "stem": {"std_eps": 0.5}} | ONE, 64),
    "aa-avg": ({"extends": "resnetaa50d"} | ONE, 64),
    "aa-blur": ({"extends": "resnetblur50"} | ONE, 64),
    "ceil_mode": ({"extends": "resnet18", "stem": {"pool": "max_ceil"}} | ONE, 67),
    "leaky-group": (
        {"extends": "resnet18", "defaults": {"act": "leaky_relu", "act_negative_slope": 0.3, "norm": "group"}} | ONE,
        64,
    ),
    "drop-rates": (
        {"extends": "resnet50", "defaults": {"drop_path": 0.3}, "drop_block": 0.2, "head": {"dropout": 0.4}} | ONE,
        64,
    ),
}


@pytest.mark.parametrize("case", sorted(ATTRIBUTES))
def test_attributes_reach_the_exported_file_bit_for_bit(case: str, tmp_path: Path) -> None:
    """Attributes easy to lose: the exported module gives build_model's outputs exactly, in eval mode and (where
    rates act) in training mode under one seed."""
    spec, size = ATTRIBUTES[case]
    plan = resnetdsl.plan_of(spec)
    model = resnetdsl.build_model(plan, seed=0)
    exported = load_exported(to_python(plan), tmp_path, case.replace("-", "_"))()
    exported.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        for mode in (False, True):
            model.train(mode)
            exported.train(mode)
            torch.manual_seed(2)
            want = model(x)
            torch.manual_seed(2)
            got = exported(x)
            torch.testing.assert_close(got, want, rtol=0, atol=0, msg=f"{case}, train={mode}")
    if case == "drop-rates":  # the rates act: training mode differs from eval mode
        model.eval()
        with torch.no_grad():
            assert not torch.equal(model(x), want)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(ATTRIBUTES))
def test_attributes_reach_the_onnx_file(case: str, tmp_path: Path) -> None:
    """The same attributes through ONNX: onnxruntime gives the eval model's outputs, also at another batch and
    sides than traced (32 more pixels: anti-aliased downsampling needs even maps)."""
    ort = pytest.importorskip("onnxruntime")
    from resnetdsl.export.onnx import to_onnx

    spec, size = ATTRIBUTES[case]
    model = resnetdsl.build_model(spec, seed=0)
    path = tmp_path / f"{case}.onnx"
    to_onnx(model, path, input_size=(size, size))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for shape in [(2, 3, size, size), (3, 3, size + 32, size + 64)]:
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
        (got,) = session.run(None, {"input": x.numpy()})
        with torch.no_grad():
            torch.testing.assert_close(torch.from_numpy(got), model(x), rtol=1e-4, atol=1e-4)
