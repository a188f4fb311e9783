"""``resnetdsl import``: the spec of a torchvision or timm ResNet, built without weights (imports torch)."""

from __future__ import annotations

import argparse
import sys

from resnetdsl.commands import EXIT_INVALID, EXIT_OK, EXIT_USAGE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="torchvision:NAME or timm:NAME, e.g. torchvision:resnet50, timm:resnet50d")
    parser.add_argument("-o", "--output", default=None, help="write to this YAML file instead of stdout")
    parser.add_argument("--name", default=None, help="the spec's name (default: the model's)")


def run(args: argparse.Namespace) -> int:
    from resnetdsl.importer import ModelNotFound, UnsupportedModel, model_from_ref, spec_from_model
    from resnetdsl.importer.unrandom import random_init_skipped
    from resnetdsl.io import write_or_print
    from resnetdsl.show import resolved, to_yaml

    try:
        with random_init_skipped():  # the spec is read from the structure: the random draws would go unread
            model = model_from_ref(args.model)
    except ModelNotFound as exc:  # the argument names nothing: a usage error
        print(f"resnetdsl import: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        spec = spec_from_model(model, name=args.name or args.model.partition(":")[2])
    except UnsupportedModel as exc:
        print(f"resnetdsl: error: cannot import {args.model}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    write_or_print(args.output, to_yaml(resolved(spec)))
    return EXIT_OK
