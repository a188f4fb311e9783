"""Shared by the family tests (tests/test_family_*.py), the block-kind and the op-type tests: the exported
source loaded and compared with the built model, the ONNX round trip, a timm model's parity through its
imported spec, batch norms that are not the identity, and the backbone settings a new block kind must keep.

Each helper asserts; a test calls it with what is its own (the spec, the input, the names) and checks the rest
(what folds, which classes the source holds) itself.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import resnetdsl


def load_exported_module(source: str, tmp_path: Path, name: str) -> ModuleType:
    """The module of exported ``source``, written to ``tmp_path/NAME.py`` and imported as ``exported_NAME``."""
    path = tmp_path / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"exported_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_exported(source: str, tmp_path: Path, name: str) -> type[nn.Module]:
    """The network class of exported ``source``: the last class the file defines."""
    module = load_exported_module(source, tmp_path, name)
    classes = [v for v in vars(module).values() if isinstance(v, type) and v.__module__ == module.__name__]
    network: type[nn.Module] = classes[-1]
    return network


def exported_equals(source: str, model: nn.Module, tmp_path: Path, name: str, x: torch.Tensor) -> nn.Module:
    """The exported network takes ``model``'s state_dict strictly, keys in the same order, and computes its
    outputs bit for bit (scripted: to float tolerance); returns it, in eval mode."""
    exported = load_exported(source, tmp_path, name)().eval()
    assert list(exported.state_dict()) == list(model.state_dict())
    exported.load_state_dict(model.state_dict(), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(exported(x), model(x), rtol=0, atol=0)
        torch.testing.assert_close(torch.jit.script(exported)(x), model(x), rtol=1e-5, atol=1e-5)
    return exported


def onnx_equals(model: nn.Module, path: Path, shapes: Iterable[Sequence[int]], **export: Any) -> None:
    """``model`` exported to ONNX at ``path`` computes its outputs (to 1e-4) for inputs of each of ``shapes``."""
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from resnetdsl.export.onnx import to_onnx

    to_onnx(model, path, **export)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for shape in shapes:
        x = torch.randn(*shape)
        (out,) = session.run(None, {"input": x.numpy()})
        with torch.no_grad():
            torch.testing.assert_close(torch.from_numpy(out), model(x), rtol=1e-4, atol=1e-4)


def randomised_norms(model: nn.Module, *, layer_norms: bool = False) -> nn.Module:
    """Batch norm statistics and affines (and with ``layer_norms`` the affines of layer norms) drawn away from
    the identity, so that a misplaced norm shows in the outputs; the model, in eval mode."""
    g = torch.Generator().manual_seed(1)
    affine = (nn.BatchNorm2d, nn.LayerNorm) if layer_norms else (nn.BatchNorm2d,)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1, generator=g)
                m.running_var.uniform_(0.5, 1.5, generator=g)
            if isinstance(m, affine):
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.uniform_(-0.2, 0.2, generator=g)
    return model.eval()


def computes_like(ref: nn.Module, spec: Any, size: int = 64) -> nn.Module:
    """The model of ``spec`` (imported from ``ref``) has ``ref``'s state_dict keys in order, loads it strictly
    and computes its outputs; the summary counts its parameters, buffers and MACs exactly. Returns the model."""
    model = resnetdsl.build_model(spec).eval()
    assert list(model.state_dict()) == list(ref.state_dict())
    model.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref(x), rtol=1e-5, atol=1e-5)
    summary = resnetdsl.summarize(spec, input_size=(size, size))
    assert summary.params == sum(p.numel() for p in model.parameters())
    assert summary.buffers == sum(b.numel() for b in model.buffers())
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x[:1])
    assert summary.macs == counter.get_total_flops() // 2
    return model


def backbone_settings_hold(base: dict[str, Any], x: torch.Tensor) -> tuple[nn.Module, torch.Tensor]:
    """The settings every block kind must keep working with: the analysis of the dilated net (output stride 8)
    is exact, the features are the maps the analysis promises, the frozen stem and stage 1 take no gradients,
    checkpointing gives the same gradients. Returns the plain model (eval mode) and its output for ``x``, for
    the caller's own checks (what folds for inference)."""
    from tests.family_aa_resnest import analysis_is_exact

    size = x.shape[-1]
    plain = resnetdsl.build_model(base, seed=0).eval()
    with torch.no_grad():
        want = plain(x)
    analysis_is_exact(resnetdsl.build_model({**base, "output_stride": 8}, seed=0))
    feats = resnetdsl.build_model({**base, "features": {"out_indices": [0, 1, 2, 3]}, "head": "none"}, seed=0).eval()
    with torch.no_grad():
        maps = feats(x)
    assert [tuple(m.shape[1:3]) for m in maps] == [
        (c, size // r) for c, r in zip(feats.feature_info.channels(), feats.feature_info.reduction(), strict=True)
    ]
    frozen = resnetdsl.build_model({**base, "frozen_stages": 1}, seed=0)
    assert not any(p.requires_grad for n, p in frozen.named_parameters() if n.startswith(("conv1", "bn1", "layer1")))
    ck = resnetdsl.build_model({**base, "stages": [{**s, "checkpoint": True} for s in base["stages"]]}, seed=0)
    ref = resnetdsl.build_model(base, seed=0)
    for model in (ck, ref):
        model.train()
        model(x).square().mean().backward()
    for (n, a), b in zip(ck.named_parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-6, msg=n)
    return plain, want
