"""Song, Miller & Abbott (2000): additive STDP with slightly stronger depression makes a neuron's
input weights compete: they become bimodal, a correlated group of inputs wins, and the output
rate stabilises.

Setup. One ``credax.spiking.LIF`` neuron (τ_mem = 20 ms, exponential synaptic current τ_syn = 5
ms, threshold 1, reset to 0, dt = 1 ms) receives 1000 excitatory Poisson inputs at 15 Hz. Song
et al.'s conductance-based integrate-and-fire neuron (τ_m = 20 ms, τ_ex = 5 ms, threshold -54
mV, reset -60 mV, 200 inhibitory inputs at 10 Hz) is approximated by credax's current-based LIF
without the inhibitory inputs: a weight of ``g_max`` = 0.03 makes a postsynaptic potential
peaking at 0.5% of the threshold (theirs about 1% of the 16 mV from rest to threshold), and with
the weights uniform in ``[0, g_max]`` at the start the mean input holds the membrane near
threshold (initial rate about 20 Hz). ``credax.stdp`` (all-to-all) with Song et al.'s
parameters: ``A₊ = 0.005 g_max``, ``A₋/A₊ = 1.05``, ``τ₊ = τ₋ = 20`` ms, hard bounds ``[0,
g_max]``; the rule's updates go through ``optax.sgd(1.0)``. Time runs in chunks of T = 1000
steps (1 s, one example per update; the neuron and the STDP traces start every chunk afresh,
so pairs across the boundary, about 2% of them, are not counted), as a ``lax.scan`` over chunks,
``--seeds`` seeds by ``jax.vmap`` (each its own initial weights and inputs). Every ``--every``
chunks the output rate is measured (the rule's ``post_rate`` diagnostic on a fresh chunk) with
the weights' statistics.

Two input conditions:
1. uncorrelated: all 1000 inputs independent (Song et al.'s fig. 1), ``--uncorrelated-s``
   (2400) simulated seconds;
2. correlated group: inputs 0-199 share a common source (at each step a "mother" Poisson train at
   15 Hz fires, and each group input copies each of its spikes with probability c = 0.2, plus
   independent spikes at (1 - c)·15 Hz: every input still fires at 15 Hz, and two group inputs
   are correlated with coefficient about c), the other 800 independent; ``--correlated-s``
   (1200) seconds.

Measured at the end: the distribution of the weights (fraction below 0.1 ``g_max`` and above 0.9
``g_max``), the group's and the other inputs' mean weights, and the output rate over time.

Published (qualitative; Song, Miller & Abbott 2000, Nature Neuroscience 3:919-926):
- the weights become bimodal, pushed to 0 or to ``g_max`` (their fig. 1b);
- the output rate settles at a level set by the competition, largely independent of the input
  rate (their fig. 2);
- a group of correlated inputs is driven to ``g_max`` while the others are weakened (their
  fig. 3).

    python benchmarks/stdp_competition.py [--seeds 3]
    python benchmarks/stdp_competition.py --quick    # smoke test, into runs/stdp_competition_quick
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
from common import RESULTS, environment, significant, source_sha256, write_json  # noqa: E402

from credax import spiking, stdp  # noqa: E402

N_INPUTS, GROUP, STEPS, DT = 1000, 200, 1000, 1.0
PUBLISHED = {
    "paper": "Song, Miller & Abbott (2000), Competitive Hebbian learning through "
    "spike-timing-dependent synaptic plasticity, Nature Neuroscience 3:919-926",
    "bimodal": "fig. 1b: the equilibrium weights are bimodal, near 0 and near g_max",
    "rate": "fig. 2: the output rate settles, largely independent of the input rate",
    "correlated_group": "fig. 3: correlated inputs are driven to g_max, the others weakened",
    "note": "qualitative: the paper shows distributions and curves, not figures to match",
}


def inputs(key, rate_hz, corr):
    """One chunk ``(1, STEPS, N_INPUTS)`` of Poisson spikes at ``rate_hz``; with ``corr > 0``
    the first ``GROUP`` inputs copy each spike of a shared mother train with probability
    ``corr`` and fire independently at ``(1 - corr)`` times the rate."""
    k_mother, k_copy, k_own = jax.random.split(key, 3)
    p = rate_hz * DT / 1000.0
    own_p = jnp.concatenate(
        [jnp.full((GROUP,), (1.0 - corr) * p), jnp.full((N_INPUTS - GROUP,), p)]
    )
    spikes = jax.random.bernoulli(k_own, own_p, (STEPS, N_INPUTS))
    if corr > 0:
        mother = jax.random.bernoulli(k_mother, p, (STEPS, 1))
        copies = jax.random.bernoulli(k_copy, corr, (STEPS, GROUP)) & mother
        group = jnp.concatenate([copies, jnp.zeros((STEPS, N_INPUTS - GROUP), bool)], 1)
        spikes = spikes | group
    return spikes.astype(jnp.float32)[None]


def make_run(args, corr, chunks):
    g_max = args.g_max
    rule = stdp(
        a_plus=args.a_plus * g_max,
        a_minus=args.ratio * args.a_plus * g_max,
        tau_plus=20.0,
        tau_minus=20.0,
        bounds="additive",
        w_min=0.0,
        w_max=g_max,
    )
    opt = optax.sgd(1.0)
    records = chunks // args.every

    def measure(layer, state, key):
        w = layer.weight[0] / g_max
        rate = rule.diagnostics(layer, state, inputs(key, args.rate, corr))["post_rate"][0]
        return {
            "post_rate": rate,
            "group_mean": jnp.mean(w[:GROUP]),
            "rest_mean": jnp.mean(w[GROUP:]),
            "all_mean": jnp.mean(w),
            "near_zero": jnp.mean(w < 0.1),
            "near_max": jnp.mean(w > 0.9),
        }

    def run(key):
        k_net, k_weights, k_data = jax.random.split(key, 3)
        layer = spiking.LIF(STEPS, N_INPUTS, 1, key=k_net, tau_mem=20.0, tau_syn=5.0, dt=DT)
        w0 = jax.random.uniform(k_weights, (1, N_INPUTS), maxval=g_max)
        layer = eqx.tree_at(lambda l: l.weight, layer, w0)
        state = rule.init(k_net, layer)

        def chunk(carry, k):
            layer, opt_state = carry
            g, _ = rule.update(layer, state, inputs(k, args.rate, corr))
            u, opt_state = opt.update(g, opt_state, layer)
            return (eqx.apply_updates(layer, u), opt_state), None

        def block(carry, k):
            k_train, k_probe = jax.random.split(k)
            carry, _ = jax.lax.scan(chunk, carry, jax.random.split(k_train, args.every))
            return carry, measure(carry[0], state, k_probe)

        first = measure(layer, state, jax.random.fold_in(k_data, 1))
        (final, _), rec = jax.lax.scan(
            block, (layer, opt.init(layer)), jax.random.split(k_data, records)
        )
        curves = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), first, rec)
        return curves, final.weight[0] / g_max

    return run


def summarise(name, curves, weights, args, secs, log):
    """The JSON section of one condition; prints its lines."""
    w = np.asarray(weights, np.float64)  # (seeds, inputs), in units of g_max
    rate = np.asarray(curves["post_rate"], np.float64)  # (seeds, records)
    n = rate.shape[1]
    last = rate[:, -max(1, n // 5) :]  # the last 20% of the run
    half = rate[:, n // 2 :]
    near0, near1 = (w < 0.1).mean(1), (w > 0.9).mean(1)
    hist, edges = np.histogram(w.ravel(), bins=20, range=(0.0, 1.0))
    res = {
        "seconds": secs,
        "simulated_s": (n - 1) * args.every,
        "final_fraction_near_zero": near0,
        "final_fraction_near_max": near1,
        "final_fraction_between": 1.0 - near0 - near1,
        "final_histogram": hist,
        "histogram_edges_gmax": edges,
        "initial_rate_hz": rate[:, 0],
        "final_rate_hz_last20pct": last.mean(1),
        "rate_second_half_mean_hz": half.mean(1),
        "rate_second_half_sd_hz": half.std(1),
        "final_weights_seed0": significant(w[0], 4),
        "curves": summarise_curves(curves),
    }
    log(
        f"  {name}: {args.seeds} seeds x {res['simulated_s']} s simulated ({secs:.0f} s): "
        f"weights < 0.1 g_max {near0.mean():.1%} ± {near0.std():.1%}, > 0.9 g_max "
        f"{near1.mean():.1%} ± {near1.std():.1%}, between {1 - near0.mean() - near1.mean():.1%}"
    )
    log(
        f"    output rate {rate[:, 0].mean():.1f} Hz at the start -> {last.mean():.1f} Hz "
        f"(last 20%; second half {half.mean():.1f} ± {half.std(1).mean():.1f} Hz over time)"
    )
    if "group" in name:
        g, r = w[:, :GROUP].mean(1), w[:, GROUP:].mean(1)
        res["final_group_mean_gmax"], res["final_rest_mean_gmax"] = g, r
        res["final_group_near_max"] = (w[:, :GROUP] > 0.9).mean(1)
        res["final_rest_near_zero"] = (w[:, GROUP:] < 0.1).mean(1)
        top, bottom = res["final_group_near_max"].mean(), res["final_rest_near_zero"].mean()
        log(
            f"    correlated group mean weight {g.mean():.3f} g_max ({top:.1%} above 0.9 g_max), "
            f"the other inputs {r.mean():.3f} g_max ({bottom:.1%} below 0.1 g_max)"
        )
    return res


def plot(results, args, path):
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    ax = axes[0]
    bins = np.linspace(0, 1, 21)
    un = np.asarray(results["uncorrelated"]["final_weights_all"]).ravel()
    co = np.asarray(results["correlated_group"]["final_weights_all"])
    ax.hist(un, bins, alpha=0.5, label="uncorrelated inputs", color="C0", density=True)
    ax.hist(co[:, GROUP:].ravel(), bins, histtype="step", lw=2, color="C1", density=True,
            label="correlated run: other inputs")  # fmt: skip
    ax.hist(co[:, :GROUP].ravel(), bins, histtype="step", lw=2, color="C3", density=True,
            label="correlated run: group (c = 0.2)")  # fmt: skip
    ax.set(xlabel="final weight / g_max", ylabel="density", title="weights at the end")
    ax.legend(frameon=False, fontsize=8)
    ax = axes[1]
    for name, key, color, label in (
        ("uncorrelated", "all_mean", "C0", "uncorrelated: all"),
        ("correlated_group", "group_mean", "C3", "correlated: group"),
        ("correlated_group", "rest_mean", "C1", "correlated: others"),
    ):
        c = np.asarray(results[name]["curves"][key]["mean"])
        t = np.arange(c.size) * args.every
        ax.plot(t, c, color=color, label=label)
    ax.set(xlabel="simulated time (s)", ylabel="mean weight / g_max", title="competition")
    ax.legend(frameon=False, fontsize=8)
    ax = axes[2]
    for name, color in (("uncorrelated", "C0"), ("correlated_group", "C3")):
        c = results[name]["curves"]["post_rate"]
        m, lo, hi = (np.asarray(c[k]) for k in ("mean", "p16", "p84"))
        t = np.arange(m.size) * args.every
        ax.plot(t, m, color=color, label=name.replace("_", " "))
        ax.fill_between(t, lo, hi, color=color, alpha=0.2)
    ax.set(xlabel="simulated time (s)", ylabel="output rate (Hz)", title="output rate")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def summarise_curves(curves):
    out = {}
    for k, v in curves.items():
        v = np.asarray(v, np.float64)
        out[k] = {
            "mean": significant(v.mean(0)),
            "sd": significant(v.std(0)),
            "p16": significant(np.percentile(v, 16, 0)),
            "p84": significant(np.percentile(v, 84, 0)),
        }
    return out


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny run: a smoke test")
    p.add_argument("--seeds", type=int, default=None, help="default 3 (quick 2)")
    p.add_argument("--uncorrelated-s", type=int, default=None, help="default 2400 (quick 40)")
    p.add_argument("--correlated-s", type=int, default=None, help="default 1200 (quick 40)")
    p.add_argument("--every", type=int, default=None, help="seconds between records (20; quick 10)")
    p.add_argument("--rate", type=float, default=15.0, help="input rate (Hz)")
    p.add_argument("--corr", type=float, default=0.2, help="the group's correlation c")
    p.add_argument("--g-max", type=float, default=0.03)
    p.add_argument("--a-plus", type=float, default=0.005, help="A+ in units of g_max")
    p.add_argument("--ratio", type=float, default=1.05, help="A- / A+")
    p.add_argument("--out", default=None, help="path without suffix (.json and .png)")
    args = p.parse_args(argv)
    args.seeds = args.seeds or (2 if args.quick else 3)
    args.uncorrelated_s = args.uncorrelated_s or (40 if args.quick else 2400)
    args.correlated_s = args.correlated_s or (40 if args.quick else 1200)
    args.every = args.every or (10 if args.quick else 20)
    if args.uncorrelated_s % args.every or args.correlated_s % args.every:
        p.error("--every must divide --uncorrelated-s and --correlated-s")
    if min(args.seeds, args.every) < 1 or not 0 <= args.corr <= 1:
        p.error("counts must be >= 1 and 0 <= corr <= 1")
    out = Path(
        args.out
        or (Path("runs/stdp_competition_quick") if args.quick else RESULTS / "stdp_competition")
    )
    json_path, png_path = out.with_suffix(".json"), out.with_suffix(".png")
    t_start = time.perf_counter()
    print(
        f"Song, Miller & Abbott (2000) on {jax.default_backend()}: {N_INPUTS} inputs at "
        f"{args.rate:g} Hz, A+ = {args.a_plus} g_max, A-/A+ = {args.ratio}"
    )
    results = {}
    for name, corr, seconds in (
        ("uncorrelated", 0.0, args.uncorrelated_s),
        ("correlated_group", args.corr, args.correlated_s),
    ):
        run = make_run(args, corr, seconds)
        keys = jax.random.split(jax.random.key(0 if corr == 0 else 1), args.seeds)
        t0 = time.perf_counter()
        curves, weights = jax.device_get(jax.jit(jax.vmap(run))(keys))
        res = summarise(name, curves, weights, args, time.perf_counter() - t0, print)
        res["final_weights_all"] = significant(weights, 4)
        results[name] = res
    plot(results, args, png_path)
    for r in results.values():
        del r["final_weights_all"]
    write_json(
        json_path,
        {
            "benchmark": "stdp_competition",
            "command": " ".join(["python benchmarks/stdp_competition.py", *argv]),
            "published": PUBLISHED,
            "config": {k: v for k, v in vars(args).items() if k != "out"}
            | {
                "inputs": N_INPUTS,
                "group": GROUP,
                "neuron": "credax.spiking.LIF, tau_mem 20 ms, tau_syn 5 ms, threshold 1, "
                "reset to 0, dt 1 ms, no inhibitory inputs",
                "chunk_steps": STEPS,
                "initial_weights": "uniform in [0, g_max]",
            },
            "environment": environment()
            | {"credax_stdp_py_sha256": source_sha256("credax/_src/spiking/_stdp.py")},
            "seconds": time.perf_counter() - t_start,
            **results,
        },
    )
    print(f"total {time.perf_counter() - t_start:.0f} s; wrote {json_path} and {png_path}")


if __name__ == "__main__":
    main()
