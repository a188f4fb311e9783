"""Shared by tests/test_family_aa.py and tests/test_family_resnest.py (issue 18): timm references built once,
imports on the meta device, numeric parity, and the exactness of the analysis against a built model."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import resnetdsl
from resnetdsl import plan as P
from resnetdsl.analyze import analyze
from resnetdsl.importer import spec_from_model
from resnetdsl.memory import activation_report
from resnetdsl.spec import Spec
from tests.memprobe import saved_bytes

SIZE = 64


def keys_and_shapes(model: nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()]


def meta_import(name: str) -> Spec:
    """``resnetdsl import timm:NAME`` on the meta device; the built model's keys and shapes equal timm's."""
    import timm

    with torch.device("meta"):
        ref = timm.create_model(name, pretrained=False)
    spec = spec_from_model(ref, name=name)
    ours = resnetdsl.build_model(spec, device="meta")
    assert keys_and_shapes(ours) == keys_and_shapes(ref)
    return spec


class References(dict[str, tuple[nn.Module, Any]]):
    """timm models and the models of their imported specs, each built once (a module-scoped fixture holds one)."""

    def pair(self, name: str) -> tuple[nn.Module, Any]:
        if name not in self:
            ref = timm_reference(name)
            self[name] = ref, numeric_parity(ref, name)
        return self[name]


def timm_reference(name: str, **kwargs: Any) -> nn.Module:
    import timm

    torch.manual_seed(0)
    ref = timm.create_model(name, pretrained=False, **kwargs).eval()
    with torch.no_grad():  # batch statistics other than 0 and 1, so that the norms matter
        g = torch.Generator().manual_seed(1)
        for m in ref.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return ref


def numeric_parity(ref: nn.Module, name: str) -> Any:
    """The imported spec's model loads ``ref``'s state_dict strictly and computes its eval outputs at 64 px
    (built on the meta device and given ``ref``'s tensors: no time spent drawing weights)."""
    spec = spec_from_model(ref, name=name)
    ours = resnetdsl.build_model(spec, device="meta").eval()
    assert list(ours.state_dict()) == list(ref.state_dict())
    ours.load_state_dict({k: v.clone() for k, v in ref.state_dict().items()}, strict=True, assign=True)
    x = torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-5)
    return ours


def analysis_is_exact(model: Any, size: int = SIZE) -> None:
    """Params, buffers, every layer's output shape and MACs (total and per module) of the analysis equal the
    built model's (forward hooks, torch's flop counter)."""
    plan = model.plan
    a = analyze(plan, (size, size))
    assert a.totals.params == sum(p.numel() for p in model.parameters())
    assert a.totals.buffers == sum(b.numel() for b in model.buffers())
    seen: dict[str, tuple[int, ...]] = {}
    expected = {layer.path: layer.output_dims for layer in a.layers()}
    hooks = [
        model.get_submodule(path).register_forward_hook(
            lambda m, args, out, path=path: seen.__setitem__(path, tuple(out.shape[1:]))
        )
        for path in expected
    ]
    counter = FlopCounterMode(display=False)
    x = torch.randn(1, plan.in_channels, size, size, generator=torch.Generator().manual_seed(0))
    was = model.training
    model.eval()
    with torch.no_grad(), counter:
        model(x)
    model.train(was)
    for h in hooks:
        h.remove()
    assert seen == expected
    assert 2 * a.totals.macs == counter.get_total_flops()
    per_module = counter.get_flop_counts()
    for layer in a.layers():
        if isinstance(layer.op, P.Conv | P.Linear | P.BlurPool | P.SplitAttention):
            assert 2 * layer.macs == sum(per_module[f"ResNet.{layer.path}"].values()), layer.path


def memory_is_exact(source: Any, size: int = 32, batch: int = 2) -> None:
    """What a training step keeps for backward, as the memory model says and as torch measures it (bytes)."""
    plan = resnetdsl.plan_of(source)
    static = activation_report(analyze(plan, (size, size)), batch).activation_total
    x = torch.randn(batch, plan.in_channels, size, size, generator=torch.Generator().manual_seed(0))
    assert static == saved_bytes(resnetdsl.build_model(plan, seed=0), x)
