"""The static analyzer against torch itself: parameters, buffers, per-layer shapes, MACs, size errors."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import resnetdsl
from resnetdsl import plan as P
from resnetdsl.analyze import Analysis, Totals, analyze, analyze_spec, stem_stride
from resnetdsl.errors import SpecError
from resnetdsl.load import load_spec
from resnetdsl.ops import describe
from resnetdsl.ops.base import out_len as _out_len
from tests.conftest import ROOT, SPECS, TORCHVISION

PRESETS = resnetdsl.presets()
SLOW = {"cifar_resnet1202"}

# Small networks that use every op kind and option no preset uses, at odd, non-square input sizes.
CUSTOM: dict[str, dict[str, Any]] = {
    "per_block": {
        "name": "per_block",
        "input": {"channels": 3, "size": [40, 36]},
        "stem": {"kind": "conv3", "width": 16},
        "stages": [
            {
                "depth": 4,
                "width": 16,
                "blocks": [
                    {"at": 1, "block": "bottleneck", "width": 8, "groups": 2, "width_per_group": 32},
                    {"at": [2, -1], "attention": "se", "se_ratio": 0.5},
                    {"at": 0, "act": "silu"},
                ],
            },
            {
                "depth": 3,
                "width": 24,
                "stride": 2,
                "blocks": [
                    {"at": 0, "shortcut": "avgpool_projection"},
                    {"at": 1, "stride": 2, "norm": "group", "norm_groups": 4},
                ],
            },
        ],
        "head": {"num_classes": 5},
    },
    "per_block_preact": {
        "name": "per_block_preact",
        "input": {"channels": 3, "size": [32, 32]},
        "stem": {"kind": "conv3", "width": 16},
        "defaults": {"block": "preact_basic", "drop_path": 0.1},
        "stages": [
            {"depth": 3, "width": 16, "blocks": [{"at": 1, "block": "preact_bottleneck"}]},
            {"depth": 2, "width": 32, "stride": 2, "blocks": [{"at": -1, "dropout": 0.2, "width": 48}]},
        ],
    },
    "tweaks": {
        "name": "tweaks",
        "input": {"channels": 3, "size": [37, 53]},
        "stem": {"kind": "deep", "width": 16, "pool": "conv"},
        "defaults": {
            "block": "bottleneck",
            "shortcut": "avgpool_projection",
            "stride_on": "1x1",
            "groups": 2,
            "width_per_group": 8,
        },
        "stages": [
            {"depth": 2, "width": 8},
            {"depth": 2, "width": 16, "stride": 2},
            {"depth": 1, "width": 16, "stride": 2},
        ],
        "head": {"pool": "max", "dropout": 0.2, "num_classes": 7, "bias": False},
    },
    "odd_strides_backbone": {
        "name": "odd_strides_backbone",
        "input": {"channels": 1, "size": [41, 29]},
        "stem": {"kind": "conv3", "width": 8, "pool": "max", "conv_bias": True},
        "defaults": {
            "block": "basic",
            "shortcut": "projection_all",
            "conv_bias": True,
            "shortcut_norm": False,
            "expansion": 2,
        },
        "stages": [{"depth": 1, "width": 4, "stride": 3}, {"depth": 2, "width": 8, "stride": 4}],
        "head": "none",
    },
    "plain_and_pad": {
        "name": "plain_and_pad",
        "input": {"size": [19, 23]},
        "stem": {"kind": "conv3", "width": 4},
        "stages": [
            {"depth": 1, "width": 4, "shortcut": "none"},
            {"depth": 2, "width": 8, "stride": 2, "shortcut": "identity_pad"},
        ],
    },
}


def _marks(names: list[str]) -> list[Any]:
    return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in names]


def _source(name: str) -> Any:
    return CUSTOM.get(name, name)


def _input_for(plan: P.Plan) -> tuple[int, int]:
    """A small odd, non-square input for ImageNet-style presets; the spec's own size for the rest. Avg-pool
    anti-aliasing (issue 18) floors odd sizes where the avg-pool shortcut ceils them, as timm's own
    resnetaa50d does: those take a non-square size that divides by 32."""
    if any(isinstance(op, P.Pool) and op.kind == "avg" and op.name == "aa" for _, op in plan.named_ops()):
        return (96, 64)
    return (67, 45) if stem_stride(plan) > 1 and plan.input_size[0] >= 64 else plan.input_size


def _real_model(plan: P.Plan) -> nn.Module:
    """The built model with memory but no initialisation (shapes only): build on meta, then allocate zeros."""
    model = resnetdsl.build_model(plan, device="meta").to_empty(device="cpu")
    with torch.no_grad():
        for t in (*model.parameters(), *model.buffers()):
            t.zero_()
    return model.eval()


# --- the op rules against torch's own arithmetic ------------------------------------------------------


def test_window_lengths_match_torch() -> None:
    checked = 0
    for size in range(1, 10):
        for k in (1, 2, 3, 5, 7):
            for s in (1, 2, 3, 4):
                for p in range(k // 2 + 1):
                    x = torch.zeros(1, 1, size, size)
                    for ceil in (False, True):
                        for fn in (F.max_pool2d, F.avg_pool2d):
                            try:
                                want = fn(x, k, s, p, ceil_mode=ceil).shape[-1]
                            except RuntimeError:
                                want = 0
                            assert _out_len(size, k, s, p, ceil=ceil) == want, (fn.__name__, size, k, s, p, ceil)
                            checked += 1
                    for d in (1, 2):
                        try:
                            want = F.conv2d(x, torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=d).shape[-1]
                        except RuntimeError:
                            want = 0
                        assert _out_len(size, k, s, p, d) == want, ("conv", size, k, s, p, d)
                        checked += 1
    assert checked > 2000


# --- parameters and buffers ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*PRESETS, *CUSTOM])
def test_params_and_buffers_match_built_model(name: str) -> None:
    plan = resnetdsl.plan_of(_source(name))
    a = analyze(plan)
    model = resnetdsl.build_model(plan, device="meta")
    params = list(model.parameters())
    assert a.totals.params == sum(p.numel() for p in params)
    assert a.totals.trainable_params == sum(p.numel() for p in params if p.requires_grad)
    assert a.totals.non_trainable_params == 0
    assert a.totals.buffers == sum(b.numel() for b in model.buffers())
    # per layer too
    for layer in a.layers():
        beside = describe(layer.op).beside(layer.op)  # a composite whose modules sit on the block (Res2Net)
        block = layer.path[: len(layer.path) - len(layer.op.name)]
        modules = [model.get_submodule(block + sub.name) for sub in beside] or [model.get_submodule(layer.path)]
        assert layer.params == sum(p.numel() for m in modules for p in m.parameters()), layer.path
        assert layer.buffers == sum(b.numel() for m in modules for b in m.buffers()), layer.path


def test_preset_list_is_complete() -> None:
    assert set(TORCHVISION) < set(PRESETS)
    assert {p.stem for p in SPECS.glob("*.yaml")} == set(PRESETS)


# --- shapes, captured by forward hooks on the built model ---------------------------------------------


@pytest.mark.parametrize("name", _marks([*PRESETS, *CUSTOM]))
def test_shapes_match_forward_hooks(name: str) -> None:
    plan = resnetdsl.plan_of(_source(name))
    h, w = _input_for(plan)
    a = analyze(plan, (h, w))
    model = _real_model(plan)
    seen: dict[str, tuple[int, ...]] = {}

    def hook(path: str) -> Any:
        def record(module: nn.Module, args: Any, out: torch.Tensor) -> None:
            assert path not in seen, f"{path} ran twice"
            seen[path] = tuple(out.shape[1:])

        return record

    expected: dict[str, tuple[int, ...]] = {}
    for layer in a.layers():
        expected[layer.path] = layer.output_dims
    for st in a.stages:
        expected[st.path] = st.out_shape
        for b in st.blocks:
            expected[b.path] = b.out_shape
    for path in expected:
        model.get_submodule(path).register_forward_hook(hook(path))
    with torch.no_grad():
        out = model(torch.zeros(2, plan.in_channels, h, w))
    assert seen == expected
    assert tuple(out.shape) == (2, *a.output_shape)
    assert a.input_shape == (plan.in_channels, h, w)


# --- MACs ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", _marks([*PRESETS, *CUSTOM]))
def test_macs_equal_flop_counter_half(name: str) -> None:
    plan = resnetdsl.plan_of(_source(name))
    a = analyze(plan)
    model = resnetdsl.build_model(plan, device="meta").eval()
    counter = FlopCounterMode(display=False)
    with counter:
        model(torch.zeros(1, plan.in_channels, *plan.input_size, device="meta"))
    assert a.totals.macs * 2 == counter.get_total_flops()
    # per layer: the counter keys modules by their path under the root's class name
    per_module = counter.get_flop_counts()
    root = type(model).__name__
    for layer in a.layers():
        if isinstance(layer.op, P.Conv | P.Linear):
            assert 2 * layer.macs == sum(per_module[f"{root}.{layer.path}"].values()), layer.path


@pytest.mark.parity
@pytest.mark.parametrize("name", TORCHVISION)
def test_matches_torchvision_metadata(name: str) -> None:
    tvm = pytest.importorskip("torchvision.models")
    meta = tvm.get_model_weights(name).DEFAULT.meta
    a = analyze(resnetdsl.plan_of(name))
    assert a.totals.params == meta["num_params"]
    assert round(a.totals.macs / 1e9, 3) == meta["_ops"]


# --- consistency of the result ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["resnet50", "cifar_resnet20", "tweaks"])
def test_totals_add_up(name: str) -> None:
    a = analyze(resnetdsl.plan_of(_source(name)))
    assert a.totals == Totals.of(a.layers())
    assert a.totals == a.stem_totals + sum((s.totals for s in a.stages), Totals()) + a.head_totals
    for st in a.stages:
        assert st.totals == sum((b.totals for b in st.blocks), Totals())
        assert st.in_shape == st.blocks[0].in_shape and st.out_shape == st.blocks[-1].out_shape
        for b in st.blocks:
            assert b.totals == Totals.of(b.layers)
    assert a.stem[0].in_shape == a.input_shape
    shapes = [a.stem[-1].out_shape, *(s.out_shape for s in a.stages)]
    assert [s.in_shape for s in a.stages] == shapes[:-1]
    assert [layer.path for layer in a.layers()] == [path for path, _ in a.plan.named_ops()]


def test_conv_activations_count_conv_outputs() -> None:
    a = analyze(resnetdsl.plan_of("resnet18"))
    conv_outputs = [x for x in a.layers() if isinstance(x.op, P.Conv)]
    assert a.totals.acts == sum(x.out_shape[0] * x.out_shape[1] * x.out_shape[2] for x in conv_outputs)
    assert a.stem[0].acts == 64 * 112 * 112


# --- input sizes that do not fit ----------------------------------------------------------------------

RESNET50 = SPECS / "resnet50.yaml"
HINT = "the stem downsamples by 4: for small inputs use the CIFAR stem (stem: {kind: conv3, pool: none})"


def _error(spec: Any, size: tuple[int, int], channels: int | None = None) -> SpecError:
    with pytest.raises(SpecError) as info:
        analyze_spec(load_spec(spec), size, channels)
    return info.value


def test_a_1x1_map_before_3x3_convs_is_an_error() -> None:
    err = _error(RESNET50, (16, 16))
    [issue] = err.issues
    assert issue.path == ("stages", 2)
    assert (issue.file, issue.line, issue.col) == (str(RESNET50), 13, 5)
    assert issue.message == (
        "the feature map reaches 1×1 at layer3.0.conv2 for a 3×16×16 input, so the 3×3 convs after it "
        "(first: layer3.1.conv2) see zero padding around the centre tap only; " + HINT
    )
    assert str(err) == f"{RESNET50}:13:5: stages[2]: {issue.message}"


def test_32x32_through_the_imagenet_stem_is_an_error() -> None:
    # 32 / 32 = 1: layer4 reaches 1×1 and its 3×3 convs would only multiply zero padding.
    err = _error(RESNET50, (32, 32))
    assert str(err) == (
        f"{RESNET50}:14:5: stages[3]: the feature map reaches 1×1 at layer4.0.conv2 for a 3×32×32 input, so the "
        "3×3 convs after it (first: layer4.1.conv2) see zero padding around the centre tap only; " + HINT
    )
    assert analyze_spec(load_spec(RESNET50)).warnings == ()
    assert analyze(resnetdsl.plan_of("cifar_resnet20")).warnings == ()


def test_error_in_the_stem_and_in_the_input() -> None:
    err = _error(RESNET50, (2, 2))
    assert err.issues[0].path == ("stem",)
    assert err.issues[0].message == (
        "the feature map reaches 1×1 at conv1 for a 3×2×2 input, but maxpool still downsamples it (stride 2); " + HINT
    )
    err = _error(RESNET50, (1, 7))
    assert err.issues[0].path == ("input", "size")
    assert err.issues[0].message.startswith("the 3×1×7 input is already 1×7, but conv1 still downsamples it")


def test_non_square_input_fails_on_the_short_side() -> None:
    err = _error(RESNET50, (224, 16))
    assert err.issues[0].path == ("stages", 2)
    assert "reaches 14×1 at layer3.0.conv2 for a 3×224×16 input, but layer4.0.conv2" in err.issues[0].message
    assert analyze_spec(load_spec(RESNET50), (224, 17)).stages[-1].out_shape == (2048, 7, 1)


def test_cifar_stem_gets_no_stem_hint() -> None:
    err = _error("cifar_resnet20", (2, 2))
    [issue] = err.issues
    assert issue.path == ("stages", 1)
    assert issue.message == (
        "the feature map reaches 1×1 at layer2.0.conv1 for a 3×2×2 input, so the 3×3 convs after it "
        "(first: layer2.0.conv2) see zero padding around the centre tap only"
    )


def test_smallest_input_that_fits_resnet50() -> None:
    # 33 → 17 → 9 → 9 → 5 → 3 → 2: every 3×3 conv still sees more than one pixel; 32 ends at 1×1 in layer4.
    assert analyze_spec(load_spec(RESNET50), (33, 33)).stages[-1].out_shape == (2048, 2, 2)
    assert _error(RESNET50, (32, 32)).issues[0].path == ("stages", 3)


def test_collapse_to_zero_is_an_error() -> None:
    plan = resnetdsl.plan_of("resnet18")
    conv1 = plan.stem[0]
    assert isinstance(conv1, P.Conv)
    unpadded = dataclasses.replace(plan, stem=(dataclasses.replace(conv1, padding=0), *plan.stem[1:]))
    with pytest.raises(SpecError) as info:
        analyze(unpadded, (5, 5))
    [issue] = info.value.issues
    assert issue.path == ("stem",)
    assert issue.message == "the feature map collapses to 0×0 at conv1 for a 3×5×5 input; " + HINT


def test_wrong_input_channels_is_an_error() -> None:
    err = _error(RESNET50, (224, 224), channels=1)
    [issue] = err.issues
    assert issue.path == ("input", "channels")
    assert issue.message == "the input has 1 channel but conv1 takes 3"
    assert issue.mark is None  # the channel count came from the caller, not from the spec's input line


def test_disagreeing_block_paths_are_an_error() -> None:
    plan = resnetdsl.plan_of("resnet18")
    stage = plan.stages[1]
    block = stage.blocks[0]
    sc = block.shortcut_ops[0]
    assert isinstance(sc, P.Conv) and sc.stride == 2
    broken_block = dataclasses.replace(block, shortcut_ops=(dataclasses.replace(sc, stride=1), *block.shortcut_ops[1:]))
    broken_stage = dataclasses.replace(stage, blocks=(broken_block, *stage.blocks[1:]))
    broken = dataclasses.replace(plan, stages=(plan.stages[0], broken_stage, *plan.stages[2:]))
    with pytest.raises(SpecError, match=r"layer2\.0: main path gives 128×28×28 but the shortcut gives 128×56×56"):
        analyze(broken)


def test_analysis_of_plan_without_source_has_no_marks() -> None:
    with pytest.raises(SpecError) as info:
        analyze(resnetdsl.plan_of("resnet50"), (16, 16))
    assert info.value.issues[0].mark is None
    assert str(info.value).startswith("stages[2]: the feature map reaches 1×1")


def test_input_size_default_and_override() -> None:
    plan = resnetdsl.plan_of("resnet18")
    a: Analysis = analyze(plan)
    assert a.input_shape == (3, 224, 224) and a.output_shape == (1000,)
    b = analyze(plan, (448, 448))
    assert b.totals.params == a.totals.params
    assert b.stages[-1].out_shape == (512, 14, 14)
    backbone = analyze(resnetdsl.plan_of(CUSTOM["odd_strides_backbone"]))
    assert backbone.output_shape == (16, 2, 2) and backbone.head == ()


def test_analyzer_does_not_import_torch() -> None:
    code = (
        "import sys, resnetdsl.analyze, resnetdsl.summary, resnetdsl\n"
        "resnetdsl.summarize('resnet50')\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
