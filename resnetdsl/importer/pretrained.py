"""timm's ``pretrained_cfg`` of a model as the spec's ``pretrained_cfg`` (family senet, issue 18), and tagged
model names (``timm:resnet50.a1_in1k``): the weights' tag chooses the cfg and the head's class count."""

from __future__ import annotations

from typing import Any

KEYS = ("tag", "mean", "std", "input_size", "test_input_size", "crop_pct", "interpolation", "first_conv", "classifier")
"""The keys of timm's pretrained_cfg the spec keeps (the rest say where weights live, never read here)."""


def pretrained_data(model: Any) -> dict[str, Any] | None:
    """The spec's ``pretrained_cfg`` from ``model.pretrained_cfg`` (timm's), its values as the spec types them;
    ``None`` for a model without one."""
    cfg = getattr(model, "pretrained_cfg", None)
    if not isinstance(cfg, dict):
        return None
    out: dict[str, Any] = {}
    for key in KEYS:
        value = cfg.get(key)
        if isinstance(value, tuple | list):
            if key in ("mean", "std"):
                value = [float(v) for v in value]
            elif all(isinstance(v, int) for v in value) and len(value) == 3:
                value = list(value)
            else:
                continue  # a shape the spec cannot say (several first convs): left out
        elif key == "crop_pct" and isinstance(value, int | float):
            value = float(value)
        elif not isinstance(value, str) or not value:
            continue
        out[key] = value
    if out.get("interpolation") not in (None, "bilinear", "bicubic", "nearest", "lanczos"):
        out.pop("interpolation")
    return out or None


def timm_model(arch: str) -> Any:
    """``arch`` (``resnet50`` or ``resnet50.a1_in1k``) built by timm without weights; a tag's cfg sets the head's
    classes (``….in21k``: 21843), as timm does when it loads those weights.

    Raises:
        ValueError: timm has no model, or no such tag for it.
    """
    import timm

    base, dot, tag = arch.partition(".")
    if not timm.is_model(base):
        raise ValueError(f"timm has no model '{base}'")
    if dot and arch not in timm.list_pretrained(arch):
        tags = ", ".join(n.partition(".")[2] for n in timm.list_pretrained(f"{base}.*")) or "none"
        raise ValueError(f"timm has no weights '{tag}' for '{base}' (its tags: {tags})")
    return timm.create_model(arch, pretrained=False)
