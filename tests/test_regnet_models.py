"""RegNet in the language (issue 19, phase 2): the ``regnet:`` key, the ``regnet`` block kind, the ``simple`` stem
and the ``regnet`` (timm) / ``tv_regnet`` (torchvision) layouts, against the live torchvision and timm.

Every torchvision RegNet and every timm RegNet X/Y: the spec ``resnetdsl import`` reads from the model, and the
one the ``regnet:`` key generates from the library's own numbers, build the model's state_dict keys in its
order with its shapes (meta device). A few small ones load the library's weights strictly and give its outputs
at 64 px (each reference built once).
"""

from __future__ import annotations

from typing import Any

import pytest

import resnetdsl
from resnetdsl import build_model, load_spec, summarize
from resnetdsl.errors import SpecError
from resnetdsl.regnet import RegNetSpec
from resnetdsl.state import state_entries
from tests.conftest import run_cli
from tests.test_regnet import PLAIN_TIMM, TIMM, TORCHVISION, timm_spec, torchvision_args, torchvision_spec

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
timm = pytest.importorskip("timm")
from timm.models import regnet as timm_regnet  # noqa: E402

from resnetdsl.importer import UnsupportedModel, spec_from_model  # noqa: E402

VARIANTS = ("regnetv_040", "regnetv_064", "regnety_040_sgn", "regnetz_005", "regnetz_040", "regnetz_040_h")
"""timm's RegNet variants beyond X/Y: pre-activation (V), group norm + SiLU, and Z."""
PRESETS = {
    "regnetx_002": "timm",
    "regnetx_004": "timm",
    "regnetx_032": "timm",
    "regnety_002": "timm",
    "regnety_040": "timm",
    "regnet_x_400mf": "torchvision",
    "regnet_y_400mf": "torchvision",
}


def _data(r: RegNetSpec, layout: str, name: str) -> dict[str, Any]:
    return {"name": name, "layout": layout, "regnet": r.model_dump()}


def timm_data(name: str) -> dict[str, Any]:
    """The spec of timm's ``name`` written with the ``regnet:`` key and the settings of timm's config: its
    activation, pre-activation blocks, shortcut, linear output, final conv and group norm."""
    cfg = timm_regnet.model_cfgs[name]
    defaults: dict[str, Any] = {}
    if cfg.act_layer != "relu":
        defaults["act"] = cfg.act_layer
    if cfg.preact:
        defaults["block"] = "preact_regnet"
    if cfg.downsample != "conv1x1":
        defaults["shortcut"] = "avgpool_projection" if cfg.downsample == "avg" else "identity"
    if cfg.linear_out:
        defaults["linear_out"] = True
    if callable(cfg.norm_layer):  # regnety_040_sgn: partial(GroupNormAct, group_size=16)
        defaults.update(norm="group", norm_group_channels=cfg.norm_layer.keywords["group_size"])
    data = _data(timm_spec(name), "regnet", name)
    if defaults:
        data["defaults"] = defaults
    if cfg.num_features:
        data["head"] = {"conv_width": cfg.num_features}
    return data


def _meta_model(lib: str, name: str) -> Any:
    """The library's model on the meta device (torchvision computes its widths with tensors first, off it)."""
    if lib == "torchvision":
        from functools import partial

        tvr = torchvision.models.regnet
        params = tvr.BlockParams.from_init_params(**torchvision_args(name))
        with torch.device("meta"):
            return tvr.RegNet(params, norm_layer=partial(torch.nn.BatchNorm2d, eps=1e-05, momentum=0.1))
    with torch.device("meta"):
        return timm_regnet.RegNet(timm_regnet.model_cfgs[name])


def _shapes(model: Any) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()]


def _same_keys(ref: Any, spec: Any, *, build: bool) -> None:
    """The spec's state_dict is the model's, key by key in its order with its shapes: the built model's on the
    meta device (``build``), else the plan's listing (torch-free)."""
    if build:
        assert _shapes(build_model(spec, device="meta")) == _shapes(ref)
    else:
        assert list(state_entries(resnetdsl.plan_of(spec)).items()) == _shapes(ref)
    assert summarize(spec).params == sum(p.numel() for p in ref.parameters())


def test_the_names_tested_are_every_regnet() -> None:
    assert len(TORCHVISION) == 15 and len(TIMM) == 36
    assert sorted(PLAIN_TIMM + list(VARIANTS)) == sorted(TIMM)
    print(f"{len(TORCHVISION)} torchvision, {len(TIMM)} timm RegNets ({len(VARIANTS)} of them V, Z, SGN)")


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_keys_and_shapes(name: str) -> None:
    """Imported and generated (``regnet:`` with torchvision's numbers and rule) alike."""
    ref = _meta_model("torchvision", name)
    _same_keys(ref, spec_from_model(ref), build=True)
    _same_keys(ref, load_spec(_data(torchvision_spec(name), "tv_regnet", name)), build=False)


IMPORTED = {
    "regnetv_040": ("preact_regnet", None, "silu", None, None, None, None),
    "regnetv_064": ("preact_regnet", None, "silu", "avgpool_projection", None, None, None),
    "regnety_040_sgn": ("regnet", "group", "silu", None, None, None, None),
    "regnetz_005": ("regnet", None, "silu", "identity", True, 4.0, 1024),
    "regnetz_040": ("regnet", None, "silu", "identity", True, 4.0, None),
    "regnetz_040_h": ("regnet", None, "silu", "identity", True, 4.0, 1536),
}
"""What ``resnetdsl import`` reads from each of timm's variants: block, norm, act, shortcut, linear_out,
bottleneck_ratio (the defaults) and head.conv_width."""


@pytest.mark.parametrize("name", TIMM)
def test_timm_keys_and_shapes(name: str) -> None:
    ref = _meta_model("timm", name)
    imported = spec_from_model(ref)
    _same_keys(ref, imported, build=True)
    _same_keys(ref, load_spec(timm_data(name)), build=False)
    if name in VARIANTS:
        d, head = imported.defaults, imported.head
        assert head != "none"
        got = (d.block, d.norm, d.act, d.shortcut, d.linear_out, d.bottleneck_ratio, head.conv_width)
        assert got == IMPORTED[name]


def test_a_model_the_importer_cannot_read_is_refused() -> None:
    from dataclasses import replace

    with torch.device("meta"):
        model = timm_regnet.RegNet(replace(timm_regnet.model_cfgs["regnetx_002"], act_layer="elu"))
    with pytest.raises(UnsupportedModel, match=r"^stem\.bn\.act \(ELU\): not an activation the spec language has$"):
        spec_from_model(model)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_are_the_libraries_models(name: str) -> None:
    _same_keys(_meta_model(PRESETS[name], name), load_spec(name), build=False)


def test_torchvision_published_figures_of_the_presets() -> None:
    """torchvision's weight metadata: ``num_params`` and ``_ops`` (its GFLOPS are MACs)."""
    for name in ("regnet_x_400mf", "regnet_y_400mf"):
        meta = torchvision.models.get_model_weights(name).DEFAULT.meta
        s = summarize(name)
        assert s.params == meta["num_params"]
        assert round(s.macs / 1e9, 3) == meta["_ops"]


# --- numbers at 64 px --------------------------------------------------------------------------------------

NUMERIC = [
    ("timm", "regnetx_002"),
    ("timm", "regnety_002"),
    ("torchvision", "regnet_y_400mf"),
    ("timm", "regnetz_005"),  # linear output, no shortcut where the shape changes, the final 1×1 conv
    ("timm", "regnetv_064/small"),  # pre-activation, SiLU, average-pool shortcuts without a norm
    ("timm", "regnety_040_sgn/small"),  # GroupNormAct + SiLU
]
_SMALL = {"w0": 32, "wa": 30.0, "wm": 2.0, "depth": 6, "group_size": 16}
"""A short ramp of four stages: ``NAME/small`` is timm's config ``NAME`` with these numbers (its blocks, fewer)."""


def _reference(lib: str, name: str) -> Any:
    if lib == "torchvision":
        return getattr(torchvision.models, name)()
    if name.endswith("/small"):
        from dataclasses import replace

        return timm_regnet.RegNet(replace(timm_regnet.model_cfgs[name.removesuffix("/small")], **_SMALL))
    return timm.create_model(name)


@pytest.fixture(scope="module")
def references() -> dict[str, Any]:
    torch.manual_seed(0)
    out: dict[str, Any] = {}
    for lib, name in NUMERIC:
        model = _reference(lib, name)
        for m in model.modules():  # statistics and affines other than 0/1, so that every norm counts
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
            if isinstance(m, torch.nn.BatchNorm2d | torch.nn.GroupNorm):
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.uniform_(-0.2, 0.2)
        out[name] = model.eval()
    return out


def _specs(name: str, ref: Any) -> list[Any]:
    """The spec of the preset (or of the regnet: key with timm's settings) and the imported one."""
    if name.endswith("/small"):
        return [spec_from_model(ref)]
    return [load_spec(timm_data(name) if name in VARIANTS else name), spec_from_model(ref)]


@pytest.mark.parity
@pytest.mark.parametrize(("lib", "name"), NUMERIC)
def test_outputs_equal_at_64px(lib: str, name: str, references: dict[str, Any]) -> None:
    ref = references[name]
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = ref(x)
        for spec in _specs(name, ref):
            ours = build_model(spec).eval()
            ours.load_state_dict(ref.state_dict(), strict=True)
            torch.testing.assert_close(ours(x), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parity
@pytest.mark.parametrize("name", ["regnety_002", "regnetz_005", "regnetv_040/small", "regnety_040_sgn/small"])
def test_summary_macs_are_the_flop_counters(name: str) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    if name.endswith("/small"):  # the spec read from timm's model (on the meta device), at 224 px
        with torch.device("meta"):
            spec, side = spec_from_model(_reference("timm", name)), 224
    else:
        data: Any = timm_data(name) if name in VARIANTS else name
        spec, side = load_spec(data, overrides={"input.size": [64, 64]}), 64
    model = build_model(spec).eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, 3, side, side))
    s = summarize(spec)
    assert s.macs == counter.get_total_flops() // 2
    assert s.params == sum(p.numel() for p in model.parameters())


# --- the language -----------------------------------------------------------------------------------------


def test_the_key_generates_stem_defaults_and_stages() -> None:
    spec = load_spec("regnety_002")
    assert spec.regnet is None
    assert (spec.stem.kind, spec.stem.width) == ("simple", 32)
    assert (spec.defaults.block, spec.defaults.attention, spec.defaults.se_ratio) == ("regnet", "se", 0.25)
    assert [(s.depth, s.width, s.stride, s.group_width) for s in spec.stages] == [
        (1, 24, 2, 8),
        (1, 56, 2, 8),
        (4, 152, 2, 8),
        (7, 368, 2, 8),
    ]
    plan = resnetdsl.plan_of("regnety_002")
    block = plan.stages[1].blocks[0]
    se = next(op for op in block.main if op.name == "se")
    assert (block.name, se.channels, se.reduced_channels) == ("b1", 56, 6)  # round(0.25 × 24): the input width


def test_written_defaults_and_overrides_merge_over_the_generated() -> None:
    spec = load_spec("regnetx_002", overrides={"regnet.depth": 10, "defaults.drop_path": 0.1})
    assert sum(s.depth for s in spec.stages) == 10 and spec.defaults.block == "regnet"
    assert spec.defaults.drop_path == 0.1


def test_show_prints_the_generated_stages_and_reads_back() -> None:
    res = run_cli("show", "regnetx_002")
    assert res.returncode == 0, res.stderr
    assert "regnet:" not in res.stdout and "group_width: 8" in res.stdout and "kind: simple" in res.stdout
    assert resnetdsl.plan_of(res.stdout) == resnetdsl.plan_of("regnetx_002")


def test_errors_in_the_key_are_placed_at_their_marks() -> None:
    text = (
        "name: r\n"
        "regnet:\n"
        "  w0: 20\n"
        "  wa: 36.44\n"
        "  wm: 2.49\n"
        "  depth: 13\n"
        "  group_widht: 8\n"
        "stages: [{depth: 1, width: 8}]\n"
    )
    with pytest.raises(SpecError) as info:
        load_spec(text)
    lines = str(info.value).splitlines()
    assert "<string>:3:7: regnet.w0: must be a multiple of 8 (got 20)" in lines
    assert any(line.startswith("<string>:7:3: regnet.group_widht: unknown key") for line in lines), lines
    assert "<string>:8:1: stages: cannot be set with 'regnet', which generates the stages; remove one of them" in lines


def test_rules_of_the_block_and_the_layouts() -> None:
    text = (
        "name: r\n"
        "layout: regnet\n"
        "stem: {kind: conv7}\n"
        "defaults: {block: regnet, act: silu}\n"
        "stages:\n"
        "  - {depth: 1, width: 24, stride: 2, group_width: 16}\n"
        "  - {depth: 1, width: 64, stride: 2, block: bottleneck, group_width: 8}\n"
    )
    with pytest.raises(SpecError) as info:
        resnetdsl.plan_of(text)
    said = str(info.value)
    assert "stages[0].group_width: group width 16 does not divide the inner width 24" in said
    assert "stages[1].group_width: applies only to regnet blocks (stages[1] uses bottleneck blocks)" in said
    assert "stages[1].block: 'bottleneck' has no module names in timm's RegNet (layout 'regnet')" in said
    assert "stem.kind: 'conv7' has no module names in timm's RegNet; use kind: simple" in said
    assert "defaults.act" not in said  # timm's RegNets take any activation (SiLU in V, Z and SGN)
    frozen = text.replace("act: silu", "norm: frozen_batch")
    with pytest.raises(SpecError) as info:
        resnetdsl.plan_of(frozen)
    assert (
        "<string>:4:33: defaults.norm: must be 'batch' or 'group' with layout 'regnet' (timm's BatchNormAct2d and "
        "GroupNormAct; got 'frozen_batch'); use layout: resnet"
    ) in str(info.value).splitlines()


def test_se_divisor_and_linear_out_where_they_have_no_effect() -> None:
    text = (
        "name: r\n"
        "layout: regnet\n"
        "stem: {kind: simple, width: 32}\n"
        "defaults: {block: preact_regnet, attention: se, se_ratio: 0.25, se_divisor: 8}\n"
        "stages:\n"
        "  - {depth: 1, width: 24, stride: 2, group_width: 8}\n"
        "  - {depth: 1, width: 64, stride: 2, group_width: 8, linear_out: true}\n"
    )
    with pytest.raises(SpecError) as info:
        resnetdsl.plan_of(text)
    lines = str(info.value).splitlines()
    assert (
        "<string>:4:65: defaults.se_divisor: has no effect on preact_regnet blocks (stages[0]), whose "
        "squeeze-and-excitation width is int(round(se_ratio × input width)); remove it"
    ) in lines, lines
    assert (
        "<string>:7:54: stages[1].linear_out: has no effect on preact_regnet blocks (stages[1]), which have no "
        "activation after the add; remove it"
    ) in lines, lines


def test_a_spec_made_in_python_with_the_key_is_refused() -> None:
    from resnetdsl.spec import Spec, Stage

    r = RegNetSpec(w0=8, wa=1.0, wm=2.0, depth=1, group_width=8)
    with pytest.raises(SpecError, match=r"regnet: is expanded into stem, defaults and stages when a spec is loaded"):
        resnetdsl.plan_of(Spec(name="x", regnet=r, stages=(Stage(depth=1, width=8),)))


def test_import_reads_both_libraries() -> None:
    from resnetdsl.importer import model_from_ref

    res = run_cli("import", "tv:regnet_y_400mf")
    assert res.returncode == 0, res.stderr
    assert "layout: tv_regnet" in res.stdout and "block: regnet" in res.stdout and "se_ratio: 0.25" in res.stdout
    res = run_cli("import", "timm:regnetz_005")  # timm's variants too
    assert res.returncode == 0, res.stderr
    assert "linear_out: true" in res.stdout and "conv_width: 1024" in res.stdout and "shortcut: identity" in res.stdout
    spec = spec_from_model(model_from_ref("timm:regnetx_002"))
    assert (spec.layout, spec.defaults.block, [s.width for s in spec.stages]) == (
        "regnet",
        "regnet",
        [24, 56, 152, 368],
    )


# --- the backends on RegNet's blocks ------------------------------------------------------------------------


def _exported(plan: Any) -> Any:
    """The network class of the exported Python source, instantiated."""
    import types

    from resnetdsl.export.python import to_python

    module = types.ModuleType("exported_regnet")
    exec(compile(to_python(plan), "exported_regnet", "exec"), module.__dict__)
    classes = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, torch.nn.Module)]
    return classes[-1]()


def _pre_norms(plan: Any) -> int:
    """Plain norms that follow no conv (a pre-activation block's first norm but the first block's, its norm after
    the SE: outside layout regnet, whose norm-act modules the count leaves out)."""
    import itertools

    from resnetdsl.plan import Conv, Norm

    blocks = [block for _, block in plan.blocks()]
    starts = [plan.stem[-1]] + [None] * (len(blocks) - 1)  # the first block's input is the stem conv's output
    pairs = [p for start, b in zip(starts, blocks, strict=True) for p in itertools.pairwise((start, *b.pre, *b.main))]
    return sum(isinstance(b, Norm) and not isinstance(a, Conv) for a, b in pairs)


_EXPORTED = [
    ("regnety_002", "regnet"),
    ("regnety_002", "tv_regnet"),
    ("regnety_002", "resnet"),
    ("regnetz_005", "regnet"),
    ("regnetv_064", "regnet"),
    ("regnety_040_sgn", "regnet"),
    ("regnetz_040_h", "resnet"),
    ("regnetv_040", "resnet"),
]


@pytest.mark.parity
@pytest.mark.parametrize(("name", "layout"), _EXPORTED)
def test_python_export_fuse_and_onnx(name: str, layout: str, tmp_path: Any) -> None:
    """Exported source (same keys, same outputs), inference folding and ONNX on RegNet's blocks in each layout:
    Y, and timm's Z, V and SGN (a few blocks each)."""
    from resnetdsl.export.onnx import to_onnx
    from resnetdsl.passes.fuse import fuse_for_inference

    data: Any = timm_data(name) if name in VARIANTS else name
    spec = load_spec(data, overrides={"layout": layout, "input.size": [64, 64], "regnet.depth": 4})
    plan = resnetdsl.plan_of(spec)
    model = build_model(plan, seed=0).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5, generator=torch.Generator().manual_seed(2))
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        want = model(x)
        exported = _exported(plan).eval()
        assert list(exported.state_dict()) == list(model.state_dict())
        exported.load_state_dict(model.state_dict(), strict=True)
        torch.testing.assert_close(exported(x), want, rtol=1e-5, atol=1e-5)
        fused = fuse_for_inference(model, channels_last=False)
        left = [m for m in fused.modules() if type(m) is torch.nn.BatchNorm2d]
        assert len(left) == _pre_norms(plan)  # a norm folds into the conv before it
        torch.testing.assert_close(fused(x), want, rtol=1e-4, atol=1e-4)
    if layout == "regnet" and name in ("regnety_002", "regnetz_005", "regnetv_064"):
        import onnxruntime

        path = tmp_path / "regnet.onnx"
        to_onnx(model, path)
        got = onnxruntime.InferenceSession(str(path)).run(None, {"input": x.numpy()})[0]
        torch.testing.assert_close(torch.from_numpy(got), want, rtol=1e-4, atol=1e-4)


def test_render_memory_and_receptive_fields() -> None:
    plan = resnetdsl.plan_of("regnety_002")
    dot = resnetdsl.render(plan, detail="layer").source
    assert "RegNetBlock" in resnetdsl.render(plan).source and "SE" in dot
    x, y = summarize("regnetx_002"), summarize("regnety_002")
    assert [f.reduction for f in x.stage_facts] == [2, 4, 8, 16, 32]  # the stem, then a stride 2 per stage
    assert [f.receptive_field for f in x.stage_facts][:3] == [3, 7, 15]  # 3×3/2 stem, each stage's 3×3/2
    assert y.stage_facts[1].receptive_field is None  # squeeze-and-excitation reads the whole map
    from resnetdsl.memory import memory_report

    assert memory_report("regnety_002", batch=2)


# --- ResNet-RS's depth scaling: an extends chain (issue 19, item 6) --------------------------------------------

RESNET_RS = ["resnetrs50", "resnetrs101", "resnetrs152", "resnetrs200", "resnetrs270", "resnetrs350", "resnetrs420"]


@pytest.mark.parametrize("name", RESNET_RS[1:])
def test_resnet_rs_chain_is_timms(name: str) -> None:
    """Each preset extends the one before it, changing only stage depths; timm's model has its keys and shapes."""
    from resnetdsl.load import read_source

    base = read_source(name).data
    assert base["extends"] == RESNET_RS[RESNET_RS.index(name) - 1]
    assert set(base) == {"name", "description", "extends", "stages"}
    with torch.device("meta"):
        ref = timm.create_model(name)
    _same_keys(ref, load_spec(name), build=False)


@pytest.mark.slow
def test_design_space_picture_is_not_stale() -> None:
    """docs/images/design-space-regnetx.png is drawn from what the space gives today (a hash of its inputs)."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "docs" / "images" / "make_design_space.py"
    res = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
