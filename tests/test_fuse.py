"""fuse_for_inference: folded norms, dropped eval no-ops, channels_last; outputs equal the eval model's."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import resnetdsl
from resnetdsl import plan as P
from resnetdsl.build_torch import BatchNormAct2d, FrozenBatchNorm2d
from resnetdsl.passes.fuse import fuse_for_inference

# (preset, input size, batch norms left after fusing: those after an add, which cannot fold)
CASES = [
    ("resnet18", 64, 0),
    ("resnet50d", 64, 0),
    ("seresnet50", 64, 0),
    pytest.param("ecaresnet50d", 64, 0, marks=pytest.mark.slow, id="ecaresnet50d"),
    pytest.param("resnetrs50", 64, 0, marks=pytest.mark.slow, id="resnetrs50"),
    ("cifar_resnet20", 32, 0),
    ("extends: resnet18\ndefaults: {norm: group}", 64, 0),
    ("preact_resnet164", 32, 54 - 1 + 1),  # every block's bn1 but the first (folded into the stem) + final norm
    ("resnetv2_50", 64, 16 + 1),  # every block's norm1 (the stem ends in a pool) + final norm
    ("wrn16_8", 32, 6),  # 6 blocks' bn1; the first folds into the stem conv; + the final norm
    # no shortcuts: each block's bn1 (and the final norm) is the only reader of the conv before it, and folds
    (
        "extends: preact_resnet164\nstages: [{depth: 2, width: 16}, {depth: 2, width: 32, stride: 2}]\n"
        "defaults: {shortcut: none}",
        32,
        0,
    ),
]


def _trained_stats(model: nn.Module, size: int) -> None:
    """Give the norms realistic non-trivial statistics and affine parameters."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d | nn.GroupNorm):
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.uniform_(-0.2, 0.2, generator=g)
        model.train()
        for _ in range(2):
            model(torch.randn(4, 3, size, size, generator=g))
    model.eval()


def _count(model: nn.Module, kind: type | tuple[type, ...]) -> int:
    return sum(isinstance(m, kind) for m in model.modules())


@pytest.mark.parametrize(("name", "size", "left"), CASES)
def test_fused_equals_eval_model(name: str, size: int, left: int) -> None:
    model = resnetdsl.build_model(name, seed=0)
    _trained_stats(model, size)
    norms = _count(model, (nn.BatchNorm2d, nn.GroupNorm))
    fused = fuse_for_inference(model)
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(fused(x), model(x), rtol=1e-4, atol=1e-4)
    assert _count(fused, nn.BatchNorm2d) == left
    assert _count(fused, (nn.Dropout, resnetdsl.build_torch.DropPath)) == 0
    assert _count(fused, nn.GroupNorm) == _count(model, nn.GroupNorm)  # GroupNorm cannot fold
    assert not fused.training and not any(p.requires_grad for p in fused.parameters())
    assert _count(model, (nn.BatchNorm2d, nn.GroupNorm)) == norms  # the original is untouched
    conv = next(m for m in fused.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)


def test_frozen_batch_norm_folds() -> None:
    spec = "extends: resnet18\ndefaults: {norm: frozen_batch}\n"
    model = resnetdsl.build_model(spec, seed=0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, FrozenBatchNorm2d):
                m.running_var.uniform_(0.5, 2)
                m.running_mean.uniform_(-0.5, 0.5)
                m.weight.uniform_(0.5, 1.5)
    model.eval()
    fused = resnetdsl.fuse_for_inference(model)
    assert _count(model, FrozenBatchNorm2d) == 20 and _count(fused, FrozenBatchNorm2d) == 0
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), model(x), rtol=1e-4, atol=1e-4)


def test_dropout_and_drop_path_removed() -> None:
    spec = "extends: wrn16_8\ndefaults: {dropout: 0.3, drop_path: 0.2}\n"
    model = resnetdsl.build_model(spec, seed=0).eval()
    assert _count(model, nn.Dropout) == 6 and _count(model, resnetdsl.build_torch.DropPath) > 0
    fused = resnetdsl.build_model(spec, seed=0, inference=True)
    assert _count(fused, (nn.Dropout, resnetdsl.build_torch.DropPath)) == 0
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), model(x), rtol=1e-4, atol=1e-4)


def test_norm_act_leaves_its_relu() -> None:
    fused = resnetdsl.build_model("resnetv2_18", seed=0, inference=True)
    block = fused.get_submodule("stages.0.blocks.0")
    assert isinstance(block.norm2, nn.ReLU) and isinstance(block.norm1, BatchNormAct2d)


def test_unknown_op_type_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    from resnetdsl.ops import DESCRIPTIONS

    model = resnetdsl.build_model("extends: cifar_resnet20\ndefaults: {block: preact_basic, dropout: 0.1}", seed=0)
    monkeypatch.delitem(DESCRIPTIONS, P.Dropout)
    with pytest.raises(KeyError, match="Dropout"):
        fuse_for_inference(model)
