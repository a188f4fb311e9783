"""Arguments that several commands share: the spec, ``--input``, ``--seed`` and ``--set``, and the parsing of
numbers on the command line (:func:`number`)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import TypeVar

SPEC_HELP = "spec file, YAML text or preset name"
INPUT_HELP = "input CxHxW (default: the spec's)"
SEED_HELP = "weight seed (0 to 2**63-1)"
SET_HELP = (
    "set KEY.PATH=VALUE after extends, before checking (repeatable; VALUE is YAML: "
    "--set stages.2.depth=23 --set head.num_classes=10 --set input.size=[96,96])"
)


def input_size(text: str) -> tuple[int, int] | tuple[int, int, int]:
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


N = TypeVar("N", int, float)


def number(text: str, convert: Callable[[str], N], ok: Callable[[N], bool], must: str) -> N:
    """``text`` as a number (``int``: "a whole number", ``float``: "a number") for which ``ok`` holds, else an
    argparse error: ``expected a whole number, got 'x'`` or ``{must}, got 0``."""
    try:
        value = convert(text)
    except ValueError:
        word = "a whole number" if convert is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {word}, got '{text}'") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"{must}, got {text}")
    return value


def seed(text: str) -> int:
    """A weight seed: a whole number from 0 to 2**63-1."""
    return number(text, int, lambda v: 0 <= v < 2**63, "must be from 0 to 2**63-1")


def positive(text: str) -> int:
    """A whole number >= 1 (a count)."""
    return number(text, int, lambda v: v >= 1, "must be >= 1")


def fraction(text: str) -> float:
    """A number strictly between 0 and 1."""
    return number(text, float, lambda v: 0 < v < 1, "must be between 0 and 1")


def add_spec(parser: argparse.ArgumentParser) -> None:
    """The ``SPEC`` argument: a file, YAML text or a preset name."""
    parser.add_argument("spec", help=SPEC_HELP)


def add_input(parser: argparse.ArgumentParser, help: str = INPUT_HELP) -> None:
    """``--input CxHxW``: the input to check and analyse for."""
    parser.add_argument("--input", type=input_size, default=None, help=help)


def add_set(parser: argparse.ArgumentParser, help: str = SET_HELP) -> None:
    """``--set KEY.PATH=VALUE`` (repeatable); :mod:`resnetdsl.cli` applies them to the spec argument."""
    parser.add_argument("--set", action="append", default=[], dest="set", metavar="KEY.PATH=VALUE", help=help)
