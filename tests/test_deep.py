"""A thousand layers on a laptop: training steps of the deepest presets, and per-stage activation
checkpointing (``checkpoint: true``) through spec → plan → model → summary/render."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

import resnetdsl
from resnetdsl.build_torch import CheckpointSequential

from .conftest import run_cli

SMALL = "extends: cifar_resnet20\nstages: [{depth: 3, width: 16, checkpoint: true}, {depth: 3, width: 32, stride: 2},"
SMALL += " {depth: 3, width: 64, stride: 2, checkpoint: true}]\n"
V2 = "extends: resnetv2_18\nstages: [{depth: 2, width: 64, checkpoint: true}, {depth: 2, width: 128, stride: 2}]\n"


def _step(model: torch.nn.Module, batch: int, generator_seed: int = 0) -> None:
    g = torch.Generator().manual_seed(generator_seed)
    x = torch.randn(batch, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (batch,), generator=g)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    F.cross_entropy(model(x), y).backward()
    opt.step()


@pytest.mark.parametrize("spec", [SMALL, V2], ids=["cifar", "resnetv2"])
def test_checkpointing_changes_nothing_but_memory(spec: str) -> None:
    plain = spec.replace(", checkpoint: true", "")
    a, b = resnetdsl.build_model(spec, seed=0), resnetdsl.build_model(plain, seed=0)
    assert a.plan.stages[0].checkpoint and not a.plan.stages[1].checkpoint
    assert not any(s.checkpoint for s in b.plan.stages)
    assert list(a.state_dict()) == list(b.state_dict())
    assert isinstance(a.get_submodule(a.plan.stages[0].name), CheckpointSequential)
    x = torch.randn(4, 3, 32, 32)
    torch.manual_seed(0)
    a(x).square().mean().backward()
    torch.manual_seed(0)
    b(x).square().mean().backward()
    # running statistics updated once, not again by the recompute; the same gradients
    torch.testing.assert_close(a.state_dict(), b.state_dict())
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, msg=name)
    a.eval(), b.eval()
    with torch.no_grad():
        torch.testing.assert_close(a(x), b(x))


def test_checkpointing_with_drop_path_recomputes_the_same_mask() -> None:
    spec = SMALL.replace("extends: cifar_resnet20\n", "extends: cifar_resnet20\ndefaults: {drop_path: 0.5}\n")
    a, b = resnetdsl.build_model(spec, seed=0), resnetdsl.build_model(spec.replace(", checkpoint: true", ""), seed=0)
    x = torch.randn(8, 3, 32, 32)
    torch.manual_seed(3)
    a(x).square().mean().backward()
    torch.manual_seed(3)
    b(x).square().mean().backward()
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, msg=name)


def test_summary_and_render_mark_checkpointed_stages() -> None:
    rows = {r.name: r for r in resnetdsl.summarize(SMALL).rows_at("stage")}
    assert rows["layer1"].kind.endswith("(checkpoint)") and "checkpoint" not in rows["layer2"].kind
    dot = resnetdsl.render(SMALL, detail="block").source
    assert dot.count("checkpointed") == 2
    dot = resnetdsl.render(SMALL, detail="stage").source
    assert dot.count("activation checkpointing") == 2
    done = run_cli("summary", SMALL, "--depth", "stage")
    assert done.returncode == 0 and done.stdout.count("(checkpoint)") == 2


def test_checkpoint_must_be_a_boolean() -> None:
    with pytest.raises(resnetdsl.SpecError) as exc:
        resnetdsl.plan_of(SMALL.replace("checkpoint: true", "checkpoint: 1", 1))
    assert "stages[0].checkpoint" in str(exc.value)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cifar_resnet1202", "preact_resnet1001"])
def test_thousand_layers_train_on_two_cores(name: str) -> None:
    """A training step of the 1000-layer presets at batch 8 reaches every parameter (how long it takes is
    bench/deep.py's to measure, not a test's)."""
    model = resnetdsl.build_model(name, seed=0)
    before = model.fc.weight.detach().clone()
    _step(model, 8)
    assert not torch.equal(model.fc.weight, before)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
