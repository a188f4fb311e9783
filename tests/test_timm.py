"""Bag-of-Tricks variants against live timm: deep and tiered stems, avg-pool projection shortcuts."""

from __future__ import annotations

import pytest
import torch

import resnetdsl

timm = pytest.importorskip("timm")

TIMM = ["resnet18d", "resnet26t", "resnet50c", "resnet50d"]


@pytest.mark.parity
@pytest.mark.parametrize("name", TIMM)
def test_timm_parity(name: str) -> None:
    ref = timm.create_model(name, pretrained=False).eval()
    ours = resnetdsl.build_model(name, seed=0).eval()
    ref_sd, our_sd = ref.state_dict(), ours.state_dict()
    assert list(our_sd) == list(ref_sd)
    assert [v.shape for v in our_sd.values()] == [v.shape for v in ref_sd.values()]
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in ref.parameters())
    ours.load_state_dict(ref_sd, strict=True)
    x = torch.randn(2, 3, 160, 160, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=0, atol=0)


def test_resnet50d_shortcut_is_avgpool_then_conv() -> None:
    model = resnetdsl.build_model("resnet50d", device="meta")
    ds = model.layer2[0].downsample
    assert isinstance(ds[0], torch.nn.AvgPool2d)
    assert (ds[0].kernel_size, ds[0].stride, ds[0].ceil_mode, ds[0].count_include_pad) == (2, 2, True, False)
    assert ds[1].stride == (1, 1) and ds[1].kernel_size == (1, 1)
    assert isinstance(model.layer1[0].downsample[0], torch.nn.Identity)  # stride 1: no pooling, as in timm
