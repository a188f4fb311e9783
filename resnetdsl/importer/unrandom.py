"""Building the model an import reads, without drawing its random weights.

The importer reads a model's structure (its modules and their settings) and the one part of its initialisation
that is not random: which layers start at zero (timm's ``zero_init_last``, torchvision's ``zero_init_residual``),
which a spec writes as ``zero_init_residual``. The random draws themselves (kaiming, normal, uniform, truncated
normal and xavier initialisers) are most of the time of building a network on the CPU, and are never read: a
process's first timm resnet50 took 0.3–0.7 s here, 0.025 s without them. :func:`random_init_skipped` stands
them down while the model is built; the initialisers that set constants (``zeros_``, ``ones_``, ``constant_``)
run as they are.

A stood-down initialiser writes one element of its tensor, :data:`FILL`, and leaves the rest of the memory as
``torch.empty`` gave it: so no layer reads as zero-initialised that is not (fresh memory from the system reads as
zeros), and the other pages are never touched: writing them all costs about as much as the draws (page faults:
0.15 s for resnet50's 100 MB).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

RANDOM: tuple[str, ...] = ("normal_", "uniform_", "trunc_normal_", "kaiming_normal_", "kaiming_uniform_")
RANDOM += ("xavier_normal_", "xavier_uniform_")
"""``torch.nn.init``'s initialisers that draw random numbers."""
FILL = 0.5
"""What a stood-down initialiser writes into the first element of its tensor: not zero."""


def _marked(tensor: Any, *args: Any, **kwargs: Any) -> Any:
    import torch

    with torch.no_grad():
        if tensor.is_contiguous() and tensor.numel():
            tensor.view(-1)[0] = FILL
        else:  # a view into other memory: every element, so that none reads as zero-initialised
            tensor.fill_(FILL)
    return tensor


@contextlib.contextmanager
def random_init_skipped() -> Iterator[None]:
    """Inside the block, ``torch.nn.init``'s random initialisers only mark their tensor with :data:`FILL` (for every
    caller in the process: torch's own layers and the libraries' models look them up there when they run); on
    leaving, they are themselves again."""
    from torch.nn import init

    saved = {name: getattr(init, name) for name in RANDOM}
    try:
        for name in RANDOM:
            setattr(init, name, _marked)
        yield
    finally:
        for name, fn in saved.items():
            setattr(init, name, fn)
