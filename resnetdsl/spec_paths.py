"""Which model of the spec language validates the value at a path of a spec (for did-you-means and messages)."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel

from resnetdsl.errors import Path
from resnetdsl.spec import Spec


def model_at(path: Path) -> Any:
    """The model class that validates the value at ``path`` (``None`` where it is no model)."""
    model: Any = Spec
    for part in path:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", None)
        field = fields.get(part) if fields is not None else None
        if field is None:
            return None
        ann = field.annotation
        model = _first_model(ann)
    return model


def _first_model(ann: Any) -> Any:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in typing.get_args(ann):
        found = _first_model(arg)
        if found is not None:
            return found
    return None
