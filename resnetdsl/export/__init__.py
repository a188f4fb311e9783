"""Exporters: standalone PyTorch source (:mod:`.python`, no torch needed to write it) and ONNX (:mod:`.onnx`)."""

from __future__ import annotations

import argparse
import sys

FORMATS = ("python", "onnx")


def cli_main(args: argparse.Namespace) -> int:
    """``resnetdsl export SPEC --format python|onnx [-o FILE] [--seed N]``; warnings go to stderr."""
    from resnetdsl.check import check
    from resnetdsl.cli import print_issues

    checked = check(args.spec, input_size=args.input, input_name="--input")
    print_issues(checked.warnings)
    if args.format == "python":
        from resnetdsl.export.python import to_python

        text = to_python(checked.plan)
        if args.output in (None, "-"):
            sys.stdout.write(text)
            return 0
        from resnetdsl.io import atomic_write_text

        atomic_write_text(args.output, text)
    else:
        if args.output in (None, "-"):
            print("resnetdsl: error: --format onnx needs -o FILE", file=sys.stderr)
            return 2
        from resnetdsl import build_model
        from resnetdsl.export.onnx import to_onnx

        _, h, w = checked.analysis.input_shape
        try:
            to_onnx(build_model(checked.plan, seed=args.seed), args.output, input_size=(h, w))
        except ImportError as exc:
            print(f"resnetdsl: error: ONNX export needs the onnx and onnxscript packages ({exc})", file=sys.stderr)
            return 1
    print(f"wrote {args.output}", file=sys.stderr)
    return 0
