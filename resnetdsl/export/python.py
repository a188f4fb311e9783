"""Plan → one standalone PyTorch source file that imports only torch.

A backend like the others, dispatching on op type (as sqlglot's generators do on expression type): each op type
has a constructor emitter in :data:`resnetdsl.export.ops.CONSTRUCTORS`; a type missing there raises
:class:`KeyError`. The file holds what a person would write by hand: the helper modules the plan needs (frozen
norm, SE, …), one class per block kind used (its ``__init__`` creates the layers, its ``forward`` runs them), and
the network class. Module names, registration order and hence state_dict keys equal
:func:`resnetdsl.build_model`'s; the classes pass ``torch.jit.script``.

Blocks of one kind become one class when they differ only in numbers: channel counts and stride become the
constructor's ``in_channels``/``mid_channels``/``out_channels``/``stride`` (checked against every block of the
class), an optional shortcut module ``downsample`` and an optional ``drop_path`` rate; other numbers that vary
become further arguments (``se_reduced_channels``). Blocks whose structure differs get classes of their own.
"""

from __future__ import annotations

import dataclasses
import re
import textwrap
from dataclasses import dataclass, field

from resnetdsl import plan as P
from resnetdsl.blocks import CLASS_NAMES
from resnetdsl.export.layout import Call, Writer, camel, container_source, stage_expr
from resnetdsl.export.ops import CONSTRUCTORS, Value, _lit, helper_sources
from resnetdsl.export.settings import forward_source, frozen_source, refuse_unexported, zero_init_source
from resnetdsl.walk import Part, Visitor, add_in_place, part_ops, registration_order, run_block, shortcut_source

_BLOCK_CLASS = CLASS_NAMES  # each block kind's class name, from the block-kind table (resnetdsl.blocks)
_SYMBOLS = ("in_channels", "mid_channels", "out_channels", "stride")
_CANDIDATES: dict[str, tuple[str, ...]] = {
    "in_channels": ("in_channels", "mid_channels", "out_channels"),
    "in_features": ("in_channels", "mid_channels", "out_channels"),
    "out_channels": ("out_channels", "mid_channels", "in_channels"),
    "channels": ("out_channels", "mid_channels", "in_channels"),
    "stride": ("stride",),
}


def _fields(op: P.Op) -> dict[str, object]:
    return {f.name: getattr(op, f.name) for f in dataclasses.fields(op) if f.name != "name"}


def _structure(op: P.Op) -> tuple[object, ...]:
    """What must be equal for two ops to share one line of a class: type, name and non-numeric fields."""
    # a composite op's sub-ops (a tuple, a nested op) are structure too: their numbers are written as literals
    rest = tuple((k, v) for k, v in _fields(op).items() if isinstance(v, bool) or not isinstance(v, int | float))
    return (type(op), op.name, rest)


def _literal_value(op: P.Op) -> Value:
    values = _fields(op)
    return lambda name: _lit(values[name])


def _expr(op: P.Op, v: Value | None = None) -> str:
    return CONSTRUCTORS[type(op)](op, v or _literal_value(op))  # KeyError: an op type without an emitter


@dataclass
class _BlockClass:
    """One emitted block class and the blocks it stands for."""

    kind: str
    blocks: list[P.Block]
    name: str = ""
    shortcut_reads_pre: bool = False
    lifted: dict[tuple[int, str], str] = field(default_factory=dict)
    """(op index in the template, field) → argument name, for numbers that vary and are no symbol."""
    symbols: dict[tuple[int, str], str] = field(default_factory=dict)

    @property
    def template(self) -> list[P.Op]:
        return _template_ops(self.blocks[0])

    def resolve(self) -> None:
        """Decide, for every numeric field, a symbol (checked on every block), a literal, or a lifted argument."""
        per_block = [_template_ops(b) for b in self.blocks]
        # a basic block's inner width is its output width: one name for both reads best
        skip = {"mid_channels"} if all(b.mid_channels == b.out_channels for b in self.blocks) else set()
        for i, op in enumerate(self.template):
            for name, value in _fields(op).items():
                if isinstance(value, bool) or not isinstance(value, int | float):
                    continue
                values = [_fields(ops[i])[name] for ops in per_block]
                sym = next(
                    (
                        s
                        for s in _CANDIDATES.get(name, ())
                        if s not in skip
                        and all(getattr(b, s) == val for b, val in zip(self.blocks, values, strict=True))
                    ),
                    None,
                )
                if sym is not None and not (sym == "stride" and len(set(values)) == 1 and values[0] == 1):
                    self.symbols[i, name] = sym
                elif len(set(values)) > 1:
                    self.lifted[i, name] = f"{op.name.replace('.', '_')}_{name}"

    def value_of(self, i: int, op: P.Op) -> Value:
        literal = _literal_value(op)
        return lambda name: self.symbols.get((i, name)) or self.lifted.get((i, name)) or literal(name)

    @property
    def params(self) -> list[str]:
        """Positional constructor arguments: channel counts, then lifted numbers (``stride`` is a keyword)."""
        used = set(self.symbols.values())
        return [s for s in _SYMBOLS[:3] if s in used] + sorted(set(self.lifted.values()))

    @property
    def has_stride(self) -> bool:
        return "stride" in self.symbols.values()

    @property
    def has_downsample(self) -> bool:
        return any(part_ops(b, "shortcut") for b in self.blocks)

    @property
    def has_drop_path(self) -> bool:
        return any(_drop_path_rate(b) > 0 for b in self.blocks)

    @property
    def shortcut_attr(self) -> str:
        """The shortcut module's attribute: ``downsample``, or ``proj`` (torchvision's RegNet, issue 19)."""
        for b in self.blocks:
            for op in part_ops(b, "shortcut"):
                return op.name.partition(".")[0]
        return "downsample"

    def call(self, block: P.Block, downsample: Call | str | None) -> Call:
        """The constructor call that creates ``block``."""
        args: list[tuple[str, Call | str]] = []
        ops = _template_ops(block)
        values = {sym: str(getattr(block, sym)) for sym in _SYMBOLS}
        lifted = {arg: _lit(_fields(ops[i])[name]) for (i, name), arg in self.lifted.items()}
        for param in self.params:
            args.append(("", values[param] if param in values else lifted[param]))
        if self.has_stride and block.stride != 1:
            args.append(("stride", str(block.stride)))
        if downsample is not None:
            args.append((self.shortcut_attr, downsample))
        rate = _drop_path_rate(block)
        if rate > 0:
            args.append(("drop_path", repr(rate)))
        return Call(self.name, tuple(args))


def _drop_path_rate(block: P.Block) -> float:
    """The block's stochastic depth rate (a constructor argument of its class, not a line of its template)."""
    return next((op.p for op in part_ops(block, "main") if isinstance(op, P.DropPath)), 0.0)


def _template_ops(block: P.Block) -> list[P.Op]:
    """The ops of the block's own layers (the shortcut is the ``downsample`` argument; drop path an option)."""
    ops = (*part_ops(block, "pre"), *part_ops(block, "main"), *part_ops(block, "post"))
    return [op for op in ops if not isinstance(op, P.DropPath)]


def _block_key(block: P.Block) -> tuple[object, ...]:
    return (block.kind, block.has_add, tuple(_structure(op) for op in _template_ops(block)))


def _block_classes(plan: P.Plan) -> list[_BlockClass]:
    groups: dict[tuple[object, ...], _BlockClass] = {}
    for _, block in plan.blocks():
        reads = shortcut_source(block) == "pre" if part_ops(block, "shortcut") else None
        key = (*_block_key(block), reads)
        loose = (*_block_key(block), None)
        if reads is None:  # no shortcut module: fits any class of its structure
            match = next((g for k, g in groups.items() if k[:-1] == loose[:-1]), None)
            key = loose if match is None else next(k for k, g in groups.items() if g is match)
        elif loose in groups and not any(part_ops(b, "shortcut") for b in groups[loose].blocks):
            groups[key] = groups.pop(loose)  # the shortcut-free class so far takes this reading
        groups.setdefault(key, _BlockClass(block.kind, [])).blocks.append(block)
    seen: dict[str, int] = {}
    out = list(groups.values())
    for cls in out:
        base = _BLOCK_CLASS.get(cls.kind, camel(cls.kind) + "Block")
        seen[base] = seen.get(base, 0) + 1
        cls.name = base if seen[base] == 1 else f"{base}{seen[base]}"
        cls.shortcut_reads_pre = any(shortcut_source(b) == "pre" for b in cls.blocks if part_ops(b, "shortcut"))
        cls.resolve()
    return out


def _block_class_source(cls: _BlockClass, layout: str) -> str:
    template = cls.template
    params = [f"{p}: int" if p in _SYMBOLS else f"{p}: {_param_type(cls, p)}" for p in cls.params]
    if cls.has_stride:
        params.append("stride: int = 1")
    if cls.has_downsample:
        params.append(f"{cls.shortcut_attr}: nn.Module | None = None")
    if cls.has_drop_path:
        params.append("drop_path: float = 0.0")
    sig = ", ".join(["self", *params])
    lines = [f"class {cls.name}(nn.Module):", f'    """{_block_doc(cls)}"""', ""]
    head = f"    def __init__({sig}) -> None:"
    if len(head) > 120:
        lines.append("    def __init__(")
        lines += [f"        {p}," for p in ["self", *params]]
        lines.append("    ) -> None:")
    else:
        lines.append(head)
    lines.append("        super().__init__()")
    first = registration_order(layout)[0] == "shortcut"  # timm's ResNetV2, torchvision's RegNet
    if cls.has_downsample and first:
        lines.append(f"        self.{cls.shortcut_attr} = {cls.shortcut_attr}")
    made: set[str] = set()
    for i, op in enumerate(template):
        lines += _nested_assignment(op.name, _expr(op, cls.value_of(i, op)), made)
    if cls.has_drop_path:
        lines.append("        self.drop_path = DropPath(drop_path) if drop_path > 0 else None")
    if cls.has_downsample and not first:
        lines.append(f"        self.{cls.shortcut_attr} = {cls.shortcut_attr}")
    lines += ["", "    def forward(self, x: Tensor) -> Tensor:"]
    writer = _ForwardLines(cls)
    run_block(cls.blocks[0], "x", writer)
    lines += writer.lines
    lines.append("        return out")
    return "\n".join(lines) + "\n"


def _attribute(name: str) -> str:
    """``self.`` + a dotted module name as Python reaches it: ``f.a.0`` → ``self.f.a[0]``."""
    return "self" + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in name.split("."))


def _nested_assignment(name: str, expr: str, made: set[str]) -> list[str]:
    """Lines that set the module ``name`` of a block class, creating the Sequentials a dotted name sits in
    (``conv1.conv``: timm's RegNet; ``f.a.0``: torchvision's), each once (``made``)."""
    parts = name.split(".")
    out: list[str] = []
    for n in range(1, len(parts)):
        prefix = ".".join(parts[:n])
        if prefix not in made:
            made.add(prefix)
            out.append(_set(parts[:n], "nn.Sequential()"))
    return [*out, _set(parts, expr)]


def _set(parts: list[str], expr: str) -> str:
    if len(parts) == 1:
        return f"        self.{parts[0]} = {expr}"
    return f'        {_attribute(".".join(parts[:-1]))}.add_module("{parts[-1]}", {expr})'


class _ForwardLines(Visitor[str]):
    """A block class's ``forward``, walked: a line per layer of the template block, the value a variable name.
    The shortcut ops are one ``downsample`` module (an argument) and drop path an optional module, both as
    the class has them for all its blocks."""

    def __init__(self, cls: _BlockClass) -> None:
        self.cls = cls
        self.lines: list[str] = []

    def op(self, op: P.Op, x: str, part: Part) -> str:
        if part == "shortcut" or isinstance(op, P.DropPath):
            return x
        out = "pre" if part == "pre" else "out"
        self.lines.append(f"        {out} = {_attribute(op.name)}({x})")
        return out

    def branch_end(self, x: str) -> str:
        if self.cls.has_drop_path:
            self.lines += ["        if self.drop_path is not None:", f"            out = self.drop_path({x})"]
        return x

    def add(self, main: str, shortcut: str) -> str:
        # the identity reads the pre-activated input where the block kind says so (preact_regnet, issue 19)
        identity_pre = any(shortcut_source(b) == "pre" and not part_ops(b, "shortcut") for b in self.cls.blocks)
        self.lines.append(f"        shortcut = {'pre' if identity_pre else 'x'}")
        if self.cls.has_downsample:
            src = "pre" if self.cls.shortcut_reads_pre else "x"
            attr = self.cls.shortcut_attr
            self.lines += [f"        if self.{attr} is not None:", f"            shortcut = self.{attr}({src})"]
        in_place = add_in_place(self.cls.blocks[0])
        self.lines.append(f"        {main} += shortcut" if in_place else f"        {main} = {main} + shortcut")
        return main


def _param_type(cls: _BlockClass, param: str) -> str:
    template = cls.template
    for (i, name), arg in cls.lifted.items():
        if arg == param:
            return "float" if isinstance(_fields(template[i])[name], float) else "int"
    return "int"


def _block_doc(cls: _BlockClass) -> str:
    b = cls.blocks[0]
    post_ops = part_ops(b, "post")
    parts = [op.name for op in _template_ops(b) if op not in post_ops]
    add = " + shortcut" if b.has_add else ""
    post = ", then " + ", ".join(op.name for op in post_ops) if post_ops else ""
    return f"{b.kind} block: {' → '.join(parts)}{add}{post}."


def _docstring(plan: P.Plan) -> str:
    text = f"{plan.name}: {plan.description}" if plan.description else plan.name
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    body = textwrap.fill(text, 116)
    note = "Generated by resnetdsl from its plan; imports only torch. Same state_dict keys as resnetdsl.build_model."
    return f'"""{body}\n\n{note}\n"""'


def to_python(plan: P.Plan) -> str:
    """The source of a standalone module defining the network of ``plan`` (class name from the plan's name).

    Raises:
        KeyError: the plan holds an op type this backend has no emitter for.
    """
    refuse_unexported(plan)
    writer = Writer(plan)
    classes = _block_classes(plan)
    class_of = {id(b): cls for cls in classes for b in cls.blocks}
    top: list[tuple[str, Call | str]] = [(op.name, _expr(op)) for op in plan.stem]
    for stage in plan.stages:
        items: list[tuple[str, Call | str]] = []
        for block in stage.blocks:
            down = None
            if part_ops(block, "shortcut"):
                grouped = writer.group([(op.name, _expr(op)) for op in part_ops(block, "shortcut")])
                assert len(grouped) == 1 and grouped[0][0] == class_of[id(block)].shortcut_attr, grouped
                down = grouped[0][1]
                if isinstance(down, Call):
                    down = dataclasses.replace(down, explode=False)
            items.append((block.name, class_of[id(block)].call(block, down)))
        top.append((stage.name, stage_expr(writer, items)))
    top += [(op.name, _expr(op)) for op in (*plan.final, *plan.head)]
    feature_ops = [*(op.name for op in plan.stem), *(s.name for s in plan.stages), *(op.name for op in plan.final)]
    features = {n.partition(".")[0] for n in feature_ops}
    grouped = writer.group(top)

    net = camel(plan.name)
    if net in writer.container_names or net in {c.name for c in classes}:
        net += "Net"
    init = []
    for name, expr in grouped:
        lead = f"self.{name} = "
        text = expr.layout(8, len(lead)) if isinstance(expr, Call) else expr
        init.append(f"        {lead}{text}")
    feats = [n for n, _ in grouped if n in features]
    heads = [n for n, _ in grouped if n not in features]
    body = [
        f"class {net}(nn.Module):",
        f'    """{_oneline(plan)}"""',
        "",
        "    def __init__(self) -> None:",
        "        super().__init__()",
        *init,
        "        for m in self.modules():",
        "            if isinstance(m, nn.Conv2d):",
        '                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")',
        "            elif isinstance(m, nn.BatchNorm2d | nn.GroupNorm):",
        "                nn.init.ones_(m.weight)",
        "                nn.init.zeros_(m.bias)",
        *zero_init_source(plan),
        "",
        *frozen_source(plan),
        "    def forward_features(self, x: Tensor) -> Tensor:",
        *(f"        x = self.{n}(x)" for n in feats),
        "        return x",
        "",
        *forward_source(plan, feats, heads),
    ]
    code = [container_source(n, c) for c, n in writer.containers.items()]
    code += [_block_class_source(cls, plan.layout) for cls in classes]
    code.append("\n".join(body))
    helpers = helper_sources("\n".join(code))
    text = "\n".join(helpers)
    imports = ["import torch"] if re.search(r"\btorch\.", text) else []
    imports += ["import torch.nn.functional as F"] if re.search(r"\bF\.", text) else []
    imports.append("from torch import Tensor, nn")
    parts = [_docstring(plan), "\n".join(imports), *helpers, *code]
    return (
        "\n\n\n".join(p.rstrip("\n") for p in parts)
        .replace('"""\n\n\nimport', '"""\n\nimport', 1)
        .replace('"""\n\n\nfrom', '"""\n\nfrom', 1)
        + "\n"
    )


def _oneline(plan: P.Plan) -> str:
    kinds = sorted({b.kind for _, b in plan.blocks()})
    depths = ", ".join(str(s.depth) for s in plan.stages)
    return f"{plan.name}: stages of {depths} {'/'.join(kinds)} blocks."
