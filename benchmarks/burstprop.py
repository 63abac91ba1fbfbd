"""Rate-based burstprop (Payeur et al. 2021) against backprop and feedback alignment on MNIST-1D
and Fashion-MNIST, with the burst-probability records over training.

Every rule trains the same network: an MLP with logistic hidden layers (burstprop's event rates
must be nonnegative) and a logistic output layer under the squared error, the paper's ensemble
model, for which credax's output teaching signal is Payeur et al.'s ``p̄(1 + (1 - e)(y - e))``
(``credax.burstprop``'s docstring). Seeds by ``jax.vmap`` (``credax.train.sweep``), every seed
with its own feedback draw (``rule_key_per_seed=True``); each rule is one compiled program.

Part 1, MNIST-1D (4000 training, 1000 test examples), MLP 40-256-256-10, Adam: backprop (BP),
feedback alignment (FA), burstprop with fixed random feedback ``Y`` and ``P̄`` the free phase's
burst probability (the default), burstprop with ``running_average=True`` (``P̄`` a moving
average of the burst probability over presentations, kept in the rule's state), and burstprop
with symmetric feedback ``Y = W`` (a reference: the backprop limit). Recorded over training:
test accuracy, the per-layer angle between each rule's update and backprop's on a fixed probe
batch, and burstprop's ``burst_probability`` (teaching phase), ``burst_average`` (``P̄`` in the
state), ``event_rate`` and ``burst_error`` (``rms(B - P̄E)``) per layer.

Part 2, why the moving average fails here: on the trained ``running_average`` network (seed 0)
and on its initialisation, the same state fed to both forms of the rule: the rms of
``B - P̄E`` with the moving ``P̄`` against that with the free-phase ``P̄`` (the teaching signal
alone), and the angles of the two updates to each other and to the gradient.

Part 3, learned feedback (MNIST-1D, same network): ``feedback_lr > 0`` with ``feedback_decay``
is the Kolen-Pollack construction, ``ΔY_l = -η_Y (g_{l+1} + λ Y_l)``; it brings ``Y`` into line
with ``W`` only when ``W`` takes the same step, ``ΔW = -η (g + λ W)``. Adam's steps are not the
gradient's, so this part trains every rule with SGD (momentum μ) plus weight decay λ, and sets
``feedback_lr = lr / (1 - μ)`` (the momentum's long-run gain) and ``feedback_decay = λ``; rules:
BP, FA, burstprop with fixed and with learned ``Y``; recorded also the final angle between ``Y_l``
and ``W_{l+1}``.

Part 4, Fashion-MNIST (offline IDX files; a training subset, the full 10000 test examples), MLP
784-500-500-10 (Payeur et al.'s MNIST network, Extended Data Fig. 6: two hidden layers of 500
units), Adam, a few epochs: BP, FA, burstprop. MNIST itself needs TFDS to download, which this
machine cannot (the script tries and says so).

Not reproduced: the paper's spiking model (credax's burstprop is the rate-based ensemble model)
and its convolutional results on CIFAR-10 and ImageNet (credax's burstprop has Dense layers
only).

Published reference (Payeur, Guerguiev, Zenke, Richards & Naud 2021, Nature Neuroscience 24,
1010-1019; PUBLISHED below): the abstract states that burst-dependent plasticity "can solve
challenging tasks that require deep network architectures"; Extended Data Fig. 6 (MNIST, two
hidden layers of 500 units, fixed random feedback ``Y``): the angle between burstprop's and
backprop's updates of ``W(1)``, mean ± sd over 10 initialisations, controlled by the slope of the
bursting nonlinearity; Extended Data Fig. 7 (deep convolutional network on ImageNet): the
linearity of the burst-probability feedback degrades with depth. The test errors the paper
reports for MNIST, CIFAR-10 and ImageNet (burstprop against backprop, feedback alignment and
node perturbation) could not be verified from the sources at hand and are quoted as such.

    python benchmarks/burstprop.py [--seeds 4] [--epochs 30] [--fashion-epochs 5]
    python benchmarks/burstprop.py --quick --out runs/burstprop_quick    # smoke test
"""

from __future__ import annotations

import argparse
import os
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
from common import (  # noqa: E402
    RESULTS,
    band,
    environment,
    machine_load,
    mean_sd,
    significant,
    source_sha256,
    summarise_curves,
    write_json,
)

import credax  # noqa: E402

LOSS = credax.losses.mse
RECORDS = ("burst_probability", "burst_average", "event_rate", "burst_error")
PUBLISHED = {
    "source": "Payeur, Guerguiev, Zenke, Richards & Naud (2021), Nature Neuroscience 24, "
    "1010-1019 (bioRxiv 10.1101/2020.03.30.015511)",
    "mnist_angle": "Extended Data Fig. 6: MNIST, hidden layers of 500 units, fixed random "
    "feedback; angle between the W(1) updates of backprop and burstprop, mean +/- sd over 10 "
    "initialisations, set by the slope of the bursting nonlinearity (values: not verified)",
    "imagenet_linearity": "Extended Data Fig. 7: deep convolutional network on ImageNet; the "
    "linearity of the burst-probability feedback degrades with depth",
    "mnist_test_error": "burstprop vs backprop and feedback alignment: not verified",
    "cifar10_test_error": "conv net, burstprop vs backprop, FA, node perturbation: not verified "
    "(not reproduced: credax's burstprop has Dense layers only)",
    "imagenet_test_error": "deep conv net, burstprop vs backprop and FA: not verified (not "
    "reproduced: Dense layers only, no ImageNet here)",
}


def try_mnist() -> str:
    try:
        credax.data.load("mnist", "test")
        return "available (not used: Fashion-MNIST is the offline stand-in)"
    except Exception as e:  # noqa: BLE001 - any failure is reported, not fatal
        return f"not run: {type(e).__name__}: {str(e).splitlines()[0][:200]}"


def variants(lr_feedback=None, decay=None):
    """The rules of parts 1 and 4 (and, with ``lr_feedback``, part 3's learned feedback)."""
    rules = {
        "bp": ("BP", credax.backprop(LOSS)),
        "fa": ("FA", credax.feedback_alignment(LOSS)),
        "burst": ("burstprop (fixed Y, free-phase P̄)", credax.burstprop(LOSS)),
        "burst_avg": (
            "burstprop (moving-average P̄)",
            credax.burstprop(LOSS, running_average=True),
        ),
        "burst_sym": ("burstprop (Y = W)", credax.burstprop(LOSS, symmetric_feedback=True)),
    }
    if lr_feedback is not None:
        rules["burst_learned"] = (
            "burstprop (learned Y)",
            credax.burstprop(LOSS, feedback_lr=lr_feedback, feedback_decay=decay),
        )
    return rules


def run_part(title, names, rules, make, n_seeds, log):
    """Trains ``names`` (each a vmapped sweep); returns ``{name: (record, history, result)}``."""
    out = {}
    print(f"{title}\n  {'rule':36s} {'test acc %':>15s}  update angle to BP per layer (deg)")
    for name in names:
        label, rule = rules[name]
        t0 = time.perf_counter()
        res = credax.train.sweep(make(rule, name), 0, n_seeds, rule_key_per_seed=True)
        secs = time.perf_counter() - t0
        h = res.history
        acc = 100 * np.asarray(h.test_accuracy[:, -1])
        ang = np.asarray(h.update_angles[:, -1])
        rec = {
            "label": label,
            "final_test_accuracy": mean_sd(acc),
            "test_accuracy_per_seed": acc,
            "final_update_angles_mean": np.nanmean(ang, 0),
            "final_update_angles_sd": np.nanstd(ang, 0),
            "diverged_seeds": int(np.sum(np.asarray(res.diverged_step) >= 0)),
            "seconds": secs,
            "curves": {k: np.asarray(h[k]) for k in ("test_accuracy", "update_angles")},
        }
        for k in RECORDS:
            if k in h:
                rec["curves"][k] = np.asarray(h[k])
                rec[f"final_{k}"] = np.nanmean(np.asarray(h[k][:, -1]), 0)
        out[name] = (rec, h, res)
        angs = " ".join(f"{a:5.1f}" for a in rec["final_update_angles_mean"])
        log(f"  {label:36s} {acc.mean():6.2f} ± {acc.std():4.2f}  {angs}   ({secs:.0f} s)")
    return out


def seed0(tree, like):
    """Seed 0 of a swept parameter/state tree, recombined with ``like``'s static leaves."""
    arrays = jax.tree.map(lambda a: jnp.asarray(a[0]), tree)
    return eqx.combine(arrays, like) if like is not None else arrays


def moving_average_diagnosis(result, init_model, probe, init_state_fn):
    """Part 2: on one network and one state, the moving-average form against the free-phase form
    of the same rule."""
    ra = credax.burstprop(LOSS, running_average=True)
    fp = credax.burstprop(LOSS)
    like = init_model(jax.random.key(0))
    rows = {}
    trained = (seed0(result.params, like), seed0(result.rule_state, None))
    start = (like, init_state_fn(like))
    for when, (params, state) in (("initialisation", start), ("trained", trained)):
        state = credax.BurstpropState(tuple(state.feedback), tuple(state.burst_average))
        grad = jax.grad(lambda p: LOSS(jax.vmap(p)(probe[0]), probe[1]))(params)
        g_ra, _ = ra.update(params, state, probe)
        g_fp, _ = fp.update(params, state, probe)
        rows[when] = {
            "burst_error_moving_average": ra.diagnostics(params, state, probe)["burst_error"],
            "burst_error_free_phase": fp.diagnostics(params, state, probe)["burst_error"],
            "angle_moving_vs_free_phase_update": credax.metrics.update_angles(g_ra, g_fp),
            "angle_moving_average_to_gradient": credax.metrics.update_angles(g_ra, grad),
            "angle_free_phase_to_gradient": credax.metrics.update_angles(g_fp, grad),
        }
    return {w: {k: significant(np.asarray(v)) for k, v in r.items()} for w, r in rows.items()}


def feedback_alignment_angles(result, init_model):
    """Angle (deg) between ``Y_l`` and ``W_{l+1}`` per hidden layer, per seed."""
    ws = [layer.weight for layer in credax.nets.find_layers(result.params)][1:]
    ys = result.rule_state.feedback
    out = []
    for w, y in zip(ws, ys):
        w, y = np.asarray(w).reshape(len(w), -1), np.asarray(y).reshape(len(y), -1)
        cos = np.sum(w * y, 1) / (np.linalg.norm(w, axis=1) * np.linalg.norm(y, axis=1))
        out.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    return np.stack(out, 1)  # (seed, hidden layer)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--epochs", type=int, default=30, help="MNIST-1D epochs (parts 1 and 3)")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam, MNIST-1D")
    p.add_argument("--sgd-lr", type=float, default=0.3, help="part 3")
    p.add_argument("--momentum", type=float, default=0.9, help="part 3")
    p.add_argument("--weight-decay", type=float, default=3e-4, help="part 3, W and Y alike")
    p.add_argument("--fashion-epochs", type=int, default=5)
    p.add_argument("--fashion-train", type=int, default=10000, help="training subset")
    p.add_argument("--fashion-width", type=int, default=500)
    p.add_argument("--fashion-lr", type=float, default=1e-3, help="Adam, Fashion-MNIST")
    p.add_argument("--quick", action="store_true", help="a one-minute smoke test")
    p.add_argument("--out", default=str(RESULTS / "burstprop"))
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs, args.fashion_epochs = 2, 2, 1
        args.fashion_train, args.fashion_width = 2000, 64
    for k in ("seeds", "epochs", "fashion_epochs", "fashion_train", "fashion_width"):
        if getattr(args, k) < 1:
            p.error(f"--{k.replace('_', '-')} must be >= 1")
    if not 0 <= args.momentum < 1:
        p.error("--momentum must be in [0, 1)")
    out = Path(args.out)
    load_start = os.getloadavg()
    t_start = time.perf_counter()
    lines = []

    def log(s):
        print(s, flush=True)
        lines.append(s)

    mnist = try_mnist()
    xtr, ytr = credax.data.load("mnist1d", "train")
    xte, yte = credax.data.load("mnist1d", "test")
    sizes1d = [40, 256, 256, 10]

    def init_1d(k):
        return credax.nets.mlp(
            sizes1d, activation=jax.nn.sigmoid, final_activation=jax.nn.sigmoid, key=k
        )

    batch = 100
    spe = len(xtr) // batch
    every = spe * max(1, args.epochs // 15)
    args.epochs = max(1, args.epochs // (every // spe)) * (every // spe)

    def make_1d(opt, keep=()):
        def make(rule, name):
            return credax.train.make_fit(
                rule, init_1d, opt, loss=LOSS, train=(xtr, ytr), test=(xte, yte),
                epochs=args.epochs, batch_size=batch, eval_every=every,
                keep_rule_state=name in keep,
            )  # fmt: skip

        return make

    payload = {
        "benchmark": "burstprop",
        "command": "python benchmarks/burstprop.py " + " ".join(argv or []),
        "source_sha256": source_sha256("benchmarks/burstprop.py"),
        "published": PUBLISHED,
        "environment": environment(),
        "mnist": mnist,
        "setup": {
            "network": "MLP, logistic hidden and output layers, squared error (credax.losses.mse "
            "on one-hot targets); the same network for every rule",
            "seeds": args.seeds,
            "feedback_draws": "one per seed (rule_key_per_seed=True)",
            "batch_size": batch,
        },
    }
    # --- part 1: MNIST-1D, Adam -----------------------------------------------------------------
    rules = variants()
    names1 = ["bp", "fa", "burst", "burst_avg", "burst_sym"]
    part1 = run_part(
        f"part 1: MNIST-1D, MLP {'-'.join(map(str, sizes1d))} logistic, Adam {args.lr}, "
        f"{args.epochs} epochs, {args.seeds} seeds",
        names1, rules, make_1d(optax.adam(args.lr), keep=("burst_avg",)), args.seeds, log,
    )  # fmt: skip
    epochs_1d = np.asarray(make_1d(optax.adam(args.lr))(rules["bp"][1], "bp").eval_steps) / spe
    payload["part1_mnist1d"] = {
        "setup": {
            "model": f"mlp {'-'.join(map(str, sizes1d))}",
            "optimizer": f"adam {args.lr}",
            "epochs": args.epochs,
            "records_every_epochs": every // spe,
            "data": "MNIST-1D, 4000 train, 1000 test",
        },  # fmt: skip
        "record_epochs": epochs_1d,
        "rules": {k: v[0] for k, v in part1.items()},
    }
    write_json(out.with_suffix(".json"), summarise_curves(payload))

    # --- part 2: the moving-average P̄ against the free-phase P̄ -------------------------------
    probe = (jnp.asarray(xtr[:256]), jnp.asarray(ytr[:256]))
    diag = moving_average_diagnosis(
        part1["burst_avg"][2], init_1d, probe,
        lambda net: rules["burst_avg"][1].init(jax.random.key(0), net),
    )  # fmt: skip
    payload["part2_moving_average"] = diag
    log("part 2: moving-average P̄ vs free-phase P̄ on the same net and state (seed 0, 256 "
        "training examples), per layer")  # fmt: skip
    for when, r in diag.items():
        e = lambda a: " ".join(f"{v:.2e}" for v in a)  # noqa: E731
        d = lambda a: " ".join(f"{v:5.1f}" for v in a)  # noqa: E731
        log(
            f"  {when}: rms(B - P̄E) moving P̄ [{e(r['burst_error_moving_average'])}], "
            f"free-phase P̄ [{e(r['burst_error_free_phase'])}]"
        )
        log(
            f"  {when}: angle moving vs free-phase update "
            f"[{d(r['angle_moving_vs_free_phase_update'])}]; to the gradient: moving "
            f"[{d(r['angle_moving_average_to_gradient'])}], free-phase "
            f"[{d(r['angle_free_phase_to_gradient'])}] deg"
        )

    # --- part 3: learned feedback, Kolen-Pollack-matched SGD ------------------------------------
    lr_y = args.sgd_lr / (1 - args.momentum)
    rules3 = variants(lr_feedback=lr_y, decay=args.weight_decay)
    sgd = optax.chain(
        optax.add_decayed_weights(args.weight_decay),
        optax.sgd(args.sgd_lr, momentum=args.momentum or None),
    )
    names3 = ["bp", "fa", "burst", "burst_learned"]
    part3 = run_part(
        f"part 3: learned feedback, MNIST-1D, SGD {args.sgd_lr} momentum {args.momentum} + "
        f"weight decay {args.weight_decay}; feedback_lr {lr_y:g}, feedback_decay "
        f"{args.weight_decay}",
        names3, rules3, make_1d(sgd, keep=("burst", "burst_learned")), args.seeds, log,
    )  # fmt: skip
    wy = {k: feedback_alignment_angles(part3[k][2], init_1d) for k in ("burst", "burst_learned")}
    for k, a in wy.items():
        part3[k][0]["final_feedback_angle_Y_vs_W"] = np.mean(a, 0)
        part3[k][0]["final_feedback_angle_Y_vs_W_sd"] = np.std(a, 0)
        log(f"  {rules3[k][0]:36s} angle(Y_l, W_l+1) per hidden layer "
            f"{' '.join(f'{v:5.1f}' for v in np.mean(a, 0))} deg")  # fmt: skip
    payload["part3_learned_feedback"] = {
        "setup": {
            "optimizer": f"sgd {args.sgd_lr} momentum {args.momentum} + weight decay "
            f"{args.weight_decay} (every rule)",
            "feedback_lr": lr_y,
            "feedback_decay": args.weight_decay,
            "epochs": args.epochs,
        },  # fmt: skip
        "rules": {k: v[0] for k, v in part3.items()},
    }
    write_json(out.with_suffix(".json"), summarise_curves(payload))

    # --- part 4: Fashion-MNIST ------------------------------------------------------------------
    ftr, fytr = credax.data.load("fashion_mnist", "train")
    fte, fyte = credax.data.load("fashion_mnist", "test")
    ftr = ftr.reshape(len(ftr), -1)[: args.fashion_train]
    fytr = fytr[: args.fashion_train]
    fte = fte.reshape(len(fte), -1)
    w = args.fashion_width
    sizes_f = [ftr.shape[1], w, w, 10]

    def init_f(k):
        return credax.nets.mlp(
            sizes_f, activation=jax.nn.sigmoid, final_activation=jax.nn.sigmoid, key=k
        )

    spe_f = len(ftr) // batch
    every_f = spe_f

    def make_f(rule, name):
        return credax.train.make_fit(
            rule, init_f, optax.adam(args.fashion_lr), loss=LOSS, train=(ftr, fytr),
            test=(fte, fyte), epochs=args.fashion_epochs, batch_size=batch, eval_every=every_f,
        )  # fmt: skip

    names4 = ["bp", "fa", "burst"]
    part4 = run_part(
        f"part 4: Fashion-MNIST ({len(ftr)} train, {len(fte)} test), MLP "
        f"{'-'.join(map(str, sizes_f))} logistic, Adam {args.fashion_lr}, {args.fashion_epochs} "
        f"epochs, {args.seeds} seeds",
        names4, rules, make_f, args.seeds, log,
    )  # fmt: skip
    epochs_f = np.asarray(make_f(rules["bp"][1], "bp").eval_steps) / spe_f
    payload["part4_fashion_mnist"] = {
        "setup": {"model": f"mlp {'-'.join(map(str, sizes_f))}",
                  "optimizer": f"adam {args.fashion_lr}", "epochs": args.fashion_epochs,
                  "data": f"Fashion-MNIST, first {len(ftr)} training examples, 10000 test"},
        "record_epochs": epochs_f,
        "rules": {k: v[0] for k, v in part4.items()},
    }  # fmt: skip
    payload["wall_seconds"] = time.perf_counter() - t_start
    payload["load"] = machine_load(load_start, "times")
    payload["printed"] = lines
    write_json(out.with_suffix(".json"), summarise_curves(payload))

    # --- figure ---------------------------------------------------------------------------------
    colors = {"bp": "k", "fa": "tab:blue", "burst": "tab:red", "burst_avg": "tab:orange",
              "burst_sym": "tab:purple", "burst_learned": "tab:green"}  # fmt: skip
    fig, ax = plt.subplots(3, 4, figsize=(20, 12.5))
    for name, (rec, h, _) in part1.items():
        band(ax[0, 0], epochs_1d, 100 * np.asarray(h.test_accuracy), rec["label"], colors[name])
        if name != "bp":
            for l, a in enumerate((ax[0, 1], ax[0, 2])):
                band(a, epochs_1d, np.asarray(h.update_angles[:, :, l]), rec["label"],
                     colors[name])  # fmt: skip
    ax[0, 0].set(xlabel="epoch", ylabel="test accuracy (%)", title="MNIST-1D, Adam (±1 sd)")
    ax[0, 1].set(xlabel="epoch", ylabel="degrees", title="MNIST-1D: update angle to BP, layer 1")
    ax[0, 2].set(xlabel="epoch", ylabel="degrees", title="MNIST-1D: update angle to BP, layer 2")
    ax[0, 0].legend(fontsize=7)
    ax[0, 1].legend(fontsize=7)
    for rname, a in (("burst", ax[0, 3]), ("burst_avg", ax[1, 0])):
        h = part1[rname][1]
        n_layers = np.asarray(h.burst_probability).shape[-1]
        for l in range(n_layers):
            band(a, epochs_1d, np.asarray(h.burst_probability[:, :, l]), f"p^t, layer {l + 1}")
            a.plot(epochs_1d, np.nanmean(np.asarray(h.burst_average[:, :, l]), 0), ls=":",
                   color=a.lines[-1].get_color(), label=f"P̄ (state), layer {l + 1}")  # fmt: skip
        a.set(xlabel="epoch", ylabel="mean over units and examples",
              title=f"{part1[rname][0]['label']}: burst probability")  # fmt: skip
        a.legend(fontsize=7)
    for rname, a in (("burst", ax[1, 1]), ("burst_avg", ax[1, 2])):
        h = part1[rname][1]
        for l in range(np.asarray(h.burst_error).shape[-1]):
            band(a, epochs_1d, np.asarray(h.burst_error[:, :, l]), f"layer {l + 1}")
        a.set_yscale("log")
        a.set(xlabel="epoch", ylabel="rms(B - P̄E)", title=f"{part1[rname][0]['label']}: "
              "burst error")  # fmt: skip
        a.legend(fontsize=7)
    h = part1["burst"][1]
    for l in range(np.asarray(h.event_rate).shape[-1]):
        band(ax[1, 3], epochs_1d, np.asarray(h.event_rate[:, :, l]), f"layer {l + 1}")
    ax[1, 3].set(xlabel="epoch", ylabel="mean event rate e", title="burstprop: event rates")
    ax[1, 3].legend(fontsize=7)
    for name, (rec, h, _) in part3.items():
        band(ax[2, 0], epochs_1d, 100 * np.asarray(h.test_accuracy), rec["label"], colors[name])
        if name != "bp":
            band(ax[2, 1], epochs_1d, np.asarray(h.update_angles[:, :, 1]), rec["label"],
                 colors[name])  # fmt: skip
    ax[2, 0].set(xlabel="epoch", ylabel="test accuracy (%)",
                 title="MNIST-1D, SGD + decay: learned feedback")  # fmt: skip
    ax[2, 1].set(xlabel="epoch", ylabel="degrees",
                 title="learned feedback: update angle to BP, layer 2")  # fmt: skip
    ax[2, 0].legend(fontsize=7)
    ax[2, 1].legend(fontsize=7)
    for name, (rec, h, _) in part4.items():
        band(ax[2, 2], epochs_f, 100 * np.asarray(h.test_accuracy), rec["label"], colors[name])
        if name != "bp":
            for l in range(2):
                band(ax[2, 3], epochs_f, np.asarray(h.update_angles[:, :, l]),
                     f"{rec['label']}, layer {l + 1}")  # fmt: skip
    ax[2, 2].set(xlabel="epoch", ylabel="test accuracy (%)",
                 title=f"Fashion-MNIST {'-'.join(map(str, sizes_f))}, Adam")  # fmt: skip
    ax[2, 3].set(xlabel="epoch", ylabel="degrees", title="Fashion-MNIST: update angle to BP")
    ax[2, 2].legend(fontsize=7)
    ax[2, 3].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=100)
    plt.close(fig)
    for k, v in PUBLISHED.items():
        print(f"published ({k}): {v}")
    print(f"MNIST: {mnist}")
    print(f"wall time {payload['wall_seconds']:.0f} s; wrote {out.with_suffix('.json')} and "
          f"{out.with_suffix('.png')}")  # fmt: skip


if __name__ == "__main__":
    main()
