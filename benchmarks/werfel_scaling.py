"""Werfel, Xie & Seung (2005): how learning time scales with network size for gradient descent,
node perturbation and weight perturbation in a linear network.

Setup (theirs): a linear network ``ŷ = W x`` with N inputs and M outputs (``credax.nets.mlp([N,
M])``, identity activation, no bias) learns a linear teacher ``y = W* x`` online: one fresh
example ``x ~ N(0, I_N)`` per step, loss ``½‖y - ŷ‖²`` (``credax.losses.mse``), plain SGD
``W ← W - η g`` with ``g`` the rule's gradient estimate:

- ``gd``: ``credax.backprop`` (the exact gradient of the example's loss);
- ``np``: ``credax.node_perturbation`` (Gaussian noise of sd σ on the M outputs);
- ``wp``: ``credax.weight_perturbation`` (Gaussian noise of sd σ on all N·M weights).

Both perturbation rules use one one-sided perturbation per example against the unperturbed loss,
``g = (L(θ + σz) - L(θ)) z / σ``, with σ = 1e-3 (small enough that the O(σ²) error floor it
causes is far below the target). The error is ``E = ‖W - W*‖²_F``, twice the expected loss on a
fresh input, relative to its initial value (teacher: ``credax.data.linear_teacher``; student:
Glorot init). Measured: the learning time T, the first step at which ``E/E₀ ≤ --target``
(default 1e-2), per seed, for each rule at each (N, M) at that rule's own best learning rate:
the rate of a log grid around the theoretical optimum with the smallest median T over seeds
(for an even number of seeds the lower of the two middle values); every rate sees the same
seeds, i.e. teachers, inits, inputs and noise. The median T per cell at that rate is fitted by
least squares over the grid as ``log T = a + α log N + β log M`` per rule, and so are the ratios
``T_np/T_gd`` and ``T_wp/T_gd`` against M and N·M. 95% confidence intervals: bootstrap over seeds
(at each (N, M) the seeds are resampled, jointly for the three rules since seed i has the same
teacher, init and inputs in each; the best rate is re-chosen and the fits redone).

Published (Werfel et al. 2005, abstract): with the learning rate chosen to maximise learning
speed (the decay rate of the exponential learning curve of the mean error), node perturbation is
slower than gradient descent by a factor equal to the number of output units M, and weight
perturbation slower still by a factor equal to the number of input units N: ``T_np/T_gd ∝ M``,
``T_wp/T_gd ∝ N·M``. With online Gaussian inputs GD's optimal rate is ∝ 1/N, so ``T_gd ∝ N``,
``T_np ∝ N·M``, ``T_wp ∝ N²·M``: (α, β) = (1, 0), (1, 1), (2, 1). (The NIPS 2003 abstract: the
largest learning rate of the stochastic methods scales inversely with the dimension of the
noise they inject, M for NP and N·M for WP.)

Finite-size theory (derived here the same way, from Gaussian fourth moments, σ → 0): the mean
error obeys ``E_{t+1} = E_t (1 - 2η + η² K (N+2))`` with K = 1 (GD), M+2 (NP), N·M+2 (WP); the
optimal rate is ``η* = 1/(K(N+2))`` and the mean error reaches the target after
``T* = ln(target) / ln(1 - η*) ≈ ln(1/target) · K(N+2)`` steps. The +2's make exponents fitted
over a small grid fall below the asymptotic ones (NP/GD ∝ M+2 has a local exponent of 0.58 over
M = 1..8), so the script prints both the published asymptotic exponents and those of ``T*`` fitted
over the same grid; the ratios are also fitted against M+2 and N·M+2, where this form predicts
an exponent of 1. ``T*`` concerns the mean error; the median over seeds of the first-passage
time, which is measured here, is shorter where the error fluctuates most (small N·M), and its
best rate is somewhat above ``η*`` there. The rate grid, ``η* · 2^(k/4)`` for k in ``--lr-k``
(default 0.35 η* to 2.4 η*; the mean error diverges above 2 η*), is centred on ``η*``; a best
rate at the grid's edge is flagged.

Every (rule, N, M) is one jitted program: a ``lax.while_loop`` over chunks of a ``lax.scan`` over
steps, each step ``jax.vmap``-ed over seeds x learning rates; the first step below the target is
found exactly inside the scan. It stops when every run has reached the target or diverged, when
the step budget (``--budget`` times ``T*``) is spent, or when the remaining runs are provably not
at the best rate (``CENSORED``, see ``make_cell``). Runs that never reach the target are marked
(status ``budget``, ``diverged``, ``censored``), counted, and enter the medians as +inf; a cell
whose best rate has unreached seeds is reported, and a cell where no rate's median is finite is
left out of the fits. Results are written to the JSON after every cell; a rerun with the same
configuration resumes from it.

    python benchmarks/werfel_scaling.py [--seeds 32] [--n 8,16,32,64] [--m 1,2,4,8]
    python benchmarks/werfel_scaling.py --quick    # smoke test, into runs/werfel_scaling_quick
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from common import RESULTS, environment, write_json  # noqa: E402

import credax  # noqa: E402

RULES = ("gd", "np", "wp")
LABELS = {"gd": "gradient descent", "np": "node perturbation", "wp": "weight perturbation"}
PUBLISHED = {
    "source": "Werfel, Xie & Seung (2005), Learning curves for stochastic gradient descent in "
    "linear feedforward networks, Neural Computation 17(12):2699-2718 (NIPS 16, 2003)",
    "statement": "with the learning rate that maximises learning speed, node perturbation is "
    "slower than gradient descent by a factor equal to the number of output units; weight "
    "perturbation is slower still by an additional factor equal to the number of input units",
    "exponents": {"gd": [1.0, 0.0], "np": [1.0, 1.0], "wp": [2.0, 1.0]},
    "ratios": {"np/gd vs M": 1.0, "wp/gd vs N*M": 1.0, "wp/np vs N": 1.0},
}
# status of a run
REACHED, BUDGET, DIVERGED, CENSORED = 0, 1, 2, 3
STATUS = {REACHED: "reached", BUDGET: "budget", DIVERGED: "diverged", CENSORED: "censored"}
KEY0 = jax.random.key(0)


def noise_dim(rule: str, n: int, m: int) -> int:
    """``K`` of the finite-size learning curve ``E' = E (1 - 2η + η² K (N+2))``."""
    return {"gd": 1, "np": m + 2, "wp": n * m + 2}[rule]


def theory(rule: str, n: int, m: int, target: float) -> tuple[float, float]:
    """The optimal rate ``η*`` and the steps for the mean error to fall to ``target`` at it."""
    eta = 1.0 / (noise_dim(rule, n, m) * (n + 2))
    return eta, math.log(target) / math.log1p(-eta)


def make_rule(rule: str, sigma: float) -> credax.LearningRule:
    loss = credax.losses.mse
    if rule == "gd":
        return credax.backprop(loss)
    if rule == "np":
        return credax.node_perturbation(loss, sigma=sigma)
    return credax.weight_perturbation(loss, sigma=sigma)


def make_cell(rule_name: str, n: int, m: int, *, sigma: float, target: float, budget: int, chunk):
    """One (rule, N, M): ``run(keys (S,), lrs (L,)) -> (steps (S, L), status (S, L), t)``.

    ``steps`` is the first step with ``E/E₀ ≤ target`` (-1: not reached, see ``status``) and
    ``t`` the steps run. Within a seed every rate sees the same teacher, init, inputs and
    perturbations (common random numbers). The inputs are drawn once per step for all rates
    and, when the rule's state does not depend on the parameters (a PRNG key), so is its noise:
    the rule state stays unbatched over rates (``vmap`` with ``out_axes=None``).

    Training stops when every run has reached the target or diverged, when the budget is spent,
    or once every seed at the rate of smallest median T has reached the target and ``t`` reaches
    the slowest seed's T at some rate where every seed has: a run still going then is slower
    than every seed at that rate, so its rate's median (in the data and in any bootstrap resample
    of seeds) cannot be the smallest. Such runs are marked ``CENSORED``: their T is only known to
    exceed ``t``.
    """
    rule = make_rule(rule_name, sigma)

    def broadcast(tree, n_lr):
        return jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (n_lr, *a.shape)), tree)

    # Is the rule's state independent of the parameters, so that one state serves every rate?
    probe = credax.nets.mlp([n, m], activation=credax.nets.identity, use_bias=False, key=KEY0)
    batch = (jnp.zeros((1, n)), jnp.zeros((1, m)))
    try:
        jax.eval_shape(
            jax.vmap(rule.update, in_axes=(0, None, None), out_axes=(0, None)),
            broadcast(probe, 2),
            rule.init(KEY0, probe),
            batch,
        )
        shared = True
        update = jax.vmap(rule.update, in_axes=(0, None, None), out_axes=(0, None))
    except ValueError:
        shared = False
        update = jax.vmap(rule.update, in_axes=(0, 0, None))

    def setup(key, lrs):
        k_teacher, k_net, k_rule, k_data = jax.random.split(key, 4)
        w_star, _ = credax.data.linear_teacher(k_teacher, n, m)
        net = credax.nets.mlp([n, m], activation=credax.nets.identity, use_bias=False, key=k_net)
        state = rule.init(k_rule, net)
        nets = broadcast(net, lrs.size)
        state = state if shared else broadcast(state, lrs.size)
        e0 = jnp.sum((net.layers[0].weight - w_star) ** 2)
        hit = jnp.full(lrs.shape, -1, jnp.int32)
        return (nets, state, hit, jnp.zeros(lrs.shape, bool)), (k_teacher, k_data, e0)

    def run_chunk(carry, consts, t, lrs):
        k_teacher, k_data, e0 = consts
        w_star, sample = credax.data.linear_teacher(k_teacher, n, m)

        def step(carry, t):
            nets, state, hit, bad = carry
            g, state = update(nets, state, sample(jax.random.fold_in(k_data, t), 1))
            nets = jax.vmap(sgd)(nets, g, lrs)
            rel = jax.vmap(lambda nt: jnp.sum((nt.layers[0].weight - w_star) ** 2))(nets) / e0
            hit = jnp.where((hit < 0) & (rel <= target), t + 1, hit)
            bad = bad | ~(rel < 1e6)  # diverged (or NaN)
            return (nets, state, hit, bad), None

        return jax.lax.scan(step, carry, t + jnp.arange(chunk, dtype=jnp.int32))[0]

    def sgd(net, g, lr):
        return jax.tree_util.tree_map(lambda p, d: p - lr * d, net, g)

    def bound(hit):
        """Over the rates where every seed has reached the target, the least slowest-seed T."""
        done = jnp.all(hit >= 0, axis=0)
        return jnp.min(jnp.where(done, jnp.max(hit, axis=0), jnp.iinfo(jnp.int32).max))

    def run(keys, lrs):
        carry, consts = jax.vmap(setup, in_axes=(0, None))(keys, lrs)
        chunk_all = jax.vmap(run_chunk, in_axes=(0, 0, None, None))

        def cond(c):
            (_, _, hit, bad), t = c
            t_hit = jnp.where(hit < 0, jnp.inf, hit.astype(jnp.float32))
            med = jnp.sort(t_hit, axis=0)[(t_hit.shape[0] - 1) // 2]  # lower median
            best_done = jnp.all(hit[:, jnp.argmin(med)] >= 0)
            settled = (t >= bound(hit)) & best_done
            return (t < budget) & jnp.any((hit < 0) & ~bad) & ~settled

        def body(c):
            carry, t = c
            return chunk_all(carry, consts, t, lrs), t + chunk

        (_, _, hit, bad), t = jax.lax.while_loop(cond, body, (carry, jnp.int32(0)))
        left = jnp.where(t >= bound(hit), CENSORED, BUDGET)
        status = jnp.where(hit >= 0, REACHED, jnp.where(bad, DIVERGED, left))
        return hit, status, t

    return jax.jit(run)


def cell_stats(steps: np.ndarray) -> np.ndarray:
    """Learning time per seed and rate with unreached runs (-1) as +inf."""
    s = np.asarray(steps, np.float64)
    return np.where(s < 0, np.inf, s)


def lower_median(a: np.ndarray, axis: int = 0) -> np.ndarray:
    """The ⌊(S-1)/2⌋-th smallest of ``S`` values: the median, the lower middle value when ``S``
    is even. One order statistic, so a value only known to exceed a bound (censored, +inf)
    changes it only when it is that very value."""
    a = np.sort(np.asarray(a, np.float64), axis=axis)
    return np.take(a, (a.shape[axis] - 1) // 2, axis=axis)


def best_time(steps: np.ndarray, idx: np.ndarray | None = None):
    """Median T at the best rate: ``steps (S, L)``, seed resamples ``idx (B, S)`` or None."""
    t = cell_stats(steps)
    if idx is None:
        med = lower_median(t, axis=0)
        return int(np.argmin(med)), float(np.min(med))
    med = lower_median(t[idx], axis=1)  # (B, L)
    return np.min(med, axis=1)


def fit(logt: np.ndarray, cols: list[np.ndarray]) -> np.ndarray:
    """Least squares ``logt (C,) or (C, B)`` on ``[1, *cols]``; returns coefficients."""
    x = np.stack([np.ones_like(cols[0]), *cols], axis=1)
    return np.linalg.lstsq(x, logt, rcond=None)[0]


def analyse(cells: dict, ns, ms, rules, n_boot: int, seed: int = 0) -> dict:
    """Fits per rule and of the ratios, with bootstrap CIs over seeds."""
    rng = np.random.default_rng(seed)
    grid = [(n, m) for n in ns for m in ms]
    logn = np.log([n for n, _ in grid])
    logm = np.log([m for _, m in grid])
    lognm = logn + logm
    # Seed i of every rule at (N, M) has the same teacher, init and inputs: resample them together.
    n_seeds = {
        nm: np.asarray(cells[f"{rules[0]}/{nm[0]}/{nm[1]}"]["steps"]).shape[0] for nm in grid
    }
    idxs = {nm: rng.integers(0, s, (n_boot, s)) for nm, s in n_seeds.items()}
    point, boot, theo = {}, {}, {}
    for r in rules:
        pt, bt, th = [], [], []
        for n, m in grid:
            c = cells[f"{r}/{n}/{m}"]
            steps = np.asarray(c["steps"])
            idx = idxs[(n, m)]
            pt.append(best_time(steps)[1])
            bt.append(best_time(steps, idx))
            th.append(c["T_theory"])
        point[r], boot[r], theo[r] = np.log(pt), np.log(np.stack(bt)), np.log(th)

    def ci(b):
        b = b[np.isfinite(b)]
        return [float(np.percentile(b, 2.5)), float(np.percentile(b, 97.5))] if b.size else None

    def summary(y, yb, yt, cols, names):
        ok = np.isfinite(y)
        if ok.sum() < len(cols) + 1:
            return {"error": "too few cells reached the target to fit"}
        cs = [c[ok] for c in cols]
        coef = fit(y[ok], cs)
        good = np.all(np.isfinite(yb[ok]), axis=0)
        cb = fit(yb[ok][:, good], cs) if good.any() else np.full((len(cols) + 1, 0), np.nan)
        ct = fit(yt[ok], cs)
        out = {
            "n_cells": int(ok.sum()),
            "excluded_cells": [grid[i] for i in np.where(~ok)[0]],
            "bootstrap_resamples_used": int(good.sum()),  # all fitted cells finite
        }
        for j, name in enumerate(names, 1):
            out[name] = float(coef[j])
            out[name + "_ci95"] = ci(cb[j])
            out[name + "_finite_size_theory"] = float(ct[j])
        out["intercept"] = float(coef[0])
        out["rms_residual_log"] = float(
            np.sqrt(np.mean((y[ok] - np.stack([np.ones_like(cs[0]), *cs], 1) @ coef) ** 2))
        )
        return out

    fits = {
        r: summary(point[r], boot[r], theo[r], [logn, logm], ["alpha_N", "beta_M"]) for r in rules
    }
    ratios = {}
    if "gd" in rules and "np" in rules:
        args = (point["np"] - point["gd"], boot["np"] - boot["gd"], theo["np"] - theo["gd"])
        ratios["np/gd"] = summary(*args, [logn, logm], ["alpha_N", "beta_M"])
        ratios["np/gd vs M"] = summary(*args, [logm], ["exponent"])
        ratios["np/gd vs M+2"] = summary(*args, [np.log(np.exp(logm) + 2)], ["exponent"])
    if "gd" in rules and "wp" in rules:
        args = (point["wp"] - point["gd"], boot["wp"] - boot["gd"], theo["wp"] - theo["gd"])
        ratios["wp/gd"] = summary(*args, [logn, logm], ["alpha_N", "beta_M"])
        ratios["wp/gd vs N*M"] = summary(*args, [lognm], ["exponent"])
        ratios["wp/gd vs N*M+2"] = summary(*args, [np.log(np.exp(lognm) + 2)], ["exponent"])
    if "np" in rules and "wp" in rules:
        args = (point["wp"] - point["np"], boot["wp"] - boot["np"], theo["wp"] - theo["np"])
        ratios["wp/np vs N"] = summary(*args, [logn], ["exponent"])
    return {"fits": fits, "ratios": ratios, "n_bootstrap": n_boot}


def _counts(by_status: dict) -> str:
    return "/".join(str(by_status[k]) for k in ("censored", "budget", "diverged"))


def print_cell(name: str, c: dict, resumed: bool = False) -> None:
    warn = " best rate at grid edge!" if c["best_lr_at_grid_edge"] else ""
    if c["unreached_best"]:
        warn += f" {c['unreached_best']} seeds never reached the target at the best rate!"
    secs = "resumed" if resumed else f"{c['compile_seconds'] + c['run_seconds']:.1f}"
    print(
        f"{name:12s} {c['eta_theory']:9.2e} {c['best_lr_factor']:9.2f} {c['median_best']:9.0f} "
        f"{c['T_theory']:9.0f} {_counts(c['runs_by_status']):>13s} {c['steps_run']:9d} "
        f"{secs:>7s}{warn}",
        flush=True,
    )


def fmt(v, ci=None):
    if ci is None:
        return f"{v:6.2f}"
    return f"{v:5.2f} [{ci[0]:5.2f}, {ci[1]:5.2f}]"


def report(an: dict, rules) -> None:
    pub = PUBLISHED["exponents"]
    print("\nFitted log T = a + α log N + β log M (95% bootstrap CI over seeds)")
    print(
        f"{'rule':22s} {'α (N)':>20s} {'β (M)':>20s} {'published α, β':>15s} "
        f"{'finite-size theory α, β':>24s}"
    )
    for r in rules:
        f = an["fits"][r]
        if "error" in f:
            print(f"{LABELS[r]:22s} {f['error']}")
            continue
        print(
            f"{LABELS[r]:22s} {fmt(f['alpha_N'], f['alpha_N_ci95']):>20s} "
            f"{fmt(f['beta_M'], f['beta_M_ci95']):>20s} {pub[r][0]:7.0f}, {pub[r][1]:.0f}"
            f"{f['alpha_N_finite_size_theory']:17.2f}, {f['beta_M_finite_size_theory']:.2f}"
        )
    print(f"\n{'ratio':22s} {'exponent':>20s} {'published':>15s} {'finite-size theory':>24s}")
    for key in ["np/gd vs M", "np/gd vs M+2", "wp/gd vs N*M", "wp/gd vs N*M+2"]:
        p_txt = f"{PUBLISHED['ratios'][key]:.0f}" if key in PUBLISHED["ratios"] else "-"
        f = an["ratios"].get(key)
        if f is None:
            continue
        if "error" in f:
            print(f"{'T_' + key.replace('/', '/T_'):22s} {f['error']}")
            continue
        print(
            f"{'T_' + key.replace('/', '/T_'):22s} {fmt(f['exponent'], f['exponent_ci95']):>20s}"
            f" {p_txt:>15s} {f['exponent_finite_size_theory']:24.2f}"
        )
    f = an["ratios"].get("wp/np vs N")
    if f is not None and "error" not in f:
        print(
            f"{'T_wp/T_np vs N':22s} {fmt(f['exponent'], f['exponent_ci95']):>20s} "
            f"{1:15.0f} {f['exponent_finite_size_theory']:24.2f}"
        )
    print(
        "published: Werfel et al. (2005): T_np/T_gd ∝ M, T_wp/T_gd ∝ N·M (asymptotically); "
        "finite-size theory: T* ≈ ln(1/target) K(N+2) with K = 1, M+2, N·M+2 (derived here, "
        "see the docstring), fitted over the same grid; rows 'vs M+2', 'vs N*M+2' test that form"
    )


def slope_one(x, f: dict) -> np.ndarray:
    """A line of slope 1 (the published exponent) through the fitted ratio's mid-point."""
    x = np.asarray(x, float)
    if "error" in f:
        return np.full_like(x, np.nan)
    mid = np.mean(np.log(x))
    return np.exp(f["intercept"] + f["exponent"] * mid + (np.log(x) - mid))


def plot(cells, ns, ms, rules, an, target, path: Path) -> None:
    fig, axes = plt.subplots(2, len(rules) + 1, figsize=(4.2 * (len(rules) + 1), 7.6))
    axes = np.asarray(axes).reshape(2, -1)
    colors = plt.cm.viridis(np.linspace(0, 0.85, max(len(ns), len(ms))))

    def med_iqr(r, n, m):
        c = cells[f"{r}/{n}/{m}"]
        t = cell_stats(c["steps_best"])
        return lower_median(t), np.percentile(t, 25), np.percentile(t, 75)

    for j, r in enumerate(rules):
        f = an["fits"][r]
        for row, (xs, others, xname, oname) in enumerate([(ns, ms, "N", "M"), (ms, ns, "M", "N")]):
            ax = axes[row, j]
            for i, o in enumerate(others):
                nm = [(x, o) if xname == "N" else (o, x) for x in xs]
                st = np.array([med_iqr(r, n, m) for n, m in nm])
                ax.errorbar(
                    xs,
                    st[:, 0],
                    yerr=[st[:, 0] - st[:, 1], st[:, 2] - st[:, 0]],
                    fmt="o",
                    ms=4,
                    color=colors[i],
                    label=f"{oname}={o}",
                )
                if "error" not in f:
                    xx = np.array(xs, float)
                    nn, mm = (xx, float(o)) if xname == "N" else (float(o), xx)
                    fitted = np.exp(
                        f["intercept"] + f["alpha_N"] * np.log(nn) + f["beta_M"] * np.log(mm)
                    )
                    ax.plot(xs, fitted, "-", color=colors[i], lw=1)
                th = [cells[f"{r}/{n}/{m}"]["T_theory"] for n, m in nm]
                ax.plot(xs, th, ":", color=colors[i], lw=1)
            ax.set(xscale="log", yscale="log", xlabel=xname, ylabel=f"steps to E/E₀ ≤ {target}")
            if "error" not in f:
                ttl = f"{LABELS[r]}: α={f['alpha_N']:.2f}, β={f['beta_M']:.2f}"
            else:
                ttl = LABELS[r]
            ax.set_title(ttl, fontsize=10)
            ax.legend(fontsize=7)
    # ratios
    ax = axes[0, -1]
    if "np" in rules and "gd" in rules:
        for i, n in enumerate(ns):
            rat = [med_iqr("np", n, m)[0] / med_iqr("gd", n, m)[0] for m in ms]
            ax.plot(ms, rat, "o-", color=colors[i], ms=4, lw=1, label=f"N={n}")
        ax.plot(ms, [m + 2 for m in ms], "k:", lw=1, label="theory M+2")
        ax.plot(
            ms, slope_one(ms, an["ratios"]["np/gd vs M"]), "k--", lw=1, label="slope 1 (published)"
        )
        f = an["ratios"]["np/gd vs M"]
        if "error" not in f:
            ax.set_title(f"T_np / T_gd: exponent {f['exponent']:.2f} (published 1)", fontsize=10)
        ax.set(xscale="log", yscale="log", xlabel="M", ylabel="T_np / T_gd")
        ax.legend(fontsize=7)
    else:
        ax.set_axis_off()
    ax = axes[1, -1]
    if "wp" in rules and "gd" in rules:
        for i, m in enumerate(ms):
            nm = np.array([n * m for n in ns])
            rat = [med_iqr("wp", n, m)[0] / med_iqr("gd", n, m)[0] for n in ns]
            ax.plot(nm, rat, "o", color=colors[i], ms=4, label=f"M={m}")
        allnm = np.array(sorted({n * m for n in ns for m in ms}))
        ax.plot(allnm, allnm + 2, "k:", lw=1, label="theory N·M+2")
        fw = an["ratios"]["wp/gd vs N*M"]
        ax.plot(allnm, slope_one(allnm, fw), "k--", lw=1, label="slope 1 (published)")
        f = an["ratios"]["wp/gd vs N*M"]
        if "error" not in f:
            ax.set_title(f"T_wp / T_gd: exponent {f['exponent']:.2f} (published 1)", fontsize=10)
        ax.set(xscale="log", yscale="log", xlabel="N·M", ylabel="T_wp / T_gd")
        ax.legend(fontsize=7)
    else:
        ax.set_axis_off()
    for ax in axes.flat:
        for axis in (ax.xaxis, ax.yaxis):
            fmt = matplotlib.ticker.LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.6))
            axis.set_major_formatter(fmt)
            axis.set_minor_formatter(fmt)
    fig.suptitle(
        "Werfel et al. (2005): learning time of a linear N→M network at each rule's best rate "
        "(median, IQR over seeds; — fit, ··· finite-size theory)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def provenance() -> dict:
    """The credax source the numbers came from (the perturbation rules may be uncommitted)."""
    root = Path(__file__).resolve().parent.parent
    src = root / "credax" / "_src" / "perturbation.py"

    def git(*a):
        try:
            return subprocess.run(
                ["git", *a], cwd=root, capture_output=True, text=True, check=True
            ).stdout.rstrip("\n")
        except (OSError, subprocess.CalledProcessError):
            return None

    return {
        "git_head": git("rev-parse", "HEAD"),
        "git_dirty": (git("status", "--porcelain", "--untracked-files=no") or "").splitlines(),
        "perturbation_py_sha256": hashlib.sha256(src.read_bytes()).hexdigest()
        if src.exists()
        else None,
    }


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny grid, 4 seeds: a smoke test")
    p.add_argument("--seeds", type=int, default=None, help="seeds per cell (default 32; quick 4)")
    p.add_argument("--n", default=None, help="input sizes N (default 8,16,32,64; quick 4,8)")
    p.add_argument("--m", default=None, help="output sizes M (default 1,2,4,8; quick 1,2)")
    p.add_argument("--rules", default=",".join(RULES))
    p.add_argument("--target", type=float, default=1e-2, help="relative error E/E₀ to reach")
    p.add_argument("--sigma", type=float, default=1e-3, help="perturbation sd")
    p.add_argument(
        "--lr-k",
        default="-6,5",
        help="learning rates η* · 2^(k/4) for k in this inclusive range (η*: theory)",
    )
    p.add_argument(
        "--budget", type=float, default=8.0, help="step budget, in units of the theoretical T"
    )
    p.add_argument("--chunk", type=int, default=32, help="steps per while-loop iteration")
    p.add_argument("--bootstrap", type=int, default=2000)
    p.add_argument("--fresh", action="store_true", help="ignore finished cells in --out")
    p.add_argument("--out", default=None, help="path without suffix (.json and .png)")
    args = p.parse_args(argv)
    ns = [int(v) for v in (args.n or ("4,8" if args.quick else "8,16,32,64")).split(",")]
    ms = [int(v) for v in (args.m or ("1,2" if args.quick else "1,2,4,8")).split(",")]
    seeds = args.seeds or (4 if args.quick else 32)
    rules = args.rules.split(",")
    k_lo, k_hi = (int(v) for v in args.lr_k.split(","))
    if any(r not in RULES for r in rules):
        p.error(f"--rules: choose from {', '.join(RULES)}")
    if min(ns + ms) < 1 or seeds < 1 or k_hi < k_lo or not 0 < args.target < 1:
        p.error("sizes and --seeds must be >= 1, --lr-k lo,hi with lo <= hi, 0 < --target < 1")
    if len(ns) < 2 or len(ms) < 2:
        p.error("--n and --m need at least two sizes each to fit exponents")
    out = Path(
        args.out
        or (Path("runs/werfel_scaling_quick") if args.quick else RESULTS / "werfel_scaling")
    )
    json_path, png_path = out.with_suffix(".json"), out.with_suffix(".png")
    lr_factors = [2.0 ** (k / 4) for k in range(k_lo, k_hi + 1)]
    config = {
        "N": ns,
        "M": ms,
        "rules": rules,
        "seeds": seeds,
        "target": args.target,
        "sigma": args.sigma,
        "lr_factors": lr_factors,
        "budget_factor": args.budget,
        "chunk": args.chunk,
        "network": "credax.nets.mlp([N, M], identity, no bias), Glorot-uniform init",
        "teacher": "credax.data.linear_teacher: W* uniform[-1,1]/sqrt(N)",
        "data": "online, one fresh x ~ N(0, I_N) per step, y = W* x",
        "loss": "credax.losses.mse (½‖y - ŷ‖²)",
        "optimizer": "plain SGD, W <- W - lr * g",
        "error": "E = ‖W - W*‖²_F relative to its initial value",
        "perturbation": "one one-sided Gaussian perturbation per example (n_perturbations=1, "
        "antithetic=False)",
    }
    prov = provenance()
    cells = {}
    if json_path.exists() and not args.fresh:
        old = json.loads(json_path.read_text())
        if old.get("config") == config:
            cells = old.get("cells", {})
            print(f"resuming from {json_path}: {len(cells)} cells done")
        else:
            print(f"{json_path} has another configuration: starting afresh")

    def save(analysis=None):
        write_json(
            json_path,
            {
                "benchmark": "werfel_scaling",
                "command": " ".join(["python benchmarks/werfel_scaling.py", *argv]),
                "published": PUBLISHED,
                "config": config,
                "environment": environment() | {"credax": prov},
                "complete": analysis is not None,
                "analysis": analysis,
                "cells": cells,
            },
        )

    print(
        f"Werfel scaling: rules {rules}, N {ns}, M {ms}, {seeds} seeds x {len(lr_factors)} "
        f"rates, target E/E₀ ≤ {args.target}, on {jax.default_backend()}"
    )
    print(
        f"{'cell':12s} {'η*':>9s} {'best η/η*':>9s} {'median T':>9s} {'T*':>9s} "
        f"{'cens/bud/div':>13s} {'steps run':>9s} {'s':>7s}"
    )
    keys = jax.random.split(jax.random.key(0), seeds)
    t_start = time.perf_counter()
    for r in rules:
        for n in ns:
            for m in ms:
                name = f"{r}/{n}/{m}"
                if name in cells:
                    print_cell(name, cells[name], resumed=True)
                    continue
                eta, t_th = theory(r, n, m, args.target)
                chunk = max(1, min(args.chunk, math.ceil(t_th / 4)))
                budget = chunk * math.ceil(args.budget * t_th / chunk)
                lrs = jnp.asarray([eta * f for f in lr_factors], jnp.float32)
                run = make_cell(
                    r, n, m, sigma=args.sigma, target=args.target, budget=budget, chunk=chunk
                )
                t0 = time.perf_counter()
                compiled = run.lower(keys, lrs).compile()
                t1 = time.perf_counter()
                steps, status, t_run = jax.device_get(compiled(keys, lrs))
                t2 = time.perf_counter()
                b, med = best_time(steps)
                sb = steps[:, b]
                edge = b in (0, len(lr_factors) - 1)
                cells[name] = {
                    "rule": r,
                    "N": n,
                    "M": m,
                    "eta_theory": eta,
                    "T_theory": t_th,
                    "budget": budget,
                    "lrs": np.asarray(lrs).tolist(),
                    "steps": steps,
                    "status": status,
                    "best_lr_index": b,
                    "best_lr": float(lrs[b]),
                    "best_lr_factor": lr_factors[b],
                    "best_lr_at_grid_edge": edge,
                    "steps_best": sb,
                    "median_best": med,
                    "unreached_best": int(np.sum(sb < 0)),
                    "runs_by_status": {
                        label: int(np.sum(status == code)) for code, label in STATUS.items()
                    },
                    "steps_run": int(t_run),
                    "perturbation_py_sha256": prov["perturbation_py_sha256"],
                    "compile_seconds": t1 - t0,
                    "run_seconds": t2 - t1,
                }
                save()
                print_cell(name, cells[name])
    print(f"training: {time.perf_counter() - t_start:.0f} s in this run")
    with np.errstate(invalid="ignore", divide="ignore"):  # cells that never reached: inf
        an = analyse(cells, ns, ms, rules, args.bootstrap)
    an["training_seconds_all_cells"] = sum(
        c["compile_seconds"] + c["run_seconds"] for c in cells.values()
    )
    unreached = {k: c["unreached_best"] for k, c in cells.items() if c["unreached_best"]}
    an["cells_with_unreached_seeds_at_best_rate"] = unreached
    an["cells_with_best_rate_at_grid_edge"] = [
        k for k, c in cells.items() if c["best_lr_at_grid_edge"]
    ]
    shas = sorted({str(c.get("perturbation_py_sha256")) for c in cells.values()})
    an["perturbation_py_sha256_of_cells"] = shas
    report(an, rules)
    if len(shas) > 1:
        print(f"WARNING: cells come from {len(shas)} versions of credax/_src/perturbation.py")
    if unreached:
        print(f"WARNING: seeds that never reached the target at the best rate: {unreached}")
    if an["cells_with_best_rate_at_grid_edge"]:
        print(f"WARNING: best rate at the grid edge in {an['cells_with_best_rate_at_grid_edge']}")
    save(an)
    with np.errstate(invalid="ignore", divide="ignore"):
        plot(cells, ns, ms, rules, an, args.target, png_path)
    print(f"wrote {json_path} and {png_path}")


if __name__ == "__main__":
    main()
