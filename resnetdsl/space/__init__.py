"""Design spaces (Radosavovic et al. 2020): a base spec, the values some of its keys take, and a budget; every
member enumerated or sampled, checked through the one checking path, measured statically, and the members that
fit listed with their Pareto front.

    from resnetdsl.space import explore, load_space
    result = explore(load_space("space.yaml"))

:mod:`.file` reads a space file, :mod:`.variables` the values of a key, :mod:`.figures` the figures and the
conditions on them, :mod:`.search` the exploration, :mod:`.output` what is printed and written, :mod:`.picture`
the picture; :mod:`resnetdsl.commands.space` is the ``resnetdsl space`` command. ``import resnetdsl`` does not
import this package, and importing it loads each part only when one of its names is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from resnetdsl.space.figures import CONSTRAINTS, Condition, Objective
    from resnetdsl.space.file import Space, adjust, load_space
    from resnetdsl.space.output import format_result, write_specs
    from resnetdsl.space.picture import plot
    from resnetdsl.space.search import Record, Result, explore, pareto_front
    from resnetdsl.space.variables import Values, Variable

_WHERE = {
    "CONSTRAINTS": "figures",
    "Condition": "figures",
    "Objective": "figures",
    "Space": "file",
    "adjust": "file",
    "load_space": "file",
    "format_result": "output",
    "write_specs": "output",
    "plot": "picture",
    "Record": "search",
    "Result": "search",
    "explore": "search",
    "pareto_front": "search",
    "Values": "variables",
    "Variable": "variables",
}
__all__ = [
    "CONSTRAINTS",
    "Condition",
    "Objective",
    "Record",
    "Result",
    "Space",
    "Values",
    "Variable",
    "adjust",
    "explore",
    "format_result",
    "load_space",
    "pareto_front",
    "plot",
    "write_specs",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"resnetdsl.space.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'resnetdsl.space' has no attribute {name!r}")
