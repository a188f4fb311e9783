"""Small things a reader trips on: a mixed stage's cluster title counts each kind; block rows say SE/ECA/group
norm."""

from __future__ import annotations

import resnetdsl

MIXED = {"extends": "resnet18", "stages": {1: {"blocks": [{"at": 1, "block": "bottleneck"}]}}}


def test_a_mixed_stage_title_counts_each_block_kind() -> None:
    source = resnetdsl.render(MIXED, detail="block").source
    assert "1 × BasicBlock, 1 × Bottleneck" in source
    assert "+" not in "".join(line for line in source.splitlines() if "layer2" in line and "×" in line)
    assert "2 × BasicBlock" in source


def test_block_rows_mark_attention_and_group_norm() -> None:
    def kinds(source: object) -> list[str]:
        return [r.kind for r in resnetdsl.summarize(source).rows_at("block") if r.name == "layer1.1"]

    assert kinds("seresnet50") == ["bottleneck, SE"]
    assert kinds("ecaresnet50d") == ["bottleneck, ECA"]
    assert kinds({"extends": "resnet18", "defaults": {"norm": "group"}}) == ["basic, group norm"]
    assert kinds("resnet18") == ["basic"]
