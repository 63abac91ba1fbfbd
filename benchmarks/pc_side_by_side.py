"""Predictive coding in credax and in pcx side by side: the same MLP, data, initial weights,
energy, inference and optimizers; test accuracy and training samples per second, one seed and
many seeds.

Setup (both libraries): Fashion-MNIST (Debian's IDX files, flattened to 784, pixels in [0, 1]),
the first ``--train-size`` training images and the whole 10,000-image test set; MLP
784-128-128-10 ReLU; energy ``F = Σ_hidden ½‖x_l - f_l(x_{l-1})‖² + CE(f_N(x_{N-1}), y)`` per
example (pcx: squared-error hidden nodes, its cross-entropy output node frozen to the one-hot
label; credax: ``credax.losses.softmax_cross_entropy``); value nodes started at the feedforward
pass, then ``T = 20`` steps of SGD ``x ← x - γ ∂F/∂x`` with ``γ = 0.1`` per example; weights get
``∂F/∂θ`` (batch mean) at the relaxed values through Adam 1e-3; batch 64. Both start from the
same weights (credax's Glorot-uniform draw for each seed, handed to pcx), and the script checks
that both compute the same weight gradient on the first batch. They differ in the data order
(each shuffles with its own generator) and in how they run: credax trains a seed (or all seeds,
``jax.vmap``) as one compiled program; pcx calls a jitted step once per batch from Python.

Timing: compile separately, then the whole training (with a test evaluation before training
and after every epoch, in both) ``--repeats`` times; the median. Samples/s = seeds x training
examples x epochs / seconds. pcx runs in its own virtual environment (it pins an older JAX):

    python3 -m venv .peers/pcx && .peers/pcx/bin/pip install pcx==0.6.3
    python benchmarks/pc_side_by_side.py [--quick] [--seeds 8] [--epochs 10]

Published reference: jpc's example reaches 95.9% test accuracy on MNIST with a 784-300-300-10
ReLU predictive-coding network, Adam 1e-3, batch 64 (MNIST is not available offline here, so
the figure is printed beside ours, not compared with it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from common import RESULTS, band, environment, machine_load, mean_sd, write_json  # noqa: E402

import credax  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PEER_SCRIPT = Path(__file__).resolve().parent / "peers" / "pcx_run.py"
PCX_VERSION = "0.6.3"
CREATE_PEER = f"python3 -m venv .peers/pcx && .peers/pcx/bin/pip install pcx=={PCX_VERSION}"
PUBLISHED = {
    "test_accuracy": 95.9,
    "source": "jpc's published example (discriminative predictive coding)",
    "setup": "MNIST, MLP 784-300-300-10 ReLU, Adam 1e-3, batch 64",
    "note": "MNIST, not Fashion-MNIST (not available offline here): a reference line, not a "
    "comparison",
}
ACTIVATIONS = {"relu": jax.nn.relu, "tanh": jnp.tanh}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=8, help="seeds of the many-seed runs")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--train-size", type=int, default=10_000, help="first N training images")
    p.add_argument("--test-size", type=int, default=10_000, help="first N test images")
    p.add_argument("--hidden", type=int, default=128, help="width of the two hidden layers")
    p.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu")
    p.add_argument("--steps", type=int, default=20, help="inference steps T")
    p.add_argument("--rate", type=float, default=0.1, help="value-node step size γ")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3, help="timed runs of one seed (median)")
    p.add_argument("--repeats-many", type=int, default=2, help="timed runs of many seeds")
    p.add_argument("--no-pcx-loop", action="store_true", help="skip pcx's Python loop over seeds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--peer", default=str(ROOT / ".peers" / "pcx"), help="pcx's virtual env")
    p.add_argument("--data-dir", default=None, help="directory of the Fashion-MNIST IDX files")
    p.add_argument("--quick", action="store_true", help="a few seconds' smoke run")
    p.add_argument("--out", default=str(RESULTS / "pc_side_by_side"))
    args = p.parse_args(argv)
    if args.quick:
        args.train_size, args.test_size, args.epochs, args.seeds = 1024, 2000, 1, 2
        args.repeats, args.repeats_many = 1, 1
    for name in (
        "seeds",
        "epochs",
        "train_size",
        "test_size",
        "hidden",
        "steps",
        "batch_size",
        "repeats",
        "repeats_many",
    ):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.train_size < args.batch_size:
        p.error("--train-size must be at least --batch-size")

    load_start = os.getloadavg()
    peer_python = Path(args.peer) / "bin" / "python"
    missing = None
    if not peer_python.exists():
        missing = (
            f"pcx half skipped: no peer virtual environment at {args.peer} (create it with: "
            f"{CREATE_PEER})"
        )
        print(missing, flush=True)

    xtr, ytr = credax.data.load("fashion_mnist", "train", data_dir=args.data_dir)
    xte, yte = credax.data.load("fashion_mnist", "test", data_dir=args.data_dir)
    xtr, ytr = xtr[: args.train_size].reshape(-1, 784), ytr[: args.train_size]
    xte, yte = xte[: args.test_size].reshape(-1, 784), yte[: args.test_size]
    sizes = [784, args.hidden, args.hidden, 10]
    act = ACTIVATIONS[args.activation]
    loss = credax.losses.softmax_cross_entropy
    rule = credax.predictive_coding(loss, inference_steps=args.steps, inference_rate=args.rate)
    B, E, S = args.batch_size, args.epochs, args.seeds
    samples = E * (len(xtr) // B) * B

    def init_model(k):
        return credax.nets.mlp(sizes, activation=act, key=k)

    fit = credax.train.make_fit(
        rule,
        init_model,
        optax.adam(args.lr),
        loss=loss,
        train=(xtr, ytr),
        test=(xte, yte),
        epochs=E,
        batch_size=B,
        angles=False,  # no update angles or diagnostics: pcx computes neither
    )
    setup = {
        "data": f"Fashion-MNIST (Debian IDX files), first {len(xtr)} training images, first "
        f"{len(xte)} test images, flattened to 784, pixels in [0, 1]",
        "model": f"MLP {'-'.join(map(str, sizes))} {args.activation}, linear output",
        "energy": "F = sum over hidden l of 1/2 |x_l - f_l(x_{l-1})|^2 + softmax cross-entropy "
        "of the output layer's logits against the label, per example (credax: "
        "losses.softmax_cross_entropy, output_precision 1; pcx: se_energy hidden vodes, "
        "ce_energy output vode frozen to the one-hot label)",
        "inference": f"value nodes start at the feedforward pass; T = {args.steps} steps of "
        f"x <- x - gamma dF/dx, gamma = {args.rate} per example (pcx: optax.sgd("
        f"{args.rate} * {B}) on a batch-mean energy)",
        "weights": f"dF/dtheta at the relaxed values (batch mean), Adam {args.lr}",
        "batch_size": B,
        "epochs": E,
        "seeds_many": S,
        "initial_weights": "credax.nets.mlp's Glorot-uniform weights and zero biases, drawn "
        "from credax.train.sweep_keys(seed, n_seeds) and handed to pcx: both start from the "
        "same weights",
        "data_order": "each library shuffles every epoch with its own generator (credax: "
        "jax.random in the program; pcx script: numpy.random.default_rng)",
        "timing": f"compile reported separately; the whole training including a test "
        f"evaluation before training and after every epoch, median of {args.repeats} runs "
        f"(one seed) / {args.repeats_many} runs (many seeds); samples/s = seeds x "
        f"{samples} training examples / seconds",
    }
    print(
        f"Fashion-MNIST {len(xtr)}/{len(xte)}, MLP {'-'.join(map(str, sizes))} "
        f"{args.activation}, PC T={args.steps} γ={args.rate}, Adam {args.lr}, batch {B}, "
        f"{E} epochs, {S} seeds, on {jax.default_backend()}",
        flush=True,
    )

    keys_one, keys_many = (
        credax.train.sweep_keys(args.seed, 1),
        credax.train.sweep_keys(args.seed, S),
    )
    params_one = init_model(keys_one[0][0])
    params_many = jax.vmap(init_model)(keys_many[0])

    # credax's weight gradient on the first batch, to compare with pcx's: with the benchmark's
    # activation and with tanh (smooth: see compare_grads)
    check_acts = list(dict.fromkeys([args.activation, "tanh"]))
    credax_grads = {}
    for a in check_acts:
        p_a = credax.nets.mlp(sizes, activation=ACTIVATIONS[a], key=keys_one[0][0])
        g_a, _ = rule.update(p_a, rule.init(keys_one[1][0], p_a), (xtr[:B], ytr[:B]))
        credax_grads[a] = [(np.asarray(l.weight), np.asarray(l.bias)) for l in g_a.layers]

    results = {"credax": {"versions": _versions()}}
    results["credax"]["one_seed"] = run_credax(fit, args.seed, 1, args.repeats, samples)
    results["credax"]["many_seeds"] = run_credax(fit, args.seed, S, args.repeats_many, samples)

    energy_check = None
    if missing is not None:
        results["pcx"] = {"missing": missing}
    else:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            np.savez(tmp / "data.npz", x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
            inits = {}
            for tag, params in (("one", params_one), ("many", params_many)):
                for i, layer in enumerate(params.layers):
                    inits[f"{tag}/w{i}"] = np.asarray(layer.weight)
                    inits[f"{tag}/b{i}"] = np.asarray(layer.bias)
            np.savez(tmp / "inits.npz", **inits)
            cfg = {
                "data": str(tmp / "data.npz"),
                "inits": str(tmp / "inits.npz"),
                "sizes": sizes,
                "activation": args.activation,
                "inference_steps": args.steps,
                "inference_rate": args.rate,
                "lr": args.lr,
                "batch_size": B,
                "epochs": E,
                "n_seeds": S,
                "repeats": args.repeats,
                "repeats_many": args.repeats_many,
                "loop": not args.no_pcx_loop,
                "check_activations": check_acts,
                "data_seed": args.seed,
                "out": str(tmp / "pcx.json"),
                "grads_out": str(tmp / "pcx_grads.npz"),
            }
            (tmp / "config.json").write_text(json.dumps(cfg))
            print(f"pcx ({peer_python}):", flush=True)
            proc = subprocess.run(
                [str(peer_python), str(PEER_SCRIPT), str(tmp / "config.json")],
                stdout=None,
                stderr=subprocess.PIPE,
                text=True,
            )
            if proc.returncode != 0 or not (tmp / "pcx.json").exists():
                tail = proc.stderr.strip().splitlines()[-1:] or ["(no output)"]
                missing = f"pcx run failed (exit {proc.returncode}): {tail[0]}"
                sys.stderr.write(proc.stderr[-4000:])
                results["pcx"] = {"failed": missing}
            else:
                results["pcx"] = json.loads((tmp / "pcx.json").read_text())
                g = np.load(tmp / "pcx_grads.npz")
                energy_check = compare_grads(credax_grads, g, B)

    print_table(results, energy_check, S)
    load = machine_load(load_start, "samples/s")
    out = args.out
    write_json(
        Path(f"{out}.json"),
        {
            "benchmark": "pc_side_by_side",
            "command": "python benchmarks/pc_side_by_side.py " + " ".join(argv or sys.argv[1:]),
            "setup": setup,
            "published": PUBLISHED,
            "environment": {**environment(), **load},
            "energy_check": energy_check,
            "differences": DIFFERENCES,
            "results": results,
        },
    )
    plot(results, S, E, f"{out}.png")
    print(f"wrote {out}.json and {out}.png")
    if missing is not None:
        raise SystemExit(missing)


DIFFERENCES = [
    "data order: each library shuffles with its own generator, so runs from the same initial "
    "weights see the batches in different orders (accuracies agree in distribution, not to the "
    "digit)",
    "execution: credax compiles the whole training (all epochs, evaluations, and with vmap all "
    "seeds) into one program; pcx is used as its examples use it, one jitted step per batch "
    "called from Python on host batches",
    "pcx seeds: pxu.Optim holds a filter shaped like its model, compared by identity, so a "
    "new model per seed recompiles the step (about 4 s here); the pcx script reuses one model "
    "(new weights, Adam state zeroed) for its Python loop, and stacks the seeds for pxf.vmap",
    "JAX versions: pcx 0.6.3 pins jax < 0.5 (0.4.38 here); credax runs on the newer JAX of its "
    "own environment",
]


def run_credax(fit, seed, n_seeds, repeats, samples):
    """Compiles the sweep, then times ``repeats`` whole runs; returns the record."""
    prog = credax.train.sweep_fn(fit)
    keys = credax.train.sweep_keys(seed, n_seeds)
    t0 = time.perf_counter()
    prog.compile(*keys)
    compile_s = time.perf_counter() - t0
    runs = []
    for r in range(repeats):
        t0 = time.perf_counter()
        res = jax.device_get(prog(*keys))
        runs.append(time.perf_counter() - t0)
        acc = np.asarray(res.history.test_accuracy)[:, 0]  # [seed, record]
        print(
            f"  credax: {n_seeds} seed{'s' * (n_seeds > 1)} (jax.vmap), run {r + 1}: "
            f"{runs[-1]:.1f} s, test accuracy {100 * acc[:, -1].mean():.2f}%",
            flush=True,
        )
    secs = float(np.median(runs))
    return {
        "method": "credax.train.sweep_fn: the whole training as one program, seeds by jax.vmap",
        "n_seeds": n_seeds,
        "test_accuracy": acc,  # [seed][record]
        "diverged_seeds": int((res.diverged_step[:, 0] >= 0).sum()),
        "compile_seconds": compile_s,
        "seconds_runs": runs,
        "seconds": secs,
        "samples_per_s": n_seeds * samples / secs,
    }


def compare_grads(credax_grads, pcx_grads, batch_size) -> dict:
    """Relative difference ``‖g_pcx - g_credax‖ / ‖g_credax‖`` per layer (weights, biases) and
    activation.

    With tanh the two agree to float rounding. With ReLU they can differ by a few percent in
    the hidden layers: during relaxation a pre-activation can land on ReLU's kink, where
    rounding decides ``relu'`` (measured on the default first batch: -1.4e-12 in credax and
    +3e-8 in pcx for one unit of one example after 19 steps), and that example's value nodes
    then take a different path. A plain-JAX relaxation written out by hand agrees with credax
    to 1e-6 in both environments.
    """
    out = {
        "what": f"weight gradient after T inference steps on the first {batch_size} training "
        "examples, from the same initial weights: |g_pcx - g_credax| / |g_credax| per layer",
        "note": compare_grads.__doc__.split("\n\n")[1].strip().replace("\n    ", " "),
    }
    for act, grads in credax_grads.items():
        rel = {}
        for i, (w, b) in enumerate(grads):
            for name, a in (("w", w), ("b", b)):
                q = pcx_grads[f"{act}/{name}{i}"]
                rel[f"{name}{i}"] = float(np.linalg.norm(q - a) / max(np.linalg.norm(a), 1e-30))
        out[act] = {**rel, "max": max(rel.values())}
    return out


def _versions() -> dict:
    from importlib.metadata import version

    return {
        "credax": version("credax"),
        "jax": jax.__version__,
        "equinox": version("equinox"),
        "optax": version("optax"),
        "numpy": np.__version__,
    }


def _acc(rec) -> tuple[float, float]:
    a = 100 * np.asarray(rec["test_accuracy"], np.float64)
    return mean_sd(a[:, -1] if a.ndim == 2 else a[-1:])


def print_table(results, energy_check, n_seeds):
    rows = [("credax", "one_seed", "1 seed"), ("credax", "many_seeds", f"{n_seeds} seeds, vmap")]
    pcx = results.get("pcx", {})
    if "one_seed" in pcx:
        rows += [("pcx", "one_seed", "1 seed"), ("pcx", "many_seeds", f"{n_seeds} seeds, vmap")]
        if "many_seeds_loop" in pcx:
            rows.append(("pcx", "many_seeds_loop", f"{n_seeds} seeds, loop"))
    print(f"{'library':8s} {'run':16s} {'test acc %':>15s} {'samples/s':>10s} {'compile s':>10s}")
    for lib, key, label in rows:
        rec = results[lib][key]
        m, s = _acc(rec)
        comp = rec.get("compile_seconds")
        print(
            f"{lib:8s} {label:16s} {m:7.2f} ± {s:5.2f} {rec['samples_per_s']:10.0f} "
            f"{'' if comp is None else f'{comp:10.1f}'}"
        )
    for k in ("missing", "failed"):
        if k in pcx:
            print(f"pcx: {pcx[k]}")
    if "versions" in pcx:
        v = pcx["versions"]
        print(
            f"pcx {v['pcx']} on jax {v['jax']}, equinox {v['equinox']}; credax on jax "
            f"{results['credax']['versions']['jax']}"
        )
    if energy_check is not None:
        diffs = ", ".join(
            f"{a} {v['max']:.1e}" for a, v in energy_check.items() if isinstance(v, dict)
        )
        print(
            f"energy check, first-batch weight gradients pcx vs credax (max relative "
            f"difference): {diffs}"
        )
    print(
        f"published: {PUBLISHED['test_accuracy']}% test accuracy, {PUBLISHED['source']} "
        f"({PUBLISHED['setup']}; MNIST, not Fashion-MNIST)"
    )


def plot(results, n_seeds, epochs, path):
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    groups = [("one_seed", "1 seed"), ("many_seeds", f"{n_seeds} seeds (vmap)")]
    pcx = results.get("pcx", {})
    libs = [("credax", "C0")] + ([("pcx", "C1")] if "one_seed" in pcx else [])
    if "many_seeds_loop" in pcx:
        groups.append(("many_seeds_loop", f"{n_seeds} seeds (pcx: loop)"))
    width = 0.8 / len(libs)
    for j, (lib, color) in enumerate(libs):
        xs, accs, errs, speeds = [], [], [], []
        for i, (key, _) in enumerate(groups):
            if key not in results[lib]:
                continue
            m, s = _acc(results[lib][key])
            xs.append(i + (j - (len(libs) - 1) / 2) * width)
            accs.append(m)
            errs.append(s)
            speeds.append(results[lib][key]["samples_per_s"])
        axes[0].bar(xs, accs, width, yerr=errs, label=lib, color=color)
        axes[1].bar(xs, speeds, width, label=lib, color=color)
        for x, v in zip(xs, speeds):
            axes[1].text(x, v, f"{v / 1000:.1f}k", ha="center", va="bottom", fontsize=7)
        for key, _ in groups[:2]:
            if key in results[lib]:
                a = np.asarray(results[lib][key]["test_accuracy"], np.float64)
                a = a[None] if a.ndim == 1 else a
                ls = "-" if key == "one_seed" else "--"
                lbl = f"{lib}, {'1 seed' if key == 'one_seed' else f'{n_seeds} seeds'}"
                if a.shape[0] > 1:
                    band(axes[2], np.arange(epochs + 1), 100 * a, lbl, color=color)
                    axes[2].lines[-1].set_linestyle(ls)
                else:
                    axes[2].plot(np.arange(epochs + 1), 100 * a[0], ls, color=color, label=lbl)
    for ax in axes[:2]:
        ax.set_xticks(range(len(groups)), [g[1] for g in groups], fontsize=8)
    lo = min(
        (_acc(results[l][k])[0] for l, _ in libs for k, _ in groups if k in results[l]), default=0
    )
    axes[0].set(
        ylabel="test accuracy (%)",
        title="Fashion-MNIST test accuracy, final epoch",
        ylim=(max(0, lo - 10), 100),
    )
    axes[1].set(ylabel="training samples / s (all seeds)", title="throughput (compile excluded)")
    axes[2].set(xlabel="epoch", ylabel="test accuracy (%)", title="test accuracy per epoch")
    for ax in axes:
        ax.legend(fontsize=7)
    if "one_seed" not in pcx:
        reason = pcx.get("missing") or pcx.get("failed") or "pcx not run"
        fig.suptitle(reason, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
