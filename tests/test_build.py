"""The torch builder against live torchvision: names, shapes, strict loading, outputs, gradients, weights."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import resnetdsl
from tests.conftest import TORCHVISION

tvm = pytest.importorskip("torchvision.models")


@pytest.mark.parity
@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_parity(name: str) -> None:
    torch.manual_seed(0)
    ref = getattr(tvm, name)()
    ours = resnetdsl.build_model(name, seed=1)

    ref_sd, our_sd = ref.state_dict(), ours.state_dict()
    assert list(our_sd) == list(ref_sd)
    assert {k: v.shape for k, v in our_sd.items()} == {k: v.shape for k, v in ref_sd.items()}
    n_ref = sum(p.numel() for p in ref.parameters())
    assert sum(p.numel() for p in ours.parameters()) == n_ref
    assert n_ref == tvm.get_model_weights(name).DEFAULT.meta["num_params"]

    ours.load_state_dict(ref_sd, strict=True)
    ref.eval()
    ours.eval()
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=0, atol=0)


@pytest.mark.parity
@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnext50_32x4d", "wide_resnet50_2"])
def test_same_seed_gives_torchvision_weights(name: str) -> None:
    torch.manual_seed(1234)
    ref = getattr(tvm, name)()
    ours = resnetdsl.build_model(name, seed=1234)
    for (k, a), (k2, b) in zip(ref.state_dict().items(), ours.state_dict().items(), strict=True):
        assert k == k2
        assert torch.equal(a, b), k


@pytest.mark.parity
def test_zero_init_residual_matches_torchvision() -> None:
    torch.manual_seed(7)
    ref = tvm.resnet50(zero_init_residual=True)
    spec = resnetdsl.load_spec("resnet50").model_copy(update={"init": resnetdsl.spec.Init(zero_init_residual=True)})
    ours = resnetdsl.build_model(spec, seed=7)
    for k, v in ref.state_dict().items():
        assert torch.equal(v, ours.state_dict()[k]), k
    assert float(ours.layer2[1].bn3.weight.detach().abs().sum()) == 0.0


@pytest.mark.parity
@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_train_mode_gradients_equal(name: str) -> None:
    torch.manual_seed(0)
    ref = getattr(tvm, name)()
    ours = resnetdsl.build_model(name)
    ours.load_state_dict(ref.state_dict(), strict=True)
    ref.train()
    ours.train()
    x = torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    target = torch.tensor([1, 5, 7, 999])
    losses = []
    for model in (ref, ours):
        loss = nn.functional.cross_entropy(model(x), target)
        loss.backward()
        losses.append(loss.detach())
    torch.testing.assert_close(losses[0], losses[1], rtol=0, atol=0)
    ref_grads = {k: p.grad for k, p in ref.named_parameters()}
    for k, p in ours.named_parameters():
        assert p.grad is not None, k
        torch.testing.assert_close(p.grad, ref_grads[k], rtol=1e-5, atol=1e-6, msg=k)
    # running statistics moved identically in train mode
    for k, v in ref.state_dict().items():
        torch.testing.assert_close(ours.state_dict()[k], v, msg=k)


def test_seed_is_reproducible_and_leaves_global_rng_alone() -> None:
    torch.manual_seed(99)
    before = torch.get_rng_state()
    a = resnetdsl.build_model("cifar_resnet20", seed=5)
    assert torch.equal(torch.get_rng_state(), before)
    b = resnetdsl.build_model("cifar_resnet20", seed=5)
    c = resnetdsl.build_model("cifar_resnet20", seed=6)
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k
    assert not torch.equal(a.conv1.weight, c.conv1.weight)


def test_meta_device_builds_without_allocating() -> None:
    model = resnetdsl.build_model("resnet152", device="meta")
    assert all(p.device.type == "meta" for p in model.parameters())
    assert sum(p.numel() for p in model.parameters()) == 60_192_808


def test_dtype() -> None:
    model = resnetdsl.build_model("cifar_resnet20", dtype=torch.float64)
    assert all(p.dtype == torch.float64 for p in model.parameters())
    assert model(torch.zeros(1, 3, 32, 32, dtype=torch.float64)).dtype == torch.float64


def test_replaced_modules_are_used_by_forward() -> None:
    model = resnetdsl.build_model("resnet18", device="meta")
    model.fc = nn.Linear(512, 7, device="meta")
    assert model(torch.empty(1, 3, 64, 64, device="meta")).shape == (1, 7)
    model.layer4[1].conv2 = nn.Conv2d(512, 512, 3, padding=1, bias=False, device="meta")
    assert model.forward_features(torch.empty(2, 3, 64, 64, device="meta")).shape == (2, 512, 2, 2)


@pytest.mark.parametrize("source_kind", ["preset", "path", "text", "dict", "spec", "plan"])
def test_build_model_accepts_every_source_form(source_kind: str) -> None:
    from tests.conftest import SPECS

    path = SPECS / "cifar_resnet20.yaml"
    text = path.read_text()
    spec = resnetdsl.load_spec(path)
    source = {
        "preset": "cifar_resnet20",
        "path": path,
        "text": text,
        "dict": spec.model_dump(exclude_none=True),
        "spec": spec,
        "plan": resnetdsl.plan_of(spec),
    }[source_kind]
    model = resnetdsl.build_model(source, device="meta")
    assert sum(p.numel() for p in model.parameters()) == 269_722


def test_backbone_without_head_returns_feature_map() -> None:
    spec = resnetdsl.load_spec("resnet18").model_copy(update={"head": "none"})
    model = resnetdsl.build_model(spec).eval()
    assert not hasattr(model, "fc")
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 512, 2, 2)


def test_plain_network_has_no_shortcut() -> None:
    spec = resnetdsl.load_spec(
        "name: plain\nstem: {kind: conv3, width: 8}\ndefaults: {shortcut: none}\n"
        "stages: [{depth: 2, width: 8}, {depth: 2, width: 16, stride: 2}]\nhead: {num_classes: 3}\n"
    )
    model = resnetdsl.build_model(spec, seed=0).eval()
    assert not any("downsample" in k for k in model.state_dict())
    block = model.layer2[0]
    x = torch.randn(1, 8, 8, 8)
    # plain: the block is exactly its main path followed by the ReLU, nothing added
    expected = block.act2(block.bn2(block.conv2(block.act1(block.bn1(block.conv1(x))))))
    torch.testing.assert_close(block(x), expected, rtol=0, atol=0)


def test_identity_pad_shortcut_subsamples_and_appends_zero_channels() -> None:
    model = resnetdsl.build_model("cifar_resnet20", seed=0).eval()
    block = model.layer2[0]
    assert sum(p.numel() for p in block.downsample.parameters()) == 0
    x = torch.randn(2, 16, 32, 32)
    with torch.no_grad():
        main = block.bn2(block.conv2(block.act1(block.bn1(block.conv1(x)))))
        shortcut = torch.cat([x[:, :, ::2, ::2], torch.zeros(2, 16, 16, 16)], dim=1)
        torch.testing.assert_close(block(x), torch.relu(main + shortcut), rtol=0, atol=0)


def test_stride_on_1x1_puts_the_stride_on_the_first_conv() -> None:
    spec = resnetdsl.load_spec("resnet50").model_copy(
        update={"defaults": resnetdsl.spec.BlockSettings(block="bottleneck", stride_on="1x1")}
    )
    model = resnetdsl.build_model(spec, device="meta")
    assert model.layer2[0].conv1.stride == (2, 2)
    assert model.layer2[0].conv2.stride == (1, 1)
    assert sum(p.numel() for p in model.parameters()) == 25_557_032


# --- CIFAR ResNets (He et al. 2015, section 4.2) ----------------------------------------------------

PAPER_PARAMS = {20: 0.27, 32: 0.46, 44: 0.66, 56: 0.85, 110: 1.7, 1202: 19.4}


@pytest.mark.parametrize("depth", sorted(PAPER_PARAMS))
def test_cifar_resnets_match_the_paper(depth: int) -> None:
    model = resnetdsl.build_model(f"cifar_resnet{depth}", device="meta")
    n = sum(p.numel() for p in model.parameters())
    digits = 1 if PAPER_PARAMS[depth] >= 1 else 2
    assert round(n / 1e6, digits) == PAPER_PARAMS[depth]
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(convs) + len(linears) == depth  # 6n+2 weighted layers, option A adds none


@pytest.mark.parametrize("depth", [20, 56])
def test_cifar_forward_gives_ten_logits(depth: int) -> None:
    model = resnetdsl.build_model(f"cifar_resnet{depth}", seed=0).eval()
    with torch.no_grad():
        out = model(torch.randn(3, 3, 32, 32))
    assert out.shape == (3, 10)
    assert torch.isfinite(out).all()


# --- the tutorial ResNet-18, restated literally -------------------------------------------------


class TutorialBasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, stride=1, padding=1)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Sequential()
        if in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out + self.shortcut(x)
        return self.relu(out)


class TutorialResNet18(nn.Module):
    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = nn.Sequential(TutorialBasicBlock(64, 64), TutorialBasicBlock(64, 64))
        self.layer2 = nn.Sequential(TutorialBasicBlock(64, 128, 2), TutorialBasicBlock(128, 128))
        self.layer3 = nn.Sequential(TutorialBasicBlock(128, 256, 2), TutorialBasicBlock(256, 256))
        self.layer4 = nn.Sequential(TutorialBasicBlock(256, 512, 2), TutorialBasicBlock(512, 512))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def test_tutorial_resnet18_is_exact() -> None:
    ref = TutorialResNet18()
    ours = resnetdsl.build_model("tutorial_resnet18", seed=0)
    ref_sd = ref.state_dict()
    our_sd = ours.state_dict()
    # same tensors in the same order, only the shortcut is called 'shortcut' there and 'downsample' here
    assert [k.replace("shortcut", "downsample") for k in ref_sd] == list(our_sd)
    assert [v.shape for v in ref_sd.values()] == [v.shape for v in our_sd.values()]
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in ref.parameters()) == 11_692_520
    ours.load_state_dict({k.replace("shortcut", "downsample"): v for k, v in ref_sd.items()}, strict=True)
    ref.eval()
    ours.eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=0, atol=0)
    # every conv has a bias; the shortcut is a bare conv (no BN) only where channels change
    assert all(m.bias is not None for m in ours.modules() if isinstance(m, nn.Conv2d))
    assert [k for k in our_sd if "downsample" in k] == [
        f"layer{i}.0.downsample.0.{p}" for i in (2, 3, 4) for p in ("weight", "bias")
    ]
