"""timm's legacy SENets (``senet.py``: ``layer0``, ``pool0``, ``se_module``, ``last_linear``) and the attention
kinds timm's ``create_attn`` puts on a ResNet beyond SE and ECA (CBAM, global context): family senet, issue 18.

A legacy SENet is read as a ResNet of ``layout: senet``: the stem from ``layer0``'s children and ``pool0``, each
block through :func:`resnetdsl.importer.resnet._settings` (its attention is ``se_module``), the head from
``last_linear`` and the model's ``drop_rate`` (a functional dropout before the classifier).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from resnetdsl import blocks as B
from resnetdsl.importer.modules import UnsupportedModel, _act, _conv, _norm, _pool_kind
from resnetdsl.importer.resnet import _collect, _drop_path, _settings, _stage_entry
from resnetdsl.vocab import CBAM_KERNEL, CBAM_RATIO, GC_RATIO


def is_legacy_senet(model: nn.Module) -> bool:
    """Structure, not class name: a ``layer0`` container, a ``layer1`` and a ``last_linear``."""
    return all(isinstance(getattr(model, n, None), nn.Module) for n in ("layer0", "layer1", "last_linear"))


def _stem(model: nn.Module) -> tuple[dict[str, Any], int]:
    layer0: Any = model.layer0
    names = [n for n, _ in layer0.named_children()]
    convs = [n for n in names if n.startswith("conv")]
    if names != [f"{kind}{i}" for i in range(1, len(convs) + 1) for kind in ("conv", "bn", "relu")]:
        raise UnsupportedModel("layer0", layer0, "expected conv1, bn1, relu1 (or three of each: a deep stem)")
    found = [_conv(getattr(layer0, n), f"layer0.{n}") for n in convs]
    geometry = [(c.kernel_size[0], c.stride[0]) for c in found]
    stem: dict[str, Any] = {}
    if geometry == [(3, 2), (3, 1), (3, 1)]:
        stem.update(kind="deep", mid_widths=[found[0].out_channels, found[1].out_channels])
    elif geometry == [(7, 2)]:
        stem["kind"] = "conv7"
    elif geometry == [(3, 1)]:
        stem["kind"] = "conv3"
    else:
        raise UnsupportedModel("layer0", layer0, f"stem convs {geometry}: the spec has 7×7/2, 3×3/1 or a deep stem")
    stem["width"] = found[-1].out_channels
    stem["conv_bias"] = found[0].bias is not None
    stem.update(_norm(layer0.bn1, "layer0.bn1"))
    stem.update(_act(layer0.relu1, "layer0.relu1"))
    pool: Any = getattr(model, "pool0", None)
    if pool is None or isinstance(pool, nn.Identity):
        stem["pool"] = "none"
    elif type(pool) is nn.MaxPool2d and _window(pool) == (3, 2, 0, True):
        stem["pool"] = "max_ceil"
    elif type(pool) is nn.MaxPool2d and _window(pool) == (3, 2, 1, False):
        stem["pool"] = "max"
    else:
        raise UnsupportedModel("pool0", pool, "expected a 3×3/2 max pool (ceil mode without padding, or padding 1)")
    return stem, found[0].in_channels


def _window(pool: Any) -> tuple[Any, ...]:
    one = [v if isinstance(v, int) else v[0] for v in (pool.kernel_size, pool.stride, pool.padding)]
    return (*one, pool.ceil_mode)


def senet_data(model: nn.Module) -> dict[str, Any]:
    """The spec data of a legacy SENet (``layout: senet``)."""
    stem, cin = _stem(model)
    per_stage: list[list[dict[str, Any]]] = []
    i = 1
    while isinstance(layer := getattr(model, f"layer{i}", None), nn.Sequential):
        per_stage.append(
            [
                _settings(model, f"layer{i}.{j}", isinstance(getattr(b, "conv3", None), nn.Module), "se_module")
                for j, b in enumerate(layer)
            ]
        )
        i += 1
    entries = [_stage_entry(blocks, f"layer{k + 1}") for k, blocks in enumerate(per_stage)]
    defaults, stages = _collect(entries)
    blocks = [b for st in per_stage for b in st]
    channels = blocks[-1]["width"] * blocks[-1]["expansion"]
    fc: Any = model.last_linear
    if type(fc) is not nn.Linear or fc.in_features != channels:
        raise UnsupportedModel("last_linear", fc, f"a Linear reading the last stage's {channels} features is expected")
    head: dict[str, Any] = {
        "pool": _pool_kind(getattr(model, "global_pool", None), "global_pool"),
        "num_classes": fc.out_features,
        "bias": fc.bias is not None,
    }
    rate = float(getattr(model, "drop_rate", 0.0) or 0.0)
    if rate:
        head["dropout"] = rate
    data: dict[str, Any] = {
        "layout": "senet",
        "input": {"channels": cin},
        "stem": stem,
        "defaults": defaults,
        "stages": stages,
        "head": head,
    }
    _drop_path(data, blocks)
    return data


# --- attention kinds -----------------------------------------------------------------------------------------


def attention_kind(se: Any, path: str, channels: int) -> dict[str, Any] | None:
    """``attention: cbam`` or ``gc`` when ``se`` is timm's CBAM or global context as create_attn makes them on
    a ResNet (their default reductions and kernel); ``None`` when it is neither."""
    channel, spatial = getattr(se, "channel", None), getattr(se, "spatial", None)
    if isinstance(channel, nn.Module) and isinstance(spatial, nn.Module):
        return _cbam(channel, spatial, path, channels)
    if isinstance(getattr(se, "conv_attn", None), nn.Conv2d):
        return _gc(se, path, channels)
    return None


def _sigmoid(m: Any) -> bool:
    """torch's sigmoid or timm's (``timm.layers.activations.Sigmoid``: the same function, optionally in place)."""
    kind = type(m)
    return kind is nn.Sigmoid or (kind.__module__, kind.__name__) == ("timm.layers.activations", "Sigmoid")


def _cbam(channel: Any, spatial: Any, path: str, channels: int) -> dict[str, Any]:
    fc1 = _conv(getattr(channel, "fc1", None), f"{path}.channel.fc1")
    want = B.make_divisible(channels * CBAM_RATIO, 1)
    if fc1.out_channels != want or fc1.bias is not None or type(getattr(channel, "act", None)) is not nn.ReLU:
        raise UnsupportedModel(f"{path}.channel", channel, f"CBAM's channel gate is bias-free, ReLU, {want} wide")
    if not (_sigmoid(getattr(channel, "gate", None)) and _sigmoid(getattr(spatial, "gate", None))):
        raise UnsupportedModel(path, channel, "CBAM's gates are sigmoids")
    inner: Any = getattr(spatial, "conv", None)
    conv = _conv(getattr(inner, "conv", None), f"{path}.spatial.conv.conv")
    if conv.kernel_size[0] != CBAM_KERNEL or conv.bias is not None:
        raise UnsupportedModel(f"{path}.spatial.conv.conv", conv, f"CBAM's spatial conv is {CBAM_KERNEL}×{CBAM_KERNEL}")
    bn: Any = getattr(inner, "bn", None)  # timm's BatchNormAct2d without an activation: a batch norm
    plain = isinstance(bn, nn.BatchNorm2d) and bn.eps == 1e-5 and bn.affine and bn.track_running_stats
    extras = [getattr(bn, n, None) for n in ("act", "drop")]
    if not plain or any(e is not None and not isinstance(e, nn.Identity) for e in extras):
        raise UnsupportedModel(f"{path}.spatial.conv.bn", bn, "CBAM's spatial norm is a batch norm (eps 1e-5) alone")
    return {"attention": "cbam"}


def _gc(se: Any, path: str, channels: int) -> dict[str, Any]:
    mlp: Any = getattr(se, "mlp_scale", None)
    if getattr(se, "mlp_add", None) is not None or mlp is None:
        raise UnsupportedModel(path, se, "global context with its scale MLP only (fuse_scale, no fuse_add)")
    want = B.make_divisible(channels * GC_RATIO, 1)
    fc1 = _conv(getattr(mlp, "fc1", None), f"{path}.mlp_scale.fc1")
    norm: Any = getattr(mlp, "norm", None)
    # timm's LayerNorm2d, or the builder's one-group GroupNorm (the same over the 1×1 context)
    layer = isinstance(norm, nn.LayerNorm) or (isinstance(norm, nn.GroupNorm) and norm.num_groups == 1)
    if fc1.out_channels != want or not layer or norm.eps != 1e-6:
        raise UnsupportedModel(f"{path}.mlp_scale", mlp, f"GC's MLP is {want} wide with a layer norm (eps 1e-6)")
    if type(getattr(mlp, "act", None)) is not nn.ReLU or not _sigmoid(getattr(se, "gate", None)):
        raise UnsupportedModel(f"{path}.mlp_scale.act", mlp, "GC's MLP uses ReLU and a sigmoid gate")
    return {"attention": "gc"}
