"""The house stays legible (issue 16): no module of the package over 500 lines, no function over 80.

Both limits are read from the source (a deterministic count, not a style opinion); a function's length runs from
its ``def`` (decorators included) to its last line, docstring included. :data:`EXCEPTIONS` would list a module or
function allowed past a limit, with the reason; it is empty, and a test keeps each entry honest (it must still
exceed the limit, or it goes).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "resnetdsl"
MODULE_LINES = 500
FUNCTION_LINES = 80
EXCEPTIONS: dict[str, str] = {}
"""``path`` (a module) or ``path:qualified.name`` (a function) → why it may exceed its limit."""


def _modules() -> Iterator[tuple[str, str]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE).as_posix(), path.read_text(encoding="utf-8")


def _functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, int]]:
    """(qualified name, lines) of every function and method, nested ones included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            assert node.end_lineno is not None
            yield f"{prefix}{node.name}", node.end_lineno - start + 1
            yield from _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")


def _too_long() -> dict[str, int]:
    found: dict[str, int] = {}
    for rel, text in _modules():
        lines = len(text.splitlines())
        if lines > MODULE_LINES:
            found[rel] = lines
        for name, n in _functions(ast.parse(text)):
            if n > FUNCTION_LINES:
                found[f"{rel}:{name}"] = n
    return found


def test_no_module_or_function_is_too_long() -> None:
    found = _too_long()
    largest = max((len(text.splitlines()), rel) for rel, text in _modules())
    print(f"\nlargest module: {largest[1]} ({largest[0]} lines); past the limits: {found}")
    assert {k: v for k, v in found.items() if k not in EXCEPTIONS} == {}, (
        f"modules over {MODULE_LINES} lines or functions over {FUNCTION_LINES} (split them by concern): {found}"
    )


def test_every_exception_is_still_needed() -> None:
    assert set(EXCEPTIONS) <= set(_too_long()), "an exception no longer exceeds its limit: remove it"


def test_the_counter_sees_a_long_function() -> None:
    body = "\n".join(f"        x{i} = {i}" for i in range(FUNCTION_LINES))
    tree = ast.parse(f"class A:\n    @staticmethod\n    def f():\n{body}\n\n    def g(self):\n        pass\n")
    assert dict(_functions(tree)) == {"A.f": FUNCTION_LINES + 2, "A.g": 2}
