"""Plain against residual networks of the same depth (20 and 56 layers), as in He et al. 2015, figure 6.

The four networks are the CIFAR presets ``cifar_resnet20`` and ``cifar_resnet56`` with one input channel and
8×8 inputs; the plain ones only change ``shortcut: none``. They train on scikit-learn's bundled digits (no
download; see train_digits.py) with the same seed, schedule and batches, and their per-epoch training loss and
test accuracy are drawn to docs/tutorial/plain_vs_residual.png.

    python examples/plain_vs_residual.py                  # the run the tutorial reports (3 epochs, about 2 min)
    python examples/plain_vs_residual.py --epochs 2 -o /tmp/curves.png
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

import resnetdsl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_digits import load_digits_tensors, train

ROOT = Path(__file__).resolve().parent.parent


def spec(depth: int, residual: bool) -> dict[str, object]:
    return {
        "extends": f"cifar_resnet{depth}",
        "name": f"{'resnet' if residual else 'plain'}{depth}",
        "input": {"channels": 1, "size": [8, 8]},
        "defaults": {"shortcut": "identity_pad" if residual else "none"},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--depths", type=int, nargs="+", default=[20, 56])
    p.add_argument("-o", "--output", default=str(ROOT / "docs" / "tutorial" / "plain_vs_residual.png"))
    p.add_argument("--json", default=None, help="also write the curves as JSON here")
    args = p.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    torch.set_num_threads(args.threads)
    data = load_digits_tensors(args.seed)
    curves: dict[str, dict[str, list[float]]] = {}
    for depth in args.depths:
        for residual in (False, True):
            s = spec(depth, residual)
            model = resnetdsl.build_model(s, seed=args.seed)
            start = time.perf_counter()
            hist = train(model, data, epochs=args.epochs, seed=args.seed, lr=args.lr, augment=False)
            name = str(s["name"])
            curves[name] = hist
            print(
                f"{name}: final train loss {hist['train_loss'][-1]:.4f}, train acc {hist['train_acc'][-1]:.2%}, "
                f"test acc {hist['test_acc'][-1]:.2%} ({time.perf_counter() - start:.0f} s)",
                flush=True,
            )

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = range(1, args.epochs + 1)
    for name, hist in curves.items():
        style = "--" if name.startswith("plain") else "-"
        ax_loss.plot(epochs, hist["train_loss"], style, label=name)
        ax_acc.plot(epochs, [100 * a for a in hist["test_acc"]], style, label=name)
    ax_loss.set(xlabel="epoch", ylabel="training loss", yscale="log", title="training loss (dashed: plain)")
    ax_acc.set(xlabel="epoch", ylabel="test accuracy (%)", title="test accuracy (dashed: plain)")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80, metadata={"Software": None})
    print(f"wrote {out}")
    if args.json:
        Path(args.json).write_text(json.dumps(curves, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
