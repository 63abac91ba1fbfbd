"""MNIST-1D, MLP 40-256-256-10 tanh, Adam: test accuracy and per-layer update angles to
backprop for every feedback-path rule, all seeds of a rule in one vmapped program.

Rule keys: the deterministic rules share one feedback draw across seeds (``credax.train.sweep``'s
default); the rules the registry marks ``stochastic`` (brSF, weight mirror: their key drives fresh
noise at every update) get a key stream per seed (``rule_key_per_seed=True``), as the ``credax``
command does.

Published reference: a backprop MLP reaches about 68% test accuracy on MNIST-1D
(Greydanus 2020, "Scaling down deep learning"); feedback alignment is expected several points
below it.

    python benchmarks/mnist1d_feedback.py [--seeds 8] [--epochs 100] [--rules bp,fa,...]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from common import RESULTS, band, environment, mean_sd, write_json  # noqa: E402

import credax  # noqa: E402
from credax.registry import RULES, family  # noqa: E402

PUBLISHED_BP = 68.0  # % test accuracy, Greydanus (2020)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rules", default=",".join(family("feedback")))
    p.add_argument("--seeds", type=int, default=8)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--quick", action="store_true", help="20 epochs: the one-minute demo")
    p.add_argument("--out", default=str(RESULTS / "mnist1d_feedback"))
    args = p.parse_args(argv)
    if args.quick:
        args.epochs = 20
    rules = args.rules.split(",")
    for r in rules:
        if r not in RULES:
            p.error(f"unknown rule {r!r}; choose from {', '.join(RULES)}")
    if args.seeds < 1 or args.epochs < 1:
        p.error("--seeds and --epochs must be >= 1")

    xtr, ytr = credax.data.load("mnist1d", "train")
    xte, yte = credax.data.load("mnist1d", "test")
    loss = credax.losses.softmax_cross_entropy

    def init_model(k):
        return credax.nets.mlp([40, 256, 256, 10], activation=jnp.tanh, key=k)

    results = {}
    curves = {}
    print(
        f"MNIST-1D MLP 40-256-256-10 tanh, Adam {args.lr}, {args.epochs} epochs, "
        f"{args.seeds} seeds on {jax.default_backend()}"
    )
    print(f"{'rule':6s} {'test acc %':>14s} {'angle L1':>14s} {'angle L2':>14s} {'s':>6s}")
    for name in rules:
        fit = credax.train.make_fit(
            RULES[name].make(loss),
            init_model,
            optax.adam(args.lr),
            loss=loss,
            train=(xtr, ytr),
            test=(xte, yte),
            epochs=args.epochs,
            batch_size=100,
        )
        t0 = time.perf_counter()
        per_seed = RULES[name].has("stochastic")
        hist = credax.train.sweep(fit, 0, args.seeds, rule_key_per_seed=per_seed).history
        secs = time.perf_counter() - t0
        acc = 100 * hist.test_accuracy[:, -1]
        ang = hist.update_angles[:, -1]  # (seed, layer)
        results[name] = {
            "label": RULES[name].label,
            "test_accuracy_mean": mean_sd(acc)[0],
            "test_accuracy_sd": mean_sd(acc)[1],
            "test_accuracy_per_seed": acc,
            "final_update_angle_mean": np.nanmean(ang, 0),
            "final_update_angle_sd": np.nanstd(ang, 0),
            "diverged_seeds": int((~hist.finite[:, -1]).sum()),
            "rule_key_per_seed": per_seed,
            "seconds": secs,
        }
        curves[name] = hist
        a1, a2 = (mean_sd(ang[:, i]) for i in range(2))
        print(
            f"{RULES[name].label:6s} {acc.mean():7.2f} ± {acc.std():4.2f} "
            f"{a1[0]:7.1f} ± {a1[1]:4.1f} {a2[0]:7.1f} ± {a2[1]:4.1f} {secs:6.1f}"
        )
    if "bp" in results:
        print(
            f"published: BP ≈ {PUBLISHED_BP:.0f}% (Greydanus 2020); "
            f"ours {results['bp']['test_accuracy_mean']:.1f}%"
        )

    out = args.out
    write_json(
        Path(f"{out}.json"),
        {
            "benchmark": "mnist1d_feedback",
            "command": "python benchmarks/mnist1d_feedback.py " + " ".join(argv or []),
            "setup": {
                "model": "mlp 40-256-256-10 tanh",
                "optimizer": f"adam {args.lr}",
                "batch_size": 100,
                "epochs": args.epochs,
                "seeds": args.seeds,
                "rule_keys": "shared across seeds; per seed (rule_key_per_seed=True) for the "
                "rules credax.registry marks stochastic",
            },
            "published": {"bp_test_accuracy": PUBLISHED_BP, "source": "Greydanus 2020"},
            "environment": environment(),
            "results": results,
            "curves": {
                k: {"test_accuracy": v.test_accuracy, "update_angles": v.update_angles}
                for k, v in curves.items()
            },
        },
    )
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    ep = np.arange(args.epochs + 1)
    for name, h in curves.items():
        band(axes[0], ep, 100 * h.test_accuracy, RULES[name].label)
        if name != "bp":
            band(axes[1], ep, h.update_angles[:, :, 0], RULES[name].label)
            band(axes[2], ep, h.update_angles[:, :, 1], RULES[name].label)
    axes[0].axhline(PUBLISHED_BP, ls="--", c="k", lw=0.8, label="BP, Greydanus 2020")
    axes[0].set(xlabel="epoch", ylabel="test accuracy (%)", title="MNIST-1D")
    axes[1].set(xlabel="epoch", ylabel="degrees", title="update angle to BP, layer 1")
    axes[2].set(xlabel="epoch", ylabel="degrees", title="update angle to BP, layer 2")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(f"{out}.png", dpi=110)
    print(f"wrote {out}.json and {out}.png")


if __name__ == "__main__":
    main()
