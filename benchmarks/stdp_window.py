"""STDP windows: pair-based STDP measured through credax's rule against its formula and Bi & Poo's
data fit, and the window and pairing-frequency dependence that the Graupner-Brunel calcium
synapse produces, against the paper's simulations and Sjöström et al.'s data.

1. ``stdp`` through the rule. One ``credax.spiking.LIF`` neuron (current-based input, dt = 1
   ms, T = 301 steps) with 201 test inputs of weight 0.001 (too weak to make it fire) and one
   teacher input of weight 50 that makes it fire exactly once, at 150 ms; test input ``k``
   fires once, at ``150 - Δt_k`` ms, ``Δt_k = -100..100`` ms. One call of ``rule.update`` on
   this one example gives every test synapse's change, ``Δw(Δt_k) = -update``, compared with the
   formula ``F(Δt) = A₊ e^{-Δt/τ₊}`` (Δt > 0), ``-A₋ e^{Δt/τ₋}`` (Δt < 0), ``(A₊ - A₋)/2`` at
   Δt = 0 (credax's discrete-time convention), all-to-all and nearest-spike. The rule runs with
   the parameters of a common exponential fit to Bi & Poo (1998)'s data (relative change after
   60 pairings at 1 Hz): A₊ = 0.86, τ₊ = 19 ms, A₋ = 0.25, τ₋ = 34 ms.
2. ``graupner_brunel``'s synapse, DP parameters (the defaults: τ_Ca = 20 ms, C_pre = 1, C_post =
   2, θ_d = 1, θ_p = 1.3, γ_d = 200, γ_p = 321.808, σ = 2.8284, τ = 150 s, ρ* = 0.5, D = 13.7
   ms), integrated with ``dt`` = 0.5 ms (the delay rounds to 13.5 ms): 60 pre-post pairs at 1
   Hz at each ``Δt = t_post - t_pre`` in -100..100 ms (step 5), ``--synapses`` (1000) synapses
   starting DOWN (ρ = 0) and as many UP (ρ = 1), each with noise of its own (one array of
   synapses per Δt: a vmap over seeds would turn the skipping of calcium-free steps into a
   select and cost ~30x more). The paper's measure: ``U`` = the fraction of DOWN synapses
   ending above ρ*, ``D`` = the fraction of UP ones ending below; with β = 0.5 of the synapses
   DOWN at the start and ``b = w1/w0 = 5``, the change in synaptic strength is ``[β(1 - U) + (1
   - β) D + b (β U + (1 - β)(1 - D))] / (β + (1 - β) b)``.
3. The pairing-frequency dependence (the paper's fig. 4): 75 pairs at Δt = +10 and -10 ms at 0.1
   to 50 Hz, with the DP set and with Graupner & Brunel's fit to Sjöström et al. (2001)'s
   cortical-slice data ("cortical slices": τ_Ca = 22.6936 ms, C_pre = 0.5617539, C_post =
   1.23964, θ_d = 1, θ_p = 1.3, γ_d = 331.909, γ_p = 725.085, σ = 3.3501, τ = 346.3615 s, D =
   4.6098 ms, b = 5.40988), against Sjöström et al.'s measurements.

Published:
- Bi & Poo (1998), J. Neurosci. 18:10464: LTP for pre-before-post within ~20 ms, LTD for
  post-before-pre, none beyond ~±80 ms; the fit above is drawn.
- Graupner & Brunel (2012), PNAS 109:3991, fig. 2 (DP): the authors' own simulation of this
  protocol (1000 synapses per initial state and Δt, released with their code at
  github.com/mgraupe/CalciumBasedPlasticityModel) gives the changes in ``DP_PUBLISHED`` below:
  LTP peaking near +5..+10 ms (1.23), LTD deepest near -25 ms (0.72), ≈ 1 beyond ±80 ms.
- Sjöström, Turrigiano & Nelson (2001), Neuron 32:1149 (as in Graupner & Brunel's fig. 4):
  relative change (mean ± sem) at +10 / -10 ms: 0.1 Hz -0.04 ± 0.05 / -0.29 ± 0.08; 10 Hz
  0.14 ± 0.10 / -0.41 ± 0.11; 20 Hz 0.29 ± 0.14 / -0.34 ± 0.10; 40 Hz 0.53 ± 0.11 / 0.56 ±
  0.32; 50 Hz 0.56 ± 0.26 / 0.75 ± 0.19: at high frequency both orders potentiate.

    python benchmarks/stdp_window.py [--synapses 1000]
    python benchmarks/stdp_window.py --quick    # smoke test, into runs/stdp_window_quick
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
from common import RESULTS, environment, significant, source_sha256, write_json  # noqa: E402

from credax import spiking, stdp  # noqa: E402
from credax.spiking import graupner_brunel_synapse  # noqa: E402

BI_POO = {"a_plus": 0.86, "tau_plus": 19.0, "a_minus": 0.25, "tau_minus": 34.0}
CORTICAL = {
    "tau_ca": 22.6936,
    "c_pre": 0.5617539,
    "c_post": 1.23964,
    "theta_d": 1.0,
    "theta_p": 1.3,
    "gamma_d": 331.909,
    "gamma_p": 725.085,
    "sigma": 3.3501,
    "tau": 346361.5,
    "rho_star": 0.5,
    "delay": 4.6098,
}
B_DP, B_CORTICAL, BETA = 5.0, 5.40988, 0.5
# Graupner & Brunel's simulation of the DP curve (1000 runs per point): change in synaptic
# strength at Δt (ms).
DP_PUBLISHED = {
    -100: 0.981, -80: 0.963, -60: 0.935, -50: 0.891, -40: 0.827, -30: 0.767, -25: 0.719,
    -20: 0.760, -15: 0.800, -10: 0.885, -5: 0.941, 0: 0.994, 5: 1.237, 10: 1.227, 15: 1.178,
    20: 1.188, 30: 1.127, 40: 1.083, 50: 1.040, 60: 1.025, 80: 1.003, 100: 0.993,
}  # fmt: skip
# Sjöström et al. (2001): frequency (Hz) -> (change at +10 ms, sem, change at -10 ms, sem).
SJOSTROM = {
    0.1: (-0.04, 0.05, -0.29, 0.08),
    10.0: (0.14, 0.10, -0.41, 0.11),
    20.0: (0.29, 0.14, -0.34, 0.10),
    40.0: (0.53, 0.11, 0.56, 0.32),
    50.0: (0.56, 0.26, 0.75, 0.19),
}
PUBLISHED = {
    "bi_poo_fit": "a common exponential fit to Bi & Poo (1998), J. Neurosci. 18:10464: "
    "A+ = 0.86, tau+ = 19 ms, A- = 0.25, tau- = 34 ms (relative change after 60 pairings)",
    "graupner_brunel_dp": "Graupner & Brunel (2012), PNAS 109:3991, fig. 2 (DP): their own "
    "simulation, 1000 synapses per initial state and lag, released with their code",
    "graupner_brunel_dp_points": DP_PUBLISHED,
    "sjostrom_2001": "Sjöström, Turrigiano & Nelson (2001), Neuron 32:1149, as in Graupner & "
    "Brunel's fig. 4: frequency -> (change at +10 ms, sem, change at -10 ms, sem)",
    "sjostrom_2001_points": SJOSTROM,
}


def window(dt_ms, a_plus, tau_plus, a_minus, tau_minus):
    """``F(Δt)`` with credax's value at Δt = 0."""
    dt_ms = np.asarray(dt_ms, np.float64)
    return np.where(
        dt_ms > 0,
        a_plus * np.exp(-dt_ms / tau_plus),
        np.where(dt_ms < 0, -a_minus * np.exp(dt_ms / tau_minus), (a_plus - a_minus) / 2),
    )


def strength_change(u, d, b, beta=BETA):
    """Graupner & Brunel's change in synaptic strength of a population of bistable synapses:
    ``u`` DOWN→UP and ``d`` UP→DOWN transition probabilities, a fraction ``beta`` DOWN at the
    start, ``b = w1/w0``."""
    return (beta * (1 - u) + (1 - beta) * d + b * (beta * u + (1 - beta) * (1 - d))) / (
        beta + (1 - beta) * b
    )


# --- 1. stdp through the rule ---------------------------------------------------------------------


def stdp_part(log):
    lags = np.arange(-100, 101)
    steps, t_post, k = 301, 150, lags.size
    layer = spiking.LIF(steps, k + 1, 1, key=0, tau_syn=None)
    weights = jnp.concatenate([jnp.full((1, k), 0.001), jnp.full((1, 1), 50.0)], 1)
    layer = eqx.tree_at(lambda l: l.weight, layer, weights)
    x = np.zeros((1, steps, k + 1), np.float32)
    x[0, t_post - lags, np.arange(k)] = 1.0
    x[0, t_post, k] = 1.0
    x = jnp.asarray(x)
    fired = np.flatnonzero(np.asarray(jax.vmap(layer)(x))[0, :, 0]).tolist()
    formula = window(lags, **BI_POO)
    out = {"lags_ms": lags, "formula": formula, "post_spikes_ms": fired}
    for nearest in (False, True):
        rule = stdp(**BI_POO, bounds=None, nearest=nearest)
        g, _ = jax.jit(rule.update)(layer, rule.init(0, layer), x)
        measured = -np.asarray(g.weight[0, :k], np.float64)
        name = "nearest" if nearest else "all_to_all"
        out[name] = {
            "measured": significant(measured, 6),
            "max_abs_error": float(np.abs(measured - formula).max()),
        }
        log(
            f"  stdp ({name}): post spike at {fired} ms; Δw at -20/+10 ms "
            f"{measured[80]:+.4f}/{measured[110]:+.4f} (formula {formula[80]:+.4f}/"
            f"{formula[110]:+.4f}); max |measured - formula| over 201 lags "
            f"{out[name]['max_abs_error']:.1e}"
        )
    return out


# --- 2 and 3. Graupner-Brunel ---------------------------------------------------------------------


def make_protocol(n_pairs, frequency, synapses, dt, options):
    """``run(delta, key) -> final ρ`` of ``synapses`` DOWN then ``synapses`` UP synapses under
    ``n_pairs`` pre-post pairs at ``frequency`` Hz with lag ``delta`` (ms)."""
    period = 1000.0 / frequency
    first = 200.0
    pre = first + period * jnp.arange(n_pairs)
    duration = float(first + period * n_pairs)
    rho0 = jnp.concatenate([jnp.zeros(synapses), jnp.ones(synapses)])

    @jax.jit
    def run(delta, key):
        return graupner_brunel_synapse(
            pre, pre + delta, duration=duration, dt=dt, rho0=rho0, key=key, **options
        ).rho

    return run


def transitions(rho, synapses, rho_star=0.5):
    rho = np.asarray(rho)
    return float((rho[:synapses] > rho_star).mean()), float((rho[synapses:] < rho_star).mean())


def dp_window_part(args, log):
    lags = np.arange(-100, 101, args.lag_step)
    run = make_protocol(60, 1.0, args.synapses, args.dt, {})
    keys = jax.random.split(jax.random.key(1), lags.size)
    u, d = np.zeros(lags.size), np.zeros(lags.size)
    t0 = time.perf_counter()
    for i, (lag, key) in enumerate(zip(lags, keys)):
        u[i], d[i] = transitions(run(jnp.float32(lag), key), args.synapses)
    secs = time.perf_counter() - t0
    change = strength_change(u, d, B_DP)
    sem = np.sqrt(
        ((B_DP - 1) * BETA) ** 2 * u * (1 - u) / args.synapses
        + ((B_DP - 1) * (1 - BETA)) ** 2 * d * (1 - d) / args.synapses
    ) / (BETA + (1 - BETA) * B_DP)
    log(
        f"  Graupner-Brunel DP, 60 pairs at 1 Hz, {args.synapses} + {args.synapses} synapses "
        f"per lag, dt = {args.dt} ms ({secs:.0f} s):"
    )
    log(f"    {'Δt (ms)':>8s} {'U':>6s} {'D':>6s} {'ours':>14s} {'published':>10s}")
    for lag, ui, di, c, s in zip(lags, u, d, change, sem):
        pub = DP_PUBLISHED.get(int(lag))
        pub_s = f"{pub:10.3f}" if pub is not None else f"{'':10s}"
        log(f"    {int(lag):8d} {ui:6.3f} {di:6.3f} {c:8.3f} ± {s:.3f} {pub_s}")
    both = [int(v) for v in lags if int(v) in DP_PUBLISHED]
    ours = np.array([change[list(lags).index(v)] for v in both])
    pubs = np.array([DP_PUBLISHED[v] for v in both])
    peak, trough = int(lags[np.argmax(change)]), int(lags[np.argmin(change)])
    log(
        f"    peak {change.max():.3f} at {peak:+d} ms (published 1.237 at +5 ms), trough "
        f"{change.min():.3f} at {trough:+d} ms (published 0.719 at -25 ms); rms difference from "
        f"the published points {np.sqrt(np.mean((ours - pubs) ** 2)):.3f} over {len(both)} lags"
    )
    return {
        "seconds": secs,
        "lags_ms": lags,
        "up": u,
        "down": d,
        "change": change,
        "change_sem": sem,
        "peak_lag_ms": peak,
        "peak_change": float(change.max()),
        "trough_lag_ms": trough,
        "trough_change": float(change.min()),
        "rms_difference_from_published": float(np.sqrt(np.mean((ours - pubs) ** 2))),
        "lags_compared": both,
    }


def frequency_part(args, log):
    out = {}
    t0 = time.perf_counter()
    for name, options, b in (("dp", {}, B_DP), ("cortical_slices", CORTICAL, B_CORTICAL)):
        res = {"frequencies_hz": args.frequencies}
        for lag in (10.0, -10.0):
            changes = []
            for j, f in enumerate(args.frequencies):
                run = make_protocol(75, f, args.freq_synapses, args.dt, options)
                key = jax.random.fold_in(jax.random.key(2 if lag > 0 else 3), j)
                u, d = transitions(run(jnp.float32(lag), key), args.freq_synapses)
                changes.append(strength_change(u, d, b) - 1.0)
            res[f"change_at_{lag:+.0f}ms"] = changes
        out[name] = res
    secs = time.perf_counter() - t0
    log(
        f"  pairing frequency, 75 pairs at ±10 ms, {args.freq_synapses} + {args.freq_synapses} "
        f"synapses ({secs:.0f} s); relative change (ours DP / ours cortical-slices fit / "
        "Sjöström et al. 2001):"
    )
    for j, f in enumerate(args.frequencies):
        data = SJOSTROM.get(float(f))
        for lag in (10.0, -10.0):
            key = f"change_at_{lag:+.0f}ms"
            pub = ""
            if data is not None:
                m, s = (data[0], data[1]) if lag > 0 else (data[2], data[3])
                pub = f"{m:+.2f} ± {s:.2f}"
            log(
                f"    {f:5.1f} Hz {lag:+4.0f} ms: {out['dp'][key][j]:+.3f} / "
                f"{out['cortical_slices'][key][j]:+.3f} / {pub or '-'}"
            )
    for name in ("dp", "cortical_slices"):
        z = []
        for j, f in enumerate(args.frequencies):
            data = SJOSTROM.get(float(f))
            if data is not None:
                z.append((out[name]["change_at_+10ms"][j] - data[0]) / data[1])
                z.append((out[name]["change_at_-10ms"][j] - data[2]) / data[3])
        z = np.abs(np.asarray(z))
        out[name]["sjostrom_points"] = int(z.size)
        out[name]["sjostrom_within_1_sem"] = int((z <= 1).sum())
        out[name]["sjostrom_within_2_sem"] = int((z <= 2).sum())
        if z.size:
            log(
                f"    {name}: {int((z <= 1).sum())}/{z.size} of Sjöström et al.'s points within "
                f"1 sem, {int((z <= 2).sum())}/{z.size} within 2 sem"
            )
    out["seconds"] = secs
    return out


# --- plot -----------------------------------------------------------------------------------------


def plot(results, path):
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    s = results["stdp"]
    lags = np.asarray(s["lags_ms"])
    fine = np.linspace(-100, 100, 2001)
    ax = axes[0]
    for side, label in ((fine < 0, "Bi & Poo (1998) fit"), (fine > 0, None)):
        ax.plot(fine[side], window(fine[side], **BI_POO), color="0.6", lw=4, label=label)
    ax.plot(lags, s["all_to_all"]["measured"], ".", ms=4, color="C0", label="credax stdp (rule)")
    ax.axhline(0, color="0.8", lw=0.8)
    ax.axvline(0, color="0.8", lw=0.8)
    ax.set(
        xlabel="Δt = t_post - t_pre (ms)",
        ylabel="Δw (relative, per 60 pairings)",
        title="pair-based STDP through the rule",
    )
    ax.legend(frameon=False)
    g = results["graupner_brunel_window"]
    ax = axes[1]
    gl = np.asarray(g["lags_ms"])
    ax.fill_between(
        gl,
        np.asarray(g["change"]) - np.asarray(g["change_sem"]),
        np.asarray(g["change"]) + np.asarray(g["change_sem"]),
        color="C3",
        alpha=0.2,
    )
    ax.plot(gl, g["change"], color="C3", label="credax graupner_brunel (DP)")
    pub = sorted(DP_PUBLISHED.items())
    ax.plot([p[0] for p in pub], [p[1] for p in pub], "ks", ms=4, label="Graupner & Brunel sim.")
    ax.axhline(1, color="0.8", lw=0.8)
    ax.axvline(0, color="0.8", lw=0.8)
    ax.set(
        xlabel="Δt = t_post - t_pre (ms)",
        ylabel="change in synaptic strength",
        title="calcium model, 60 pairs at 1 Hz",
    )
    ax.legend(frameon=False, fontsize=8)
    fr = results["graupner_brunel_frequency"]
    ax = axes[2]
    freqs = np.asarray(fr["dp"]["frequencies_hz"])
    for name, style in (("dp", "--"), ("cortical_slices", "-")):
        for lag, color in ((10, "C0"), (-10, "C1")):
            ax.plot(
                freqs,
                fr[name][f"change_at_{lag:+d}ms"],
                style,
                color=color,
                marker="o",
                ms=3,
                label=f"ours {name.replace('_', ' ')} {lag:+d} ms",
            )
    sf = np.array(sorted(SJOSTROM))
    for col, lag, color in ((0, 10, "C0"), (2, -10, "C1")):
        m = np.array([SJOSTROM[f][col] for f in sf])
        e = np.array([SJOSTROM[f][col + 1] for f in sf])
        ax.errorbar(sf, m, e, fmt="s", color=color, mfc="white", label=f"Sjöström 2001 {lag:+d}")
    ax.axhline(0, color="0.8", lw=0.8)
    ax.set(
        xscale="log",
        xlabel="pairing frequency (Hz)",
        ylabel="relative change",
        title="75 pairs at ±10 ms",
    )
    ax.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --- main -----------------------------------------------------------------------------------------


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny run: a smoke test")
    p.add_argument("--synapses", type=int, default=None, help="per initial state (1000; quick 50)")
    p.add_argument(
        "--freq-synapses", type=int, default=None, help="per state, frequency part (500; quick 50)"
    )
    p.add_argument("--lag-step", type=int, default=None, help="ms between lags (5; quick 25)")
    p.add_argument("--dt", type=float, default=0.5, help="integration step (ms)")
    p.add_argument("--out", default=None, help="path without suffix (.json and .png)")
    args = p.parse_args(argv)
    args.synapses = args.synapses or (50 if args.quick else 1000)
    args.freq_synapses = args.freq_synapses or (50 if args.quick else 500)
    args.lag_step = args.lag_step or (25 if args.quick else 5)
    args.frequencies = (
        [1.0, 20.0, 50.0] if args.quick else [0.1, 1.0, 5.0, 10.0, 20.0, 30.0, 40.0, 50.0]
    )
    if min(args.synapses, args.freq_synapses, args.lag_step) < 1 or not 0 < args.dt < 20:
        p.error("counts must be >= 1 and 0 < dt < 20 ms")
    out = Path(
        args.out or (Path("runs/stdp_window_quick") if args.quick else RESULTS / "stdp_window")
    )
    json_path, png_path = out.with_suffix(".json"), out.with_suffix(".png")
    t_start = time.perf_counter()
    print(f"STDP windows on {jax.default_backend()}")
    results = {"stdp": stdp_part(print)}
    results["graupner_brunel_window"] = dp_window_part(args, print)
    results["graupner_brunel_frequency"] = frequency_part(args, print)
    plot(results, png_path)
    write_json(
        json_path,
        {
            "benchmark": "stdp_window",
            "command": " ".join(["python benchmarks/stdp_window.py", *argv]),
            "published": PUBLISHED,
            "config": {k: v for k, v in vars(args).items() if k != "out"}
            | {
                "bi_poo_parameters": BI_POO,
                "cortical_slices_parameters": CORTICAL,
                "b": {"dp": B_DP, "cortical_slices": B_CORTICAL},
                "beta": BETA,
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
