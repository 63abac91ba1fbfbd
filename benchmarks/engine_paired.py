"""This engine against a previous one, in one process: the same runs, alternating.

Two checks that an engine change moved nothing it should not have:

- ``throughput``: FA-SGD training of tanh MLPs (``make_fit`` + ``sweep_fn`` with the seed
  batching ``seed_block="auto"`` picks), compiled by both engines for the same shapes and seed
  counts; timed calls alternate between the two (previous, this, previous, ...) so that load on
  a shared machine falls on both alike; the figure is the median of the paired ratios
  this/previous (1.0 = as fast; > 1 faster).
- ``results``: every rule both registries hold, trained by both engines on MNIST-1D (the command's
  default model, fewer epochs) from the same keys: the final test accuracy per seed, and the
  largest difference in any record.

The previous engine is extracted from git (``--previous REV``) into a temporary directory as a
package named ``credax_prev``, so both import side by side.

    python benchmarks/engine_paired.py --previous 3274081
    python benchmarks/engine_paired.py --previous 3274081 --only results --epochs 2
"""

from __future__ import annotations

import argparse
import io
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from common import RESULTS, environment, write_json  # noqa: E402

import credax  # noqa: E402

SHAPES = {"40-256-256-10": 100, "784-256-256-10": 128, "784-1000-1000-1000-10": 128}
POINTS = [  # (shape, seeds, steps)
    ("40-256-256-10", 1, 400), ("40-256-256-10", 16, 200), ("40-256-256-10", 64, 100),
    ("784-256-256-10", 1, 200), ("784-256-256-10", 16, 100), ("784-256-256-10", 64, 40),
    ("784-1000-1000-1000-10", 16, 16),
]  # fmt: skip


def load_previous(rev: str):
    """The package at git revision ``rev``, importable as ``credax_prev``."""
    blob = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "credax"], capture_output=True, check=True
    ).stdout
    tmp = Path(tempfile.mkdtemp(prefix="credax_prev_"))
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(tmp, filter="data")
    (tmp / "credax").rename(tmp / "credax_prev")
    for path in (tmp / "credax_prev").rglob("*.py"):
        text = path.read_text()
        text = re.sub(r"\bcredax(\.|\b)(?!_prev)", lambda m: "credax_prev" + m.group(1), text)
        path.write_text(text)
    sys.path.insert(0, str(tmp))
    import credax_prev

    return credax_prev


def fa_fit(lib, sizes, batch, steps, spe):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(spe * batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], spe * batch).astype(np.int32)
    loss = lib.losses.softmax_cross_entropy
    return lib.train.make_fit(
        lib.feedback_alignment(loss),
        lambda k: lib.nets.mlp(sizes, activation=jnp.tanh, key=k),
        optax.sgd(1e-3),
        loss=loss,
        train=(x, y),
        test=(x[:8], y[:8]),
        epochs=steps // spe,
        batch_size=batch,
        eval_every=steps,
        probe_size=8,
    )


def throughput(prev, repeats: int) -> list[dict]:
    rows = []
    for shape, seeds, steps in POINTS:
        sizes, batch = [int(s) for s in shape.split("-")], SHAPES[shape]
        spe = min(20, steps // 2)
        calls = {}
        for name, lib in (("previous", prev), ("this", credax)):
            fit = fa_fit(lib, sizes, batch, steps, spe)
            keys = lib.train.sweep_keys(0, seeds, 1)
            fn = lib.train.sweep_fn(fit, seed_block="auto", devices=jax.devices()[:1])
            fn.compile(*keys)
            jax.block_until_ready(fn(*keys))  # warm-up
            calls[name] = lambda fn=fn, keys=keys: jax.block_until_ready(fn(*keys))
        times = {"previous": [], "this": []}
        for _ in range(repeats):
            for name in ("previous", "this"):
                t0 = time.perf_counter()
                calls[name]()
                times[name].append(time.perf_counter() - t0)
        ratios = [p / t for p, t in zip(times["previous"], times["this"])]
        work = batch * steps * seeds
        row = {
            "shape": shape,
            "batch": batch,
            "seeds": seeds,
            "steps": steps,
            "previous_samples_per_s": work / float(np.median(times["previous"])),
            "this_samples_per_s": work / float(np.median(times["this"])),
            "speed_ratio_median": float(np.median(ratios)),
            "speed_ratios": ratios,
        }
        print(
            f"{shape:22s} {seeds:3d} seeds: previous {row['previous_samples_per_s']:10.0f}/s, "
            f"this {row['this_samples_per_s']:10.0f}/s, this/previous speed "
            f"{row['speed_ratio_median']:.3f} (median of {repeats} pairs)",
            flush=True,
        )
        rows.append(row)
    return rows


def results(prev, epochs: int, seeds: int) -> dict:
    x, y = credax.data.load("mnist1d", "train")
    xt, yt = credax.data.load("mnist1d", "test")
    out = {}
    for name, entry in credax.registry.RULES.items():
        if name not in prev.registry.RULES or entry.task != "supervised":
            continue
        runs = {}
        for label, lib in (("previous", prev), ("this", credax)):
            loss = lib.losses.softmax_cross_entropy
            rule = lib.registry.RULES[name].make(loss)
            fit = lib.train.make_fit(
                rule,
                lambda k, lib=lib: lib.nets.mlp([40, 256, 256, 10], activation=jnp.tanh, key=k),
                optax.adam(1e-3),
                loss=loss,
                train=(x, y),
                test=(xt, yt),
                epochs=epochs,
                batch_size=100,
            )
            stochastic = getattr(entry, "traits", ()) and entry.has("stochastic")
            runs[label] = lib.train.sweep(fit, 0, seeds, rule_key_per_seed=bool(stochastic))
        a, b = runs["previous"].history, runs["this"].history
        diff = max(
            float(np.nanmax(np.abs(np.asarray(a[k], np.float64) - np.asarray(b[k], np.float64))))
            for k in a
            if k in b and np.asarray(a[k]).dtype != bool
        )
        acc_a, acc_b = 100 * a["test_accuracy"][:, -1], 100 * b["test_accuracy"][:, -1]
        out[name] = {
            "previous_acc": acc_a.tolist(),
            "this_acc": acc_b.tolist(),
            "max_abs_record_difference": diff,
            "records_only_in_previous": sorted(set(a) - set(b)),
            "records_only_in_this": sorted(set(b) - set(a)),
        }
        print(
            f"{name:10s} previous {acc_a.mean():5.2f} ± {acc_a.std():4.2f}  this "
            f"{acc_b.mean():5.2f} ± {acc_b.std():4.2f}  largest record difference {diff:.2e}",
            flush=True,
        )
    return out


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.6))
    labels = [f"{r['shape'].replace('-', '-' + chr(10), 1)}\n{r['seeds']} seeds" for r in rows]
    ax.bar(range(len(rows)), [r["speed_ratio_median"] for r in rows], color="#1f77b4")
    for i, r in enumerate(rows):
        ax.plot([i] * len(r["speed_ratios"]), r["speed_ratios"], "k.", ms=3)
    ax.axhline(1.0, color="black", lw=0.8)
    ax.axhspan(0.95, 1.05, color="green", alpha=0.1, label="within 5%")
    ax.set_xticks(range(len(rows)), labels, fontsize=7)
    ax.set_ylabel("speed, this / previous engine")
    ax.set_title("paired calls (dots) and their median (bars)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--previous", required=True, help="git revision of the previous engine")
    p.add_argument("--only", choices=("throughput", "results"), default=None)
    p.add_argument("--repeats", type=int, default=9, help="timed pairs per point")
    p.add_argument("--epochs", type=int, default=3, help="epochs of the results check")
    p.add_argument("--seeds", type=int, default=4, help="seeds of the results check")
    p.add_argument("--out", default=str(RESULTS / "engine_paired.json"))
    args = p.parse_args(argv)
    prev = load_previous(args.previous)
    payload = {
        "environment": environment(),
        "previous": args.previous,
        "this": subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
        "goal": "this engine within 5% of the previous one at every point (speed ratio >= 0.95)",
    }
    if args.only in (None, "throughput"):
        payload["throughput"] = throughput(prev, args.repeats)
        plot(payload["throughput"], Path(args.out).with_suffix(".png"))
    if args.only in (None, "results"):
        payload["results"] = results(prev, args.epochs, args.seeds)
        payload["results_settings"] = {
            "dataset": "mnist1d", "model": "40-256-256-10 tanh", "optimizer": "adam 1e-3",
            "batch": 100, "epochs": args.epochs, "seeds": args.seeds,
        }  # fmt: skip
    write_json(Path(args.out), payload)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
