"""The other direction: the spec of a torchvision or timm ResNet instance (``resnetdsl import``).

Structure is read from the modules themselves (types, shapes, strides, groups, paddings), never from the class
name alone, so the usual surgery is understood: a new ``fc``, a 1-channel ``conv1``, ``maxpool = nn.Identity()``,
zero-initialised residual norms. The spec is then lowered and checked against the model: every conv, norm and
pool at the same path with the same settings, every parameter and buffer of the same shape, and every other
module one that computes nothing the spec leaves out (an activation, an identity, a dropout). Anything else is an
:class:`UnsupportedModel` error naming the module's path and type.

Dilated stages (torchvision's ``replace_stride_with_dilation``) become ``stages[i].dilation``.

The package: :mod:`.modules` (one module at a time), :mod:`.resnet` and :mod:`.resnetv2` (the two model
families), :mod:`.verify` (the spec against the model); this module is the API. The command is
:mod:`resnetdsl.commands.import_`.
"""

from __future__ import annotations

import difflib
from typing import Any

from torch import nn

from resnetdsl.importer.modules import UnsupportedModel
from resnetdsl.importer.pretrained import pretrained_data, timm_model
from resnetdsl.importer.resnet import resnet_data
from resnetdsl.importer.resnetv2 import resnetv2_data
from resnetdsl.importer.senet import is_legacy_senet, senet_data
from resnetdsl.importer.verify import _verify
from resnetdsl.spec import Spec

__all__ = ["ModelNotFound", "UnsupportedModel", "model_from_ref", "spec_from_model"]


def spec_from_model(model: nn.Module, *, name: str | None = None) -> Spec:
    """The spec of a torchvision ``ResNet`` or ``RegNet``, or a timm ``ResNet`` / ``ResNetV2`` / ``RegNet`` instance.

    The spec builds a model that loads ``model.state_dict()`` with ``strict=True`` and computes the same function
    (in eval mode).

    Raises:
        UnsupportedModel: a module the spec language cannot express, with its path and type.
    """
    from resnetdsl.check import check

    data = _read(model)
    label = name or getattr(model, "default_cfg", {}).get("architecture") or type(model).__name__.lower()
    data = {"name": label, "description": f"imported from a {type(model).__module__}.{type(model).__name__}", **data}
    cfg = pretrained_data(model)  # family senet (issue 18): timm's pretrained_cfg
    if cfg is not None:
        data["pretrained_cfg"] = cfg
    checked = check(data)
    assert checked.spec is not None
    _verify(checked.plan, model)
    return checked.spec


def _read(model: nn.Module) -> dict[str, Any]:
    """The spec data of ``model``, read by the reader of its family (the dispatch); whatever a reader meets that
    it did not expect (a missing child, a child of another type) is an :class:`UnsupportedModel` naming the
    innermost module it was reading, never a raw Python error."""
    from resnetdsl.importer.regnet import is_regnet, regnet_data

    try:
        if is_regnet(model):  # RegNet (issue 19)
            return regnet_data(model)
        if isinstance(getattr(model, "stages", None), nn.Sequential) and isinstance(
            getattr(model, "stem", None), nn.Module
        ):
            return resnetv2_data(model)
        if isinstance(getattr(model, "conv1", None), nn.Module):
            return resnet_data(model)
        if is_legacy_senet(model):  # family senet (issue 18)
            return senet_data(model)
    except UnsupportedModel:
        raise
    except (AttributeError, TypeError, KeyError, IndexError, ValueError, AssertionError) as exc:
        path, module = _where(model, exc)
        raise UnsupportedModel(path, module, f"not a structure the importer can read ({exc})") from None
    raise UnsupportedModel("", model, "not a torchvision or timm ResNet (no conv1/layer1, no stem/stages)")


def _where(model: nn.Module, exc: BaseException) -> tuple[str, nn.Module]:
    """The innermost submodule of ``model`` that the failing reader held (from the traceback's frames), with its
    path; the model itself when no frame held one."""
    paths = {id(m): p for p, m in model.named_modules()}
    found: tuple[str, nn.Module] = ("", model)
    tb = exc.__traceback__
    while tb is not None:
        frame_locals = tb.tb_frame.f_locals
        held = [frame_locals["self"]] if isinstance(frame_locals.get("self"), nn.Module) else []
        held += [v for v in frame_locals.values() if isinstance(v, nn.Module)]
        for m in held:
            path = paths.get(id(m))
            if path is not None and (path or not found[0]):
                found = (path, m)
                break
        tb = tb.tb_next
    return found


class ModelNotFound(ValueError):
    """A model reference that names no model (``timm:no_such_model``) or no library (``torchvison:resnet50``); the
    message has a did-you-mean from the library's registry."""


_LIBRARIES = ("torchvision", "timm")
_ALIASES = {"torchvision.models": "torchvision", "timm.models": "timm"}


def model_from_ref(ref: str) -> nn.Module:
    """``torchvision:resnet50`` or ``timm:resnet50d`` → the model, built without weights (nothing downloaded).

    Raises:
        ModelNotFound: the reference names no library or no model of it (with a did-you-mean).
    """
    lib, sep, arch = ref.partition(":")
    lib = "torchvision" if lib == "tv" else lib  # tv:regnet_y_400mf, short for torchvision
    if not sep or lib not in _LIBRARIES or not arch:
        close = [_ALIASES[lib]] if lib in _ALIASES else difflib.get_close_matches(lib, _LIBRARIES, n=1, cutoff=0.5)
        hint = f" (did you mean '{close[0]}:{arch}'?)" if close and sep and arch else ""
        raise ModelNotFound(f"expected torchvision:NAME or timm:NAME, got '{ref}'{hint}")
    base = arch.partition(".")[0] if lib == "timm" else arch  # timm:resnet50.a1_in1k: the tag is checked below
    if not _registered(lib, base):
        close = difflib.get_close_matches(base, _registry(lib), n=3, cutoff=0.6)
        listing = "torchvision.models.list_models()" if lib == "torchvision" else "timm.list_models()"
        hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else f" ({listing} lists them)"
        raise ModelNotFound(f"{lib} has no model '{base}'{hint}")
    if lib == "torchvision":
        import torchvision

        return torchvision.models.get_model(arch, weights=None)  # type: ignore[no-any-return]
    try:
        model: nn.Module = timm_model(arch)  # a tagged name too (family senet, issue 18)
    except ValueError as exc:  # no such tag: the message lists the model's tags
        raise ModelNotFound(str(exc)) from None
    return model


def _registered(lib: str, name: str) -> bool:
    """Whether ``lib`` can build a model called ``name``: timm's registry is looked up, not listed (1,371 names,
    sorted at each listing); torchvision's short list is read."""
    if lib == "timm":
        import timm

        return bool(timm.is_model(name))
    return name in _registry(lib)


def _registry(lib: str) -> list[str]:
    """Every model name ``lib`` can build."""
    if lib == "torchvision":
        import torchvision

        return list(torchvision.models.list_models())
    import timm

    return list(timm.list_models())
