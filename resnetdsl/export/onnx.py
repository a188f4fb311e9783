"""Built model → ONNX with a dynamic batch and spatial size (torch's TorchScript-based exporter).

Why that exporter: it traces the eval model once and writes the graph in well under a second for a ResNet-50
(the dynamo-based one, ``dynamo=True``, took about 30 s here for the same file), and the network has no
data-dependent control flow for dynamo to capture. What the trace could specialise does not occur in the
built model: its shape arithmetic (padding shortcuts, ECA's reshape, the stride-1 'same' average pool) does
not depend on the input size, and the tests run the file at other batch sizes and sides than the traced one.

Needs the ``onnx`` package (``pip install resnetdsl[test]`` brings it, with onnxruntime to check the result);
importing this module does not import it.
"""

from __future__ import annotations

import io
import os
import warnings

import torch

from resnetdsl import plan as P
from resnetdsl.build_torch import ResNet
from resnetdsl.io import atomic_write_bytes

INPUT_NAME = "input"
OUTPUT_NAME = "output"
OPSET = 18


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
        input_size: (H, W) of the example input that is traced (default: the plan's input size); any size the
            network accepts runs afterwards.

    Raises:
        ImportError: the ``onnx`` package is missing.
    """
    import onnx  # noqa: F401  (the exporter needs it; fail with its name before any work)

    model.eval()
    plan = model.plan
    h, w = input_size or plan.input_size
    example = torch.zeros(2, plan.in_channels, h, w)  # batch 2: a size-1 dimension would be specialised
    names = output_names(plan)
    dynamic = {INPUT_NAME: {0: "batch", 2: "height", 3: "width"}}
    # every output: batch; a feature map's sides too (a classifier's logits have none)
    dynamic |= {n: {0: "batch", 2: "height", 3: "width"} if plan.out_indices else {0: "batch"} for n in names}
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
    atomic_write_bytes(path, buf.getvalue())
