"""Built model → ONNX with a dynamic batch and spatial size (torch's TorchScript-based exporter).

Why that exporter: it traces the eval model once and writes the graph in about a second for a ResNet-50 (the
dynamo-based one, ``dynamo=True``, took about 30 s here for the same file), and the network has no
data-dependent control flow for dynamo to capture. Two things keep it fast: the norms are folded into the convs
first (:func:`~resnetdsl.passes.fuse.fuse_for_inference`, what the exporter's own eval pass would do, slowly),
and the traced input is small (:func:`trace_side`). What the trace could specialise does not occur in the
built model: its shape arithmetic (padding shortcuts, ECA's reshape, the stride-1 'same' average pool) does
not depend on the input size, and the tests run the file at other batch sizes and sides than the traced one.

Needs the ``onnx`` package (``pip install resnetdsl[test]`` brings it, with onnxruntime to check the result);
importing this module does not import it.
"""

from __future__ import annotations

import io
import os
import warnings
from typing import Any

import torch

from resnetdsl import plan as P
from resnetdsl.build_torch import ResNet
from resnetdsl.io import atomic_write_bytes

INPUT_NAME = "input"
OUTPUT_NAME = "output"
OPSET = 18


TRACE_PERIOD = 64
"""The largest stride a network of the language reaches (output stride 32, a stem or pool one more)."""


def trace_side(side: int) -> int:
    """The side of the input that is traced: the smallest at least :data:`TRACE_PERIOD` with the same remainder
    as ``side`` modulo it, so that every map of the traced network has the parity (and the size modulo each
    stride up to 64) that the same map has at ``side``; a side already below the period is kept. A smaller
    input traces faster, and the file takes any size (dynamic axes)."""
    if side <= TRACE_PERIOD:
        return side
    return TRACE_PERIOD + side % TRACE_PERIOD


def output_names(plan: P.Plan) -> list[str]:
    """``output`` for a classifier (or a plain feature extractor); ``feature_{i}`` for each map ``i`` of
    ``out_indices`` of a multi-scale backbone (``feature_0`` the stem's, ``feature_i`` stage i's)."""
    if plan.out_indices:
        return [f"feature_{i}" for i in plan.out_indices]
    return [OUTPUT_NAME]


def to_onnx(model: ResNet, path: str | os.PathLike[str], *, input_size: tuple[int, int] | None = None) -> None:
    """Write ``model`` (in eval mode) as an ONNX file whose input ``input`` has a dynamic batch, height and width;
    outputs are named by :func:`output_names`.

    Args:
        model: a built network; it is put in eval mode.
        path: the ``.onnx`` file to write (atomically).
        input_size: (H, W) of the input the file is for (default: the plan's). It is traced at
            :func:`trace_side` of each side (96×96 for 224×224), or at the size itself where the network does not
            take that smaller one; any size the network accepts runs afterwards.

    Raises:
        ImportError: the ``onnx`` package is missing.
    """
    import onnx  # noqa: F401  (the exporter needs it; fail with its name before any work)

    from resnetdsl.passes.fuse import fuse_for_inference

    model.eval()
    plan = model.plan
    full = input_size or plan.input_size
    h, w = trace_side(full[0]), trace_side(full[1])
    example = torch.zeros(2, plan.in_channels, h, w)  # batch 2: a size-1 dimension would be specialised
    # the norms folded into the convs first, as the exporter's eval pass would fold them (it does so in a slow
    # loop over the graph): the same graph, the same numbers to float rounding, in a fraction of the time
    model = fuse_for_inference(model, channels_last=False)
    names = output_names(plan)
    dynamic = {INPUT_NAME: {0: "batch", 2: "height", 3: "width"}}
    # every output: batch; a feature map's sides too (a classifier's logits have none)
    dynamic |= {n: {0: "batch", 2: "height", 3: "width"} if plan.out_indices else {0: "batch"} for n in names}
    try:
        data = _export(model, example, names, dynamic)
    except RuntimeError:  # too small for this network after all (a map would vanish): trace the size itself
        if (h, w) == tuple(full):
            raise
        data = _export(model, torch.zeros(2, plan.in_channels, *full), names, dynamic)
    atomic_write_bytes(path, data)


def _export(model: torch.nn.Module, example: torch.Tensor, names: list[str], dynamic: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # "legacy exporter" (chosen on purpose, see above) and its notes on constant folding: nothing to act on
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (example,),
            buf,  # type: ignore[arg-type]  # a file object is fine
            input_names=[INPUT_NAME],
            output_names=names,
            dynamic_axes=dynamic,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    return buf.getvalue()
