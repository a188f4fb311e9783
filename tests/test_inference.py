"""freeze_for_inference (oneDNN Graph partitions) and pack_for_inference (oneDNN primitives with pre-packed
weights) equal the eval model; the training model compiles without graph breaks and trains in channels_last and
under bfloat16 autocast."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from torch import nn

import resnetdsl
from resnetdsl.build_torch import SqueezeExcite
from resnetdsl.passes.freeze import FrozenInference
from resnetdsl.passes.gates import PooledGateConv, pool_gate_inputs
from resnetdsl.passes.pack import GatedResidual, PackedConv2d
from tests.test_fuse import _trained_stats

# (preset, input size, packed convs by post-ops: "add+relu" conv → add → ReLU, "add" conv → add, "relu" conv →
# ReLU, "none" a conv alone; "_": the add writes into its other operand's memory, which nothing reads later)
CASES = [
    # 8 basic blocks: the add goes to conv2 or, in the 3 projection blocks, to the later downsample conv
    ("resnet18", 64, {"add+relu_": 8, "relu": 9, "none": 3}),
    # the 2 blocks with padding shortcuts: their output may be a view of the block input, so not in place
    ("cifar_resnet20", 32, {"add+relu_": 7, "add+relu": 2, "relu": 10}),
    # pre-activation: the add feeds the next block's norm and shortcut, so no ReLU joins it; every norm1 and
    # the final norm (after an add) a depthwise conv with its ReLU (17 = 8 conv1 + 8 norm1 + 1); alone: the stem,
    # the 3 downsample convs and the head's 1×1 conv classifier (timm's)
    ("resnetv2_18", 64, {"add_": 8, "relu": 17, "none": 5}),
    ("extends: resnet18\ndefaults: {norm: group}", 64, None),  # group norms stay between conv and ReLU
    pytest.param("resnet50", 64, {"add+relu_": 16, "relu": 33, "none": 4}, marks=pytest.mark.slow),
    # squeeze-excite sits between conv3 and the add: only the 4 downsample convs take it
    pytest.param("seresnet50", 64, {"add+relu_": 4, "relu": 33, "none": 16}, marks=pytest.mark.slow),
    pytest.param("resnetv2_50", 64, {"add_": 16, "relu": 49, "none": 6}, marks=pytest.mark.slow),
    pytest.param("ecaresnet50d", 64, None, marks=pytest.mark.slow),
    pytest.param("preact_resnet164", 32, None, marks=pytest.mark.slow),
]


def _post_ops(model: nn.Module) -> dict[str, int]:
    counts = Counter(("+".join(p for p in (m.binary, m.unary) if p) or "none") + "_" * m.inplace
                     for m in model.modules() if isinstance(m, PackedConv2d))  # fmt: skip
    return dict(counts)


def _gated(model: nn.Module) -> set[int]:
    """The convs inside squeeze-excite gates: the gate is one leaf of the traced graph, they stay as they are."""
    return {id(c) for m in model.modules() if isinstance(m, SqueezeExcite) for c in m.modules()}


@pytest.mark.parametrize(("name", "size", "post_ops"), CASES)
def test_packed_equals_eval_model(name: str, size: int, post_ops: dict[str, int] | None) -> None:
    model = resnetdsl.build_model(name, seed=0)
    _trained_stats(model, size)
    packed = resnetdsl.pack_for_inference(model)
    g = torch.Generator().manual_seed(2)
    for shape in [(2, 3, size, size), (1, 3, size + 16, size + 32)]:  # another batch and sides than the example
        x = torch.randn(*shape, generator=g)
        with torch.inference_mode():
            torch.testing.assert_close(packed(x), model(x), rtol=1e-4, atol=1e-4)
    if post_ops is not None:
        assert _post_ops(packed) == post_ops
    # every conv outside the squeeze-excite gates (one leaf of the graph) is packed; no batch norm is left
    assert not any(type(m) is nn.Conv2d for m in packed.modules() if id(m) not in _gated(packed))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in packed.modules())
    assert not packed.training and not any(p.requires_grad for p in packed.parameters())
    assert packed.plan is model.plan and packed.num_classes == model.num_classes
    assert not any(isinstance(m, PackedConv2d) for m in model.modules())  # the original is untouched


@pytest.mark.parametrize("attention", ["se", "eca"])
def test_gates_join_their_residual_add(attention: str) -> None:
    model = resnetdsl.build_model(f"extends: resnet18\ndefaults: {{attention: {attention}}}", seed=0)
    _trained_stats(model, 64)
    packed = resnetdsl.pack_for_inference(model)
    x = torch.randn(2, 3, 64, 80)
    with torch.inference_mode():
        torch.testing.assert_close(packed(x), model(x), rtol=1e-4, atol=1e-4)
    gated = [m for m in packed.modules() if isinstance(m, GatedResidual)]
    # 8 blocks: in the 3 with a projection the downsample conv takes the add, the other 5 gate it in one pass
    assert len(gated) == 5 and all(m.relu and m.inplace for m in gated)
    assert _post_ops(packed) == {"add+relu_": 3, "relu": 9, "none": 8}


def test_packed_backbone_returns_every_map() -> None:
    model = resnetdsl.build_model("resnet18", seed=0, features_only=True, out_indices=(1, 2, 4))
    _trained_stats(model, 64)
    packed = resnetdsl.pack_for_inference(model)
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        got, want = packed(x), model(x)
    assert len(got) == len(want) == 3
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    assert packed.feature_info.channels() == model.feature_info.channels()


def test_pack_under_inference_mode() -> None:
    model = resnetdsl.build_model("cifar_resnet20", seed=0).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.inference_mode():  # the packed model built there too, as a serving script may do
        packed = resnetdsl.pack_for_inference(model)
        torch.testing.assert_close(packed(x), model(x), rtol=1e-4, atol=1e-4)


def test_pack_takes_a_fused_model_too() -> None:
    model = resnetdsl.build_model("resnet18", seed=0)
    _trained_stats(model, 64)
    packed = resnetdsl.pack_for_inference(resnetdsl.build_model(model.plan, seed=0, inference=True))
    again = resnetdsl.pack_for_inference(model)
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        torch.testing.assert_close(again(x), model(x), rtol=1e-4, atol=1e-4)
        assert packed(x).shape == (1, 1000)
    assert _post_ops(packed) == _post_ops(again)


def test_packed_weights_follow_the_input_shape_and_the_weights() -> None:
    model = resnetdsl.build_model("cifar_resnet20", seed=0).eval()
    packed = resnetdsl.pack_for_inference(model)
    conv = packed.get_submodule("conv1_packed")  # the stem conv, conv1 → bn1 → ReLU
    assert isinstance(conv, PackedConv2d) and conv.unary == "relu"
    x = torch.randn(2, 3, 32, 32)
    with torch.inference_mode():
        for side in (32, 40, 32):
            packed(torch.randn(2, 3, side, side))
        assert len(conv._packed) == 2  # one packed copy per input shape seen, reused
        with torch.no_grad():
            conv.weight.mul_(2.0)  # a new version of the weight: packed again, not the stale copy
            model.conv1.weight.mul_(2.0)
        torch.testing.assert_close(packed(x), model(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("how", ["meta", "bfloat16"])
def test_pack_refuses_what_onednn_fp32_cannot_run(how: str) -> None:
    kw = {"device": "meta"} if how == "meta" else {"dtype": torch.bfloat16}
    model = resnetdsl.build_model("cifar_resnet20", **kw)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pack_for_inference runs float32 CPU models"):
        resnetdsl.pack_for_inference(model)


# (preset, batch it is frozen at, input side): post-activation with projections and padding shortcuts,
# pre-activation (norms after adds) and SE gates, each shrunk to two one-block stages (every op kind it has):
# oneDNN Graph compiles each partition per shape, a second or more per net on 2 cores
SMALL = {"stages": [{"depth": 1, "width": 16}, {"depth": 1, "width": 32, "stride": 2}], "stem.width": 16}
FROZEN = [
    ("cifar_resnet20", 1, {}),
    ("cifar_resnet20", 8, {}),
    ("resnetv2_18", 1, SMALL),
    ("seresnet50", 1, SMALL),
    ("seresnet50", 8, SMALL),
    pytest.param("ecaresnet50d", 2, SMALL, marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("name", "batch", "overrides"), FROZEN)
def test_frozen_equals_eval_model(name: str, batch: int, overrides: dict[str, object]) -> None:
    model = resnetdsl.build_model(name, seed=0, overrides=overrides)
    _trained_stats(model, 32)
    frozen = resnetdsl.freeze_for_inference(model, batch_size=batch, input_size=(32, 32))
    assert isinstance(frozen, FrozenInference) and frozen.backend == "onednn_graph"
    x = torch.randn(batch, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        torch.testing.assert_close(frozen(x), model(x), rtol=1e-4, atol=1e-4)
        # the graph that ran holds oneDNN Graph partitions (the fusion took), and the switch is off again
        assert "prim::oneDNNFusionGroup" in str(torch.jit.last_executed_optimized_graph())
        assert not torch._C._jit_llga_enabled()
    assert frozen.plan is model.plan and frozen.num_classes == model.num_classes


def _partitions(graph: torch._C.Graph) -> list[tuple[str, ...]]:
    """The ops of each oneDNN Graph partition in ``graph`` (its constants left out)."""
    found = []
    for node in graph.nodes():
        for block in node.blocks():  # a partition sits in its guard's first branch
            found += [
                tuple(op.kind() for op in n.g("Subgraph").nodes() if op.kind() != "prim::Constant")
                for n in block.nodes()
                if n.kind() == "prim::oneDNNFusionGroup"
            ]
    return found


@pytest.mark.parametrize("name", ["seresnet50", pytest.param("ecaresnet50d", marks=pytest.mark.slow)])
def test_frozen_gate_multiplies_inside_its_conv(name: str) -> None:
    """A gate after a 1×1 conv pools the conv's input: the conv, the gate's multiply, the residual add and the
    ReLU run as one partition (before, the gate's last small conv took the multiply and the add, after the big
    conv's output was written), in each of the two blocks."""
    model = resnetdsl.build_model(name, seed=0, overrides=SMALL)
    _trained_stats(model, 32)
    frozen = resnetdsl.freeze_for_inference(model, batch_size=2, input_size=(32, 32))
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        torch.testing.assert_close(frozen(x), model(x), rtol=1e-4, atol=1e-4)
        graph = torch.jit.last_executed_optimized_graph()
    assert _partitions(graph).count(("aten::_convolution", "aten::mul", "aten::add", "aten::relu")) == 2
    assert not {"aten::mul", "aten::sigmoid"} & {n.kind() for n in graph.nodes()}  # none outside a partition


@pytest.mark.parametrize(("spec", "rewritten"), [
    ("seresnet50", 2),  # after conv3, a 1×1 conv: both blocks
    ("ecaresnet50d", 2),
    ("extends: seresnet50\ndefaults: {block: basic}", 0),  # after a padded 3×3 conv: the gates stay
])  # fmt: skip
def test_pool_gate_inputs_equals_the_gated_conv(spec: str, rewritten: int) -> None:
    model = resnetdsl.build_model(spec, seed=0, overrides=SMALL)
    _trained_stats(model, 32)
    fused = resnetdsl.fuse_for_inference(model)
    assert pool_gate_inputs(fused) == rewritten
    assert sum(isinstance(m, PooledGateConv) for m in fused.modules()) == rewritten
    x = torch.randn(2, 3, 32, 40, generator=torch.Generator().manual_seed(4))
    with torch.inference_mode():
        torch.testing.assert_close(fused(x), model(x), rtol=1e-4, atol=1e-4)


def test_freeze_leaves_a_fused_model_as_it_was() -> None:
    fused = resnetdsl.fuse_for_inference(resnetdsl.build_model("seresnet50", seed=0, overrides=SMALL))
    resnetdsl.freeze_for_inference(fused, input_size=(32, 32))
    assert not any(isinstance(m, PooledGateConv) for m in fused.modules())
    assert sum(isinstance(m, SqueezeExcite) for m in fused.modules()) == 2


def test_frozen_runs_other_shapes() -> None:
    model = resnetdsl.build_model("cifar_resnet20", seed=0).eval()
    frozen = resnetdsl.freeze_for_inference(model, batch_size=1)
    x = torch.randn(3, 3, 40, 48)  # another batch and sides than the example: specialised on its first calls
    with torch.inference_mode():
        for _ in range(3):
            torch.testing.assert_close(frozen(x), model(x), rtol=1e-4, atol=1e-4)


def test_frozen_falls_back_to_packed_where_onednn_graph_refuses() -> None:
    model = resnetdsl.build_model("extends: cifar_resnet20\ndefaults: {norm: group, norm_groups: 4}", seed=0).eval()
    frozen = resnetdsl.freeze_for_inference(model)
    assert frozen.backend == "packed"  # oneDNN Graph's bridge fails on group norm
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(frozen(x), model(x), rtol=1e-4, atol=1e-4)


def test_frozen_backbone_returns_every_map() -> None:
    model = resnetdsl.build_model("cifar_resnet20", seed=0, features_only=True, out_indices=(1, 2, 3)).eval()
    frozen = resnetdsl.freeze_for_inference(model)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        got, want = frozen(x), model(x)
    assert len(got) == len(want) == 3
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_freeze_refuses_what_onednn_fp32_cannot_run() -> None:
    model = resnetdsl.build_model("cifar_resnet20", dtype=torch.bfloat16)
    with pytest.raises(ValueError, match="freeze_for_inference runs float32 CPU models"):
        resnetdsl.freeze_for_inference(model)


def _step(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    model.zero_grad()
    loss = nn.functional.cross_entropy(model(x).float(), target)
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]


@pytest.fixture(scope="module")
def small() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """A small training model with every kind of op of a post-activation net (stem pool, projections)."""
    model = resnetdsl.build_model("resnet18", seed=0, num_classes=10).train()
    g = torch.Generator().manual_seed(0)
    return model, torch.randn(4, 3, 64, 64, generator=g), torch.randint(0, 10, (4,), generator=g)


# each family shrunk to two one-block stages at width 8 and 16 (every op kind it has, projections and stride
# included): dynamo's capture and AOT autograd cost seconds per graph on 2 cores, not a minute
TINY_STAGES = [{"depth": 1, "width": 8}, {"depth": 1, "width": 16, "stride": 2}]
FAMILIES = [
    pytest.param("resnet18", {"defaults.drop_path": 0.1}, id="resnet18+drop_path"),
    pytest.param("resnetv2_18", {}, marks=pytest.mark.slow, id="resnetv2_18"),
    pytest.param("seresnet50", {}, marks=pytest.mark.slow, id="seresnet50"),
    pytest.param("ecaresnet50d", {}, marks=pytest.mark.slow, id="ecaresnet50d"),
]


@pytest.mark.parametrize(("name", "overrides"), FAMILIES)
def test_training_model_compiles_fullgraph_and_trains(name: str, overrides: dict[str, object]) -> None:
    """``fullgraph=True`` fails on any graph break; the compiled step (capture + autograd, no code generation:
    inductor's is in bench/compile.py) gives the eager step's loss and gradients."""
    overrides = {"stages": TINY_STAGES, "stem.width": 8, **overrides}
    model = resnetdsl.build_model(name, seed=0, num_classes=4, overrides=overrides).train()
    g = torch.Generator().manual_seed(0)
    x, target = torch.randn(2, 3, 32, 32, generator=g), torch.randint(0, 4, (2,), generator=g)
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    torch.manual_seed(0)  # drop path draws the same masks in both steps
    want_loss, want_grads = _step(model, x, target)
    torch.manual_seed(0)
    got_loss, got_grads = _step(compiled, x, target)
    torch.testing.assert_close(got_loss, want_loss, rtol=1e-5, atol=1e-5)
    for a, b in zip(got_grads, want_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_trains_in_channels_last(small: tuple[nn.Module, torch.Tensor, torch.Tensor]) -> None:
    model, x, target = small
    want_loss, want_grads = _step(model, x, target)
    model.to(memory_format=torch.channels_last)
    try:
        got_loss, got_grads = _step(model, x.contiguous(memory_format=torch.channels_last), target)
        conv_grad = model.conv1.weight.grad
        assert conv_grad is not None and conv_grad.is_contiguous(memory_format=torch.channels_last)
    finally:
        model.to(memory_format=torch.contiguous_format)
    torch.testing.assert_close(got_loss, want_loss, rtol=1e-4, atol=1e-4)
    for a, b in zip(got_grads, want_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)


def test_trains_under_bfloat16_autocast(small: tuple[nn.Module, torch.Tensor, torch.Tensor]) -> None:
    model, x, target = small
    want_loss, want_grads = _step(model, x, target)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert model(x).dtype == torch.bfloat16
        got_loss, got_grads = _step(model, x, target)
    assert all(p.dtype == torch.float32 for p in model.parameters())  # the master weights stay float32
    torch.testing.assert_close(got_loss, want_loss, rtol=5e-2, atol=5e-2)
    pairs = zip(got_grads, want_grads, strict=True)
    cos = [nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0) for a, b in pairs]
    assert min(cos) > 0.8, min(cos)  # bf16 rounding, the same descent direction
