"""Per-conv widths (timm's pruned nets), CBAM and global context, timm's pretrained_cfg and tagged names (issue 18,
items 7, 8 and 9's cfg): strict loading and equal outputs against live timm at 64 px, exact summary and memory,
diagrams, export, inference folding and the checker's messages."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import timm
import torch
from torch import nn

import resnetdsl
from resnetdsl.analyze import analyze
from resnetdsl.check import check_with_issues
from resnetdsl.export.python import to_python
from resnetdsl.importer import model_from_ref, spec_from_model
from resnetdsl.memory import activation_report
from resnetdsl.passes.fuse import fuse_for_inference
from resnetdsl.receptive import feature_facts

from .family_helpers import computes_like, randomised_norms
from .memprobe import saved_bytes

# name → how timm builds it: the pruned net by name, CBAM and GC on timm's ResNet through block_args
NUMERIC: dict[str, tuple[str, dict[str, Any]]] = {
    "ecaresnet50d_pruned": ("ecaresnet50d_pruned", {}),
    "resnet18_cbam": ("resnet18", {"block_args": {"attn_layer": "cbam"}}),
    "resnet26_gc": ("resnet26", {"block_args": {"attn_layer": "gc"}}),
}


def _randomised(model: nn.Module) -> nn.Module:
    return randomised_norms(model, layer_norms=True)  # global context's layer norm too


@pytest.fixture(scope="module")
def references() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    return {k: _randomised(timm.create_model(n, pretrained=False, **kw)) for k, (n, kw) in NUMERIC.items()}


@pytest.mark.parity
@pytest.mark.parametrize("name", list(NUMERIC))
def test_loads_strictly_and_computes_the_same(name: str, references: dict[str, nn.Module]) -> None:
    ref = references[name]
    computes_like(ref, spec_from_model(ref))


def test_the_pruned_widths_are_written_per_block() -> None:
    """timm's adapt_model_from_string widths: every block's [conv1, conv2] outputs, on the meta device."""
    with torch.device("meta"):
        ref = timm.create_model("ecaresnet50d_pruned")
    spec = spec_from_model(ref)
    first = spec.stages[0]
    assert (first.width, spec.defaults.expansion) == (19, 1)
    assert [(e.at, e.conv_widths) for e in first.blocks] == [(0, (47, 18)), (1, (52, 22)), (2, (64, 35))]
    assert spec.stages[0].eca_kernel == 5  # timm keeps the kernel of the unpruned 256 channels


SMALL: dict[str, Any] = {
    "name": "gates",
    "input": {"size": [32, 32]},
    "stages": [
        {"depth": 1, "width": 16, "attention": "cbam"},
        {"depth": 1, "width": 32, "stride": 2, "block": "bottleneck", "attention": "gc"},
    ],
    "head": {"num_classes": 5},
}


def test_cbam_and_gc_are_exact_in_memory_and_global_in_reach() -> None:
    plan = resnetdsl.plan_of(SMALL)
    static = activation_report(analyze(plan, (32, 32)), 2).activation_total
    measured = saved_bytes(resnetdsl.build_model(plan, seed=0), torch.randn(2, 3, 32, 32))
    assert static == measured
    assert [f.receptive_field for f in feature_facts(plan)][1:] == [None, None]  # the gates see the whole map


def test_cbam_and_gc_are_drawn_and_summarised() -> None:
    dot = resnetdsl.render(SMALL, detail="layer").source
    assert "CBAM 16→1" in dot and "GC 128→16" in dot
    assert "CBAM a→b: channel gate" in dot and "GC a→b: global context" in dot
    rows = {r.name: r.kind for r in resnetdsl.summarize(SMALL).rows}
    assert rows["layer1.0.se"] == "CbamModule 16→1" and rows["layer2.0.se"] == "GlobalContext 128→16"


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
def test_python_export_and_fusing_keep_the_function(tmp_path: Path) -> None:
    plan = resnetdsl.plan_of(SMALL)
    model = _randomised(resnetdsl.build_model(plan, seed=0))
    path = tmp_path / "gates.py"
    path.write_text(to_python(plan), encoding="utf-8")
    found = importlib.util.spec_from_file_location("exported_gates", path)
    assert found is not None and found.loader is not None
    module = importlib.util.module_from_spec(found)
    found.loader.exec_module(module)
    exported = module.Gates().eval()
    exported.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(x)
        torch.testing.assert_close(exported(x), expected, rtol=0, atol=0)
        torch.testing.assert_close(torch.jit.script(exported)(x), expected, rtol=1e-5, atol=1e-5)
        # the inference pass folds the branches' norms and keeps the gates (CBAM's one-channel norm inside)
        torch.testing.assert_close(fuse_for_inference(model)(x), expected, rtol=1e-4, atol=1e-5)


def test_import_carries_the_pretrained_cfg_of_a_tag() -> None:
    ref = model_from_ref("timm:resnet50.a1_in1k")
    spec = spec_from_model(ref)
    want = {k: ref.pretrained_cfg[k] for k in ("mean", "std", "input_size", "test_input_size", "crop_pct")}
    want |= {"tag": "a1_in1k", "interpolation": "bicubic", "first_conv": "conv1", "classifier": "fc"}
    assert spec.pretrained_cfg is not None and spec.pretrained_cfg.model_dump(exclude_none=True) == want
    model = resnetdsl.build_model(spec, device="meta")
    assert model.pretrained_cfg == want and model.default_cfg is model.pretrained_cfg
    assert not hasattr(resnetdsl.build_model("resnet18", device="meta"), "pretrained_cfg")


def test_a_tag_chooses_the_heads_classes() -> None:
    in21k = model_from_ref("timm:resnetv2_50x1_bit.goog_in21k")  # built without weights, nothing downloaded
    assert in21k.num_classes == in21k.pretrained_cfg["num_classes"] == 21843
    with pytest.raises(ValueError, match=r"^timm has no weights 'nope' for 'resnet18' \(its tags: a1_in1k, "):
        model_from_ref("timm:resnet18.nope")


def _messages(text: str) -> list[tuple[str, str]]:
    _, issues = check_with_issues(text)
    return [(".".join(str(p) for p in i.path), i.message) for i in issues]


def test_the_checker_says_what_conv_widths_need() -> None:
    base = "name: x\nstages: [{depth: 1, width: 8}]\ndefaults: "
    assert _messages(base + "{block: bottleneck, conv_widths: [8]}\n") == [
        (
            "defaults.conv_widths",
            "has 1 width; a bottleneck block takes 2 (the output channels of each conv of its branch but the last), "
            "e.g. [8, 8]",
        )
    ]
    problems = _messages(base + "{block: bottleneck, groups: 2, conv_widths: [8, 9]}\n")
    assert (
        "defaults.conv_widths",
        "widths [8, 9] of layer1.0 are not all divisible by its groups (2); choose multiples of 2",
    ) in problems


@pytest.mark.parity
def test_drop_block_imports_and_trains_as_timms() -> None:
    """timm's schedule (layer3: 5×5 at γ scale 0.25, layer4: 3×3), and in training the same blocks dropped for the
    same seed (at 64 px layer3's map is 4×4: the even-block branch of timm's mask)."""
    torch.manual_seed(0)
    ref = timm.create_model("resnet18", pretrained=False, drop_block_rate=0.2)
    spec = spec_from_model(ref)
    assert spec.drop_block == 0.2
    model = resnetdsl.build_model(spec)
    model.load_state_dict(ref.state_dict(), strict=True)
    ops = dict(resnetdsl.plan_of(spec).named_ops())
    assert "layer2.0.drop_block" not in ops
    assert (ops["layer3.1.drop_block"].block_size, ops["layer4.0.drop_block"].gamma_scale) == (5, 1.0)  # type: ignore[union-attr]
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    outs = []
    for net in (ref, model):
        net.train()
        torch.manual_seed(3)
        outs.append(net(x))
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), ref.eval()(x), rtol=1e-5, atol=1e-5)


def test_the_checker_says_where_drop_block_cannot_go() -> None:
    assert _messages("name: x\ndrop_block: 0.1\nstages: [{depth: 1, width: 8}, {depth: 1, width: 8}]\n") == [
        (
            "drop_block",
            "timm's schedule drops blocks in the third and fourth stages; this network has 2: add stages, "
            "or remove drop_block",
        )
    ]
