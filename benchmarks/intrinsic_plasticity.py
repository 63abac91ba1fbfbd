"""Triesch (2005): intrinsic plasticity drives a logistic unit's output distribution towards the
exponential of a fixed mean, for several input distributions (paper 000, §5, eq. 13).

Setup. One logistic unit ``y = σ(w x + b)`` (``credax.nets.mlp([1, 1], final_activation=
jax.nn.sigmoid)``) sees a scalar input ``x`` drawn from one of four distributions, all of mean 0
and variance 1: ``gaussian`` N(0, 1); ``uniform`` U(-√3, √3); ``bimodal`` ±0.9 with equal
probability plus N(0, 0.19); ``exponential`` Exp(1) - 1 (skewed). ``credax.intrinsic_plasticity(
mean=μ)`` (μ = 0.1 and 0.2) adapts the gain (folded into ``w``) and the bias by ``optax.sgd``
(``--lr`` 0.01, constant), ``--batch`` (20) fresh inputs per update, ``--steps`` (5000) updates.
Initial gain ``w`` log-uniform on [0.5, 2] and bias uniform on [-1, 1], per seed; every seed
draws its own inputs. All seeds of a condition are one compiled program (``lax.scan`` over
steps, ``jax.vmap`` over seeds), measured every ``--every`` steps inside the scan.

The rule (Triesch 2005, for the logistic): ``Δb = 1 - (2 + 1/μ) y + y²/μ``, ``Δa = 1/a + x Δb``
for a gain ``a``, the stochastic gradient of ``J(a, b) = -E[log a + log y + log(1 - y)] + E[y]/μ``,
i.e. of the KL divergence from the output density to the density ``∝ exp(-y/μ)`` on (0, 1) up to
a constant. credax applies the gain step to the weights at gain 1, ``Δw = (1 + w x Δb) w``; for a
scalar input that is ``w²`` times Triesch's ``Δa`` (a positive rescaling: the same fixed points).

Measured, on ``--n-eval`` (10000) fresh inputs per seed: the output histogram on [0, 1] in
``--bins`` (20) equal bins, and its KL divergence to the exponential of the same ``μ`` truncated
to [0, 1] and normalised:

    KL = Σ_i p_i log(p_i / q_i),  p_i = n_i / N (empty bins contribute 0),
    q_i = (exp(-e_i/μ) - exp(-e_{i+1}/μ)) / (1 - exp(-1/μ)),  e_i = i / bins,

before training, over training and after; the output mean and sd (an exponential has
sd = mean); the final gain and bias. References: (a) the floor, the KL of N samples drawn from the
target itself (finite-sample bias, ≈ (bins - 1) / 2N); (b) the optimum, the gain and bias that
minimise ``J`` over a 100000-sample batch of the input (full-batch Adam on ``(log a, b)``), and the
KL at it: the closest a logistic of that input comes to the exponential, which IP should reach.
A logistic of a bounded or bimodal input cannot be exponential, so only the Gaussian comes near
the floor.

Part 2 (``credax.chain``): an 8-input logistic unit on Gaussian inputs with variances
``4·0.5^i`` in a random orthonormal basis per seed, μ = 0.1, ``--chain-steps`` (10000) updates:
``intrinsic_plasticity`` alone; ``hebb(normalize=True)`` alone (it normalises the weights and
leaves the bias unchanged, so that the bias is IP's alone); and their chain (Hebb sets the
weights' direction, IP the gain along it and the bias).
Measured: the angle between ``w`` and the leading population eigenvector, and the KL above.

Published (qualitative): Triesch (2005), ICANN, LNCS 3696:65-70: the rule brings a single
sigmoid unit's firing-rate distribution to an approximately exponential one, for several input
distributions. The paper gives no table of figures to match.

The JSON holds every figure printed, per-seed final KLs, the pooled histograms, and the curves
over training as their mean, sd and 16th/84th percentiles over seeds per record.

    python benchmarks/intrinsic_plasticity.py [--seeds 32] [--steps 5000] [--mu 0.1,0.2]
    python benchmarks/intrinsic_plasticity.py --quick    # smoke test, into runs/
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

INPUTS = ("gaussian", "uniform", "bimodal", "exponential")
CHAIN_DIM = 8
CHAIN_SPECTRUM = 4.0 * 0.5 ** np.arange(CHAIN_DIM)
PUBLISHED = (
    "Triesch (2005), A gradient rule for the plasticity of a neuron's intrinsic excitability, "
    "ICANN, LNCS 3696:65-70: the rule brings a sigmoid unit's firing-rate distribution into an "
    "approximately exponential regime, for several input distributions (qualitative)"
)


def draw(kind: str, key, shape):
    """Inputs of mean 0 and variance 1 from the named distribution."""
    if kind == "gaussian":
        return jax.random.normal(key, shape)
    if kind == "uniform":
        return jax.random.uniform(key, shape, minval=-(3**0.5), maxval=3**0.5)
    if kind == "bimodal":
        k1, k2 = jax.random.split(key)
        side = jnp.where(jax.random.bernoulli(k1, 0.5, shape), 1.0, -1.0)
        return 0.9 * side + 0.19**0.5 * jax.random.normal(k2, shape)
    if kind == "exponential":
        return jax.random.exponential(key, shape) - 1.0
    raise ValueError(kind)


def draw_any(kind, key, shape):
    """``draw`` with the distribution given by its index in ``INPUTS`` (traceable, vmappable)."""
    branches = [lambda k, name=name: draw(name, k, shape) for name in INPUTS]
    return jax.lax.switch(kind, branches, key)


def target_probs(mu: float, bins: int) -> np.ndarray:
    """``q_i``: the exponential of mean ``mu`` truncated to [0, 1], per equal bin."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    cdf = 1.0 - np.exp(-edges / mu)
    return np.diff(cdf) / cdf[-1]


def kl_hist(y, mu: float, bins: int):
    """KL(histogram of ``y`` on [0, 1] || truncated exponential), in JAX (jit- and vmap-able)."""
    counts, _ = jnp.histogram(y, bins=bins, range=(0.0, 1.0))
    p = counts / jnp.sum(counts)
    q = jnp.asarray(target_probs(mu, bins), jnp.float32)
    return jnp.sum(jnp.where(p > 0, p * jnp.log(jnp.where(p > 0, p, 1.0) / q), 0.0))


def sample_target(key, mu: float, n: int):
    """``n`` draws from the exponential of mean ``mu`` truncated to [0, 1] (inverse CDF)."""
    u = jax.random.uniform(key, (n,))
    return -mu * jnp.log1p(-u * (1.0 - np.exp(-1.0 / mu)))


def logistic_unit(key, n_in: int):
    sig = jax.nn.sigmoid
    return credax.nets.mlp([n_in, 1], activation=sig, final_activation=sig, key=key)


# --- part 1: one unit, four input distributions --------------------------------------------------


def make_ip_run(mu: float, args):
    """``run(kind, key)``: one seed of IP on inputs ``INPUTS[kind]``."""
    rule = credax.intrinsic_plasticity(mean=mu)
    opt = optax.sgd(args.lr)

    def run(kind, key):
        k_net, k_gain, k_bias, k_data, k_eval = jax.random.split(key, 5)
        net = logistic_unit(k_net, 1)
        gain = jnp.exp(jax.random.uniform(k_gain, (), minval=np.log(0.5), maxval=np.log(2.0)))
        bias = jax.random.uniform(k_bias, (), minval=-1.0, maxval=1.0)
        net = eqx.tree_at(
            lambda p: (p.layers[0].weight, p.layers[0].bias),
            net,
            (jnp.full((1, 1), gain), jnp.full((1,), bias)),
        )
        state = rule.init(key, net)
        x_eval = draw_any(kind, k_eval, (args.n_eval, 1))

        def outputs(net):
            return jax.vmap(net)(x_eval)[:, 0]

        def measure(net):
            y = outputs(net)
            return {
                "kl": kl_hist(y, mu, args.bins),
                "mean": jnp.mean(y),
                "sd": jnp.std(y),
                "gain": net.layers[0].weight[0, 0],
                "bias": net.layers[0].bias[0],
            }

        def step(carry, k):
            net, state, opt_state = carry
            g, state = rule.update(net, state, draw_any(kind, k, (args.batch, 1)))
            u, opt_state = opt.update(g, opt_state, net)
            return (optax.apply_updates(net, u), state, opt_state), None

        def block(carry, k):
            carry, _ = jax.lax.scan(step, carry, jax.random.split(k, args.every))
            return carry, measure(carry[0])

        first = measure(net)
        (final, _, _), rec = jax.lax.scan(
            block, (net, state, opt.init(net)), jax.random.split(k_data, args.steps // args.every)
        )
        curves = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), first, rec)
        y0, y1 = outputs(net), outputs(final)
        hist = {
            "hist_before": jnp.histogram(y0, bins=args.bins, range=(0.0, 1.0))[0],
            "hist_after": jnp.histogram(y1, bins=args.bins, range=(0.0, 1.0))[0],
        }
        return curves | hist

    return run


def optimum(kind, mu: float, key, n: int = 100_000, steps: int = 3000):
    """The gain and bias minimising ``J`` on ``n`` inputs of ``INPUTS[kind]``: full-batch Adam
    on ``(log a, b)``; returns ``a, b`` and the gradient norm at the end."""
    x = draw_any(kind, key, (n,))

    def objective(p):
        z = jnp.exp(p[0]) * x + p[1]
        return (
            -jnp.mean(p[0] + jax.nn.log_sigmoid(z) + jax.nn.log_sigmoid(-z))
            + jnp.mean(jax.nn.sigmoid(z)) / mu
        )

    opt = optax.adam(0.05)

    def step(carry, _):
        p, s = carry
        g = jax.grad(objective)(p)
        u, s = opt.update(g, s)
        return (optax.apply_updates(p, u), s), None

    p = jnp.zeros(2)
    (p, _), _ = jax.lax.scan(step, (p, opt.init(p)), None, length=steps)
    return jnp.exp(p[0]), p[1], jnp.linalg.norm(jax.grad(objective)(p))


def ip_part(args, keys, log):
    out = {}
    log(
        f"{'input':12s} {'μ':>4s} {'KL before':>14s} {'KL after':>16s} {'KL optimum':>10s} "
        f"{'floor':>7s} {'mean':>6s} {'sd':>6s} {'gain (opt)':>14s} {'bias (opt)':>15s}"
    )
    for mu in args.mu:
        fk = jax.random.split(jax.random.key(11), args.seeds)
        floor = jax.device_get(
            jax.vmap(lambda k, m=mu: kl_hist(sample_target(k, m, args.n_eval), m, args.bins))(fk)
        )
        out[f"floor/{mu}"] = {"kl_mean": float(floor.mean()), "kl_sd": float(floor.std())}
        kinds = jnp.arange(len(INPUTS))
        t0 = time.perf_counter()
        run = jax.vmap(jax.vmap(make_ip_run(mu, args), (None, 0)), (0, None))
        curves = jax.device_get(jax.jit(run)(kinds, keys))  # (kind, seed, ...)
        secs = time.perf_counter() - t0
        a_opts, b_opts, gnorms = jax.device_get(
            jax.jit(jax.vmap(lambda k, m=mu: optimum(k, m, jax.random.key(7))))(kinds)
        )
        ok = jax.random.split(jax.random.key(12), args.seeds)

        def kl_at(kind, k, a, b, mu=mu):  # the KL at the optimum, on evaluation-size samples
            y = jax.nn.sigmoid(a * draw_any(kind, k, (args.n_eval,)) + b)
            return kl_hist(y, mu, args.bins)

        kl_opts = jax.device_get(
            jax.jit(jax.vmap(jax.vmap(kl_at, (None, 0, None, None)), (0, None, 0, 0)))(
                kinds, ok, a_opts, b_opts
            )
        )
        for ki, kind in enumerate(INPUTS):
            c = jax.tree_util.tree_map(lambda a, ki=ki: a[ki], curves)
            a_opt, b_opt, gnorm = float(a_opts[ki]), float(b_opts[ki]), float(gnorms[ki])
            kl_opt = kl_opts[ki]
            kl, gain, bias = c["kl"], c["gain"], c["bias"]
            res = {
                "seconds_all_inputs": secs,
                "kl_before_mean": mean_sd(kl[:, 0])[0],
                "kl_before_sd": mean_sd(kl[:, 0])[1],
                "kl_after_mean": mean_sd(kl[:, -1])[0],
                "kl_after_sd": mean_sd(kl[:, -1])[1],
                "kl_after_max": float(kl[:, -1].max()),
                "kl_after_per_seed": significant(kl[:, -1]),
                "kl_at_optimum_mean": float(kl_opt.mean()),
                "kl_floor_mean": float(floor.mean()),
                "output_mean_before": mean_sd(c["mean"][:, 0])[0],
                "output_mean_after": mean_sd(c["mean"][:, -1])[0],
                "output_mean_after_sd": mean_sd(c["mean"][:, -1])[1],
                "output_sd_after": mean_sd(c["sd"][:, -1])[0],
                "target_mean_truncated": mu - 1.0 / np.expm1(1.0 / mu),
                "gain_after_mean": mean_sd(gain[:, -1])[0],
                "gain_after_sd": mean_sd(gain[:, -1])[1],
                "bias_after_mean": mean_sd(bias[:, -1])[0],
                "bias_after_sd": mean_sd(bias[:, -1])[1],
                "gain_optimum": a_opt,
                "bias_optimum": b_opt,
                "optimum_grad_norm": gnorm,
                "hist_before_pooled": c["hist_before"].sum(0),
                "hist_after_pooled": c["hist_after"].sum(0),
                "curves": {k: c[k] for k in ("kl", "mean", "sd", "gain", "bias")},
            }
            out[f"{kind}/{mu}"] = res
            log(
                f"{kind:12s} {mu:4.2f} {res['kl_before_mean']:6.3f} ± {res['kl_before_sd']:5.3f} "
                f"{res['kl_after_mean']:7.4f} ± {res['kl_after_sd']:6.4f} {kl_opt.mean():10.4f} "
                f"{floor.mean():7.4f} {res['output_mean_after']:6.3f} "
                f"{res['output_sd_after']:6.3f} {res['gain_after_mean']:6.3f} ({a_opt:5.3f}) "
                f"{res['bias_after_mean']:7.3f} ({b_opt:6.3f})"
            )
        log(f"  (μ = {mu}: {secs:.1f} s for the {len(INPUTS)} inputs x {args.seeds} seeds)")
    return out


# --- part 2: IP chained with a Hebbian rule ------------------------------------------------------


def make_chain_run(variant: str, args):
    mu = args.chain_mu
    opt = optax.sgd(args.lr)
    lam = jnp.asarray(CHAIN_SPECTRUM, jnp.float32)

    def make_rule():
        hebb = credax.hebb(normalize=True)
        ip = credax.intrinsic_plasticity(mean=mu)
        return {
            "ip": ip,
            "hebb": hebb,
            "chain": credax.chain(hebb, ip),
        }[variant]

    def run(key):
        k_basis, k_net, k_data, k_eval = jax.random.split(key, 4)
        q, _ = jnp.linalg.qr(jax.random.normal(k_basis, (CHAIN_DIM, CHAIN_DIM)))

        def inputs(k, n):
            return (jax.random.normal(k, (n, CHAIN_DIM)) * jnp.sqrt(lam)) @ q.T

        net = logistic_unit(k_net, CHAIN_DIM)
        rule = make_rule()
        state = rule.init(key, net)
        x_eval = inputs(k_eval, args.n_eval)

        def measure(net):
            w = net.layers[0].weight[0]
            y = jax.vmap(net)(x_eval)[:, 0]
            cos = jnp.abs(w @ q[:, 0]) / jnp.linalg.norm(w)
            return {
                "angle": jnp.degrees(jnp.arccos(jnp.clip(cos, 0.0, 1.0))),
                "kl": kl_hist(y, mu, args.bins),
                "mean": jnp.mean(y),
                "weight_norm": jnp.linalg.norm(w),
                "bias": net.layers[0].bias[0],
            }

        def step(carry, k):
            net, state, opt_state = carry
            g, state = rule.update(net, state, inputs(k, args.batch))
            u, opt_state = opt.update(g, opt_state, net)
            return (optax.apply_updates(net, u), state, opt_state), None

        def block(carry, k):
            carry, _ = jax.lax.scan(step, carry, jax.random.split(k, args.chain_every))
            return carry, measure(carry[0])

        first = measure(net)
        (final, _, _), rec = jax.lax.scan(
            block,
            (net, state, opt.init(net)),
            jax.random.split(k_data, args.chain_steps // args.chain_every),
        )
        curves = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), first, rec)
        y1 = jax.vmap(final)(x_eval)[:, 0]
        return curves | {"hist_after": jnp.histogram(y1, bins=args.bins, range=(0.0, 1.0))[0]}

    return run


CHAIN_VARIANTS = {
    "ip": "IP alone",
    "hebb": "Hebb (normalised) alone",
    "chain": "chain(Hebb, IP)",
}


def chain_part(args, keys, log):
    out = {}
    log("")
    log(
        f"IP with Hebb, {CHAIN_DIM} Gaussian inputs (variances 4·0.5^i), μ = {args.chain_mu}, "
        f"{args.chain_steps} steps"
    )
    log(f"{'variant':34s} {'angle to v1 (deg)':>20s} {'KL':>18s} {'mean y':>7s} {'bias':>7s}")
    for variant, label in CHAIN_VARIANTS.items():
        t0 = time.perf_counter()
        c = jax.device_get(jax.jit(jax.vmap(make_chain_run(variant, args)))(keys))
        secs = time.perf_counter() - t0
        res = {
            "label": label,
            "seconds": secs,
            "angle_before_mean": mean_sd(c["angle"][:, 0])[0],
            "angle_after_mean": mean_sd(c["angle"][:, -1])[0],
            "angle_after_sd": mean_sd(c["angle"][:, -1])[1],
            "kl_before_mean": mean_sd(c["kl"][:, 0])[0],
            "kl_after_mean": mean_sd(c["kl"][:, -1])[0],
            "kl_after_sd": mean_sd(c["kl"][:, -1])[1],
            "output_mean_after": mean_sd(c["mean"][:, -1])[0],
            "bias_after_mean": mean_sd(c["bias"][:, -1])[0],
            "weight_norm_after_mean": mean_sd(c["weight_norm"][:, -1])[0],
            "hist_after_pooled": c["hist_after"].sum(0),
            "curves": {k: c[k] for k in ("angle", "kl", "mean", "weight_norm", "bias")},
        }
        out[variant] = res
        log(
            f"{label:34s} {res['angle_before_mean']:5.1f} -> {res['angle_after_mean']:5.2f} ± "
            f"{res['angle_after_sd']:4.2f} {res['kl_before_mean']:5.2f} -> "
            f"{res['kl_after_mean']:6.4f} {res['output_mean_after']:7.3f} "
            f"{res['bias_after_mean']:7.2f}  ({secs:.1f} s)"
        )
    return out


# --- plot ----------------------------------------------------------------------------------------


def pband(ax, x, ys, label, color=None):
    """The seed mean of ``ys (seed, len(x))`` with the 16th-84th percentile band (±1 sd for a
    normal spread; a mean - sd band would fall below zero on a log axis)."""
    ys = np.asarray(ys, np.float64)
    (line,) = ax.plot(x, ys.mean(0), label=label, color=color)
    lo, hi = np.percentile(ys, [16, 84], axis=0)
    ax.fill_between(x, lo, hi, alpha=0.2, color=line.get_color())


def plot(results, args, path):
    ip = results.get("ip", {})
    chain = results.get("chain")
    mus = args.mu
    rows = len(INPUTS) + (1 if chain else 0)
    cols = 2 + len(mus)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.3 * rows), squeeze=False)
    edges = np.linspace(0, 1, args.bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    width = 1.0 / args.bins
    fine = np.linspace(0, 1, 400)
    for r, kind in enumerate(INPUTS):
        ax = axes[r, 0]
        x = np.asarray(draw(kind, jax.random.key(3), (200_000,)))
        ax.hist(x, bins=80, density=True, color="0.5")
        ax.set(title=f"input: {kind} (mean 0, var 1)", xlabel="x", ylabel="density")
        for j, mu in enumerate(mus):
            ax = axes[r, 1 + j]
            res = ip.get(f"{kind}/{mu}")
            if not res:
                ax.set_axis_off()
                continue
            after = np.asarray(res["hist_after_pooled"], np.float64)
            after = after / after.sum() / width
            before = np.asarray(res["hist_before_pooled"], np.float64)
            before = before / before.sum() / width
            ax.bar(centres, after, width, alpha=0.6, color="C0", label="after IP")
            ax.stairs(before, edges, color="0.4", lw=1.2, label="before")
            dens = np.exp(-fine / mu) / mu / (1 - np.exp(-1 / mu))
            ax.plot(fine, dens, "k-", lw=1.2, label=f"exp(-y/{mu}), truncated")
            ax.set(
                xlabel="y",
                ylabel="density",
                ylim=(0, 1.05 * max(dens[0], after.max(), before.max())),
                title=f"μ = {mu}: KL {res['kl_before_mean']:.2f} → {res['kl_after_mean']:.3f} "
                f"(opt. {res['kl_at_optimum_mean']:.3f})",
            )
            ax.legend(fontsize=7)
        ax = axes[r, cols - 1]
        for mu in mus:
            res = ip.get(f"{kind}/{mu}")
            if res:
                kl = np.asarray(res["curves"]["kl"])
                steps = np.arange(kl.shape[1]) * args.every
                pband(ax, steps, kl, f"μ = {mu}")
                ax.axhline(res["kl_at_optimum_mean"], ls=":", lw=1, c=ax.lines[-1].get_color())
        fl = results.get("ip", {}).get(f"floor/{mus[0]}")
        if fl:
            ax.axhline(fl["kl_mean"], ls="--", c="k", lw=0.8, label="finite-sample floor")
        ax.set(yscale="log", xlabel="step", ylabel="KL (nats)", title=f"{kind}: KL over training")
        ax.legend(fontsize=7, title="··· optimum of J", title_fontsize=7)
    if chain:
        r = rows - 1
        steps = np.arange(np.asarray(chain["ip"]["curves"]["angle"]).shape[1]) * args.chain_every
        ax = axes[r, 0]
        for res in chain.values():
            band(ax, steps, res["curves"]["angle"], res["label"])
        ax.set(xlabel="step", ylabel="angle to v₁ (deg)", title="8 inputs: weight direction")
        ax.legend(fontsize=7)
        ax = axes[r, 1]
        for res in chain.values():
            pband(ax, steps, res["curves"]["kl"], res["label"])
        ax.set(yscale="log", xlabel="step", ylabel="KL (nats)", title=f"KL, μ = {args.chain_mu}")
        ax.legend(fontsize=7)
        ax = axes[r, 2]
        for res in chain.values():
            band(ax, steps, res["curves"]["mean"], res["label"])
        ax.axhline(args.chain_mu, ls=":", c="k", lw=0.8)
        ax.set(xlabel="step", ylabel="mean output", title="mean rate")
        ax.legend(fontsize=7)
        for ax in axes[r, 3:]:
            res = chain["chain"]
            h = np.asarray(res["hist_after_pooled"], np.float64)
            mu = args.chain_mu
            ax.bar(centres, h / h.sum() / width, width, alpha=0.6, label="chain, after")
            ax.plot(fine, np.exp(-fine / mu) / mu / (1 - np.exp(-1 / mu)), "k-", lw=1.2)
            ax.set(
                xlabel="y",
                ylabel="density",
                ylim=(0, 1.25 / mu),
                title=f"chain(Hebb, IP): KL {res['kl_after_mean']:.3f}",
            )
            ax.legend(fontsize=7)
    fig.suptitle(
        f"Intrinsic plasticity (Triesch 2005) with credax: one logistic unit, {args.seeds} seeds "
        "(histograms pooled over seeds; bands 16-84%)",
        fontsize=11,
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
    p.add_argument("--steps", type=int, default=None, help="default 5000 (quick 500)")
    p.add_argument("--every", type=int, default=50)
    p.add_argument("--batch", type=int, default=20)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--mu", default="0.1,0.2", help="target means")
    p.add_argument("--bins", type=int, default=20)
    p.add_argument("--n-eval", type=int, default=10000, help="inputs per seed for the histogram")
    p.add_argument("--no-chain", action="store_true", help="skip part 2")
    p.add_argument("--chain-mu", type=float, default=0.1)
    p.add_argument("--chain-steps", type=int, default=None, help="default 10000 (quick 1000)")
    p.add_argument("--chain-every", type=int, default=100)
    p.add_argument("--out", default=None, help="path without suffix (.json and .png)")
    args = p.parse_args(argv)
    args.seeds = args.seeds or (4 if args.quick else 32)
    args.steps = args.steps or (500 if args.quick else 5000)
    args.chain_steps = args.chain_steps or (1000 if args.quick else 10000)
    args.mu = [float(v) for v in args.mu.split(",")]
    if args.steps % args.every or args.chain_steps % args.chain_every:
        p.error("--every must divide --steps and --chain-every --chain-steps")
    if not all(0 < m < 1 for m in [*args.mu, args.chain_mu]):
        p.error("means must lie in (0, 1)")
    out = Path(
        args.out
        or (
            Path("runs/intrinsic_plasticity_quick")
            if args.quick
            else RESULTS / "intrinsic_plasticity"
        )
    )
    json_path, png_path = out.with_suffix(".json"), out.with_suffix(".png")
    config = {k: v for k, v in vars(args).items() if k != "out"} | {
        "unit": "credax.nets.mlp([1, 1], final_activation=sigmoid)",
        "init": "gain log-uniform [0.5, 2], bias uniform [-1, 1], per seed",
        "inputs": {
            "gaussian": "N(0, 1)",
            "uniform": "U(-sqrt 3, sqrt 3)",
            "bimodal": "±0.9 (p = 1/2) + N(0, 0.19)",
            "exponential": "Exp(1) - 1",
        },
        "kl": "sum_i p_i log(p_i/q_i); p_i = n_i/N over `bins` equal bins of [0, 1] (empty bins "
        "add 0); q_i = bin mass of the exponential of mean mu truncated to [0, 1] and normalised",
        "optimum": "argmin over (a, b) of J = -E[log a + log y + log(1-y)] + E[y]/mu, "
        "100000 inputs, 3000 full-batch Adam steps on (log a, b)",
        "chain_inputs": f"N(0, diag(4*0.5^i)) in a random orthonormal basis, dim {CHAIN_DIM}",
    }
    results = {}
    t_start = time.perf_counter()

    def save(complete=False):
        write_json(
            json_path,
            {
                "benchmark": "intrinsic_plasticity",
                "command": " ".join(["python benchmarks/intrinsic_plasticity.py", *argv]),
                "published": PUBLISHED,
                "config": config,
                "environment": environment()
                | {"credax_local_py_sha256": source_sha256("credax/_src/local.py")},
                "complete": complete,
                "seconds": time.perf_counter() - t_start,
                **summarise_curves(results),
            },
        )

    print(
        f"Intrinsic plasticity on one logistic unit, {args.seeds} seeds, {args.steps} steps, "
        f"lr {args.lr}, batch {args.batch} ({jax.default_backend()})"
    )
    keys = jax.random.split(jax.random.key(0), args.seeds)
    results["ip"] = ip_part(args, keys, print)
    save()
    if not args.no_chain:
        results["chain"] = chain_part(args, keys, print)
        save()
    print("")
    print(f"published: {PUBLISHED}")
    g = [results["ip"][f"{k}/{m}"] for k in INPUTS for m in args.mu]
    print(
        "ours: KL to the truncated exponential "
        f"{min(r['kl_before_mean'] for r in g):.2f}-{max(r['kl_before_mean'] for r in g):.2f} "
        f"before -> {min(r['kl_after_mean'] for r in g):.3f}-"
        f"{max(r['kl_after_mean'] for r in g):.3f} after, each within "
        f"{max(abs(r['kl_after_mean'] - r['kl_at_optimum_mean']) for r in g):.3f} of the "
        "optimum of the logistic family for that input"
    )
    plot(results, args, png_path)
    save(complete=True)
    print(f"total {time.perf_counter() - t_start:.0f} s; wrote {json_path} and {png_path}")


if __name__ == "__main__":
    main()
