"""MNIST-1D, MLP 40-256-256-10 tanh, Adam, batch 100: test accuracy against samples seen for the
perturbation and reward-modulated rules beside backprop and feedback alignment.

Rules (``credax.registry`` names): ``bp``, ``fa``, ``wp`` (weight perturbation), ``np`` (node
perturbation), ``reinforce``, ``agrel``, ``fg`` (forward gradient, tangent on the weights) and
``fga`` (forward gradient, tangent on the activities), each with its registry defaults (one
perturbation or tangent per update; the options are written to the JSON).

Protocol:

1. Learning-rate search, per rule: Adam at every rate of the rule's log grid (``LR_GRID``, half a
   decade apart), ``--search-seeds`` seeds, ``--search-epochs`` epochs, all rates x seeds of a rule
   in one vmapped program. Training uses 3,500 of the 4,000 training sequences; the rate is chosen
   on the other 500 (a validation split, so the test set plays no part in the choice), by the
   validation accuracy averaged over the seeds and the last quarter of the epochs. A rate at the
   edge of its grid is flagged.
2. Final run, per rule, at its chosen rate: ``--seeds`` seeds as one vmapped program
   (``credax.train.sweep``), ``--epochs`` epochs on all 4,000 training sequences, the test
   accuracy on the 1,000 test sequences recorded every ``--eval-every`` steps; x axis: samples
   seen = step x batch size. Every seed has its own init, data order and rule key (its noise
   stream; FA's feedback matrices): ``rule_key_per_seed=True`` folds the seed's init key into
   the rule key, so the noise of the stochastic rules is independent across seeds.

Reported per rule: final test accuracy mean ± sd over seeds, best accuracy (the maximum over
records, per seed: optimistic, it is selected on the test set), and the samples the seed-mean
curve needs to reach 30% and 50% (with how many seeds reach it), and that number over BP's.

Published and predicted figures:

- BP: about 68% test accuracy for an MLP on MNIST-1D (Greydanus 2020, "Scaling down deep
  learning"). FA: no published MNIST-1D figure (expected a few points below BP).
- The perturbation rules have no published MNIST-1D figure. Theory (Werfel, Xie & Seung 2005, for
  a linear network and SGD at the best rate) predicts them slower than gradient descent, for equal
  accuracy, by about the number of perturbed dimensions: node perturbation by the number of
  perturbed units (here 522 per example), weight perturbation by the number of weights (78,858).
  The forward gradients have the same tangent dimensions (FG: weights, FG-A: units) and hence the
  same prediction: FG is the σ → 0 limit of weight perturbation and FG-A that of node perturbation
  (exact directional derivatives instead of finite differences), and since each pair draws the
  same noise from the same rule key here, their curves should nearly coincide (a check of both
  implementations rather than an independent result). REINFORCE perturbs the same 522 units but
  samples the noisy network (σ = 0.1) and uses a running-mean baseline, so it is predicted no
  faster than NP. AGREL's only noise is
  the choice among the 10 outputs, so it is predicted closest to BP (our reading; with its default
  gated feedback the update is biased). These are qualitative predictions (Adam, a nonlinear
  network), not published numbers; the script prints them beside the measured slowdowns.

    python benchmarks/mnist1d_perturbation.py [--rules bp,fa,...] [--seeds 8] [--epochs 200]
        [--eval-every 20] [--search-epochs 100] [--search-seeds 2] [--skip-search] [--quick]

200 epochs (800,000 samples per seed), not the 100 of ``mnist1d_feedback.py``: BP plateaus well
before 100, but the perturbation rules are still improving there (AGREL steeply). The search runs
100 epochs, half the final horizon: a shorter one favours rates that are too large for the long
run (with a 50-epoch search AGREL chose 3e-3, which became unstable late in the 200-epoch run:
55.9 ± 4.8% against 62.6 ± 1.2% at 1e-3 after 100 epochs). The default run takes about 13
minutes on a shared 2-core CPU (search 3, final runs 10).

Results are written after every search and every final run (atomically); a rerun with the same
setup resumes, keeping finished rules. ``--skip-search`` uses the rates recorded in the JSON (or,
for rules without one, ``RECORDED_LR``). ``--quick`` (3 search and 10 final epochs) writes to
``runs/mnist1d_perturbation_quick`` unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import inspect
import json
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
from credax import train  # noqa: E402
from credax.registry import RULES  # noqa: E402

DEFAULT_RULES = ("bp", "fa", "wp", "np", "reinforce", "agrel", "fg", "fga")
SIZES = (40, 256, 256, 10)
BATCH = 100
N_VAL = 500  # training sequences held out to choose the learning rate
THRESHOLDS = (0.3, 0.5)
PUBLISHED_BP = 68.0  # % test accuracy, Greydanus (2020)

# Adam learning-rate grids, half a decade apart, bracketing each rule's best rate as found by an
# exploratory search over 1e-5 to 1e-2 (20 epochs, 2 seeds; BP's best was at its top edge).
_MID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
LR_GRID = {
    "bp": (3e-4, 1e-3, 3e-3, 1e-2, 3e-2),
    "fa": _MID,
    "wp": _MID,
    "np": _MID,
    "reinforce": (3e-5, 1e-4, 3e-4, 1e-3, 3e-3),
    "agrel": _MID,
    "fg": _MID,
    "fga": _MID,
}
WIDE_GRID = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)  # for a rule without a grid
# Rates chosen by the committed search (used by --skip-search when the JSON has none).
RECORDED_LR = {
    "bp": 3e-3,
    "fa": 1e-3,
    "wp": 1e-3,
    "np": 1e-3,
    "reinforce": 3e-4,
    "agrel": 1e-3,
    "fg": 1e-3,
    "fga": 1e-3,
}


def n_units_weights(sizes=SIZES) -> tuple[int, int]:
    """Perturbed units per example (every layer's pre-activation) and parameters of the MLP."""
    units = sum(sizes[1:])
    weights = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    return units, weights


def predictions() -> dict[str, str]:
    units, weights = n_units_weights()
    return {
        "bp": f"~{PUBLISHED_BP:.0f}% (Greydanus 2020, MLP on MNIST-1D)",
        "fa": "no published MNIST-1D figure; a few points below BP",
        "wp": f"no published figure; theory: ~{weights:,}x BP's samples (one per weight)",
        "np": f"no published figure; theory: ~{units}x BP's samples (one per perturbed unit)",
        "reinforce": f"no published figure; theory: >= NP's (~{units}x), noisier estimator",
        "agrel": "no published figure; theory: closest to BP (noise: 1 of 10 actions)",
        "fg": f"no published figure; theory: as WP (~{weights:,}x; tangent per weight)",
        "fga": f"no published figure; theory: as NP (~{units}x; tangent per unit)",
    }


def rule_options(name: str) -> dict:
    """The keyword options the registry's factory uses for ``name`` (its defaults, with the
    entry's ``options``), for the record."""
    entry = RULES[name]
    opts = {
        k: v.default
        for k, v in inspect.signature(entry.factory).parameters.items()
        if v.kind is inspect.Parameter.KEYWORD_ONLY
    }
    opts.update(entry.options)

    def show(v):  # functions by name: their repr carries a memory address
        if isinstance(v, (bool, int, float, str, type(None))):
            return v
        if callable(v) and hasattr(v, "__qualname__"):
            return f"<function {v.__qualname__}>"
        return repr(v)

    return {k: show(v) for k, v in opts.items()}


def init_model(key):
    return credax.nets.mlp(list(SIZES), activation=jnp.tanh, key=key)


def search_rule(name, grid, loss, train_data, val_data, epochs, n_seeds, seed=1):
    """Validation accuracy ``(lr, seed, epoch + 1)`` of Adam at every rate of ``grid``: one
    program, vmapped over rates and seeds."""
    rule = RULES[name].make(loss)
    # ``make_fit`` runs inside the traced program (the rate is traced) and checks its data
    # concretely: device arrays stay concrete inside a trace, NumPy arrays would become tracers.
    train_data, val_data = jax.device_put((train_data, val_data))

    def fit(lr, init_key, data_key):
        f = train.make_fit(
            rule,
            init_model,
            optax.adam(lr),
            loss=loss,
            train=train_data,
            test=val_data,
            epochs=epochs,
            batch_size=BATCH,
        )
        return f.run(init_key, train.seed_rule_key(rule_key, init_key), data_key)

    init_keys, (rule_key,), data_keys = train.sweep_keys(seed, n_seeds)
    over_seeds = jax.vmap(fit, in_axes=(None, 0, 0))
    prog = jax.jit(jax.vmap(over_seeds, in_axes=(0, None, None)))
    res = jax.device_get(prog(jnp.asarray(grid, jnp.float32), init_keys, data_keys))
    return np.asarray(res.history.test_accuracy), np.asarray(res.history.finite)


def choose_lr(grid, val_acc, finite):
    """The rate with the highest validation accuracy averaged over seeds and the last quarter of
    the epochs (a rate with a diverged seed scores -inf)."""
    n = val_acc.shape[-1] - 1
    tail = val_acc[:, :, -max(1, n // 4) :]
    score = np.where(finite[:, :, -1].all(1), np.nanmean(tail, axis=(1, 2)), -np.inf)
    i = int(np.argmax(score))
    return float(grid[i]), score, i in (0, len(grid) - 1)


def first_reach(curve, samples, thr):
    """The samples at the first record with ``curve >= thr``, or None."""
    hit = np.nonzero(np.asarray(curve) >= thr)[0]
    return int(samples[hit[0]]) if hit.size else None


def summarize(name, hist, samples, lr, secs):
    acc = np.asarray(hist.test_accuracy, np.float64)  # (seed, record)
    final, best = 100 * acc[:, -1], 100 * np.nanmax(acc[:, 1:], 1)
    mean_curve = np.nanmean(acc, 0)
    reach = {}
    for thr in THRESHOLDS:
        per_seed = [first_reach(a, samples, thr) for a in acc]
        reach[f"{int(100 * thr)}"] = {
            "mean_curve_samples": first_reach(mean_curve, samples, thr),
            "per_seed_samples": per_seed,
            "seeds_reached": sum(s is not None for s in per_seed),
        }
    ang = np.asarray(hist.update_angles)  # (seed, record, layer)
    return {
        "label": RULES[name].label,
        "lr": lr,
        "options": rule_options(name),
        "test_accuracy_mean": mean_sd(final)[0],
        "test_accuracy_sd": mean_sd(final)[1],
        "test_accuracy_per_seed": final,
        "best_accuracy_mean": mean_sd(best)[0],
        "best_accuracy_sd": mean_sd(best)[1],
        "samples_to_reach": reach,
        "final_update_angle_mean": np.nanmean(ang[:, -1], 0),
        "diverged_seeds": int((~np.asarray(hist.finite)[:, -1]).sum()),
        "seconds": secs,
        "test_accuracy_curve": np.round(acc, 5),
        "update_angle_curve_mean": np.round(np.nanmean(ang, 0), 3),
    }


def fmt_samples(s):
    return "not reached" if s is None else f"{s:,}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rules", default=",".join(DEFAULT_RULES))
    p.add_argument("--seeds", type=int, default=8)
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--eval-every", type=int, default=20, help="steps between test records")
    p.add_argument("--search-epochs", type=int, default=100)
    p.add_argument("--search-seeds", type=int, default=2)
    p.add_argument("--skip-search", action="store_true", help="use the recorded learning rates")
    p.add_argument("--quick", action="store_true", help="3 search and 10 final epochs")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    if args.quick:
        args.epochs, args.search_epochs = 10, 3
    if args.out is None:
        here = Path(__file__).resolve().parent
        args.out = str(
            here.parent / "runs" / "mnist1d_perturbation_quick"
            if args.quick
            else RESULTS / "mnist1d_perturbation"
        )
    rules = args.rules.split(",")
    bad = [r for r in rules if r not in RULES]
    if bad:
        p.error(f"unknown rule(s) {bad}; choose from {', '.join(RULES)}")
    if min(args.seeds, args.epochs, args.search_epochs, args.search_seeds, args.eval_every) < 1:
        p.error("--seeds, --epochs, --search-epochs, --search-seeds, --eval-every must be >= 1")

    xtr, ytr = (np.asarray(a) for a in credax.data.load("mnist1d", "train"))
    xte, yte = (np.asarray(a) for a in credax.data.load("mnist1d", "test"))
    perm = np.random.default_rng(0).permutation(len(xtr))
    fit_idx, val_idx = perm[N_VAL:], perm[:N_VAL]
    spe = len(xtr) // BATCH
    total_steps = args.epochs * spe
    k = args.eval_every
    if total_steps % k:
        p.error(f"--eval-every must divide the {total_steps} training steps")
    samples = np.arange(0, total_steps + 1, k) * BATCH  # samples seen at every record
    loss = credax.losses.softmax_cross_entropy
    units, weights = n_units_weights()
    pred = predictions()

    out = Path(args.out)
    json_path = out.with_suffix(".json")
    setup = {
        "model": "mlp " + "-".join(map(str, SIZES)) + " tanh",
        "optimizer": "adam (rate per rule)",
        "batch_size": BATCH,
        "epochs": args.epochs,
        "seeds": args.seeds,
        "eval_every_steps": args.eval_every,
        "train_sequences": len(xtr),
        "test_sequences": len(xte),
        "rule_keys": "per seed: train.sweep(..., rule_key_per_seed=True)",
    }
    search_setup = {
        "rule_keys": "per seed: train.seed_rule_key(rule_key, init_key)",
        "optimizer": "adam",
        "epochs": args.search_epochs,
        "seeds": args.search_seeds,
        "train_sequences": len(fit_idx),
        "validation_sequences": len(val_idx),
        "criterion": "validation accuracy, mean over seeds and the last quarter of the epochs",
    }
    payload = {
        "benchmark": "mnist1d_perturbation",
        "command": "python benchmarks/mnist1d_perturbation.py " + " ".join(argv or []),
        "setup": setup,
        "search_setup": search_setup,
        "published": {
            "bp_test_accuracy": PUBLISHED_BP,
            "source": "Greydanus 2020, Scaling down deep learning",
            "perturbation_rules": "no published MNIST-1D figure; qualitative theory only "
            "(Werfel, Xie & Seung 2005)",
            "perturbed_units_per_example": units,
            "weights": weights,
            "predictions": pred,
        },
        "environment": environment(),
        "samples_seen": samples,
        "search": {},
        "results": {},
    }
    if json_path.exists():  # keep what an earlier, interrupted run finished
        old = json.loads(json_path.read_text())
        if old.get("search_setup") == search_setup:
            payload["search"] = old.get("search", {})
        if old.get("setup") == setup:
            payload["results"] = old.get("results", {})
        if args.skip_search:  # rates recorded under any search setup
            payload["search"] = {**old.get("search", {}), **payload["search"]}
    t_start = time.perf_counter()
    print(
        f"MNIST-1D MLP {'-'.join(map(str, SIZES))} tanh, Adam, batch {BATCH}, {args.epochs} "
        f"epochs, {args.seeds} seeds, on {jax.default_backend()}"
    )

    # --- 1. learning-rate search ---------------------------------------------------------------
    lrs = {}
    for name in rules:
        if name in payload["search"]:
            lrs[name] = payload["search"][name]["chosen_lr"]
            continue
        if args.skip_search:
            if name not in RECORDED_LR:
                p.error(f"--skip-search: no recorded learning rate for {name!r}")
            lrs[name] = RECORDED_LR[name]
            continue
        grid = LR_GRID.get(name, WIDE_GRID)
        t0 = time.perf_counter()
        val_acc, finite = search_rule(
            name,
            grid,
            loss,
            (xtr[fit_idx], ytr[fit_idx]),
            (xtr[val_idx], ytr[val_idx]),
            args.search_epochs,
            args.search_seeds,
        )
        secs = time.perf_counter() - t0
        lr, score, edge = choose_lr(grid, val_acc, finite)
        lrs[name] = lr
        payload["search"][name] = {
            "grid": list(grid),
            "score": [None if not np.isfinite(s) else 100 * s for s in score],
            "final_val_accuracy": 100 * np.nanmean(val_acc[:, :, -1], 1),
            "val_accuracy_curve_mean": np.round(100 * np.nanmean(val_acc, 1), 3),
            "chosen_lr": lr,
            "at_grid_edge": bool(edge),
            "seconds": secs,
        }
        write_json(json_path, payload)
        scores = " ".join(
            f"{g:g}:{'div' if not np.isfinite(s) else f'{100 * s:.1f}'}"
            for g, s in zip(grid, score)
        )
        print(
            f"  search {name:9s} {scores}  -> {lr:g}{' (grid edge)' if edge else ''} "
            f"[{secs:.0f} s]",
            flush=True,
        )
    for name in rules:
        if name in payload["search"]:
            print(f"  {name}: lr {lrs[name]:g} (searched)")
        else:
            print(f"  {name}: lr {lrs[name]:g} (RECORDED_LR)")

    # --- 2. final runs ---------------------------------------------------------------------------
    todo = [r for r in rules if payload["results"].get(r, {}).get("lr") != lrs[r]]
    for name in rules:
        if name not in todo:
            print(f"  {name}: done earlier, kept")
    for name in todo:
        fit = train.make_fit(
            RULES[name].make(loss),
            init_model,
            optax.adam(lrs[name]),
            loss=loss,
            train=(xtr, ytr),
            test=(xte, yte),
            epochs=args.epochs,
            batch_size=BATCH,
            eval_every=args.eval_every,
        )
        assert np.array_equal(np.asarray(fit.eval_steps) * BATCH, samples)
        t0 = time.perf_counter()
        hist = train.sweep(fit, 0, args.seeds, rule_key_per_seed=True).history
        secs = time.perf_counter() - t0
        payload["results"][name] = summarize(name, hist, samples, lrs[name], secs)
        write_json(json_path, payload)
        r = payload["results"][name]
        print(
            f"  {name:9s} lr {lrs[name]:<7g} {r['test_accuracy_mean']:6.2f} ± "
            f"{r['test_accuracy_sd']:4.2f}%  [{secs:.0f} s]",
            flush=True,
        )
    total = time.perf_counter() - t_start

    # --- 3. table --------------------------------------------------------------------------------
    res = payload["results"]
    bp30 = res.get("bp", {}).get("samples_to_reach", {}).get("30", {}).get("mean_curve_samples")
    print(
        f"\n{'rule':9s} {'lr':>7s} {'final test %':>14s} {'best %':>14s} "
        f"{'to 30% (seeds)':>18s} {'to 50% (seeds)':>18s} {'x BP@30%':>9s}  published / theory"
    )
    for name in rules:
        r = res[name]
        cells = []
        for thr in ("30", "50"):
            st = r["samples_to_reach"][thr]
            s = st["mean_curve_samples"]
            cells.append(f"{fmt_samples(s)} ({st['seeds_reached']}/{args.seeds})")
        s30 = r["samples_to_reach"]["30"]["mean_curve_samples"]
        ratio = f"{s30 / bp30:.1f}" if (s30 is not None and bp30) else "-"
        print(
            f"{r['label']:9s} {r['lr']:7g} {r['test_accuracy_mean']:6.2f} ± "
            f"{r['test_accuracy_sd']:4.2f}  {r['best_accuracy_mean']:6.2f} ± "
            f"{r['best_accuracy_sd']:4.2f}  {cells[0]:>18s} {cells[1]:>18s} {ratio:>9s}  "
            f"{pred[name]}"
        )
    if "bp" in res:
        print(
            f"published: BP ≈ {PUBLISHED_BP:.0f}% (Greydanus 2020); ours "
            f"{res['bp']['test_accuracy_mean']:.1f}%. Perturbation rules: no published MNIST-1D "
            "figure; Werfel et al. 2005 predict a slowdown of about the number of perturbed "
            f"units (NP: {units}) or weights (WP: {weights:,}) for equal accuracy."
        )
    print(
        f"samples resolution: {args.eval_every * BATCH:,} (one record every {args.eval_every} "
        f"steps); wall time of this invocation {total:.0f} s"
    )

    # --- 4. figure -------------------------------------------------------------------------------
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [1.6, 1]})
    for name in rules:
        r = res[name]
        acc = 100 * np.asarray(r["test_accuracy_curve"], np.float64)
        band(axes[0], samples[1:], acc[:, 1:], f"{r['label']} (Adam {r['lr']:g})")
        # Dashed: the forward gradients, which track WP and NP closely (the same noise draws).
        ls = "--" if name in ("fg", "fga") else "-"
        axes[0].lines[-1].set_linestyle(ls)
        axes[1].plot(
            samples[1:],
            np.nanmean(np.asarray(r["update_angle_curve_mean"])[1:], 1),
            ls=ls,
            label=r["label"],
        )
    axes[0].axhline(PUBLISHED_BP, ls="--", c="k", lw=0.8, label="BP, Greydanus 2020")
    axes[0].axhline(10, ls=":", c="grey", lw=0.8, label="chance")
    axes[0].set(
        xscale="log",
        xlabel="samples seen",
        ylabel="test accuracy (%)",
        title=f"MNIST-1D, MLP {'-'.join(map(str, SIZES))} tanh, {args.seeds} seeds (mean ± sd)",
    )
    axes[1].set(
        xscale="log",
        xlabel="samples seen",
        ylabel="degrees",
        title="update angle to BP (256-example probe), layer mean",
    )
    axes[0].legend(fontsize=7, loc="upper left")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=110)
    print(f"wrote {json_path} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
