"""Field descriptions from the docstrings written under pydantic fields (the spec's documentation, read once).

:mod:`resnetdsl.spec` and :mod:`resnetdsl.regnet` :func:`register` their models once they are defined; the
models' hook that makes their first schema calls :func:`describe_pending`, which sets the descriptions the JSON
Schema carries. So a command that only checks a spec, with its validator's schema cached
(:mod:`resnetdsl.schema_cache`), never parses the source.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, GetCoreSchemaHandler

if TYPE_CHECKING:
    from pydantic_core import CoreSchema

_pending: list[tuple[str, type[BaseModel]]] = []


def register(module_name: str, base: type[BaseModel]) -> None:
    """Describe the models of ``module_name`` (the subclasses of ``base`` it defines) before any schema is made."""
    _pending.append((module_name, base))


def describe_pending() -> None:
    """Describe the fields of every model registered so far, once (before a model's first schema, which a
    nested model's later schemas reuse)."""
    while _pending:
        describe_fields(*_pending.pop(0))


class DescribedModel(BaseModel):
    """A base of models whose fields are described from their docstrings: the hook pydantic calls before it makes
    a model's schema describes every registered model first."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: type[BaseModel], handler: GetCoreSchemaHandler, /) -> CoreSchema:
        describe_pending()
        return handler(source)


def describe_fields(module_name: str, base: type[BaseModel]) -> None:
    """Set each field's description to the docstring under it, as pydantic's ``use_attribute_docstrings`` does,
    from one parse of the module's source (pydantic walks the frames and parses each class twice, at import).

    As there, a field a class annotates takes the docstring written under it there, and one it inherits keeps
    its base's description; an explicit ``Field(description=...)`` wins. Without the source (a frozen
    build), descriptions stay unset, as pydantic leaves them.
    """
    import ast
    import inspect
    import sys

    module = sys.modules[module_name]
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError, SyntaxError):  # pragma: no cover
        return
    docs: dict[str, dict[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            found = docs[node.name] = {}
            for stmt, after in zip(node.body, node.body[1:], strict=False):
                if (
                    isinstance(stmt, ast.AnnAssign)
                    and isinstance(stmt.target, ast.Name)
                    and isinstance(after, ast.Expr)
                    and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)
                ):
                    found[stmt.target.id] = inspect.cleandoc(after.value.value)
    models = [m for m in vars(module).values() if isinstance(m, type) and issubclass(m, base)]
    for model in sorted(models, key=lambda m: len(m.__mro__)):  # bases before the classes that extend them
        own_docs = docs.get(model.__name__, {})
        annotated = inspect.get_annotations(model)
        for name, info in model.model_fields.items():
            if info.description is not None:
                continue
            if name in own_docs:
                info.description = own_docs[name]
            elif name not in annotated:
                inherited = next(b for b in model.__mro__[1:] if issubclass(b, base) and name in b.model_fields)
                info.description = inherited.model_fields[name].description
