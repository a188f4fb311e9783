"""Which tensors of one network fit another (load as they are, adapt, or not), told from shapes alone (no torch).

:func:`match_state` is the one rule: :func:`resnetdsl.weights.load_weights` applies it to a real checkpoint and
a built model, :func:`predict` to two plans (``resnetdsl diff``), so the prediction and what loading does agree
by construction (and a test checks that they do).

Names are compared in a layout-neutral form (:func:`canonical`): torchvision's and timm's ResNet share their
module names; timm's ResNetV2 names (``stem.conv``, ``stages.0.blocks.0.norm1``, ``downsample.conv``, ``norm``,
``head.fc``) and this package's ``resnet`` layout of a pre-activation network (``conv1``, ``layer1.0.bn1``,
``downsample.0``, ``final_norm``, ``fc``) map onto each other.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from resnetdsl.plan import Plan
from resnetdsl.records import record
from resnetdsl.state import Shape, classifier_keys, input_conv_key, state_entries

Status = Literal["loaded", "adapted", "reinitialised", "missing", "unexpected", "mismatched"]
STATUSES: tuple[Status, ...] = ("loaded", "adapted", "reinitialised", "missing", "unexpected", "mismatched")
BASE_CHANNELS = 3
"""Input channels a checkpoint's first conv is taken to have been trained on (timm's ``base_chans``)."""


@record
class Entry:
    """One tensor's fate."""

    key: str
    """Its name in the target (for ``unexpected``: in the source)."""
    source_key: str | None
    """Its name in the source (``None`` for ``missing``)."""
    source_shape: Shape | None
    target_shape: Shape | None
    note: str = ""
    """How it was adapted, or why it could not be."""

    def format(self) -> str:
        def dims(s: Shape | None) -> str:
            return "×".join(map(str, s)) if s else ("scalar" if s == () else "-")

        renamed = f" (from {self.source_key})" if self.source_key and self.source_key != self.key else ""
        if self.source_shape is not None and self.target_shape is not None and self.source_shape != self.target_shape:
            shapes = f" {dims(self.source_shape)} → {dims(self.target_shape)}"
        else:
            shapes = f" {dims(self.target_shape if self.target_shape is not None else self.source_shape)}"
        note = f": {self.note}" if self.note else ""
        return f"{self.key}{renamed}{shapes}{note}"


@record
class WeightReport:
    """What loading a checkpoint into a network does, tensor by tensor."""

    loaded: tuple[Entry, ...] = ()
    """Copied as they are (perhaps under another name)."""
    adapted: tuple[Entry, ...] = ()
    """Changed to fit: the input conv's channels (timm's ``adapt_input_conv``), a 1×1-conv classifier as a
    linear one."""
    reinitialised: tuple[Entry, ...] = ()
    """The classifier, for another number of classes: left as freshly initialised."""
    missing: tuple[Entry, ...] = ()
    """In the target, not in the source: left as initialised."""
    unexpected: tuple[Entry, ...] = ()
    """In the source, not in the target: ignored."""
    mismatched: tuple[Entry, ...] = ()
    """In both, with shapes that cannot be adapted: left as initialised."""
    source: str = "checkpoint"
    target: str = "model"

    @property
    def ok(self) -> bool:
        """Every target tensor loaded or adapted, and every source tensor used (what ``strict=True`` demands)."""
        return not (self.reinitialised or self.missing or self.unexpected or self.mismatched)

    def __repr__(self) -> str:
        said = ", ".join(f"{n} {s}" for s, n in self.counts().items() if n)
        return f"<WeightReport {self.source} → {self.target}: {said or 'nothing'}; {'ok' if self.ok else 'not strict'}>"

    def __str__(self) -> str:
        return self.format()

    def _repr_markdown_(self) -> str:
        return f"```\n{self.format()}\n```"

    def counts(self) -> dict[str, int]:
        return {s: len(getattr(self, s)) for s in STATUSES}

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            **{
                s: [
                    {
                        "key": e.key,
                        "source_key": e.source_key,
                        "source_shape": None if e.source_shape is None else list(e.source_shape),
                        "target_shape": None if e.target_shape is None else list(e.target_shape),
                        "note": e.note,
                    }
                    for e in getattr(self, s)
                ]
                for s in STATUSES
            },
        }

    def keys(self) -> dict[str, list[str]]:
        """Per status, the keys (target names; source names for ``unexpected``): what tests compare."""
        return {s: [e.key for e in getattr(self, s)] for s in STATUSES}

    def format(self, *, loaded: bool = False, grouped: bool = False) -> str:
        """The report as text: a count line, then every tensor that was not simply loaded (all with
        ``loaded=True``); ``grouped=True``: one line per status, stage and kind of tensor, with counts."""
        c = self.counts()
        lines = [
            f"weights {self.source} → {self.target}: "
            + ", ".join(f"{c[s]} {s}" for s in STATUSES if c[s] or s == "loaded")
        ]
        for s in STATUSES:
            if s == "loaded" and not loaded:
                continue
            entries = getattr(self, s)
            if grouped and not loaded:
                lines += [f"  {s}: {line}" for line in _grouped(entries)]
            else:
                lines += [f"  {s}: {e.format()}" for e in entries]
        return "\n".join(lines)


def _grouped(entries: tuple[Entry, ...]) -> list[str]:
    """``layer1: 30 tensors (10 running_mean, 10 running_var, 10 num_batches_tracked)``: by stage (the key's first
    part), then kind (its last); a group of one tensor is that tensor's own line."""
    groups: dict[str, list[Entry]] = {}
    for e in entries:
        groups.setdefault(e.key.partition(".")[0], []).append(e)
    out = []
    for part, members in groups.items():
        if len(members) == 1:
            out.append(members[0].format())
            continue
        kinds: dict[str, int] = {}
        for e in members:
            kind = e.key.rpartition(".")[2]
            kinds[kind] = kinds.get(kind, 0) + 1
        said = ", ".join(f"{n} {k}" for k, n in kinds.items())
        out.append(f"{part}: {len(members)} tensors ({said})")
    return out


# --- names -----------------------------------------------------------------------------------------

_STEM = {
    "conv1": "stem.conv",
    "conv1.0": "stem.conv1",
    "conv1.1": "stem.norm1",
    "conv1.3": "stem.conv2",
    "conv1.4": "stem.norm2",
    "conv1.6": "stem.conv3",
    "bn1": "stem.norm",
    "maxpool.0": "stem.pool.conv",
    "maxpool.1": "stem.pool.norm",
    "final_norm": "norm",
    "fc": "head.fc",
}
_LAYER = re.compile(r"^layer(\d+)\.(\d+)\.(.*)$")
_DOWNSAMPLE = re.compile(r"^(.*\.downsample)\.(\d+)\.(.*)$")
_BN = re.compile(r"^bn(\d+)\.(.*)$")


def canonical(shapes: Mapping[str, Shape]) -> dict[str, str]:
    """Layout-neutral name → the name in ``shapes`` (timm ResNetV2's names; see the module's docstring).

    ``downsample.K`` entries become ``downsample.conv`` or ``downsample.norm`` by their shapes (a conv's weight
    has four dimensions), since the index depends on whether an average pool comes first.
    """
    convs = {m[1] + "." + m[2] for k, s in shapes.items() if (m := _DOWNSAMPLE.match(k)) and len(s) == 4}
    out: dict[str, str] = {}
    for key in shapes:
        name = key
        module, _, leaf = key.rpartition(".")
        if module in _STEM:
            name = f"{_STEM[module]}.{leaf}"
        elif m := _LAYER.match(key):
            rest = m[3]
            if b := _BN.match(rest):
                rest = f"norm{b[1]}.{b[2]}"
            name = f"stages.{int(m[1]) - 1}.blocks.{m[2]}.{rest}"
        if d := _DOWNSAMPLE.match(name):
            original = _DOWNSAMPLE.match(key)
            is_conv = original is not None and f"{original[1]}.{original[2]}" in convs
            name = f"{d[1]}.{'conv' if is_conv else 'norm'}.{d[3]}"
        out.setdefault(name, key)
    return out


# --- the rule ----------------------------------------------------------------------------------------


def match_state(
    source: Mapping[str, Shape],
    target: Mapping[str, Shape],
    *,
    input_conv: str | None = None,
    classifier: frozenset[str] = frozenset(),
    source_name: str = "checkpoint",
    target_name: str = "model",
) -> WeightReport:
    """What loading tensors of these shapes into a network with these does.

    Args:
        source: the checkpoint's name → shape.
        target: the network's ``state_dict`` name → shape.
        input_conv: the target's first conv weight (adapted to another input channel count as timm's
            ``adapt_input_conv`` does: one channel sums the source's, more repeat them and scale by 3/C).
        classifier: the target's classifier tensors (another class count: left freshly initialised).
    """
    src = canonical(source)
    dst = canonical(target)
    used: set[str] = set()
    out: dict[Status, list[Entry]] = {s: [] for s in STATUSES}
    for name, tkey in dst.items():
        tshape = target[tkey]
        skey = src.get(name)
        if skey is None:
            out["missing"].append(Entry(tkey, None, None, tshape))
            continue
        used.add(skey)
        sshape = source[skey]
        status, note = _fit(tkey, sshape, tshape, input_conv, classifier)
        out[status].append(Entry(tkey, skey, sshape, tshape, note))
    for skey in source:
        if skey not in used:
            out["unexpected"].append(Entry(skey, skey, source[skey], None))
    return WeightReport(**{s: tuple(v) for s, v in out.items()}, source=source_name, target=target_name)


def _fit(key: str, src: Shape, dst: Shape, input_conv: str | None, classifier: frozenset[str]) -> tuple[Status, str]:
    if src == dst:
        return "loaded", ""
    if key == input_conv and len(src) == len(dst) == 4 and src[0] == dst[0] and src[2:] == dst[2:]:
        c, base = dst[1], src[1]
        if c == 1 and base == BASE_CHANNELS:
            return "adapted", f"input channels {base} → 1, summed"
        if base == BASE_CHANNELS:
            return "adapted", f"input channels {base} → {c}, repeated and scaled by {base}/{c}"
        return "mismatched", f"input channels {base} → {c}: only a {BASE_CHANNELS}-channel conv adapts"
    if key in classifier:
        if _squeeze(src) == _squeeze(dst):
            return "adapted", "classifier reshaped (1×1 conv ↔ linear)"
        if src and dst and src[0] != dst[0] and _squeeze(src)[1:] == _squeeze(dst)[1:]:
            return "reinitialised", f"{src[0]} → {dst[0]} classes"
    return "mismatched", ""


def _squeeze(shape: Shape) -> Shape:
    """A 1×1 conv's weight as a linear one's."""
    return shape[:2] if len(shape) == 4 and shape[2:] == (1, 1) else shape


def predict(a: Plan, b: Plan) -> WeightReport:
    """What loading a network built from ``a`` into one built from ``b`` does, told from the plans."""
    return match_state(
        state_entries(a),
        state_entries(b),
        input_conv=input_conv_key(b),
        classifier=classifier_keys(b),
        source_name=a.name,
        target_name=b.name,
    )
