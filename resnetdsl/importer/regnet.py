"""Reading a torchvision ``RegNet`` (``stem``, ``trunk_output``, ``fc``) or a timm ``RegNet`` (``stem``, ``s1``…,
``head``) as a spec of ``regnet`` blocks in the ``tv_regnet`` or ``regnet`` layout (issue 19).

The stages are written out (the models keep no w0/wa/wm): per stage its depth, width, stride and group width,
read from each block's convs; the bottleneck ratio, the squeeze-and-excitation ratio of the input width, the
norm and the activation are found from the first block and held by every other (the spec is verified against
the model afterwards). timm's variants are read too: the pre-activation ``regnetv_*`` (``PreBottleneck``:
block ``preact_regnet``), ``regnety_040_sgn`` (GroupNormAct + SiLU) and ``regnetz_*`` (``linear_out``,
``shortcut: identity``, ``head.conv_width`` for the final 1×1 conv).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from resnetdsl.importer.modules import _ACTS, UnsupportedModel, _act, _conv, _norm, _pool_kind

_SE_RATIOS = (0.25, 0.5, 0.125, 0.0625)


def is_regnet(model: nn.Module) -> bool:
    """A torchvision RegNet (``trunk_output``) or a timm RegNet (``s1`` and ``final_conv``)."""
    tv = isinstance(getattr(model, "trunk_output", None), nn.Sequential)
    return tv or (isinstance(getattr(model, "s1", None), nn.Module) and hasattr(model, "final_conv"))


def _part(block: Any, path: str, tv: bool, letter: str) -> tuple[Any, Any, Any]:
    """(conv, norm, act) of one conv-norm-act of a block: ``f.a`` (torchvision) or ``conv1`` (timm)."""
    if tv:
        seq = getattr(block.f, letter, None)
        where = f"{path}.f.{letter}"
        if not isinstance(seq, nn.Sequential) or len(seq) not in (2, 3):
            raise UnsupportedModel(where, seq, "expected conv, norm (and activation)")
        return _conv(seq[0], f"{where}.0"), seq[1], seq[2] if len(seq) == 3 else None
    name = {"a": "conv1", "b": "conv2", "c": "conv3"}[letter]
    cna = getattr(block, name, None)
    if isinstance(getattr(block, "norm1", None), nn.Module):  # timm's PreBottleneck: bare convs
        return _conv(cna, f"{path}.{name}"), None, None
    if cna is None or not hasattr(cna, "conv") or not hasattr(cna, "bn"):
        raise UnsupportedModel(f"{path}.{name}", block, "expected timm's ConvNormAct (a RegNet X/Y Bottleneck)")
    if letter == "c" and not isinstance(getattr(cna.bn, "act", nn.Identity()), nn.Identity):
        raise UnsupportedModel(f"{path}.{name}.bn.act", cna.bn.act, "no activation before the add is expected")
    return _conv(cna.conv, f"{path}.{name}.conv"), cna.bn, None


def timm_norm_act(m: Any, path: str, apply_act: bool = True) -> dict[str, Any]:
    """The norm and act settings of one of timm's RegNet norm-act modules: BatchNormAct2d or GroupNormAct
    (``regnety_040_sgn``), its activation any the language has (none where ``apply_act`` is false)."""
    if isinstance(m, nn.BatchNorm2d) and m.eps == 1e-5 and m.affine and m.track_running_stats:
        out: dict[str, Any] = {"norm": "batch"}
    elif isinstance(m, nn.GroupNorm) and m.eps == 1e-5 and m.affine:
        out = {"norm": "group", "norm_group_channels": m.num_channels // m.num_groups}
    else:
        raise UnsupportedModel(path, m, "expected timm's BatchNormAct2d or GroupNormAct (eps 1e-5, affine)")
    drop = getattr(m, "drop", None)
    if drop is not None and not isinstance(drop, nn.Identity):
        raise UnsupportedModel(f"{path}.drop", drop, "a dropout inside the norm has no spec")
    act = getattr(m, "act", nn.Identity())
    if apply_act:
        out.update(_act(act, f"{path}.act"))
    elif not isinstance(act, nn.Identity):
        raise UnsupportedModel(f"{path}.act", act, "no activation is expected here")
    return out


def _se_ratio(se: Any, path: str, cin: int, act_type: type = nn.ReLU) -> float | None:
    """RegNet Y's ratio of the input width (``None``: no squeeze-and-excitation)."""
    if se is None or isinstance(se, nn.Identity):
        return None
    fc1 = getattr(se, "fc1", None)
    if type(fc1) is not nn.Conv2d or fc1.bias is None:
        raise UnsupportedModel(path, se, "squeeze-and-excitation with 1×1 convs fc1, fc2 is expected")
    act = getattr(se, "act", getattr(se, "activation", None))
    if type(act) is not act_type:
        raise UnsupportedModel(path, se, f"squeeze-and-excitation with the block's {act_type.__name__} is expected")
    rd = fc1.out_channels
    for ratio in (*_SE_RATIOS, rd / cin):
        if round(ratio * cin) == rd:
            return ratio
    raise UnsupportedModel(f"{path}.fc1", fc1, f"reduced width {rd} of {cin} input channels fits no ratio")


def _timm_block(block: Any, where: str) -> tuple[dict[str, Any], type]:
    """A timm block's own settings (norm, act, pre-activation, linear output, shortcut) and its act's type."""
    settings: dict[str, Any]
    if isinstance(getattr(block, "norm1", None), nn.Module):  # PreBottleneck (RegNet V)
        settings = {"block": "preact_regnet", **timm_norm_act(block.norm1, f"{where}.norm1")}
        for n in ("norm2", "norm3"):
            timm_norm_act(getattr(block, n), f"{where}.{n}")
    else:
        settings = timm_norm_act(block.conv1.bn, f"{where}.conv1.bn")
        timm_norm_act(block.conv2.bn, f"{where}.conv2.bn")
        timm_norm_act(block.conv3.bn, f"{where}.conv3.bn", apply_act=False)
        act3 = getattr(block, "act3", None)
        if isinstance(act3, nn.Identity):
            settings["linear_out"] = True
        elif act3 is None or _act(act3, f"{where}.act3")["act"] != settings["act"]:
            raise UnsupportedModel(f"{where}.act3", act3, "the block's activation after the add is expected")
    down = getattr(block, "downsample", None)
    if down is None:  # timm's downsample=None: no shortcut where the shape changes
        settings["shortcut"] = "identity"
    elif isinstance(down, nn.Sequential):  # downsample_avg: a pool, then the conv
        settings["shortcut"] = "avgpool_projection"
    first = block.norm1 if settings.get("block") == "preact_regnet" else block.conv1.bn
    return settings, type(first.act)


def _stage(stage: nn.Module, path: str, tv: bool, cin: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A stage's entry and the settings its blocks share (bottleneck ratio, SE, norm, act)."""
    blocks = list(stage.named_children())
    shared: dict[str, Any] = {}
    entry: dict[str, Any] = {"depth": len(blocks)}
    for j, (name, block) in enumerate(blocks):
        where = f"{path}.{name}"
        own, act_type = _timm_block(block, where) if not tv else ({}, nn.ReLU)
        a_conv, a_norm, a_act = _part(block, where, tv, "a")
        b_conv, _, _ = _part(block, where, tv, "b")
        c_conv, _, _ = _part(block, where, tv, "c")
        inner, width = a_conv.out_channels, c_conv.out_channels
        settings: dict[str, Any] = {"bottleneck_ratio": inner / width, **own}
        if tv:
            settings.update(_norm(a_norm, f"{where}.f.a.1"))
            settings.update(_act(a_act, f"{where}.f.a.2"))
            act_type = type(a_act)
        se = block.f.se if tv and hasattr(block.f, "se") else getattr(block, "se", None)
        ratio = _se_ratio(se, f"{where}.{'f.se' if tv else 'se'}", cin, act_type)
        if ratio is not None:
            settings.update(attention="se", se_ratio=ratio)
        if j == 0:
            shared = settings
            entry.update(width=width, stride=b_conv.stride[0], group_width=inner // b_conv.groups)
        elif settings.get("shortcut") == "identity":
            shared["shortcut"] = "identity"
        cin = width
    return entry, shared


def regnet_data(model: nn.Module) -> dict[str, Any]:
    """The spec data (a plain mapping) of a torchvision or timm RegNet.

    Raises:
        UnsupportedModel: a module that differs from RegNet X/Y's.
    """
    tv = isinstance(getattr(model, "trunk_output", None), nn.Sequential)
    stem: Any = model.stem
    if tv:
        conv = _conv(stem[0], "stem.0")
        found = {**_norm(stem[1], "stem.1"), **_act(stem[2], "stem.2")}
        stem_settings = {k: v for k, v in found.items() if (k, v) not in (("norm", "batch"), ("act", "relu"))}
        stages = list(model.get_submodule("trunk_output").named_children())
        prefix = "trunk_output."
    else:
        if isinstance(stem, nn.Conv2d):  # RegNet V: the bare conv (its first block pre-activates)
            conv = _conv(stem, "stem")
        elif not hasattr(stem, "conv") or not hasattr(stem, "bn"):
            raise UnsupportedModel("stem", stem, "timm's ConvNormAct stem or a bare conv is expected")
        else:
            conv = _conv(stem.conv, "stem.conv")
            timm_norm_act(stem.bn, "stem.bn")
        stem_settings = {}
        stages = [(n, m) for n, m in model.named_children() if n.startswith("s") and n[1:].isdigit()]
        prefix = ""
    if conv.stride[0] != 2 or conv.kernel_size[0] != 3:
        raise UnsupportedModel("stem", stem, "RegNet's 3×3/2 stem is expected")
    entries: list[dict[str, Any]] = []
    shared: dict[str, Any] = {}
    cin = conv.out_channels
    for n, (name, stage) in enumerate(stages):
        entry, own = _stage(stage, f"{prefix}{name}", tv, cin)
        shared = own if n == 0 else shared
        entries.append(entry)
        cin = entry["width"]
    defaults: dict[str, Any] = {"block": "regnet"}
    for key, value in shared.items():
        if (key, value) not in (("bottleneck_ratio", 1.0), ("norm", "batch"), ("act", "relu")):
            defaults[key] = value
    fc: Any = model.fc if tv else model.get_submodule("head.fc")
    pool: Any = model.avgpool if tv else model.get_submodule("head.global_pool")
    head_conv = {} if tv else _final_conv(model)
    return {
        "input": {"channels": conv.in_channels},
        "layout": "tv_regnet" if tv else "regnet",
        "stem": {"kind": "simple", "width": conv.out_channels, **stem_settings},
        "defaults": defaults,
        "stages": entries,
        "head": {
            "pool": _pool_kind(pool, "avgpool" if tv else "head.global_pool"),
            "num_classes": fc.out_features,
            "bias": fc.bias is not None,
            **head_conv,
        },
    }


def _final_conv(model: nn.Module) -> dict[str, Any]:
    """timm's ``final_conv``: nothing, the final act (after linear-output or pre-activation blocks; the spec
    implies it) or a 1×1 ConvNormAct of ``num_features`` (``head.conv_width``)."""
    final: Any = getattr(model, "final_conv", None)
    if isinstance(final, nn.Identity) or type(final) in _ACTS:
        return {}
    if final is None or not hasattr(final, "conv") or not hasattr(final, "bn"):
        raise UnsupportedModel("final_conv", final, "an act or timm's ConvNormAct (num_features) is expected")
    conv = _conv(final.conv, "final_conv.conv")
    timm_norm_act(final.bn, "final_conv.bn")
    if conv.kernel_size[0] != 1 or conv.stride[0] != 1:
        raise UnsupportedModel("final_conv.conv", conv, "a 1×1 conv is expected")
    return {"conv_width": conv.out_channels}
