"""The ResNet family: norms, activations, SE/ECA attention and stochastic depth, against timm and torch."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import resnetdsl
from resnetdsl import SpecError
from resnetdsl import blocks as B
from resnetdsl import plan as P
from resnetdsl.analyze import analyze
from resnetdsl.build_torch import DropPath, FrozenBatchNorm2d
from resnetdsl.cli import main as cli_main

FAMILY = ["resnet50_gn", "seresnet50", "seresnext50_32x4d", "ecaresnet50d", "resnetrs50"]
"""The presets of this family, each named as the timm model it equals."""

NORMS = ["batch", "group", "frozen_batch", "none"]
ACTS = ["relu", "leaky_relu", "silu", "gelu", "mish", "hardswish"]
ATTENTION = ["se", "eca", "none"]


# --- live timm parity ---------------------------------------------------------------------------------


@pytest.mark.parity
@pytest.mark.parametrize("name", FAMILY)
def test_timm_parity(name: str) -> None:
    timm = pytest.importorskip("timm")
    ref = timm.create_model(name, pretrained=False).eval()
    ours = resnetdsl.build_model(name, seed=0).eval()
    ref_sd, our_sd = ref.state_dict(), ours.state_dict()
    assert list(our_sd) == list(ref_sd)
    assert [v.shape for v in our_sd.values()] == [v.shape for v in ref_sd.values()]
    assert analyze(resnetdsl.plan_of(name)).totals.params == sum(p.numel() for p in ref.parameters())
    ours.load_state_dict(ref_sd, strict=True)
    x = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=1e-6, atol=1e-6)


@pytest.mark.parity
def test_drop_path_rates_follow_timm() -> None:
    timm = pytest.importorskip("timm")
    ref = timm.create_model("resnet50", pretrained=False, drop_path_rate=0.1)
    ours = resnetdsl.build_model({"extends": "resnet50", "name": "dp", "defaults": {"drop_path": 0.1}}, device="meta")
    want = {n: m.drop_prob for n, m in ref.named_modules() if type(m).__name__ == "DropPath"}
    got = {n: m.p for n, m in ours.named_modules() if isinstance(m, DropPath)}
    assert got == want
    assert len(got) == 15 and "layer1.0.drop_path" not in got  # the first of 16 blocks gets rate 0: no module
    assert got["layer4.2.drop_path"] == pytest.approx(0.1)
    assert list(ours.state_dict()) == list(resnetdsl.build_model("resnet50", device="meta").state_dict())


@pytest.mark.parity
def test_se_and_eca_widths_follow_timm() -> None:
    timm_layers = pytest.importorskip("timm.layers")
    for ratio in (1 / 16, 1 / 8, 0.25, 0.3, 1.0):
        for divisor in (1, 4, 8):
            for c in range(1, 2100, 13):
                want = timm_layers.make_divisible(c * ratio, divisor, round_limit=0.0)
                assert B.make_divisible(c * ratio, divisor) == want, (c, ratio, divisor)
    for c in (*range(1, 300), 511, 512, 513, 1023, 1024, 2048, 4096, 8191):
        assert B.eca_kernel_size(c) == timm_layers.EcaModule(c).conv.kernel_size[0], c


# --- the modules --------------------------------------------------------------------------------------


def test_frozen_batch_norm_has_buffers_only_and_loads_batch_norm_checkpoints() -> None:
    frozen = FrozenBatchNorm2d(6)
    assert list(frozen.parameters()) == []
    assert list(frozen.state_dict()) == ["weight", "bias", "running_mean", "running_var"]
    bn = nn.BatchNorm2d(6)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for t in (bn.weight, bn.bias, bn.running_mean):
            t.copy_(torch.randn(6, generator=g))
        bn.running_var.copy_(torch.rand(6, generator=g) + 0.5)
    frozen.load_state_dict(bn.state_dict(), strict=True)  # num_batches_tracked is dropped
    x = torch.randn(2, 6, 5, 5, generator=g)
    torch.testing.assert_close(frozen(x), bn.eval()(x))
    tvops = pytest.importorskip("torchvision.ops")
    ref = tvops.FrozenBatchNorm2d(6)
    ref.load_state_dict(frozen.state_dict(), strict=True)
    assert list(ref.state_dict()) == list(frozen.state_dict())
    torch.testing.assert_close(frozen(x), ref(x))


def test_drop_path_drops_whole_samples_in_training_and_is_the_identity_in_eval() -> None:
    dp = DropPath(0.5)
    x = torch.ones(400, 3, 2, 2)
    torch.manual_seed(0)
    y = dp.train()(x)
    per_sample = y.flatten(1)
    assert set(per_sample.unique().tolist()) == {0.0, 2.0}  # dropped, or kept and scaled by 1 / (1 − p)
    assert (per_sample == per_sample[:, :1]).all()  # a sample is dropped as a whole
    assert 150 < int((per_sample[:, 0] == 0).sum()) < 250
    assert dp.eval()(x) is x


def test_drop_path_changes_no_weight_and_nothing_in_eval() -> None:
    base = {"name": "t", "input": {"size": [32, 32]}, "stem": {"kind": "conv3", "width": 8}}
    base["stages"] = [{"depth": 2, "width": 8}, {"depth": 2, "width": 16, "stride": 2}]
    plain = resnetdsl.build_model(base, seed=3).eval()
    dropped = resnetdsl.build_model({**base, "defaults": {"drop_path": 0.5}}, seed=3).eval()
    assert sum(isinstance(m, DropPath) for m in dropped.modules()) == 3
    assert [t.tolist() for t in plain.state_dict().values()] == [t.tolist() for t in dropped.state_dict().values()]
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(dropped(x), plain(x), rtol=0, atol=0)
        dropped.train()
        torch.manual_seed(0)
        assert not torch.equal(dropped(x), plain.train()(x))  # in training some branch is dropped


def test_norm_and_act_kinds_become_torch_modules() -> None:
    def spec(**defaults: Any) -> dict[str, Any]:
        return {"extends": "resnet50", "name": "t", "defaults": defaults}

    keys = list(resnetdsl.build_model("resnet50", device="meta").state_dict())
    for act, cls in [("leaky_relu", nn.LeakyReLU), ("silu", nn.SiLU), ("gelu", nn.GELU), ("mish", nn.Mish)]:
        model = resnetdsl.build_model(spec(act=act), device="meta")
        assert list(model.state_dict()) == keys  # activations have no state
        assert type(model.layer3[1].act2) is cls and type(model.act1) is cls
    model = resnetdsl.build_model(spec(act="leaky_relu", act_negative_slope=0.2), device="meta")
    assert model.layer1[0].act3.negative_slope == 0.2
    assert type(resnetdsl.build_model(spec(act="hardswish"), device="meta").act1) is nn.Hardswish

    gn = resnetdsl.build_model(spec(norm="group", norm_group_channels=16), device="meta")
    assert isinstance(gn.layer2[0].bn1, nn.GroupNorm) and gn.layer2[0].bn1.num_groups == 128 // 16
    assert isinstance(gn.bn1, nn.GroupNorm) and gn.bn1.num_groups == 4  # the stem inherits `defaults`
    assert gn.layer2[0].downsample[1].num_groups == 512 // 16
    keep_stem = {**spec(norm="group", norm_groups=8), "stem": {"norm": "batch"}}
    assert type(resnetdsl.build_model(keep_stem, device="meta").bn1) is nn.BatchNorm2d

    frozen = resnetdsl.build_model(spec(norm="frozen_batch"), device="meta")
    assert sum(p.numel() for p in frozen.parameters()) == 25_557_032 - 53_120  # resnet50 less its norms' γ, β
    assert isinstance(frozen.layer4[2].bn3, FrozenBatchNorm2d)

    bare = resnetdsl.plan_of(spec(norm="none"))
    assert not any(isinstance(op, P.Norm) for _, op in bare.named_ops())
    model = resnetdsl.build_model(bare, device="meta")
    assert [n for n, _ in model.layer1[0].named_children()] == [
        *("conv1", "act1", "conv2", "act2", "conv3", "act3"),
        "downsample",  # a Sequential of the 1×1 conv alone
    ]
    assert [n for n, _ in model.layer1[0].downsample.named_children()] == ["0"]


def test_per_stage_settings_override_defaults() -> None:
    spec = {
        "name": "mixed",
        "stem": {"kind": "conv3", "width": 16, "act": "silu"},
        "defaults": {"block": "basic", "attention": "se", "se_ratio": 0.5, "norm": "group", "norm_groups": 4},
        "stages": [
            {"depth": 1, "width": 16},
            {"depth": 1, "width": 32, "stride": 2, "attention": "eca", "eca_kernel": 5, "norm": "batch"},
            {"depth": 1, "width": 32, "norm_group_channels": 16, "act": "gelu"},
        ],
    }
    model = resnetdsl.build_model(spec, device="meta")
    assert type(model.act1) is nn.SiLU and type(model.layer1[0].act1) is nn.ReLU
    assert model.bn1.num_groups == 4 and model.layer1[0].bn1.num_groups == 4
    assert model.layer1[0].se.fc1.out_channels == 8  # 16 × 0.5
    assert model.layer2[0].se.conv.kernel_size == (5,) and type(model.layer2[0].bn1) is nn.BatchNorm2d
    assert model.layer3[0].bn2.num_groups == 2 and type(model.layer3[0].act2) is nn.GELU


# --- seeded-random specs that use every new key: the analyzer against the built model -----------------


def _norm_act(rng: random.Random) -> dict[str, Any]:
    out: dict[str, Any] = {"norm": rng.choice(NORMS), "act": rng.choice(ACTS)}
    if out["norm"] == "group":
        out |= rng.choice([{"norm_groups": rng.choice([1, 2, 4])}, {"norm_group_channels": rng.choice([2, 4])}])
    if out["act"] == "leaky_relu" and rng.random() < 0.5:
        out["act_negative_slope"] = rng.choice([0.1, 0.2])
    return out


def _attention(rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(ATTENTION)
    out: dict[str, Any] = {"attention": kind}
    if kind == "se":
        out |= rng.choice([{}, {"se_ratio": rng.choice([0.25, 0.5])}, {"se_divisor": 4}])
    if kind == "eca" and rng.random() < 0.5:
        out["eca_kernel"] = rng.choice([1, 3, 5])
    return out


def random_spec(seed: int) -> dict[str, Any]:
    """A small network using the family's keys; stage 0 inherits `defaults`, so every option there applies."""
    rng = random.Random(seed)
    stem: dict[str, Any] = rng.choice(
        [{"kind": "conv3", "width": 16}, {"kind": "deep", "width": 16, "mid_widths": [8, 8], "pool": "conv"}]
    )
    if rng.random() < 0.4:
        stem |= _norm_act(rng)
    defaults: dict[str, Any] = {
        "block": rng.choice(["basic", "bottleneck"]),
        "shortcut": rng.choice(["projection", "avgpool_projection", "projection_all"]),
        "drop_path": rng.choice([0.0, 0.2, 0.5]),
        **_norm_act(rng),
        **_attention(rng),
    }
    stages: list[dict[str, Any]] = [{"depth": rng.choice([1, 2]), "width": 8}]
    for width in rng.sample([8, 16, 24], 2):
        stage: dict[str, Any] = {"depth": rng.choice([1, 2]), "width": width, "stride": rng.choice([1, 2])}
        if rng.random() < 0.6:
            stage |= _norm_act(rng)
        if rng.random() < 0.6:
            stage |= _attention(rng)
        if rng.random() < 0.4:
            stage["drop_path"] = rng.choice([0.0, 0.3])
        stages.append(stage)
    size = [rng.randint(24, 40), rng.randint(24, 40)]
    return {"name": f"random{seed}", "input": {"size": size}, "stem": stem, "defaults": defaults, "stages": stages}


SEEDS = list(range(12))


def random_spec_blocks(seed: int) -> dict[str, Any]:
    """:func:`random_spec` grown to the whole block language: pre-activation blocks (in both layouts), in-block
    dropout and per-block overrides (kinds of the same family, widths, strides, attention, norms)."""
    rng = random.Random(1000 + seed)
    spec = random_spec(1000 + seed)
    preact = seed % 2 == 0
    v2 = preact and seed % 4 == 0
    if preact:
        spec["defaults"]["block"] = rng.choice(["preact_basic", "preact_bottleneck"])
        if spec["defaults"]["block"] == "preact_basic" and rng.random() < 0.7:
            spec["defaults"]["dropout"] = rng.choice([0.1, 0.3])
        if v2:  # timm's ResNetV2 names: batch norm + ReLU only, no conv stem pool
            spec["layout"] = "resnetv2"
            spec["stem"] = {"kind": rng.choice(["conv3", "deep"]), "width": 16}
            for part in (spec["defaults"], *spec["stages"]):
                for key in ("norm", "norm_groups", "norm_group_channels", "act", "act_negative_slope"):
                    part.pop(key, None)
    kinds = ["preact_basic", "preact_bottleneck"] if preact else ["basic", "bottleneck"]
    for stage in spec["stages"]:
        if stage["depth"] < 2 and rng.random() < 0.5:
            stage["depth"] = 2
        over: dict[str, Any] = {"at": rng.choice([0, -1, [0, 1] if stage["depth"] > 1 else 0])}
        over["block"] = rng.choice(kinds)
        if rng.random() < 0.5:
            over["width"] = rng.choice([4, 12])
        if rng.random() < 0.3:
            over["stride"] = 2
        if rng.random() < 0.4:
            over |= _attention(rng)
        if not v2 and rng.random() < 0.4:
            over |= _norm_act(rng)
        if over["block"] == "preact_basic" and rng.random() < 0.5:
            over["dropout"] = 0.2
        stage["blocks"] = [over]
    spec["name"] = f"random_blocks{seed}"
    return spec


GENERATORS = {"family": random_spec, "blocks": random_spec_blocks}


def test_random_block_specs_cover_the_block_language() -> None:
    plans = [resnetdsl.plan_of(random_spec_blocks(s)) for s in SEEDS]
    kinds = {b.kind for plan in plans for _, b in plan.blocks()}
    assert kinds == {"basic", "bottleneck", "preact_basic", "preact_bottleneck"}
    assert {plan.layout for plan in plans} == {"resnet", "resnetv2"}
    ops = [op for plan in plans for _, op in plan.named_ops()]
    assert {type(op) for op in ops} >= {P.Dropout, P.NormAct, P.SqueezeExcite, P.EfficientChannelAttn, P.DropPath}
    assert any("+" in st.block_kind for plan in plans for st in plan.stages)  # a stage of mixed kinds


def test_random_specs_cover_every_new_setting() -> None:
    plans = [resnetdsl.plan_of(random_spec(s)) for s in SEEDS]
    ops = [op for plan in plans for _, op in plan.named_ops()]
    assert {op.kind for op in ops if isinstance(op, P.Norm)} == {"batch", "group", "frozen_batch"}
    assert {op.kind for op in ops if isinstance(op, P.Act)} == set(ACTS)
    assert {type(op) for op in ops} >= {P.SqueezeExcite, P.EfficientChannelAttn, P.DropPath}
    assert any(isinstance(op, P.Act) and op.negative_slope != 0.01 for op in ops)
    assert any(not any(isinstance(op, P.Norm) for op in b.main) for plan in plans for _, b in plan.blocks())
    specs = [random_spec(s) for s in SEEDS]
    assert any("norm_group_channels" in part for s in specs for part in (s["defaults"], s["stem"], *s["stages"]))
    assert any(s["stem"].get("norm") not in (None, s["defaults"]["norm"]) for s in specs)


@pytest.mark.parametrize("kind", GENERATORS)
@pytest.mark.parametrize("seed", SEEDS)
def test_random_spec_analysis_equals_built_model(seed: int, kind: str) -> None:
    plan = resnetdsl.plan_of(GENERATORS[kind](seed))
    a = analyze(plan)
    model = resnetdsl.build_model(plan, seed=seed)
    assert a.totals.params == sum(p.numel() for p in model.parameters())
    assert a.totals.buffers == sum(b.numel() for b in model.buffers())
    for layer in a.layers():
        module = model.get_submodule(layer.path)
        assert layer.params == sum(p.numel() for p in module.parameters()), layer.path
        assert layer.buffers == sum(b.numel() for b in module.buffers()), layer.path

    # every stage's, block's and layer's output shape, by forward hooks
    seen: dict[str, tuple[int, ...]] = {}
    expected = {layer.path: layer.output_dims for layer in a.layers()}
    for st in a.stages:
        expected[st.path] = st.out_shape
        expected |= {b.path: b.out_shape for b in st.blocks}
    for path in expected:
        model.get_submodule(path).register_forward_hook(
            lambda m, args, out, path=path: seen.__setitem__(path, tuple(out.shape[1:]))
        )
    x = torch.randn(2, plan.in_channels, *plan.input_size, generator=torch.Generator().manual_seed(seed))
    model.eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        out = model(x)
    assert seen == expected
    assert tuple(out.shape) == (2, *a.output_shape)

    # MACs: conv, linear, SE's two 1×1 convs and ECA's 1-D conv, per module and in total
    assert 2 * a.totals.macs == counter.get_total_flops() // 2  # a batch of two
    per_module = counter.get_flop_counts()
    for layer in a.layers():
        if isinstance(layer.op, P.Conv | P.Linear | P.SqueezeExcite | P.EfficientChannelAttn):
            assert 2 * 2 * layer.macs == sum(per_module[f"ResNet.{layer.path}"].values()), layer.path

    # training: forward and backward reach every parameter
    model.train()
    model(x).square().mean().backward()
    assert all(p.grad is not None for p in model.parameters())

    # the same seed gives the same weights, another seed others
    again = resnetdsl.build_model(plan, seed=seed).state_dict()
    other = resnetdsl.build_model(plan, seed=seed + 100).state_dict()
    fresh = resnetdsl.build_model(plan, seed=seed)
    assert all(torch.equal(v, again[k]) for k, v in fresh.state_dict().items())
    assert not all(torch.equal(v, other[k]) for k, v in fresh.state_dict().items())


# --- the family presets through every backend ---------------------------------------------------------


@pytest.mark.parametrize("name", FAMILY)
def test_family_preset_counts(name: str) -> None:
    plan = resnetdsl.plan_of(name)
    a = analyze(plan, (64, 64))
    model = resnetdsl.build_model(plan, device="meta").eval()
    assert a.totals.params == sum(p.numel() for p in model.parameters())
    assert a.totals.buffers == sum(b.numel() for b in model.buffers())
    counter = FlopCounterMode(display=False)
    with counter:
        model(torch.zeros(1, 3, 64, 64, device="meta"))
    assert 2 * a.totals.macs == counter.get_total_flops()


FAMILY_TEXT = {
    "resnet50_gn": ("GroupNorm g32", "GN 32"),
    "seresnet50": ("SEModule 256→16", "SE 256→16"),
    "seresnext50_32x4d": ("SEModule 2048→128", "SE 2048→128"),
    "ecaresnet50d": ("EcaModule k7", "ECA k7"),
    "resnetrs50": ("SEModule 2048→512", "SE 2048→512"),
}


@pytest.mark.parametrize("name", FAMILY)
def test_summary_and_render_cli(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary_kind, label = FAMILY_TEXT[name]
    assert cli_main(["summary", name, "--depth", "layer"]) == 0
    out = capsys.readouterr().out
    assert summary_kind in out
    params = analyze(resnetdsl.plan_of(name)).totals.params
    assert f"{params:,}" in out
    dot = tmp_path / "x.dot"
    assert cli_main(["render", name, "-o", str(dot), "--detail", "layer"]) == 0
    assert label in dot.read_text(encoding="utf-8")


def test_summary_names_of_new_kinds() -> None:
    from resnetdsl.summary import op_kind

    assert op_kind(P.Norm("n", 8, kind="frozen_batch")) == "FrozenBatchNorm2d"
    assert op_kind(P.Norm("n", 8, kind="group", groups=2)) == "GroupNorm g2"
    assert [op_kind(P.Act("a", kind=k)) for k in ACTS] == [  # type: ignore[arg-type]
        "ReLU",
        "LeakyReLU 0.01",
        "SiLU",
        "GELU",
        "Mish",
        "Hardswish",
    ]
    assert op_kind(P.DropPath("drop_path", 0.05)) == "DropPath p=0.05"


# --- validation, word for word ------------------------------------------------------------------------

BASE = "name: t\nstem: {kind: conv3, width: 16}\n"
ONE = "stages: [{depth: 1, width: 16}]\n"

INVALID: list[tuple[str, str, list[str]]] = [
    (
        "se_ratio_without_se",
        BASE + "defaults: {se_ratio: 0.25}\n" + ONE,
        ["<string>:3:12: defaults.se_ratio: applies only to attention 'se' (no stage uses it)"],
    ),
    (
        "se_divisor_on_a_stage_without_se",
        BASE + "stages:\n  - {depth: 1, width: 16, attention: se}\n  - {depth: 1, width: 16, se_divisor: 4}\n",
        ["<string>:5:27: stages[1].se_divisor: applies only to attention 'se' (stages[1] uses attention 'none')"],
    ),
    (
        "eca_kernel_without_eca",
        BASE + "defaults: {attention: se, eca_kernel: 5}\n" + ONE,
        ["<string>:3:27: defaults.eca_kernel: applies only to attention 'eca' (no stage uses it)"],
    ),
    (
        "even_eca_kernel",
        BASE + "defaults: {attention: eca}\nstages: [{depth: 1, width: 16, eca_kernel: 4}]\n",
        ["<string>:4:44: stages[0].eca_kernel: must be odd, so that the conv keeps the channel count (got 4)"],
    ),
    (
        "default_groups_do_not_divide_the_stem",
        BASE + "defaults: {norm: group}\n" + ONE,
        [
            "<string>:3:18: defaults.norm: the default 32 groups do not divide the 16 channels of bn1 (the stem); "
            "set norm_groups to a divisor of 16, or norm_group_channels"
        ],
    ),
    (
        "groups_do_not_divide_a_stage",
        BASE + "defaults: {norm: group, norm_groups: 8}\nstages: [{depth: 1, width: 16}, {depth: 1, width: 20}]\n",
        [
            "<string>:3:38: defaults.norm_groups: 8 groups do not divide the 20 channels of layer2.0.bn1 "
            "(stages[1]); set norm_groups to a divisor of 20, or norm_group_channels"
        ],
    ),
    (
        "group_channels_do_not_divide",
        BASE + "defaults: {norm: group, norm_groups: 4}\nstages:\n  - {depth: 1, width: 16}\n"
        "  - {depth: 1, width: 24, norm_group_channels: 16}\n",
        [
            "<string>:6:48: stages[1].norm_group_channels: 16 channels per group do not divide the 24 channels "
            "of layer2.0.bn1; choose a divisor of 24"
        ],
    ),
    (
        "identical_stages_each_reported_at_their_own_place",
        "name: t\nstem: {kind: conv3, width: 32}\ndefaults: {norm: group}\nstages:\n"
        "  - {depth: 1, width: 16, norm_group_channels: 3}\n  - {depth: 1, width: 16, norm_group_channels: 3}\n",
        [
            "<string>:5:48: stages[0].norm_group_channels: 3 channels per group do not divide the 16 channels "
            "of layer1.0.bn1; choose a divisor of 16",
            "<string>:6:48: stages[1].norm_group_channels: 3 channels per group do not divide the 16 channels "
            "of layer2.0.bn1; choose a divisor of 16",
        ],
    ),
    (
        "group_channels_do_not_divide_the_deep_stem",
        "name: t\ndefaults: {norm: group, norm_group_channels: 16}\n"
        "stem: {kind: deep, width: 64, mid_widths: [24, 32]}\n" + ONE,
        [
            "<string>:2:46: defaults.norm_group_channels: 16 channels per group do not divide the 24 channels "
            "of conv1.1 (the stem); choose a divisor of 24"
        ],
    ),
    (
        "group_options_with_norm_none",
        BASE + "defaults: {norm: none, norm_groups: 4}\n" + ONE,
        [
            "<string>:3:24: defaults.norm_groups: applies only to norm 'group' or 'evonorm_s0' "
            "(neither the stem nor any stage uses it)"
        ],
    ),
    (
        "both_group_sizes",
        BASE + "defaults: {norm: group, norm_groups: 4, norm_group_channels: 4}\n" + ONE,
        ["<string>:3:41: defaults.norm_group_channels: set either norm_groups or norm_group_channels, not both"],
    ),
    (
        "stem_group_option_with_batch_stem",
        "name: t\nstem: {kind: conv3, width: 16, norm_groups: 4}\nstages: [{depth: 1, width: 16, norm: group, "
        "norm_groups: 8}]\n",
        ["<string>:2:32: stem.norm_groups: applies only to norm 'group' or 'evonorm_s0' (the stem uses norm 'batch')"],
    ),
    (
        "negative_slope_without_leaky_relu",
        BASE + "defaults: {act: silu, act_negative_slope: 0.2}\n" + ONE,
        [
            "<string>:3:23: defaults.act_negative_slope: applies only to act 'leaky_relu' "
            "(neither the stem nor any stage uses it)"
        ],
    ),
    (
        "norm_none_with_norm_options",
        BASE + "defaults: {norm: none}\nstages: [{depth: 1, width: 16, stride: 2, shortcut_norm: true}]\n"
        "init: {zero_init_residual: true}\n",
        [
            "<string>:4:43: stages[0].shortcut_norm: has no effect with norm 'none'",
            "<string>:5:8: init.zero_init_residual: has no effect with norm 'none' (no residual branch ends in a norm)",
        ],
    ),
    (
        "drop_path_without_residual",
        BASE + "defaults: {shortcut: none}\nstages: [{depth: 2, width: 16, drop_path: 0.1}]\n",
        ["<string>:4:32: stages[0].drop_path: has no effect without a residual add (stages[0] uses shortcut 'none')"],
    ),
    (
        "drop_path_in_a_one_block_network",
        BASE + "defaults: {drop_path: 0.1}\n" + ONE,
        [
            "<string>:3:12: defaults.drop_path: has no effect in a network of one block "
            "(the first block's rate is always 0)"
        ],
    ),
    (
        "out_of_range_and_typos",
        BASE + "defaults: {drop_path: 1.0, se_ratio: 0, act: swish, norm: layer}\n" + ONE,
        [
            "<string>:3:23: defaults.drop_path: must be < 1.0 (got 1.0)",
            "<string>:3:38: defaults.se_ratio: must be > 0.0 (got 0)",
            "<string>:3:46: defaults.act: must be one of 'relu', 'leaky_relu', 'silu', 'gelu', 'mish', 'hardswish' "
            "(got 'swish') (did you mean 'hardswish'?)",
            "<string>:3:59: defaults.norm: must be one of 'batch', 'group', 'frozen_batch', 'evonorm_s0', 'frn', "
            "'none' (got 'layer')",
        ],
    ),
]


@pytest.mark.parametrize(("name", "text", "expected"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_family_settings(name: str, text: str, expected: list[str]) -> None:
    with pytest.raises(SpecError) as info:
        resnetdsl.build_model(text, device="meta")
    assert [i.format() for i in info.value.issues] == expected


def test_group_options_in_defaults_are_fine_when_only_the_stem_uses_group_norm() -> None:
    text = "name: t\nstem: {kind: conv3, width: 16, norm: group}\ndefaults: {norm_groups: 4}\n" + ONE
    plan = resnetdsl.plan_of(text)
    assert plan.stem[1] == P.Norm("bn1", 16, kind="group", groups=4)
    assert isinstance(plan.stages[0].blocks[0].main[1], P.Norm) and plan.stages[0].blocks[0].main[1].kind == "batch"
