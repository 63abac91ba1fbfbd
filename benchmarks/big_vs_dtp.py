"""The BIG abstract's experiment and its open question: TP, DTP and the balanced inhibition
gradient (BIG) on a 5-layer MLP, seeds by vmap; then why BIG's loss falls while its updates do
not align with the gradient (the abstract's Fig. 1D "mystery").

Part 1 (Fig. 1C): MLP 784-256-256-256-256-10 tanh on Fashion-MNIST (offline IDX files), Adam,
TP / DTP in two structures (Lee et al.'s Algorithm 1, the first target a gradient step on the
last hidden layer; and the BIG abstract's, the first target on the output through an inverse of
it, "-out", which BIG itself uses) and BIG (σ² = 1), 10 seeds in one vmapped program per rule;
training-loss curves with seed variance bands; per-layer angle between each rule's update and
the true gradient over training (Fig. 1D), and for BIG the angle between its targets and
DTP-out's (same feedback g), the
E/I records and how far its inhibition is from DTP's operator (i_l against g_l∘f_{l+1}).
Two references frame the loss curves: backprop, and "readout only" (backprop on the output layer
alone, every hidden layer frozen at its initialisation), which says how much of a loss decrease
the output layer explains by itself (every target rule gives the output layer backprop's exact
update).

Part 2: BIG's dependence on σ² (0.1 to 10) and on how well its inhibition is trained (steps and
learning rate of the inhibition's own optimizer), fewer seeds.

Part 3: on one trained BIG network, the inhibition interpolated towards DTP's operator,
i_α = (1 - α) i_l + α g_l∘f_{l+1} at σ² = 1 (α = 1 is DTP exactly), with the per-layer update
angle to the gradient, and the size of BIG's prior-term mismatch against DTP's difference signal.

Published reference (the BIG abstract, Fig. 1C, MNIST, 10 seeds): "BIG can effectively train a
5-layer MLP, far outperforming TP though underperforming DTP"; Fig. 1D: BIG's estimated gradients
do not align with the true ones. The abstract gives curves, not numbers; MNIST itself needs TFDS
to download, which this machine cannot (the script tries and says so).

    python benchmarks/big_vs_dtp.py [--seeds 10] [--epochs 5] [--train-size 20000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from common import RESULTS, band, environment, fashion_mnist_flat, mean_sd, write_json  # noqa: E402

import credax  # noqa: E402

LOSS = credax.losses.softmax_cross_entropy
PUBLISHED = (
    "BIG abstract, Fig. 1C (MNIST, 5-layer MLP, 10 seeds): BIG far ahead of TP, somewhat behind "
    "DTP; Fig. 1D: BIG's updates do not align with the true gradient"
)


class Mixed(eqx.Module):
    """``(1 - α) i(h) + α g(f(h))``: an inhibition interpolated towards DTP's operator."""

    inhibition: eqx.Module
    f: eqx.Module
    g: eqx.Module
    alpha: float = eqx.field(static=True)

    def __call__(self, h):
        return (1 - self.alpha) * self.inhibition(h) + self.alpha * self.g(self.f(h))


def readout_only(loss, params_like):
    """Backprop on the output layer alone (every hidden layer frozen)."""
    n = len(credax.nets.find_layers(params_like))
    mask = credax.nets.layer_mask(params_like, n - 1)
    return credax.masked(credax.backprop(loss), mask)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--train-size", type=int, default=20000)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--sweep-seeds", type=int, default=3, help="seeds of parts 2 (σ², inhibition)")
    p.add_argument("--quick", action="store_true", help="a one-minute version")
    p.add_argument(
        "--fresh", action="store_true", help="recompute everything (default: reuse the results "
        "of an earlier run with the same settings found in --out's JSON)"
    )  # fmt: skip
    p.add_argument("--out", default=str(RESULTS / "big_vs_dtp"))
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs, args.train_size, args.width, args.sweep_seeds = 3, 1, 2000, 64, 2
    for k in ("seeds", "epochs", "train_size", "width", "sweep_seeds"):
        if getattr(args, k) < 1:
            p.error(f"--{k.replace('_', '-')} must be >= 1")

    train, test, mnist = fashion_mnist_flat(args.train_size)
    w = args.width
    sizes = [784, w, w, w, w, 10]

    def init_model(k):
        return credax.nets.mlp(sizes, activation=jnp.tanh, key=k)

    batch = 100
    spe = len(train[0]) // batch
    eval_every = max(1, spe // 4)

    def make(rule, keep=False, sgd=None):
        return credax.train.make_fit(
            rule,
            init_model,
            optax.adam(args.lr) if sgd is None else optax.sgd(sgd),
            loss=LOSS,
            train=train,
            test=test,
            epochs=args.epochs,
            batch_size=batch,
            eval_every=eval_every,
            keep_rule_state=keep,
        )

    setup = {
        "data": f"Fashion-MNIST, {len(train[0])} training examples, 10000 test",
        "mnist": mnist,
        "model": f"mlp {'-'.join(map(str, sizes))} tanh",
        "optimizer": f"adam {args.lr} (forward weights); rules' own nets: adam 1e-3",
        "batch_size": batch,
        "epochs": args.epochs,
        "seeds": args.seeds,
        "records_every_steps": eval_every,
    }
    out = Path(args.out)
    payload = {
        "benchmark": "big_vs_dtp",
        "command": "python benchmarks/big_vs_dtp.py " + " ".join(argv or []),
        "setup": setup,
        "published": PUBLISHED,
        "environment": environment(),
        "part1": {},
        "part2": {},
        "part3": {},
    }
    previous = {"part1": {}, "part2": {}}
    old_path = out.with_suffix(".json")
    if old_path.exists() and not args.fresh:
        old = json.loads(old_path.read_text())
        if old.get("setup") == json.loads(json.dumps(setup)):
            previous = old
            print(f"reusing finished results from {old_path} (--fresh to recompute)")
            if old.get("tp_dtp_first_target") != "last hidden layer (Lee et al.)":
                # Made when TP and DTP started at the output: those runs are tpo and dtpo now
                # (the same code path, bit for bit); tp and dtp are computed afresh.
                for name in ("tp", "dtp"):
                    if name in previous["part1"]:
                        previous["part1"][name + "o"] = previous["part1"].pop(name)
    payload["tp_dtp_first_target"] = "last hidden layer (Lee et al.)"
    steps = np.asarray(make(credax.backprop(LOSS)).eval_steps)
    epochs_axis = steps / spe
    print(f"{setup['data']}; {setup['model']}; {args.seeds} seeds; MNIST: {mnist}")

    # --- part 1: the abstract's Fig. 1C / 1D ---------------------------------------------------
    rules = {
        "bp": credax.backprop(LOSS),
        "readout": readout_only(LOSS, init_model(jax.random.key(0))),
        # Lee et al.'s Algorithm 1 (first target a gradient step on the last hidden layer) ...
        "tp": credax.target_propagation(LOSS),
        "dtp": credax.difference_target_propagation(LOSS),
        # ... and the BIG abstract's form, which BIG uses (first target on the output, through
        # an inverse of the output layer): BIG's like-for-like comparison.
        "tpo": credax.target_propagation(LOSS, output_target=True),
        "dtpo": credax.difference_target_propagation(LOSS, output_target=True),
        "big": credax.balanced_inhibition_gradient(LOSS, sigma=1.0),
    }
    hists, big_final = {}, None
    print(f"{'rule':8s} {'train loss':>14s} {'test acc %':>14s}  angle to gradient per layer (deg)")
    for name, rule in rules.items():
        if name in previous["part1"] and name != "big":  # BIG is rerun: part 3 needs its state
            rec = payload["part1"][name] = previous["part1"][name]
            hists[name] = credax.train.History(
                {k: np.asarray(v, np.float64) for k, v in rec["curves"].items()}
            )
            print(f"{name:8s} (earlier run) train loss {rec['final_train_loss'][0]:.3f}")
            continue
        t0 = time.perf_counter()
        res = credax.train.sweep(
            make(rule, keep=name == "big"), 0, args.seeds, rule_key_per_seed=name != "bp"
        )
        secs = time.perf_counter() - t0
        h = res.history
        hists[name] = h
        if name == "big":
            big_final = (res.params, res.rule_state)
        tl = h.train_loss[:, -1]
        acc = 100 * h.test_accuracy[:, -1]
        ang = h.update_angles[:, -1]
        rec = {
            "final_train_loss": mean_sd(tl),
            "final_test_accuracy": mean_sd(acc),
            "final_update_angles_mean": np.nanmean(ang, 0),
            "final_update_angles_sd": np.nanstd(ang, 0),
            "seconds": secs,
            "curves": {
                "train_loss": h.train_loss,
                "test_loss": h.test_loss,
                "test_accuracy": h.test_accuracy,
                "update_angles": h.update_angles,
            },
        }
        for k in ("target_angle_dtp", "inhibition_vs_dtp", "ei_balance", "excitation_fb",
                  "inhibition", "reconstruction_errors"):  # fmt: skip
            if k in h:
                rec["curves"][k] = h[k]
        payload["part1"][name] = rec
        write_json(out.with_suffix(".json"), payload)
        angs = " ".join(f"{a:5.1f}" for a in np.nanmean(ang, 0))
        print(
            f"{name:8s} {tl.mean():7.3f} ± {tl.std():4.3f} {acc.mean():7.2f} ± {acc.std():4.2f}  "
            f"{angs}   ({secs:.0f} s)"
        )
    big = hists["big"]
    print("BIG, final, per hidden layer: target angle to DTP's (deg) "
          + " ".join(f"{a:5.1f}" for a in np.nanmean(big.target_angle_dtp[:, -1], 0))
          + "; inhibition vs g∘f (rel. rms) "
          + " ".join(f"{a:4.2f}" for a in np.nanmean(big.inhibition_vs_dtp[:, -1], 0)))  # fmt: skip

    # --- part 2: σ² and inhibition training ------------------------------------------------------
    variants = {f"sigma2={s2:g}": {"sigma": math.sqrt(s2)} for s2 in (0.1, 0.3, 1.0, 3.0, 10.0)}
    for steps_i, lr_i in ((1, 1e-4), (1, 1e-2), (4, 1e-3)):
        variants[f"inhibition steps={steps_i} lr={lr_i:g}"] = {
            "sigma": 1.0,
            "inverse_steps": steps_i,
            "inverse_optimizer": optax.adam(lr_i),
        }
    # Inhibition trained to cancel the feedback excitation (E/I balance) instead of denoising.
    variants["balance (i learns to cancel g(h_l+1)), sigma2=1"] = {"sigma": 1.0, "balance": True}
    variants["SGD 0.05 forward, sigma2=1"] = {"sigma": 1.0, "_sgd": 0.05}
    print(f"part 2 ({args.sweep_seeds} seeds): {'variant':34s} train loss  layer angles | "
          "target angle to DTP | inhibition vs g∘f")  # fmt: skip
    for label, opts in variants.items():
        if label in previous["part2"]:
            payload["part2"][label] = previous["part2"][label]
            print(f"  {label:34s} (earlier run)")
            continue
        t0 = time.perf_counter()
        rule_opts = {k: v for k, v in opts.items() if not k.startswith("_")}
        h = credax.train.sweep(
            make(credax.balanced_inhibition_gradient(LOSS, **rule_opts), sgd=opts.get("_sgd")),
            1,
            args.sweep_seeds,
            rule_key_per_seed=True,
        ).history
        secs = time.perf_counter() - t0
        rec = {
            "options": {k: (v if not hasattr(v, "update") else label) for k, v in opts.items()},
            "final_train_loss": mean_sd(h.train_loss[:, -1]),
            "final_test_accuracy": mean_sd(100 * h.test_accuracy[:, -1]),
            "final_update_angles": np.nanmean(h.update_angles[:, -1], 0),
            "final_target_angle_dtp": np.nanmean(h.target_angle_dtp[:, -1], 0),
            "final_inhibition_vs_dtp": np.nanmean(h.inhibition_vs_dtp[:, -1], 0),
            "final_ei_balance": np.nanmean(h.ei_balance[:, -1], 0),
            "seconds": secs,
        }
        payload["part2"][label] = rec
        write_json(out.with_suffix(".json"), payload)
        fmt = lambda a, f="5.1f": " ".join(format(v, f) for v in a)  # noqa: E731
        print(f"  {label:34s} {rec['final_train_loss'][0]:6.3f}  "
              f"{fmt(rec['final_update_angles'])} | {fmt(rec['final_target_angle_dtp'])} | "
              f"{fmt(rec['final_inhibition_vs_dtp'], '4.2f')}")  # fmt: skip

    # --- part 3: interpolate the inhibition of a trained BIG network towards DTP's operator ------
    params = jax.tree.map(lambda a: jnp.asarray(a[0]), big_final[0])
    state = jax.tree.map(lambda a: jnp.asarray(a[0]), big_final[1])
    state = state._replace(key=jax.random.wrap_key_data(state.key))
    probe = (jnp.asarray(train[0][:1000]), jnp.asarray(train[1][:1000]))
    grad = jax.grad(lambda p: LOSS(jax.vmap(p)(probe[0]), probe[1]))(params)
    layers = credax.nets.find_layers(params)
    rule = credax.balanced_inhibition_gradient(LOSS, sigma=1.0)
    dtp = credax.difference_target_propagation(LOSS, output_target=True)  # BIG's structure
    g_dtp, _ = dtp.update(params, dtp.init(0, params)._replace(inverses=state.inverses), probe)
    alphas = [0.0, 0.25, 0.5, 0.75, 0.9, 1.0]
    rows = []
    for alpha in alphas:
        inh = tuple(
            Mixed(i, layers[l + 1], g, alpha)
            for l, (i, g) in enumerate(zip(state.inhibition, state.inverses))
        )
        mixed = state._replace(
            inhibition=inh, opt_state=optax.adam(1e-3).init((state.inverses, inh))
        )  # the rule's default inverse optimizer
        upd, _ = rule.update(params, mixed, probe)
        diag = rule.diagnostics(params, mixed, probe)
        rows.append(
            {
                "alpha": alpha,
                "update_angles": credax.metrics.update_angles(upd, grad),
                "angles_to_dtp_update": credax.metrics.update_angles(upd, g_dtp),
                "target_angle_dtp": diag["target_angle_dtp"],
                "inhibition_vs_dtp": diag["inhibition_vs_dtp"],
            }
        )
    # The size of BIG's prior-term mismatch m_l = [g(f(h)) - h] - [i(h) - h]/σ² against DTP's
    # difference signal s_l = g(t_{l+1}) - g(f(h)), layer by layer, at α = 0.
    tr = credax.nets.trace(params, probe[0])
    hs = list(tr.outputs)
    e_top = jax.grad(lambda o: LOSS(o, probe[1]))(hs[-1]) * hs[-1].shape[0]
    t = hs[-1] - e_top  # η = 1
    ratios = [None] * (len(hs) - 1)
    for l in range(len(hs) - 2, -1, -1):
        g, i = state.inverses[l], state.inhibition[l]
        g_t, g_f, i_h = jax.vmap(g)(t), jax.vmap(g)(hs[l + 1]), jax.vmap(i)(hs[l])
        signal = g_t - g_f  # DTP's step t_l - h_l given t_{l+1}
        mismatch = (g_f - hs[l]) - (i_h - hs[l])  # BIG's step minus DTP's, σ² = 1
        ratios[l] = {
            "signal_rms": float(jnp.sqrt(jnp.mean(signal**2))),
            "mismatch_rms": float(jnp.sqrt(jnp.mean(mismatch**2))),
        }
        t = hs[l] + g_t - i_h  # BIG's target, σ² = 1
    g_dtp_angles = credax.metrics.update_angles(g_dtp, grad)
    payload["part3"] = {
        "seed": 0,
        "probe_examples": 1000,
        "rows": rows,
        "signal_and_mismatch_per_layer": ratios,
        "dtp_update_angles_same_feedback": g_dtp_angles,
    }
    write_json(out.with_suffix(".json"), payload)
    print("part 3 (seed 0, trained BIG; i_α = (1-α) i + α g∘f, σ² = 1): update angle to gradient")
    for r in rows:
        ua = " ".join(f"{a:5.1f}" for a in r["update_angles"])
        ta = " ".join(f"{a:5.1f}" for a in r["target_angle_dtp"])
        print(f"  α={r['alpha']:4.2f}  {ua}   target angle to DTP {ta}")
    print("  DTP with the same feedback: " + " ".join(f"{a:5.1f}" for a in g_dtp_angles))
    sm = "; ".join(f"{r['signal_rms']:.3g} vs {r['mismatch_rms']:.3g}" for r in ratios)
    print(f"  rms of DTP's signal g(t_l+1) - g(f(h_l)) vs BIG's prior mismatch, per layer: {sm}")

    # --- figure ---------------------------------------------------------------------------------
    fig, ax = plt.subplots(2, 3, figsize=(16, 8.5))
    colors = {"bp": "k", "readout": "0.6", "tp": "tab:red", "dtp": "tab:blue",
              "tpo": "tab:orange", "dtpo": "tab:cyan", "big": "tab:green"}  # fmt: skip
    labels = {"bp": "BP", "readout": "readout only", "tp": "TP", "dtp": "DTP",
              "tpo": "TP-out", "dtpo": "DTP-out", "big": "BIG σ²=1"}  # fmt: skip
    for name, h in hists.items():
        band(ax[0, 0], epochs_axis[1:], h.train_loss[:, 1:], labels[name], colors[name])
    ax[0, 0].set(xlabel="epoch", ylabel="training loss", title="Fig. 1C: loss (±1 sd over seeds)")
    ax[0, 0].legend(fontsize=8)
    for name in ("tp", "dtp", "tpo", "dtpo", "big"):
        h = hists[name]
        for l in range(h.update_angles.shape[-1] - 1):
            m = np.nanmean(h.update_angles[:, :, l], 0)
            ax[0, 1].plot(epochs_axis, m, color=colors[name], alpha=0.35 + 0.13 * l,
                          label=f"{labels[name]}" if l == 0 else None)  # fmt: skip
    ax[0, 1].axhline(90, ls=":", color="0.5")
    ax[0, 1].set(xlabel="epoch", ylabel="degrees", title="Fig. 1D: hidden-layer update angle to "
                 "the gradient (darker: deeper)")  # fmt: skip
    ax[0, 1].legend()
    for l in range(big.target_angle_dtp.shape[-1]):
        band(ax[0, 2], epochs_axis, big.target_angle_dtp[:, :, l], f"layer {l}")
    ax[0, 2].set(xlabel="epoch", ylabel="degrees", title="BIG: angle between its target step "
                 "and DTP's (same g)")  # fmt: skip
    ax[0, 2].legend()
    labs = list(payload["part2"])
    s2 = [k for k in labs if k.startswith("sigma2")]
    xs = [float(k.split("=")[1]) for k in s2]
    arr = np.array([payload["part2"][k]["final_update_angles"] for k in s2])
    for l in range(arr.shape[1]):
        ax[1, 0].plot(xs, arr[:, l], marker="o", label=f"layer {l}")
    ax[1, 0].set_xscale("log")
    ax[1, 0].set(xlabel="σ²", ylabel="final update angle (deg)", title="BIG: angle vs σ²")
    ax[1, 0].legend(fontsize=8)
    for k in labs:
        r = payload["part2"][k]
        ax[1, 1].scatter(
            np.mean(r["final_inhibition_vs_dtp"]), np.mean(r["final_update_angles"][:-1])
        )
        ax[1, 1].annotate(k, (np.mean(r["final_inhibition_vs_dtp"]),
                              np.mean(r["final_update_angles"][:-1])), fontsize=7)  # fmt: skip
    ax[1, 1].set(xlabel="inhibition vs g∘f (relative rms)", ylabel="mean hidden update angle",
                 title="BIG variants: inhibition quality vs alignment")  # fmt: skip
    ua = np.array([r["update_angles"] for r in rows])
    for l in range(ua.shape[1]):
        ax[1, 2].plot(alphas, ua[:, l], marker="o", label=f"layer {l}")
    ax[1, 2].set(xlabel="α (0: BIG's inhibition, 1: DTP's g∘f)", ylabel="update angle (deg)",
                 title="trained BIG net, inhibition interpolated to DTP")  # fmt: skip
    ax[1, 2].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=110)
    print(f"published: {PUBLISHED}")
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
