"""The hamux half of ``benchmarks/local_side_by_side.py``: the modern (dense) Hopfield network as a
hamux energy model, retrieved by descending its energy.

Runs in its own virtual environment, started by ``local_side_by_side.py`` as
``.peers/hamux/bin/python benchmarks/peers/hamux_run.py CONFIG.json``. It imports neither credax
nor anything else from this repository: patterns, cues and settings arrive as files named in the
config; the results leave as a JSON file and an ``.npz`` of retrieved states.

The model is the two-layer associative memory of hamux's documentation: a visible layer of ``N``
neurons with the identity Lagrangian ``½‖v‖²``, a hidden layer of ``P`` neurons with the softmax
Lagrangian ``(1/β) logsumexp(β h)``, joined by a ``LinearSynapse`` whose weights are the patterns
``Xᵀ`` (energy ``-v̂ᵀ Xᵀ ĥ``). Its energy is that of Ramsauer et al.'s modern Hopfield network
once the hidden layer is at equilibrium (``h = X v``). hamux retrieves by gradient descent on the
energy, every layer at once, ``x ← x - α ∂E/∂x̂`` (the loop of its README), here from ``v`` at the
cue and ``h`` at equilibrium for it. Two readings are returned:

- ``one_step``: one step with ``α = 1`` on the visible layer alone: ``v - (v - Xᵀ softmax(β X
  v))``, which is exactly the one-step update credax's ``modern_recall`` makes;
- ``descent``: ``T`` steps of ``α`` on both layers, which settles to a fixed point of the energy
  (the same fixed points as the one-step iteration, reached gradually).

Timing: one jitted descent step (``jax.jit`` around ``vham.dEdact`` and the update) called from
Python per step (and per seed), and, as hamux models are equinox modules and compose with JAX,
the whole descent in a ``lax.scan`` with ``jax.vmap`` over seeds, written by us around hamux's
energy.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from pathlib import Path

import equinox as eqx
import hamux as hmx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np


def _version(name):
    from importlib.metadata import version

    try:
        return version(name)
    except Exception:
        return None


@functools.cache
def _neurons(n, n_pat, beta):
    """The neuron layers, made once per shape: their Lagrangians are static parts of the jitted
    step's input, compared by identity, so a new ``functools.partial`` per seed would recompile
    the step for every seed."""
    return {
        "visible": hmx.NeuronLayer(hmx.lagr_identity, (n,)),
        "hidden": hmx.NeuronLayer(functools.partial(hmx.lagr_softmax, beta=beta), (n_pat,)),
    }


def build(patterns, beta):
    """The vectorized (batch of cues) HAM storing ``patterns`` ``(P, N)``."""
    n_pat, n = patterns.shape
    neurons = _neurons(n, n_pat, beta)
    synapses = {"memory": hmx.LinearSynapse(W=jnp.asarray(patterns).T)}
    return hmx.HAM(neurons, synapses, [(("visible", "hidden"), "memory")]).vectorize()


def start(patterns, cues):
    """Visible neurons at the cues, hidden neurons at equilibrium for them (``h = X v``)."""
    return {"visible": cues, "hidden": cues @ patterns.T}


def descend(vham, xs, alpha):
    grads = vham.dEdact(vham.activations(xs), xs)
    return jtu.tree_map(lambda x, g: x - alpha * g, xs, grads)


@eqx.filter_jit
def descent_step(vham, xs, alpha):
    return descend(vham, xs, alpha)


def one_step(patterns, cues, beta):
    vham = build(patterns, beta)
    xs = start(jnp.asarray(patterns), jnp.asarray(cues))
    grads = vham.dEdact(vham.activations(xs), xs)
    return xs["visible"] - grads["visible"]


def descent_scan(patterns, cues, beta, alpha, steps):
    vham = build(patterns, beta)
    xs = jax.lax.fori_loop(0, steps, lambda _, xs: descend(vham, xs, alpha), start(patterns, cues))
    return xs["visible"]


def main(config_path):
    cfg = json.loads(Path(config_path).read_text())
    d = np.load(cfg["data"])
    patterns, cues = d["patterns"], d["cues"]  # (S, P, N), (S, C, N)
    n_seeds = min(cfg["n_seeds"], len(patterns))
    beta, alpha, steps = cfg["beta"], cfg["alpha"], cfg["steps"]
    n_cues = cues.shape[1]
    out = {
        "versions": {
            "hamux": _version("hamux"),
            "equinox": _version("equinox"),
            "jax": jax.__version__,
            "jaxlib": _version("jaxlib"),
            "numpy": np.__version__,
            "python": sys.version.split()[0],
        },
        "backend": jax.default_backend(),
        "alpha": alpha,
        "steps": steps,
    }
    ones = np.stack([np.asarray(one_step(patterns[s], cues[s], beta)) for s in range(n_seeds)])

    def loop_seed(s):
        vham = build(patterns[s], beta)
        xs = start(jnp.asarray(patterns[s]), jnp.asarray(cues[s]))
        for _ in range(steps):
            xs = descent_step(vham, xs, alpha)
        return xs["visible"]

    def timed(f):
        t0 = time.perf_counter()
        r = jax.block_until_ready(f())
        return time.perf_counter() - t0, r

    first, _ = timed(lambda: loop_seed(0))
    later = float(np.median([timed(lambda: loop_seed(0))[0] for _ in range(2)]))
    runs = [timed(lambda: loop_seed(0))[0] for _ in range(cfg["repeats"])]
    out["one_seed"] = {
        "method": "a jitted descent step (eqx.filter_jit) called per step from Python",
        "compile_seconds": first - later,
        "seconds_runs": runs,
        "seconds": float(np.median(runs)),
        "updates_per_s": steps * n_cues / float(np.median(runs)),
    }
    runs = []
    for _ in range(cfg["repeats_many"]):
        t0 = time.perf_counter()
        states = [np.asarray(loop_seed(s)) for s in range(n_seeds)]
        runs.append(time.perf_counter() - t0)
    out["many_seeds_loop"] = {
        "method": "Python loop over seeds of the per-step loop",
        "n_seeds": n_seeds,
        "seconds_runs": runs,
        "seconds": float(np.median(runs)),
        "updates_per_s": n_seeds * steps * n_cues / float(np.median(runs)),
    }
    print(
        f"  hamux: 1 seed {out['one_seed']['seconds']:.2f} s, {n_seeds} seeds (loop) "
        f"{np.median(runs):.2f} s",
        flush=True,
    )

    one = jax.jit(functools.partial(descent_scan, beta=beta, alpha=alpha, steps=steps))
    many = jax.jit(jax.vmap(functools.partial(descent_scan, beta=beta, alpha=alpha, steps=steps)))
    for tag, f, args, n in (
        ("one_seed_scan", one, (patterns[0], cues[0]), 1),
        ("many_seeds_vmap", many, (patterns[:n_seeds], cues[:n_seeds]), n_seeds),
    ):
        args = jax.device_put(args)
        t0 = time.perf_counter()
        compiled = f.lower(*args).compile()
        comp = time.perf_counter() - t0
        runs = []  # at least `repeats` runs, and 0.5 s of them (up to 200 runs)
        while len(runs) < cfg["repeats"] or (sum(runs) < 0.5 and len(runs) < 200):
            runs.append(timed(functools.partial(compiled, *args))[0])
        out[tag] = {
            "method": "the whole descent in a lax.fori_loop around hamux's energy gradient"
            + (", jax.vmap over seeds" if n > 1 else "")
            + " (written by us; hamux models are equinox modules)",
            "n_seeds": n,
            "compile_seconds": comp,
            "seconds_runs": runs if len(runs) <= 20 else None,
            "n_runs": len(runs),
            "seconds": float(np.median(runs)),
            "updates_per_s": n * steps * n_cues / float(np.median(runs)),
        }
        if n > 1:
            scanned = np.asarray(compiled(*args))
    out["scan_vs_loop_max_abs_diff"] = float(np.max(np.abs(scanned - np.stack(states))))
    np.savez(cfg["states_out"], one_step=ones, descent=np.stack(states))
    Path(cfg["out"]).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main(sys.argv[1])
