"""The timm-like keyword arguments of :func:`~resnetdsl.build_model` (``num_classes``, ``in_chans``, ``dtype``,
``features_only``): timm's meaning where we borrow timm's name, and every conflict between two of them (or with
the spec or ``overrides``) an error that names both sides, never one silently winning.

Nothing here imports torch at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from resnetdsl.load import Override

DTYPES = ("float32", "float64", "float16", "bfloat16")
"""The parameter dtypes ``dtype=`` takes by name (also as ``torch.float16``, or ``"torch.float16"``)."""


def dtype_arg(dtype: Any) -> torch.dtype | None:
    """``dtype`` as a floating ``torch.dtype``; ``None`` stays ``None``.

    Raises:
        ValueError: a name or object that is no floating torch dtype; the message lists those that are.
    """
    import torch

    if dtype is None or (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        return dtype
    if isinstance(dtype, str) and dtype.removeprefix("torch.") in DTYPES:
        found = getattr(torch, dtype.removeprefix("torch."))
        assert isinstance(found, torch.dtype)
        return found
    words = ", ".join(repr(d) for d in DTYPES)
    raise ValueError(f"dtype must be a floating torch.dtype or one of {words}, got {dtype!r}")


def num_classes_conflicts(num_classes: int | None, features_only: bool, overrides: tuple[Override, ...]) -> None:
    """``num_classes`` beside what would override or ignore it.

    Raises:
        ValueError: ``num_classes`` with ``features_only=True`` (a backbone has no classifier), or with an
            override that sets the head's classes too; both named.
    """
    if num_classes is None:
        return
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 0:
        raise ValueError(f"num_classes must be a whole number >= 0 (0: no classifier), got {num_classes!r}")
    if features_only:
        raise ValueError(
            f"num_classes={num_classes} and features_only=True conflict: a multi-scale backbone has no classifier; "
            "drop one of them"
        )
    for o in overrides:
        if o.path in ("head", "head.num_classes"):
            raise ValueError(
                f"num_classes={num_classes} and {o.label}={o.value!r} both set the head's classes; give one of them"
            )


def no_head_problem(num_classes: int) -> str:
    """The message for ``num_classes`` on a spec without a head."""
    return (
        f"num_classes={num_classes} conflicts with the spec's head: none (a backbone without a classifier); "
        "drop num_classes, or give the spec a head"
    )
