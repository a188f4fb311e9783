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

from torch import nn

from resnetdsl.importer.modules import UnsupportedModel
from resnetdsl.importer.pretrained import pretrained_data, timm_model
from resnetdsl.importer.resnet import resnet_data
from resnetdsl.importer.resnetv2 import resnetv2_data
from resnetdsl.importer.senet import is_legacy_senet, senet_data
from resnetdsl.importer.verify import _verify
from resnetdsl.spec import Spec

__all__ = ["UnsupportedModel", "model_from_ref", "spec_from_model"]


def spec_from_model(model: nn.Module, *, name: str | None = None) -> Spec:
    """The spec of a torchvision ``ResNet`` or a timm ``ResNet`` / ``ResNetV2`` instance.

    The spec builds a model that loads ``model.state_dict()`` with ``strict=True`` and computes the same function
    (in eval mode).

    Raises:
        UnsupportedModel: a module the spec language cannot express, with its path and type.
    """
    from resnetdsl.check import check

    if isinstance(getattr(model, "stages", None), nn.Sequential) and isinstance(
        getattr(model, "stem", None), nn.Module
    ):
        data = resnetv2_data(model)
    elif isinstance(getattr(model, "conv1", None), nn.Module):
        data = resnet_data(model)
    elif is_legacy_senet(model):  # family senet (issue 18)
        data = senet_data(model)
    else:
        raise UnsupportedModel("", model, "not a torchvision or timm ResNet (no conv1/layer1, no stem/stages)")
    label = name or getattr(model, "default_cfg", {}).get("architecture") or type(model).__name__.lower()
    data = {"name": label, "description": f"imported from a {type(model).__module__}.{type(model).__name__}", **data}
    cfg = pretrained_data(model)  # family senet (issue 18): timm's pretrained_cfg
    if cfg is not None:
        data["pretrained_cfg"] = cfg
    checked = check(data)
    assert checked.spec is not None
    _verify(checked.plan, model)
    return checked.spec


def model_from_ref(ref: str) -> nn.Module:
    """``torchvision:resnet50`` or ``timm:resnet50d`` → the model, built without weights (nothing downloaded)."""
    lib, sep, arch = ref.partition(":")
    if not sep or lib not in ("torchvision", "timm") or not arch:
        raise ValueError(f"expected torchvision:NAME or timm:NAME, got '{ref}'")
    if lib == "torchvision":
        import torchvision

        try:
            return torchvision.models.get_model(arch, weights=None)  # type: ignore[no-any-return]
        except ValueError:
            raise ValueError(f"torchvision has no model '{arch}'") from None
    model: nn.Module = timm_model(arch)  # a tagged name too (family senet, issue 18)
    return model
