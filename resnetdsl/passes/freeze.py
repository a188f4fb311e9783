"""CPU inference through oneDNN Graph: the fused model traced, frozen and run by TorchScript with oneDNN Graph
(LLGA) fusion on, so each conv with its bias, residual add and ReLU is one compiled oneDNN partition.

Why a graph and not the eager primitives of :mod:`resnetdsl.passes.pack`: both run the same oneDNN kernels
(``brg_conv_fwd`` / ``brgconv_1x1`` on channels_last tensors, the same packed weight layouts, the same fused
post-ops), but PyTorch's eager bridge (``torch.ops.mkldnn._convolution_pointwise``, which inductor's freezing
calls too) sets the primitive up again at every call: about 70 µs of one core per conv, measured on a 1×8×4×4
conv, so 1.4 ms of a resnet18 call and 3.7 ms of a resnet50 one at batch 1. oneDNN Graph compiles each
partition once per input shape and then only executes it, and the frozen TorchScript graph runs the ops between
(pools, the head) without Python. The steps:

1. **fuse** (a copy, :func:`~resnetdsl.passes.fuse.fuse_for_inference`): batch norms after convs folded,
   dropout and drop path gone, channels_last weights and input;
2. **pool the gates' inputs** (:mod:`resnetdsl.passes.gates`): a squeeze-excite or ECA gate right after a 1×1
   conv reads the mean of the conv's input instead of its output (the same numbers: the mean commutes with a
   1×1 conv), so the gate's multiply becomes a post-op of that conv and ``conv → ×gate → +identity → ReLU``
   is one partition;
3. **trace** it with an example input of the batch and size given (``torch.jit.trace``; the network's forward
   looks its modules up by name, which ``torch.jit.script`` cannot compile, a trace records the ops), then
   **freeze** (weights become constants);
4. **warm up**: TorchScript's profiling executor records the shapes in the first calls and then rewrites the
   graph, and it is in that rewrite that oneDNN Graph takes its partitions: conv + bias + add + ReLU, conv +
   ReLU, the pre-activation batch norms with their ReLUs, pools, the classifier.

oneDNN Graph's fusion is a process-wide TorchScript switch (``torch._C._jit_set_llga_enabled``): the returned
module turns it on for its own calls only and restores it after, so other TorchScript code is not affected. A
new input shape (another batch size) is specialised on its first calls in the same way; past TorchScript's
specialisation limit it runs without the fusion (still correct, slower).

CPU and float32 only; outputs equal the eval-mode model's to float rounding (summation order differs).
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import torch
from torch import Tensor, nn

from resnetdsl.build_torch import ResNet
from resnetdsl.passes import gates
from resnetdsl.passes.pack import fused_on_onednn, pack_for_inference

_WARM_UP = 3
"""Calls at the example's shape before returning: the profiling executor profiles, then optimises (the fusion)."""


class FrozenInference(nn.Module):
    """A frozen TorchScript trace of a fused network run with oneDNN Graph fusion on (``backend ==
    "onednn_graph"``), or where oneDNN Graph refused the network, its :func:`pack_for_inference` model
    (``backend == "packed"``); carries the network's ``plan``, ``feature_info``, ``num_classes`` and
    ``num_features``."""

    def __init__(self, run: nn.Module, model: ResNet, *, backend: str) -> None:
        super().__init__()
        self.run = run
        self.backend = backend
        for attr in ("plan", "feature_info", "num_classes", "num_features"):
            setattr(self, attr, getattr(model, attr))

    def forward(self, x: Tensor) -> Any:
        if self.backend != "onednn_graph":
            return self.run(x)
        was = torch._C._jit_llga_enabled()
        torch._C._jit_set_llga_enabled(True)
        try:
            return self.run(x)
        finally:
            torch._C._jit_set_llga_enabled(was)

    def extra_repr(self) -> str:
        return f"backend={self.backend!r}"


def freeze_for_inference(
    model: ResNet, *, batch_size: int = 1, input_size: tuple[int, int] | None = None
) -> FrozenInference:
    """The fastest CPU inference copy of ``model`` (float32): :func:`fuse_for_inference`, traced, frozen and run
    with oneDNN Graph fusion (see the module docstring); the original is untouched.

    Args:
        model: a float32 CPU network from :func:`resnetdsl.build_model`, fused already or not.
        batch_size: the batch size of the example input it is traced and warmed up with (the fused graph is
            specialised for this shape first; other shapes run too, each specialised on its first calls).
        input_size: (H, W) of that example (default: the plan's).

    Returns:
        A :class:`FrozenInference` in eval mode; its ``forward`` takes and returns what the model's does (a
        list of maps for a multi-scale backbone). Its weights are constants of the graph: freeze again after
        changing the model's.

    Raises:
        ValueError: the model is not float32 on the CPU, or oneDNN is not available.
        KeyError: the plan holds an op type the fusing pass does not know.
    """
    fused = fused_on_onednn(model, "freeze_for_inference")
    if fused is model:  # fused already: the gate rewrite changes modules of a copy, never the caller's
        fused = copy.deepcopy(model)
    gates.pool_gate_inputs(fused)
    h, w = input_size or model.plan.input_size
    example = torch.zeros(batch_size, model.plan.in_channels, h, w)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript's deprecation notice and the tracer's own warnings
        traced = torch.jit.trace(fused, example, check_trace=False, strict=False)  # type: ignore[no-untyped-call]
        module = FrozenInference(torch.jit.freeze(traced.eval()), model, backend="onednn_graph").eval()
        try:
            for _ in range(_WARM_UP):
                module(example)
        except RuntimeError:  # an op oneDNN Graph's bridge cannot take (group norm: "bad optional access")
            packed = pack_for_inference(model, input_size=(h, w))
            module = FrozenInference(packed, model, backend="packed").eval()
            module(example)
    return module
