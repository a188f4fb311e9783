"""How the exported Python source is laid out: constructor calls as ruff would format them, the containers
that hold dotted module names, runs of equal layers compressed, class names from spec names.

:mod:`resnetdsl.export.python` decides what the file says; this module only writes it down.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from resnetdsl import plan as P
from resnetdsl.blocks import CLASS_NAMES as _BLOCK_CLASS

_WORDS = {"resnet": "ResNet", "resnext": "ResNeXt", "preact": "PreAct", "resnetv": "ResNetV"}


def camel(name: str) -> str:
    words = [w for w in re.split(r"[^0-9A-Za-z]+|(?<=[a-z])(?=[0-9])", name) if w]
    text = ""
    for w in words:  # digits after digits keep a separator: resnetv2_50 → ResNetV2_50
        text += ("_" if text[-1:].isdigit() and w[:1].isdigit() else "") + _WORDS.get(w.lower(), w[:1].upper() + w[1:])
    text = text or "Net"
    return text if text[0].isalpha() else "Net" + text


@dataclass(frozen=True)
class Call:
    """A constructor call laid out as ruff lays it out: on one line if it fits in 120 columns (and is not
    ``explode``), else one argument a line with a trailing comma (which keeps ruff from joining it back)."""

    func: str
    args: tuple[tuple[str, Call | str], ...]
    """(keyword or "", argument)."""
    explode: bool = False

    def flat(self) -> str:
        return f"{self.func}({', '.join(_key(k) + flat(a) for k, a in self.args)})"

    def layout(self, indent: int, lead: int = 0, trail: int = 0) -> str:
        flat = self.flat()
        if not self.explode and indent + lead + len(flat) + trail <= 120:
            return flat
        pad = " " * (indent + 4)
        lines = [f"{self.func}("]
        for k, a in self.args:
            key = _key(k)
            text = a.layout(indent + 4, len(key), 1) if isinstance(a, Call) else a
            lines.append(f"{pad}{key}{text},")
        return "\n".join(lines) + "\n" + " " * indent + ")"


def _key(k: str) -> str:
    """``k=`` before an argument; nothing for a positional one, or a name no keyword can spell (``block1-0``:
    the containers take their children in order)."""
    return k + "=" if k.isidentifier() else ""


def flat(a: Call | str) -> str:
    return a.flat() if isinstance(a, Call) else a


class Writer:
    """Gathers what the file needs besides the network: helper classes and container classes."""

    def __init__(self, plan: P.Plan) -> None:
        self.plan = plan
        self.containers: dict[tuple[str, ...], str] = {}
        self.container_names: set[str] = set()

    def container(self, parent: str, names: tuple[str, ...]) -> str:
        """The class of a container whose children have non-index names (``downsample.conv``, ``blocks``)."""
        if names not in self.containers:
            base = camel(parent.rsplit(".", 1)[-1]) or "Container"
            name, n = base, 1
            while name in self.container_names or name in _BLOCK_CLASS.values():
                n += 1
                name = f"{base}{n}"
            self.containers[names] = name
            self.container_names.add(name)
        return self.containers[names]

    def group(self, items: Sequence[tuple[str, Call | str]]) -> list[tuple[str, Call | str]]:
        """(dotted name, expression) → (top-level name, expression): dotted names gather in a container, an
        ``nn.Sequential`` for index names, a container class for others."""
        out: list[tuple[str, list[tuple[str, Call | str]] | None, Call | str]] = []
        for name, expr in items:
            head, dot, tail = name.partition(".")
            if not dot:
                out.append((head, None, expr))
            elif out and out[-1][0] == head and out[-1][1] is not None:
                out[-1][1].append((tail, expr))
            else:
                out.append((head, [(tail, expr)], ""))
        result: list[tuple[str, Call | str]] = []
        for head, children, expr in out:
            if children is None:
                result.append((head, expr))
                continue
            inner = self.group(children)
            tails = tuple(t for t, _ in inner)
            if tails == tuple(str(k) for k in range(len(tails))):
                body = compress([e for _, e in inner])
                result.append((head, Call("nn.Sequential", tuple(("", e) for e in body), explode=True)))
            else:
                cls = self.container(head, tails)
                result.append((head, Call(cls, tuple(inner), explode=True)))
        return result


def compress(exprs: list[Call | str]) -> list[Call | str]:
    """Runs of three or more equal expressions become ``*(expr for _ in range(n))``."""
    out: list[Call | str] = []
    i = 0
    while i < len(exprs):
        j = i
        while j < len(exprs) and exprs[j] == exprs[i]:
            j += 1
        if j - i >= 3 and len(flat(exprs[i])) <= 80:
            out.append(f"*({flat(exprs[i])} for _ in range({j - i}))")
        else:
            out.extend(exprs[i:j])
        i = j
    return out


def container_source(name: str, children: tuple[str, ...]) -> str:
    args = [c if c.isidentifier() else f"m{i}" for i, c in enumerate(children)]  # block1-0: torchvision's RegNet
    sig = ", ".join(["self", *(f"{a}: nn.Module" for a in args)])
    sets = [
        f"self.{c} = {a}" if c == a else f'self.add_module("{c}", {a})' for c, a in zip(children, args, strict=True)
    ]
    runs = [f"self.{c}(x)" if c == a else f'self.get_submodule("{c}")(x)' for c, a in zip(children, args, strict=True)]
    lines = [
        f"class {name}(nn.Module):",
        f'    """Runs {", ".join(children)} in turn."""',
        "",
        f"    def __init__({sig}) -> None:",
        "        super().__init__()",
        *(f"        {line}" for line in sets),
        "",
        "    def forward(self, x: Tensor) -> Tensor:",
        *(f"        x = {run}" for run in runs),
        "        return x",
    ]
    return "\n".join(lines) + "\n"


def stage_expr(writer: Writer, items: list[tuple[str, Call | str]]) -> Call:
    grouped = writer.group(items)
    names = tuple(n for n, _ in grouped)
    if names == tuple(str(k) for k in range(len(names))):
        return Call("nn.Sequential", tuple(("", e) for e in compress([e for _, e in grouped])), explode=True)
    return Call(writer.container("stage", names), tuple(grouped), explode=True)
