"""The model an export writes: built from the plan, with a trained checkpoint loaded strictly (``--weights``),
and for the Python source, whose file holds no weights, the state dict written beside it."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from resnetdsl.plan import Plan


class CheckpointError(ValueError):
    """The checkpoint given to an export cannot be read, or does not fit the network exactly."""


def model_to_export(plan: Plan, *, seed: int | None = None, weights: str | os.PathLike[str] | None = None) -> Any:
    """The eval-mode model of ``plan``: its weights from the checkpoint file ``weights`` (a ``.pt``/``.pth``
    state dict or ``.safetensors``, names mapped as :func:`resnetdsl.load_weights` maps them), else from
    ``seed``.

    Raises:
        CheckpointError: no such file, not a state dict, or it does not fit the network exactly (every tensor
            of the model loaded or adapted, every tensor of the checkpoint used: then the message holds the load
            report).
    """
    from resnetdsl import build_model

    model = build_model(plan, seed=seed)
    if weights is not None:
        from resnetdsl.weights import WeightError, load_weights

        try:
            load_weights(model, weights, strict=True)
        except WeightError as exc:
            raise CheckpointError(f"the checkpoint does not fit the network exactly\n{exc}") from None
        except (OSError, ValueError, RuntimeError) as exc:  # missing, unreadable, not a state dict
            raise CheckpointError(str(exc)) from None
    return model.eval()


def state_path(source: str | os.PathLike[str]) -> Path:
    """Where the weights of exported source go: beside it, the same name with ``.pt`` (``model.py`` →
    ``model.pt``)."""
    return Path(source).with_suffix(".pt")


def write_state(model: Any, path: str | os.PathLike[str]) -> None:
    """``torch.save(model.state_dict(), path)``, atomically: the keys the exported class has, so
    ``ExportedNet().load_state_dict(torch.load(path))`` loads it strictly."""
    import torch

    from resnetdsl.io import atomic_write_bytes

    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    atomic_write_bytes(path, buf.getvalue())
