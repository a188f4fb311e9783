"""Train a small ResNet, written as a spec, on scikit-learn's bundled digits (8×8 grey images, 10 classes).

No download: ``sklearn.datasets.load_digits`` ships with scikit-learn (1,797 images). The spec below takes the
8×8 images as they are (a 3×3 stem without pooling, then two stride-2 stages: 8×8 → 4×4 → 2×2).

    python examples/train_digits.py                       # the full run (30 epochs): ≥ 97 % in seconds
    python examples/train_digits.py --epochs 3 --seed 0   # a quick check (what the test runs)

It prints the test accuracy and the time taken; ``--min-accuracy`` makes it exit 1 below a threshold.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import torch
from torch import nn

import resnetdsl

SPEC = """
name: digits_resnet
description: a small ResNet for 8×8 grey digits
input: {channels: 1, size: [8, 8]}
stem: {kind: conv3, width: 16, pool: none}
defaults: {block: basic, shortcut: projection}
stages:
  - {depth: 1, width: 16}
  - {depth: 1, width: 32, stride: 2}
  - {depth: 1, width: 64, stride: 2}
head: {pool: avg, num_classes: 10}
"""


def load_digits_tensors(seed: int, test_fraction: float = 0.2) -> tuple[torch.Tensor, ...]:
    """Digits as float tensors N×1×8×8 scaled to [0, 1], split into train and test with a fixed seed (stratified)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(data.target, dtype=torch.long)
    idx_train, idx_test = train_test_split(
        list(range(len(y))), test_size=test_fraction, random_state=seed, stratify=data.target
    )
    return x[idx_train], y[idx_train], x[idx_test], y[idx_test]


def shift(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Light augmentation: move each image by up to one pixel in each direction (zero fill)."""
    padded = nn.functional.pad(x, (1, 1, 1, 1))
    n = x.shape[0]
    dy = torch.randint(0, 3, (n,), generator=generator)
    dx = torch.randint(0, 3, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(8)[None, :])[:, None, :, None].expand(n, 1, 8, 10)
    out = padded.gather(2, rows)
    cols = (dx[:, None] + torch.arange(8)[None, :])[:, None, None, :].expand(n, 1, 8, 8)
    return out.gather(3, cols)


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of the model in eval mode."""
    model.eval()
    with torch.no_grad():
        logits = model(x)
        loss = nn.functional.cross_entropy(logits, y).item()
        acc = (logits.argmax(1) == y).float().mean().item()
    return loss, acc


def train(
    model: nn.Module,
    data: tuple[torch.Tensor, ...],
    *,
    epochs: int,
    seed: int,
    batch_size: int = 64,
    lr: float = 3e-3,
    augment: bool = True,
    log: Any = None,
) -> dict[str, list[float]]:
    """Adam with a one-cycle schedule; returns per-epoch train loss/accuracy (on the augmented batches, in train
    mode) and test loss/accuracy."""
    x_train, y_train, x_test, y_test = data
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * ((len(y_train) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    history: dict[str, list[float]] = {"train_loss": [], "train_acc": [], "test_loss": [], "test_acc": []}
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(y_train), generator=gen)
        total_loss, correct = 0.0, 0
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            xb, yb = x_train[batch], y_train[batch]
            if augment:
                xb = shift(xb, gen)
            logits = model(xb)
            loss = nn.functional.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item() * len(batch)
            correct += int((logits.argmax(1) == yb).sum())
        test_loss, test_acc = evaluate(model, x_test, y_test)
        history["train_loss"].append(total_loss / len(y_train))
        history["train_acc"].append(correct / len(y_train))
        history["test_loss"].append(test_loss)
        history["test_acc"].append(test_acc)
        if log is not None:
            print(
                f"epoch {epoch + 1:3d}: train loss {history['train_loss'][-1]:.4f} "
                f"acc {history['train_acc'][-1]:.2%}, test loss {test_loss:.4f} acc {test_acc:.2%}",
                file=log,
                flush=True,
            )
    return history


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    p.add_argument("--seed", type=int, default=0, help="seed for the weights, the split and the batches")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate of the one-cycle schedule")
    p.add_argument("--min-accuracy", type=float, default=None, help="exit 1 if the test accuracy is lower")
    p.add_argument("--quiet", action="store_true", help="print only the final line")
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    data = load_digits_tensors(args.seed)
    model = resnetdsl.build_model(SPEC, seed=args.seed)
    n_params = sum(p.numel() for p in model.parameters())
    torch.manual_seed(args.seed)
    history = train(
        model,
        data,
        epochs=args.epochs,
        seed=args.seed,
        batch_size=args.batch_size,
        lr=args.lr,
        log=None if args.quiet else sys.stdout,
    )
    elapsed = time.perf_counter() - start
    acc = history["test_acc"][-1]
    print(
        f"digits_resnet ({n_params:,} parameters): test accuracy {acc:.2%} on {len(data[3])} images after "
        f"{args.epochs} epochs, {elapsed:.1f} s on {args.threads} threads"
    )
    if args.min_accuracy is not None and acc < args.min_accuracy:
        print(f"below the required {args.min_accuracy:.2%}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
