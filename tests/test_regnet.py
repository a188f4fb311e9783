"""RegNet's width rule against the live torchvision and timm, and pycls's published model-zoo figures.

The widths, depths and group widths of every torchvision RegNet and every timm ``regnet.py`` config are those
the packages compute; the specs they make (RegNet's own blocks) give the very parameter counts of the models
they build, torchvision's published MACs, and pycls's published flops, params and activations.
"""

from __future__ import annotations

import math
import random
import subprocess
import sys
from typing import Any

import pytest

from resnetdsl import summarize
from resnetdsl.errors import SpecError
from resnetdsl.regnet import AnyNetSpec, RegNetSpec, anynet_stages, block_widths, expand, regnet_widths, spec_data

torch = pytest.importorskip("torch")
tvr = pytest.importorskip("torchvision.models.regnet")
timm = pytest.importorskip("timm")
from timm.models import regnet as timm_regnet  # noqa: E402

TORCHVISION = [n for n in tvr.__all__ if n.startswith("regnet_")]
TIMM = timm.list_models(module="regnet")


class _Args(Exception):
    pass


def torchvision_args(name: str) -> dict[str, Any]:
    """The arguments torchvision's builder ``name`` gives ``BlockParams.from_init_params`` (the builder stopped
    there, before it builds anything)."""
    seen: dict[str, Any] = {}

    def record(**kwargs: Any) -> None:
        seen.update(kwargs)
        raise _Args

    original = tvr.BlockParams.from_init_params
    tvr.BlockParams.from_init_params = record  # type: ignore[method-assign]
    try:
        getattr(tvr, name)()
    except _Args:
        pass
    finally:
        tvr.BlockParams.from_init_params = original  # type: ignore[method-assign]
    return seen


def torchvision_spec(name: str) -> RegNetSpec:
    a = torchvision_args(name)
    return RegNetSpec(
        w0=a["w_0"],
        wa=float(a["w_a"]),
        wm=float(a["w_m"]),
        depth=a["depth"],
        group_width=a["group_width"],
        se_ratio=float(a.get("se_ratio") or 0.0),
        quantize="torchvision",
    )


def timm_spec(name: str) -> RegNetSpec:
    cfg = timm_regnet.model_cfgs[name]
    return RegNetSpec(
        w0=cfg.w0,
        wa=float(cfg.wa),
        wm=float(cfg.wm),
        depth=cfg.depth,
        group_width=cfg.group_size,
        bottleneck_ratio=float(cfg.bottle_ratio),
        se_ratio=float(cfg.se_ratio),
        quantize="torchvision" if cfg.group_min_ratio else "pycls",
        stem_width=cfg.stem_width,
    )


def test_the_registries_are_the_ones_the_issue_names() -> None:
    assert len(TORCHVISION) == 15
    assert len(TIMM) == 36 and set(TIMM) == set(timm_regnet.model_cfgs)


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_widths(name: str) -> None:
    r = torchvision_spec(name)
    a = torchvision_args(name)
    bp = tvr.BlockParams.from_init_params(**a)
    ours = regnet_widths(r)
    assert (ours.depths, ours.widths, ours.group_widths) == (bp.depths, bp.widths, bp.group_widths)
    assert [s.bottleneck_ratio for s in ours.stages] == bp.bottleneck_multipliers


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_published_params_and_macs(name: str) -> None:
    """Every weight entry's ``num_params`` and ``_ops`` (GMACs at its crop size) from the spec's analysis."""
    from torchvision.models import get_model_weights

    r = torchvision_spec(name)
    for weights in get_model_weights(name):
        side = weights.transforms.keywords["crop_size"]
        s = summarize(spec_data(r, input_size=(side, side)))
        assert s.params == weights.meta["num_params"], weights
        assert round(s.macs / 1e9, 3) == weights.meta["_ops"], weights


@pytest.mark.parametrize("name", TIMM)
def test_timm_widths(name: str) -> None:
    cfg = timm_regnet.model_cfgs[name]
    stages, _ = timm_regnet.RegNet._get_stage_args(None, cfg)
    ours = regnet_widths(timm_spec(name))
    assert ours.depths == [s["depth"] for s in stages]
    assert ours.widths == [s["out_chs"] for s in stages]
    assert ours.group_widths == [s["group_size"] for s in stages]
    assert [st.bottleneck_ratio for st in ours.stages] == [s["bottle_ratio"] for s in stages]


PLAIN_TIMM = [
    n
    for n in TIMM
    if not (lambda c: c.preact or c.linear_out or c.num_features or c.act_layer != "relu" or c.bottle_ratio != 1)(
        timm_regnet.model_cfgs[n]
    )
    and not callable(timm_regnet.model_cfgs[n].norm_layer)
]


@pytest.mark.parametrize("name", PLAIN_TIMM)
def test_timm_params_of_the_spec(name: str) -> None:
    """timm's RegNet X/Y (batch norm, ReLU, bottleneck ratio 1), built on the meta device, has the spec's
    parameter count; ``regnetx_004`` 5,157,512 (pycls's rule), ``regnetx_004_tv`` 5,495,976 (torchvision's)."""
    with torch.device("meta"):
        model = timm_regnet.RegNet(timm_regnet.model_cfgs[name])
    params = sum(p.numel() for p in model.parameters())
    assert summarize(spec_data(timm_spec(name))).params == params
    if name in ("regnetx_004", "regnetx_004_tv"):
        assert params == {"regnetx_004": 5_157_512, "regnetx_004_tv": 5_495_976}[name]


def test_the_two_rules_differ_where_the_issue_says() -> None:
    base = {"w0": 24, "wa": 24.48, "wm": 2.54, "depth": 22, "group_width": 16}
    assert regnet_widths(RegNetSpec(**base, quantize="torchvision")).widths == [32, 64, 160, 400]
    assert regnet_widths(RegNetSpec(**base, quantize="pycls")).widths == [32, 64, 160, 384]


def test_float32_as_torch_computes_it() -> None:
    """Random RegNets of pycls's sweep ranges: our per-block widths are torchvision's and timm's, ties
    included; numpy's float64 (pycls's own code) rounds the tie w0=200, wm=2.18 the other way."""
    import numpy as np

    rng = random.Random(19)
    cases = [(200, 49.5, 2.18, 27)]
    for _ in range(300):
        cases.append(
            (
                8 * rng.randint(1, 32),
                round(math.exp(rng.uniform(math.log(8), math.log(256))), 1),
                round(math.exp(rng.uniform(math.log(1.5), math.log(3))), 3),
                rng.randint(12, 28),
            )
        )
    for w0, wa, wm, d in cases:
        ours, _ = block_widths(w0, wa, wm, d)
        tv = torch.arange(d) * wa + w0
        cap = torch.round(torch.log(tv / w0) / math.log(wm))
        expected = (torch.round(torch.divide(w0 * torch.pow(wm, cap), 8)) * 8).int().tolist()
        assert ours == expected, (w0, wa, wm, d)
        assert ours == timm_regnet.generate_regnet(wa, w0, wm, d, 1)[0], (w0, wa, wm, d)
    ks = np.round(np.log((np.arange(27) * 49.5 + 200) / 200) / np.log(2.18))
    pycls64 = (np.round(200 * np.power(2.18, ks) / 8).astype(int) * 8).tolist()
    assert 440 in pycls64 and 432 in block_widths(200, 49.5, 2.18, 27)[0]


# pycls's model zoo: MODEL_ZOO.md of facebookresearch/pycls ("RegNetX Models", "RegNetY Models" tables):
# flops (B, counted as MACs), params (M), acts (M); the settings (w0, wa, wm, depth, group width) from its
# configs/dds_baselines/regnet{x,y}/RegNet{X,Y}-*_dds_8gpu.yaml. RegNetY sets SE_ON (ratio 0.25).
PYCLS_ZOO: dict[str, tuple[int, float, float, int, int, float, float, float]] = {
    "RegNetX-200MF": (24, 36.44, 2.49, 13, 8, 0.2, 2.7, 2.2),
    "RegNetX-400MF": (24, 24.48, 2.54, 22, 16, 0.4, 5.2, 3.1),
    "RegNetX-600MF": (48, 36.97, 2.24, 16, 24, 0.6, 6.2, 4.0),
    "RegNetX-800MF": (56, 35.73, 2.28, 16, 16, 0.8, 7.3, 5.1),
    "RegNetX-1.6GF": (80, 34.01, 2.25, 18, 24, 1.6, 9.2, 7.9),
    "RegNetX-3.2GF": (88, 26.31, 2.25, 25, 48, 3.2, 15.3, 11.4),
    "RegNetX-4.0GF": (96, 38.65, 2.43, 23, 40, 4.0, 22.1, 12.2),
    "RegNetX-6.4GF": (184, 60.83, 2.07, 17, 56, 6.5, 26.2, 16.4),
    "RegNetX-8.0GF": (80, 49.56, 2.88, 23, 120, 8.0, 39.6, 14.1),
    "RegNetX-12GF": (168, 73.36, 2.37, 19, 112, 12.1, 46.1, 21.4),
    "RegNetX-16GF": (216, 55.59, 2.1, 22, 128, 15.9, 54.3, 25.5),
    "RegNetX-32GF": (320, 69.86, 2.0, 23, 168, 31.7, 107.8, 36.3),
    "RegNetY-200MF": (24, 36.44, 2.49, 13, 8, 0.2, 3.2, 2.2),
    "RegNetY-400MF": (48, 27.89, 2.09, 16, 8, 0.4, 4.3, 3.9),
    "RegNetY-600MF": (48, 32.54, 2.32, 15, 16, 0.6, 6.1, 4.3),
    "RegNetY-800MF": (56, 38.84, 2.4, 14, 16, 0.8, 6.3, 5.2),
    "RegNetY-1.6GF": (48, 20.71, 2.65, 27, 24, 1.6, 11.2, 8.0),
    "RegNetY-3.2GF": (80, 42.63, 2.66, 21, 24, 3.2, 19.4, 11.3),
    "RegNetY-4.0GF": (96, 31.41, 2.24, 22, 64, 4.0, 20.6, 12.3),
    "RegNetY-6.4GF": (112, 33.22, 2.27, 25, 72, 6.4, 30.6, 16.4),
    "RegNetY-8.0GF": (192, 76.82, 2.19, 17, 56, 8.0, 39.2, 18.0),
    "RegNetY-12GF": (168, 73.36, 2.37, 19, 112, 12.1, 51.8, 21.4),
    "RegNetY-16GF": (200, 106.23, 2.48, 18, 112, 15.9, 83.6, 23.0),
    "RegNetY-32GF": (232, 115.89, 2.53, 20, 232, 32.3, 145.0, 30.3),
}


def pycls_zoo_spec(name: str) -> RegNetSpec:
    w0, wa, wm, depth, g, *_ = PYCLS_ZOO[name]
    return RegNetSpec(w0=w0, wa=wa, wm=wm, depth=depth, group_width=g, se_ratio=0.25 if "Y" in name else 0.0)


def test_pycls_model_zoo_table(capsys: pytest.CaptureFixture[str]) -> None:
    """All 24 rows reproduced at the table's precision: MACs (pycls's flops), params and activations (pycls
    counts every conv's output, as resnetdsl's ``acts`` does; its extra 1,000 linear outputs and the bias adds
    it counts as flops are below the table's precision)."""
    rows = []
    for name, (*_, flops, params, acts) in PYCLS_ZOO.items():
        s = summarize(spec_data(pycls_zoo_spec(name)))
        ours = (round(s.macs / 1e9, 1), round(s.params / 1e6, 1), round(s.acts / 1e6, 1))
        rows.append((name, (flops, params, acts), ours, s))
    with capsys.disabled():
        print("\nmodel           pycls flops/params/acts   resnetdsl MACs / params / acts (exact)")
        for name, theirs, ours, s in rows:
            mark = "" if ours == theirs else "   <-- differs"
            print(
                f"{name:<15} {theirs[0]:>6} {theirs[1]:>6} {theirs[2]:>5}    {ours[0]:>6} {ours[1]:>6} {ours[2]:>5}"
                f"   ({s.macs:,} / {s.params:,} / {s.acts:,}){mark}"
            )
    assert [r[2] for r in rows] == [r[1] for r in rows]


def test_spec_data_of_regnet_y_400mf() -> None:
    """Widths 48, 104, 208, 440 in regnet blocks; the SE of each stage's first block reduces its input width."""
    import resnetdsl

    plan = resnetdsl.plan_of(spec_data(torchvision_spec("regnet_y_400mf")))
    assert [len(st.blocks) for st in plan.stages] == [1, 3, 6, 6]
    assert [st.out_channels for st in plan.stages] == [48, 104, 208, 440]
    firsts = [st.blocks[0] for st in plan.stages]
    assert [next(op for op in b.main if op.name == "se").reduced_channels for b in firsts] == [8, 12, 26, 52]
    assert {b.kind for b in firsts} == {"regnet"}


def test_anynet_stages() -> None:
    a = AnyNetSpec(depths=(1, 2, 4, 2), widths=(48, 100, 200, 400), bottleneck_ratios=(1, 1, 0.5, 0.25),
                   group_widths=(16, 16, 16, 16))  # fmt: skip
    stages = anynet_stages(a)
    assert [s.width for s in stages] == [48, 96, 192, 384]  # made multiples of the group width (pycls's rule)
    assert [s.bottleneck_width for s in stages] == [48, 96, 96, 96]
    assert summarize(spec_data(a)).params > 0
    with pytest.raises(ValueError, match="one item per stage"):
        AnyNetSpec(depths=(1, 2), widths=(48,), bottleneck_ratios=(1.0,), group_widths=(8,))


def test_expand_reports_every_problem() -> None:
    with pytest.raises(SpecError) as exc:
        expand({"regnet": {"w0": 20, "wa": 24.48, "wm": 1.0, "dpth": 22, "group_width": 16}, "stem": {}})
    assert [i.format() for i in exc.value.issues] == [
        "stem: cannot be set with 'regnet' (only name, description, input, layout, head can)",
        "regnet.w0: must be a multiple of 8 (got 20)",
        "regnet.wm: must be > 1.0 (got 1.0)",
        "regnet.depth: is required",
        "regnet.dpth: unknown key 'dpth' (did you mean 'depth'?)",
    ]


def test_expand_gives_the_spec_and_the_input_size() -> None:
    data, size = expand({"name": "x", "regnet": {"w0": 24, "wa": 24.48, "wm": 2.54, "depth": 22, "group_width": 16},
                         "input": {"size": [160, 160]}, "head": {"num_classes": 10}})  # fmt: skip
    assert size == (160, 160) and data["input"]["size"] == [160, 160] and data["head"] == {"num_classes": 10}
    assert data["regnet"] == {"w0": 24, "wa": 24.48, "wm": 2.54, "depth": 22, "group_width": 16}
    s = summarize(data)
    assert s.stage_facts[-1].reduction == 32 and s.output_shape == (10,)
    assert s.stage_facts[0].receptive_field == 3  # the 3×3/2 stem sees 3 pixels


def test_regnet_is_torch_free() -> None:
    code = "import sys, resnetdsl.regnet; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
