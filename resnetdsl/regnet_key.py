"""A spec's ``regnet:`` key (issue 19): checked with its marks and replaced, when the spec is loaded, by the
``simple`` stem and the stages it generates (:func:`resnetdsl.regnet.regnet_widths`), in RegNet's own block
kind. Every command then reads an ordinary spec; ``show`` prints the generated stages.

What the key generates: ``stem: {kind: simple, width: stem_width}``, ``defaults: {block: regnet,
bottleneck_ratio, attention: se, se_ratio}`` (the last two for RegNet Y; ``bottleneck_ratio`` when it is not 1)
and one stage per run of equal widths, ``{depth, width, stride: 2, group_width}``; a ``stem`` and ``defaults``
written beside the key are merged over those (the written keys win). ``stages`` cannot be written with it.
Problems in generated stages are placed at the ``regnet`` key.
"""

from __future__ import annotations

from typing import Any

from resnetdsl.errors import Issue, SpecError
from resnetdsl.load.document import Document, SourceMap
from resnetdsl.regnet import RegNetSpec, regnet_widths
from resnetdsl.regnet import generated as regnet_parts

KEY = "regnet"


def generated(r: RegNetSpec) -> dict[str, Any]:
    """The ``stem``, ``defaults`` and ``stages`` a ``regnet:`` key stands for (plain data).

    Raises:
        ValueError: a stage whose bottleneck width comes out 0.
    """
    return regnet_parts(regnet_widths(r).stages, r.stem_width, r.se_ratio, r.bottleneck_ratio)


def expand_regnet(doc: Document) -> Document:
    """``doc`` with its ``regnet:`` key replaced by what it generates (unchanged without one).

    Raises:
        SpecError: every problem of the key (at its marks), and ``stages`` written beside it.
    """
    data = doc.data
    if not isinstance(data, dict) or data.get(KEY) is None:
        return doc
    from pydantic import BaseModel, ConfigDict, ValidationError

    from resnetdsl.load.messages import did_you_mean, issues_from_pydantic

    class _Holder(BaseModel):
        model_config = ConfigDict(extra="forbid")
        regnet: RegNetSpec

    src = doc.source
    issues: list[Issue] = []
    if "stages" in data:
        issues.append(
            Issue(
                ("stages",),
                "cannot be set with 'regnet', which generates the stages; remove one of them",
                src.mark_for(("stages",), key=True),
            )
        )
    parsed: RegNetSpec | None = None
    try:
        parsed = _Holder.model_validate({KEY: data[KEY]}).regnet
    except ValidationError as exc:
        for issue in issues_from_pydantic(exc, src):
            message = issue.message
            if message.startswith("unknown key '") and "did you mean" not in message:
                message += did_you_mean(str(issue.path[-1]), RegNetSpec.model_fields)
            issues.append(Issue(issue.path, message, issue.mark))
    made: dict[str, Any] = {}
    if parsed is not None:
        try:
            made = generated(parsed)
        except ValueError as exc:
            issues.append(Issue((KEY,), str(exc), src.mark_for((KEY,))))
    if issues:
        raise SpecError(issues)
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("stem", "defaults"):
            continue  # merged over the generated ones, in the generator's place
        if key != KEY:
            out[key] = value
            continue
        for name in ("stem", "defaults"):
            written = data.get(name)
            out[name] = {**made[name], **written} if isinstance(written, dict) else made[name]
        out["stages"] = made["stages"]
    source = SourceMap(dict(src.values), dict(src.keys))
    here = src.mark_for((KEY,))
    for name in ("stem", "defaults", "stages"):
        if here is not None and (name,) not in source.values:
            source.values[(name,)] = here
    return Document(out, source, doc.file, via=doc.via)
