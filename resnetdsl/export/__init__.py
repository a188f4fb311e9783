"""Exporters: standalone PyTorch source (:mod:`.python`, no torch needed to write it) and ONNX (:mod:`.onnx`);
the model they write, with ``--weights`` (:mod:`.checkpoint`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

FORMATS = ("python", "onnx")


def cli_main(args: argparse.Namespace) -> int:
    """``resnetdsl export SPEC --format python|onnx [-o FILE] [--seed N] [--weights FILE]``; warnings go to
    stderr."""
    from resnetdsl.check import check
    from resnetdsl.cli import print_issues

    checked = check(args.spec, input_size=args.input, input_name="--input")
    print_issues(checked.warnings)
    weights = getattr(args, "weights", None)
    if args.output in (None, "-") and (args.format == "onnx" or weights):
        print(f"resnetdsl: error: {'--weights' if weights else '--format onnx'} needs -o FILE", file=sys.stderr)
        return 2
    model = None
    if args.format == "onnx" or weights:
        from resnetdsl.export.checkpoint import CheckpointError, model_to_export

        try:
            model = model_to_export(checked.plan, seed=args.seed, weights=weights)
        except CheckpointError as exc:
            print(f"resnetdsl: error: --weights: {exc}", file=sys.stderr)
            return 1
    if args.format == "python":
        from resnetdsl.export.python import to_python

        text = to_python(checked.plan)
        if args.output in (None, "-"):
            sys.stdout.write(text)
            return 0
        from resnetdsl.io import atomic_write_text

        if model is not None:  # the weights first: a failure leaves no source without them
            from resnetdsl.export.checkpoint import state_path, write_state

            if state_path(args.output) == Path(args.output):
                print(
                    "resnetdsl: error: with --weights, -o names the .py file (the weights go beside it, .pt)",
                    file=sys.stderr,
                )
                return 2
            write_state(model, state_path(args.output))
            print(f"wrote {state_path(args.output)}", file=sys.stderr)
        atomic_write_text(args.output, text)
    else:
        from resnetdsl.export.onnx import to_onnx

        _, h, w = checked.analysis.input_shape
        assert model is not None
        try:
            to_onnx(model, args.output, input_size=(h, w))
        except ImportError as exc:
            print(f"resnetdsl: error: ONNX export needs the onnx package ({exc})", file=sys.stderr)
            return 1
    print(f"wrote {args.output}", file=sys.stderr)
    return 0
