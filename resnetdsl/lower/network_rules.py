"""Lowering, step 2 (continued): the rules of the network as a whole, each written once: the block family and
layout, the stem, per-block entries, stage names, output stride, backbone keys and initialisation."""

from __future__ import annotations

from resnetdsl import blocks as B
from resnetdsl.errors import Path
from resnetdsl.lower.common import RESERVED_NAMES, _Issues, reserved_name_problem
from resnetdsl.lower.make import deep_stem_widths
from resnetdsl.lower.resolve import Network
from resnetdsl.ops import describe
from resnetdsl.plan import Plan


def family(net: Network, plan: Plan, issues: _Issues) -> None:
    """A network's blocks are all pre-activation or all post-activation: the stem and the end depend on it."""
    spec = net.spec
    kinds = [st.config.block for st in net.stages]
    for i, kind in enumerate(kinds):
        if (kind in B.PREACT) == net.preact:
            continue
        if spec.stages[i].block is not None:
            at: Path = ("stages", i, "block")
            this, other = kind, f"stages[0] uses '{kinds[0]}'"
        else:  # stage i inherits the default; stage 0 set its own kind
            at = ("stages", 0, "block")
            this, other = kinds[0], f"stages[{i}] uses '{kind}'"
        fam = "pre" if this in B.PREACT else "post"
        issues.add(
            at,
            f"'{this}' is a {fam}-activation block but {other}; a network's blocks are all pre-activation or "
            "all post-activation (the stem and the network's end depend on it)",
        )
        break
    reported: set[Path] = set()
    for b in net.blocks():
        at = b.settings.origin.get("block", ())
        if b.entry is None or at[2:3] != ("blocks",) or at in reported or (b.kind in B.PREACT) == net.preact:
            continue
        reported.add(at)
        issues.add(
            at,
            f"'{b.kind}' mixes pre- and post-activation blocks in one network; "
            f"use {'preact_' if net.preact else ''}{b.kind.removeprefix('preact_')}",
        )


def layout(net: Network, plan: Plan, issues: _Issues) -> None:
    """``layout: resnetv2`` names what timm's ResNetV2 has names for: pre-activation blocks, numbered stages, a
    stem without a conv pool."""
    spec = net.spec
    if not net.timm_names:
        return
    if not net.preact:
        kind = net.stages[0].config.block
        issues.add(
            ("layout",),
            f"'resnetv2' names pre-activation networks only (stages[0] uses {kind} blocks); "
            f"use block: preact_{kind}, or layout: resnet",
        )
    for i, st in enumerate(spec.stages):
        if st.name is not None:
            issues.add(
                ("stages", i, "name"),
                "cannot be set with layout 'resnetv2', whose stages are stages.0, stages.1, …; "
                "remove it, or use layout: resnet",
                key=True,
            )
    if spec.stem.pool == "conv":
        issues.add(
            ("stem", "pool"),
            "'conv' has no module name in timm's ResNetV2 stem (layout 'resnetv2'); use max or none, or layout: resnet",
        )


def stem(net: Network, plan: Plan, issues: _Issues) -> None:
    """A deep stem's first two convs need at least one channel; ``mid_widths`` is the deep stem's only."""
    st = net.spec.stem
    if st.kind == "deep" and min(deep_stem_widths(net.spec)) < 1:
        issues.add(("stem", "width"), f"a deep stem needs width >= 2 or explicit mid_widths (got {st.width})")
    if st.kind != "deep" and st.mid_widths is not None:
        issues.add(("stem", "mid_widths"), f"applies only to the deep stem (this stem is '{st.kind}')", key=True)


def entries(net: Network, plan: Plan, issues: _Issues) -> None:
    """Each per-block entry names blocks of its stage, each block at most once, and sets something."""
    spec = net.spec
    for st in net.stages:
        stage = spec.stages[st.index]
        depth = stage.depth
        for c in st.choices:
            if c.block is None:
                issues.add(
                    c.path,
                    f"no block {c.written} in a stage of {depth} block{'s' if depth != 1 else ''} "
                    f"(0…{depth - 1}, or -{depth}…-1 from the end)",
                )
            elif c.taken_by is not None:
                issues.add(c.path, f"block {c.block} is already chosen by stages[{st.index}].blocks[{c.taken_by}]")
        for k, entry in enumerate(stage.blocks):
            if entry.at == ():
                issues.add(("stages", st.index, "blocks", k, "at"), "must name at least one block")
            if not (entry.model_fields_set - {"at"}):
                issues.add(("stages", st.index, "blocks", k), "sets nothing but 'at'; give a setting, width or stride")


_GROUP_WORDS = {
    "stem": "the layers before the stages",
    "final": "the norm and activation after the last stage of a pre-activation network",
    "head": "the layers after the stages",
}
"""Names of summary rows and diagram clusters that group layers (they name no module): no stage may take them."""


def stage_names(net: Network, plan: Plan, issues: _Issues) -> None:
    """Stage names are unique and name no attribute of the model nor a module of its stem, end or head."""
    parts = (("stem", plan.stem), ("final", plan.final), ("head", plan.head))
    taken = {op.name.partition(".")[0]: part for part, ops in parts for op in ops}
    names: dict[str, int] = {}
    for st in net.stages:
        i, own = st.index, net.spec.stages[st.index].name
        if st.name in names:
            issues.add(("stages", i, "name"), f"duplicate stage name '{st.name}' (also stages[{names[st.name]}])")
        names[st.name] = i
        if own is None:
            continue
        if own in RESERVED_NAMES:
            issues.add(("stages", i, "name"), reserved_name_problem(own))
        elif own in _GROUP_WORDS and own not in taken:
            issues.add(
                ("stages", i, "name"),
                f"stage name '{own}' is how summaries and diagrams name {_GROUP_WORDS[own]}; choose another",
            )
        elif own in taken:
            issues.add(
                ("stages", i, "name"), f"stage name '{own}' is taken by the {taken[own]} module '{own}'; choose another"
            )


def output_stride(net: Network, plan: Plan, issues: _Issues) -> None:
    """``output_stride`` must be a reduction the network reaches exactly (strides of stages and entries alike)."""
    target = net.spec.output_stride
    if target is not None and target not in net.reached:
        says = ", ".join(str(r) for r in dict.fromkeys(net.reached))
        issues.add(
            ("output_stride",),
            f"the network never reduces its input by exactly {target} (the stem and the stages reach {says}); "
            "choose one of those, or change the strides",
        )


def backbone(net: Network, plan: Plan, issues: _Issues) -> None:
    """``features`` and ``frozen_stages`` name stages the network has; ``norm_eval`` needs a batch norm."""
    spec = net.spec
    n = len(spec.stages)
    if spec.features is not None:
        idx = spec.features.out_indices
        for k, i in enumerate(idx):
            if i > n:
                issues.add(
                    ("features", "out_indices", k),
                    f"{i} is no feature map: 0 is the stem's, 1 to {n} the stages' (the network has {n} stages)",
                )
            elif k and i <= idx[k - 1]:
                issues.add(
                    ("features", "out_indices", k),
                    f"must be in increasing order without repeats (got {i} after {idx[k - 1]})",
                )
    if spec.frozen_stages is not None and spec.frozen_stages > n:
        issues.add(
            ("frozen_stages",),
            f"the network has {n} stage{'s' if n != 1 else ''}; freeze at most {n} (got {spec.frozen_stages})",
        )
    batch = any(describe(op).batch_stats(op) for _, op in plan.named_ops())
    if spec.norm_eval and not batch:
        issues.add(("norm_eval",), "has no effect: the network has no batch norm", key=True)


def zero_init(net: Network, plan: Plan, issues: _Issues) -> None:
    """``init.zero_init_residual`` zeroes the end of every residual branch: there must be one, and each block
    must have a shortcut (or nothing would reach the head)."""
    if not net.spec.init.zero_init_residual:
        return
    if all(b.kind not in B.PREACT and b.config.norm_act.norm == "none" for b in net.blocks()):
        issues.add(
            ("init", "zero_init_residual"),
            "has no effect with norm 'none' (no residual branch ends in a norm)",
            key=True,
        )
    plain = [st for st in net.stages if any(b.config.shortcut == "none" for b in st.blocks)]
    if plain:
        which = ", ".join(f"stages[{st.index}]" for st in plain[:3]) + (", …" if len(plain) > 3 else "")
        issues.add(
            ("init", "zero_init_residual"),
            f"would zero the output of every block without a shortcut ({which} "
            f"use{'s' if len(plain) == 1 else ''} shortcut 'none'), "
            "so nothing reaches the head; set it to false or give those stages a shortcut",
        )
