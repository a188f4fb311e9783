"""Built model → ONNX with a dynamic batch and spatial size (torch's dynamo-based exporter).

Needs the ``onnx`` and ``onnxscript`` packages (``pip install resnetdsl[test]`` brings them, with onnxruntime
to check the result); importing this module does not import them.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

import torch

from resnetdsl.build_torch import ResNet
from resnetdsl.io import atomic_write_bytes
from resnetdsl.plan import Plan

INPUT_NAME = "input"
OUTPUT_NAME = "output"


def output_names(plan: Plan) -> list[str]:
    """``output`` for a classifier or one map; ``feature_2``, ``feature_3``, … (by out_index) for a multi-scale
    backbone's list."""
    return [f"feature_{i}" for i in plan.out_indices] if plan.out_indices else [OUTPUT_NAME]


def to_onnx(model: ResNet, path: str | os.PathLike[str], *, input_size: tuple[int, int] | None = None) -> None:
    """Write ``model`` (in eval mode) as an ONNX file whose input ``input`` has a dynamic batch, height and width.

    Args:
        model: a built network; it is put in eval mode.
        path: the ``.onnx`` file to write (atomically).
        input_size: (H, W) of the example input that is traced (default: the plan's input size); any size the
            network accepts runs afterwards.
    """
    model.eval()
    h, w = input_size or model.plan.input_size
    example = torch.zeros(2, model.plan.in_channels, h, w)  # batch 2: a size-1 dimension would be specialised
    dyn = torch.export.Dim.DYNAMIC
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        out = Path(tmp) / "model.onnx"
        torch.onnx.export(
            model,
            (example,),
            str(out),
            input_names=[INPUT_NAME],
            output_names=output_names(model.plan),
            dynamic_shapes={"x": {0: dyn, 2: dyn, 3: dyn}},
            dynamo=True,
            external_data=False,
        )
        data = out.read_bytes()
    atomic_write_bytes(path, data)
