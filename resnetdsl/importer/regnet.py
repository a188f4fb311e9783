"""Reading a torchvision ``RegNet`` (``stem``, ``trunk_output``, ``fc``) or a timm ``RegNet`` (``stem``, ``s1``…,
``head``) as a spec of ``regnet`` blocks in the ``tv_regnet`` or ``regnet`` layout (issue 19).

The stages are written out (the models keep no w0/wa/wm): per stage its depth, width, stride and group width,
read from each block's convs; the bottleneck ratio and the squeeze-and-excitation ratio of the input width are
found from the first block and held by every other (the spec is verified against the model afterwards).
timm's pre-activation ``regnetv_*``, ``regnety_040_sgn`` (group norm + SiLU) and ``regnetz_*`` (linear output,
a final conv) have no spec and are refused with the module that differs.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from resnetdsl.importer.modules import UnsupportedModel, _act, _conv, _norm, _norm_act, _pool_kind

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
    if cna is None or not hasattr(cna, "conv") or not hasattr(cna, "bn"):
        raise UnsupportedModel(f"{path}.{name}", block, "expected timm's ConvNormAct (a RegNet X/Y Bottleneck)")
    if letter != "c":
        _norm_act(cna.bn, f"{path}.{name}.bn")
    elif not isinstance(cna.bn.act, nn.Identity):
        raise UnsupportedModel(f"{path}.{name}.bn.act", cna.bn.act, "no activation before the add is expected")
    return _conv(cna.conv, f"{path}.{name}.conv"), cna.bn, None


def _se_ratio(se: Any, path: str, cin: int) -> float | None:
    """RegNet Y's ratio of the input width (``None``: no squeeze-and-excitation)."""
    if se is None or isinstance(se, nn.Identity):
        return None
    fc1 = getattr(se, "fc1", None)
    if type(fc1) is not nn.Conv2d or fc1.bias is None:
        raise UnsupportedModel(path, se, "squeeze-and-excitation with 1×1 convs fc1, fc2 is expected")
    act = getattr(se, "act", getattr(se, "activation", None))
    if type(act) is not nn.ReLU:
        raise UnsupportedModel(path, se, "squeeze-and-excitation with ReLU is expected")
    rd = fc1.out_channels
    for ratio in (*_SE_RATIOS, rd / cin):
        if round(ratio * cin) == rd:
            return ratio
    raise UnsupportedModel(f"{path}.fc1", fc1, f"reduced width {rd} of {cin} input channels fits no ratio")


def _stage(stage: nn.Module, path: str, tv: bool, cin: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A stage's entry and the settings its blocks share (bottleneck ratio, SE, norm, act)."""
    blocks = list(stage.named_children())
    shared: dict[str, Any] = {}
    entry: dict[str, Any] = {"depth": len(blocks)}
    for j, (name, block) in enumerate(blocks):
        where = f"{path}.{name}"
        if not tv and not isinstance(getattr(block, "act3", None), nn.ReLU):
            raise UnsupportedModel(f"{where}.act3", block, "a ReLU after the add is expected (no linear output)")
        a_conv, a_norm, a_act = _part(block, where, tv, "a")
        b_conv, _, _ = _part(block, where, tv, "b")
        c_conv, _, _ = _part(block, where, tv, "c")
        inner, width = a_conv.out_channels, c_conv.out_channels
        settings: dict[str, Any] = {"bottleneck_ratio": inner / width}
        if tv:
            settings.update(_norm(a_norm, f"{where}.f.a.1"))
            settings.update(_act(a_act, f"{where}.f.a.2"))
        se = block.f.se if tv and hasattr(block.f, "se") else getattr(block, "se", None)
        ratio = _se_ratio(se, f"{where}.{'f.se' if tv else 'se'}", cin)
        if ratio is not None:
            settings.update(attention="se", se_ratio=ratio)
        if j == 0:
            shared = settings
            entry.update(width=width, stride=b_conv.stride[0], group_width=inner // b_conv.groups)
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
        if not hasattr(stem, "conv") or not hasattr(stem, "bn"):
            raise UnsupportedModel("stem", stem, "timm's ConvNormAct stem is expected (not pre-activation)")
        conv = _conv(stem.conv, "stem.conv")
        _norm_act(stem.bn, "stem.bn")
        stem_settings = {}
        final = getattr(model, "final_conv", None)
        if not isinstance(final, nn.Identity):
            raise UnsupportedModel("final_conv", final, "a final conv has no spec (regnetz)")
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
        },
    }
