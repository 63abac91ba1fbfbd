"""credax's spiking neurons side by side with Brian2 (the same LIF networks on the same input
spikes, and the same STDP protocol), and NIR export/import against snnTorch.

Setup, LIF networks. ``--inputs`` 100 Poisson trains at ``--rate`` 20 Hz (``credax.spiking.
poisson``, seed ``--seed``) drive ``--neurons`` 50 LIF neurons for ``--steps`` 10000 steps of
``--dt`` 0.1 ms (1 s): ``τ_mem = 10`` ms, threshold 1, reset to 0, refractory 2 ms, either
current-based (each input spike raises ``v`` by ``J_ij``, drawn uniform on [-0.05, 0.15]; credax's
weight is ``J/(1 - β)``, ``β = exp(-dt/τ_mem)``, since its step adds ``(1 - β) W s``) or with
exponential synapses (``τ_syn = 5`` ms; each spike jumps the synaptic current by ``W_ij``, uniform
on [-0.1, 0.3]). credax: one ``credax.spiking.LIF`` layer, its membrane from ``credax.nets.trace``
(before the reset). Brian2 (``benchmarks/peers/brian2_run.py``, its own venv, NumPy target):
``method='exact'``, a ``SpikeGeneratorGroup`` of the same spike times, ``on_pre`` jumps,
``threshold='v >= 1'``, ``reset='v = 0'``, ``(unless refractory)``; its membrane recorded before
the threshold test. Each Brian2 variant below is compared spike by spike (mismatched spikes:
``|S_credax - S_brian2|`` summed over neurons and steps, after the stated alignment; max time
difference between nearest spikes) and membrane by membrane (max ``|ΔU|``, over every step and
per neuron up to its first mismatch):

- ``current_synapses_first``: the synaptic pathway scheduled before the threshold test
  (``S.pre.when = 'after_groups'``, the input group emitting ``before_groups``), as credax orders
  a step (input, then threshold); refractory 2 ms + dt. Expected identical.
- ``current_default_compensated``: Brian2's default order (groups, thresholds, synapses,
  resets): an input spike of step ``n`` lands after the threshold test and first counts, one
  decay later, at step ``n + 1``. With jumps ``J/β`` it is credax one step later exactly.
- ``current_default``: what a Brian2 user writes (jumps ``J``, refractory 2 ms, default order):
  spikes one step later, and the membrane a factor ``β`` lower at the test, so some spikes
  differ. Quantified.
- ``synaptic_default``: Brian2's default order already matches credax's exact propagator (the
  membrane at step ``n`` integrates the current left after step ``n - 1``'s jump; step ``n``'s
  spike jumps the current after the test); refractory 2 ms + dt. Expected identical, up to
  arithmetic: credax runs in float32, Brian2 in float64, so a membrane that lands within ~1e-6
  of the threshold can fire in one and not the other (the table gives, where trains differ, how
  close both membranes were to the threshold at the first difference).
- ``synaptic_default_refractory``: refractory 2 ms. Brian2 counts the period from the start of
  the step whose update crossed the threshold and integrates again in the step that starts
  ``refractory`` later: it holds a neuron one step less than credax (``round(refractory/dt)``
  steps after the spike step). Quantified.

STDP. (a) Exact: the synaptic network above with credax's ``credax.stdp(bounds=None)``
(all-to-all traces, ``A₊ = 0.01``, ``A₋ = 0.0105``, ``τ₊ = τ₋ = 20`` ms) applied once to the
1 s run, against Brian2's classic example's synapses (``apre``/``apost`` event-driven traces)
accumulating into a weight that does not drive the neurons (so both see the same post spikes;
compared on the neurons whose spike trains are identical in both).
The two sums differ only at pairs of spikes in one step: Brian2 processes the presynaptic
pathway first and so counts such a pair as pre-before-post (``+A₊``), credax counts it half as
each order (``(A₊ - A₋)/2``, its trapezoidal rule): the difference ``(A₊ + A₋)/2`` times the
number of same-step pairs is predicted exactly. (b) Learning, Brian2's classic STDP protocol
(Song, Miller & Abbott 2000): ``--stdp-inputs`` 1000 Poisson inputs at 15 Hz onto one neuron
(exponential synapses as above, at ``--stdp-dt`` 0.5 ms), initial weights uniform on
``[0, w_max]``, ``w_max = 0.03`` (times ``1000/--stdp-inputs``), ``A₊ = 0.01 w_max``,
``A₋ = 1.05 A₊``, additive with hard bounds, ``--stdp-seconds`` 100 s. Brian2 updates online
(at each spike, clipped each time); credax per trial of ``--stdp-trial`` 500 ms
(``credax.stdp(bounds="additive")`` and ``optax.sgd(1.0)``; its LIF layer starts every trial
from rest, so pairs across trials are lost). Same input spikes in both. Compared: the final
weights' distribution (fractions near 0 and ``w_max``), mean, correlation synapse by synapse,
and output rates.

NIR. (a) credax round trip: ``credax.spiking.network([100, 50, 10], 200, dt=0.5)`` (exponential
synapses) to a ``.nir`` file and back; spikes and membranes on 32 inputs compared bit for bit.
(b) snnTorch (``benchmarks/peers/snntorch_nir_run.py``, its own venv): a random 20-32-10 network
of ``snn.Leaky`` (β = 0.9) or ``snn.Synaptic`` (α = 0.8, β = 0.9) neurons, exported by snnTorch
to NIR (``τ = dt/(1 - β)``, ``R = τ/dt``, ``w_in = τ_syn/dt``, ``dt = 1e-4``) and simulated by
snnTorch on 8 inputs of 300 steps; imported with ``credax.spiking.from_nir(dt=1e-4)``. snnTorch
steps the ODE by Euler (``U ← βU + W S``; with synapses ``I ← αI + W S``, ``U ← βU + I`` in
the same step), credax exactly (``exp(-dt/τ)``; the membrane takes the current of the step
before). The straight import is NIR's continuous network, simulated exactly, so it differs from
snnTorch by the discretisation; the "matched" import first rewrites the graph so that credax's
exact steps equal snnTorch's Euler steps (``τ' = -dt/ln(1 - dt/τ)`` with ``R`` and ``w_in``
keeping ``R/τ`` and ``w_in/τ_syn``, and for ``CubaLIF`` ``R' = R (dt/τ_mem)/κ'`` so that a
current adds to the membrane as snnTorch's does): identical spikes for ``Leaky``, and for
``Synaptic`` identical spikes one step later per layer (credax's membrane sees a current one
step after it arrives).

Timing (compile and code generation excluded, except where said): the synaptic network, credax
one seed and ``--seeds`` 64 seeds (different inputs) by ``jax.vmap``, one compiled program each,
median of ``--repeats`` runs; Brian2 runtime mode, NumPy and (full runs) Cython targets, one copy
and 64 copies of the network in one Brian2 network, each built and run three times: the first
run includes code generation (and Cython's compilation unless ``~/.cython`` has it), and the time
is the median of the later runs that compiled nothing (Brian2 2.9's runtime mode sometimes
compiles a Cython extension again for a rebuilt network). Brian2's C++ standalone mode is not
timed (it compiles a project per run).

Published figures. Brian2 (Stimberg, Brette & Goodman 2019) and snnTorch (Eshraghian et al. 2023)
are the references themselves: the same networks on the same inputs. Song, Miller & Abbott
(2000), Fig. 2, and Brian2's STDP example that reproduces it: additive STDP with ``A₋ τ₋ > A₊
τ₊`` drives the weights to a bimodal distribution at 0 and ``w_max`` and stabilises the output
rate.

Peers run in their own virtual environments (git-ignored ``.peers/``) through files and a
subprocess each; Brian2 2.9.0 needs NumPy below 2.4 (``ndarray.ptp`` was removed);
snnTorch 1.0.0's exporter needs ``nirtorch``:

    python3 -m venv .peers/brian2 && .peers/brian2/bin/pip install brian2==2.9.0 "numpy<2.4"
    python3 -m venv .peers/snntorch && .peers/snntorch/bin/pip install snntorch==1.0.0 \\
        torch==2.13.0 nir==1.0.8 nirtorch==2.6
    python benchmarks/spiking_vs_brian2.py [--quick] [--out PATH_PREFIX]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nir  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from common import RESULTS, environment, machine_load, peer_env, significant, write_json  # noqa: E402

import credax  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PEERS = Path(__file__).resolve().parent / "peers"
CREATE = {
    "brian2": "python3 -m venv .peers/brian2 && .peers/brian2/bin/pip install brian2==2.9.0 "
    '"numpy<2.4"',
    "snntorch": "python3 -m venv .peers/snntorch && .peers/snntorch/bin/pip install "
    "snntorch==1.0.0 torch==2.13.0 nir==1.0.8 nirtorch==2.6",
}
TAU_MEM, TAU_SYN, THRESHOLD, REFRACTORY = 10.0, 5.0, 1.0, 2.0
STDP = dict(a_plus=0.01, a_minus=0.0105, tau_plus=20.0, tau_minus=20.0)
LEARN = dict(rate=15.0, w_max=0.03, a_plus_frac=0.01, ratio=1.05)
# Brian2 variants: the model (current-based or synaptic), the schedule, how the weight is given
# (the jump J, J/β, or credax's W), the refractory period beyond 2 ms (in steps), the alignment
# (Brian2's step n + shift against credax's step n) and what is expected.
CASES = {
    "current_synapses_first": dict(
        synaptic=False, schedule="synapses_first", weight="jump", extra=1, shift=0,
        expect="identical",
    ),
    "current_default_compensated": dict(
        synaptic=False, schedule="default", weight="jump/beta", extra=0, shift=1,
        expect="identical, one step later",
    ),
    "current_default": dict(
        synaptic=False, schedule="default", weight="jump", extra=0, shift=1,
        expect="one step later; the membrane β lower at the test: some spikes differ",
    ),
    "synaptic_default": dict(
        synaptic=True, schedule="default", weight="W", extra=1, shift=0,
        expect="identical (up to float32 rounding at the threshold)",
    ),
    "synaptic_default_refractory": dict(
        synaptic=True, schedule="default", weight="W", extra=0, shift=0,
        expect="Brian2 holds a neuron one step less after a spike: later spikes differ",
    ),
}  # fmt: skip
DIFFERENCES = [
    "order within a step: credax adds a step's input and then tests the threshold; Brian2's "
    "default schedule runs state updates, thresholds, synapses, resets, so an on_pre jump of v "
    "at step n is tested at step n + 1 after one decay (current-based: one step later, and J/β "
    "for the same test value); a jump of the synaptic current (exponential synapses) reaches v "
    "through the next update in both, so there the default order already agrees",
    "refractory: credax clamps the membrane for round(refractory/dt) steps after the spike step; "
    "Brian2 counts the period from the start of the spike's step and integrates again from the "
    "step starting refractory later, one step less (refractory + dt in Brian2 is credax's)",
    "arithmetic: credax float32, Brian2 float64 (membranes agree to ~1e-6; a spike could differ "
    "only for a membrane within that of the threshold)",
    "STDP same-step pairs: Brian2 runs the pre pathway before the post pathway in a step, so a "
    "pre and a post spike in one step count as pre-before-post (+A₊); credax counts the pair "
    "half as each order ((A₊ - A₋)/2, the trapezoidal rule for the window's integral)",
    "STDP learning: Brian2 changes a weight at every spike (and clips each time); credax's "
    "stdp sums the changes of one trial with the weights fixed and applies them (clipped) at its "
    "end, and its LIF layer starts each trial from rest (pairs across trials are not counted)",
    "snnTorch: Euler steps U ← βU + W S (and I ← αI + W S, U ← βU + I in the same step) "
    "exported as τ = dt/(1 - β), R = τ/dt, w_in = τ_syn/dt at dt = 1e-4; credax imports NIR's "
    "ODE and steps it exactly, exp(-dt/τ) for the exported τ, with the membrane taking the "
    "current one step after it arrives; rewriting the graph's τ (and R, w_in) so that credax's "
    "exact factors equal snnTorch's reproduces snnTorch (one step per synaptic layer later)",
]


# --- data ----------------------------------------------------------------------------------------


def make_network_data(args):
    """Input spikes ``(T, n_in)`` (and ``(seeds, T, n_in)`` for timing), the two weight matrices
    and the two credax dynamics."""
    key = jax.random.key(args.seed)
    k_x, k_many, k_j, k_w = jax.random.split(key, 4)
    rates = jnp.full((args.inputs,), args.rate)
    x = credax.spiking.poisson(k_x, rates, args.steps, dt=args.dt)
    many = jax.vmap(lambda k: credax.spiking.poisson(k, rates, args.steps, dt=args.dt))(
        jax.random.split(k_many, args.seeds)
    )
    shape = (args.neurons, args.inputs)
    jump = np.asarray(jax.random.uniform(k_j, shape, minval=-0.05, maxval=0.15), np.float64)
    w_syn = np.asarray(jax.random.uniform(k_w, shape, minval=-0.1, maxval=0.3), np.float64)
    dyn = {
        s: credax.spiking.Dynamics(
            dt=args.dt,
            tau_mem=TAU_MEM,
            tau_syn=TAU_SYN if s else None,
            threshold=THRESHOLD,
            refractory=REFRACTORY,
        )
        for s in (False, True)
    }
    beta = dyn[False].beta
    w_cur = (jump / (1.0 - beta)).astype(np.float32)
    return {
        "x": np.asarray(x),
        "many": np.asarray(many),
        "jump": jump,
        "w": {False: w_cur, True: w_syn.astype(np.float32)},
        "dyn": dyn,
        "beta": beta,
    }


def lif_layer(w, dyn, steps):
    layer = credax.spiking.LIF(steps, w.shape[1], w.shape[0], key=0, dynamics=dyn)
    return eqx.tree_at(lambda q: q.weight, layer, jnp.asarray(w, jnp.float32))


def spike_file(path, x, weights):
    """Spikes ``(T, n)`` or ``(copies, T, n)`` as Brian2's generator indices and steps."""
    x = np.asarray(x)
    if x.ndim == 2:
        x = x[None]
    c, t, i = np.nonzero(x)
    order = np.lexsort((c * x.shape[2] + i, t))
    np.savez(
        path,
        pre_index=(c * x.shape[2] + i)[order].astype(np.int32),
        pre_step=t[order].astype(np.int64),
        weights=np.asarray(weights, np.float64),
    )
    return str(path)


# --- peers ---------------------------------------------------------------------------------------


def _peer(venv, name, module):
    return peer_env(venv, name, CREATE[name], module)


def run_peer(peer, script, cfg_path, out_path):
    if "python" not in peer:
        return {k: v for k, v in peer.items() if k in ("missing", "failed")}
    proc = subprocess.run(
        [peer["python"], str(PEERS / script), str(cfg_path)],
        stdout=None,
        stderr=subprocess.PIPE,
        text=True,
    )
    if proc.returncode != 0 or not Path(out_path).exists():
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        sys.stderr.write(proc.stderr[-3000:])
        return {"failed": f"{script} exited {proc.returncode}: {tail}"}
    return json.loads(Path(out_path).read_text())


# --- comparisons ---------------------------------------------------------------------------------


def _nearest(a, b):
    """The largest distance from a time in ``a`` to the nearest in ``b`` (steps)."""
    if not len(a) or not len(b):
        return None
    idx = np.clip(np.searchsorted(b, a), 1, len(b) - 1) if len(b) > 1 else np.zeros_like(a)
    d = np.minimum(np.abs(a - b[idx]), np.abs(a - b[np.maximum(idx - 1, 0)]))
    return int(d.max())


def compare_runs(c_spikes, c_v, b, shift, dt):
    """credax's spikes and membrane ``(T, n)`` against Brian2's arrays, Brian2's step ``n +
    shift`` against credax's step ``n`` (steps ``n < T - shift``)."""
    T, n = c_spikes.shape
    window = T - shift
    c = np.asarray(c_spikes[:window], np.int64)
    bs = np.zeros((T, n), np.int64)
    bs[b["spike_step"], b["spike_index"]] = 1
    bs = bs[shift : shift + window]
    diff = np.abs(c - bs)
    bv = np.asarray(b["v"]).T[shift : shift + window]
    dv = np.abs(np.asarray(c_v[:window], np.float64) - bv)
    first = np.where(diff.any(0), diff.argmax(0), window)  # per neuron: first mismatch step
    before = np.arange(window)[:, None] < first[None, :]
    dts = [
        _nearest(np.nonzero(c[:, i])[0], np.nonzero(bs[:, i])[0])
        for i in range(n)
        if c[:, i].any() and bs[:, i].any()
    ]
    dts += [
        _nearest(np.nonzero(bs[:, i])[0], np.nonzero(c[:, i])[0])
        for i in range(n)
        if c[:, i].any() and bs[:, i].any()
    ]
    bad = np.nonzero(diff.any(0))[0]
    margin = [
        max(abs(float(c_v[first[i], i]) - THRESHOLD), abs(float(bv[first[i], i]) - THRESHOLD))
        for i in bad
    ]
    return {
        "shift_steps": shift,
        "spikes_credax": int(c.sum()),
        "spikes_brian2": int(bs.sum()),
        "mismatched_spikes": int(diff.sum()),
        "neurons_with_mismatch": int(diff.any(0).sum()),
        "identical": bool(diff.sum() == 0),
        "max_time_difference_ms": (max(dts) * dt) if dts else None,
        "max_abs_dv": float(dv.max()),
        "max_abs_dv_before_first_mismatch": float(dv[before].max()) if before.any() else None,
        # where a neuron's trains first differ, how far both membranes were from the threshold
        "max_threshold_margin_at_first_mismatch": max(margin) if margin else None,
    }


# --- timing --------------------------------------------------------------------------------------


def time_compiled(f, args, repeats):
    t0 = time.perf_counter()
    compiled = jax.jit(f).lower(*args).compile()
    comp = time.perf_counter() - t0
    jax.block_until_ready(compiled(*args))
    runs = []
    while len(runs) < repeats or (sum(runs) < 0.5 and len(runs) < 50):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        runs.append(time.perf_counter() - t0)
    return {"compile_seconds": comp, "seconds": float(np.median(runs)), "n_runs": len(runs)}


def credax_timing(data, args):
    layer = lif_layer(data["w"][True], data["dyn"][True], args.steps)
    one = time_compiled(lambda x: layer(x), (jnp.asarray(data["x"]),), args.repeats)
    many = time_compiled(jax.vmap(lambda x: layer(x)), (jnp.asarray(data["many"]),), args.repeats)
    steps = args.steps
    return {
        "one_seed": {**one, "steps_per_s": steps / one["seconds"]},
        "many_seeds": {
            **many,
            "n_seeds": args.seeds,
            "seed_steps_per_s": args.seeds * steps / many["seconds"],
        },
    }


# --- STDP ----------------------------------------------------------------------------------------


def stdp_exact(data, brian, args):
    """credax's summed change over the 1 s run against Brian2's, with the same post spikes."""
    layer = lif_layer(data["w"][True], data["dyn"][True], args.steps)
    rule = credax.stdp(bounds=None, **STDP)
    x = jnp.asarray(data["x"])[None]
    g, _ = rule.update(layer, rule.init(0, layer), x)
    dw_c = -np.asarray(g.weight, np.float64)
    post = np.asarray(layer(x[0]), np.float64)
    same = post.T @ np.asarray(data["x"], np.float64)  # same-step pairs per synapse
    out = {"pairs_same_step": int(same.sum()), "max_abs_dw_credax": float(np.abs(dw_c).max())}
    if "arrays" not in brian:
        return out | {k: v for k, v in brian.items() if k in ("missing", "failed")}
    dw_b = brian["arrays"]["weights"] - data["w"][True].astype(np.float64)
    predicted = 0.5 * (STDP["a_plus"] + STDP["a_minus"]) * same
    spikes_b = np.zeros_like(post)
    spikes_b[brian["arrays"]["spike_step"], brian["arrays"]["spike_index"]] = 1
    # the neurons whose spike trains are the same in both (a membrane within rounding of the
    # threshold can make one differ; the pair sums of the others must agree)
    keep = np.all(spikes_b == post, axis=0)
    residual = (dw_b - dw_c - predicted)[keep]
    return out | {
        "neurons_with_identical_post_spikes": int(keep.sum()),
        "max_abs_difference": float(np.abs(dw_b - dw_c)[keep].max()),
        "max_abs_difference_after_same_step_term": float(np.abs(residual).max()),
        "relative_difference_after_same_step_term": float(
            np.linalg.norm(residual) / np.linalg.norm(dw_b[keep])
        ),
        "dw_brian2_less_same_step_term": (dw_b - predicted)[keep],
        "dw_credax": dw_c[keep],
    }


def learning_inputs(args):
    """Per trial, the input spikes ``(trials, T_trial, n_in)`` as a function of the trial index,
    and all of them as Brian2's generator indices and steps."""
    steps = int(round(args.stdp_trial / args.stdp_dt))
    trials = int(round(args.stdp_seconds * 1000.0 / args.stdp_trial))
    key = jax.random.key(args.seed + 1)
    rates = jnp.full((args.stdp_inputs,), LEARN["rate"])

    def trial(k):
        return credax.spiking.poisson(jax.random.fold_in(key, k), rates, steps, dt=args.stdp_dt)

    idx, st = [], []
    one = jax.jit(trial)
    for k in range(trials):
        t, i = np.nonzero(np.asarray(one(k)))
        idx.append(i)
        st.append(t + k * steps)
    return trial, steps, trials, np.concatenate(idx), np.concatenate(st)


def stdp_learning_credax(trial, steps, trials, w0, args):
    dyn = credax.spiking.Dynamics(
        dt=args.stdp_dt, tau_mem=TAU_MEM, tau_syn=TAU_SYN, threshold=THRESHOLD,
        refractory=REFRACTORY,
    )  # fmt: skip
    layer = lif_layer(w0, dyn, steps)
    w_max = learning_w_max(args)
    a_plus = LEARN["a_plus_frac"] * w_max
    rule = credax.stdp(
        a_plus=a_plus, a_minus=LEARN["ratio"] * a_plus, tau_plus=20.0, tau_minus=20.0,
        bounds="additive", w_max=w_max, w_min=0.0,
    )  # fmt: skip
    opt = optax.sgd(1.0)
    params, static = eqx.partition(layer, eqx.is_array)
    opt_state = opt.init(params)

    def step(carry, k):
        params, opt_state = carry
        layer = eqx.combine(params, static)
        x = trial(k)
        g, _ = rule.update(layer, rule.init(0, layer), x[None])
        rate = jnp.mean(layer(x)) * (1000.0 / args.stdp_dt)
        u, opt_state = opt.update(eqx.filter(g, eqx.is_array), opt_state, params)
        return (eqx.apply_updates(params, u), opt_state), rate

    run = jax.jit(lambda p, s: jax.lax.scan(step, (p, s), jnp.arange(trials)))
    t0 = time.perf_counter()
    (params, _), rates = jax.block_until_ready(run(params, opt_state))
    return np.asarray(params.weight[0], np.float64), np.asarray(rates), time.perf_counter() - t0


def learning_w_max(args):
    """``w_max`` for ``--stdp-inputs`` inputs: 0.03 for 1000, scaled to the same total drive."""
    return LEARN["w_max"] * 1000.0 / args.stdp_inputs


def weight_summary(w, w_max):
    u = np.asarray(w) / w_max
    return {
        "mean_over_w_max": float(u.mean()),
        "fraction_below_0.1_w_max": float((u < 0.1).mean()),
        "fraction_above_0.9_w_max": float((u > 0.9).mean()),
        "histogram_10_bins": np.histogram(u, bins=10, range=(0, 1))[0].tolist(),
    }


# --- NIR -----------------------------------------------------------------------------------------


def nir_round_trip(tmp, seed):
    net = credax.spiking.network(
        [100, 50, 10], 200, key=seed, readout=None, dt=0.5, weight_scale=4.0
    )
    path = tmp / "credax.nir"
    nir.write(path, credax.spiking.to_nir(net))
    back = credax.spiking.from_nir(str(path), steps=200)
    x = credax.spiking.poisson(jax.random.key(seed + 7), jnp.full((32, 100), 40.0), 200, dt=0.5)
    x = jnp.swapaxes(x, 0, 1)
    ta, tb = credax.nets.trace(net, x), credax.nets.trace(back, x)
    same_w = all(
        np.array_equal(np.asarray(a.weight), np.asarray(b.weight))
        for a, b in zip(credax.nets.find_layers(net), credax.nets.find_layers(back))
    )
    return {
        "network": "credax.spiking.network([100, 50, 10], 200, dt=0.5) with exponential synapses",
        "nodes": sorted(type(n).__name__ for n in nir.read(path).nodes.values()),
        "weights_bitwise_equal": same_w,
        "hidden_spikes": int(np.asarray(ta.outputs[0]).sum()),
        "spikes_identical": bool(np.array_equal(np.asarray(ta.outputs[0]), tb.outputs[0])),
        "membranes_identical": all(
            np.array_equal(np.asarray(a["membrane"]), np.asarray(b["membrane"]))
            for a, b in zip(ta.internals, tb.internals)
        ),
        "readout_identical": bool(np.array_equal(np.asarray(ta.output), np.asarray(tb.output))),
    }


def _kappa(ts, tm, dt):
    a, b = np.exp(-dt / ts), np.exp(-dt / tm)
    return np.where(np.isclose(ts, tm), dt / tm * b, ts / (ts - tm) * (a - b))


def euler_matched(graph, dt):
    """``graph`` with its τ's rewritten so that credax's exact steps equal a forward-Euler
    simulator's at ``dt`` (see the module docstring)."""
    for node in graph.nodes.values():
        if isinstance(node, nir.LIF):
            tau = np.asarray(node.tau, np.float64)
            new = -dt / np.log1p(-dt / tau)
            node.r, node.tau = np.asarray(node.r, np.float64) * new / tau, new
        elif isinstance(node, nir.CubaLIF):
            tm, ts = np.asarray(node.tau_mem, np.float64), np.asarray(node.tau_syn, np.float64)
            tm2, ts2 = -dt / np.log1p(-dt / tm), -dt / np.log1p(-dt / ts)
            node.w_in = np.asarray(node.w_in, np.float64) * ts2 / ts
            node.r = np.asarray(node.r, np.float64) * (dt / tm) / _kappa(ts2, tm2, dt)
            node.tau_mem, node.tau_syn = tm2, ts2
    return graph


def nir_snntorch(peer, tmp, seed, quick):
    steps, batch = (120, 4) if quick else (300, 8)
    rng = np.random.default_rng(seed)
    x = (rng.random((batch, steps, 20)) < 0.15).astype(np.float32)
    np.savez(tmp / "snn_x.npz", x=x)
    out = {}
    for neuron in ("leaky", "synaptic"):
        cfg = {
            "seed": seed, "n_in": 20, "n_hidden": 32, "n_out": 10, "neuron": neuron,
            "beta": 0.9, "alpha": 0.8, "weight_scale": 3.0, "data": str(tmp / "snn_x.npz"),
            "nir_out": str(tmp / f"{neuron}.nir"), "arrays_out": str(tmp / f"{neuron}.npz"),
            "out": str(tmp / f"{neuron}.json"),
        }  # fmt: skip
        (tmp / f"{neuron}.cfg.json").write_text(json.dumps(cfg))
        rec = run_peer(peer, "snntorch_nir_run.py", tmp / f"{neuron}.cfg.json", cfg["out"])
        if "failed" in rec or "missing" in rec:
            out[neuron] = rec
            continue
        with np.load(cfg["arrays_out"]) as z:
            peer_arrays = {k: z[k] for k in z.files}
        rec["imports"] = {}
        for how in ("straight", "matched"):
            g = nir.read(cfg["nir_out"])
            if how == "matched":
                g = euler_matched(g, 1e-4)
            net = credax.spiking.from_nir(g, steps=steps, dt=1e-4)
            t = credax.nets.trace(net, jnp.asarray(x))
            layers = []
            for layer, key in ((0, "s1"), (1, "s2")):
                shift = layer + 1 if (how == "matched" and neuron == "synaptic") else 0
                c, s = np.asarray(t.outputs[layer]), peer_arrays[key]
                c_w, s_w = c[:, shift:], s[:, : steps - shift]
                quiet = (c_w == 0) & (s_w == 0)
                u = np.asarray(t.internals[layer]["membrane"])[:, shift:]
                su = peer_arrays["u" + key[1]][:, : steps - shift]
                layers.append(
                    {
                        "shift_steps": shift,
                        "spikes_credax": int(c_w.sum()),
                        "spikes_snntorch": int(s_w.sum()),
                        "mismatched_spikes": int(np.abs(c_w - s_w).sum()),
                        "max_abs_dv_where_neither_spikes": float(np.abs(u - su)[quiet].max()),
                    }
                )
            rec["imports"][how] = layers
        rec["nodes_credax"] = [type(m).__name__ for m in net.layers]
        out[neuron] = rec
    return out


# --- main ----------------------------------------------------------------------------------------


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=10000, help="steps of the LIF runs")
    p.add_argument("--dt", type=float, default=0.1, help="ms")
    p.add_argument("--inputs", type=int, default=100)
    p.add_argument("--neurons", type=int, default=50)
    p.add_argument("--rate", type=float, default=20.0, help="Hz")
    p.add_argument("--seeds", type=int, default=64, help="seeds of the many-seed timing")
    p.add_argument("--repeats", type=int, default=5, help="timed runs (median)")
    p.add_argument("--stdp-inputs", type=int, default=1000)
    p.add_argument("--stdp-seconds", type=float, default=100.0)
    p.add_argument("--stdp-trial", type=float, default=500.0, help="ms per credax update")
    p.add_argument("--stdp-dt", type=float, default=0.5, help="ms")
    p.add_argument("--targets", default="numpy,cython", help="Brian2 targets timed")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--brian2", default=str(ROOT / ".peers" / "brian2"), help="its venv")
    p.add_argument("--snntorch", default=str(ROOT / ".peers" / "snntorch"), help="its venv")
    p.add_argument("--quick", action="store_true", help="a smoke run (a minute or two)")
    p.add_argument("--out", default=None, help="path without suffix (.json and .png)")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.seeds, args.repeats = 2000, 4, 2
        args.stdp_inputs, args.stdp_seconds, args.stdp_trial = 200, 4.0, 500.0
        args.targets = "numpy"
    for name in ("steps", "inputs", "neurons", "seeds", "repeats", "stdp_inputs"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    for name in ("dt", "rate", "stdp_seconds", "stdp_trial", "stdp_dt"):
        if not getattr(args, name) > 0:
            p.error(f"--{name.replace('_', '-')} must be > 0")
    targets = [t for t in args.targets.split(",") if t]
    if not targets or any(t not in ("numpy", "cython") for t in targets):
        p.error(f"--targets: expected numpy and/or cython, got {args.targets!r}")
    out = Path(
        args.out
        or (
            ROOT / "runs" / "spiking_vs_brian2_quick"
            if args.quick
            else RESULTS / "spiking_vs_brian2"
        )
    )

    wall0 = time.perf_counter()
    load_start = os.getloadavg()
    print(
        f"{args.inputs} Poisson inputs at {args.rate:g} Hz -> {args.neurons} LIF neurons, "
        f"{args.steps} steps of {args.dt:g} ms, on {jax.default_backend()}",
        flush=True,
    )
    peers = {
        "brian2": _peer(args.brian2, "brian2", "brian2"),
        "snntorch": _peer(args.snntorch, "snntorch", "snntorch.export_nir"),
    }
    data = make_network_data(args)
    results, problems = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        brian = run_brian2(data, args, peers["brian2"], targets, tmp)
        problems += [f"brian2: {brian[k]}" for k in ("missing", "failed") if k in brian]
        results["lif"] = compare_lif(data, brian, args)
        print("credax timing ...", flush=True)
        results["timing"] = {"credax": credax_timing(data, args), "brian2": brian_timing(brian)}
        results["stdp_exact"] = stdp_exact(data, brian.get("cases", {}).get("stdp_exact", {}), args)
        results["stdp_learning"] = run_learning(args, peers["brian2"], tmp)
        print("NIR ...", flush=True)
        results["nir_round_trip"] = nir_round_trip(tmp, args.seed)
        results["nir_snntorch"] = nir_snntorch(peers["snntorch"], tmp, args.seed, args.quick)
    for part in ("lif", "stdp_learning"):
        for name, r in results[part].items():
            if isinstance(r, dict) and ("failed" in r or "missing" in r):
                problems.append(f"{part} {name}: {r.get('failed') or r.get('missing')}")
    for name, r in results["nir_snntorch"].items():
        if "failed" in r or "missing" in r:
            problems.append(f"snntorch {name}: {r.get('failed') or r.get('missing')}")
    problems = list(dict.fromkeys(problems))

    summary = summarize(results)
    print_table(results, summary, args)
    wall = time.perf_counter() - wall0
    load = machine_load(load_start, "times")
    print(f"wall time {wall:.0f} s")
    dw = results["stdp_exact"]
    arrays_for_plot = {k: dw.pop(k, None) for k in ("dw_brian2_less_same_step_term", "dw_credax")}
    write_json(
        Path(f"{out}.json"),
        {
            "benchmark": "spiking_vs_brian2",
            "command": "python benchmarks/spiking_vs_brian2.py " + " ".join(argv or sys.argv[1:]),
            "setup": setup_record(args, data),
            "peers": {
                k: {kk: vv for kk, vv in v.items() if kk != "python"} for k, v in peers.items()
            },
            "install": CREATE,
            "environment": {**environment(), **load, "wall_seconds": wall},
            "versions": _versions(brian),
            "published": PUBLISHED,
            "differences": DIFFERENCES,
            "summary": summary,
            "problems": problems,
            "results": results,
        },
    )
    plot(results, data, arrays_for_plot, args, f"{out}.png")
    print(f"wrote {out}.json and {out}.png")
    if problems:
        print("problems: " + "; ".join(problems))


PUBLISHED = {
    "brian2": "Stimberg, Brette & Goodman (2019), eLife 8:e47314: Brian2 itself on the same "
    "network and input spikes is the reference (identical spikes expected where the schedules "
    "agree)",
    "stdp": "Song, Miller & Abbott (2000), Nat. Neurosci. 3:919, Fig. 2 (and Brian2's STDP "
    "example): additive STDP with A₋τ₋ > A₊τ₊ drives the weights to a bimodal distribution at "
    "0 and g_max and stabilises the output rate",
    "nir": "Pedersen et al. (2024), Nat. Commun. 15:8122; snnTorch (Eshraghian et al. 2023, "
    "Proc. IEEE 111:1016) simulating its own exported network is the reference",
}


def run_brian2(data, args, peer, targets, tmp):
    """All Brian2 runs in one subprocess: the LIF variants, the timing runs and STDP (exact)."""
    cases = []
    common = dict(
        n_in=args.inputs, n_out=args.neurons, dt=args.dt, steps=args.steps, tau_mem=TAU_MEM,
        threshold=THRESHOLD, target="numpy",
    )  # fmt: skip
    beta = data["beta"]
    for name, c in CASES.items():
        w = {"jump": data["jump"], "jump/beta": data["jump"] / beta, "W": data["w"][True]}
        f = spike_file(tmp / f"{name}.npz", data["x"], w[c["weight"]])
        cases.append(
            {
                **common, "name": name, "kind": "lif", "data": f, "record_v": True,
                "tau_syn": TAU_SYN if c["synaptic"] else None, "schedule": c["schedule"],
                "refractory": REFRACTORY + c["extra"] * args.dt,
            }
        )  # fmt: skip
    f1 = spike_file(tmp / "time_1.npz", data["x"], data["w"][True])
    fm = spike_file(tmp / "time_many.npz", data["many"], data["w"][True])
    for target in targets:
        for copies, f in ((1, f1), (args.seeds, fm)):
            cases.append(
                {
                    **common, "name": f"time_{target}_{copies}", "kind": "lif", "data": f,
                    "tau_syn": TAU_SYN, "schedule": "default", "target": target,
                    "refractory": REFRACTORY + args.dt, "copies": copies, "repeats": 3,
                }
            )  # fmt: skip
    cases.append(
        {
            **common, "name": "stdp_exact", "kind": "stdp", "data": f1, "tau_syn": TAU_SYN,
            "schedule": "default", "refractory": REFRACTORY + args.dt, "plastic": "frozen",
            "w_max": 1.0, **STDP,
        }
    )  # fmt: skip
    cfg = {"out_dir": str(tmp / "brian2"), "out": str(tmp / "brian2.json"), "cases": cases}
    (tmp / "brian2.cfg.json").write_text(json.dumps(cfg))
    print(f"Brian2: {len(cases)} runs ...", flush=True)
    rec = run_peer(peer, "brian2_run.py", tmp / "brian2.cfg.json", cfg["out"])
    if "cases" not in rec:
        return rec
    by_name = {}
    for c in rec["cases"]:
        if "arrays" in c:
            with np.load(c["arrays"]) as z:
                c["arrays"] = {k: z[k] for k in z.files}
        by_name[c["name"]] = c
    return {"versions": rec["versions"], "cases": by_name}


def compare_lif(data, brian, args):
    out = {}
    sims = {}
    for synaptic in (False, True):
        layer = lif_layer(data["w"][synaptic], data["dyn"][synaptic], args.steps)
        t = credax.nets.trace(layer, jnp.asarray(data["x"])[None])
        sims[synaptic] = (np.asarray(t.outputs[0][0]), np.asarray(t.internals[0]["membrane"][0]))
    for name, c in CASES.items():
        b = brian.get("cases", {}).get(name)
        if b is None or "arrays" not in b:
            out[name] = {"expect": c["expect"]} | (
                {"failed": b["failed"]} if b else {"missing": "no Brian2 run"}
            )
            continue
        s, u = sims[c["synaptic"]]
        out[name] = {"expect": c["expect"], **compare_runs(s, u, b["arrays"], c["shift"], args.dt)}
    b = brian.get("cases", {}).get("synaptic_default", {}).get("arrays")
    show = min(args.steps, int(round(200 / args.dt)))
    out["trace_neuron0_200ms"] = {
        "credax": significant(sims[True][1][:show, 0], 5),
        "brian2": None if b is None else significant(b["v"][0, :show], 5),
    }
    out["credax_rates_hz"] = {
        ("synaptic" if k else "current"): float(v[0].mean() * 1000.0 / args.dt)
        for k, v in sims.items()
    }
    return out


def brian_timing(brian):
    out = {}
    for name, c in brian.get("cases", {}).items():
        if name.startswith("time_") and "timings" in c:
            runs = [t["run_seconds"] for t in c["timings"]]
            compiled = [t.get("cython_extensions_compiled") for t in c["timings"]]
            # Brian2's runtime mode sometimes compiles a Cython extension again in a later run
            # of the same network: time the runs after the first that compiled nothing
            clean = [r for r, k in zip(runs[1:], compiled[1:]) if not k] or runs[-1:]
            out[name] = {
                "first_run_seconds": runs[0],
                "seconds": float(np.median(clean)),
                "runs_seconds": runs,
                "cython_extensions_compiled": compiled,
            }
        elif name.startswith("time_"):
            out[name] = {k: v for k, v in c.items() if k == "failed"}
    return out


def run_learning(args, peer, tmp):
    print("STDP learning ...", flush=True)
    trial, steps, trials, idx, st = learning_inputs(args)
    w_max = learning_w_max(args)
    w0 = np.asarray(
        jax.random.uniform(jax.random.key(args.seed + 2), (1, args.stdp_inputs)) * w_max,
        np.float32,
    )
    w_c, rates_c, secs_c = stdp_learning_credax(trial, steps, trials, w0, args)
    rec = {
        "credax": {
            **weight_summary(w_c, w_max),
            "rate_first_hz": float(rates_c[: max(1, trials // 10)].mean()),
            "rate_last_hz": float(rates_c[-max(1, trials // 10) :].mean()),
            "seconds": secs_c,
        }
    }
    np.savez(
        tmp / "learn.npz",
        pre_index=idx.astype(np.int32),
        pre_step=st.astype(np.int64),
        weights=w0.astype(np.float64),
    )
    a_plus = LEARN["a_plus_frac"] * w_max
    case = {
        "name": "stdp_learning", "kind": "stdp", "data": str(tmp / "learn.npz"),
        "n_in": args.stdp_inputs, "n_out": 1, "dt": args.stdp_dt, "steps": steps * trials,
        "tau_mem": TAU_MEM, "tau_syn": TAU_SYN, "threshold": THRESHOLD,
        "refractory": REFRACTORY + args.stdp_dt, "schedule": "default", "plastic": "online",
        "target": "cython" if "cython" in args.targets else "numpy", "w_max": w_max,
        "a_plus": a_plus, "a_minus": LEARN["ratio"] * a_plus, "tau_plus": 20.0,
        "tau_minus": 20.0,
    }  # fmt: skip
    cfg = {"out_dir": str(tmp / "brian2_learn"), "out": str(tmp / "learn.json"), "cases": [case]}
    (tmp / "learn.cfg.json").write_text(json.dumps(cfg))
    b = run_peer(peer, "brian2_run.py", tmp / "learn.cfg.json", cfg["out"])
    if "cases" not in b or "arrays" not in b["cases"][0]:
        rec["brian2"] = b["cases"][0] if "cases" in b else b
        return rec
    c = b["cases"][0]
    with np.load(c["arrays"]) as z:
        w_b, spike_step = z["weights"][0], z["spike_step"]
    seconds = steps * trials * args.stdp_dt / 1000.0
    tenth = seconds / 10
    t_spk = spike_step * args.stdp_dt / 1000.0
    rec["brian2"] = {
        **weight_summary(w_b, w_max),
        "rate_first_hz": float((t_spk < tenth).sum() / tenth),
        "rate_last_hz": float((t_spk >= seconds - tenth).sum() / tenth),
        "seconds": c["timings"][-1]["run_seconds"],
        "target": c["target"],
    }
    rec["weight_correlation"] = float(np.corrcoef(w_c, w_b)[0, 1])
    rec["initial"] = weight_summary(w0[0], w_max)
    rec["final_weights"] = {
        "credax": significant(w_c / w_max, 3),
        "brian2": significant(w_b / w_max, 3),
    }
    return rec


def summarize(results):
    lif = results["lif"]
    expected_identical = [
        n for n, c in CASES.items() if c["expect"].startswith("identical") and "identical" in lif[n]
    ]
    rounding = [
        n
        for n in expected_identical
        if not lif[n]["identical"] and lif[n]["max_threshold_margin_at_first_mismatch"] < 1e-5
    ]
    s = {
        "identical_where_expected": all(lif[n]["identical"] for n in expected_identical)
        if expected_identical
        else None,
        # expected identical, and differing only after a membrane within 1e-5 of the threshold
        # (float32 against float64)
        "cases_differing_by_rounding_only": rounding,
        "cases_identical": [n for n in CASES if lif[n].get("identical")],
        # membranes: every step of the identical cases; before each neuron's first mismatch in
        # the cases differing by rounding
        "max_abs_dv_identical_cases": max(
            (lif[n]["max_abs_dv"] for n in expected_identical if lif[n]["identical"]),
            default=None,
        ),
        "max_abs_dv_before_first_mismatch_rounding_cases": max(
            (lif[n]["max_abs_dv_before_first_mismatch"] for n in rounding), default=None
        ),
    }
    for n in ("current_default", "synaptic_default_refractory"):
        if "mismatched_spikes" in lif[n]:
            s[f"{n}_mismatched_spikes"] = lif[n]["mismatched_spikes"]
    t = results["timing"]
    s["credax_one_seed_s"] = t["credax"]["one_seed"]["seconds"]
    s["credax_many_seeds_s"] = t["credax"]["many_seeds"]["seconds"]
    for k, v in t["brian2"].items():
        if "seconds" in v:
            s[f"brian2_{k[5:]}_s"] = v["seconds"]
    e = results["stdp_exact"]
    if "max_abs_difference_after_same_step_term" in e:
        s["stdp_exact_residual"] = e["max_abs_difference_after_same_step_term"]
    learn = results["stdp_learning"]
    if "fraction_below_0.1_w_max" in learn.get("brian2", {}):
        s["stdp_learning_weight_correlation"] = learn["weight_correlation"]
    r = results["nir_round_trip"]
    s["nir_round_trip_identical"] = r["spikes_identical"] and r["membranes_identical"]
    for neuron, rec in results["nir_snntorch"].items():
        if "imports" in rec:
            for how, layers in rec["imports"].items():
                s[f"snntorch_{neuron}_{how}_mismatched_spikes"] = sum(
                    x["mismatched_spikes"] for x in layers
                )
    return s


def _fmt(v, digits=3):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def print_table(results, summary, args):
    print("\nLIF networks, credax vs Brian2 on the same input spikes (published reference: Brian2)")
    print(f"{'case':30s} {'shift':>5s} {'credax':>7s} {'brian2':>7s} {'mism.':>6s} "
          f"{'max Δt ms':>9s} {'max|ΔU|':>9s}  expected")  # fmt: skip
    for name, c in CASES.items():
        r = results["lif"][name]
        if "mismatched_spikes" not in r:
            print(f"{name:30s} {r.get('failed') or r.get('missing')}")
            continue
        margin = r["max_threshold_margin_at_first_mismatch"]
        note = "" if margin is None else f" [first mismatches within {margin:.1g} of threshold]"
        print(
            f"{name:30s} {r['shift_steps']:5d} {r['spikes_credax']:7d} {r['spikes_brian2']:7d} "
            f"{r['mismatched_spikes']:6d} {_fmt(r['max_time_difference_ms']):>9s} "
            f"{_fmt(r['max_abs_dv'], 2):>9s}  {c['expect']}{note}"
        )
    t = results["timing"]
    print(f"\nwall time of the synaptic network ({args.steps} steps), compile excluded:")
    print(
        f"  credax: 1 seed {t['credax']['one_seed']['seconds'] * 1e3:.1f} ms, "
        f"{args.seeds} seeds (vmap) {t['credax']['many_seeds']['seconds'] * 1e3:.1f} ms"
    )
    for k, v in t["brian2"].items():
        if "seconds" in v:
            print(
                f"  brian2 {k[5:]}: {v['seconds']:.2f} s (first run {v['first_run_seconds']:.2f} "
                f"s; Cython extensions compiled per run {v['cython_extensions_compiled']})"
            )
    e = results["stdp_exact"]
    if "max_abs_difference" in e:
        print(
            f"\nSTDP summed over {args.steps * args.dt / 1000:g} s, the "
            f"{e['neurons_with_identical_post_spikes']} neurons with the same post spikes: max "
            f"|Δw_brian2 - Δw_credax| "
            f"{e['max_abs_difference']:.3g} (max |Δw| {e['max_abs_dw_credax']:.3g}); after the "
            f"predicted same-step term ((A₊+A₋)/2 × {e['pairs_same_step']} pairs) "
            f"{e['max_abs_difference_after_same_step_term']:.2g}"
        )
    learn = results["stdp_learning"]
    print(f"\nSTDP learning, {args.stdp_inputs} inputs -> 1 neuron, {args.stdp_seconds:g} s "
          "(published: Song et al. 2000 Fig. 2, bimodal weights at 0 and w_max)")  # fmt: skip
    for who in ("credax", "brian2"):
        r = learn.get(who, {})
        if "mean_over_w_max" in r:
            print(
                f"  {who:7s} mean w/w_max {r['mean_over_w_max']:.2f}, <0.1 w_max "
                f"{r['fraction_below_0.1_w_max']:.2f}, >0.9 w_max "
                f"{r['fraction_above_0.9_w_max']:.2f}, rate {r['rate_first_hz']:.0f} -> "
                f"{r['rate_last_hz']:.0f} Hz, histogram {r['histogram_10_bins']}"
            )
        else:
            print(f"  {who}: {r}")
    if "weight_correlation" in learn:
        print(
            f"  correlation of final weights, synapse by synapse: {learn['weight_correlation']:.2f}"
        )
    r = results["nir_round_trip"]
    print(
        f"\nNIR round trip (file): weights bitwise {r['weights_bitwise_equal']}, spikes identical "
        f"{r['spikes_identical']}, membranes identical {r['membranes_identical']}"
    )
    for neuron, rec in results["nir_snntorch"].items():
        if "imports" not in rec:
            print(f"snnTorch {neuron}: {rec}")
            continue
        for how, layers in rec["imports"].items():
            cells = ", ".join(
                f"layer {i}: {x['mismatched_spikes']}/{x['spikes_snntorch']} mismatched"
                + (f" (shift {x['shift_steps']})" if x["shift_steps"] else "")
                + f", max|ΔU| {x['max_abs_dv_where_neither_spikes']:.2g}"
                for i, x in enumerate(layers)
            )
            print(f"snnTorch {neuron:8s} {how:8s} {cells}")


def plot(results, data, dw, args, path):
    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    layer = lif_layer(data["w"][True], data["dyn"][True], args.steps)
    s = np.asarray(layer(jnp.asarray(data["x"])))
    trace = results["lif"]["trace_neuron0_200ms"]
    show = len(trace["credax"])
    time_ms = np.arange(show) * args.dt
    ax = axes[0, 0]
    ax.plot(time_ms, trace["credax"], label="credax U (neuron 0)")
    if trace["brian2"] is not None:
        ax.plot(time_ms, trace["brian2"], "--", label="Brian2 v (neuron 0)")
    ax.axhline(THRESHOLD, color="k", lw=0.5)
    ax.set(xlabel="ms", ylabel="membrane", title="synaptic LIF: membrane and spikes")
    tt, ii = np.nonzero(s[:show, :20])
    ax2 = ax.twinx()
    ax2.scatter(tt * args.dt, ii, s=4, color="C1", label="credax spikes")
    ax2.set_ylabel("neuron (first 20)")
    ax.legend(loc="upper left", fontsize=8)
    ax = axes[0, 1]
    names = [n for n in CASES if "mismatched_spikes" in results["lif"][n]]
    ax.bar(range(len(names)), [results["lif"][n]["mismatched_spikes"] for n in names])
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([n.replace("_", "\n") for n in names], fontsize=7)
    ax.set(ylabel="mismatched spikes", title="credax vs Brian2 (spike by spike)")
    ax = axes[0, 2]
    tim = results["timing"]
    labels = ["credax 1", f"credax {args.seeds}"]
    vals = [tim["credax"]["one_seed"]["seconds"], tim["credax"]["many_seeds"]["seconds"]]
    for k, v in tim["brian2"].items():
        if "seconds" in v:
            labels.append("brian2 " + k[5:].replace("_", " "))
            vals.append(v["seconds"])
    ax.bar(range(len(vals)), vals)
    ax.set_xticks(range(len(vals)))
    ax.set_xticklabels(labels, fontsize=7, rotation=30)
    ax.set(ylabel="seconds", yscale="log", title=f"wall time, {args.steps} steps")
    ax = axes[1, 0]
    if dw.get("dw_brian2_less_same_step_term") is not None:
        ax.scatter(dw["dw_credax"].ravel(), dw["dw_brian2_less_same_step_term"].ravel(), s=2)
        ax.set(
            xlabel="Δw credax",
            ylabel="Δw Brian2 - (A₊+A₋)/2 × same-step pairs",
            title="STDP summed change (same spikes)",
        )
    ax = axes[1, 1]
    learn = results["stdp_learning"]
    if "final_weights" in learn:
        bins = np.linspace(0, 1, 21)
        ax.hist(learn["final_weights"]["credax"], bins, alpha=0.6, label="credax (per trial)")
        ax.hist(learn["final_weights"]["brian2"], bins, alpha=0.6, label="Brian2 (online)")
        ax.legend(fontsize=8)
    ax.set(xlabel="w / w_max", ylabel="synapses", title=f"STDP, {args.stdp_seconds:g} s")
    ax = axes[1, 2]
    rows, vals = [], []
    for neuron, rec in results["nir_snntorch"].items():
        for how, layers in rec.get("imports", {}).items():
            rows.append(f"{neuron}\n{how}")
            vals.append(sum(x["mismatched_spikes"] for x in layers))
    ax.bar(range(len(vals)), vals)
    ax.set_xticks(range(len(vals)))
    ax.set_xticklabels(rows, fontsize=8)
    ax.set(ylabel="mismatched spikes", title="NIR import vs snnTorch")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def setup_record(args, data):
    return {
        "lif": {
            "inputs": args.inputs, "neurons": args.neurons, "rate_hz": args.rate,
            "steps": args.steps, "dt_ms": args.dt, "tau_mem_ms": TAU_MEM, "tau_syn_ms": TAU_SYN,
            "threshold": THRESHOLD, "refractory_ms": REFRACTORY,
            "jumps": "current-based: J uniform on [-0.05, 0.15] (credax W = J/(1-β)); synaptic: "
            "W uniform on [-0.1, 0.3]", "beta": data["beta"],
            "cases": {k: {kk: vv for kk, vv in v.items()} for k, v in CASES.items()},
        },
        "stdp_exact": STDP,
        "stdp_learning": {
            **LEARN, "inputs": args.stdp_inputs, "seconds": args.stdp_seconds,
            "trial_ms": args.stdp_trial, "dt_ms": args.stdp_dt, "w_max": learning_w_max(args),
        },
        "timing": f"compile excluded; credax median of >= {args.repeats} runs; Brian2 the "
        "median of the runs after the first that compiled no Cython extension (the first run "
        "includes code generation)",
    }  # fmt: skip


def _versions(brian) -> dict:
    from importlib.metadata import version

    return {
        "credax": version("credax"),
        "jax": jax.__version__,
        "equinox": version("equinox"),
        "nir": version("nir"),
        "numpy": np.__version__,
        **{f"peer_{k}": v for k, v in brian.get("versions", {}).items()},
    }


if __name__ == "__main__":
    main()
