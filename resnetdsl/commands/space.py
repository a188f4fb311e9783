"""``resnetdsl space``: explore a design space; its arguments and handler (the work is in resnetdsl.space)."""

from __future__ import annotations

import argparse
import sys

from resnetdsl.commands.options import fraction, positive, seed

FIGURES_HELP = "params, macs, gmacs, activations, memory, rf, rf.N, output_stride, depth, stages"
CONSTRAINT_NAMES = ("shared_bottleneck_ratio", "shared_group_width", "widths_nondecreasing", "depths_nondecreasing")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``resnetdsl space``."""
    p.add_argument("space", help="space file (YAML) or YAML text; see docs/design-spaces.md")
    p.add_argument("--count", type=positive, default=None, help="candidates to sample (default: the file's, 1000)")
    p.add_argument("--seed", type=seed, default=None, help="sampling seed (default: the file's, 0)")
    p.add_argument("--jobs", type=positive, default=None, help="worker processes (default: every CPU)")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--limit", type=positive, default=None, help="list (and write) only the first N fit candidates")
    p.add_argument("--front", action="store_true", help="list (and write) only the Pareto front")
    p.add_argument("--write", default=None, metavar="DIR", help="write the listed candidates' specs into DIR")
    p.add_argument("--plot", default=None, metavar="FILE", help="draw MACs against params into FILE (.png, .svg, .pdf)")
    p.add_argument(
        "--budget",
        action="append",
        default=[],
        metavar="EXPR",
        help=f"one more budget line, FIGURE OP VALUE (repeatable): 'gmacs <= 0.4', 'params < 5M'; figures: "
        f"{FIGURES_HELP}",
    )
    p.add_argument(
        "--constrain", action="append", default=[], choices=CONSTRAINT_NAMES, help="an AnyNetX constraint to apply"
    )
    p.add_argument("--target", default=None, metavar="FIGURE=VALUE", help="keep members near it: gmacs=0.4")
    p.add_argument("--tolerance", type=fraction, default=None, help="relative tolerance of --target (default 0.05)")
    p.add_argument("--pareto", default=None, metavar="X,Y", help="the front's two figures (default gmacs,params)")
    p.add_argument("--batch", type=positive, default=None, help="batch size of the memory figure")


def run(args: argparse.Namespace) -> int:
    """Run ``resnetdsl space`` with parsed ``args``; the exit code (problems raise :class:`SpecError`)."""
    from resnetdsl.errors import Mark
    from resnetdsl.io import write_or_print
    from resnetdsl.space.file import adjust, load_space
    from resnetdsl.space.output import chosen, format_result, write_specs
    from resnetdsl.space.search import explore

    space = load_space(args.space)
    target = None
    if args.target is not None:
        figure, _, value = args.target.partition("=")
        target = (f"{figure} = {value}", Mark(f"--target {args.target}"), ())
    pareto = None
    if args.pareto is not None:
        mark = Mark(f"--pareto {args.pareto}")
        pareto = [(t.strip(), mark, ()) for t in args.pareto.split(",")]
    space = adjust(
        space,
        budget=[(t, Mark(f"--budget {t}"), ()) for t in args.budget],
        constraints=args.constrain,
        target=target,
        tolerance=args.tolerance,
        pareto=pareto,
        count=args.count,
        seed=args.seed,
        batch=args.batch,
    )
    result = explore(space, jobs=args.jobs)
    rows = chosen(result, front_only=args.front, limit=args.limit)
    write_or_print(None, format_result(result, args.format, rows))
    if args.write:
        paths = write_specs(result, args.write, rows)
        print(f"wrote {len(paths)} spec{'s' if len(paths) != 1 else ''} into {args.write}", file=sys.stderr)
    if args.plot:
        from resnetdsl.space.picture import plot

        plot(result, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0
