"""Oja (1982), Sanger (1989) and BCM (Bienenstock, Cooper & Munro 1982): the local Hebbian rules
of paper 000 (eqs 1-3) reach the fixed points their papers derive.

Setup. Each rule trains a one-layer ``credax.nets.mlp([D, units])`` by ``optax.sgd``; credax's
updates are ``-Δw``, so SGD applies ``w ← w + lr·Δw``. Every seed draws its own data (where the
data are synthetic), initial weights and presentation order; all seeds of a part are one
compiled program (``lax.scan`` over steps, ``jax.vmap`` over seeds), measured every ``--every``
steps inside the scan.

1. Oja: ``credax.oja()`` on one linear unit, ``Δw = y (x - y w)`` with ``y = w·x``.
   Data: (a) ``synthetic``: ``D = 16`` centred Gaussian inputs with the known spectrum
   ``λ_i = 4·0.75^i`` (i = 0..15; λ₁/λ₂ = 4/3) in a random orthonormal basis per seed,
   ``--n-train`` (2000) samples; (b) ``mnist1d``: the 4000 MNIST-1D training inputs
   (``credax.data.load("mnist1d")``, D = 40), centred. Minibatches of ``--batch`` (32) drawn
   with replacement from the training set; learning rate ``--rate / λ₁`` (λ₁: the leading
   eigenvalue, 4 for synthetic, that of the MNIST-1D sample), annealed ``1/--anneal`` = 100-fold
   over the run (``optax.exponential_decay``). Initial weights: Glorot uniform times 0.3.
   Measured: the angle ``arccos(|w·v₁| / ‖w‖)`` (degrees) between ``w`` and ``v₁``, the leading
   eigenvector of the *sample* second-moment matrix ``XᵀX / n`` of the training set (the fixed
   point of the rule on these data; the population eigenvectors differ from it by sampling
   error, which is also reported), and ``‖w‖`` (Oja: → 1).
2. Sanger (GHA): ``credax.oja(components=k)``, ``k = --k`` (4) linear units, on the same data and
   schedule. Measured: for each unit ``i``, the angle to the ``i``-th sample eigenvector
   (``jnp.linalg.eigh``, leading first), and the orthonormality error ``‖W Wᵀ - I_k‖_F``; at the
   end, also credax's own diagnostic ``subspace_angle`` (the largest principal angle between the
   units' span and the leading k-dimensional eigenspace) as a cross-check.
3. BCM: ``credax.bcm(tau_theta=--tau-theta)`` on ``--units`` (8) ReLU units, bias 0, positive
   initial weights ``0.5·|W_glorot|``, seeing one of ``--patterns`` (P = 6) non-negative
   patterns per update (``--bcm-batch`` 1): each pattern uniform on [0, 1]^20, scaled to unit
   norm, drawn per seed; presentation uniformly at random; constant learning rate ``--bcm-lr``.
   ``Δw = x y (y - θ)``, ``θ ← θ + (y² - θ)/τ_θ``. Measured every ``--every-bcm`` steps: each
   unit's response ``y_j = relu(w·x_j)`` to every pattern, its threshold ``θ``, the exact
   ``⟨y²⟩ = mean_j y_j²`` over the (equiprobable) patterns under the current weights, which
   ``θ`` tracks, and ``⟨y⟩``. Selectivity: BCM's diagnostic ``1 - ⟨y⟩ / max_j y_j`` (0: equal
   responses; ``1 - 1/P`` = 0.83: responds to one pattern only). A unit is *selective to a single
   pattern* when its largest response is > 0 and its second largest ≤ 10% of it; it is *silent*
   when it responds to none. Preferred pattern: ``argmax_j y_j``.
   Fixed point (derived here from the averaged dynamics): a unit that responds to one pattern
   (probability p = 1/P) and not to the others has ``y₁ (y₁ - θ) = 0`` and ``θ = p y₁²``, so
   ``y₁ = θ = 1/p = P``; the non-selective fixed point (equal responses ``y = θ = 1``) is
   unstable. Both numbers are printed beside the measured ones. With one pattern per update θ
   is a noisy running average: a presentation of the preferred pattern raises it by about
   ``P²/τ_θ`` (1.8 here), so θ fluctuates around ⟨y²⟩ (the rms gap is reported).

Published (qualitative; these papers state properties, not numbers to match):
- Oja (1982): the normalised Hebbian rule makes ``w`` converge to the unit-norm eigenvector of
  the input correlation matrix with the largest eigenvalue (the first principal component).
- Sanger (1989): the generalised Hebbian algorithm converges to the first ``k`` eigenvectors,
  in order of decreasing eigenvalue (so ``W Wᵀ → I``).
- Bienenstock, Cooper & Munro (1982): with a threshold that is a superlinear (here quadratic)
  running average of activity, units become selective, responding to one of several input
  patterns, and the weights stay bounded.

The JSON holds every figure printed, per-seed final values, and the curves over training as
their mean, sd and 16th/84th percentiles over seeds per record.

    python benchmarks/oja_bcm.py [--seeds 32] [--steps 10000] [--bcm-steps 40000]
    python benchmarks/oja_bcm.py --quick    # smoke test, into runs/oja_bcm_quick
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
from common import (
    RESULTS,
    band,
    environment,
    mean_sd,
    significant,
    source_sha256,
    summarise_curves,
    write_json,
)  # noqa: E402

import credax  # noqa: E402

D_SYNTH = 16
SPECTRUM = 4.0 * 0.75 ** np.arange(D_SYNTH)  # λ_i, leading first
BCM_DIM = 20
PUBLISHED = {
    "oja": "Oja (1982), J. Math. Biol. 15:267-273: w converges to the unit-norm principal "
    "eigenvector of the input correlation matrix",
    "sanger": "Sanger (1989), Neural Networks 2:459-473: the GHA converges to the first k "
    "eigenvectors of the input correlation matrix, in eigenvalue order",
    "bcm": "Bienenstock, Cooper & Munro (1982), J. Neurosci. 2:32-48: units become selective to "
    "one input pattern; the threshold is a superlinear (quadratic) running average of activity "
    "and keeps the weights bounded",
    "note": "qualitative: the papers state convergence properties, not figures to match",
}


# --- data ----------------------------------------------------------------------------------------


def synthetic(key, n):
    """Centred Gaussian inputs ``(n, 16)`` with variances ``SPECTRUM`` along a random orthonormal
    basis (columns of ``q``, leading first)."""
    kq, kx = jax.random.split(key)
    q, _ = jnp.linalg.qr(jax.random.normal(kq, (D_SYNTH, D_SYNTH)))
    x = (jax.random.normal(kx, (n, D_SYNTH)) * jnp.sqrt(jnp.asarray(SPECTRUM, jnp.float32))) @ q.T
    return x, q


def sample_eig(x):
    """Eigenvalues and eigenvectors (columns) of ``xᵀx / n``, leading first."""
    vals, vecs = jnp.linalg.eigh(x.T @ x / x.shape[0])
    return vals[::-1], vecs[:, ::-1]


def angles_to(w, v):
    """Per row ``i`` of ``w``, the angle in degrees to column ``i`` of ``v`` (sign ignored)."""
    k = w.shape[0]
    c = jnp.abs(jnp.sum(w * v[:, :k].T, 1)) / jnp.linalg.norm(w, axis=1)
    return jnp.degrees(jnp.arccos(jnp.clip(c, 0.0, 1.0)))


# --- Oja and Sanger ------------------------------------------------------------------------------


def make_pca_run(rule, units, steps, every, batch, lr, init_scale, anneal):
    """``run(key, x, vecs) -> curves``: ``rule`` on ``units`` linear units fed minibatches of
    ``x``; every ``every`` steps the angle of each unit to its eigenvector, its norm and the
    orthonormality error. ``x`` and ``vecs`` (the sample eigenvectors) may be batched or not."""
    schedule = optax.exponential_decay(lr, steps, anneal)
    opt = optax.sgd(schedule)
    ident = credax.nets.identity

    def measure(net, vecs):
        w = net.layers[0].weight
        return {
            "angle": angles_to(w, vecs),
            "norm": jnp.linalg.norm(w, axis=1),
            "ortho_error": jnp.linalg.norm(w @ w.T - jnp.eye(units)),
        }

    def run(key, x, vecs):
        k_net, k_data = jax.random.split(key)
        d = x.shape[1]
        net = credax.nets.mlp([d, units], activation=ident, final_activation=ident, key=k_net)
        net = eqx.tree_at(lambda p: p.layers[0].weight, net, init_scale * net.layers[0].weight)
        state = rule.init(key, net)

        def step(carry, k):
            net, state, opt_state = carry
            xb = x[jax.random.randint(k, (batch,), 0, x.shape[0])]
            g, state = rule.update(net, state, xb)
            u, opt_state = opt.update(g, opt_state, net)
            return (optax.apply_updates(net, u), state, opt_state), None

        def block(carry, k):
            carry, _ = jax.lax.scan(step, carry, jax.random.split(k, every))
            return carry, measure(carry[0], vecs)

        first = measure(net, vecs)
        (final, state, _), rec = jax.lax.scan(
            block, (net, state, opt.init(net)), jax.random.split(k_data, steps // every)
        )
        curves = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), first, rec)
        curves["subspace_angle_diagnostic"] = rule.diagnostics(final, state, x)["subspace_angle"][0]
        curves["final_weight"] = final.layers[0].weight
        return curves

    return run


def pca_part(args, keys, datasets, log):
    """Oja (1 unit) and Sanger (``k`` units) on every dataset; returns the JSON section."""
    out = {}
    for dname, (x, vecs, _, lam1, q_pop) in datasets.items():
        batched = x.ndim == 3
        lr = args.rate / lam1
        for part, rule, units in (
            ("oja", credax.oja(), 1),
            ("sanger", credax.oja(components=args.k), args.k),
        ):
            run = make_pca_run(
                rule, units, args.steps, args.every, args.batch, lr, 0.3, args.anneal
            )
            in_axes = (0, 0, 0) if batched else (0, None, None)
            t0 = time.perf_counter()
            c = jax.device_get(jax.jit(jax.vmap(run, in_axes=in_axes))(keys, x, vecs))
            secs = time.perf_counter() - t0
            ang, norm = c["angle"], c["norm"]  # (seeds, records, units)
            fin = ang[:, -1]
            res = {
                "units": units,
                "lr": lr,
                "seconds": secs,
                "final_angle_deg_mean": fin.mean(0),
                "final_angle_deg_sd": fin.std(0),
                "final_angle_deg_max": fin.max(0),
                "final_angle_deg_per_seed": significant(fin),
                "initial_angle_deg_mean": ang[:, 0].mean(0),
                "final_norm_mean": norm[:, -1].mean(0),
                "final_norm_sd": norm[:, -1].std(0),
                "final_ortho_error_mean": mean_sd(c["ortho_error"][:, -1])[0],
                "final_ortho_error_sd": mean_sd(c["ortho_error"][:, -1])[1],
                "subspace_angle_diagnostic_mean": mean_sd(c["subspace_angle_diagnostic"])[0],
                "subspace_angle_diagnostic_max": float(np.max(c["subspace_angle_diagnostic"])),
                "curves": {k: c[k] for k in ("angle", "norm", "ortho_error")},
            }
            if q_pop is not None:  # the final w against the population eigenvectors too
                w = c["final_weight"]
                pop = np.stack(
                    [
                        np.asarray(angles_to(jnp.asarray(wi), jnp.asarray(qi)))
                        for wi, qi in zip(w, q_pop)
                    ]
                )
                res["final_angle_to_population_eigvec_deg_mean"] = pop.mean(0)
                res["final_angle_to_population_eigvec_deg_sd"] = pop.std(0)
            out[f"{part}/{dname}"] = res
            fa = ", ".join(f"{m:.3f}±{s:.3f}" for m, s in zip(fin.mean(0), fin.std(0)))
            fn = ", ".join(f"{m:.4f}" for m in norm[:, -1].mean(0))
            log(
                f"  {part:6s} {dname:9s} angle to sample eigvec(s) {ang[:, 0].mean():5.1f}° -> "
                f"[{fa}]°  ‖w‖ [{fn}]  ‖WWᵀ-I‖ {res['final_ortho_error_mean']:.4f}  "
                f"credax subspace_angle {res['subspace_angle_diagnostic_mean']:.3f}°  "
                f"({secs:.1f} s)"
            )
            if q_pop is not None:
                log(
                    "         (final angle to the population eigenvector(s): "
                    + ", ".join(
                        f"{m:.2f}°" for m in res["final_angle_to_population_eigvec_deg_mean"]
                    )
                    + ", sampling error)"
                )
    return out


# --- BCM -----------------------------------------------------------------------------------------


def make_bcm_run(args):
    rule = credax.bcm(tau_theta=args.tau_theta)
    opt = optax.sgd(args.bcm_lr)
    n_pat, units, every = args.patterns, args.units, args.every_bcm
    relu = jax.nn.relu

    def run(key):
        k_pat, k_net, k_data = jax.random.split(key, 3)
        pat = jax.random.uniform(k_pat, (n_pat, BCM_DIM))
        pat = pat / jnp.linalg.norm(pat, axis=1, keepdims=True)
        net = credax.nets.mlp([BCM_DIM, units], activation=relu, final_activation=relu, key=k_net)
        layer = net.layers[0]
        net = eqx.tree_at(
            lambda p: (p.layers[0].weight, p.layers[0].bias),
            net,
            (0.5 * jnp.abs(layer.weight), jnp.zeros_like(layer.bias)),
        )
        state = rule.init(key, net)

        def measure(net, state):
            y = jax.vmap(net)(pat)  # (P, units)
            return {"responses": y, "theta": state.theta[0]}

        def step(carry, k):
            net, state, opt_state = carry
            xb = pat[jax.random.randint(k, (args.bcm_batch,), 0, n_pat)]
            g, state = rule.update(net, state, xb)
            u, opt_state = opt.update(g, opt_state, net)
            return (optax.apply_updates(net, u), state, opt_state), None

        def block(carry, k):
            carry, _ = jax.lax.scan(step, carry, jax.random.split(k, every))
            return carry, measure(carry[0], carry[1])

        first = measure(net, state)
        (final, state, _), rec = jax.lax.scan(
            block, (net, state, opt.init(net)), jax.random.split(k_data, args.bcm_steps // every)
        )
        curves = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), first, rec)
        diag = rule.diagnostics(final, state, pat)
        curves["diag_selectivity"] = diag["selectivity"][0]
        curves["weight_norm"] = jnp.linalg.norm(final.layers[0].weight, axis=1)
        return curves

    return run


def nanmean(a) -> float:
    """The mean of the finite entries, nan (without a warning) when there are none."""
    a = np.asarray(a, np.float64)
    return float(np.mean(a[np.isfinite(a)])) if np.isfinite(a).any() else float("nan")


def nansd(a) -> float:
    a = np.asarray(a, np.float64)
    return float(np.std(a[np.isfinite(a)])) if np.isfinite(a).any() else float("nan")


def selectivity_stats(y):
    """``y (..., P, units)``: per unit the selectivity ``1 - mean/max`` (0 if silent), whether it
    is selective to a single pattern, whether it is silent, and its preferred pattern."""
    mx = y.max(-2)
    srt = np.sort(y, -2)
    safe = np.where(mx > 0, mx, 1.0)
    sel = np.where(mx > 0, 1.0 - y.mean(-2) / safe, 0.0)
    single = (mx > 0) & (srt[..., -2, :] <= 0.1 * mx)
    return sel, single, mx <= 0, y.argmax(-2)


def bcm_part(args, keys, log):
    run = make_bcm_run(args)
    t0 = time.perf_counter()
    c = jax.device_get(jax.jit(jax.vmap(run))(keys))
    secs = time.perf_counter() - t0
    y, theta = c["responses"], c["theta"]  # (S, T, P, U), (S, T, U)
    y2, y1 = (y**2).mean(2), y.mean(2)  # (S, T, U)
    sel, single, silent, pref = selectivity_stats(y)
    n_pat = args.patterns
    pref_final = pref[:, -1]  # (S, U)
    # how the preferred patterns are spread over patterns, per seed
    per_seed_counts = np.stack([np.bincount(p, minlength=n_pat) for p in pref_final])
    distinct = (per_seed_counts > 0).sum(1)
    u = args.units
    distinct_random = n_pat * (1 - (1 - 1 / n_pat) ** u)  # units assigned uniformly at random
    init_pref = pref[:, 0]
    final_single = single[:, -1]
    last = max(1, y.shape[1] // 10)  # the last 10% of the records, to average out noise
    resp_pref = np.where(final_single, y[:, -1].max(1), np.nan)
    res = {
        "seconds": secs,
        "fixed_point": {"preferred_response": float(n_pat), "theta": float(n_pat)},
        "selectivity_initial_mean": float(sel[:, 0].mean()),
        "selectivity_final_mean": float(sel[:, -1].mean()),
        "selectivity_final_sd_over_seeds": float(sel[:, -1].mean(1).std()),
        "selectivity_max_possible": 1 - 1 / n_pat,
        "selectivity_credax_diagnostic_final_mean": float(c["diag_selectivity"].mean()),
        "fraction_single_pattern_final": float(final_single.mean()),
        "fraction_single_pattern_per_seed": final_single.mean(1),
        "fraction_single_pattern_final_sd_over_seeds": float(final_single.mean(1).std()),
        "fraction_silent_final": float(silent[:, -1].mean()),
        "preferred_response_final_mean": nanmean(resp_pref),
        "preferred_response_final_sd": nansd(resp_pref),
        "preferred_response_last10pct_mean": nanmean(
            np.where(final_single[:, None], y[:, -last:].max(2), np.nan)
        ),
        "theta_final_mean": float(theta[:, -1].mean()),
        "theta_last10pct_mean": float(theta[:, -last:].mean()),
        "mean_sq_rate_final_mean": float(y2[:, -1].mean()),
        "mean_sq_rate_last10pct_mean": float(y2[:, -last:].mean()),
        "theta_minus_mean_sq_rate_rms_last10pct": float(
            np.sqrt(np.mean((theta[:, -last:] - y2[:, -last:]) ** 2))
        ),
        "mean_rate_last10pct_mean": float(y1[:, -last:].mean()),
        "other_responses_final_max_over_units": float(
            np.max(np.where(final_single[:, None], np.sort(y[:, -1], 1)[:, -2], 0.0))
        ),
        "preferred_pattern_units_per_pattern_pooled": np.bincount(
            pref_final.ravel(), minlength=n_pat
        ),
        "distinct_preferred_patterns_per_seed_mean": float(distinct.mean()),
        "distinct_preferred_patterns_per_seed_min": int(distinct.min()),
        "distinct_expected_if_uniform_random": distinct_random,
        "max_units_on_one_pattern_per_seed_mean": float(per_seed_counts.max(1).mean()),
        "units_per_pattern_sorted_mean": np.sort(per_seed_counts, 1)[:, ::-1].mean(0),
        "units_per_pattern_sorted_if_random": random_sorted_counts(u, n_pat),
        "fraction_final_preference_equals_initial_strongest": float(
            (pref_final == init_pref).mean()
        ),
        "weight_norm_final_mean": float(c["weight_norm"].mean()),
        "weight_norm_final_max": float(c["weight_norm"].max()),
        "curves": {
            "theta_mean": theta.mean(2),
            "mean_sq_rate_mean": y2.mean(2),
            "mean_rate_mean": y1.mean(2),
            "selectivity_mean": sel.mean(2),
            "fraction_single_pattern": single.mean(2),
            "theta_seed0": theta[0],
            "mean_sq_rate_seed0": y2[0],
        },
        "responses_initial": y[:, 0],
        "responses_final": y[:, -1],
    }
    log(
        f"  BCM: {args.seeds} seeds x {u} units, P = {n_pat} patterns, {args.bcm_steps} steps "
        f"({secs:.1f} s)"
    )
    log(
        f"    selectivity {res['selectivity_initial_mean']:.3f} -> "
        f"{res['selectivity_final_mean']:.3f} (max 1-1/P = {1 - 1 / n_pat:.3f}); selective to one "
        f"pattern: {100 * res['fraction_single_pattern_final']:.1f}% of units; silent "
        f"{100 * res['fraction_silent_final']:.1f}%"
    )
    log(
        f"    preferred response {res['preferred_response_final_mean']:.2f} ± "
        f"{res['preferred_response_final_sd']:.2f} (fixed point P = {n_pat}); θ (last 10%) "
        f"{res['theta_last10pct_mean']:.2f} vs ⟨y²⟩ {res['mean_sq_rate_last10pct_mean']:.2f} "
        f"(rms θ-⟨y²⟩ {res['theta_minus_mean_sq_rate_rms_last10pct']:.2f}); ⟨y⟩ "
        f"{res['mean_rate_last10pct_mean']:.2f}"
    )
    log(
        f"    preferred patterns: {res['distinct_preferred_patterns_per_seed_mean']:.2f} "
        f"distinct of {n_pat} per seed ({distinct_random:.2f} if {u} units chose uniformly at "
        "random); units per pattern, sorted: "
        + "/".join(f"{v:.2f}" for v in res["units_per_pattern_sorted_mean"])
        + " (at random: "
        + "/".join(f"{v:.2f}" for v in res["units_per_pattern_sorted_if_random"])
        + f"); final = initially strongest pattern for "
        f"{100 * res['fraction_final_preference_equals_initial_strongest']:.0f}% of units"
    )
    return res


# --- report and plot -----------------------------------------------------------------------------


def pband(ax, x, ys, label, color=None):
    """The seed mean of ``ys (seed, len(x))`` with the 16th-84th percentile band (±1 sd for a
    normal spread; a mean - sd band would leave the range of a fraction or a log axis)."""
    ys = np.asarray(ys, np.float64)
    (line,) = ax.plot(x, ys.mean(0), label=label, color=color)
    lo, hi = np.percentile(ys, [16, 84], axis=0)
    ax.fill_between(x, lo, hi, alpha=0.2, color=line.get_color())


def random_sorted_counts(units, n_pat, draws=20000, seed=0):
    """The mean counts of units per pattern, sorted decreasing, if each of ``units`` units chose
    one of ``n_pat`` patterns uniformly at random."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n_pat, (draws, units))
    counts = np.stack([np.bincount(r, minlength=n_pat) for r in picks])
    return np.sort(counts, 1)[:, ::-1].mean(0)


def table(results, args, log):
    log("")
    log(f"{'measure':58s} {'ours':>26s}  published")
    rows = []
    for dname in ("synthetic", "mnist1d"):
        r = results["pca"].get(f"oja/{dname}")
        if r:
            rows.append(
                (
                    f"Oja {dname}: angle to v1, ‖w‖",
                    f"{r['final_angle_deg_mean'][0]:.2f}±{r['final_angle_deg_sd'][0]:.2f}°, "
                    f"{r['final_norm_mean'][0]:.3f}",
                    "→ 0°, → 1 (Oja 1982)",
                )
            )
        r = results["pca"].get(f"sanger/{dname}")
        if r:
            rows.append(
                (
                    f"Sanger k={args.k} {dname}: angles to v1..v{args.k}",
                    "/".join(f"{a:.2f}" for a in r["final_angle_deg_mean"]) + "°",
                    "→ 0° in order (Sanger 1989)",
                )
            )
            rows.append(
                (
                    f"Sanger k={args.k} {dname}: ‖WWᵀ-I‖_F",
                    f"{r['final_ortho_error_mean']:.4f}",
                    "→ 0",
                )
            )
    b = results.get("bcm")
    if b:
        rows += [
            (
                f"BCM: units selective to one of {args.patterns} patterns",
                f"{100 * b['fraction_single_pattern_final']:.1f}%",
                "selective (BCM 1982)",
            ),
            (
                "BCM: preferred response / θ (fixed point P)",
                f"{b['preferred_response_final_mean']:.2f} / {b['theta_last10pct_mean']:.2f}",
                f"{args.patterns} / {args.patterns} (derived)",
            ),
            (
                "BCM: θ vs ⟨y²⟩ (last 10%)",
                f"{b['theta_last10pct_mean']:.2f} vs {b['mean_sq_rate_last10pct_mean']:.2f}",
                "θ tracks ⟨y²⟩",
            ),
        ]
    for m, o, p in rows:
        log(f"{m:58s} {o:>26s}  {p}")
    log("(published figures are qualitative: the papers state convergence properties)")


def plot(results, args, path):
    fig, axes = plt.subplots(3, 4, figsize=(20, 13))
    pca = results["pca"]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]

    def steps_axis(n):
        return np.arange(n) * args.every

    ax = axes[0, 0]
    for dname in ("synthetic", "mnist1d"):
        r = pca.get(f"oja/{dname}")
        if r:
            a = np.asarray(r["curves"]["angle"])[:, :, 0]
            pband(ax, steps_axis(a.shape[1]), a, dname)
    ax.set(
        yscale="log",
        xlabel="step",
        ylabel="angle to v₁ (deg)",
        title="Oja: angle to PC1 (mean, 16-84% band)",
    )
    ax.legend()
    ax = axes[0, 1]
    for dname in ("synthetic", "mnist1d"):
        r = pca.get(f"oja/{dname}")
        if r:
            a = np.asarray(r["curves"]["norm"])[:, :, 0]
            band(ax, steps_axis(a.shape[1]), a, dname)
    ax.axhline(1, ls="--", c="k", lw=0.8, label="Oja: ‖w‖ → 1")
    ax.set(xlabel="step", ylabel="‖w‖", title="Oja: weight norm")
    ax.legend()
    for j, dname in enumerate(("synthetic", "mnist1d")):
        ax = axes[0, 2 + j]
        r = pca.get(f"sanger/{dname}")
        if r:
            a = np.asarray(r["curves"]["angle"])
            for i in range(a.shape[2]):
                pband(ax, steps_axis(a.shape[1]), a[:, :, i], f"unit {i + 1} vs v{i + 1}")
            ax.legend(fontsize=8)
        ax.set(
            yscale="log",
            xlabel="step",
            ylabel="angle (deg)",
            title=f"Sanger k={args.k}, {dname}: unit i vs vᵢ",
        )
    ax = axes[1, 0]
    for dname in ("synthetic", "mnist1d"):
        r = pca.get(f"sanger/{dname}")
        if r:
            a = np.asarray(r["curves"]["ortho_error"])
            pband(ax, steps_axis(a.shape[1]), a, dname)
    ax.set(yscale="log", xlabel="step", ylabel="‖WWᵀ − I‖_F", title="Sanger: orthonormality error")
    ax.legend()
    ax = axes[1, 1]
    width = 0.38
    for j, dname in enumerate(("synthetic", "mnist1d")):
        r = pca.get(f"sanger/{dname}")
        if r:
            m, s = np.asarray(r["final_angle_deg_mean"]), np.asarray(r["final_angle_deg_sd"])
            xs = np.arange(1, m.size + 1) + (j - 0.5) * width
            ax.bar(xs, m, width, yerr=s, label=f"Sanger {dname}", color=colors[j], capsize=3)
        r = pca.get(f"oja/{dname}")
        if r:
            ax.plot(
                [1 + (j - 0.5) * width],
                r["final_angle_deg_mean"],
                "k^",
                ms=7,
                label="Oja" if j == 0 else None,
            )
    ax.set(
        yscale="log",
        xlabel="component i",
        ylabel="final angle to vᵢ (deg)",
        title="final angles (mean ± sd over seeds)",
    )
    ax.legend(fontsize=8)

    b = results.get("bcm")
    if b:
        cur = {k: np.asarray(v) for k, v in b["curves"].items()}
        t = np.arange(cur["theta_mean"].shape[1]) * args.every_bcm / 1000
        ax = axes[1, 2]
        band(ax, t, cur["theta_mean"], "θ (unit mean)")
        band(ax, t, cur["mean_sq_rate_mean"], "⟨y²⟩ over patterns")
        band(ax, t, cur["mean_rate_mean"], "⟨y⟩ over patterns")
        ax.plot(t, cur["theta_seed0"][:, 0], lw=0.6, c="C0", alpha=0.7, label="θ, one unit")
        ax.plot(t, cur["mean_sq_rate_seed0"][:, 0], lw=0.6, c="C1", ls="--", alpha=0.9)
        ax.axhline(
            args.patterns, ls=":", c="k", lw=0.8, label=f"fixed point θ = P = {args.patterns}"
        )
        ax.set(xlabel="step (thousands)", ylabel="rate²", title="BCM: θ tracks ⟨y²⟩")
        ax.legend(fontsize=8)
        ax = axes[1, 3]
        band(ax, t, cur["selectivity_mean"], "selectivity 1 − ⟨y⟩/max y")
        pband(ax, t, cur["fraction_single_pattern"], "fraction selective to 1 pattern (16-84%)")
        ax.axhline(1 - 1 / args.patterns, ls=":", c="k", lw=0.8, label="1 − 1/P")
        ax.set(xlabel="step (thousands)", ylabel="", title="BCM: selectivity", ylim=(0, 1.05))
        ax.legend(fontsize=8)
        for j, key, ttl in (
            (0, "responses_initial", "before"),
            (1, "responses_final", "after"),
        ):
            ax = axes[2, j]
            y = np.asarray(b[key])[0].T  # units x patterns, seed 0
            order = np.argsort(np.asarray(b["responses_final"])[0].T.argmax(1), kind="stable")
            im = ax.imshow(y[order], aspect="auto", cmap="viridis", vmin=0)
            ax.set(
                xlabel="pattern",
                ylabel="unit (sorted by final preference)",
                title=f"BCM responses {ttl} (seed 0)",
            )
            ax.set_xticks(range(args.patterns))
            fig.colorbar(im, ax=ax)
        ax = axes[2, 2]
        final = np.asarray(b["responses_final"])  # S, P, U
        srt = np.sort(final, 1)[:, ::-1]  # responses in decreasing order per unit
        srt = srt / np.where(srt[:, :1] > 0, srt[:, :1], 1.0)
        ranks = np.arange(1, args.patterns + 1)
        m = srt.transpose(0, 2, 1).reshape(-1, args.patterns)
        ax.boxplot(m, positions=ranks)
        ax.set(
            xlabel="rank of pattern (by response)",
            ylabel="response / largest response",
            title=f"BCM: every unit's responses, ranked ({m.shape[0]} units)",
        )
        ax = axes[2, 3]
        counts = np.asarray(b["units_per_pattern_sorted_mean"])
        ranks = np.arange(1, args.patterns + 1)
        ax.bar(ranks, counts, label="BCM (mean over seeds)")
        ax.plot(
            ranks,
            b["units_per_pattern_sorted_if_random"],
            "k_",
            ms=30,
            mew=2,
            label="units choosing at random",
        )
        ax.set(
            xlabel="pattern, by number of units preferring it",
            ylabel=f"units (of {args.units})",
            title="preferred patterns per seed: "
            f"{b['distinct_preferred_patterns_per_seed_mean']:.2f} of {args.patterns} distinct",
        )
        ax.legend(fontsize=8)
    else:
        for ax in list(axes[1, 2:]) + list(axes[2]):
            ax.set_axis_off()
    fig.suptitle(
        f"Oja (1982), Sanger (1989), BCM (1982) with credax, {args.seeds} seeds: mean with a "
        "16-84% band (log axes, fractions) or a ± 1 sd band",
        fontsize=12,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    fig.savefig(path, dpi=90)
    plt.close(fig)


# --- main ----------------------------------------------------------------------------------------


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny run, 4 seeds: a smoke test")
    p.add_argument("--seeds", type=int, default=None, help="default 32 (quick 4)")
    p.add_argument("--steps", type=int, default=None, help="Oja/Sanger steps (10000; quick 500)")
    p.add_argument("--every", type=int, default=25, help="Oja/Sanger steps between records")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--n-train", type=int, default=2000, help="synthetic training-set size")
    p.add_argument("--rate", type=float, default=0.08, help="initial lr times λ₁ (Oja/Sanger)")
    p.add_argument(
        "--anneal", type=float, default=0.01, help="lr at the end / lr at the start (Oja/Sanger)"
    )
    p.add_argument("--k", type=int, default=4, help="Sanger components")
    p.add_argument("--no-mnist1d", action="store_true", help="skip the MNIST-1D data")
    p.add_argument("--patterns", type=int, default=6)
    p.add_argument("--units", type=int, default=8)
    p.add_argument("--tau-theta", type=float, default=20.0)
    p.add_argument("--bcm-lr", type=float, default=0.005)
    p.add_argument("--bcm-batch", type=int, default=1, help="patterns per BCM update")
    p.add_argument("--bcm-steps", type=int, default=None, help="default 40000 (quick 4000)")
    p.add_argument("--every-bcm", type=int, default=200)
    p.add_argument("--out", default=None, help="path without suffix (.json and .png)")
    args = p.parse_args(argv)
    args.seeds = args.seeds or (4 if args.quick else 32)
    args.steps = args.steps or (500 if args.quick else 10000)
    args.bcm_steps = args.bcm_steps or (4000 if args.quick else 40000)
    if args.steps % args.every or args.bcm_steps % args.every_bcm:
        p.error("--every must divide --steps and --every-bcm --bcm-steps")
    if min(args.seeds, args.k, args.patterns, args.units, args.batch, args.bcm_batch) < 1:
        p.error("counts must be >= 1")
    if args.patterns > BCM_DIM or args.k > D_SYNTH:
        p.error(f"--patterns <= {BCM_DIM} and --k <= {D_SYNTH}")
    out = Path(args.out or (Path("runs/oja_bcm_quick") if args.quick else RESULTS / "oja_bcm"))
    json_path, png_path = out.with_suffix(".json"), out.with_suffix(".png")
    config = {k: v for k, v in vars(args).items() if k != "out"} | {
        "synthetic_spectrum": SPECTRUM,
        "synthetic_dim": D_SYNTH,
        "lr_schedule": "optax.exponential_decay(rate/λ₁, steps, anneal)",
        "pca_init": "Glorot uniform x 0.3, bias unused",
        "bcm_patterns": f"uniform [0,1]^{BCM_DIM}, unit L2 norm, per seed",
        "bcm_init": "weights 0.5·|Glorot uniform|, bias 0, ReLU",
        "selective_to_one_pattern": "largest response > 0 and second largest <= 0.1 x largest",
    }
    results = {"pca": {}}
    t_start = time.perf_counter()

    def save(complete=False):
        write_json(
            json_path,
            {
                "benchmark": "oja_bcm",
                "command": " ".join(["python benchmarks/oja_bcm.py", *argv]),
                "published": PUBLISHED,
                "config": config,
                "environment": environment()
                | {"credax_local_py_sha256": source_sha256("credax/_src/local.py")},
                "complete": complete,
                "seconds": time.perf_counter() - t_start,
                **summarise_curves(results),
            },
        )

    print(f"Oja, Sanger, BCM on {jax.default_backend()}: {args.seeds} seeds")
    keys = jax.random.split(jax.random.key(0), args.seeds)
    # datasets: (x, sample eigvecs, sample eigvals, λ₁ for the rate, population eigvecs)
    data_keys = jax.random.split(jax.random.key(1), args.seeds)
    xs, qs = jax.vmap(lambda k: synthetic(k, args.n_train))(data_keys)
    vals, vecs = jax.vmap(sample_eig)(xs)
    datasets = {"synthetic": (xs, vecs, vals, float(SPECTRUM[0]), np.asarray(qs))}
    results["data"] = {
        "synthetic": {
            "population_eigenvalues": SPECTRUM,
            "sample_eigenvalues_mean": np.asarray(vals).mean(0),
        }
    }
    if not args.no_mnist1d:
        xm, _ = credax.data.load("mnist1d", "train")
        xm = jnp.asarray(xm - xm.mean(0))
        mv, mvec = sample_eig(xm)
        datasets["mnist1d"] = (xm, mvec, mv, float(mv[0]), None)
        results["data"]["mnist1d"] = {"n": int(xm.shape[0]), "dim": 40, "sample_eigenvalues": mv}
        print("  MNIST-1D (4000 x 40, centred) leading eigenvalues:", np.round(mv[:6], 2))
    print("  synthetic (2000 x 16 per seed) population eigenvalues:", np.round(SPECTRUM[:6], 2))
    results["pca"] = pca_part(args, keys, datasets, print)
    save()
    results["bcm"] = bcm_part(args, keys, print)
    save()
    table(results, args, print)
    plot(results, args, png_path)
    save(complete=True)
    print(f"total {time.perf_counter() - t_start:.0f} s; wrote {json_path} and {png_path}")


if __name__ == "__main__":
    main()
