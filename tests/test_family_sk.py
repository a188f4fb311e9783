"""Selective kernel networks (issue 18, SK family): timm's five SK ResNets import exactly, the blocks analyse,
export, fuse and combine with the backbone settings exactly, and the checker refuses what cannot be built."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import resnetdsl
from resnetdsl import SpecError
from resnetdsl import plan as P
from resnetdsl.analyze import analyze
from resnetdsl.export.python import to_python
from resnetdsl.importer import spec_from_model
from resnetdsl.passes.fuse import fuse_for_inference
from tests.family_helpers import onnx_equals

timm = pytest.importorskip("timm")

NAMES = ["skresnet18", "skresnet34", "skresnet50", "skresnet50d", "skresnext50_32x4d"]
"""Every model of timm's sknet.py."""
NUMERIC = ["skresnet18", "skresnet50d", "skresnext50_32x4d"]
"""Those checked numerically (one of each block kind, the deep stem and avg-pool shortcut, groups without split)."""

SMALL_BASIC = {
    "name": "sk_small_basic",
    "input": {"size": [64, 64]},
    "defaults": {"block": "sk_basic", "sk_rd_ratio": 0.125, "sk_rd_divisor": 16},
    "stages": [
        {"depth": 1, "width": 16},
        {"depth": 2, "width": 32, "stride": 2},
        {"depth": 1, "width": 64, "stride": 2},
    ],
    "head": {"num_classes": 10},
}
SMALL_BOTTLENECK = {
    "name": "sk_small_bottleneck",
    "input": {"size": [64, 64]},
    "stem": {"kind": "deep", "width": 32},
    "defaults": {"block": "sk_bottleneck", "shortcut": "avgpool_projection", "groups": 4, "width_per_group": 16},
    "stages": [
        {"depth": 1, "width": 16},
        {"depth": 2, "width": 32, "stride": 2},
        {"depth": 1, "width": 64, "stride": 2},
    ],
    "head": {"num_classes": 10},
}


def _x(size: int = 64, n: int = 2) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", NAMES)
def test_every_timm_sk_name_imports_with_its_keys_and_shapes(name: str) -> None:
    with torch.device("meta"):
        ref = timm.create_model(name, pretrained=False)
    spec = spec_from_model(ref, name=name)
    ours = resnetdsl.build_model(spec, device="meta")
    want = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    assert list(got) == list(want) and got == want
    assert spec.defaults.block in ("sk_basic", "sk_bottleneck")
    print(f"{name}: {len(got)} tensors, {sum(p.numel() for p in ours.parameters()):,} parameters")


@pytest.fixture(scope="module")
def references() -> dict[str, Any]:
    return {n: timm.create_model(n, pretrained=False).eval() for n in NUMERIC}


@pytest.mark.parity
@pytest.mark.parametrize("name", NUMERIC)
def test_imported_sk_nets_load_strictly_and_compute_timms_outputs(name: str, references: dict[str, Any]) -> None:
    ref = references[name]
    ours = resnetdsl.build_model(spec_from_model(ref, name=name)).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(ours(_x()), ref(_x()), rtol=1e-5, atol=1e-6)


@pytest.mark.parity
def test_the_preset_is_timms_skresnet50() -> None:
    with torch.device("meta"):
        ref = timm.create_model("skresnet50", pretrained=False)
    ours = resnetdsl.build_model("skresnet50", device="meta")
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [(k, v.shape) for k, v in ref.state_dict().items()]
    assert spec_from_model(ref, name="skresnet50").defaults.sk_split_input is True


def test_spec_reads_back_as_imported() -> None:
    with torch.device("meta"):
        spec = spec_from_model(timm.create_model("skresnext50_32x4d", pretrained=False))
    d = spec.defaults
    assert (d.block, d.groups, d.width_per_group, d.sk_split_input) == ("sk_bottleneck", 32, 4, False)
    assert (d.sk_kernels, d.sk_keep_3x3, d.sk_rd_ratio, d.sk_rd_divisor) == ((3, 5), True, 1 / 16, 32)


@pytest.mark.parametrize("spec", [SMALL_BASIC, SMALL_BOTTLENECK], ids=["basic", "bottleneck"])
def test_summary_params_shapes_and_macs_equal_the_built_model(spec: dict[str, Any]) -> None:
    plan = resnetdsl.plan_of(spec)
    a = analyze(plan)
    model = resnetdsl.build_model(plan, seed=0).eval()
    assert a.totals.params == sum(p.numel() for p in model.parameters())
    assert a.totals.buffers == sum(b.numel() for b in model.buffers())
    seen: dict[str, tuple[int, ...]] = {}
    for layer in a.layers():
        module = model.get_submodule(layer.path)
        assert layer.params == sum(p.numel() for p in module.parameters()), layer.path
        module.register_forward_hook(lambda m, i, out, path=layer.path: seen.__setitem__(path, tuple(out.shape[1:])))
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(_x())
    assert seen == {layer.path: layer.output_dims for layer in a.layers()}
    assert 2 * a.totals.macs == counter.get_total_flops() // 2  # a batch of two
    per_module = counter.get_flop_counts()
    sk = [layer for layer in a.layers() if isinstance(layer.op, P.SelectiveKernel | P.ConvNormAct)]
    assert sk
    for layer in sk:
        assert 2 * 2 * layer.macs == sum(per_module[f"ResNet.{layer.path}"].values()), layer.path


@pytest.mark.parametrize("spec", [SMALL_BASIC, SMALL_BOTTLENECK], ids=["basic", "bottleneck"])
def test_python_export_equals_the_built_model(spec: dict[str, Any], tmp_path: Path) -> None:
    import importlib.util

    plan = resnetdsl.plan_of(spec)
    model = resnetdsl.build_model(plan, seed=0).eval()
    file = tmp_path / f"{plan.name}.py"
    file.write_text(to_python(plan), encoding="utf-8")
    found = importlib.util.spec_from_file_location(plan.name, file)
    assert found is not None and found.loader is not None
    module = importlib.util.module_from_spec(found)
    found.loader.exec_module(module)
    net_cls = next(v for k, v in vars(module).items() if isinstance(v, type) and k.startswith("Sk"))
    exported = net_cls().eval()
    assert list(exported.state_dict()) == list(model.state_dict())
    exported.load_state_dict(model.state_dict(), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(exported(_x()), model(_x()), rtol=0, atol=0)
    torch.jit.script(exported)


@pytest.mark.slow
def test_onnx_export_equals_torch(tmp_path: Path) -> None:
    model = resnetdsl.build_model(SMALL_BOTTLENECK, seed=0).eval()
    onnx_equals(model, tmp_path / "sk.onnx", [(1, 3, 64, 64), (3, 3, 96, 96)])


# --- every new block with every backbone setting ---------------------------------------------------------------


def _trained(model: torch.nn.Module) -> torch.nn.Module:
    """Statistics and affine of every norm made non-trivial, so that folding them is tested."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return model.eval()


@pytest.mark.parametrize("spec", [SMALL_BASIC, SMALL_BOTTLENECK], ids=["basic", "bottleneck"])
def test_fuse_for_inference_folds_the_norms_inside_the_branches(spec: dict[str, Any]) -> None:
    model = _trained(resnetdsl.build_model(spec, seed=0))
    fused = fuse_for_inference(model, channels_last=False)
    left = [n for n, m in fused.named_modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert left == []  # every norm folded: the branches', the attention's, the conv + norm modules'
    with torch.no_grad():
        torch.testing.assert_close(fused(_x()), model(_x()), rtol=1e-4, atol=1e-5)


@pytest.mark.parity
@pytest.mark.parametrize("name", ["skresnet18", "skresnext50_32x4d"])
def test_output_stride_dilates_the_branches_as_timm_does(name: str) -> None:
    ref = timm.create_model(name, pretrained=False, output_stride=8).eval()
    spec = spec_from_model(ref, name=name)
    assert [st.dilation for st in spec.stages] == [None, None, 2, 4]
    ours = resnetdsl.build_model({**spec.model_dump(exclude_none=True), "name": name}).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    via_setting = resnetdsl.plan_of({"extends": "skresnet50", "name": "os8", "output_stride": 8})
    sk = [op for _, op in via_setting.named_ops() if isinstance(op, P.SelectiveKernel)]
    assert {tuple(p.conv.dilation for p in op.paths) for op in sk} == {(1, 2), (2, 4), (4, 8)}
    with torch.no_grad():
        torch.testing.assert_close(ours(_x()), ref(_x()), rtol=1e-5, atol=1e-6)


def test_features_frozen_stages_and_checkpointing() -> None:
    base = {**SMALL_BOTTLENECK, "head": "none"}
    feats = resnetdsl.build_model({**base, "features": {"out_indices": [1, 2, 3]}}, seed=0).eval()
    with torch.no_grad():
        maps = feats(_x())
    assert [tuple(m.shape[1:]) for m in maps] == [(64, 16, 16), (128, 8, 8), (256, 4, 4)]
    assert feats.feature_info.channels() == [64, 128, 256]

    frozen = resnetdsl.build_model({**base, "frozen_stages": 1}, seed=0)
    frozen.train()
    trainable = {n.split(".")[0] for n, p in frozen.named_parameters() if p.requires_grad}
    assert trainable == {"layer2", "layer3"}
    assert not frozen.layer1[0].conv2.paths[0].bn.training  # a branch's norm stays in eval mode

    plain = resnetdsl.build_model(base, seed=0).train()
    ckpt = {**base, "stages": [{**st, "checkpoint": True} for st in base["stages"]]}
    checkpointed = resnetdsl.build_model(ckpt, seed=0).train()
    for m in (plain, checkpointed):
        m(_x()).square().mean().backward()
    for (n, a), (_, b) in zip(plain.named_parameters(), checkpointed.named_parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-5, msg=n)
    for (n, a), (_, b) in zip(plain.named_buffers(), checkpointed.named_buffers(), strict=True):
        torch.testing.assert_close(a, b, msg=n)  # the recompute does not update the statistics twice


def test_zero_init_residual_zeroes_the_last_norm_of_the_branch() -> None:
    model = resnetdsl.build_model({**SMALL_BASIC, "init": {"zero_init_residual": True}}, seed=0)
    assert bool((model.layer1[0].conv2.bn.weight == 0).all())
    assert not bool((model.layer1[0].conv1.paths[0].bn.weight == 0).any())


# --- the checker --------------------------------------------------------------------------------------------


def _messages(spec: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as info:
        resnetdsl.check(spec)
    return [f"{'.'.join(map(str, i.path))}: {i.message}" for i in info.value.issues]


def test_invalid_sk_settings_are_refused_with_messages() -> None:
    spec = {
        "name": "bad",
        "defaults": {"block": "sk_bottleneck", "sk_kernels": [3, 4], "groups": 3},
        "stages": [{"depth": 1, "width": 64}, {"depth": 1, "width": 100, "stride": 2, "sk_kernels": [3, 5, 7]}],
    }
    assert _messages(spec) == [
        "defaults.sk_kernels: kernels must be odd, so that each branch keeps the map's size (got 4)",
        "defaults.groups: 3 groups do not divide the 100 → 300 channels of each branch of layer2.0.conv2; "
        "choose groups that divide them",
    ]
    split = {
        "name": "split",
        "defaults": {"block": "sk_basic", "sk_kernels": [3, 5, 7]},
        "stages": [{"depth": 1, "width": 64}],
    }
    assert _messages(split) == [
        "defaults.sk_kernels: 3 branches cannot split the 64 input channels of layer1.0.conv1 evenly; "
        "set sk_split_input: false or choose a width they divide"
    ]
    other = {"name": "o", "defaults": {"block": "basic", "sk_rd_ratio": 0.25}, "stages": [{"depth": 1, "width": 64}]}
    (message,) = _messages(other)
    assert message.startswith("defaults.sk_rd_ratio: applies only to sk_basic or sk_bottleneck blocks")


def test_a_branch_that_differs_from_the_others_is_refused_at_its_path() -> None:
    from resnetdsl.importer import UnsupportedModel

    with torch.device("meta"):
        ref = timm.create_model("skresnet18", pretrained=False)
        old = ref.layer2[0].conv1.paths[1].conv
        ref.layer2[0].conv1.paths[1].conv = torch.nn.Conv2d(32, 128, 3, 1, 2, 2, bias=False)
    assert old.stride == (2, 2)
    with pytest.raises(UnsupportedModel, match=r"^layer2\.0\.conv1\.paths\.1\.conv \(Conv2d\): differs from the spec"):
        spec_from_model(ref)
