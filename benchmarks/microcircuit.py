"""Dendritic cortical microcircuits (Sacramento, Ponte Costa, Bengio & Senn 2018) in credax: the
self-predicting state forming, the paper's nonlinear regression teacher task, and
classification on MNIST-1D and Fashion-MNIST, with per-layer update angles to backprop.

Published reference (NeurIPS 2018, "Dendritic cortical microcircuits approximate the
backpropagation algorithm"; the figures below are quoted from its text):
- Sec. 3.3, Fig. 2: a 30-50-10 pyramidal network (10 hidden-layer interneurons) learns a
  random 30-20-10 teacher, ``r_trgt = φ(k21 W21 φ(k10 W10 r0))`` with ``k21 = 10``,
  ``k10 = 2``, teacher weights and inputs drawn from U(-1, 1), and the soft rectifier
  ``φ(u) = 0.1 log(1 + exp(u - 3))``; top-down weights fixed random; "forward weights quickly
  aligned to ~45° of the feedback weights"; the self-predicting state "emerged throughout
  learning from a random initial configuration" (its Fig. S1, in the supplement, not checked
  here); the microcircuit beats a shallow learner (only hidden-to-output weights plastic).
- Sec. 3.4, Fig. 3B: MNIST, 784-500-500-10 logistic network initialised in a self-predicting
  state, top-down and interneuron-to-pyramidal weights fixed, minibatches of 10, targets
  {0.1, 0.8}: test error 1.96% (backprop 1.53%, shallow learner 8.4%); 2.11% with the
  hidden-to-hidden weights frozen. MNIST needs TFDS or the IDX files, which this machine
  cannot download: the script tries and records why it is not run.

Three parts, every seed of a run in one compiled program (``credax.train.sweep``: ``lax.scan``
over steps, ``jax.vmap`` over seeds; top-down weights and feedback matrices drawn per seed).

1. The self-predicting state (the first, unsupervised phase):
   ``credax.dendrites.microcircuit_self_prediction`` on the regression task's 30-50-10 student
   (its initial weights, below), inputs drawn from U(-1, 1), interneuron weights ``W^IP`` random
   (Glorot-uniform), ``W^PI = 0``, top-down ``B`` random and fixed; ``--pre-updates`` (2000)
   updates of 32 inputs, ``interneuron_lr = 2``, ``apical_lr = 5``. Records, per update:
   ``apical_mismatch`` (rms apical potential / rms top-down input), ``self_prediction_error``,
   ``interneuron_mismatch``. The same phase with the paper's continuous dynamics
   (``continuous=True``: Euler steps ``dt = 0.1 τ`` over ``10 τ`` per presentation, plasticity
   integrated over it) on the first 200 updates, beside the steady state on the same grid.
2. The teacher task (Fig. 2's protocol as above). Student 30-50-10, ``φ`` on the hidden layer;
   its first layer drawn like the teacher's (``k10 U(-1, 1)``, so that its rates start in the
   same sparse regime), output layer U(-0.1, 0.1), biases 0. The output soma is nudged in
   potential space, as the paper's teaching current (``u_N = (1 - λ) v̂_N + λ u_trgt``): the
   student's output layer is linear and learns the teacher's output potential
   ``u_trgt = k21 W21 φ(k10 W10 r0)`` under ``credax.losses.mse`` (the paper's rate error
   ``‖φ(u_N) - r_trgt‖²`` is recorded too). Plain SGD, ``--lr`` (0.1), batches of 16,
   ``--steps`` (8000) fresh examples each; a fixed teacher, 1000 test inputs. Rules: backprop;
   the shallow learner (backprop on the output layer only); feedback alignment; the microcircuit
   (``nudging = λ_I = γ = 0.8/1.9``) started from the state that part 1's phase learns
   (run inside the rule's ``init``), ``B`` fixed random, ``W^PI`` fixed after the phase
   (``apical_lr = 0``), ``W^IP`` learning at the rate matched to SGD (below); and, as
   references, the microcircuit with symmetric top-down weights (``symmetric_top_down=True``:
   ``B = W_2ᵀ`` and ``W^PI = -B`` at every update, a non-local reference for backprop's limit;
   started self-predicting) and the microcircuit trained by Adam (1e-3, ``W^IP`` at the phase's
   rate 2), which shows the interneurons' lag. Also recorded: the angle between the output
   layer's forward weights and the feedback carrying its error (``W_2ᵀ`` vs ``B``; FA's
   ``B_2``), the quantity behind the paper's ~45°.
3. Classification, one-hidden-layer tanh MLPs, softmax cross-entropy: MNIST-1D (40-256-10,
   4000 training and 1000 test examples) and Fashion-MNIST (784-256-10, inputs standardised
   per pixel, the first ``--fashion-train`` (10000) training images, 10000 test). Plain SGD,
   the same rate for every rule (MNIST-1D ``--lr-mnist1d`` 0.05, Fashion-MNIST
   ``--lr-fashion`` 0.02: the stability limit below), batches of 50; the microcircuit starts in a
   self-predicting state (``self_predicting_init=True``, as the paper's MNIST run) with
   ``W^PI`` fixed and ``W^IP`` learning at half the matched rate below (at the matched rate
   2 of 8 MNIST-1D seeds diverged after ~40 epochs; at half of it all 8 hold, with a small
   lag; ``η = 0.03`` at the matched rate was stable too but slower for every rule). Test
   accuracy (mean ± sd over seeds) and the per-layer update angle to backprop's gradient on a
   fixed probe batch.

Why these learning rates. With SGD the interneurons' rule mirrors the forward rule of the layer
above: to first order in the nudging, ``ΔW^IP_l = η_IP λ_I (φ(u) - φ(v̂)) r_lᵀ`` while the
forward update of ``W_{l+1}`` is ``η (φ(u) - φ(v̂)) r_lᵀ / gain_{l+1}`` (credax divides by the
backprop-limit gain, ``λ`` for the output layer), so with
``interneuron_lr = η / (λ_I gain_{l+1})`` the interneurons follow the weights they predict and
the self-predicting state is kept (``apical_mismatch`` stays ~0). Adam rescales each forward
weight's step and breaks this: its microcircuit lags (part 2's Adam run). The matched rate
also multiplies the interneurons' own correction step, a regression of ``v̂^I_l`` onto
``v̂_{l+1}`` with curvature ``λ_I λmax(E[r_l r_lᵀ])``, which diverges past ``η ≈ 0.08`` on
MNIST-1D's 256 tanh units (a sweep of ``η`` in {0.05, 0.1, 0.15, 0.3} on 40-256-10, batches of
100, 2 seeds, 20 epochs: 0.05 held, 0.1 and above diverged; on Fashion-MNIST's hidden rates,
with a larger ``λmax``, 0.05 diverged in a short run and 0.02 is used); every rule of a dataset
uses the same ``η``. One scalar ``interneuron_lr`` matches one layer: with two hidden layers
the lower interneurons need a rate 1/(γ(1 - λ_I)) ≈ 4 times larger. On MNIST-1D 40-256-256-10
at ``η = 0.05`` both per-layer matched rates (applied by rescaling the state's step) and the
output layer's matched rate for both populations diverged in our trials, which is why part 3
uses one hidden layer; the paper's per-layer rates for its 784-500-500-10 network are in its
supplement, not checked here.

Deviations from the paper: rates and steady states (the continuous dynamics only in part 1),
no injected noise; the output nudging is written for a loss (``u_N = v̂_N - λ ∂ℓ/∂r_N``),
which for the squared error on a linear output is the paper's ``(1 - λ) v̂_N + λ u_trgt``;
part 3 uses softmax cross-entropy on linear outputs (not logistic outputs with targets
{0.1, 0.8}), tanh (not the logistic function), one hidden layer, and data subsets and epochs
sized for a 2-core CPU.

The JSON holds every printed figure, per-seed finals, and the curves as mean, sd and
16th/84th percentiles over seeds.

    python benchmarks/microcircuit.py [--seeds 8] [--steps 8000] [--epochs-mnist1d 50]
    python benchmarks/microcircuit.py --quick    # smoke test, into runs/microcircuit_quick
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from common import RESULTS, band, environment, mean_sd, summarise_curves, write_json  # noqa: E402

import credax  # noqa: E402

PUBLISHED = {
    "source": "Sacramento, Ponte Costa, Bengio & Senn (2018), NeurIPS 31",
    "mnist_test_error_microcircuit": 1.96,
    "mnist_test_error_backprop": 1.53,
    "mnist_test_error_shallow": 8.4,
    "mnist_test_error_hidden_to_hidden_frozen": 2.11,
    "mnist_where": "Sec. 3.4 and Fig. 3B: 784-500-500-10 logistic network, self-predicting "
    "initialisation, top-down and interneuron-to-pyramidal weights fixed",
    "regression_where": "Sec. 3.3 and Fig. 2: 30-50-10 student, 30-20-10 teacher, k21 = 10, "
    "k10 = 2, U(-1, 1) weights and inputs, phi(u) = 0.1 log(1 + exp(u - 3))",
    "regression_alignment_deg": 45,
    "regression_alignment_where": "Sec. 3.3: forward weights aligned to ~45 degrees of the "
    "(fixed random) top-down weights",
}
PUBLISHED_LINE = (
    "published (Sacramento et al. 2018, Sec. 3.4 / Fig. 3B): MNIST 784-500-500-10 test error "
    "1.96% (backprop 1.53%, shallow 8.4%); Sec. 3.3: forward weights align to ~45° of the "
    "random top-down weights on the 30-50-10 teacher task"
)

K10, K21 = 2.0, 10.0  # the paper's teacher scale factors
N_IN, N_HID, N_OUT, N_TEACH = 30, 50, 10, 20
COUPLING = 0.8 / 1.9  # γ, λ_I (credax's defaults) and the nudging λ used here
PRE = {"interneuron_lr": 2.0, "apical_lr": 5.0}  # the self-prediction phase
PRE_BATCH = 32
REG_BATCH = 16
CLASS_BATCH = 50
MARGIN = 0.5  # part 3: the interneuron rate is half the matched one (a stability margin)


def phi(u):
    """The paper's soft rectifier, ``0.1 log(1 + exp(u - 3))``."""
    return 0.1 * jax.nn.softplus(u - 3.0)


# --- the regression teacher task ------------------------------------------------------------------


def make_teacher(key):
    """The teacher's output potential ``u_trgt(x) = k21 W21 φ(k10 W10 x)`` (its rate is
    ``φ(u_trgt)``), weights from U(-1, 1)."""
    k1, k2 = jax.random.split(key)
    w10 = jax.random.uniform(k1, (N_TEACH, N_IN), minval=-1.0, maxval=1.0)
    w21 = jax.random.uniform(k2, (N_OUT, N_TEACH), minval=-1.0, maxval=1.0)
    return lambda x: K21 * phi(K10 * x @ w10.T) @ w21.T


def draw_inputs(key, n):
    return jax.random.uniform(key, (n, N_IN), minval=-1.0, maxval=1.0)


def init_student(key):
    """30-50-10, ``φ`` hidden, linear output (the output potential); first layer ``k10 U(-1, 1)``,
    output layer U(-0.1, 0.1), biases 0."""
    k0, k1, k2 = jax.random.split(key, 3)
    net = credax.nets.mlp([N_IN, N_HID, N_OUT], activation=phi, key=k0)
    w1 = K10 * jax.random.uniform(k1, (N_HID, N_IN), minval=-1.0, maxval=1.0)
    w2 = 0.1 * jax.random.uniform(k2, (N_OUT, N_HID), minval=-1.0, maxval=1.0)

    def where(n):
        return n.layers[0].weight, n.layers[0].bias, n.layers[1].weight, n.layers[1].bias

    return eqx.tree_at(where, net, (w1, jnp.zeros(N_HID), w2, jnp.zeros(N_OUT)))


# --- rule wrappers (protocols around credax's rules) ----------------------------------------------


def after_self_prediction(rule, phase, draw, updates, batch):
    """``rule`` whose ``init`` first runs ``updates`` steps of the unsupervised ``phase`` (a
    ``microcircuit_self_prediction``) on inputs ``draw(key, batch)``, from the rule's own
    initial state (same top-down weights): the paper's first phase, inside the compiled run."""

    def init(key, params):
        state = rule.init(key, params)

        def step(s, k):
            return phase.update(params, s, draw(k, batch))[1], None

        keys = jax.random.split(jax.random.fold_in(key, 0x5E1F), updates)
        return jax.lax.scan(step, state, keys)[0]

    return rule._replace(init=init)


def shallow(loss, params_like):
    """The paper's shallow learner: backprop on the output layer only."""
    n = len(credax.nets.find_layers(params_like))
    return credax.masked(credax.backprop(loss), credax.nets.layer_mask(params_like, n - 1))


def microcircuit(loss, lr, **options):
    """The microcircuit with ``λ = λ_I = γ = 0.8/1.9``, ``W^PI`` fixed, and the interneuron
    rate matched to SGD ``lr`` on the output layer: ``lr / (λ_I λ)`` (one hidden layer)."""
    kw = dict(nudging=COUPLING, apical_lr=0.0, interneuron_lr=lr / (COUPLING * COUPLING))
    kw.update(options)
    return credax.dendritic_microcircuit(loss, **kw)


def about(total, records):
    """The divisor of ``total`` steps closest to ``total / records``: the record interval."""
    divisors = [d for d in range(1, total + 1) if total % d == 0]
    return min(divisors, key=lambda d: abs(d - total / records))


def forward_feedback_angle(params, state):
    """The angle (degrees) between the output layer's forward weights and the feedback that
    carries its error down: ``W_2ᵀ`` vs the top-down ``B`` (microcircuit), ``W_2`` vs FA's
    ``B_2``; NaN for the other rules (and for symmetric top-down, where it is 0 by construction)."""
    w = credax.nets.find_layers(params)[1].weight
    if isinstance(state, credax.MicrocircuitState):
        return credax.metrics.angle(w.T, state.top_down[0])
    if isinstance(state, credax.FeedbackAlignmentState):
        return credax.metrics.angle(w, state.feedback[1])
    return jnp.float32(jnp.nan)


def finals(h, names):
    out = {}
    for k in names:
        if k in h:
            a = np.asarray(h[k], np.float64)[:, -1]
            out[k] = {"mean": np.nanmean(a, 0), "sd": np.nanstd(a, 0), "per_seed": a}
    return out


# --- part 1 ---------------------------------------------------------------------------------------


def part_self_prediction(args, log):
    records = ("apical_mismatch", "self_prediction_error", "interneuron_mismatch")
    xt = draw_inputs(jax.random.key(11), 256)

    def run(updates, every, **options):
        phase = credax.dendrites.microcircuit_self_prediction(**PRE, **options)
        fit = credax.train.make_fit(
            phase,
            init_student,
            optax.sgd(1.0),  # the phase's forward updates are zero
            train=draw_inputs,
            test=xt,
            epochs=1,
            steps_per_epoch=updates,
            batch_size=PRE_BATCH,
            eval_every=every,
            evaluate=lambda params, state, test, probe: {},
        )
        t0 = time.perf_counter()
        h = credax.train.sweep(fit, 1, args.seeds, rule_key_per_seed=True).history
        return np.asarray(fit.eval_steps), h, time.perf_counter() - t0

    out = {}
    n, nc = args.pre_updates, args.continuous_updates
    for label, updates, every, opts in (
        ("steady", n, max(1, n // 40), {}),
        ("steady_short", nc, max(1, nc // 20), {}),
        ("continuous", nc, max(1, nc // 20), {"continuous": True, "dt": 0.1, "steps": 100}),
    ):
        steps, h, secs = run(updates, every, **opts)
        out[label] = {
            "updates": updates,
            "record_steps": steps,
            "seconds": secs,
            "final": finals(h, records),
            "curves": {k: np.asarray(h[k])[..., 0] for k in records},
        }
        fin = out[label]["final"]
        log(
            f"  {label:13s} {updates:5d} updates: apical mismatch "
            f"{fin['apical_mismatch']['mean'][0]:.2e} ± {fin['apical_mismatch']['sd'][0]:.1e}, "
            f"self-prediction error {fin['self_prediction_error']['mean'][0]:.2e}, "
            f"interneuron mismatch {fin['interneuron_mismatch']['mean'][0]:.2e}  ({secs:.0f} s)"
        )
    a = out["steady_short"]["curves"]["apical_mismatch"]
    b = out["continuous"]["curves"]["apical_mismatch"]
    out["steady_vs_continuous_max_abs_diff"] = float(np.max(np.abs(a.mean(0) - b.mean(0))))
    log(
        "  steady vs continuous, apical mismatch over the first "
        f"{nc} updates: largest difference of the seed means "
        f"{out['steady_vs_continuous_max_abs_diff']:.3g}"
    )
    return out


# --- part 2 ---------------------------------------------------------------------------------------


def part_teacher(args, log):
    teacher = make_teacher(jax.random.key(1234))
    loss = credax.losses.mse

    def sample(key, n):
        x = draw_inputs(key, n)
        return x, teacher(x)

    xt = draw_inputs(jax.random.key(99), 1000)
    test = (xt, teacher(xt))
    phase = credax.dendrites.microcircuit_self_prediction(**PRE)
    lr = args.lr
    rules = {
        "bp": ("backprop", credax.backprop(loss), optax.sgd(lr)),
        "shallow": (
            "shallow (output layer only)",
            shallow(loss, init_student(jax.random.key(0))),
            optax.sgd(lr),
        ),
        "fa": ("feedback alignment", credax.feedback_alignment(loss), optax.sgd(lr)),
        "mc": (
            "microcircuit, random B",
            after_self_prediction(
                microcircuit(loss, lr, self_predicting_init=False),
                phase,
                draw_inputs,
                args.pre_updates,
                PRE_BATCH,
            ),
            optax.sgd(lr),
        ),
        "mc_sym": (
            "microcircuit, symmetric B (reference)",
            microcircuit(loss, lr, symmetric_top_down=True, self_predicting_init=True),
            optax.sgd(lr),
        ),
        "mc_adam": (
            "microcircuit, random B, Adam",
            after_self_prediction(
                microcircuit(
                    loss, lr, interneuron_lr=PRE["interneuron_lr"], self_predicting_init=False
                ),
                phase,
                draw_inputs,
                args.pre_updates,
                PRE_BATCH,
            ),
            optax.adam(1e-3),
        ),
    }
    every = about(args.steps, 30)
    out = {}
    for name, (label, rule, opt) in rules.items():
        base = credax.tasks.supervised_evaluation(loss, rule, classification=False)

        def evaluate(params, state, test, probe, base=base, symmetric=name == "mc_sym"):
            rec = base(params, state, test, probe)
            out_potential = jax.vmap(params)(test[0])
            rec["rate_error"] = jnp.mean(jnp.sum((phi(out_potential) - phi(test[1])) ** 2, -1))
            rec["forward_feedback_angle"] = (
                jnp.float32(jnp.nan) if symmetric else forward_feedback_angle(params, state)
            )
            return rec

        fit = credax.train.make_fit(
            rule,
            init_student,
            opt,
            loss=loss,
            train=sample,
            test=test,
            epochs=1,
            steps_per_epoch=args.steps,
            batch_size=REG_BATCH,
            eval_every=every,
            evaluate=evaluate,
        )
        t0 = time.perf_counter()
        h = credax.train.sweep(fit, 2, args.seeds, rule_key_per_seed=name != "bp").history
        secs = time.perf_counter() - t0
        keep = (
            "test_loss",
            "rate_error",
            "forward_feedback_angle",
            "update_angles",
            "apical_mismatch",
            "self_prediction_error",
            "apical_error",
        )
        rec = {
            "label": label,
            "optimizer": "adam 1e-3" if name == "mc_adam" else f"sgd {lr}",
            "seconds": secs,
            "diverged_seeds": int((~np.asarray(h["finite"])[:, -1]).sum()),
            "final": finals(h, keep),
            "record_steps": np.asarray(fit.eval_steps),
            "curves": {k: np.asarray(h[k]) for k in keep if k in h},
        }
        out[name] = rec
        f = rec["final"]
        ang = f["update_angles"]["mean"]
        mism = f.get("apical_mismatch", {}).get("mean")
        log(
            f"  {label:46s} test loss {f['test_loss']['mean']:7.3f} ± {f['test_loss']['sd']:6.3f}"
            f"  rate error {f['rate_error']['mean']:.4f}  angles {ang[0]:5.1f} {ang[1]:5.1f}"
            + (f"  apical mismatch {mism[0]:.3f}" if mism is not None else "")
            + (
                f"  W-B angle {wb:4.1f}"
                if np.isfinite(wb := float(f["forward_feedback_angle"]["mean"]))
                else ""
            )
            + f"  ({secs:.0f} s)"
        )
    return out


# --- part 3 ---------------------------------------------------------------------------------------


def load_classification(args):
    try:
        credax.data.load("mnist", "test")
        mnist = "available, not run (this benchmark's sizes are for a 2-core CPU)"
    except Exception as e:  # noqa: BLE001 - any failure is recorded, not fatal
        mnist = f"not run: {type(e).__name__}: {str(e).splitlines()[0][:200]}"
    sets = {}
    xtr, ytr = credax.data.load("mnist1d", "train")
    xte, yte = credax.data.load("mnist1d", "test")
    sets["mnist1d"] = ((xtr, ytr), (xte, yte), [40, 256, 10], args.epochs_mnist1d, args.lr_mnist1d)
    xtr, ytr = credax.data.load("fashion_mnist", "train")
    xte, yte = credax.data.load("fashion_mnist", "test")
    xtr = xtr.reshape(len(xtr), -1)[: args.fashion_train]
    ytr = ytr[: args.fashion_train]
    xte = xte.reshape(len(xte), -1)
    mu, sd = xtr.mean(0), xtr.std(0) + 0.1  # per pixel, from the training subset
    sets["fashion_mnist"] = (
        ((xtr - mu) / sd, ytr),
        ((xte - mu) / sd, yte),
        [784, 256, 10],
        args.epochs_fashion,
        args.lr_fashion,
    )
    return sets, mnist


def part_classification(args, log):
    sets, mnist = load_classification(args)
    log(f"  MNIST: {mnist}")
    loss = credax.losses.softmax_cross_entropy
    out = {"mnist": mnist}
    for ds, (train, test, sizes, epochs, lr) in sets.items():

        def init_model(k, sizes=sizes):
            return credax.nets.mlp(sizes, activation=jnp.tanh, key=k)

        rules = {
            "bp": ("backprop", credax.backprop(loss)),
            "fa": ("feedback alignment", credax.feedback_alignment(loss)),
            "mc": (
                "microcircuit, random B",
                microcircuit(
                    loss,
                    lr,
                    self_predicting_init=True,
                    interneuron_lr=MARGIN * lr / COUPLING**2,
                ),
            ),
        }
        spe = len(train[0]) // CLASS_BATCH
        out[ds] = {
            "model": f"mlp {'-'.join(map(str, sizes))} tanh, softmax cross-entropy",
            "train_examples": len(train[0]),
            "test_examples": len(test[0]),
            "epochs": epochs,
            "optimizer": f"sgd {lr}",
            "rules": {},
        }
        for name, (label, rule) in rules.items():
            fit = credax.train.make_fit(
                rule,
                init_model,
                optax.sgd(lr),
                loss=loss,
                train=train,
                test=test,
                epochs=epochs,
                batch_size=CLASS_BATCH,
                eval_every=about(spe * epochs, 20),
            )
            t0 = time.perf_counter()
            h = credax.train.sweep(fit, 3, args.seeds, rule_key_per_seed=name != "bp").history
            secs = time.perf_counter() - t0
            acc = 100 * np.asarray(h["test_accuracy"], np.float64)
            keep = ("test_loss", "update_angles", "apical_mismatch", "apical_error")
            rec = {
                "label": label,
                "seconds": secs,
                "diverged_seeds": int((~np.asarray(h["finite"])[:, -1]).sum()),
                "test_accuracy": mean_sd(acc[:, -1]),
                "test_accuracy_per_seed": acc[:, -1],
                "final": finals(h, keep),
                "record_epochs": np.asarray(fit.eval_steps) / spe,
                "curves": {"test_accuracy": acc, **{k: np.asarray(h[k]) for k in keep if k in h}},
            }
            out[ds]["rules"][name] = rec
            ang = rec["final"]["update_angles"]["mean"]
            mism = rec["final"].get("apical_mismatch", {}).get("mean")
            log(
                f"  {ds:13s} {label:24s} test accuracy {rec['test_accuracy'][0]:5.2f} ± "
                f"{rec['test_accuracy'][1]:4.2f} %  angles {ang[0]:5.1f} {ang[1]:5.1f}"
                + (f"  apical mismatch {mism[0]:.4f}" if mism is not None else "")
                + f"  ({secs:.0f} s)"
            )
    return out


# --- figure ---------------------------------------------------------------------------------------


def figure(payload, path):
    p1, p2, p3 = payload["part1"], payload["part2"], payload["part3"]
    fig, ax = plt.subplots(3, 4, figsize=(20, 13))
    names = {
        "apical_mismatch": "apical mismatch",
        "self_prediction_error": "self-prediction error",
        "interneuron_mismatch": "interneuron mismatch",
    }
    s = p1["steady"]
    for k, label in names.items():
        band(ax[0, 0], s["record_steps"], s["curves"][k], label)
    ax[0, 0].set(
        yscale="log",
        xlabel="update",
        ylabel="relative rms",
        title="1. self-predicting state forming (steady state, ±1 sd)",
    )
    ax[0, 0].legend(fontsize=8)
    for label, color in (("steady_short", "tab:blue"), ("continuous", "tab:red")):
        r = p1[label]
        band(ax[0, 1], r["record_steps"], r["curves"]["apical_mismatch"], label, color)
    ax[0, 1].set(
        xlabel="update",
        ylabel="apical mismatch",
        title="1. steady vs continuous dynamics (largest gap "
        f"{p1['steady_vs_continuous_max_abs_diff']:.1e})",
    )
    ax[0, 1].legend(fontsize=8)
    colors = {
        "bp": "k",
        "shallow": "0.6",
        "fa": "tab:green",
        "mc": "tab:blue",
        "mc_sym": "tab:purple",
        "mc_adam": "tab:orange",
    }
    for name, r in p2.items():
        x = r["record_steps"]
        band(ax[0, 2], x, r["curves"]["test_loss"], r["label"], colors[name])
        if name not in ("bp", "shallow"):
            band(ax[0, 3], x, r["curves"]["update_angles"][:, :, 0], r["label"], colors[name])
    ax[0, 2].set(
        yscale="log",
        xlabel="step",
        ylabel="test mse (output potential)",
        title="2. teacher task (Fig. 2): loss",
    )
    ax[0, 2].legend(fontsize=7)
    ax[0, 3].set(xlabel="step", ylabel="degrees", title="2. hidden-layer update angle to backprop")
    ax[0, 3].legend(fontsize=7)
    for name in ("mc", "mc_adam"):
        r = p2[name]
        band(
            ax[1, 0],
            r["record_steps"],
            r["curves"]["apical_mismatch"][:, :, 0],
            r["label"],
            colors[name],
        )
    ax[1, 0].set(
        xlabel="step",
        ylabel="apical mismatch (free state)",
        title="2. interneuron lag: SGD-matched vs Adam",
    )
    ax[1, 0].legend(fontsize=7)
    for name, r in p2.items():
        band(ax[1, 1], r["record_steps"], r["curves"]["rate_error"], r["label"], colors[name])
    ax[1, 1].set(
        yscale="log", xlabel="step", ylabel="‖φ(u_N) - r_trgt‖²", title="2. the paper's rate error"
    )
    ax[1, 1].legend(fontsize=7)
    for name in ("fa", "mc", "mc_adam"):
        r = p2[name]
        band(
            ax[1, 2],
            r["record_steps"],
            r["curves"]["forward_feedback_angle"],
            r["label"],
            colors[name],
        )
    ax[1, 2].axhline(45, ls=":", c="0.5", label="published: ~45°")
    ax[1, 2].set(
        xlabel="step", ylabel="degrees", title="2. output weights vs top-down feedback (W₂ᵀ vs B)"
    )
    ax[1, 2].legend(fontsize=7)
    ax[1, 3].axis("off")
    ax[1, 3].text(
        0, 1, "\n".join(_summary_lines(payload)), va="top", fontsize=8, family="monospace"
    )
    for j, ds in enumerate(("mnist1d", "fashion_mnist")):
        for name, r in p3[ds]["rules"].items():
            band(
                ax[2, 2 * j],
                r["record_epochs"],
                r["curves"]["test_accuracy"],
                r["label"],
                colors[name],
            )
            if name != "bp":
                band(
                    ax[2, 2 * j + 1],
                    r["record_epochs"],
                    r["curves"]["update_angles"][:, :, 0],
                    r["label"],
                    colors[name],
                )
        ax[2, 2 * j].set(
            xlabel="epoch",
            ylabel="test accuracy (%)",
            title=f"3. {ds}: {p3[ds]['model'].split(',')[0]}",
        )
        ax[2, 2 * j].legend(fontsize=7)
        ax[2, 2 * j + 1].set(
            xlabel="epoch",
            ylabel="degrees",
            title=f"3. {ds}: hidden-layer angle to backprop",
        )
        ax[2, 2 * j + 1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _summary_lines(payload):
    lines = ["final figures (mean ± sd over seeds)", ""]
    for name, r in payload["part2"].items():
        f = r["final"]
        lines.append(
            f"{name:8s} mse {f['test_loss']['mean']:8.3f}  "
            f"angle {f['update_angles']['mean'][0]:5.1f}°"
        )
    lines.append("")
    for ds in ("mnist1d", "fashion_mnist"):
        for name, r in payload["part3"][ds]["rules"].items():
            a = r["test_accuracy"]
            lines.append(
                f"{ds[:8]:8s} {name:3s} {a[0]:5.2f} ± {a[1]:4.2f} %  "
                f"angle {r['final']['update_angles']['mean'][0]:5.1f}°"
            )
    lines += [
        "",
        "published (MNIST, 784-500-500-10):",
        "  microcircuit 1.96% error,",
        "  backprop 1.53%, shallow 8.4%",
    ]
    return lines


# --- main -----------------------------------------------------------------------------------------


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=None, help="default 8 (quick 2)")
    p.add_argument("--pre-updates", type=int, default=None, help="self-prediction phase (2000)")
    p.add_argument("--continuous-updates", type=int, default=None, help="default 200 (quick 40)")
    p.add_argument("--steps", type=int, default=None, help="teacher task steps (8000; quick 600)")
    p.add_argument("--lr", type=float, default=0.1, help="SGD, teacher task")
    p.add_argument("--lr-mnist1d", type=float, default=0.05, help="SGD, MNIST-1D")
    p.add_argument("--lr-fashion", type=float, default=0.02, help="SGD, Fashion-MNIST")
    p.add_argument("--epochs-mnist1d", type=int, default=None, help="default 50 (quick 2)")
    p.add_argument("--epochs-fashion", type=int, default=None, help="default 4 (quick 1)")
    p.add_argument("--fashion-train", type=int, default=None, help="default 10000 (quick 2000)")
    p.add_argument("--quick", action="store_true", help="a smoke test of every part")
    p.add_argument("--out", default=None, help="path without suffix (.json and .png)")
    args = p.parse_args(argv)
    for msg in ("Mean of empty slice", "Degrees of freedom", "invalid value encountered"):
        warnings.filterwarnings("ignore", message=msg, category=RuntimeWarning)  # NaN angles
    q = args.quick
    defaults = {
        "seeds": (8, 2),
        "pre_updates": (2000, 400),
        "continuous_updates": (200, 40),
        "steps": (8000, 600),
        "epochs_mnist1d": (50, 2),
        "epochs_fashion": (4, 1),
        "fashion_train": (10000, 2000),
    }
    for k, (full, quick) in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, quick if q else full)
        if getattr(args, k) < 1:
            p.error(f"--{k.replace('_', '-')} must be >= 1")
    if min(args.lr, args.lr_mnist1d, args.lr_fashion) <= 0:
        p.error("learning rates must be > 0")
    out = Path(args.out or (Path("runs/microcircuit_quick") if q else RESULTS / "microcircuit"))
    t_start = time.perf_counter()
    payload = {
        "benchmark": "microcircuit",
        "command": "python benchmarks/microcircuit.py " + " ".join(argv or []),
        "setup": {k: getattr(args, k) for k in (*defaults, "lr", "lr_mnist1d", "lr_fashion")}
        | {
            "coupling": "nudging = interneuron_nudging = apical_coupling = 0.8/1.9",
            "self_prediction_phase": {**PRE, "batch": PRE_BATCH},
            "teacher_batch": REG_BATCH,
            "classification_batch": CLASS_BATCH,
            "interneuron_lr": "lr / (0.8/1.9)^2 (matched to SGD on the output layer) in part 2, "
            "half of it in part 3; 2.0 in the self-prediction phase and the Adam run",
        },
        "published": PUBLISHED,
        "environment": environment(),
    }
    log = lambda s: print(s, flush=True)  # noqa: E731
    log(f"part 1: the self-predicting state ({args.seeds} seeds)")
    payload["part1"] = part_self_prediction(args, log)
    log(f"part 2: the teacher task, 30-50-10, {args.steps} steps ({args.seeds} seeds)")
    payload["part2"] = part_teacher(args, log)
    log(f"part 3: classification ({args.seeds} seeds)")
    payload["part3"] = part_classification(args, log)
    payload["seconds_total"] = time.perf_counter() - t_start
    log(PUBLISHED_LINE)
    for ds in ("mnist1d", "fashion_mnist"):
        r = payload["part3"][ds]["rules"]
        log(
            f"ours ({ds}): microcircuit {r['mc']['test_accuracy'][0]:.2f}% vs backprop "
            f"{r['bp']['test_accuracy'][0]:.2f}% vs FA {r['fa']['test_accuracy'][0]:.2f}% "
            "test accuracy"
        )
    write_json(out.with_suffix(".json"), summarise_curves(payload))
    figure(payload, out.with_suffix(".png"))
    log(
        f"wrote {out.with_suffix('.json')} and {out.with_suffix('.png')} "
        f"({payload['seconds_total']:.0f} s)"
    )


if __name__ == "__main__":
    main()
