"""Property-based tests (hypothesis) over the whole spec language.

1. Valid specs, drawn over every stem kind and pool, block kind (pre-activation too), shortcut, norm, activation,
   attention, drop path, dropout, per-block overrides, layout, input size and channel count: the static analysis
   equals the built model (parameters, buffers, every stage's output shape, MACs by FlopCounterMode), and the
   model runs forward and backward. The choices are read from the ``Literal`` types of :mod:`resnetdsl.spec`, so
   a new value of one of them is drawn as soon as it exists.
2. Mutations of valid specs (wrong types, removed and unknown keys, huge and negative numbers, unicode with
   surrogates and control characters, YAML anchors, tags, duplicate keys, merge keys, several documents) only
   ever give ``SpecError`` in Python, and exit 1 (or 0) with no internal error on the command line.

Profiles: ``ci`` (default; a few hundred examples in all, derandomized so that every run draws the same ones) and
``thorough`` (thousands, random): ``RESNETDSL_FUZZ=thorough python -m pytest tests/test_fuzz.py``.
"""

from __future__ import annotations

import copy
import math
import os
import tempfile
import typing
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

import resnetdsl
from resnetdsl import plan as P
from resnetdsl import spec as S
from resnetdsl import vocab
from resnetdsl.analyze import analyze
from resnetdsl.check import Checked, check_with_issues
from resnetdsl.cli import main as cli_main
from resnetdsl.errors import SpecError
from tests import spec_rules

settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.register_profile(
    "thorough",
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
PROFILE = os.environ.get("RESNETDSL_FUZZ", "ci")
SCALE = {"ci": 1, "thorough": 20}[PROFILE]


def examples(n: int) -> settings:
    return settings(settings.get_profile(PROFILE), max_examples=n * SCALE)


def choices(literal: Any) -> list[Any]:
    return list(typing.get_args(literal))


BLOCKS = choices(S.BlockKind)
PREACT = [b for b in BLOCKS if b.startswith("preact_") and b != "preact_regnet"]  # RegNet V: layout regnet
POSTACT = [b for b in BLOCKS if not b.startswith("preact_") and b != "resnest"]
RESNEST = ["resnest"]  # family: split attention (issue 18): drawn as a family of its own (no attention, ...)
AA = choices(S.AaKind)
AVD = choices(S.AvdKind)
SHORTCUTS = choices(S.ShortcutKind)
PROJECTIONS = [s for s in SHORTCUTS if "projection" in s]
NORMS = choices(S.NormKind)
V2_NORMS = list(vocab.NORM_ACTS)  # layout resnetv2: timm's norm-act modules
ACT_ONLY = choices(vocab.NormActOnlyKind)  # their nonlinearity built in: layout resnetv2 only
CONVS = choices(S.ConvKind)
ACTS = choices(S.ActKind)
ATTENTION = choices(S.AttentionKind)
STEMS = choices(S.StemKind)
POOLS = choices(S.StemPool)
LAYOUTS = choices(S.Layout)
REGNET_LAYOUTS = ["regnet", "tv_regnet"]
WIDTHS = [4, 8, 12, 16]


# --- valid specs -----------------------------------------------------------------------------------------------


@st.composite
def norm_act(draw: st.DrawFn, v2: bool) -> dict[str, Any]:
    """Norm, activation and conv settings (under resnetv2 timm's norm-act kinds and ReLU only)."""
    if draw(st.booleans()):
        return {}
    out: dict[str, Any] = {}
    if draw(st.booleans()):  # weight standardisation, in either layout
        out["conv"] = draw(st.sampled_from(CONVS))
        if out["conv"] == "std" and draw(st.booleans()):
            out["std_eps"] = draw(st.sampled_from([1e-8, 1e-5]))
    if v2:
        out["norm"] = draw(st.sampled_from(V2_NORMS))
        if out["norm"] in vocab.GROUPED_NORMS:
            out["norm_groups"] = draw(st.sampled_from([1, 2, 4]))
        return out
    out |= {"norm": draw(st.sampled_from([n for n in NORMS if n not in ACT_ONLY])), "act": draw(st.sampled_from(ACTS))}
    if out["norm"] == "group":
        out |= draw(st.sampled_from([{}, {"norm_groups": 1}, {"norm_groups": 2}, {"norm_group_channels": 2}]))
        if not out.keys() & {"norm_groups", "norm_group_channels"}:
            out["norm_groups"] = 4  # the default 32 divides none of the small widths
    if out["act"] == "leaky_relu" and draw(st.booleans()):
        out["act_negative_slope"] = draw(st.sampled_from([0.0, 0.2, 1.0]))
    return out


@st.composite
def attention(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(ATTENTION))
    out: dict[str, Any] = {"attention": kind}
    if kind == "se":
        out |= draw(st.sampled_from([{}, {"se_ratio": 0.25}, {"se_divisor": 4}, {"se_ratio": 1.0, "se_divisor": 1}]))
    if kind == "eca":
        out |= draw(st.sampled_from([{}, {"eca_kernel": 1}, {"eca_kernel": 3}]))
    return out


@st.composite
def block_settings(
    draw: st.DrawFn, kinds: list[str], v2: bool, shortcut: str, *, entry: bool = False
) -> dict[str, Any]:
    """Block settings of a stage or (``entry``) a per-block entry: any of them, drawn where they apply (a
    bottleneck's settings with a bottleneck, dropout with preact_basic, …) so that most draws are valid."""
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        out["block"] = draw(st.sampled_from(kinds))
    if draw(st.booleans()):
        out |= draw(norm_act(v2))
    if draw(st.booleans()):
        out |= draw(attention())
    if draw(st.booleans()):
        out["conv_bias"] = draw(st.booleans())
    kind = out.get("block")
    if kind is not None and "bottleneck" in kind and draw(st.booleans()):
        _bottleneck_keys(draw, out)
    if kind == "preact_basic" and draw(st.booleans()):
        out["dropout"] = draw(st.sampled_from([0.0, 0.2]))
    if kind is not None and kind.startswith("sk_") and draw(st.booleans()):
        out |= draw(sk_settings())
    if kind in ("regnet", "preact_regnet") and draw(st.booleans()):
        _regnet_keys(draw, out)
    if entry and draw(st.integers(0, 3)) == 0:
        out["shortcut"] = draw(st.sampled_from([s for s in SHORTCUTS if s != "identity_pad"]))
    if draw(st.integers(0, 3)) == 0:
        _senet_keys(draw, out, shortcut)
    if kind is not None and not kind.startswith("preact") and draw(st.integers(0, 4)) == 0:
        out["linear_out"] = draw(st.booleans())  # RegNet Z (issue 19); refused on pre-activation blocks
    used = out.get("shortcut", shortcut)
    if used in PROJECTIONS and out.get("norm") != "none" and draw(st.integers(0, 3)) == 0:
        out["shortcut_norm"] = draw(st.booleans())
    if used != "none" and draw(st.integers(0, 3)) == 0:
        out["drop_path"] = draw(st.sampled_from([0.0, 0.2]))
    return out


@st.composite
def sk_settings(draw: st.DrawFn) -> dict[str, Any]:
    """Selective kernel settings (issue 18): kernels, 3×3 or not, split input, the attention's width."""
    return draw(
        st.sampled_from(
            [
                {"sk_kernels": [3, 5, 7], "sk_split_input": False},
                {"sk_keep_3x3": False},
                {"sk_split_input": False, "sk_rd_ratio": 0.125, "sk_rd_divisor": 16},
                {"sk_rd_divisor": 4},
            ]
        )
    )


def _regnet_keys(draw: st.DrawFn, part: dict[str, Any]) -> None:
    """RegNet (issue 19): group widths that divide every inner width the small widths give."""
    if draw(st.booleans()):
        part["group_width"] = draw(st.sampled_from([1, 2]))
    if draw(st.booleans()):
        part["bottleneck_ratio"] = draw(st.sampled_from([1.0, 0.5]))


def _senet_keys(draw: st.DrawFn, part: dict[str, Any], shortcut: str) -> None:
    """Family senet (issue 18): the projection's kernel (under a projection policy: elsewhere it is refused), the
    first conv's reduction, explicit branch widths (even widths: groups are 1 or 2 here; their number from the
    block kind where the part sets it)."""
    if part.get("shortcut", shortcut) in ("projection", "projection_all") and draw(st.booleans()):
        part["shortcut_kernel"] = draw(st.sampled_from([1, 3]))
    kind = part.get("block")
    if kind not in ("regnet", "preact_regnet", "res2net"):  # their branches take neither (the rules refuse them)
        if draw(st.booleans()):
            part["reduce_first"] = draw(st.sampled_from([1, 2]))
        if kind is not None and draw(st.booleans()):
            n = 2 if "bottleneck" in kind else 1
            part["conv_widths"] = [draw(st.sampled_from(WIDTHS)) for _ in range(n)]


def _bottleneck_keys(draw: st.DrawFn, part: dict[str, Any]) -> None:
    if part.get("block") != "sk_bottleneck" and draw(st.booleans()):
        part["stride_on"] = draw(st.sampled_from(choices(S.StrideOn)))
    if draw(st.booleans()):
        part["groups"] = draw(st.sampled_from([1, 2]))
        part["width_per_group"] = draw(st.sampled_from([64, 128]))
    if draw(st.booleans()):
        part["expansion"] = draw(st.sampled_from([1, 2, 4]))


@st.composite
def valid_specs(draw: st.DrawFn) -> dict[str, Any]:
    """A small spec over the whole language. Most draws are valid; the rest are rejected by ``check`` (with
    :class:`SpecError` only) and filtered out."""
    preact = draw(st.booleans())
    # layout senet (family senet, issue 18) and the RegNet layouts name post-activation networks
    layouts = (
        [v for v in LAYOUTS if v not in (*REGNET_LAYOUTS, "senet")] if preact else ["resnet", "senet", *REGNET_LAYOUTS]
    )
    layout = draw(st.sampled_from(layouts)) if preact or draw(st.booleans()) else "resnet"
    regnet = layout in REGNET_LAYOUTS  # RegNet (issue 19): regnet blocks, the simple stem
    v2 = layout in ("resnetv2", "regnet")  # timm's BatchNormAct2d: batch norm and ReLU only
    resnest = not preact and layout == "resnet" and draw(st.integers(0, 2)) == 0  # split attention (issue 18)
    kinds = PREACT if preact else ["regnet"] if regnet else RESNEST if resnest else POSTACT
    if layout == "regnet" and draw(st.integers(0, 3)) == 0:  # timm's RegNet V (issue 19)
        kinds, preact = ["preact_regnet"], True
    shortcut = draw(st.sampled_from(SHORTCUTS))
    stem_kind = "simple" if regnet else draw(st.sampled_from(STEMS))
    stem: dict[str, Any] = {"kind": stem_kind, "width": draw(st.sampled_from(WIDTHS))}
    no_conv_pool = v2 or stem_kind == "simple"
    stem["pool"] = draw(st.sampled_from([p for p in POOLS if not (no_conv_pool and p in ("conv", "max_ceil"))]))
    if stem["kind"] == "deep" and draw(st.booleans()):
        stem["mid_widths"] = [draw(st.sampled_from(WIDTHS)), draw(st.sampled_from(WIDTHS))]
    if draw(st.booleans()):
        stem["conv_bias"] = draw(st.booleans())
    stem |= draw(norm_act(v2))
    defaults: dict[str, Any] = {"block": draw(st.sampled_from(kinds)), "shortcut": shortcut}
    defaults |= draw(norm_act(v2))
    defaults |= draw(attention())
    if "bottleneck" in defaults["block"]:
        _bottleneck_keys(draw, defaults)
    if defaults["block"] in ("regnet", "preact_regnet"):
        _regnet_keys(draw, defaults)
    if defaults["block"] == "res2net" and draw(st.booleans()):  # family: Res2Net (issue 18)
        defaults["scale"] = draw(st.sampled_from([2, 3]))
        defaults["width_per_group"] = draw(st.sampled_from([26, 64]))
    if draw(st.integers(0, 3)) == 0:
        _senet_keys(draw, defaults, shortcut)
    if shortcut in PROJECTIONS and draw(st.booleans()):
        defaults["shortcut_norm"] = draw(st.booleans())
    if defaults["block"] == "preact_basic" and draw(st.booleans()):
        defaults["dropout"] = draw(st.sampled_from([0.0, 0.3]))
    stages: list[dict[str, Any]] = []
    width = 0
    for i in range(draw(st.integers(1, 3))):
        width = max(width, draw(st.sampled_from(WIDTHS)))  # never narrower: option A cannot shrink channels
        stage: dict[str, Any] = {"depth": draw(st.integers(1, 2)), "width": width}
        if i:
            stage["stride"] = draw(st.sampled_from([1, 2]))
        same_kind = draw(st.booleans())
        stage |= draw(block_settings(kinds if not same_kind else [defaults["block"]], v2, shortcut))
        if not v2 and not regnet and draw(st.integers(0, 4)) == 0:
            stage["name"] = f"stage_{i}"
        if shortcut != "identity_pad" and draw(st.booleans()):
            over: dict[str, Any] = {
                "at": draw(st.sampled_from([0, -1, [0]] if stage["depth"] == 1 else [0, -1, [0, 1]]))
            }
            over |= draw(block_settings(kinds, v2, shortcut, entry=True))
            if draw(st.booleans()):
                over["width"] = draw(st.sampled_from(WIDTHS))
            if draw(st.booleans()):
                over["stride"] = draw(st.sampled_from([1, 2]))
            if len(over) == 1:
                over["conv_bias"] = True
            stage["blocks"] = [over]
        stages.append(stage)
    if shortcut != "none" and sum(stage["depth"] for stage in stages) > 1 and draw(st.booleans()):
        defaults["drop_path"] = draw(st.sampled_from([0.0, 0.1, 0.5]))
    if resnest:
        _resnest_keys(draw, defaults, stages)
    elif not preact and draw(st.booleans()):
        defaults["aa"] = draw(st.sampled_from(AA))
    if not v2 and stem["pool"] != "none" and draw(st.integers(0, 3)) == 0:
        stem["aa"] = draw(st.sampled_from(AA))
    spec: dict[str, Any] = {
        "name": "fuzz",
        "input": {"channels": draw(st.integers(1, 4)), "size": [draw(st.integers(16, 40)), draw(st.integers(16, 40))]},
        "stem": stem,
        "defaults": defaults,
        "stages": stages,
        "layout": layout,
    }
    if draw(st.integers(0, 3)) == 0:
        spec["head"] = "none"
    elif draw(st.booleans()):
        spec["head"] = {
            "pool": draw(st.sampled_from(choices(S.GlobalPoolKind))),
            "dropout": draw(st.sampled_from([0.0, 0.5])),
            "num_classes": draw(st.integers(1, 12)),
            "bias": draw(st.booleans()),
        }
        if draw(st.integers(0, 3)) == 0:  # a final 1×1 conv (timm's RegNet num_features, issue 19)
            spec["head"]["conv_width"] = draw(st.sampled_from(WIDTHS))
    if shortcut != "none" and draw(st.integers(0, 3)) == 0:
        spec["init"] = {"zero_init_residual": True}
    if len(stages) >= 3 and not preact and draw(st.integers(0, 3)) == 0:  # family senet (issue 18)
        spec["drop_block"] = draw(st.sampled_from([0.0, 0.1]))
    reached = sorted({8, 16, 32} & set(reductions(spec)))
    if reached and draw(st.integers(0, 2)) == 0:
        spec["output_stride"] = draw(st.sampled_from(reached))
    return spec


def _resnest_keys(draw: st.DrawFn, defaults: dict[str, Any], stages: list[dict[str, Any]]) -> None:
    """A resnest network's settings: radix, avd, groups, and none of what its blocks refuse (attention, drop
    path, group and frozen norms)."""
    for part in (defaults, *stages, *(e for s in stages for e in s.get("blocks", []))):
        for key in ("attention", "se_ratio", "se_divisor", "eca_kernel", "drop_path", "norm_groups"):
            part.pop(key, None)
        part.pop("norm_group_channels", None)
        if part.get("norm") in ("group", "frozen_batch"):
            part["norm"] = "batch"
    if draw(st.booleans()):
        defaults["radix"] = draw(st.sampled_from([1, 2, 4]))
    if draw(st.booleans()):
        defaults["avd"] = draw(st.sampled_from(AVD))
    if draw(st.booleans()):
        defaults["groups"] = draw(st.sampled_from([1, 2]))


def reductions(spec: dict[str, Any]) -> list[int]:
    """The reductions the stem and every block's written stride reach (per-block entries' strides too)."""
    stem = spec["stem"]
    pool = stem.get("pool", "none" if stem["kind"] in ("conv3", "simple") else "max")
    net = (1 if stem["kind"] == "conv3" else 2) * (1 if pool == "none" else 2)
    out = [net]
    for stage in spec["stages"]:
        strides = [stage.get("stride", 1)] + [1] * (stage["depth"] - 1)
        for entry in reversed(stage.get("blocks", [])):  # the first entry to name a block wins
            for j in entry["at"] if isinstance(entry["at"], list) else [entry["at"]]:
                if "stride" in entry:
                    strides[j] = entry["stride"]
        for stride in strides:
            net *= stride
            out.append(net)
    return out


def checked_or_none(spec: Any) -> Checked | None:
    try:
        return resnetdsl.check(spec)
    except SpecError:
        return None


VALID_SEEN: list[int] = [0, 0]  # [valid, drawn] over the run of the property below
COVERED: dict[str, set[str]] = {
    key: set() for key in ("block", "shortcut", "norm", "act", "attention", "stem", "pool", "layout")
}


def _cover(plan: P.Plan, spec: dict[str, Any]) -> None:
    ops = [op for _, op in plan.named_ops()]
    COVERED["block"] |= {b.kind for _, b in plan.blocks()}
    parts = [spec["defaults"], *spec["stages"], *(o for s in spec["stages"] for o in s.get("blocks", []))]
    COVERED["shortcut"] |= {p["shortcut"] for p in parts if "shortcut" in p}
    COVERED["norm"] |= {op.kind for op in ops if isinstance(op, P.Norm | P.NormAct)}
    COVERED["norm"] |= {p["norm"] for p in parts if "norm" in p}
    COVERED["act"] |= {op.kind for op in ops if isinstance(op, P.Act)}
    COVERED["attention"] |= {p["attention"] for p in parts if "attention" in p}
    COVERED["stem"].add(spec["stem"]["kind"])
    COVERED["pool"].add(spec["stem"]["pool"])
    COVERED["layout"].add(plan.layout)


def assert_analysis_equals_model(plan: P.Plan) -> None:
    """Parameters, buffers, every stage's output shape and MACs of the analysis equal the built model's; the
    model runs forward (train mode) and backward."""
    a = analyze(plan)
    model = resnetdsl.build_model(plan, seed=0)
    params = list(model.parameters())
    assert a.totals.params == sum(p.numel() for p in params)
    assert a.totals.buffers == sum(b.numel() for b in model.buffers())
    seen: dict[str, tuple[int, ...]] = {}
    for stage in a.stages:
        model.get_submodule(stage.path).register_forward_hook(
            lambda m, i, o, path=stage.path: seen.__setitem__(path, tuple(o.shape[1:]))
        )
    c, h, w = a.input_shape
    model.train()
    x = torch.randn(2, c, h, w, generator=torch.Generator().manual_seed(0))
    out = model(x)
    assert seen == {stage.path: stage.out_shape for stage in a.stages}
    assert tuple(out.shape) == (2, *a.output_shape)
    assert torch.isfinite(out).all()
    out.square().mean().backward()
    assert any(p.grad is not None for p in params)
    # MACs, counted by torch on the meta device
    meta = resnetdsl.build_model(plan, device="meta").eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        meta(torch.zeros(1, c, h, w, device="meta"))
    assert 2 * a.totals.macs == counter.get_total_flops()


@examples(100)
@given(valid_specs())
def test_analysis_equals_the_built_model(spec: dict[str, Any]) -> None:
    note(yaml.safe_dump(spec, sort_keys=False))
    VALID_SEEN[1] += 1
    checked = checked_or_none(spec)
    assume(checked is not None)
    VALID_SEEN[0] += 1
    _cover(checked.plan, spec)
    assert_analysis_equals_model(checked.plan)


def test_most_drawn_specs_are_valid() -> None:
    """Runs after the property above (file order): the generator must not be mostly filtered away. (That every
    value of every Literal type builds as analysed is the next test's job: a derandomized run of a few dozen
    draws need not reach each.)"""
    valid, drawn = VALID_SEEN
    if drawn == 0:
        pytest.skip("the property test did not run")
    assert valid >= 0.5 * drawn, f"only {valid} of {drawn} drawn specs were valid"
    # five layouts now: a derandomized run reaches some; every layout is built by the next test
    assert len(COVERED["block"]) >= 2 and len(COVERED["layout"]) >= 2, COVERED


BASE: dict[str, Any] = {
    "name": "every_value",
    "input": {"channels": 2, "size": [20, 24]},
    "stem": {"kind": "conv3", "width": 8},
    "defaults": {"block": "basic", "shortcut": "projection"},
    "stages": [{"depth": 2, "width": 8}, {"depth": 1, "width": 16, "stride": 2}],
    "head": {"num_classes": 3},
}
LITERALS = [
    *(("defaults", "block", v) for v in BLOCKS),
    *(("defaults", "shortcut", v) for v in SHORTCUTS),
    *(("defaults", "norm", v) for v in NORMS),
    *(("defaults", "conv", v) for v in CONVS),
    *(("defaults", "act", v) for v in ACTS),
    *(("defaults", "attention", v) for v in ATTENTION),
    *(("stem", "kind", v) for v in STEMS),
    *(("stem", "pool", v) for v in POOLS),
    *((None, "layout", v) for v in LAYOUTS),
    *(("defaults", "aa", v) for v in AA),  # family: anti-aliasing and split attention (issue 18)
    *(("stem", "aa", v) for v in AA),
    *(("defaults", "avd", v) for v in AVD),
]


@pytest.mark.parametrize(("part", "key", "value"), LITERALS, ids=lambda x: str(x))
def test_every_literal_value_builds_as_analysed(part: str | None, key: str, value: str) -> None:
    """Every value of every Literal type of the spec (read from resnetdsl.spec: new values are tested at once)."""
    import copy

    spec = copy.deepcopy(BASE)
    (spec[part] if part else spec)[key] = value
    if value in ("group", "evonorm_s0"):
        spec["defaults"]["norm_groups"] = 4
    if value in ACT_ONLY:  # norm-act modules with their nonlinearity built in: layout resnetv2's only
        spec |= {"layout": "resnetv2"}
        spec["defaults"]["block"] = "preact_basic"
    if value == "resnetv2":
        spec["defaults"]["block"] = "preact_basic"
    if value in REGNET_LAYOUTS:
        spec["defaults"]["block"], spec["stem"]["kind"] = "regnet", "simple"
    if key == "avd":
        spec["defaults"]["block"] = "resnest"
    if part == "stem" and key == "aa":
        spec["stem"]["pool"] = "max"
    if value == "none" and key == "shortcut":
        spec["init"] = {"zero_init_residual": False}
    assert_analysis_equals_model(resnetdsl.plan_of(spec))


# --- where settings apply: against an independent model of the docs' rules (tests/spec_rules.py) --------------

SPRINKLE: dict[str, list[Any]] = {
    "stride_on": ["1x1"],
    "groups": [2],
    "width_per_group": [128],
    "dropout": [0.0, 0.2],
    "norm_groups": [2],
    "norm_group_channels": [2],
    "act_negative_slope": [0.1],
    "std_eps": [1e-8],
    "se_ratio": [0.5],
    "se_divisor": [4],
    "eca_kernel": [3],
    "shortcut_norm": [True, False],
    "drop_path": [0.0, 0.2],
    # issue 18: selective kernels
    "sk_kernels": [[3, 5]],
    "sk_keep_3x3": [False],
    "sk_split_input": [False],
    "sk_rd_ratio": [0.125],
    "sk_rd_divisor": [16],
    "group_width": [2],
    "bottleneck_ratio": [0.5],
    # family: anti-aliasing and split attention (issue 18)
    "radix": [2],
    "avd": ["first"],
    "aa": ["blur"],
    # family: Res2Net (issue 18); shortcut_kernel applies to projection shortcuts only
    "scale": [2],
    "shortcut_kernel": [3],
}
"""Settings that only some blocks use, and values for them."""


@st.composite
def sprinkled(draw: st.DrawFn, spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with settings that only some blocks use written at random places (defaults, the stem, stages,
    per-block entries), wherever they may apply or not."""
    scopes: list[tuple[dict[str, Any], list[str]]] = [(spec["defaults"], sorted(SPRINKLE))]
    scopes.append((spec["stem"], [k for k in sorted(SPRINKLE) if k in spec_rules.NORM_ACT]))
    for stage in spec["stages"]:
        scopes += [(stage, sorted(SPRINKLE)), *((entry, sorted(SPRINKLE)) for entry in stage.get("blocks", []))]
    for _ in range(draw(st.integers(1, 4))):
        scope, keys = draw(st.sampled_from(scopes))
        key = draw(st.sampled_from(keys))
        scope[key] = draw(st.sampled_from(SPRINKLE[key]))
    return spec


def said_not_to_apply(issues: list[Any]) -> set[tuple[Any, ...]]:
    """The settings the checker says do not apply (every one with its mark)."""
    out = set()
    for issue in issues:
        if issue.path[:1] in (("defaults",), ("stem",), ("stages",)) and issue.message.startswith(
            ("applies only to", "has no effect")
        ):
            assert issue.mark is not None, issue
            out.add(issue.path)
    return out


@examples(100)
@given(valid_specs().flatmap(sprinkled))
def test_a_setting_is_refused_exactly_where_no_block_it_reaches_uses_it(spec: dict[str, Any]) -> None:
    text = yaml.safe_dump(spec, sort_keys=False)
    note(text)
    _, issues = check_with_issues(text)
    assert said_not_to_apply(issues) == spec_rules.unused(spec)


@st.composite
def extended(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A base spec and a child that ``extends`` it, changing some stages through a mapping of indices
    (``stages: {1: {depth: 1}}``, the index past the end appending one) and perhaps some defaults."""
    base = draw(valid_specs())
    kinds = PREACT if base["defaults"]["block"] in PREACT else POSTACT
    child: dict[str, Any] = {"extends": "base.yaml", "name": "child"}
    changes: dict[int, dict[str, Any]] = {}
    for i in draw(st.sets(st.integers(0, len(base["stages"])), min_size=1, max_size=2)):
        if i == len(base["stages"]):
            changes[i] = {"depth": 1, "width": 16}
            continue
        change = draw(
            st.sampled_from(
                [{"depth": 1}, {"attention": "none"}, {"shortcut": "projection"}, {"norm": "batch", "act": "relu"}]
                + [{"block": k} for k in kinds]
            )
        )
        changes[i] = change
    child["stages"] = changes
    if draw(st.booleans()):
        child["defaults"] = draw(st.sampled_from([{"attention": "none"}, {"block": draw(st.sampled_from(kinds))}]))
    if draw(st.booleans()):
        child = draw(sprinkled({**child, "stem": {}, "defaults": child.get("defaults", {}), "stages": []}))
        child["stages"] = changes
    return base, child


def merged(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """What docs/spec.md says ``extends`` gives: mappings merged key by key, lists replaced, a mapping of stage
    indices changing those stages (the index just past the end appends one)."""
    out = copy.deepcopy(base)
    for key, value in child.items():
        if key == "extends":
            continue
        if key == "stages" and isinstance(value, dict):
            for i, change in sorted(value.items()):
                if i == len(out["stages"]):
                    out["stages"].append(copy.deepcopy(change))
                else:
                    out["stages"][i] = {**out["stages"][i], **copy.deepcopy(change)}
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **copy.deepcopy(value)}
        else:
            out[key] = copy.deepcopy(value)
    return out


def written_by(child: dict[str, Any], path: tuple[Any, ...]) -> bool:
    """Whether the child wrote the setting at ``path`` (else it comes from the base)."""
    if path[0] in ("defaults", "stem"):
        return path[1] in child.get(path[0], {})
    stage = child.get("stages", {}).get(path[1])
    return stage is not None and (path[2] in stage if len(path) == 3 else "blocks" in stage)


@examples(60)
@given(extended())
def test_extends_with_stage_mappings_drops_what_the_base_wrote(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    base, child = pair
    whole = merged(base, child)
    note(yaml.safe_dump({"base": base, "child": child}, sort_keys=False))
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "base.yaml").write_text(yaml.safe_dump(base, sort_keys=False), encoding="utf-8")
        path = Path(tmp) / "child.yaml"
        path.write_text(yaml.safe_dump(child, sort_keys=False), encoding="utf-8")
        checked, issues = check_with_issues(path)
    wrote = {p for p in spec_rules.unused(whole) if written_by(child, p)}
    assert said_not_to_apply(issues) == wrote
    alone = checked_or_none(whole)
    if checked is not None and alone is not None:
        assert checked.plan == alone.plan


# --- mutations: only SpecError, never another exception ----------------------------------------------------------

WEIRD_VALUES = [
    None, True, False, 0, -1, -(2**70), 2**70, 2**64, 1.5, -0.0, math.inf, -math.inf, math.nan,
    "", "3", "  ", "résnét", "\x00", "\ud800", "\u2028", "\ufeff", "𝕣𝕖𝕤", [], [1, 2, 3], {}, {"at": 0}, [[[]]],
    {"": None},
]  # fmt: skip
UNICODE = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _get_parent(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        node = node[part]
    return node


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    spec = draw(valid_specs())
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(spec) if p]
        path = draw(st.sampled_from(paths))
        parent = _get_parent(spec, path)
        how = draw(st.sampled_from(["replace", "remove", "unknown", "unicode", "number", "unicode_key"]))
        if how == "replace":
            parent[path[-1]] = draw(st.sampled_from(WEIRD_VALUES))
        elif how == "remove":
            del parent[path[-1]]
        elif how == "unknown" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["strides", "blokc", "x", "at", "<<"]))] = draw(st.sampled_from(WEIRD_VALUES))
        elif how == "unicode":
            parent[path[-1]] = draw(UNICODE)
        elif how == "number":
            parent[path[-1]] = draw(
                st.one_of(st.integers(-(2**80), 2**80), st.floats(allow_nan=True, allow_infinity=True))
            )
        elif how == "unicode_key" and isinstance(parent, dict):
            parent[draw(UNICODE)] = 1
    return spec


YAML_TRICKS = [
    "anchor: &a {depth: 1, width: 8}\n",
    "stages: [*a, *a]\n",
    "x: &b [*b]\n",
    "stem: !!python/object:os.system {}\n",
    "name: !!binary aGVsbG8=\n",
    "name: !custom x\n",
    "name: dup\nname: dup\n",
    "<<: {name: merged}\n",
    "<<: *nowhere\n",
    "---\nname: second\n",
    "...\n",
    "\t- tab\n",
    "name: '\\ud800'\n",
    'name: "\\ud83d\\ude80"\n',
    'name: "\\x07\\u0085"\n',
    "depth: 010\n",
    "depth: 1_000\n",
    "depth: 1:30\n",
    "size: [0x10, 0o20]\n",
    "name: 2001-01-01\n",
    "%YAML 1.1\n---\n",
    "? [a, b]\n: c\n",
    "{" * 200 + "}" * 200 + "\n",
    "name: " + "a" * 5000 + "\n",
    "stages: [{depth: 99999999999999999999, width: 1}]\n",
    "input: {size: [-1, 1e309]}\n",
]


@st.composite
def mutated_yaml(draw: st.DrawFn) -> str:
    """YAML text of a valid or mutated spec with a YAML trick or random characters spliced in at a line start."""
    spec = draw(st.one_of(valid_specs(), mutated()))
    try:
        text = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)
    except Exception:  # something yaml cannot write (a lone surrogate): write the mapping's repr instead
        text = repr(spec) + "\n"
    lines = text.splitlines(keepends=True)
    at = draw(st.integers(0, len(lines)))
    insert = draw(st.one_of(st.sampled_from(YAML_TRICKS), UNICODE.map(lambda s: s + "\n")))
    return "".join([*lines[:at], insert, *lines[at:]])


@examples(300)
@given(st.one_of(mutated(), mutated_yaml()))
def test_mutations_only_ever_raise_spec_error(source: Any) -> None:
    try:
        resnetdsl.check(source)
    except SpecError as exc:
        assert exc.issues
        for issue in exc.issues:
            issue.format(severity=True)  # every problem can be printed
            str(exc)


@examples(100)
@given(mutated_yaml())
def test_mutations_on_the_command_line_exit_0_or_1(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.yaml"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        for command in (["validate", str(path)], ["summary", str(path)]):
            code, stdout, stderr = _run(command)
            assert code in (0, 1), (command, code, stderr)
            assert "internal error" not in stdout + stderr, stdout + stderr
            assert "RESNETDSL_DEBUG" not in stderr, stderr
            assert "Traceback" not in stderr


def _run(argv: list[str]) -> tuple[int, str, str]:
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli_main(argv)
        except SystemExit as exc:  # argparse (usage errors): not expected for these commands
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


# --- RegNet (issue 19): the regnet: key ---------------------------------------------------------------------


@st.composite
def regnet_specs(draw: st.DrawFn) -> dict[str, Any]:
    """A small spec through the ``regnet:`` key: any layout that names RegNet's blocks, either quantize rule,
    RegNet X or Y, a written ``defaults`` merged over the generated one."""
    regnet: dict[str, Any] = {
        "w0": draw(st.sampled_from([8, 16])),
        "wa": draw(st.sampled_from([0.0, 4.0, 8.5])),
        "wm": draw(st.sampled_from([1.5, 2.0, 2.5])),
        "depth": draw(st.integers(1, 4)),
        "group_width": draw(st.sampled_from([4, 8, 24])),
        "quantize": draw(st.sampled_from(["pycls", "torchvision"])),
        "stem_width": draw(st.sampled_from([4, 8])),
    }
    if draw(st.booleans()):
        regnet["se_ratio"] = 0.25
    if draw(st.booleans()):
        regnet["bottleneck_ratio"] = draw(st.sampled_from([0.5, 2.0]))
    spec: dict[str, Any] = {
        "name": "fuzz_regnet",
        "input": {"channels": draw(st.integers(1, 3)), "size": [draw(st.integers(16, 40))] * 2},
        "layout": draw(st.sampled_from(["resnet", *REGNET_LAYOUTS])),
        "regnet": regnet,
        "head": {"num_classes": draw(st.integers(1, 5))},
    }
    if regnet["depth"] > 1 and draw(st.booleans()):  # in a network of one block drop path has no effect
        spec["defaults"] = {"drop_path": 0.1}
    return spec


@examples(20)
@given(regnet_specs())
def test_regnet_key_specs_build_as_analysed(spec: dict[str, Any]) -> None:
    text = yaml.safe_dump(spec, sort_keys=False)
    note(text)
    assert_analysis_equals_model(resnetdsl.plan_of(text))
