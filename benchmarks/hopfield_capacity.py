"""Storage capacity of the classic Hopfield network (Hopfield 1982) against load, its critical
load and finite-size trend, and the modern dense network (Ramsauer et al. 2020) far past it.

Part 1, classic capacity. ``N`` binary units, ``P = round(α N)`` random ``±1`` patterns (each
bit ±1 with probability ½), Hebbian weights ``W = (1/N) Σ ξξᵀ`` with a zero diagonal
(``credax.hopfield.store``). The cue is a stored pattern itself, unchanged: the question is
whether the pattern sits at (or next to) an attractor, which is what the critical load
concerns. The network then runs the asynchronous dynamics (``credax.hopfield.recall``, one sweep
= every unit once, in a fresh random order each sweep) until a sweep changes no unit (a fixed
point) or ``--max-sweeps`` sweeps (default 50). The runs of one pattern set share the update
order of each sweep (one key per set and sweep), so a unit's row of ``W`` is read once for all of
them: 3-6x faster on CPU than an order per run, at the price of runs of a set being slightly
more alike (the bootstrap below resamples whole sets). Measured per (N, α), over ``S`` pattern
sets with ``min(C, P)`` distinct cues each (the first stored patterns): the final overlap with
the cued pattern ``m = ξ·x/N`` (``credax.hopfield.overlap``), its mean over cues and sets; the
retrieved fraction, cues that end with fewer than 1% of bits wrong (``m > 0.98``; at N = 100 that
means no bit wrong); the fraction with ``m ≥ 0.9``; the sweeps that changed the state; cues not
converged within the cap; and, as a check of the dynamics, the largest energy change of any run
(``credax.hopfield.energy``; asynchronous updates never raise it, so it should be ≤ 0 up to
float32 rounding). For comparison the synchronous dynamics (``x ← sign(W x)`` for
``--sync-steps`` steps, which may end in a two-cycle) run from the same cues. The patterns of the
α's at one N are nested (the first P of one draw of ``P_max`` per set: common random numbers, so
the curves against α are smooth) and every (N, α) is one compiled program per N (``P`` enters as
a mask on the patterns, so ``store`` sums exactly the first P), ``jax.vmap`` over sets and cues,
a ``lax.while_loop`` over sweeps.

The critical load α_c(N) is read off by linear interpolation in α between the two grid points
where a curve first falls below a threshold (α = P/N as realised after rounding), three ways:

- ``mean_m<0.9`` (the headline): the mean final overlap falls below 0.9;
- ``ret<0.5``: the retrieved fraction (< 1% bits wrong) falls below ½;
- ``m0.9<0.5``: the fraction of cues ending with ``m ≥ 0.9`` falls below ½.

At large N the retrieval state just below α_c has m ≈ 0.967 (1.6% bits wrong, Amit et al. 1985),
so ``ret<0.5`` tends to a load somewhat below 0.138, while the other two cross inside the jump of
m at α_c. The finite-size trend is fitted by least squares over N as ``α_c(N) = α_∞ + a/√N``
(two parameters, the headline α_∞) and as ``α_∞ + a N^(-b)`` (three parameters: ``b`` on a grid
in [0.1, 3], ``α_∞, a`` by least squares at each ``b``; with five sizes it is poorly
determined). A third estimate needs no threshold: the α where the retrieved-fraction curves of
two consecutive sizes cross (below it the larger network retrieves more, above it less; the
finite-size-scaling crossing point). 95% intervals: bootstrap over pattern sets (at each N the
sets are resampled, the same resample for every α, and the crossings and fits redone).

Near and above α_c the runs that leave the pattern do so slowly: in a trial at N = 2000, α = 0.15
(256 runs, 100 sweeps) the fractions retrieved and with m ≥ 0.9 were settled after ~20 sweeps,
while the mean overlap still fell from 0.797 after 30 sweeps to 0.773 after 50 and 0.769 after
100. With the default cap of 50 the mean overlap above α_c is therefore slightly high at the
largest N (the runs not converged are counted in the table and the JSON); the fraction-based
estimates are not affected. The synchronous comparison runs a fixed ``--sync-steps`` (20) and so
relaxes less far above α_c than the asynchronous runs.

Part 2, the modern network past capacity. ``N = --modern-n`` (default 100) and loads ``P/N`` from
0.1 to 100 (``P`` up to 10⁴ random ±1 patterns). The cue is a stored pattern with exactly
``round(--modern-flip · N)`` bits flipped (default 15%, at random positions). The modern network
makes one update ``ξ ← Xᵀ softmax(β X ξ)`` (``credax.hopfield.modern_recall``, ``steps=1``) at
``β = 1`` (the headline: ``β X ξ`` is then the number of agreeing minus disagreeing bits) and at
``β = 1/√N`` (attention's scaling). It retrieves when the sign of the result equals the pattern in
every bit (``exact``), and, a stricter reading, when the raw output's overlap with the pattern is
≥ 0.99 (``m≥0.99``, i.e. softmax puts nearly all its weight on that pattern). Beside it the
classic network stores the same patterns and runs asynchronously from the same cues to a fixed
point (cap ``--max-sweeps``); retrieved: every bit right (``exact``) or < 1% wrong.

Published: the classic network's capacity is α_c ≈ 0.138 (Amit, Gutfreund & Sompolinsky 1985,
Phys. Rev. Lett. 55:1530; replica-symmetric theory, N → ∞, with m ≈ 0.967 at α_c); Hopfield
(1982, PNAS 79:2554) found about 0.15 N in simulations with N = 30 and 100 (with some errors);
paper 004 of credax's sources: "~0.14N". At finite N, simulations find a higher apparent
capacity that approaches 0.138 slowly. Ramsauer et al. (2020, arXiv:2008.02217, ICLR 2021):
the modern network retrieves with one update and stores a number of patterns exponential in N
(their Theorem 3); they give no table for random ±1 patterns, so part 2 is compared with the
classic network only.

Results are written to the JSON after every cell (one (N, α), or one modern load); a rerun with
the same configuration reuses the finished cells (``--fresh`` ignores them). Wall times of each
part and of the whole run are printed and saved.

    python benchmarks/hopfield_capacity.py                      # full run, ~10-15 min on 2 cores
    python benchmarks/hopfield_capacity.py --n 100,200,500 --sets 32,32,16 --cues 64,64,64
    python benchmarks/hopfield_capacity.py --quick              # smoke test, runs/..._quick
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from common import RESULTS, environment, write_json  # noqa: E402

import credax  # noqa: E402

H = credax.hopfield
ALPHA_C = 0.138
PUBLISHED = {
    "classic_alpha_c": ALPHA_C,
    "classic_source": "Amit, Gutfreund & Sompolinsky (1985), Storing infinite numbers of "
    "patterns in a spin-glass model of neural networks, Phys. Rev. Lett. 55:1530 (N → ∞, "
    "m ≈ 0.967 at α_c)",
    "classic_hopfield_1982": "about 0.15 N (Hopfield 1982, PNAS 79:2554, simulations at N = 30 "
    "and 100); paper 004: '~0.14N'",
    "modern_source": "Ramsauer et al. (2020), Hopfield networks is all you need, "
    "arXiv:2008.02217: one-step retrieval, capacity exponential in N (Theorem 3); no figure for "
    "random ±1 patterns",
}
DEFS = {
    "mean_m<0.9": "mean final overlap falls below 0.9",
    "ret<0.5": "fraction retrieved with < 1% bits wrong falls below 1/2",
    "m0.9<0.5": "fraction with final overlap >= 0.9 falls below 1/2",
}
HEADLINE = "mean_m<0.9"
ALPHAS = "0.02,0.04,0.06,0.08,0.10,0.11,0.12,0.13,0.14,0.15,0.16,0.17,0.18,0.20,0.22,0.25"
MODERN_LOADS = "0.1,0.14,0.2,0.5,1,2,10,100"
HIST_BINS = np.linspace(-1.0, 1.0, 41)


def _ints(s: str) -> list[int]:
    return [int(v) for v in s.split(",")]


def _floats(s: str) -> list[float]:
    return [float(v) for v in s.split(",")]


def async_to_fixed_point(w, x, keys, max_sweeps: int):
    """Asynchronous sweeps (``recall(..., steps=1)``, key ``fold_in(key, sweep)``) of a batch of
    networks until no run changes in a sweep or ``max_sweeps``.

    ``w (S, N, N)``, ``x (S, C, N)``, ``keys (S,)``: the ``C`` runs of a network share its
    update order (one key per network and sweep), so each unit's row of ``W`` is read once for
    all of them. A run whose sweep changed nothing is at a fixed point and later sweeps leave it
    there, so the batch runs until its slowest member has converged. Returns the states, whether
    the last sweep changed each run (not converged) and the number of sweeps that changed it.
    """
    one = lambda w, x, k: H.recall(w, x, key=k, steps=1)
    sweep = jax.vmap(jax.vmap(one, in_axes=(None, 0, None)))
    fold = jax.vmap(jax.random.fold_in, in_axes=(0, None))

    def cond(c):
        _, changed, t, _ = c
        return (t < max_sweeps) & jnp.any(changed)

    def body(c):
        x, _, t, moved = c
        x_new = sweep(w, x, fold(keys, t))
        changed = jnp.any(x_new != x, axis=-1)
        return x_new, changed, t + 1, moved + changed

    changed = jnp.ones(x.shape[:-1], bool)
    moved = jnp.zeros(x.shape[:-1], jnp.int32)
    x, changed, _, moved = jax.lax.while_loop(cond, body, (x, changed, jnp.int32(0), moved))
    return x, changed, moved


def own_overlap(pattern, state):
    """``m`` of a state with the one pattern it was cued from (``credax.hopfield.overlap``)."""
    return H.overlap(pattern[None], state)[0]


def draw_sets(set_keys, p_max: int, n: int):
    """``P_max`` random ±1 patterns per set ``(S, P_max, N)`` and a key per set for the rest."""

    def one(k):
        kp, kr = jax.random.split(k)
        return jax.random.rademacher(kp, (p_max, n), jnp.float32), kr

    return jax.vmap(one)(set_keys)


def flip_bits(x, key, n_flip: int):
    """``x`` with exactly ``n_flip`` of its bits, at random positions, flipped."""
    if n_flip == 0:
        return x
    idx = jax.random.permutation(key, x.shape[-1])[:n_flip]
    return x.at[idx].multiply(-1.0)


def make_classic(n: int, p_max: int, n_cues: int, max_sweeps: int, sync_steps: int):
    """One program per N: ``run(set_keys (S,), p) -> dict`` of per-cue results ``(S, C)``.

    The first ``p`` (traced) of each set's ``p_max`` patterns are stored; cue ``j`` is pattern
    ``j mod p`` itself.
    """

    def run(set_keys, p):
        xi, rest = draw_sets(set_keys, p_max, n)
        keep = (jnp.arange(p_max) < p).astype(jnp.float32)
        w = jax.vmap(H.store)(xi * keep[:, None])  # rows >= p are zero: W = (1/N) Σ_{μ<p}
        cue = xi[:, jnp.arange(n_cues) % p]  # (S, C, N)
        x, changed, moved = async_to_fixed_point(w, cue, rest, max_sweeps)
        per_cue = lambda f: jax.vmap(jax.vmap(f, in_axes=(None, 0)))
        sync = lambda w, c: H.recall(w, c, steps=sync_steps, asynchronous=False)
        xs = per_cue(sync)(w, cue)
        m = jax.vmap(jax.vmap(own_overlap))
        return {
            "m": m(cue, x),
            "m_sync": m(cue, xs),
            "errors": jnp.sum(x != cue, axis=-1),
            "not_converged": changed,
            "sweeps_moved": moved,
            "energy_rise": per_cue(H.energy)(w, x) - per_cue(H.energy)(w, cue),
        }

    return jax.jit(run)


def crossing(alphas, ys, threshold: float) -> float:
    """The α where ``ys`` first falls below ``threshold``, by linear interpolation between the
    grid points either side (NaN if it never does, or is below at the first point)."""
    ys = np.asarray(ys, np.float64)
    below = np.nonzero(ys < threshold)[0]
    if below.size == 0 or below[0] == 0:
        return float("nan")
    k = below[0]
    a0, a1, y0, y1 = alphas[k - 1], alphas[k], ys[k - 1], ys[k]
    return float(a0 + (y0 - threshold) * (a1 - a0) / (y0 - y1))


def curves(cell_list, idx=None) -> dict[str, np.ndarray]:
    """Per-α curves from per-set means ``(S,)`` of the cells, over sets ``idx`` (or all)."""
    out = {}
    for name in ("mean_m", "ret", "m09"):
        per_set = np.stack([np.asarray(c["per_set"][name]) for c in cell_list])  # (A, S)
        out[name] = per_set.mean(1) if idx is None else per_set[:, idx].mean(-1)
    return out


def alpha_cs(alphas, cv) -> dict[str, float]:
    return {
        "mean_m<0.9": crossing(alphas, cv["mean_m"], 0.9),
        "ret<0.5": crossing(alphas, cv["ret"], 0.5),
        "m0.9<0.5": crossing(alphas, cv["m09"], 0.5),
    }


B_GRID = np.linspace(0.1, 3.0, 291)


def fit_sqrt(ns, acs) -> tuple[float, float]:
    """``α_c = α_∞ + a/√N`` by least squares: ``(α_∞, a)``."""
    x = np.stack([np.ones(len(ns)), 1 / np.sqrt(ns)], 1)
    coef = np.linalg.lstsq(x, acs, rcond=None)[0]
    return float(coef[0]), float(coef[1])


def fit_power(ns, acs) -> tuple[float, float, float]:
    """``α_c = α_∞ + a N^(-b)``: ``b`` on a grid, ``(α_∞, a)`` by least squares at each."""
    best = (np.inf, np.nan, np.nan, np.nan)
    for b in B_GRID:
        x = np.stack([np.ones(len(ns)), np.asarray(ns, float) ** -b], 1)
        coef, *_ = np.linalg.lstsq(x, acs, rcond=None)
        rss = float(np.sum((x @ coef - acs) ** 2))
        if rss < best[0]:
            best = (rss, float(coef[0]), float(coef[1]), float(b))
    return best[1], best[2], best[3]


def ci(values) -> list[float] | None:
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    return [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] if v.size else None


def size_crossing(xa, ya, xb, yb) -> float:
    """The α where the retrieved-fraction curves of two sizes cross: the smaller network
    retrieves less below it and more above it (the last such change of sign; NaN if none)."""
    grid = np.linspace(0.02, 0.3, 5601)
    diff = np.interp(grid, xa, ya) - np.interp(grid, xb, yb)
    neg = np.nonzero(diff < 0)[0]
    if neg.size == 0 or neg[-1] == grid.size - 1 or np.max(diff[neg[-1] + 1 :]) <= 0:
        return float("nan")
    k = neg[-1]
    return float(grid[k] + (grid[k + 1] - grid[k]) * -diff[k] / (diff[k + 1] - diff[k]))


def analyse(cells: dict, ns, alphas_by_n, n_boot: int, seed: int = 0) -> dict:
    """α_c per N and definition, the two finite-size fits, bootstrap CIs over pattern sets."""
    rng = np.random.default_rng(seed)
    point, boot, ret = {}, {}, {}
    for n in ns:
        cl = [cells[f"{n}/{a}"] for a in alphas_by_n[n]]
        al = [c["alpha"] for c in cl]
        point[n] = alpha_cs(al, curves(cl))
        s = len(cl[0]["per_set"]["mean_m"])
        cvs = [curves(cl, rng.integers(0, s, s)) for _ in range(n_boot)]
        reps = [alpha_cs(al, cv) for cv in cvs]
        boot[n] = {d: np.array([r[d] for r in reps]) for d in DEFS}
        ret[n] = (np.asarray(al), curves(cl)["ret"], [cv["ret"] for cv in cvs])
    out = {"alpha_c": {}, "fits": {}, "size_crossings_retrieved": {}}
    for a, b in zip(ns[:-1], ns[1:]):
        (xa, ya, ba), (xb, yb, bb) = ret[a], ret[b]
        bs = [size_crossing(xa, ra, xb, rb) for ra, rb in zip(ba, bb)]
        out["size_crossings_retrieved"][f"{a}/{b}"] = {
            "value": size_crossing(xa, ya, xb, yb),
            "ci95": ci(bs),
            "bootstrap_nan_fraction": float(np.mean(~np.isfinite(bs))),
        }
    for d in DEFS:
        out["alpha_c"][d] = {
            str(n): {
                "value": point[n][d],
                "ci95": ci(boot[n][d]),
                "bootstrap_nan_fraction": float(np.mean(~np.isfinite(boot[n][d]))),
            }
            for n in ns
        }
        ok = [n for n in ns if np.isfinite(point[n][d])]
        fits = {"sizes_used": ok}
        if len(ok) >= 2:
            y = np.array([point[n][d] for n in ok])
            a_inf, a = fit_sqrt(ok, y)
            bs = np.array([[boot[n][d][i] for n in ok] for i in range(n_boot)])
            good = np.all(np.isfinite(bs), axis=1)
            fb = np.array([fit_sqrt(ok, r) for r in bs[good]]).reshape(-1, 2)
            fits["sqrt"] = {
                "form": "alpha_c(N) = alpha_inf + a / sqrt(N)",
                "alpha_inf": a_inf,
                "a": a,
                "alpha_inf_ci95": ci(fb[:, 0]),
                "bootstrap_resamples_used": int(good.sum()),
                "rms_residual": float(np.sqrt(np.mean((a_inf + a / np.sqrt(ok) - y) ** 2))),
            }
            if len(ok) >= 3:
                a_inf, a, b = fit_power(ok, y)
                fp = np.array([fit_power(ok, r) for r in bs[good][: min(200, good.sum())]])
                fp = fp.reshape(-1, 3)
                fits["power"] = {
                    "form": "alpha_c(N) = alpha_inf + a * N^(-b), b on a grid in [0.1, 3]",
                    "alpha_inf": a_inf,
                    "a": a,
                    "b": b,
                    "b_at_grid_edge": bool(b in (B_GRID[0], B_GRID[-1])),
                    "alpha_inf_ci95": ci(fp[:, 0]),
                    "b_ci95": ci(fp[:, 2]),
                    "bootstrap_resamples_used": int(fp.shape[0]),
                    "rms_residual": float(
                        np.sqrt(np.mean((a_inf + a * np.asarray(ok, float) ** -b - y) ** 2))
                    ),
                }
        out["fits"][d] = fits
    return out


def make_modern(n: int, p_max: int, n_cues: int, n_flip: int):
    """Patterns and flipped-bit cues for the modern comparison: ``(xi (S, P_max, N), target
    (S, C, N), cue (S, C, N))`` for a load ``p`` (cue ``j`` is pattern ``j mod p``)."""

    def draw(set_keys, p):
        xi, rest = draw_sets(set_keys, p_max, n)
        idx = jnp.arange(n_cues) % p
        target = xi[:, idx]
        fk = jax.vmap(lambda k: jax.random.split(jax.random.fold_in(k, 1), n_cues))(rest)
        cue = jax.vmap(jax.vmap(lambda x, k: flip_bits(x, k, n_flip)))(target, fk)
        return xi, target, cue, jax.vmap(jax.random.fold_in, in_axes=(0, None))(rest, 2)

    return jax.jit(draw)


def modern_cell(xi, target, cue, p: int, beta: float):
    """One update of the modern network from every cue: overlap of the raw output and whether
    its sign is the pattern in every bit."""

    @jax.jit
    def run(xi, target, cue):
        x = xi[:, :p]
        out = jax.vmap(
            jax.vmap(lambda x, c: H.modern_recall(x, c, beta=beta, steps=1), in_axes=(None, 0))
        )(x, cue)
        m = jax.vmap(jax.vmap(own_overlap))(target, out)
        exact = jnp.all(jnp.sign(out) == target, axis=-1)
        return m, exact

    return run(xi, target, cue)


def make_classic_same(n: int, p_max: int, max_sweeps: int):
    """The classic network on the modern part's patterns and cues (first ``p`` stored)."""

    @jax.jit
    def run(xi, target, cue, order_keys, p):
        keep = (jnp.arange(p_max) < p).astype(jnp.float32)
        w = jax.vmap(H.store)(xi * keep[:, None])
        x, changed, moved = async_to_fixed_point(w, cue, order_keys, max_sweeps)
        m = jax.vmap(jax.vmap(own_overlap))(target, x)
        return m, jnp.sum(x != target, axis=-1), changed

    return run


def summarise_cell(r: dict, n: int, p: int) -> dict:
    """Statistics over sets and distinct cues: with ``P < C`` the cues past the first ``P``
    repeat a pattern with the same update order, i.e. repeat a run, and are left out."""
    r = {k: np.asarray(v)[:, : min(p, np.shape(v)[1])] for k, v in r.items()}
    m = np.asarray(r["m"], np.float64)
    errors = np.asarray(r["errors"])
    ret = errors < 0.01 * n
    ms = np.asarray(r["m_sync"], np.float64)
    return {
        "mean_m": float(m.mean()),
        "retrieved": float(ret.mean()),
        "exact": float(np.mean(errors == 0)),
        "frac_m_ge_0.9": float(np.mean(m >= 0.9)),
        "mean_m_sync": float(ms.mean()),
        "retrieved_sync": float(np.mean(ms > 1 - 2 * 0.01)),
        "mean_sweeps_moved": float(np.mean(r["sweeps_moved"])),
        "max_sweeps_moved": int(np.max(r["sweeps_moved"])),
        "not_converged": int(np.sum(r["not_converged"])),
        "max_energy_rise": float(np.max(r["energy_rise"])),
        "per_set": {
            "mean_m": m.mean(1),
            "ret": ret.mean(1),
            "m09": (m >= 0.9).mean(1),
            "mean_m_sync": ms.mean(1),
        },
        "hist_m": np.histogram(m, HIST_BINS)[0],
    }


def plot(cells, modern, an, ns, alphas_by_n, path: Path, cfg: dict) -> None:
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.6))
    colors = plt.cm.viridis(np.linspace(0, 0.85, len(ns)))
    for i, n in enumerate(ns):
        cl = [cells.get(f"{n}/{a}") for a in alphas_by_n[n]]
        cl = [c for c in cl if c is not None]
        if not cl:
            continue
        al = [c["alpha"] for c in cl]
        axes[0, 0].plot(
            al, [c["retrieved"] for c in cl], "o-", ms=3, color=colors[i], label=f"N={n}"
        )
        axes[0, 1].plot(al, [c["mean_m"] for c in cl], "o-", ms=3, color=colors[i], label=f"N={n}")
        axes[0, 1].plot(al, [c["mean_m_sync"] for c in cl], ":", color=colors[i], lw=1)
        axes[1, 2].plot(al, [c["mean_sweeps_moved"] for c in cl], "o-", ms=3, color=colors[i])
    axes[0, 0].set(xlabel="α = P/N", ylabel="fraction retrieved (< 1% bits wrong)")
    axes[0, 0].set_title("classic, asynchronous, cue = the stored pattern", fontsize=10)
    axes[0, 1].set(xlabel="α = P/N", ylabel="mean final overlap m")
    axes[0, 1].set_title("mean final overlap (— async, ··· sync)", fontsize=10)
    axes[0, 1].axhline(0.9, color="gray", lw=0.8, ls="--")
    axes[1, 2].set(xlabel="α = P/N", ylabel="mean sweeps that changed the state")
    axes[1, 2].set_title("asynchronous sweeps to a fixed point", fontsize=10)
    for ax in (axes[0, 0], axes[0, 1], axes[1, 2]):
        ax.axvline(ALPHA_C, color="k", lw=0.8, ls="--")
    axes[0, 0].legend(fontsize=8)
    ax = axes[0, 2]
    if an is not None:
        marks = {"mean_m<0.9": "o", "ret<0.5": "s", "m0.9<0.5": "^"}
        xs = np.linspace(0, 1 / math.sqrt(min(ns)) * 1.05, 50)
        for j, d in enumerate(DEFS):
            col = f"C{j}"
            v = [an["alpha_c"][d][str(n)] for n in ns]
            y = np.array([e["value"] for e in v])
            lo = np.array([(e["ci95"] or [np.nan] * 2)[0] for e in v])
            hi = np.array([(e["ci95"] or [np.nan] * 2)[1] for e in v])
            x = 1 / np.sqrt(ns)
            ax.errorbar(x, y, yerr=[y - lo, hi - y], fmt=marks[d], color=col, ms=5, label=d)
            f = an["fits"][d].get("sqrt")
            if f:
                ax.plot(xs, f["alpha_inf"] + f["a"] * xs, "-", color=col, lw=1)
            fp = an["fits"][d].get("power")
            if fp:
                nn = np.concatenate([[1e9], np.logspace(np.log10(min(ns)) - 0.05, 7, 60)[::-1]])
                ax.plot(
                    1 / np.sqrt(nn),
                    fp["alpha_inf"] + fp["a"] * nn ** -fp["b"],
                    ":",
                    color=col,
                    lw=1,
                )
        ax.axhline(ALPHA_C, color="k", lw=0.8, ls="--", label="0.138 (AGS 1985)")
        ax.set(xlabel="1/√N", ylabel="α_c estimate", xlim=(0, xs[-1]))
        top = ax.twiny()
        top.set_xlim(ax.get_xlim())
        top.set_xticks(1 / np.sqrt(ns), [str(n) for n in ns], fontsize=7)
        ax.set_title("α_c(N): — α_∞ + a/√N, ··· α_∞ + a N^-b (95% CI: sets)", fontsize=9)
        ax.legend(fontsize=7)
    ax = axes[1, 0]
    if modern:
        loads = [c["load"] for c in modern]
        for j, b in enumerate(cfg["modern_betas"]):
            ax.plot(
                loads,
                [c["modern"][str(b)]["exact"] for c in modern],
                "o-",
                ms=4,
                color=f"C{j}",
                label=f"modern, β={b:.3g}: sign = pattern",
            )
            ax.plot(
                loads,
                [c["modern"][str(b)]["m_ge_0.99"] for c in modern],
                "x:",
                ms=6,
                color=f"C{j}",
                label=f"modern, β={b:.3g}: m ≥ 0.99",
            )
        ax.plot(
            loads,
            [c["classic"]["retrieved"] for c in modern],
            "ks-",
            ms=4,
            label="classic, async: < 1% wrong",
        )
        ax.axvline(ALPHA_C, color="k", lw=0.8, ls="--")
        ax.set(xscale="log", xlabel="P/N", ylabel="fraction retrieved", ylim=(-0.03, 1.03))
        ax.set_title(
            f"modern vs classic, N={cfg['modern_n']}, cue with "
            f"{cfg['modern_flips']} of {cfg['modern_n']} bits flipped",
            fontsize=10,
        )
        ax.legend(fontsize=7)
    ax = axes[1, 1]
    if modern:
        loads = [c["load"] for c in modern]
        for j, b in enumerate(cfg["modern_betas"]):
            ax.plot(
                loads,
                [c["modern"][str(b)]["mean_m"] for c in modern],
                "o-",
                ms=4,
                color=f"C{j}",
                label=f"modern, β={b:.3g} (raw output)",
            )
        ax.plot(loads, [c["classic"]["mean_m"] for c in modern], "ks-", ms=4, label="classic")
        ax.axhline(
            1 - 2 * cfg["modern_flips"] / cfg["modern_n"], color="gray", lw=0.8, ls=":", label="cue"
        )
        ax.set(xscale="log", xlabel="P/N", ylabel="mean final overlap m")
        ax.set_title("modern vs classic: mean overlap after recall", fontsize=10)
        ax.legend(fontsize=7)
    fig.suptitle(
        "Hopfield network capacity: classic (Hebbian, asynchronous) and modern "
        "(one softmax update), credax.hopfield",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(an, ns) -> None:
    print("\nα_c per N (linear interpolation on the α grid; 95% CI: bootstrap over pattern sets)")
    print(f"{'definition':12s}" + "".join(f"{'N=' + str(n):>20s}" for n in ns))
    for d in DEFS:
        row = ""
        for n in ns:
            e = an["alpha_c"][d][str(n)]
            c = e["ci95"]
            txt = f"{e['value']:.3f}" + (f" [{c[0]:.3f},{c[1]:.3f}]" if c else "")
            row += f"{txt:>20s}"
        print(f"{d:12s}{row}")
    print(f"\n{'definition':12s} {'α_∞ (a/√N)':>24s} {'α_∞ (a N^-b)':>24s} {'b':>18s} published")
    for d in DEFS:
        f = an["fits"][d]
        s, p = f.get("sqrt"), f.get("power")
        st = f"{s['alpha_inf']:.3f} [{_ci(s['alpha_inf_ci95'])}]" if s else "-"
        pt = f"{p['alpha_inf']:.3f} [{_ci(p['alpha_inf_ci95'])}]" if p else "-"
        bt = f"{p['b']:.2f} [{_ci(p['b_ci95'], 2)}]" if p else "-"
        print(f"{d:12s} {st:>24s} {pt:>24s} {bt:>18s} {ALPHA_C}")
    print("\nretrieved-fraction curves of consecutive sizes cross at α (95% CI):")
    print(
        "  "
        + ", ".join(
            f"N={k}: {v['value']:.3f} [{_ci(v['ci95'])}]"
            for k, v in an["size_crossings_retrieved"].items()
        )
    )
    print(
        "published: α_c = 0.138 (Amit, Gutfreund & Sompolinsky 1985, N → ∞); Hopfield (1982): "
        "about 0.15 N at N = 30-100; paper 004: ~0.14 N"
    )


def _ci(c, digits=3) -> str:
    return f"{c[0]:.{digits}f},{c[1]:.{digits}f}" if c else "-"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny grid: a smoke test")
    p.add_argument("--n", default=None, help="sizes N (default 100,200,500,1000,2000)")
    p.add_argument("--sets", default=None, help="pattern sets per N (default 128,64,16,16,8)")
    p.add_argument("--cues", default=None, help="cues per set per N (default 32,64,128,64,64)")
    p.add_argument("--alphas", default=None, help=f"loads α (default {ALPHAS})")
    p.add_argument("--max-sweeps", type=int, default=None, help="asynchronous sweep cap (50)")
    p.add_argument("--sync-steps", type=int, default=20, help="synchronous steps (comparison)")
    p.add_argument("--modern-n", type=int, default=None, help="N of the modern part (100)")
    p.add_argument("--modern-loads", default=None, help=f"P/N (default {MODERN_LOADS})")
    p.add_argument("--modern-flip", type=float, default=0.15, help="fraction of cue bits flipped")
    p.add_argument("--modern-betas", default=None, help="β (default 1 and 1/√N)")
    p.add_argument("--modern-sets", type=int, default=None, help="pattern sets (default 8)")
    p.add_argument("--modern-cues", type=int, default=None, help="cues per set (default 64)")
    p.add_argument("--bootstrap", type=int, default=1000)
    p.add_argument("--fresh", action="store_true", help="ignore finished cells in --out")
    p.add_argument("--out", default=None, help="path without suffix (.json and .png)")
    args = p.parse_args(argv)
    q = args.quick
    ns = _ints(args.n or ("50,100,200" if q else "100,200,500,1000,2000"))
    sets = _ints(args.sets or ("4,4,4" if q else "128,64,16,16,8"))
    cues = _ints(args.cues or ("16,16,16" if q else "32,64,128,64,64"))
    alphas = _floats(args.alphas or ("0.05,0.1,0.14,0.18,0.25" if q else ALPHAS))
    max_sweeps = args.max_sweeps or (10 if q else 50)
    mn = args.modern_n or (50 if q else 100)
    loads = _floats(args.modern_loads or ("0.1,1,10" if q else MODERN_LOADS))
    betas = _floats(args.modern_betas) if args.modern_betas else [1.0, 1 / math.sqrt(mn)]
    m_sets = args.modern_sets or (2 if q else 8)
    m_cues = args.modern_cues or (16 if q else 64)
    if not (len(ns) == len(sets) == len(cues)):
        p.error("--n, --sets and --cues need one value per size")
    if len(ns) < 2 or min(ns) < 2 or min(sets + cues) < 1 or max_sweeps < 1:
        p.error("at least two sizes N >= 2; sets, cues and --max-sweeps >= 1")
    if not all(0 < a for a in alphas) or not 0 <= args.modern_flip < 0.5:
        p.error("loads > 0 and 0 <= --modern-flip < 0.5")
    out = Path(
        args.out or (Path("runs/hopfield_capacity_quick") if q else RESULTS / "hopfield_capacity")
    )
    json_path, png_path = out.with_suffix(".json"), out.with_suffix(".png")
    # the realised loads: P = round(α N) >= 1, duplicates dropped
    ps_by_n = {n: sorted({max(1, round(a * n)) for a in alphas}) for n in ns}
    alphas_by_n = {n: [pp / n for pp in ps_by_n[n]] for n in ns}
    n_flip = round(args.modern_flip * mn)
    config = {
        "N": ns,
        "sets": sets,
        "cues_per_set": cues,
        "alphas_requested": alphas,
        "P_by_N": {str(n): ps_by_n[n] for n in ns},
        "max_sweeps": max_sweeps,
        "sync_steps": args.sync_steps,
        "patterns": "random ±1, independent bits with probability 1/2",
        "classic_cue": "the stored pattern itself (no bits flipped): the first min(C, P) patterns",
        "classic_update_order": "one random order per pattern set and sweep, shared by its cues",
        "classic_dynamics": "asynchronous sweeps in a fresh random order each, until a sweep "
        "changes nothing or max_sweeps; ties (zero field) keep the unit's value",
        "retrieved": "fewer than 1% of bits wrong (errors < 0.01 N)",
        "modern_n": mn,
        "modern_loads": loads,
        "modern_P": [max(1, round(ld * mn)) for ld in loads],
        "modern_flips": n_flip,
        "modern_betas": betas,
        "modern_sets": m_sets,
        "modern_cues_per_set": m_cues,
        "modern_update": "one step of xi <- X^T softmax(beta X xi)",
        "modern_retrieved": "sign of the output equals the pattern in every bit ('exact'); "
        "also overlap of the raw output >= 0.99",
    }
    cells, modern_cells, timing = {}, {}, {}
    if json_path.exists() and not args.fresh:
        old = json.loads(json_path.read_text())
        if old.get("config") == config:
            cells = old.get("cells", {})
            modern_cells = old.get("modern_cells", {})
            print(
                f"reusing {len(cells)} classic and {len(modern_cells)} modern cells "
                f"from {json_path}"
            )
        else:
            print(f"{json_path} has another configuration: starting afresh")
    t_all = time.perf_counter()

    def modern_list():
        return [modern_cells[str(ld)] for ld in loads if str(ld) in modern_cells]

    def wall_seconds() -> dict:
        """Per part: the sum of its cells' seconds (compilation included, whichever run made
        them), and this run's own wall times (small where cells were reused)."""
        per_n = {str(n): sum(c["seconds"] for c in cells.values() if c["N"] == n) for n in ns}
        classic = sum(per_n.values())
        modern = sum(c["seconds"] for c in modern_cells.values())
        return {
            "classic_cells": classic,
            "classic_cells_by_N": per_n,
            "modern_cells": modern,
            "all_cells": classic + modern,
            "this_run": timing | {"total": time.perf_counter() - t_all},
        }

    def save(analysis=None, complete=False):
        write_json(
            json_path,
            {
                "benchmark": "hopfield_capacity",
                "command": " ".join(["python benchmarks/hopfield_capacity.py", *argv]),
                "published": PUBLISHED,
                "definitions_alpha_c": DEFS,
                "headline_definition": HEADLINE,
                "config": config,
                "environment": environment(),
                "complete": complete,
                "wall_seconds": wall_seconds(),
                "analysis": analysis,
                "cells": cells,
                "modern_cells": modern_cells,
            },
        )

    print(
        f"Hopfield capacity on {jax.default_backend()}: N {ns}, sets {sets}, cues/set {cues}, "
        f"{len(alphas)} loads, async cap {max_sweeps} sweeps"
    )
    print(
        f"{'N':>5s} {'P':>4s} {'α':>6s} {'mean m':>7s} {'ret<1%':>7s} {'m≥0.9':>6s} "
        f"{'m sync':>7s} {'sweeps':>6s} {'max':>4s} {'unconv':>6s} {'ΔE max':>8s} {'s':>6s}"
    )
    t_part = time.perf_counter()
    for n, s, c in zip(ns, sets, cues):
        p_max = max(ps_by_n[n])
        run = None
        keys = jax.random.split(jax.random.fold_in(jax.random.key(0), n), s)
        for pp in ps_by_n[n]:
            name = f"{n}/{pp / n}"
            if name in cells:
                _print_cell(cells[name], resumed=True)
                continue
            t0 = time.perf_counter()
            if run is None:
                run = make_classic(n, p_max, c, max_sweeps, args.sync_steps)
                run = run.lower(keys, jnp.int32(pp)).compile()
            r = jax.device_get(run(keys, jnp.int32(pp)))
            cell = {"N": n, "P": pp, "alpha": pp / n, "sets": s, "cues_per_set": c}
            cell |= summarise_cell(r, n, pp)
            cell["seconds"] = time.perf_counter() - t0
            cells[name] = cell
            save()
            _print_cell(cell)
    timing["classic"] = time.perf_counter() - t_part
    an = None
    if all(f"{n}/{pp / n}" in cells for n in ns for pp in ps_by_n[n]):
        with np.errstate(invalid="ignore", divide="ignore"):
            an = analyse(cells, ns, alphas_by_n, args.bootstrap)
        report(an, ns)
    save(an)

    # Part 2: the modern network past the classic capacity.
    print(
        f"\nmodern vs classic, N = {mn}, cue: {n_flip} of {mn} bits flipped, "
        f"{m_sets} sets x {m_cues} cues, β = {', '.join(f'{b:.3g}' for b in betas)}"
    )
    hdr = "".join(f"{'β=' + format(b, '.3g') + ' sign/m≥.99':>22s}" for b in betas)
    print(f"{'P/N':>6s} {'P':>6s}{hdr} {'classic <1%':>12s} {'classic m':>10s} {'s':>6s}")
    t_part = time.perf_counter()
    ps = config["modern_P"]
    p_max = max(ps)
    mkeys = jax.random.split(jax.random.key(1), m_sets)
    draw = make_modern(mn, p_max, m_cues, n_flip)
    classic_same = make_classic_same(mn, p_max, max_sweeps)
    for ld, pp in zip(loads, ps):
        if str(ld) in modern_cells:
            _print_modern(modern_cells[str(ld)], betas, resumed=True)
            continue
        t0 = time.perf_counter()
        xi, target, cue, okeys = draw(mkeys, jnp.int32(pp))
        cell = {"load": pp / mn, "load_requested": ld, "P": pp, "modern": {}}
        for b in betas:
            m, exact = jax.device_get(modern_cell(xi, target, cue, pp, b))
            cell["modern"][str(b)] = {
                "beta": b,
                "exact": float(np.mean(exact)),
                "m_ge_0.99": float(np.mean(m >= 0.99)),
                "mean_m": float(np.mean(m)),
            }
        m, errors, changed = jax.device_get(classic_same(xi, target, cue, okeys, jnp.int32(pp)))
        cell["classic"] = {
            "retrieved": float(np.mean(errors < 0.01 * mn)),
            "exact": float(np.mean(errors == 0)),
            "mean_m": float(np.mean(m)),
            "not_converged": int(np.sum(changed)),
        }
        cell["seconds"] = time.perf_counter() - t0
        modern_cells[str(ld)] = cell
        save(an)
        _print_modern(cell, betas)
    timing["modern"] = time.perf_counter() - t_part
    timing["total"] = time.perf_counter() - t_all
    ws = wall_seconds()
    by_n = ", ".join(f"N={k}: {v:.0f} s" for k, v in ws["classic_cells_by_N"].items())
    print(
        f"\nwall time of the cells (compilation included): classic {ws['classic_cells']:.0f} s "
        f"({by_n}), modern {ws['modern_cells']:.0f} s, all {ws['all_cells']:.0f} s; this run "
        f"{timing['total']:.0f} s in all"
    )
    save(an, complete=an is not None)
    with np.errstate(invalid="ignore", divide="ignore"):
        plot(cells, modern_list(), an, ns, alphas_by_n, png_path, config)
    print(f"wrote {json_path} and {png_path}")


def _print_cell(c: dict, resumed: bool = False) -> None:
    print(
        f"{c['N']:5d} {c['P']:4d} {c['alpha']:6.3f} {c['mean_m']:7.3f} {c['retrieved']:7.3f} "
        f"{c['frac_m_ge_0.9']:6.3f} {c['mean_m_sync']:7.3f} {c['mean_sweeps_moved']:6.2f} "
        f"{c['max_sweeps_moved']:4d} {c['not_converged']:6d} {c['max_energy_rise']:8.1e} "
        f"{c['seconds']:6.1f}" + (" (reused)" if resumed else ""),
        flush=True,
    )


def _print_modern(c: dict, betas, resumed: bool = False) -> None:
    mods = "".join(
        f"{c['modern'][str(b)]['exact']:>15.3f}/{c['modern'][str(b)]['m_ge_0.99']:.3f}"
        for b in betas
    )
    print(
        f"{c['load']:6.2f} {c['P']:6d}{mods} {c['classic']['retrieved']:12.3f} "
        f"{c['classic']['mean_m']:10.3f} {c['seconds']:6.1f}" + (" (reused)" if resumed else ""),
        flush=True,
    )


if __name__ == "__main__":
    main()
