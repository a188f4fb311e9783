"""A design-space file → :class:`Space`: read safely with marks by resnetdsl's own YAML reader, every problem
reported at once as ``file:line:col: path: message``.

```yaml
name: regnetx_400mf
base:                              # a preset, a spec file (relative to this one) or a spec written here;
  regnet: {w0: 24, wa: 24.48, wm: 2.54, depth: 22, group_width: 16}   # or a regnet:/anynet: generator
vary:
  regnet.depth: 12..28
  regnet.w0: 8..256 log step 8
  regnet.wa: 8.0..256.0 log step 0.1
  regnet.wm: 2.0..3.0 log step 0.001
  regnet.group_width: [8, 16, 24, 32, 48, 64]
  # stages.*.width: [64, 96, 128]        one variable per stage; {values: [...], shared: true} for one for all
budget: [gmacs <= 0.4, params <= 5M, stages == 4]
target: gmacs = 0.4                # members within `tolerance` (5 %) of it
pareto: [gmacs, params]            # each minimised; `max FIGURE` to maximise
constraints: [shared_group_width]  # AnyNetX: shared_bottleneck_ratio, shared_group_width, widths_nondecreasing, …
count: 1000                        # sampled (or every member, when the space has no more)
seed: 0
batch: 64                          # for the memory figure
```
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

from resnetdsl.errors import Issue, Mark, Path, SpecError
from resnetdsl.load import Document, SourceMap
from resnetdsl.space.figures import (
    BASE_FIGURES,
    Condition,
    Objective,
    parse_condition,
    parse_objective,
)
from resnetdsl.space.variables import Values, Variable, parse_values

MAX_COUNT = 10_000_000
Written = tuple[str, Mark | None, Path]
"""A condition or objective as written, with where its problems are reported."""
Constraint = Literal["shared_bottleneck_ratio", "shared_group_width", "widths_nondecreasing", "depths_nondecreasing"]


class SpaceFile(BaseModel):
    """The keys of a space file."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    name: Annotated[str, Strict()] = Field("space", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$", max_length=100)
    """Name of the space; written specs are called NAME_INDEX."""
    description: Annotated[str, Strict()] = ""
    base: Annotated[str, Strict()] | dict[str, Any]
    """The spec every candidate starts from: a preset name, a spec file, or a spec (or generator) written here."""
    vary: dict[str, Any] = {}
    """Key path → the values it takes."""
    constraints: tuple[Constraint, ...] = ()
    budget: tuple[Annotated[str, Strict()], ...] = ()
    target: Annotated[str, Strict()] | None = None
    tolerance: Annotated[float, Strict()] = Field(0.05, gt=0.0, lt=1.0)
    pareto: tuple[Annotated[str, Strict()], Annotated[str, Strict()]] = ("gmacs", "params")
    count: Annotated[int, Strict()] = Field(1000, ge=1, le=MAX_COUNT)
    seed: Annotated[int, Strict()] = Field(0, ge=0, lt=2**63)
    batch: Annotated[int, Strict()] | None = Field(None, ge=1, le=1 << 20)


@dataclass(frozen=True)
class Space:
    """A design space: a base spec, its variables, and what a member must meet."""

    name: str
    description: str
    base: dict[str, Any]
    """The base document (``extends`` applied)."""
    generator: str | None
    """``regnet`` or ``anynet`` when the base generates its stages (expanded per candidate)."""
    variables: tuple[Variable, ...]
    budget: tuple[Condition, ...] = ()
    constraints: tuple[str, ...] = ()
    target: Condition | None = None
    tolerance: float = 0.05
    pareto: tuple[Objective, Objective] = (Objective("gmacs"), Objective("params"))
    count: int = 1000
    seed: int = 0
    batch: int | None = None
    file: str | None = None

    @property
    def size(self) -> int | None:
        """Members of the space (``None``: a continuum)."""
        n = 1
        for v in self.variables:
            k = v.values.size
            if k is None:
                return None
            n *= k
        return n

    @property
    def figures(self) -> tuple[str, ...]:
        """The figures each candidate gets: the usual three, and every one a condition or objective names."""
        names = [*BASE_FIGURES, *(o.figure for o in self.pareto), *(c.figure for c in self.budget)]
        if self.target is not None:
            names.append(self.target.figure)
        return tuple(dict.fromkeys(names))


def read_space(source: Any) -> Document:
    """A path, YAML text or mapping → the space file's document with marks."""
    from resnetdsl.load import parse_yaml, read_file

    if isinstance(source, Mapping):
        return Document(dict(source), SourceMap(), None)
    if isinstance(source, os.PathLike) or (isinstance(source, str) and "\n" not in source and ":" not in source):
        return read_file(source, shown=os.path.normpath(os.fspath(source)))
    if isinstance(source, str | bytes):
        return parse_yaml(source)
    raise TypeError(f"expected a path, YAML text or a mapping, got {type(source).__name__}")


def load_space(source: Any) -> Space:
    """Read and check a space file (a path, YAML text or a mapping).

    Raises:
        SpecError: every problem of the file, its base and its keys, with ``file:line:col``.
    """
    doc = read_space(source)
    try:
        sf = SpaceFile.model_validate(doc.data)
    except ValidationError as exc:
        raise SpecError(_pydantic_issues(exc, doc.source, SpaceFile)) from None
    issues: list[Issue] = []
    base = _base(sf.base, doc, issues)
    generator = None if base is None else _generator(base)
    if base is not None:
        issues += check_base(base, generator)
    variables = _variables(sf, doc, base, generator, issues) if base is not None else ()
    space = Space(sf.name, sf.description, base.data if base is not None else {}, generator, variables, file=doc.file)
    space = adjust(
        space,
        budget=[(t, doc.source.mark_for(("budget", i)), ("budget", i)) for i, t in enumerate(sf.budget)],
        constraints=sf.constraints,
        target=(sf.target, doc.source.mark_for(("target",)), ("target",)) if sf.target is not None else None,
        tolerance=sf.tolerance,
        pareto=[(t, doc.source.mark_for(("pareto", i)), ("pareto", i)) for i, t in enumerate(sf.pareto)],
        count=sf.count,
        seed=sf.seed,
        batch=sf.batch,
        issues=issues,
    )
    if issues:
        raise SpecError(issues)
    return space


def adjust(
    space: Space,
    *,
    budget: Sequence[Written] = (),
    constraints: Sequence[str] | None = None,
    target: Written | None = None,
    tolerance: float | None = None,
    pareto: Sequence[Written] | None = None,
    count: int | None = None,
    seed: int | None = None,
    batch: int | None = None,
    issues: list[Issue] | None = None,
) -> Space:
    """``space`` with more budget lines and other settings (from the file, or the command line: each text
    with the mark its problems get).

    Raises:
        SpecError: a condition or objective that does not parse (unless ``issues`` collects them).
    """
    found: list[Issue] = [] if issues is None else issues
    start = len(found)

    def parsed(written: Written, what: Any) -> Any:
        text, mark, path = written
        try:
            return what(text)
        except ValueError as exc:
            found.append(Issue(path, str(exc), mark))
            return None

    lines = [parsed(w, parse_condition) for w in budget]
    changes: dict[str, Any] = {"budget": (*space.budget, *(c for c in lines if c is not None))}
    if target is not None:
        changes["target"] = parsed(target, lambda t: parse_condition(t, target=True))
    if pareto is not None and len(pareto) != 2:
        found.append(Issue(pareto[0][2][:1], "expected two figures, such as gmacs,params", pareto[0][1]))
    elif pareto is not None:
        objectives = [parsed(w, parse_objective) for w in pareto]
        if None not in objectives:
            changes["pareto"] = tuple(objectives)
    if constraints is not None:
        changes["constraints"] = tuple(dict.fromkeys([*space.constraints, *constraints]))
    for key, value in (("tolerance", tolerance), ("count", count), ("seed", seed), ("batch", batch)):
        if value is not None:
            changes[key] = value
    out = dataclasses.replace(space, **changes)
    if out.batch is None and "memory" in out.figures:
        uses = [w for w, c in zip(budget, lines, strict=True) if c is not None and c.figure == "memory"]
        uses += [w for w in [target, *(pareto or ())] if w is not None and "memory" in w[0]]
        _, mark, path = uses[0] if uses else ("", None, ())
        found.append(Issue(path, "the memory figure needs a batch size: give batch: N (or --batch N)", mark))
    if issues is None and len(found) > start:
        raise SpecError(found)
    return out


def _pydantic_issues(exc: ValidationError, source: SourceMap, model: type[BaseModel]) -> list[Issue]:
    from resnetdsl.load import did_you_mean, issues_from_pydantic

    out = []
    for issue in issues_from_pydantic(exc, source):
        if issue.message.startswith("unknown key '") and "did you mean" not in issue.message and len(issue.path) == 1:
            issue = dataclasses.replace(
                issue, message=issue.message + did_you_mean(str(issue.path[0]), model.model_fields)
            )
        out.append(issue)
    return out


def _base(base: str | dict[str, Any], doc: Document, issues: list[Issue]) -> Document | None:
    """The base document, ``extends`` applied; ``None`` (and the problems in ``issues``) when it cannot be read."""
    from resnetdsl.check import place
    from resnetdsl.load import preset_names, read_source, resolve_extends

    mark = doc.source.mark_for(("base",))
    try:
        if isinstance(base, str):
            if base in preset_names() or doc.file is None or os.path.isabs(base):
                found = read_source(base)
            else:
                found = read_source(os.path.join(os.path.dirname(doc.file), base))
        else:
            rooted = SourceMap(
                {p[1:]: m for p, m in doc.source.values.items() if p[:1] == ("base",)},
                {p[1:]: m for p, m in doc.source.keys.items() if p[:1] == ("base",)},
            )
            found = Document(base, rooted, doc.file)
        return resolve_extends(found)
    except SpecError as exc:
        for issue in exc.issues:
            issues.append(place(issue, None, doc.file, mark) if isinstance(base, str) else issue)
        return None


def _generator(base: Document) -> str | None:
    from resnetdsl.regnet import generator_of

    return generator_of(base.data)


def check_base(base: Document, generator: str | None) -> list[Issue]:
    """Every problem of the base spec itself (a generator: of its keys, then of the spec it expands to)."""
    from resnetdsl.check import check_with_issues
    from resnetdsl.load import spec_from_document

    if generator is not None:
        from resnetdsl.regnet import expand

        try:
            data, _ = expand(base.data)
        except SpecError as exc:
            return [dataclasses.replace(i, mark=base.source.mark_for(i.path)) for i in exc.issues]
        _, issues = check_with_issues(data)
        mark = base.source.mark_for((generator,))
        return [
            dataclasses.replace(i, path=(generator,), mark=mark, message=f"its stages: {i.format()}")
            for i in issues
            if i.severity == "error"
        ]
    try:
        spec = spec_from_document(base)
    except SpecError as exc:
        return exc.issues
    _, issues = check_with_issues(spec)
    return [i for i in issues if i.severity == "error"]


def _variables(
    sf: SpaceFile, doc: Document, base: Document, generator: str | None, issues: list[Issue]
) -> tuple[Variable, ...]:
    out: list[Variable] = []
    seen: dict[Path, str] = {}
    for key, raw in sf.vary.items():
        at = ("vary", key)
        key_mark, value_mark = doc.source.mark_for(at, key=True), doc.source.mark_for(at)
        shared = False
        if isinstance(raw, dict):
            unknown = set(raw) - {"values", "shared"}
            if unknown or "values" not in raw or not isinstance(raw.get("shared", False), bool):
                issues.append(Issue(at, "expected {values: [...] or LO..HI, shared: true|false}", value_mark))
                continue
            raw, shared = raw["values"], raw.get("shared", False)
        try:
            values = parse_values(raw)
            paths = expand_key(key, base.data, generator)
        except ValueError as exc:
            issues.append(Issue(at, str(exc), value_mark if "range" in str(exc) or "value" in str(exc) else key_mark))
            continue
        problem = _path_problem(paths[0], base, generator, values)
        if problem:
            issues.append(Issue(at, problem, key_mark))
            continue
        for p in paths:
            if p in seen:
                issues.append(Issue(at, f"sets the same key as '{seen[p]}'", key_mark))
            seen[p] = key
        if shared or len(paths) == 1:
            out.append(Variable(key, tuple(paths), values))
        else:
            out += [Variable(".".join(map(str, p)), (p,), values) for p in paths]
    return tuple(out)


def expand_key(key: str, data: Mapping[str, Any], generator: str | None) -> list[Path]:
    """The paths a key names in ``data``: one, or one per item where the key says ``*``.

    Raises:
        ValueError: a malformed key, an index past the end of a list, a ``*`` where there is no list.
    """
    parts = key.split(".")
    if not key or any(not p for p in parts):
        raise ValueError(f"'{key}' is not a dotted key path such as stages.2.depth")
    paths: list[list[str | int]] = [[]]
    node: Any = data
    for part in parts:
        if isinstance(node, list):
            if part == "*":
                paths = [[*p, i] for p in paths for i in range(len(node))]
                node = node[0] if node else None
                continue
            if not part.lstrip("-").isdigit() or not -len(node) <= int(part) < len(node):
                where = ".".join(parts[: parts.index(part)])
                raise ValueError(f"'{where}' has {len(node)} items (0 to {len(node) - 1}); there is no item '{part}'")
            i = int(part) % len(node)
            paths = [[*p, i] for p in paths]
            node = node[i]
            continue
        if part == "*":
            where = ".".join(parts[: parts.index(part)]) or "the base"
            raise ValueError(f"'*' stands for every item of a list, but '{where}' is no list in the base")
        paths = [[*p, part] for p in paths]
        node = node.get(part) if isinstance(node, dict) else None
    return [tuple(p) for p in paths]


def _path_problem(path: Path, base: Document, generator: str | None, values: Values) -> str | None:
    """Why ``path`` names no key of the spec language (or of the generator), else ``None``."""
    from resnetdsl.load import Override, apply_overrides, did_you_mean

    if generator is not None and path[0] in ("regnet", "anynet"):
        from resnetdsl.regnet import GENERATORS

        if path[0] != generator:
            return f"the base generates its stages with '{generator}', not '{path[0]}'"
        fields = dict(GENERATORS[generator].model_fields)
        if len(path) < 2 or path[1] not in fields:
            name = path[1] if len(path) > 1 else ""
            return f"unknown key '{name}' of {generator}{did_you_mean(str(name), fields)}"
        return None
    if generator is not None and path[0] not in ("name", "description", "input", "head"):
        return f"'{path[0]}' is generated by '{generator}'; vary {generator}.* instead"
    sample = values.value(0) if values.size is not None else values.lo
    try:
        apply_overrides(base, [Override(".".join(map(str, path)), sample, "vary")])
    except SpecError as exc:
        return exc.issues[0].message
    return None
