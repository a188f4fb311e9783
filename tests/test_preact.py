"""Pre-activation ResNets (He et al. 2016), Wide ResNets, and timm's ResNetV2 layout.

Parity with live timm, the papers' parameter counts, the analyzer against the built models, dropout, the
shortcut reading the pre-activated input, and every new validation message word for word.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import resnetdsl
from resnetdsl import SpecError
from resnetdsl import plan as P
from resnetdsl.analyze import analyze
from resnetdsl.build_torch import BatchNormAct2d, ResNet
from resnetdsl.cli import main

NEW = ["resnetv2_50", "resnetv2_18", "preact_resnet164", "preact_resnet1001", "wrn28_10", "wrn40_4", "wrn16_8"]

PARAMS = {
    "resnetv2_50": 25_549_352,
    "resnetv2_18": 11_687_720,
    "preact_resnet164": 1_703_258,
    "preact_resnet1001": 10_327_706,
    "wrn28_10": 36_479_194,
    "wrn40_4": 8_949_210,
    "wrn16_8": 10_961_370,
}
"""Exact parameter counts (every parameter, BN γ and β included)."""


# --- the papers' parameter counts ----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "published"), [("wrn28_10", 36.5), ("wrn40_4", 8.9), ("wrn16_8", 11.0)])
def test_wide_resnet_counts_match_the_paper(name: str, published: float) -> None:
    # Zagoruyko & Komodakis 2016, table 1 / 4: WRN-28-10 36.5M, WRN-40-4 8.9M, WRN-16-8 11.0M
    params = analyze(resnetdsl.plan_of(name)).totals.params
    assert params == PARAMS[name]
    assert round(params / 1e6, 1) == published


def test_preact_cifar_counts_match_the_paper() -> None:
    # He et al. 2016, table 2: ResNet-164 1.7M, ResNet-1001 10.2M. The 10.2M counts conv and fc weights; with
    # BN's γ and β (2 × 74,608 more) ResNet-1001 has 10.33M. ResNet-164 rounds to 1.7M either way.
    for name, published, weights in (
        ("preact_resnet164", 1.7, 1_679_034),
        ("preact_resnet1001", 10.2, 10_178_490),
    ):
        a = analyze(resnetdsl.plan_of(name))
        assert a.totals.params == PARAMS[name]
        conv_fc = sum(li.params for li in a.layers() if isinstance(li.op, P.Conv | P.Linear))
        assert conv_fc == weights
        assert round(conv_fc / 1e6, 1) == published
        assert round(a.totals.params / 1e6, 1) == (1.7 if name == "preact_resnet164" else 10.3)


def test_preact_cifar_depths() -> None:
    for name, n in (("preact_resnet164", 18), ("preact_resnet1001", 111)):
        plan = resnetdsl.plan_of(name)
        weighted = [op for _, op in plan.named_ops() if isinstance(op, P.Conv | P.Linear)]
        shortcuts = sum(1 for _, b in plan.blocks() for op in b.shortcut_ops if isinstance(op, P.Conv))
        assert [s.depth for s in plan.stages] == [n] * 3
        assert len(weighted) - shortcuts == 9 * n + 2  # 3 convs per block, the stem conv, the classifier
        assert [s.out_channels for s in plan.stages] == [64, 128, 256]


# --- live timm parity ------------------------------------------------------------------------------------


def _randomize_norms(model: nn.Module) -> None:
    """Non-trivial BN statistics and affine terms, so that a missing or misplaced norm changes the output."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.randn(n, generator=g) * 0.1)
                assert m.running_mean is not None and m.running_var is not None
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)


TIMM_V2: dict[str, Any] = {
    "resnetv2_50": "resnetv2_50",
    "resnetv2_18": "resnetv2_18",
    # deep stem and avg-pool projections, in the same layout
    "resnetv2_50d": {
        "extends": "resnetv2_50",
        "name": "resnetv2_50d",
        "stem": {"kind": "deep"},
        "defaults": {"shortcut": "avgpool_projection"},
    },
}


@pytest.mark.parity
@pytest.mark.parametrize("name", list(TIMM_V2))
def test_timm_resnetv2_parity(name: str) -> None:
    timm = pytest.importorskip("timm")
    ref = timm.create_model(name, pretrained=False).eval()
    _randomize_norms(ref)
    ours = resnetdsl.build_model(TIMM_V2[name], seed=0).eval()
    ref_sd, our_sd = ref.state_dict(), ours.state_dict()
    assert list(our_sd) == list(ref_sd)  # the same keys in the same order
    assert [v.shape for v in our_sd.values()] == [v.shape for v in ref_sd.values()]
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in ref.parameters())
    ours.load_state_dict(ref_sd, strict=True)
    x = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=0, atol=0)  # bit-equal


def test_resnetv2_modules_are_timms() -> None:
    model = resnetdsl.build_model("resnetv2_50", device="meta")
    assert [n for n, _ in model.named_children()] == ["stem", "stages", "norm", "head"]
    assert [n for n, _ in model.stem.named_children()] == ["conv", "pool"]  # no norm: the blocks pre-activate
    block = model.get_submodule("stages.1.blocks.0")
    assert [n for n, _ in block.named_children()] == [
        "downsample",
        "norm1",
        "conv1",
        "norm2",
        "conv2",
        "norm3",
        "conv3",
    ]
    assert isinstance(block.norm1, BatchNormAct2d) and isinstance(model.norm, BatchNormAct2d)
    assert [n for n, _ in block.downsample.named_children()] == ["conv"]  # no norm after a pre-act projection
    fc = model.get_submodule("head.fc")
    assert isinstance(fc, nn.Conv2d) and fc.kernel_size == (1, 1) and fc.bias is not None
    assert block.conv2.stride == (2, 2)  # timm puts the stride on the 3×3


def test_projection_reads_the_preactivated_input_identity_reads_the_block_input() -> None:
    for name, pre, sc in (("resnetv2_18", "norm1", "downsample.conv"), ("wrn16_8", "act1", "downsample.0")):
        model = resnetdsl.build_model(name, seed=0).eval()
        _randomize_norms(model)
        blocks = model.get_submodule("stages.1.blocks" if name == "resnetv2_18" else "layer2")
        first, second = blocks[0], blocks[1]
        seen: dict[str, torch.Tensor] = {}
        first.get_submodule(pre).register_forward_hook(
            lambda m, a, out, seen=seen: seen.__setitem__("pre", out.clone())
        )
        first.get_submodule(sc).register_forward_hook(
            lambda m, a, out, seen=seen: seen.__setitem__("sc_in", a[0].clone())
        )
        second.register_forward_hook(lambda m, a, out, seen=seen: seen.update(x=a[0].clone(), y=out.clone()))
        last = second.conv2
        last.register_forward_hook(lambda m, a, out, seen=seen: seen.__setitem__("branch", out.clone()))
        size = 64 if name == "resnetv2_18" else 32
        with torch.no_grad():
            model(torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0)))
        torch.testing.assert_close(seen["sc_in"], seen["pre"], rtol=0, atol=0)
        # an identity block adds its raw input: y = branch + x, nothing after the add
        torch.testing.assert_close(seen["y"], seen["branch"] + seen["x"], rtol=0, atol=0)


# --- the analyzer against the built models ----------------------------------------------------------------

_SIZES = {"resnetv2_50": (64, 64), "resnetv2_18": (64, 64), "preact_resnet1001": (8, 8)}
"""Small inputs: 64×64 for the ImageNet nets, 16×16 for the CIFAR nets (8×8 for the 1001-layer one)."""
_SHAPES_ONLY = {"preact_resnet1001"}
"""On 1001 layers a backward pass costs ~20 s on two cores; its blocks are preact_resnet164's (same kind, same
code), which run backward here."""


@pytest.fixture(scope="module", params=NEW)
def built(request: pytest.FixtureRequest) -> Iterator[tuple[str, P.Plan, ResNet]]:
    name: str = request.param
    plan = resnetdsl.plan_of(name)
    yield name, plan, resnetdsl.build_model(plan, seed=0)


def test_analyzer_equals_built_model(built: tuple[str, P.Plan, ResNet]) -> None:
    """Params, buffers, every stage's (and the final norm's) output shape; then a backward pass.

    MACs against ``FlopCounterMode`` and every layer's shape against forward hooks: test_analyze runs those on
    every preset, these included (``test_macs_equal_flop_counter_half``, ``test_shapes_match_forward_hooks``).
    """
    name, plan, model = built
    h, w = _SIZES.get(name, (16, 16))
    a = analyze(plan, (h, w))
    assert a.totals.params == sum(p.numel() for p in model.parameters()) == PARAMS[name]
    assert a.totals.buffers == sum(b.numel() for b in model.buffers())
    expected = {st.path: (2, *st.out_shape) for st in a.stages}
    expected.update({li.path: (2, *li.output_dims) for li in a.final})
    seen: dict[str, tuple[int, ...]] = {}
    hooks = [
        model.get_submodule(path).register_forward_hook(
            lambda m, args, out, path=path: seen.__setitem__(path, tuple(out.shape))
        )
        for path in expected
    ]
    full = name not in _SHAPES_ONLY
    model.train(full)
    x = torch.randn(2, 3, h, w, generator=torch.Generator().manual_seed(0))
    with torch.enable_grad() if full else torch.no_grad():
        out = model(x)
    for hook in hooks:
        hook.remove()
    assert seen == expected
    assert tuple(out.shape) == (2, *a.output_shape)
    if not full:
        return
    out.square().mean().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    model.zero_grad(set_to_none=True)


def test_same_seed_same_weights(built: tuple[str, P.Plan, ResNet]) -> None:
    _, plan, model = built
    again = dict(resnetdsl.build_model(plan, seed=0).named_parameters())
    assert all(torch.equal(p, again[k]) for k, p in model.named_parameters())  # buffers moved in training


def test_another_seed_other_weights() -> None:
    a = resnetdsl.build_model("wrn16_8", seed=0).state_dict()
    b = resnetdsl.build_model("wrn16_8", seed=1).state_dict()
    assert all(not torch.equal(a[k], b[k]) for k in a if k.endswith("conv1.weight"))


def test_summary_counts_the_new_ops() -> None:
    s = resnetdsl.summarize("resnetv2_18")
    rows = {r.name: r for r in s.rows}
    assert rows["stages.0.blocks.0.norm1"].kind == "BatchNormAct2d"
    assert rows["stages.0.blocks.0.norm1"].params == 128 and rows["stages.0.blocks.0.norm1"].buffers == 129
    assert (rows["final"].kind, rows["final"].params, rows["final"].output_shape) == ("norm + act", 1024, (512, 7, 7))
    assert rows["head.fc"].kind == "Conv2d 1×1" and rows["head.fc"].macs == 512 * 1000
    counter = FlopCounterMode(display=False)
    with counter:
        resnetdsl.build_model("resnetv2_18", device="meta")(torch.zeros(1, 3, 224, 224, device="meta"))
    assert 2 * s.macs == counter.get_total_flops()
    assert s.params == PARAMS["resnetv2_18"] == sum(r.params for r in s.rows_at("stage"))
    s = resnetdsl.summarize("wrn28_10")
    rows = {r.name: r for r in s.rows}
    assert [rows[f"final_{k}"].kind for k in ("norm", "act")] == ["BatchNorm2d", "ReLU"]
    assert rows["layer1.0.dropout"].kind == "Dropout p=0.3"
    assert s.params == sum(r.params for r in s.rows_at("stage")) == PARAMS["wrn28_10"]


def test_zero_init_residual_zeroes_the_last_conv() -> None:
    model = resnetdsl.build_model({"extends": "wrn16_8", "init": {"zero_init_residual": True}}, seed=0)
    for block in (*model.layer1, *model.layer2, *model.layer3):
        assert not block.conv2.weight.any() and block.conv1.weight.any()


# --- dropout between the convs ---------------------------------------------------------------------------

SMALL_WRN: dict[str, Any] = {
    "name": "wrn10_2",
    "input": {"size": [16, 16]},
    "stem": {"kind": "conv3", "width": 16},
    "defaults": {"block": "preact_basic", "dropout": 0.3},
    "stages": [{"depth": 1, "width": 32}, {"depth": 1, "width": 64, "stride": 2}, {"depth": 1, "width": 128}],
    "head": {"num_classes": 10},
}


def test_dropout_sits_between_the_convs() -> None:
    block = resnetdsl.plan_of("wrn28_10").stages[0].blocks[0]
    assert [op.name for op in (*block.pre, *block.main)] == ["bn1", "act1", "conv1", "bn2", "act2", "dropout", "conv2"]
    assert P.Dropout("dropout", 0.3) in block.main
    assert not any(isinstance(op, P.Dropout) for _, op in resnetdsl.plan_of("wrn40_4").named_ops())


def test_dropout_is_identity_in_eval_mode() -> None:
    with_drop = resnetdsl.build_model(SMALL_WRN, seed=0)
    without = resnetdsl.build_model({**SMALL_WRN, "defaults": {"block": "preact_basic"}}, seed=0)
    assert isinstance(with_drop.layer1[0].dropout, nn.Dropout) and with_drop.layer1[0].dropout.p == 0.3
    without.load_state_dict(with_drop.state_dict(), strict=True)
    x = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(with_drop.eval()(x), without.eval()(x), rtol=0, atol=0)
        with_drop.train()
        without.train()
        torch.manual_seed(0)
        assert not torch.equal(with_drop(x), without(x))  # in training it drops


# --- validation, word for word ---------------------------------------------------------------------------

BASE = "name: t\nstem: {kind: conv3, width: 16}\n"

CASES: list[tuple[str, str, list[str]]] = [
    (
        "dropout_on_a_post_activation_stage",
        BASE + "stages:\n  - {depth: 1, width: 16, dropout: 0.3}\n",
        [
            "t.yaml:4:27: stages[0].dropout: applies only to preact_basic blocks, between their two 3×3 convs "
            "(stages[0] uses basic blocks); use block: preact_basic (head.dropout drops before the classifier)"
        ],
    ),
    (
        "dropout_on_preact_bottleneck",
        BASE + "defaults: {block: preact_bottleneck, dropout: 0.2}\nstages: [{depth: 1, width: 16}]\n",
        [
            "t.yaml:3:38: defaults.dropout: applies only to preact_basic blocks, between their two 3×3 convs "
            "(no stage uses them); use block: preact_basic (head.dropout drops before the classifier)"
        ],
    ),
    (
        "dropout_out_of_range",
        BASE + "defaults: {block: preact_basic, dropout: 1.0}\nstages: [{depth: 1, width: 16}]\n",
        ["t.yaml:3:42: defaults.dropout: must be < 1.0 (got 1.0)"],
    ),
    (
        "mixed_families",
        BASE + "defaults: {block: preact_basic}\nstages:\n  - {depth: 1, width: 16}\n"
        "  - {depth: 1, width: 32, stride: 2, block: basic}\n",
        [
            "t.yaml:6:45: stages[1].block: 'basic' is a post-activation block but stages[0] uses 'preact_basic'; "
            "a network's blocks are all pre-activation or all post-activation (the stem and the network's end "
            "depend on it)"
        ],
    ),
    (
        "mixed_families_inherited",
        BASE + "stages:\n  - {depth: 1, width: 16, block: preact_bottleneck}\n  - {depth: 1, width: 32}\n",
        [
            "t.yaml:4:34: stages[0].block: 'preact_bottleneck' is a pre-activation block but stages[1] uses "
            "'basic'; a network's blocks are all pre-activation or all post-activation (the stem and the "
            "network's end depend on it)"
        ],
    ),
    (
        "resnetv2_layout_with_post_activation_blocks",
        BASE + "layout: resnetv2\ndefaults: {block: bottleneck}\nstages: [{depth: 1, width: 16}]\n",
        [
            "t.yaml:3:9: layout: 'resnetv2' names pre-activation networks only (stages[0] uses bottleneck "
            "blocks); use block: preact_bottleneck, or layout: resnet"
        ],
    ),
    (
        "resnetv2_layout_cannot_name_stages",
        BASE + "layout: resnetv2\ndefaults: {block: preact_basic}\nstages: [{depth: 1, width: 16, name: body}]\n",
        [
            "t.yaml:5:32: stages[0].name: cannot be set with layout 'resnetv2', whose stages are stages.0, "
            "stages.1, …; remove it, or use layout: resnet"
        ],
    ),
    (
        "resnetv2_layout_has_no_conv_stem_pool",
        "name: t\nstem: {kind: conv7, pool: conv}\nlayout: resnetv2\ndefaults: {block: preact_basic}\n"
        "stages: [{depth: 1, width: 64}]\n",
        [
            "t.yaml:2:27: stem.pool: 'conv' has no module name in timm's ResNetV2 stem (layout 'resnetv2'); use "
            "max or none, or layout: resnet"
        ],
    ),
    (
        "layout_typo",
        BASE + "layout: resnet_v2\nstages: [{depth: 1, width: 16}]\n",
        [
            "t.yaml:3:9: layout: must be one of 'resnet', 'resnetv2', 'regnet', 'tv_regnet', 'senet' (got 'resnet_v2') "
            "(did you mean 'resnetv2'?)"
        ],
    ),
    (
        "bottleneck_setting_on_preact_basic",
        BASE + "defaults: {block: preact_basic}\nstages: [{depth: 1, width: 16, groups: 2}]\n",
        [
            "t.yaml:4:32: stages[0].groups: applies only to bottleneck, resnest or res2net blocks "
            "(stages[0] uses preact_basic blocks)"
        ],
    ),
    (
        "bottleneck_setting_in_defaults_every_stage_preact_basic",
        BASE + "defaults: {block: preact_basic, width_per_group: 32}\nstages: [{depth: 1, width: 16}]\n",
        [
            "t.yaml:3:33: defaults.width_per_group: applies only to bottleneck, resnest or res2net blocks "
            "(every stage uses preact_basic blocks)"
        ],
    ),
]


@pytest.mark.parametrize(("name", "text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_invalid_preact_specs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str, expected: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("t.yaml").write_text(text)
    with pytest.raises(SpecError) as info:
        resnetdsl.build_model(Path("t.yaml"), device="meta")
    assert [i.format() for i in info.value.issues] == expected


def test_valid_preact_settings_are_accepted() -> None:
    # dropout in defaults is fine while some stage uses preact_basic; groups on a preact bottleneck apply
    resnetdsl.plan_of({**SMALL_WRN, "stages": [{"depth": 1, "width": 16}]})
    plan = resnetdsl.plan_of(
        {
            "name": "x",
            "defaults": {"block": "preact_bottleneck", "groups": 4, "width_per_group": 8},
            "stages": [{"depth": 1, "width": 64}],
        }
    )
    assert plan.stages[0].blocks[0].main[3] == P.Conv("conv2", 32, 32, 3, padding=1, groups=4)
    # a pre-activation projection gets no BN unless asked for
    asked = resnetdsl.plan_of({**SMALL_WRN, "defaults": {"block": "preact_basic", "shortcut_norm": True}})
    assert [op.name for op in asked.stages[0].blocks[0].shortcut_ops] == ["downsample.0", "downsample.1"]
    assert [op.name for op in resnetdsl.plan_of(SMALL_WRN).stages[0].blocks[0].shortcut_ops] == ["downsample.0"]


# --- the command line ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NEW)
def test_summary_and_render_commands(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", name]) == 0
    out = capsys.readouterr().out
    assert f"{PARAMS[name]:,}" in out
    dot = tmp_path / f"{name}.dot"
    assert main(["render", name, "-o", str(dot), "--detail", "layer"]) == 0
    source = dot.read_text(encoding="utf-8")
    assert "BN-ReLU" in source if name.startswith("resnetv2") else "final_norm" in source
    assert "cluster_final" in source


def test_layer_drawing_forks_the_projection_after_the_preactivation() -> None:
    source = resnetdsl.render("wrn16_8", detail="layer").source
    # s0b0: bn1 (r0), act1 (r1); the projection's conv (c0) hangs off act1, not off the stem
    assert "\ts0b0_r1 -> s0b0_c0 " in source
    assert "\ts0b1_r1 -> s0b1_c0" not in source


@pytest.mark.parametrize("name", ["wrn16_8", "resnetv2_18"])
def test_totals_add_up_with_the_final_norm(name: str) -> None:
    from resnetdsl.analyze import Totals

    a = analyze(resnetdsl.plan_of(name))
    parts = a.stem_totals + sum((s.totals for s in a.stages), Totals()) + a.final_totals + a.head_totals
    assert a.totals == parts == Totals.of(a.layers())
    assert a.final_totals.params == 2 * a.stages[-1].out_shape[0]
    assert [layer.path for layer in a.layers()] == [path for path, _ in a.plan.named_ops()]
    roles = [li.role for li in a.stages[0].blocks[0].layers]
    n_pre = 1 if name == "resnetv2_18" else 2  # norm1 (BN + ReLU in one) or bn1, act1
    assert roles[: n_pre + 1] == ["pre"] * n_pre + ["main"]
