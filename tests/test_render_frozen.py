"""Frozen parts in diagrams (issue 22, item 3): ``frozen_stages`` greys, dashes and tags the stem and the frozen
stages' clusters at every level, and the legend says what is frozen; ``norm_eval`` gets its own legend line."""

from __future__ import annotations

import importlib
import re

import pytest

import resnetdsl

R = importlib.import_module("resnetdsl.render")
L = importlib.import_module("resnetdsl.render.legend")

FROZEN_2 = "frozen (frozen_stages: 2): stem, layer1, layer2; no gradients, norms in eval mode"
NORM_EVAL = "norm_eval: every batch norm stays in eval mode in training (running statistics fixed)"


def _dot(detail: str, **overrides: object) -> str:
    plan = resnetdsl.plan_of("resnet18", overrides={"input.size": [64, 64], **overrides})
    return str(resnetdsl.render(plan, detail=detail).source)


def _clusters(dot: str) -> dict[str, str]:
    """Each part's cluster (stem, s0…, head) → its attribute line."""
    return dict(re.findall(r"subgraph cluster_(stem|s\d+|final|head) \{\n\s*(.*)\n", dot))


@pytest.mark.parametrize("detail", ["stage", "block", "layer"])
def test_frozen_stages_are_marked_and_explained(detail: str) -> None:
    dot = _dot(detail, frozen_stages=2)
    clusters = _clusters(dot)
    assert sorted(clusters) == ["head", "s0", "s1", "s2", "s3", "stem"]
    for part in ("stem", "s0", "s1"):
        attrs = clusters[part]
        assert 'style="rounded,filled,dashed"' in attrs and 'fillcolor="#e2e2e2"' in attrs, part
        assert re.search(r"label=<.*<b>frozen</b></font>> ", attrs), part
    for part in ("s2", "s3", "head"):
        assert "dashed" not in clusters[part] and "frozen" not in clusters[part], part
    assert FROZEN_2 in dot and "<b>training</b>" in dot
    assert NORM_EVAL not in dot
    R.layout(dot, "svg")  # Graphviz draws it without a warning


@pytest.mark.parametrize("detail", ["stage", "block", "layer"])
def test_nothing_frozen_nothing_marked(detail: str) -> None:
    dot = _dot(detail)
    assert "frozen" not in dot and "#e2e2e2" not in dot and "<b>training</b>" not in dot
    assert not any("dashed" in attrs for attrs in _clusters(dot).values())


def test_frozen_stages_zero_freezes_the_stem_only_and_norm_eval_has_its_line() -> None:
    dot = _dot("block", frozen_stages=0, norm_eval=True)
    clusters = _clusters(dot)
    assert [p for p, attrs in clusters.items() if "dashed" in attrs] == ["stem"]
    assert "frozen (frozen_stages: 0): stem; no gradients, norms in eval mode" in dot
    assert NORM_EVAL in dot
    dot = _dot("stage", norm_eval=True)  # norm_eval alone: the legend line, no frozen cluster
    assert NORM_EVAL in dot and not any("dashed" in attrs for attrs in _clusters(dot).values())


def test_frozen_parts_follow_the_plan() -> None:
    plan = resnetdsl.plan_of("resnet50", overrides={"frozen_stages": 3})
    assert L.frozen_parts(plan) == ["stem", "layer1", "layer2", "layer3"]
    assert L.frozen_parts(resnetdsl.plan_of("resnet50")) == []
