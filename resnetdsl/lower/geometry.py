"""Strides and dilation: the output stride rule (timm, torchvision) and the backbone checks."""

from __future__ import annotations

from resnetdsl.lower.common import _Issues
from resnetdsl.spec import Spec


def _stem_reduction(spec: Spec) -> int:
    """How much the stem downsamples: 2 for its strided conv (not the CIFAR stem), 2 more for its pool."""
    st = spec.stem
    pool = st.pool or ("none" if st.kind == "conv3" else "max")
    return (1 if st.kind == "conv3" else 2) * (1 if pool == "none" else 2)


def _strides_and_dilations(spec: Spec, issues: _Issues) -> list[tuple[int, int, int]]:
    """Per stage: (stride of its first block, dilation of its first block's first 3×3, dilation of its other
    3×3 convs).

    timm's ``make_blocks`` and torchvision's ``_make_layer``: once the stem and the stages before have reduced
    the input by ``output_stride``, a stage's stride becomes 1 and multiplies the dilation instead; a stage's
    first block keeps the previous stage's dilation in its first 3×3 conv. A stage's own ``dilation`` replaces
    the one it would get; the dilation carries on to the stages after.
    """
    target = spec.output_stride
    net = _stem_reduction(spec)
    reached = [net]
    dilation = 1
    out: list[tuple[int, int, int]] = []
    for st in spec.stages:
        stride, new = st.stride, dilation
        if target is not None and net >= target:
            stride, new = 1, dilation * st.stride
        else:
            net *= stride
            reached.append(net)
        if st.dilation is not None:
            new = st.dilation
        out.append((stride, dilation, new))
        dilation = new
    if target is not None and target not in reached:
        says = ", ".join(str(r) for r in dict.fromkeys(reached))
        issues.add(
            ("output_stride",),
            f"the network never reduces its input by exactly {target} (the stem and the stages reach {says}); "
            "choose one of those, or change the strides",
        )
    return out


def _backbone_checks(spec: Spec, issues: _Issues) -> None:
    """``features`` and ``frozen_stages`` must name stages the network has."""
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
