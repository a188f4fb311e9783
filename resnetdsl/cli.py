"""Command line: parse arguments, call the API, format the result. No logic of its own.

Each subcommand's work lives in its module (imported lazily, so ``validate``/``summary``/``render`` never
import torch): ``summary`` → :mod:`resnetdsl.summary`, ``render`` → :mod:`resnetdsl.render`,
``validate``/``schema`` → :mod:`resnetdsl.validate`, ``export`` → :mod:`resnetdsl.export`. Each exposes
``cli_main(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from collections.abc import Iterable, Sequence

from resnetdsl import TorchMissing
from resnetdsl.errors import Issue, SpecError
from resnetdsl.io import OutputError

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def parse_input(text: str) -> tuple[int, int] | tuple[int, int, int]:
    """``3x224x224`` → (C, H, W); ``224x224`` or ``224`` → (H, W), keeping the spec's channels."""
    parts = re.split(r"[x×,]", text.strip().lower())
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected CxHxW such as 3x224x224, got '{text}'") from None
    if len(nums) == 1:
        nums = [nums[0], nums[0]]
    if len(nums) not in (2, 3) or min(nums) < 1:
        raise argparse.ArgumentTypeError(f"expected CxHxW such as 3x224x224, got '{text}'")
    if (len(nums) == 3 and nums[0] > 4096) or max(nums[-2:]) > 65536:
        raise argparse.ArgumentTypeError(f"at most 4096 channels and 65536 pixels a side, got '{text}'")
    return (nums[0], nums[1]) if len(nums) == 2 else (nums[0], nums[1], nums[2])


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be from 0 to 2**63-1, got {text}")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


SET_HELP = (
    "set KEY.PATH=VALUE after extends, before checking (repeatable; VALUE is YAML: "
    "--set stages.2.depth=23 --set head.num_classes=10 --set input.size=[96,96])"
)


def _add_set(parser: argparse.ArgumentParser, help: str = SET_HELP) -> None:
    parser.add_argument("--set", action="append", default=[], dest="set", metavar="KEY.PATH=VALUE", help=help)


def make_parser() -> argparse.ArgumentParser:
    from resnetdsl import __version__

    p = _Parser(prog="resnetdsl", description="Describe a ResNet in YAML; build, analyse, draw and check it.")
    p.add_argument("--version", action="version", version=f"resnetdsl {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    b = sub.add_parser("build", help="build the torch model and print its parameter count and output shape")
    b.add_argument("spec", help="spec file, YAML text or preset name")
    b.add_argument("--input", type=parse_input, default=None, help="input CxHxW (default: the spec's)")
    b.add_argument("--seed", type=_seed, default=None, help="weight seed (0 to 2**63-1)")
    b.add_argument("-o", "--output", default=None, help="save the state_dict to this .pt file")
    b.add_argument("--print", action="store_true", dest="print_model", help="print the module tree")
    b.add_argument(
        "--weights",
        default=None,
        help="load a checkpoint (.pt/.pth state dict or .safetensors) into the model and print the report",
    )
    b.add_argument(
        "--strict", action="store_true", help="with --weights: fail unless every tensor loads (or adapts) exactly"
    )
    _add_set(b)
    b.set_defaults(handler=_build)

    s = sub.add_parser("summary", help="shapes, parameters and MACs from the spec alone (no torch)")
    s.add_argument("spec", help="spec file, YAML text or preset name")
    s.add_argument("--input", type=parse_input, default=None, help="input CxHxW (default: the spec's)")
    s.add_argument("--depth", choices=("stage", "block", "layer"), default="block")
    s.add_argument("--format", choices=("table", "json", "markdown", "csv"), default="table")
    _add_set(s)
    s.add_argument(
        "--batch",
        type=int,
        default=None,
        help="table only: also the memory a training step at this batch needs (activations kept for backward, "
        "per stage, float32 and bfloat16; parameters, gradients, SGD and Adam state)",
    )
    s.set_defaults(handler=_delegate("resnetdsl.summary"))

    r = sub.add_parser("render", help="draw the network with Graphviz")
    r.add_argument("spec", help="spec file, YAML text or preset name")
    r.add_argument("-o", "--output", default=None, help="output file (format from its extension)")
    r.add_argument(
        "--format",
        choices=("svg", "png", "pdf", "dot"),
        default=None,
        help="output format (default: from -o's extension, else svg); png is drawn at 96 dpi, shrunk to fit 32,000 px "
        "a side down to half size, and refused beyond (use svg or pdf, or --collapse)",
    )
    r.add_argument("--detail", choices=("stage", "block", "layer"), default="block")
    r.add_argument(
        "--collapse",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="draw runs of identical blocks once, as ×N, at block and layer level (default: only in stages deeper "
        "than 8 blocks)",
    )
    r.add_argument("--rankdir", choices=("TB", "LR"), default="TB")
    r.add_argument("--input", type=parse_input, default=None, help="input CxHxW (default: the spec's)")
    _add_set(r)
    r.set_defaults(handler=_delegate("resnetdsl.render"))

    e = sub.add_parser("export", help="write the network as standalone PyTorch source or as ONNX")
    e.add_argument("spec", help="spec file, YAML text or preset name")
    e.add_argument("--format", choices=("python", "onnx"), required=True)
    e.add_argument("-o", "--output", default=None, help="output file (python: default stdout)")
    e.add_argument("--seed", type=_seed, default=None, help="onnx: weight seed (0 to 2**63-1)")
    e.add_argument("--input", type=parse_input, default=None, help="onnx: traced input CxHxW (default: the spec's)")
    e.add_argument("--weights", default=None, help="checkpoint to load strictly (python: written beside -o, as .pt)")
    _add_set(e)
    e.set_defaults(handler=_delegate("resnetdsl.export"))

    v = sub.add_parser("validate", help="check spec files; every problem with file:line:col")
    v.add_argument("paths", nargs="+", help="files, directories (searched for *.yaml, *.yml) or globs")
    v.add_argument(
        "--format",
        choices=("text", "json", "github"),
        default=None,
        help="output format (default: github under GitHub Actions, else text)",
    )
    _add_set(v, SET_HELP.replace("after extends", "in every spec, after extends"))
    v.set_defaults(handler=_delegate("resnetdsl.validate"))

    sc = sub.add_parser("schema", help="print or write the JSON Schema of the spec language")
    sc.add_argument("-o", "--output", default=None, help="write to this file instead of stdout")
    sc.set_defaults(handler=_delegate("resnetdsl.validate", "schema_cli_main"))

    pr = sub.add_parser("presets", help="the bundled presets: description, parameters, GMACs and input size")
    pr.add_argument("--names", action="store_true", help="only the names, one a line")
    pr.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    pr.set_defaults(handler=_delegate("resnetdsl.show", "presets_cli_main"))

    sh = sub.add_parser("show", help="the fully resolved spec (extends and --set applied, every default explicit)")
    sh.add_argument("spec", help="spec file, YAML text or preset name")
    sh.add_argument("-o", "--output", default=None, help="write to this file instead of stdout")
    _add_set(sh)
    sh.set_defaults(handler=_delegate("resnetdsl.show"))

    d = sub.add_parser("diff", help="what differs between two specs: keys, per-stage numbers, weight compatibility")
    d.add_argument("a", help="spec A (the weights' source): file, YAML text or preset name")
    d.add_argument("b", help="spec B (the target)")
    d.add_argument("--input", type=parse_input, default=None, help="input CxHxW for both (default: each spec's)")
    d.add_argument("--tensors", action="store_true", help="list every tensor, also those that load as they are")
    d.add_argument("--format", choices=("text", "json"), default="text")
    _add_set(d, SET_HELP.replace("after extends", "on spec B, after extends"))
    d.set_defaults(handler=_delegate("resnetdsl.compare"))

    im = sub.add_parser("import", help="write the spec of a torchvision or timm ResNet (built without weights)")
    im.add_argument("model", help="torchvision:NAME or timm:NAME, e.g. torchvision:resnet50, timm:resnet50d")
    im.add_argument("-o", "--output", default=None, help="write to this YAML file instead of stdout")
    im.add_argument("--name", default=None, help="the spec's name (default: the model's)")
    im.set_defaults(handler=_delegate("resnetdsl.importer"))
    return p


def _delegate(module: str, func: str = "cli_main"):  # type: ignore[no-untyped-def]
    def run(args: argparse.Namespace) -> int:
        mod = importlib.import_module(module)
        result: int = getattr(mod, func)(args)
        return result

    return run


def _build(args: argparse.Namespace) -> int:
    from resnetdsl import build_model, require_torch
    from resnetdsl.check import check

    checked = check(args.spec, input_size=args.input, input_name="--input")  # problems fail here, not in torch
    require_torch()
    print_issues(checked.warnings)
    plan = checked.plan
    c, h, w = checked.analysis.input_shape
    model = build_model(plan, seed=args.seed)
    import torch

    if args.weights:
        from resnetdsl.weights import WeightError, load_weights

        try:
            print(load_weights(model, args.weights, strict=args.strict).format())
        except WeightError as exc:
            print(f"resnetdsl: error: --strict: the checkpoint does not fit exactly\n{exc}", file=sys.stderr)
            return EXIT_INVALID
    model.eval()
    with torch.no_grad():
        out = model(torch.zeros(1, c, h, w))
    n = sum(p.numel() for p in model.parameters())
    if args.print_model:
        print(model)
    print(f"{plan.name}: {n:,} parameters; input 1×{c}×{h}×{w} → output {'×'.join(map(str, out.shape))}")
    if args.output:
        import io

        from resnetdsl.io import atomic_write_bytes

        buf = io.BytesIO()
        torch.save(model.state_dict(), buf)
        atomic_write_bytes(args.output, buf.getvalue())
        print(f"wrote {args.output}")
    return EXIT_OK


def _overrides(args: argparse.Namespace) -> None:
    """``--set`` strings → overrides, wrapped around the spec argument so that every command's checking path
    applies them (``args.overrides`` for commands that check several specs)."""
    sets = getattr(args, "set", None)
    if not sets:
        return
    from resnetdsl.load import Overridden, parse_set

    found: list[Issue] = []
    items = []
    for text in sets:
        try:
            items.append(parse_set(text))
        except SpecError as exc:
            found += exc.issues
    if found:
        raise SpecError(found)
    args.overrides = tuple(items)
    for attr in ("spec", "b"):
        if hasattr(args, attr):
            setattr(args, attr, Overridden(getattr(args, attr), args.overrides))


def print_issues(issues: Iterable[Issue]) -> None:
    """Every issue to stderr as ``resnetdsl validate`` writes it: ``file:line:col: severity: path: message``."""
    for issue in issues:
        print(issue.format(severity=True), file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``resnetdsl`` command. Returns the exit code."""
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        _overrides(args)
        code: int = args.handler(args)
        return code
    except SpecError as exc:
        print_issues(exc.issues)
        return EXIT_INVALID
    except OutputError as exc:
        print(f"resnetdsl: error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except TorchMissing as exc:
        print(f"resnetdsl: error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a bug, or an environment problem: one line, not a traceback
        if os.environ.get("RESNETDSL_DEBUG"):
            raise
        print(f"resnetdsl: error: {type(exc).__name__}: {exc} (set RESNETDSL_DEBUG=1 for details)", file=sys.stderr)
        return EXIT_INVALID


if __name__ == "__main__":
    sys.exit(main())
