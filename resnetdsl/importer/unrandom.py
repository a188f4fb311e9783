"""Building the model an import reads, without drawing its random weights.

The importer reads a model's structure (its modules and their settings) and the one part of its initialisation
that is not random: which layers start at zero (timm's ``zero_init_last``, torchvision's ``zero_init_residual``),
which a spec writes as ``zero_init_residual``. The random draws themselves (kaiming, normal, uniform, truncated
normal and xavier initialisers) are most of the time of building a network on the CPU (0.26 of 0.27 s for timm's
resnet50) and are never read, so :func:`random_init_skipped` stands them down while the model is built: each
fills its tensor with a constant instead (never zero, so no layer looks zero-initialised that is not), and the
initialisers that set constants (``zeros_``, ``ones_``, ``constant_``) run as they are.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

RANDOM: tuple[str, ...] = ("normal_", "uniform_", "trunc_normal_", "kaiming_normal_", "kaiming_uniform_")
RANDOM += ("xavier_normal_", "xavier_uniform_")
"""``torch.nn.init``'s initialisers that draw random numbers."""
FILL = 0.5
"""What a stood-down initialiser writes: a constant that is not zero."""


def _filled(tensor: Any, *args: Any, **kwargs: Any) -> Any:
    import torch

    with torch.no_grad():
        return tensor.fill_(FILL)


@contextlib.contextmanager
def random_init_skipped() -> Iterator[None]:
    """Inside the block, ``torch.nn.init``'s random initialisers fill their tensor with :data:`FILL` (for every
    caller in the process: torch's own layers and the libraries' models look them up there when they run); on
    leaving, they are themselves again."""
    from torch.nn import init

    saved = {name: getattr(init, name) for name in RANDOM}
    try:
        for name in RANDOM:
            setattr(init, name, _filled)
        yield
    finally:
        for name, fn in saved.items():
            setattr(init, name, fn)
