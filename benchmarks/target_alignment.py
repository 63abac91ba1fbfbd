"""Target propagation, DTP, BIG, predictive coding and equilibrium propagation beside backprop
and feedback alignment: per-layer angle of each rule's update to backprop's over training, and
final test accuracy, on MNIST-1D and Fashion-MNIST, all seeds of a rule in one vmapped program.

Datasets and models:

- MNIST-1D (``credax.data.load("mnist1d")``, 4,000/1,000, generated offline): the default model
  of ``credax run`` (``credax/_src/cli.py``: ``--model mlp:40-256-256-10``, tanh, Adam 1e-3,
  batch 100, 20 epochs).
- Fashion-MNIST (Debian's IDX files, ``credax.data.load("fashion_mnist")``): the fully-connected
  MNIST network of Bartunov et al. 2018 ("Assessing the scalability of biologically-motivated
  deep learning algorithms and architectures", NeurIPS 2018, arXiv:1807.04587), 784-256-256-256-
  256-256-10 tanh. Source, in the paper's own words: Appendix 5.2, Table 3 ("Architecture
  specification"), MNIST fully-connected network "FC 256, FC 256, FC 256, FC 256, FC 256,
  Softmax 10"; Section 3: "In all networks we used the hyperbolic tangent as a nonlinearity
  between layers", "All layers are initialized using the method suggested by Glorot & Bengio",
  "For optimization we use Adam"; Section 3.2 again: "the relatively narrow (256 unit) layers
  used in the fully-connected MNIST case". (The ``search`` tool's page and docs corpora returned
  only the abstract; the text was found with ``find_string`` in a stored text copy of the paper.)
  credax's ``Dense`` layers are Glorot-uniform with zero biases, as in the paper.
- MNIST itself (the paper's dataset) is tried through ``credax.data.load("mnist")`` (IDX files,
  then TFDS) and ``credax.data.load("tfds:mnist")``; on a machine without the files or a network
  both fail within seconds, and the JSON records the first line of each error.

Published context (not like-for-like: MNIST, 500 epochs, 60-configuration random searches per
method; ours Fashion-MNIST with a few epochs): Bartunov et al. 2018, Table 1, MNIST
fully-connected test errors: BP 1.48%, FA 1.85%, DFA 2.75%, DTP 1.83% (alternating schedule;
2.86% with parallel updates, the schedule of credax's default ``alternating=False``).

Tuning (cheap, on a validation split carved from the training set, never the test set): each
rule's forward Adam learning rate from a 5-point grid (1e-4 to 1e-2, EP 3e-5 to 3e-3), and for
TP, DTP (both structures) and BIG the inverse optimizer's learning rate from a 5-point grid (1e-5
to 1e-1), all points of a rule's grid in one program
(``vmap`` over the grid inside the ``credax.train.sweep`` over seeds). Equilibrium propagation's
step size and number of free steps come from a settling check at initialisation (the relative
residual ``‖∂E/∂s‖/‖s‖`` after ``T`` steps, no training), the nudged phase gets half the free
steps, ``β = 0.5`` with symmetric nudging (Laborieux et al. 2021), and its learning rate from
the grid. A gradient check at initialisation records how far EP's update at those settings, and
the evaluation's reference gradient (through ``rule.predict``), are from the implicit gradient
at the true free fixed point (3,000 settling steps, then 1,000 unrolled steps from it).
Predictive coding keeps its defaults (20 inference steps of 0.1). The chosen settings and every
grid value with its validation accuracy are in the JSON; an optimum at a grid's edge is said so
(``optimum_at_grid_edge``).

Cost: EP settles for tens of steps per update (tens of times backprop's cost per step), so it
gets fewer seeds and fewer training steps (recorded per dataset under ``setup``); its curves on
Fashion-MNIST are measured on a 2,000-example test subset and its final accuracy, like every
other rule's, on the full test set (computed from the final parameters). The final runs use
``credax.train.sweep`` (rules whose key drives noise get a key stream per seed, the others
share one feedback draw), as ``benchmarks/common.py``'s ``sweep_rules`` does; the JSON is
written after every rule, so a crash keeps the finished ones.

    python benchmarks/target_alignment.py [--quick] [--datasets mnist1d,fashion_mnist]
        [--rules bp,fa,tp,dtp,big,pc,ep] [--seeds 5] [--ep-seeds 3] [--no-tune]
"""

from __future__ import annotations

import argparse
import sys
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
from common import RESULTS, band, environment, mean_sd, write_json  # noqa: E402

import credax  # noqa: E402
from credax.registry import RULES  # noqa: E402

LOSS = credax.losses.softmax_cross_entropy
RULE_NAMES = ("bp", "fa", "tp", "dtp", "tpo", "dtpo", "big", "pc", "ep")
# Rules with learned feedback networks (inverse optimizer). tp and dtp follow Lee et al.'s
# Algorithm 1 (first target on the last hidden layer); tpo and dtpo start at the output through
# an inverse of it (the BIG abstract's form, which BIG keeps).
TARGET_RULES = ("tp", "dtp", "tpo", "dtpo", "big")
LR_GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
EP_LR_GRID = (3e-5, 1e-4, 3e-4, 1e-3, 3e-3)
INVERSE_LR_GRID = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
EP_STEP_SIZES = (0.25, 0.5, 0.75)
EP_SETTLE_STEPS = (10, 20, 40, 80)
EP_SETTLE_TOL = 0.03  # relative residual ‖∂E/∂s‖ / ‖s‖ counted as settled
EP_BETA = 0.5

BARTUNOV = {
    "source": "Bartunov et al. 2018, NeurIPS, Table 1 (a), MNIST, fully-connected, test error %",
    "dataset": "MNIST (ours: Fashion-MNIST; context, not a like-for-like comparison)",
    "test_error_percent": {
        "BP": 1.48,
        "FA": 1.85,
        "DFA": 2.75,
        "DTP (alternating)": 1.83,
        "DTP (parallel)": 2.86,
    },  # fmt: skip
    "their_protocol": "500 epochs of the 60k MNIST training set; 60 random hyperparameter "
    "configurations per method; best error reported",
}
ARCHITECTURE_SOURCE = (
    "Bartunov et al. 2018 (arXiv:1807.04587), Appendix 5.2 Table 3 'Architecture "
    "specification': MNIST fully-connected network FC 256 x5, Softmax 10; Section 3: tanh "
    "between layers, Glorot & Bengio initialisation, Adam; Section 3.2: 'the relatively narrow "
    "(256 unit) layers used in the fully-connected MNIST case'. Found with find_string in a "
    "stored text copy of the paper (the search tool's pages/docs corpora returned only the "
    "abstract)."
)


# --------------------------------------------------------------------------- datasets


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0] if text else ''}"


def try_mnist() -> dict:
    """MNIST through credax (IDX files, then TFDS) and TFDS directly: the error of each."""
    out = {"ran": False, "attempts": []}
    for name in ("mnist", "tfds:mnist"):
        t0 = time.perf_counter()
        try:
            x, _ = credax.data.load(name, "train")
        except Exception as e:  # noqa: BLE001 - we record whatever stopped it
            out["attempts"].append(
                {
                    "call": f'credax.data.load("{name}", "train")',
                    "error": _first_line(e),
                    "seconds": round(time.perf_counter() - t0, 2),
                }  # fmt: skip
            )
        else:  # pragma: no cover - only on a machine with MNIST prepared
            out["attempts"].append({"call": f'credax.data.load("{name}")', "loaded": x.shape})
            out["available"] = True
    if not out.get("available"):
        out["reason"] = (
            "MNIST was not run: no IDX files on this machine and TFDS has no prepared copy and "
            "no network to download one; " + " | ".join(a["error"] for a in out["attempts"])
        )
    else:  # pragma: no cover
        out["reason"] = "MNIST is available here but not part of this benchmark's runs"
    return out


def setup_mnist1d(quick: bool) -> dict:
    xtr, ytr = credax.data.load("mnist1d", "train")
    xte, yte = credax.data.load("mnist1d", "test")
    perm = np.random.default_rng(0).permutation(len(xtr))
    n_val = 1000
    tr, va = perm[n_val:], perm[:n_val]
    epochs = 2 if quick else 20
    return {
        "name": "mnist1d",
        "title": "MNIST-1D, MLP 40-256-256-10 tanh",
        "sizes": [40, 256, 256, 10],
        "train": (xtr, ytr),
        "test": (xte, yte),
        "tune_train": (xtr[tr], ytr[tr]),
        "tune_val": (xtr[va], ytr[va]),
        "batch_size": 100,
        "epochs": epochs,
        "eval_every": None,  # every epoch
        "tune_epochs": 1 if quick else 10,
        "ep": {
            "epochs": 2 if quick else 10,
            "train_size": len(xtr),
            "curve_test_size": len(xte),
            "eval_every": None,
            "tune_epochs": 1 if quick else 5,
            "max_free_steps": 20 if quick else 40,
        },
        "setup": {
            "model": "mlp 40-256-256-10 tanh (credax run's default, credax/_src/cli.py)",
            "train_examples": len(xtr),
            "test_examples": len(xte),
            "batch_size": 100,
            "epochs": epochs,
            "records": "every epoch",
            "validation_split": f"{n_val} of the 4,000 training sequences (seed 0), tuning "
            f"trains on the other {len(xtr) - n_val}",
        },
    }


def setup_fashion(quick: bool) -> dict:
    try:
        xtr, ytr = credax.data.load("fashion_mnist", "train")
        xte, yte = credax.data.load("fashion_mnist", "test")
    except FileNotFoundError as e:
        raise SystemExit(
            f"{_first_line(e)}\nInstall the files: apt-get update && apt-get install -y "
            "dataset-fashion-mnist"
        ) from None
    xtr, xte = xtr.reshape(len(xtr), -1), xte.reshape(len(xte), -1)
    perm = np.random.default_rng(0).permutation(len(xtr))
    n_train, n_val = (2000, 1000) if quick else (20_000, 5000)
    tr, va = perm[:n_train], perm[n_train : n_train + n_val]
    n_tune = n_train // 2
    if quick:
        xte, yte = xte[:2000], yte[:2000]
    epochs = 1 if quick else 2
    return {
        "name": "fashion_mnist",
        "title": "Fashion-MNIST, MLP 784-256x5-10 tanh (Bartunov et al. 2018)",
        "sizes": [784, 256, 256, 256, 256, 256, 10],
        "train": (xtr[tr], ytr[tr]),
        "test": (xte, yte),
        "tune_train": (xtr[tr[:n_tune]], ytr[tr[:n_tune]]),
        "tune_val": (xtr[va], ytr[va]),
        "batch_size": 100,
        "epochs": epochs,
        "eval_every": 10 if quick else 50,
        "tune_epochs": 1,
        "ep": {
            "epochs": 1,
            "train_size": 1000 if quick else 10_000,
            "curve_test_size": 1000 if quick else 2000,
            "eval_every": 5 if quick else 25,
            "tune_epochs": 1,
            "tune_train_size": 500 if quick else 5000,
            "tune_val_size": 500 if quick else 2000,
            "max_free_steps": 20 if quick else 40,
        },
        "setup": {
            "model": "mlp 784-256-256-256-256-256-10 tanh, Glorot-uniform weights, zero biases",
            "architecture_source": ARCHITECTURE_SOURCE,
            "architecture_is_guess": False,
            "train_examples": f"{n_train} of the 60,000 (random subset, seed 0)",
            "test_examples": len(xte),
            "batch_size": 100,
            "epochs": epochs,
            "records": f"every {10 if quick else 50} steps",
            "validation_split": f"{n_val} further training images, disjoint from the "
            f"{n_train}; tuning trains on the first {n_tune} of the {n_train} for one epoch",
        },
    }


# --------------------------------------------------------------------------- rules and fits


def rule_for(name: str, hp: dict, static: dict):
    """The registry rule ``name`` with hyperparameters ``hp`` (numbers or tracers) and static
    options (step counts, step sizes)."""
    options = dict(static)
    if "inverse_lr" in hp:
        options["inverse_optimizer"] = optax.adam(hp["inverse_lr"])
    return RULES[name].make(LOSS, **options)


def grid_for(name: str) -> list[dict]:
    if name in TARGET_RULES:
        return [{"lr": lr, "inverse_lr": ilr} for lr in LR_GRID for ilr in INVERSE_LR_GRID]
    return [{"lr": lr} for lr in (EP_LR_GRID if name == "ep" else LR_GRID)]


def make_fit(name, hp, static, init_model, train, test, epochs, eval_every, batch_size,
             angles=True):  # fmt: skip
    return credax.train.make_fit(
        rule_for(name, hp, static),
        init_model,
        optax.adam(hp["lr"]),
        loss=LOSS,
        train=train,
        test=test,
        epochs=epochs,
        batch_size=batch_size,
        eval_every=eval_every,
        angles=angles,
    )


def grid_fit(name, grid, static, init_model, train, val, epochs, batch_size):
    """A ``credax.train.Fit`` whose program trains one model per grid point (``vmap`` over the
    hyperparameters, traced: one compilation for the whole grid); ``credax.train.sweep`` maps
    it over seeds, so its records have axes ``[seed, grid point, record, ...]``."""
    keys = sorted(grid[0])
    arrays = {k: jnp.asarray([g[k] for g in grid], jnp.float32) for k in keys}
    n = len(train[1])
    total = epochs * (n // batch_size)
    kw = dict(epochs=epochs, eval_every=total, batch_size=batch_size, angles=False)
    base = make_fit(name, grid[0], static, init_model, train, val, **kw)

    def program(data, init_key, rule_key, data_key):
        def one(hp):
            f = make_fit(name, hp, static, init_model, data[0], data[1], **kw)
            return f.program(data, init_key, rule_key, data_key)

        return jax.vmap(one)(arrays)

    return base._replace(program=program)


# --------------------------------------------------------------------------- EP settling


def hopfield_energy(net, x, states):
    """The layered Hopfield energy that credax's EP descends (``credax/_src/energy.py``), for a
    ``credax.nets.mlp``: ``Σ ½‖s_l‖² - Σ ρ_l(s_l)·(W_l ρ_{l-1}(s_{l-1}) + b_l)``."""
    total, below = 0.0, x
    for layer, s in zip(net.layers, states):
        a = below @ layer.weight.T + layer.bias
        r = layer.activation(s)
        total = total + 0.5 * jnp.sum(jnp.square(s)) - jnp.sum(r * a)
        below = r
    return total


def settle_residuals(net, x, step_sizes, steps):
    """Relative residual ``‖∂E/∂s‖ / ‖s‖`` of the free phase (started at the feedforward
    pre-activations, as credax's EP starts it) after each number of ``steps``, per step size."""
    grad = jax.grad(hopfield_energy, argnums=2)
    s0 = list(credax.nets.trace(net, x).preactivations)

    @eqx.filter_jit
    def run(net, x, s0, eps):
        def step(s, _):
            g = grad(net, x, s)
            s = [a - eps * b for a, b in zip(s, g)]
            g = grad(net, x, s)
            num = sum(jnp.sum(jnp.square(b)) for b in g)
            den = sum(jnp.sum(jnp.square(a)) for a in s)
            return s, jnp.sqrt(num / den)

        return jax.lax.scan(step, s0, length=max(steps))[1]

    out = {}
    for eps in step_sizes:
        r = np.asarray(run(net, x, s0, jnp.float32(eps)))
        out[str(eps)] = {str(t): float(r[t - 1]) for t in steps}
    return out


def ep_gradient_check(net, x, y, static, settle_steps=3000, unroll_steps=1000, n=32):
    """How far EP's update, at the chosen settings, is from the gradient it estimates.

    The reference is the implicit gradient at the free fixed point: the free phase is run for
    ``settle_steps`` (its residual is recorded), then the loss is differentiated through
    ``unroll_steps`` further steps started at that (stopped) fixed point, which sums the
    Neumann series of the implicit-function gradient. Recorded: per layer, the angle of EP's
    update and of the default evaluation's reference (the gradient through ``rule.predict``,
    i.e. through ``free_steps`` steps from the feedforward pass) to that gradient, at init."""
    x, y = jnp.asarray(x[:n]), jnp.asarray(y[:n])
    eps = static["step_size"]
    grad_s = jax.grad(hopfield_energy, argnums=2)

    def settle(p, s, steps):
        def step(s, _):
            g = grad_s(p, x, s)
            return [a - eps * b for a, b in zip(s, g)], None

        return jax.lax.scan(step, s, length=steps)[0]

    s0 = list(credax.nets.trace(net, x).preactivations)
    fixed = eqx.filter_jit(settle)(net, s0, settle_steps)
    g = grad_s(net, x, fixed)
    res = jnp.sqrt(sum(jnp.sum(b**2) for b in g) / sum(jnp.sum(a**2) for a in fixed))
    stopped = [jax.lax.stop_gradient(a) for a in fixed]
    implicit = eqx.filter_jit(
        eqx.filter_grad(lambda p: LOSS(settle(p, stopped, unroll_steps)[-1], y))
    )(net)
    rule = RULES["ep"].make(LOSS, **static)
    g_ep, _ = eqx.filter_jit(rule.update)(net, rule.init(0, net), (x, y))
    g_eval = eqx.filter_jit(eqx.filter_grad(lambda p: LOSS(rule.predict(p, x), y)))(net)
    ang = credax.metrics.update_angles
    return {
        "examples": n,
        "fixed_point_steps": settle_steps,
        "fixed_point_residual": float(res),
        "unrolled_steps": unroll_steps,
        "angle_ep_update_to_implicit_gradient": np.asarray(ang(g_ep, implicit)),
        "angle_evaluation_reference_to_implicit_gradient": np.asarray(ang(g_eval, implicit)),
        "angle_ep_update_to_evaluation_reference": np.asarray(ang(g_ep, g_eval)),
        "free_output_vs_feedforward_rms": float(jnp.sqrt(jnp.mean(jnp.square(fixed[-1] - s0[-1])))),
    }


def choose_ep_settling(res: dict, max_free: int) -> tuple[float, int, str]:
    """The step size with the smallest residual at ``max_free`` steps (NaN/growth excluded),
    then the fewest steps (up to ``max_free``) whose residual is below ``EP_SETTLE_TOL``."""
    cands = [t for t in EP_SETTLE_STEPS if t <= max_free]
    best = min(
        res, key=lambda e: res[e][str(cands[-1])] if np.isfinite(res[e][str(cands[-1])]) else 1e9
    )
    ok = [t for t in cands if res[best][str(t)] <= EP_SETTLE_TOL]
    steps = ok[0] if ok else cands[-1]
    why = (
        f"step size {best}: smallest residual at {cands[-1]} steps; {steps} free steps "
        + (f"reach residual <= {EP_SETTLE_TOL}" if ok else
           f"(the cap; residual {res[best][str(steps)]:.3g} > {EP_SETTLE_TOL}: not fully settled)")
    )  # fmt: skip
    return float(best), steps, why


# --------------------------------------------------------------------------- the benchmark


STANDARD = {"test_loss", "test_accuracy", "update_angles", "train_loss", "finite"}


def run_dataset(ds, rules, args, payload, out_json, log=print):
    name = ds["name"]
    sizes = ds["sizes"]

    def init_model(k):
        return credax.nets.mlp(sizes, activation=jnp.tanh, key=k)

    block = payload["datasets"].setdefault(
        name,
        {
            "title": ds["title"],
            "setup": dict(ds["setup"]),
            "tuning": {},
            "results": {},
            "curves": {},
        },  # fmt: skip
    )
    ep_cfg = ds["ep"]
    bs = ds["batch_size"]
    xtr, ytr = ds["train"]
    xte, yte = ds["test"]
    log(f"\n== {ds['title']} ({len(xtr)} train, {len(xte)} test) on {jax.default_backend()}")

    ep_static = {}
    if "ep" in rules:  # the settling check: no training, a batch of training inputs
        t0 = time.perf_counter()
        net0 = init_model(jax.random.key(0))
        res = settle_residuals(net0, jnp.asarray(xtr[:256]), EP_STEP_SIZES, EP_SETTLE_STEPS)
        eps, free, why = choose_ep_settling(res, ep_cfg["max_free_steps"])
        ep_static = {"step_size": eps, "free_steps": free, "nudged_steps": max(free // 2, 1),
                     "beta": EP_BETA, "symmetric": True}  # fmt: skip
        block["ep_settling"] = {
            "residual_at_init": res, "tolerance": EP_SETTLE_TOL, "chosen": ep_static,
            "why": why, "max_free_steps": ep_cfg["max_free_steps"],
            "seconds": time.perf_counter() - t0,
        }  # fmt: skip
        log(f"  EP settling at init: {why}")
    if "ep" in rules and not args.quick:  # ~10 s: skipped in the one-minute demo
        check = ep_gradient_check(net0, xtr, ytr, ep_static)
        block["ep_settling"]["gradient_check_at_init"] = check
        block["ep_settling"]["seconds"] = time.perf_counter() - t0
        log(
            "  EP at init, angle to the implicit gradient of its fixed point (residual "
            f"{check['fixed_point_residual']:.1e}): EP update "
            f"{np.round(check['angle_ep_update_to_implicit_gradient'], 1)}, evaluation "
            f"reference {np.round(check['angle_evaluation_reference_to_implicit_gradient'], 1)}"
        )
    statics = {r: (ep_static if r == "ep" else {}) for r in rules}

    for rule in rules:
        entry = RULES[rule]
        per_seed = entry.has("stochastic")
        static = statics[rule]
        is_ep = rule == "ep"
        t_rule = time.perf_counter()
        # ---- tuning on the validation split
        grid = grid_for(rule)
        if args.no_tune:
            hp = {"lr": 1e-3, **({"inverse_lr": 1e-3} if rule in TARGET_RULES else {})}
            block["tuning"][rule] = {"tuned": False, "chosen": hp}
        else:
            ttr, tva = ds["tune_train"], ds["tune_val"]
            if is_ep and "tune_train_size" in ep_cfg:
                ttr = tuple(a[: ep_cfg["tune_train_size"]] for a in ttr)
                tva = tuple(a[: ep_cfg["tune_val_size"]] for a in tva)
            t_epochs = ep_cfg["tune_epochs"] if is_ep else ds["tune_epochs"]
            gf = grid_fit(rule, grid, static, init_model, ttr, tva, t_epochs, bs)
            t0 = time.perf_counter()
            r = credax.train.sweep(gf, 1, args.tune_seeds, rule_key_per_seed=per_seed)
            secs = time.perf_counter() - t0
            acc = np.asarray(r.history["test_accuracy"][:, :, -1], np.float64)  # [seed, grid]
            bad = np.asarray(r.diverged_step) >= 0
            score = np.where(bad | ~np.isfinite(acc), -1.0, acc).mean(0)
            best = int(np.argmax(score))
            hp = grid[best]
            edges = [
                k
                for k in hp
                if hp[k] in (min(g[k] for g in grid), max(g[k] for g in grid))
                and len({g[k] for g in grid}) > 1
            ]
            block["tuning"][rule] = {
                "tuned": True,
                "optimum_at_grid_edge": edges,
                "grid": grid,
                "validation_accuracy": score,
                "diverged": bad.any(0),
                "chosen": hp,
                "seeds": args.tune_seeds,
                "train_examples": len(ttr[1]),
                "validation_examples": len(tva[1]),
                "epochs": t_epochs,
                "static_options": static,
                "seconds": secs,
            }
            log(
                f"  {entry.label}: tuned in {secs:.0f} s; val acc "
                + ", ".join(f"{_hp_str(g)}: {100 * s:.1f}" for g, s in zip(grid, score))
                + f" -> {_hp_str(hp)}"
                + (f" (at the grid's edge in {', '.join(edges)})" if edges else "")
            )
        write_json(out_json, payload)

        # ---- the final run over seeds
        if is_ep:
            n_seeds = args.ep_seeds
            train = (xtr[: ep_cfg["train_size"]], ytr[: ep_cfg["train_size"]])
            curve_test = (xte[: ep_cfg["curve_test_size"]], yte[: ep_cfg["curve_test_size"]])
            epochs, eval_every = ep_cfg["epochs"], ep_cfg["eval_every"]
        else:
            n_seeds, train, curve_test = args.seeds, (xtr, ytr), (xte, yte)
            epochs, eval_every = ds["epochs"], ds["eval_every"]
        fit = make_fit(rule, hp, static, init_model, train, curve_test, epochs, eval_every, bs)
        t0 = time.perf_counter()
        res = credax.train.sweep(fit, 0, n_seeds, rule_key_per_seed=per_seed)
        secs = time.perf_counter() - t0
        h = res.history
        acc_curve = 100 * np.asarray(h["test_accuracy"], np.float64)  # [seed, record]
        final_acc, full_test = acc_curve[:, -1], len(curve_test[1]) == len(yte)
        if not full_test:  # the final accuracy on the whole test set, from the final params
            final_acc = 100 * full_test_accuracy(rule_for(rule, hp, static), res.params, xte, yte)
        ang = np.asarray(h["update_angles"], np.float64)  # [seed, record, layer]
        steps = np.asarray(fit.eval_steps)
        diag = {
            k: {
                "initial": np.nanmean(np.asarray(v[:, 0], np.float64), 0),
                "final": np.nanmean(np.asarray(v[:, -1], np.float64), 0),
            }  # fmt: skip
            for k, v in h.items()
            if k not in STANDARD
        }
        result = {
            "label": entry.label,
            "hyperparameters": {**hp, **static, "optimizer": "adam"},
            "test_accuracy_mean": mean_sd(final_acc)[0],
            "test_accuracy_sd": mean_sd(final_acc)[1],
            "test_accuracy_per_seed": final_acc,
            "final_update_angle_mean": np.nanmean(ang[:, -1], 0),
            "final_update_angle_sd": np.nanstd(ang[:, -1], 0),
            "final_train_loss_mean": float(np.nanmean(np.asarray(h["train_loss"])[:, -1])),
            "diverged_seeds": int((np.asarray(res.diverged_step) >= 0).sum()),
            "seeds": n_seeds,
            "train_examples": len(train[1]),
            "epochs": epochs,
            "steps": int(fit.total_steps),
            "curve_test_examples": len(curve_test[1]),
            "final_accuracy_test_examples": len(yte),
            "rule_key_per_seed": per_seed,
            "diagnostics": diag,
            "seconds_final": secs,
            "seconds_total": time.perf_counter() - t_rule,
        }
        if is_ep:  # does the trained network's free phase settle at the chosen settings?
            net = jax.tree.map(lambda a: a[0], res.params)
            free = static["free_steps"]
            r_after = settle_residuals(net, jnp.asarray(xtr[:256]), [static["step_size"]],
                                       sorted({free // 2, free, 2 * free}))  # fmt: skip
            result["settling_residual_after_training_seed0"] = r_after[str(static["step_size"])]
        block["results"][rule] = result
        block["curves"][rule] = {
            "examples_seen": steps * bs,
            "test_accuracy": acc_curve,
            "update_angles": ang,
            "train_loss": np.asarray(h["train_loss"], np.float64),
        }
        a = [f"{m:5.1f}±{s:4.1f}" for m, s in zip(result["final_update_angle_mean"],
                                                     result["final_update_angle_sd"])]  # fmt: skip
        log(
            f"  {entry.label:4s} acc {result['test_accuracy_mean']:6.2f} ± "
            f"{result['test_accuracy_sd']:4.2f}  angles {' '.join(a)}  "
            f"({n_seeds} seeds, {secs:.0f} s)"
        )
        write_json(out_json, payload)


def full_test_accuracy(rule, params, x, y, chunk=2000):
    """Per-seed accuracy (fraction) of ``rule.predict`` (or the forward pass) on all of
    ``(x, y)``, in chunks, for params with a leading seed axis."""
    predict = getattr(rule, "predict", None) or (lambda p, xb: jax.vmap(p)(xb))

    @jax.jit
    def correct(params, xb, yb):
        return jax.vmap(lambda p: jnp.sum(jnp.argmax(predict(p, xb), -1) == yb))(params)

    total = 0
    for i in range(0, len(y), chunk):
        xb, yb = jnp.asarray(x[i : i + chunk]), jnp.asarray(y[i : i + chunk])
        total = total + np.asarray(correct(params, xb, yb))
    return total / len(y)


def _hp_str(hp: dict) -> str:
    return ",".join(f"{k}={v:g}" for k, v in hp.items())


# --------------------------------------------------------------------------- output


def print_tables(payload, log=print):
    for block in payload["datasets"].values():
        log(f"\n{block['title']}: final test accuracy (%) and update angle to BP (deg) per layer")
        for r in block["results"].values():
            a = " ".join(f"{m:5.1f}±{s:4.1f}" for m, s in
                         zip(r["final_update_angle_mean"], r["final_update_angle_sd"]))  # fmt: skip
            hp = ", ".join(f"{k}={v}" for k, v in r["hyperparameters"].items())
            log(
                f"  {r['label']:4s} {r['test_accuracy_mean']:6.2f} ± {r['test_accuracy_sd']:4.2f}"
                f"  [{a}]  seeds {r['seeds']}, {r['steps']} steps  ({hp})"
            )
    pub = payload["published"]
    log(f"\nPublished ({pub['source']}; {pub['dataset']}):")
    for k, v in pub["test_error_percent"].items():
        log(f"  {k:18s} test error {v:.2f}%  (accuracy {100 - v:.2f}%)")
    fm = payload["datasets"].get("fashion_mnist", {}).get("results", {})
    if fm:
        log("  ours, Fashion-MNIST: " + ", ".join(
            f"{r['label']} {100 - r['test_accuracy_mean']:.2f}%" for r in fm.values()
        ) + " test error")  # fmt: skip
    log(f"MNIST: {payload['mnist']['reason']}")


def plot(payload, path: Path):
    blocks = [b for b in payload["datasets"].values() if b["results"]]
    if not blocks:
        return
    n_layers = max(len(next(iter(b["results"].values()))["final_update_angle_mean"])
                   for b in blocks)  # fmt: skip
    fig, axes = plt.subplots(len(blocks), n_layers + 1, figsize=(3.2 * (n_layers + 1),
                             3.3 * len(blocks)), squeeze=False)  # fmt: skip
    colors = {r: f"C{i}" for i, r in enumerate(RULE_NAMES)}
    for row, b in zip(axes, blocks):
        res, curves = b["results"], b["curves"]
        names = list(res)
        m = [res[r]["test_accuracy_mean"] for r in names]
        s = [res[r]["test_accuracy_sd"] for r in names]
        row[0].bar(range(len(names)), m, yerr=s, capsize=3,
                   color=[colors.get(r, "gray") for r in names])  # fmt: skip
        row[0].set_xticks(range(len(names)), [res[r]["label"] for r in names], fontsize=8)
        lo = min(m) - max(s + [0]) - 5
        row[0].set(ylim=(max(0, lo), min(100, max(m) + max(s + [0]) + 3)),
                   ylabel="final test accuracy (%)", title=b["title"].split(",")[0])  # fmt: skip
        for i, (mm, ss) in enumerate(zip(m, s)):
            row[0].text(i, mm + ss + 0.3, f"{mm:.1f}", ha="center", fontsize=7)
        L = len(next(iter(res.values()))["final_update_angle_mean"])
        for layer in range(n_layers):
            ax = row[layer + 1]
            if layer >= L:
                ax.axis("off")
                continue
            for r in names:
                if r == "bp":
                    continue
                c = curves[r]
                x = np.asarray(c["examples_seen"]) / 1000
                band(ax, x, np.asarray(c["update_angles"])[:, :, layer], res[r]["label"],
                     color=colors.get(r))  # fmt: skip
            ax.axhline(90, ls=":", c="k", lw=0.7)
            title = (
                "output layer (FA, TP, DTP, BIG: 0)"
                if layer == L - 1
                else f"hidden layer {layer + 1}"
            )
            ax.set(xlabel="training examples seen (k)", ylabel="angle to BP (deg)",
                   title=f"{title}", ylim=(0, 110))  # fmt: skip
            if layer == 0:
                ax.legend(fontsize=7)
    fig.suptitle("Update angle to backprop on the probe batch, and final test accuracy "
                 "(mean ± sd over seeds)", fontsize=10)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rules", default=None, help="default: all (quick: bp,dtp,pc,ep)")
    p.add_argument("--datasets", default=None, help="mnist1d,fashion_mnist (quick: mnist1d)")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--ep-seeds", type=int, default=3)
    p.add_argument("--tune-seeds", type=int, default=1)
    p.add_argument("--no-tune", action="store_true", help="library defaults, lr 1e-3")
    p.add_argument("--tune", action="store_true", help="tune even with --quick")
    p.add_argument(
        "--quick",
        action="store_true",
        help="MNIST-1D, BP/DTP/PC/EP, 2 epochs, 2 seeds, no tuning: the 1-minute demo",
    )
    p.add_argument("--out", default=str(RESULTS / "target_alignment"))
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.ep_seeds = min(args.seeds, 2), min(args.ep_seeds, 2)
        args.no_tune = not args.tune
    datasets = (args.datasets or ("mnist1d" if args.quick else "mnist1d,fashion_mnist")).split(",")
    spec = args.rules or ("bp,dtp,pc,ep" if args.quick else ",".join(RULE_NAMES))
    rules = [r.strip() for r in spec.split(",") if r.strip()]
    for r in rules:
        if r not in RULE_NAMES:
            p.error(f"unknown rule {r!r}; choose from {', '.join(RULE_NAMES)}")
    for d in datasets:
        if d not in ("mnist1d", "fashion_mnist"):
            p.error(f"unknown dataset {d!r}; choose mnist1d or fashion_mnist")
    if min(args.seeds, args.ep_seeds, args.tune_seeds) < 1:
        p.error("seed counts must be >= 1")

    t_start = time.perf_counter()
    out_json, out_png = Path(f"{args.out}.json"), Path(f"{args.out}.png")
    payload = {
        "benchmark": "target_alignment",
        "command": "python benchmarks/target_alignment.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "environment": environment(),
        "rules": {
            r: {
                "label": RULES[r].label,
                "factory": RULES[r].factory_name,
                "reference": RULES[r].reference,
            }
            for r in rules
        },  # fmt: skip
        "protocol": {
            "loss": "softmax cross-entropy",
            "optimizer": "Adam on the rule's updates (forward weights); TP/DTP/BIG feedback "
            "networks learn inside the rule with their own Adam (inverse_lr)",
            "angles": "credax.tasks.supervised_evaluation: per layer, degrees between the "
            "rule's update and backprop's on a fixed probe batch of 256 training examples; for "
            "EP the reference is the gradient of the loss of its own settled output "
            "(rule.predict)",
            "lr_grid": LR_GRID,
            "ep_lr_grid": EP_LR_GRID,
            "inverse_lr_grid (tp, dtp, tpo, dtpo, big)": INVERSE_LR_GRID,
            "tuning": "1 seed, short run, validation split carved from the training set; "
            "choice = highest final validation accuracy (diverged runs excluded)",
            "ep": f"beta {EP_BETA}, symmetric nudging, step size and free steps from a "
            f"settling check at init (candidates {EP_STEP_SIZES} x {EP_SETTLE_STEPS}, "
            f"tolerance {EP_SETTLE_TOL}), nudged steps = free/2; lr from the grid",
            "pc": "defaults: 20 inference steps of rate 0.1, output precision 1",
            "tp/dtp": "Lee et al.'s Algorithm 1: the output layer descends the loss, the first "
            "target a gradient step on the last hidden layer; tpo/dtpo: the first target on the "
            "output, through an inverse of it (the BIG abstract's form, which BIG uses)",
            "tp/dtp/big": "defaults otherwise: eta 1, noise 0.1, simultaneous (not alternating) "
            "inverse training, 1 inverse step per update; BIG sigma 1",
            "seeds": {"rules": args.seeds, "ep": args.ep_seeds},
        },
        "published": BARTUNOV,
        "datasets": {},
    }
    print("MNIST through TFDS ...")
    payload["mnist"] = try_mnist()
    print(f"  {payload['mnist']['reason']}")
    write_json(out_json, payload)
    setups = {"mnist1d": setup_mnist1d, "fashion_mnist": setup_fashion}
    for d in datasets:
        ds = setups[d](args.quick)
        run_dataset(ds, rules, args, payload, out_json)
        payload["wall_seconds"] = time.perf_counter() - t_start
        write_json(out_json, payload)
        plot(payload, out_png)
    payload["wall_seconds"] = time.perf_counter() - t_start
    write_json(out_json, payload)
    plot(payload, out_png)
    print_tables(payload)
    print(f"\nwall time {payload['wall_seconds']:.0f} s; wrote {out_json} and {out_png}")


if __name__ == "__main__":
    main()
