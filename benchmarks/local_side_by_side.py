"""Local plasticity and Hopfield memories in credax and in its JAX peers side by side: the same
Hebbian, Oja and BCM simulations in credax and in ngclearn (which simulates such rules component
by component), the classic Hopfield network against a NumPy reference of ours, and the modern
Hopfield network against ngclearn's ``HopfieldSynapse`` and hamux's energy descent; identical
results checked, and updates per second for one seed and for many.

Setup, local rules: a one-layer network of ``--inputs`` D = 16 inputs and ``--units`` U = 8
units without biases; ``--steps`` 500 updates, online (batch 1, one example per update, as
classic plasticity simulations run) and in minibatches of 32 (``--batches 1,32``); every seed
has its own initial weights (credax's Glorot-uniform draw, ``credax.nets.mlp``) and its own input
sequence, handed to ngclearn through an ``.npz`` file, so both libraries see the same numbers.

- Hebb: linear units, centred Gaussian inputs with a separated spectrum (variances ``5·0.7^k``
  in a random basis per seed); ``credax.hebb()`` and SGD ``lr = 1e-3``; ngclearn
  ``HebbianSynapse(eta=lr/B, sign_value=-1, w_bound=0)`` (a batch sum where credax takes the
  mean: hence ``lr/B``; ``w_bound=0`` turns off its soft bound and clipping, on by default).
- Oja: the same inputs and units, ``credax.oja()``, ``lr = 5e-3``; ngclearn's Oja rule lives in
  ``OjaTensorSynapse`` (a locally connected tensor), used as one dense block (one input stream,
  ``use_block_matrix_format=True``) with ``sign_value = lr/B`` (its step size: ``eta`` is
  unused by its ``evolve``).
- BCM: ReLU units (ngclearn: the synapse into a stateless ``RateCell``), non-negative inputs
  (each example one of 4 uniform-random patterns per seed), weights ``0.5·|W_glorot|``;
  ``credax.bcm(tau_theta=10, theta_init=1)``, ``lr = 5e-3``; ngclearn ``BCMSynapse(tau_w=B/lr,
  tau_theta=10, theta0=1)``. ngclearn's rule divides the postsynaptic term by the threshold,
  ``Δw ∝ x y (y - θ)/θ`` (its docstring's form); credax's is the paper's ``x y (y - θ)``. So
  the weights differ once ``θ`` moves from 1; the script shows that this is the whole
  difference twice: with the threshold frozen (``tau_theta = 1e9``) at ``θ = 2`` (above the
  rates: a stable, depressing regime) ngclearn's division is a constant 1/2, and credax at half
  ngclearn's learning rate agrees with it to rounding (``bcm_frozen``, 8 seeds, not timed); with
  the sliding threshold a NumPy replica of ngclearn's form (ours) agrees with ngclearn.

Setup, Hopfield networks (``--hopfield-seeds`` pattern sets; N = 64 units, cues = stored
patterns with 25% of their signs flipped):

- classic: P = 5 patterns (load 0.08 < 0.138), ``credax.hopfield.store``, ``recall`` (10
  synchronous steps; 5 asynchronous sweeps, each cue with its own key) and ``energy`` against a
  NumPy reference written here (the same unit orders, drawn as credax draws them: ngclearn has
  no classic Hopfield network and hamux no discrete sign dynamics);
- modern: P = 32 patterns (4x the classic capacity), ``β = 0.5``, ``credax.hopfield.modern_recall``
  (10 steps of ``ξ ← Xᵀ softmax(β X ξ)``) against ngclearn's ``HopfieldSynapse`` (the same
  update, fed back from Python) and hamux (a visible layer with the identity Lagrangian, a
  hidden layer with the softmax Lagrangian, patterns as the synapse: the same energy, retrieved
  by gradient descent: one ``α = 1`` visible step from the hidden equilibrium is the one-step
  update exactly; ``--hamux-steps`` 150 steps of ``α = 0.1`` settle to the fixed point).

Timing: compile reported separately; whole runs, the median of ``--repeats`` (one seed) and
``--repeats-many`` (Python loops over many seeds) runs; a compiled program of milliseconds is
run until 0.5 s of runs (up to 200) have been timed, as the machine is shared. Updates per
second = steps x seeds / seconds (Hopfield: recall steps x cues x seeds / seconds). credax runs
a seed, or all ``--seeds`` seeds by ``jax.vmap``, as one compiled program (``lax.scan`` over
steps of ``rule.update`` and ``optax.sgd``); ngclearn runs as its lessons run it, one jitted
process (``advance_state >> evolve``) called per step from Python after clamping the inputs,
seeds in a Python loop; as a diagnostic, ngclearn's compiled step function also runs in a
``lax.scan`` + ``jax.vmap`` written by hand. hamux: a jitted descent step called per step from
Python (seeds in a loop), and the whole descent in a ``lax.fori_loop`` + ``jax.vmap`` written by
us around hamux's energy. The "vmap factor" is credax's many-seed throughput over its one-seed
throughput; the goal is credax faster than each peer at many seeds by at least that factor.
At batch 1 the hand-wrapped ngclearn step can outrun credax (0.5x for Hebb at 64 seeds): it
stores ``W`` as (inputs, units), credax (like equinox) as (units, inputs), and XLA's CPU
backend runs the vmapped 1-example outer product about twice as fast in the first layout. The
same minimal step written by hand (``y = W x``, ``W += η y xᵀ``, scan + vmap, 64 seeds) ran at
17.7M updates/s with ``W`` as (units, inputs) and 34.6M as (inputs, units), where credax's
``hebb`` ran at 17.2M: the gap is the layout, not the rule.

Peers run in their own virtual environments (git-ignored ``.peers/``), through files and a
subprocess per case (``benchmarks/peers/ngclearn_run.py``, ``benchmarks/peers/hamux_run.py``);
hamux 0.2.2 imports ``fastcore`` without declaring it:

    python3 -m venv .peers/ngclearn && .peers/ngclearn/bin/pip install ngclearn==3.2.1
    python3 -m venv .peers/hamux && .peers/hamux/bin/pip install hamux==0.2.2 fastcore
    python benchmarks/local_side_by_side.py [--quick] [--seeds 64] [--steps 500]

Published figure: ngclearn's lesson "Evolving synapses" prints the weight of a 1x1 Hebbian
synapse (``eta = 1``, weight 1, identity units) over the inputs 1, 1, 0, 0, 1: 2, 4, 4, 4, 8.
The script reproduces it with ngclearn and with ``credax.hebb()`` and ``optax.sgd(1.0)``.
Otherwise the references are the peers themselves, Hopfield's load limit ``α ≈ 0.138`` and
Ramsauer et al.'s one-step retrieval.
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
import numpy as np  # noqa: E402
import optax  # noqa: E402
from common import RESULTS, environment, machine_load, peer_env, write_json  # noqa: E402

import credax  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PEERS = Path(__file__).resolve().parent / "peers"
NGCLEARN_VERSION, HAMUX_VERSION = "3.2.1", "0.2.2"
CREATE = {
    "ngclearn": "python3 -m venv .peers/ngclearn && .peers/ngclearn/bin/pip install "
    f"ngclearn=={NGCLEARN_VERSION}",
    "hamux": "python3 -m venv .peers/hamux && .peers/hamux/bin/pip install "
    f"hamux=={HAMUX_VERSION} fastcore",
}
# Each case: credax's rule, activation, inputs, credax's learning rate, ngclearn's (before its
# batch-sum scaling), initial weight scale, threshold constants, whether it is timed.
LOCAL = {
    "hebb": dict(rule=lambda: credax.hebb(), act="identity", data="gauss", lr=1e-3),
    "oja": dict(rule=lambda: credax.oja(), act="identity", data="gauss", lr=5e-3),
    "bcm": dict(
        rule=lambda: credax.bcm(tau_theta=10.0, theta_init=1.0),
        act="relu",
        data="patterns",
        lr=5e-3,
        scale=0.5,
        tau_theta=10.0,
        theta0=1.0,
    ),
    # The explanation check: the threshold frozen (tau 1e9) at θ0 = 2 (above the rates, a
    # stable, depressing regime), where ngclearn's division by θ is a constant 1/2: credax at
    # half ngclearn's learning rate must then agree with it to rounding.
    "bcm_frozen": dict(
        rule=lambda: credax.bcm(tau_theta=1e9, theta_init=2.0),
        act="relu",
        data="patterns",
        lr=2.5e-3,
        lr_ngclearn=5e-3,
        scale=0.5,
        tau_theta=1e9,
        theta0=2.0,
        timed=False,
    ),
}
for _c in LOCAL.values():
    _c.setdefault("scale", 1.0)
    _c.setdefault("timed", True)
    _c.setdefault("lr_ngclearn", _c["lr"])
LESSON = {
    "inputs": [1.0, 1.0, 0.0, 0.0, 1.0],
    "weights": [2.0, 4.0, 4.0, 4.0, 8.0],
    "source": "ngclearn documentation, lesson 'Evolving synaptic efficacies' (model basics)",
}
MIN_TIMED = 0.5  # seconds of timed runs of a compiled program, at least
ACTIVATIONS = {"identity": credax.nets.identity, "relu": jax.nn.relu}
HOPFIELD = {"n": 64, "classic_patterns": 5, "modern_patterns": 32, "cues": 32, "flip": 0.25}
HOPFIELD.update(beta=0.5, modern_steps=10, sync_steps=10, async_sweeps=5, hamux_alpha=0.1)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=64, help="seeds of the many-seed runs")
    p.add_argument("--steps", type=int, default=500, help="updates per run")
    p.add_argument("--batches", default="1,32", help="batch sizes, comma-separated")
    p.add_argument("--inputs", type=int, default=16)
    p.add_argument("--units", type=int, default=8)
    p.add_argument("--hopfield-seeds", type=int, default=None, help="default: --seeds")
    p.add_argument("--hamux-steps", type=int, default=150, help="energy-descent steps")
    p.add_argument("--repeats", type=int, default=5, help="timed runs of one seed (median)")
    p.add_argument("--repeats-many", type=int, default=2, help="timed runs of many seeds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ngclearn", default=str(ROOT / ".peers" / "ngclearn"), help="its venv")
    p.add_argument("--hamux", default=str(ROOT / ".peers" / "hamux"), help="its venv")
    p.add_argument("--quick", action="store_true", help="a smoke run (a minute or two)")
    p.add_argument("--out", default=str(RESULTS / "local_side_by_side"))
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.steps, args.repeats, args.repeats_many = 4, 50, 2, 1
        args.hamux_steps = 100
    if args.hopfield_seeds is None:
        args.hopfield_seeds = args.seeds
    for name in ("seeds", "steps", "inputs", "units", "hopfield_seeds", "hamux_steps"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    try:
        args.batches = [int(b) for b in str(args.batches).split(",")]
    except ValueError:
        p.error(f"--batches: expected comma-separated integers, got {args.batches!r}")
    if not args.batches or min(args.batches) < 1:
        p.error("--batches must be positive")
    if args.repeats < 1 or args.repeats_many < 1:
        p.error("--repeats and --repeats-many must be >= 1")

    wall0 = time.perf_counter()
    load_start = os.getloadavg()
    S, N, D, U = args.seeds, args.steps, args.inputs, args.units
    print(
        f"one layer {D} -> {U}, {N} updates of batch {' and '.join(map(str, args.batches))}, "
        f"1 and {S} seeds, on {jax.default_backend()}",
        flush=True,
    )
    peers = {name: _peer(getattr(args, name), name) for name in ("ngclearn", "hamux")}
    results = {"local": {}, "lesson": None, "hopfield_classic": None, "hopfield_modern": None}
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for B in args.batches:
            data = make_local_data(args.seed, S, N, B, D, U)
            for case, c in LOCAL.items():
                name = f"{case} B={B}"
                rec = run_local_case(case, c, data, args, peers, tmp / name.replace(" ", "_"))
                results["local"][name] = rec
                problems += [
                    f"ngclearn {name}: {rec['ngclearn'][k]}"
                    for k in ("missing", "failed")
                    if k in rec["ngclearn"]
                ]
            del data
        results["lesson"] = run_lesson(peers, tmp)
        results["hopfield_classic"] = run_classic(args)
        results["hopfield_modern"] = run_modern(args, peers, tmp)
        for peer in ("ngclearn", "hamux"):
            r = results["hopfield_modern"][peer]
            problems += [f"{peer} modern Hopfield: {r[k]}" for k in ("missing", "failed") if k in r]
    problems = list(dict.fromkeys(problems))

    summary = summarize(results, S)
    print_table(results, summary, S)
    wall = time.perf_counter() - wall0
    load = machine_load(load_start, "rates")
    print(f"wall time {wall:.0f} s")
    out = args.out
    write_json(
        Path(f"{out}.json"),
        {
            "benchmark": "local_side_by_side",
            "command": "python benchmarks/local_side_by_side.py " + " ".join(argv or sys.argv[1:]),
            "setup": setup_record(args),
            "peers": {
                k: {kk: vv for kk, vv in v.items() if kk != "python"} for k, v in peers.items()
            },
            "install": CREATE,
            "environment": {**environment(), **load, "wall_seconds": wall},
            "versions": _versions(),
            "differences": DIFFERENCES,
            "summary": summary,
            "problems": problems,
            "results": results,
        },
    )
    plot(results, summary, S, f"{out}.png")
    print(f"wrote {out}.json and {out}.png")
    if problems:
        print("problems: " + "; ".join(problems))


DIFFERENCES = [
    "batch: credax's local rules take the batch mean of the coactivity, ngclearn's synapses the "
    "batch sum: ngclearn gets the learning rate divided by the batch size (eta = lr/B, "
    "OjaTensorSynapse sign_value = lr/B, BCMSynapse tau_w = B/lr)",
    "sign: ngclearn's HebbianSynapse descends (W <- W - eta dW), so Hebbian growth needs "
    "sign_value=-1; credax's updates are -Δw for optax.sgd, which adds lr Δw",
    "bounds: ngclearn's HebbianSynapse has w_bound=1 by default, a soft bound dW·(w_bound - |W|) "
    "plus clipping to [-w_bound, w_bound]; credax.hebb has no bound by default and hard bounds "
    "(changes past a reached bound dropped) as an option: not the same rule, so both run "
    "unbounded (w_bound=0)",
    "Oja: ngclearn has no dense Oja synapse; its OjaTensorSynapse (locally connected) with one "
    "input stream and the block-matrix format is dense. Its eta is unused: sign_value is the "
    "step size",
    "BCM: ngclearn divides the postsynaptic term by the threshold (Δw ∝ x y (y - θ)/(θ + 1e-7), "
    "its docstring's form) where credax keeps the paper's x y (y - θ); the threshold update "
    "θ <- θ + (⟨y²⟩ - θ)/τ_θ and its order (Δw from the old θ) are the same. ngclearn's default "
    "theta0 = -1 is not a valid credax theta_init (θ ≥ 0): both start at θ = 1",
    "modern Hopfield, ngclearn: HopfieldSynapse makes the same update (softmax of β times the "
    "similarities, less their maximum) and also computes its energy at every step",
    "modern Hopfield, hamux: retrieval is gradient descent on the energy, both layers at once; "
    "one α = 1 visible step from the hidden equilibrium is Ramsauer's update, smaller steps "
    "reach the same fixed point gradually (hamux needs --hamux-steps steps where credax's "
    "iteration settles in one or two)",
    "classic Hopfield: no peer library (ngclearn's HopfieldSynapse is the modern network, hamux "
    "has no discrete sign dynamics): a NumPy reference written here, given credax's unit orders",
    "execution: credax compiles the whole run (and with vmap all seeds) into one program; "
    "ngclearn is called per step from Python as its lessons do, seeds in a Python loop",
    "ngclearn's compiled step in a hand-written scan + vmap (a diagnostic, not a documented "
    "use) keeps up with or beats credax: two causes measured outside this script. ngclearn "
    "stores W as inputs x units, credax (like equinox) as units x inputs; on this CPU a "
    "hand-written Hebbian step at batch 1 runs ~2x faster over 64 seeds with the former "
    "layout. And credax.oja forms the full U x U matrix <y yᵀ> and applies diag(<y yᵀ>) @ W as "
    "a matmul (plus Sanger's unit mask) even without components=: a hand-written step in that "
    "form is as slow as credax.oja, ~5x slower than the elementwise <y²> W form",
    "vmap factor on this CPU (2 shared cores): about 2-4 at batch 1 and 0.5-1.2 at batch 32. "
    "At batch 32 one seed's step already keeps XLA's small CPU matmuls busy and their batched "
    "(vmapped) form is no cheaper per seed, so credax's margin over ngclearn's documented "
    "per-step loop comes from compiling the loop, not from vmap",
]


def run_local_case(case, c, data, args, peers, tmp):
    """One local rule at one batch size: credax, then ngclearn on the same inputs and weights."""
    tmp.mkdir()
    x, w0 = data[c["data"]][0], data[c["data"]][1] * c["scale"]
    np.savez(tmp / "data.npz", x=x, w0=np.swapaxes(w0, 1, 2))
    print(f"{case}, batch {x.shape[2]}:", flush=True)
    rec = {"credax": run_credax(c["rule"](), c["act"], c["lr"], w0, x, args, c["timed"])}
    rec["ngclearn"] = run_peer(
        peers["ngclearn"],
        "ngclearn_run.py",
        tmp,
        case,
        {
            "case": case,
            "data": str(tmp / "data.npz"),
            "lr": c["lr_ngclearn"],
            "activation": c["act"],
            "tau_theta": c.get("tau_theta"),
            "theta0": c.get("theta0"),
            "n_seeds": args.seeds if c["timed"] else min(args.seeds, 8),
            "time": c["timed"],
            "repeats": args.repeats,
            "repeats_many": args.repeats_many,
        },
    )
    agree_local(case, rec, x, w0)
    for r in rec["credax"].values():  # compared above; too bulky for the JSON
        r.pop("final_weights")
    (tmp / "data.npz").unlink()
    return rec


def run_lesson(peers, tmp):
    """ngclearn's published lesson output, from ngclearn and from credax."""
    xs = LESSON["inputs"]
    net = credax.nets.mlp([1, 1], activation=credax.nets.identity, use_bias=False, key=0)
    net = eqx.tree_at(lambda q: q.layers[0].weight, net, jnp.ones((1, 1)))
    rule, opt, path = credax.hebb(), optax.sgd(1.0), []
    state, opt_state = rule.init(0, net), opt.init(net)
    for x in xs:
        g, state = rule.update(net, state, jnp.full((1, 1), x, jnp.float32))
        upd, opt_state = opt.update(g, opt_state, net)
        net = optax.apply_updates(net, upd)
        path.append(float(net.layers[0].weight[0, 0]))
    rec = {"published": LESSON, "credax": path}
    got = run_peer(
        peers["ngclearn"], "ngclearn_run.py", tmp, "lesson", {"case": "lesson", "inputs": xs}
    )
    rec["ngclearn"] = got.get("weights") or {k: got[k] for k in ("missing", "failed") if k in got}
    ok = path == LESSON["weights"] and rec["ngclearn"] == LESSON["weights"]
    rec["reproduced"] = ok
    print(
        f"ngclearn's lesson (1x1 Hebbian synapse, inputs {xs}): published {LESSON['weights']}, "
        f"credax {path}, ngclearn {rec['ngclearn']}",
        flush=True,
    )
    return rec


# --- data ---------------------------------------------------------------------------------------


def make_local_data(seed, n_seeds, steps, batch, d, u):
    """Per seed: inputs ``(S, steps, B, D)`` and credax's initial weights ``(S, U, D)``, for the
    Gaussian inputs (Hebb, Oja) and the pattern inputs (BCM)."""
    rng = np.random.default_rng(seed)
    sd = np.sqrt(5.0 * 0.7 ** np.arange(d))
    gauss = np.empty((n_seeds, steps, batch, d), np.float32)
    pats = np.empty_like(gauss)
    for s in range(n_seeds):
        q, _ = np.linalg.qr(rng.normal(size=(d, d)))
        gauss[s] = (rng.normal(size=(steps, batch, d)) * sd) @ q.T
        pat = rng.uniform(size=(4, d))
        pats[s] = pat[rng.integers(0, 4, (steps, batch))]
    keys = jax.random.split(jax.random.key(seed), n_seeds)
    w0 = np.asarray(
        jax.vmap(
            lambda k: (
                credax.nets.mlp([d, u], activation=credax.nets.identity, key=k).layers[0].weight
            )
        )(keys)
    )
    return {"gauss": (gauss, w0), "patterns": (pats, np.abs(w0))}


# --- credax --------------------------------------------------------------------------------------


def make_run(rule, act, lr, d, u):
    """``(w0 (U, D), xs (steps, B, D)) -> W``: ``rule.update`` and SGD in a ``lax.scan``."""
    opt = optax.sgd(lr)
    f = ACTIVATIONS[act]
    template = credax.nets.mlp([d, u], activation=f, final_activation=f, use_bias=False, key=0)

    def run(w0, xs):
        params = eqx.tree_at(lambda q: q.layers[0].weight, template, w0)
        state = rule.init(jax.random.key(0), params)

        def step(carry, x):
            params, state, opt_state = carry
            g, state = rule.update(params, state, x)
            upd, opt_state = opt.update(g, opt_state, params)
            return (optax.apply_updates(params, upd), state, opt_state), None

        (params, _, _), _ = jax.lax.scan(step, (params, state, opt.init(params)), xs)
        return params.layers[0].weight

    return run


def _time_compiled(f, args, repeats, fill=True):
    args = jax.device_put(args)
    t0 = time.perf_counter()
    compiled = f.lower(*args).compile()
    comp = time.perf_counter() - t0
    out = jax.block_until_ready(compiled(*args))  # warm-up
    runs = []
    # At least ``repeats`` runs and, for runs of milliseconds, enough to fill MIN_TIMED seconds
    # (up to 200): on a shared machine a handful of millisecond runs is mostly noise.
    while len(runs) < repeats or (fill and sum(runs) < MIN_TIMED and len(runs) < 200):
        t0 = time.perf_counter()
        out = jax.block_until_ready(compiled(*args))
        runs.append(time.perf_counter() - t0)
    return comp, runs, out


def run_credax(rule, act, lr, w0, x, args, timed):
    """One seed (seed 0) and all seeds (vmap), compiled separately, timed; final weights."""
    n_seeds, steps = (x.shape[0], x.shape[1]) if timed else (min(x.shape[0], 8), x.shape[1])
    run = make_run(rule, act, lr, x.shape[-1], w0.shape[1])
    rec = {}
    for tag, f, a, n in (
        ("one_seed", jax.jit(run), (w0[0], x[0]), 1),
        ("many_seeds", jax.jit(jax.vmap(run)), (w0[:n_seeds], x[:n_seeds]), n_seeds),
    ):
        comp, runs, out = _time_compiled(f, a, args.repeats if timed else 1, fill=timed)
        secs = float(np.median(runs))
        rec[tag] = {
            "method": "one compiled program: lax.scan over rule.update + optax.sgd"
            + (", jax.vmap over seeds" if n > 1 else ""),
            "n_seeds": n,
            "compile_seconds": comp,
            "seconds_runs": runs if len(runs) <= 20 else None,
            "n_runs": len(runs),
            "seconds_min": float(np.min(runs)) if runs else None,
            "seconds": secs,
            "updates_per_s": n * steps / secs,
            "final_weights": np.asarray(out),
        }
        if timed:
            print(f"  credax: {n} seed{'s' * (n > 1)} {secs * 1e3:.1f} ms", flush=True)
    return rec


# --- peers ---------------------------------------------------------------------------------------


def _peer(venv, name):
    return peer_env(venv, name, CREATE[name])


def run_peer(peer, script, tmp, tag, cfg):
    """Runs ``peers/script`` on ``cfg`` in the peer's environment; its JSON (with the final
    arrays under ``arrays``), or a record of why not."""
    if "python" not in peer:
        return {k: v for k, v in peer.items() if k in ("missing", "failed")}
    cfg = {**cfg, "out": str(tmp / f"{tag}.out.json")}
    cfg.setdefault("weights_out", str(tmp / f"{tag}.out.npz"))
    cfg.setdefault("states_out", str(tmp / f"{tag}.out.npz"))
    (tmp / f"{tag}.cfg.json").write_text(json.dumps(cfg))
    proc = subprocess.run(
        [peer["python"], str(PEERS / script), str(tmp / f"{tag}.cfg.json")],
        stdout=None,
        stderr=subprocess.PIPE,
        text=True,
    )
    if proc.returncode != 0 or not Path(cfg["out"]).exists():
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        sys.stderr.write(proc.stderr[-3000:])
        return {
            "failed": f"{script} exited {proc.returncode}: {tail}",
            "stderr_tail": proc.stderr[-2000:],
        }
    rec = json.loads(Path(cfg["out"]).read_text())
    with np.load(cfg["weights_out"]) as z:
        rec["arrays"] = {k: z[k] for k in z.files}
    return rec


# --- agreement -----------------------------------------------------------------------------------


def _diff(a, b):
    """Max abs difference and the largest per-seed ``‖a - b‖ / ‖a‖`` (leading axis: seeds)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim == 2:
        a, b = a[None], b[None]
    num = np.sqrt(((a - b) ** 2).reshape(len(a), -1).sum(1))
    den = np.maximum(np.sqrt((a**2).reshape(len(a), -1).sum(1)), 1e-30)
    return {"max_abs": float(np.abs(a - b).max()), "max_rel": float((num / den).max())}


def bcm_ngclearn_form(w0, x, lr, tau, theta0, act):
    """BCM as ngclearn's ``BCMSynapse`` writes it, ``ΔW = preᵀ [y (y - θ)/(θ + 1e-7)] lr/B`` (a
    NumPy replica of ours, float32): ``w0`` ``(S, U, D)`` in credax's orientation."""
    f = (lambda a: np.maximum(a, 0)) if act == "relu" else (lambda a: a)
    w = np.swapaxes(w0, 1, 2).astype(np.float32)  # (S, D, U)
    theta = np.full((w.shape[0], 1, w.shape[2]), theta0, np.float32)
    b = x.shape[2]
    for t in range(x.shape[1]):
        xt = x[:, t]
        y = f(xt @ w)
        post = y * (y - theta) / (theta + np.float32(1e-7))
        w = w + np.float32(lr / b) * (np.swapaxes(xt, 1, 2) @ post)
        theta = theta + (np.mean(y * y, 1, keepdims=True) - theta) / np.float32(tau)
    return np.swapaxes(w, 1, 2)


def agree_local(case, rec, x, w0):
    """Final weights credax vs ngclearn (transposed: ngclearn's W is inputs x units)."""
    c, n = rec["credax"], rec["ngclearn"]
    if "arrays" not in n:
        return
    arr = n.pop("arrays")
    many_n = np.swapaxes(arr["many"], 1, 2)
    m = len(many_n)
    agree = {
        "one_seed": _diff(c["one_seed"]["final_weights"], arr["one"].T),
        "many_seeds": _diff(c["many_seeds"]["final_weights"][:m], many_n),
        "n_seeds": m,
    }
    if "many_seeds_vmap_by_hand" in arr:
        agree["ngclearn_vmap_by_hand_vs_loop"] = _diff(
            many_n, np.swapaxes(arr["many_seeds_vmap_by_hand"], 1, 2)
        )
    if case.startswith("bcm"):
        k = LOCAL[case]
        ref = bcm_ngclearn_form(
            w0[:m], x[:m], k["lr_ngclearn"], k["tau_theta"], k["theta0"], k["act"]
        )
        agree["ngclearn_vs_its_form_numpy"] = _diff(ref, many_n)
        agree["credax_vs_ngclearn_form_numpy"] = _diff(c["many_seeds"]["final_weights"][:m], ref)
    norms = np.linalg.norm(c["many_seeds"]["final_weights"].reshape(m, -1), axis=1)
    agree["final_weight_norm_credax"] = [float(norms.min()), float(norms.max())]
    rec["agreement"] = agree
    d = agree["many_seeds"]
    print(
        f"  final weights, credax vs ngclearn ({m} seeds): max |ΔW| {d['max_abs']:.2e}, "
        f"relative {d['max_rel']:.2e}",
        flush=True,
    )


# --- Hopfield ------------------------------------------------------------------------------------


def hopfield_data(seed, n_seeds, n_pat):
    """``(S, P, N)`` ±1 patterns and ``(S, C, N)`` cues: pattern ``c mod P`` with a fraction
    ``flip`` of its signs flipped."""
    h = HOPFIELD
    rng = np.random.default_rng(seed + 1000 + n_pat)
    pats = np.where(rng.uniform(size=(n_seeds, n_pat, h["n"])) < 0.5, -1.0, 1.0)
    which = np.arange(h["cues"]) % n_pat
    flips = np.where(rng.uniform(size=(n_seeds, h["cues"], h["n"])) < h["flip"], -1.0, 1.0)
    return pats.astype(np.float32), (pats[:, which] * flips).astype(np.float32), which


def _np_sign(h, prev):
    return np.where(h > 0, 1.0, np.where(h < 0, -1.0, prev)).astype(np.float32)


def classic_numpy(pats, cues, orders, sync_steps):
    """Our reference: Hebbian storage, synchronous and asynchronous recall (given unit orders
    ``(S, C, sweeps, N)``), energies; float32 like credax."""
    n = pats.shape[-1]
    w = np.einsum("spi,spj->sij", pats, pats).astype(np.float32) / np.float32(n)
    w = w * (1 - np.eye(n, dtype=np.float32))
    x = cues.copy()
    for _ in range(sync_steps):
        x = _np_sign(np.einsum("sij,scj->sci", w, x), x)
    sync = x
    asyn = cues.copy()
    for s in range(len(pats)):
        for c in range(cues.shape[1]):
            v = asyn[s, c]
            for order in orders[s, c]:
                for i in order:
                    h = w[s, i] @ v
                    v[i] = 1.0 if h > 0 else (-1.0 if h < 0 else v[i])
    energy = -0.5 * np.einsum("sci,sij,scj->sc", asyn, w, asyn)
    return w, sync, asyn, energy


def run_classic(args):
    h = HOPFIELD
    S = args.hopfield_seeds
    pats, cues, which = hopfield_data(args.seed, S, h["classic_patterns"])
    keys = jax.random.split(jax.random.key(args.seed), (S, h["cues"]))
    hop = credax.hopfield

    def one(p, cs, ks):
        w = hop.store(p)
        sync = jax.vmap(lambda c: hop.recall(w, c, steps=h["sync_steps"], asynchronous=False))(cs)
        asyn = jax.vmap(lambda c, k: hop.recall(w, c, key=k, steps=h["async_sweeps"]))(cs, ks)
        return w, sync, asyn, jax.vmap(lambda s: hop.energy(w, s))(asyn)

    print("classic Hopfield:", flush=True)
    rec = {"credax": {}}
    for tag, f, a, n in (
        ("one_seed", jax.jit(one), (pats[0], cues[0], keys[0]), 1),
        ("many_seeds", jax.jit(jax.vmap(one)), (pats, cues, keys), S),
    ):
        comp, runs, out = _time_compiled(f, a, args.repeats)
        secs = float(np.median(runs))
        rec["credax"][tag] = {
            "method": "store + synchronous and asynchronous recall of every cue, jax.vmap over "
            "cues" + (" and seeds" if n > 1 else "") + ", one compiled program",
            "n_seeds": n,
            "compile_seconds": comp,
            "seconds_runs": runs if len(runs) <= 20 else None,
            "n_runs": len(runs),
            "seconds_min": float(np.min(runs)),
            "seconds": secs,
            "updates_per_s": n * h["cues"] * (h["sync_steps"] + h["async_sweeps"]) / secs,
        }
        print(f"  credax: {n} seed{'s' * (n > 1)} {secs * 1e3:.2f} ms", flush=True)
    w, sync, asyn, energy = (np.asarray(a) for a in out)
    # The unit orders credax draws: per cue, split its key into one key per sweep, a permutation
    # of the units from each.
    orders = np.asarray(
        jax.vmap(
            jax.vmap(
                lambda k: jax.vmap(lambda kk: jax.random.permutation(kk, h["n"]))(
                    jax.random.split(k, h["async_sweeps"])
                )
            )
        )(keys)
    )
    t0 = time.perf_counter()
    w_r, sync_r, asyn_r, energy_r = classic_numpy(pats, cues, orders, h["sync_steps"])
    secs = time.perf_counter() - t0
    rec["numpy_reference"] = {
        "method": "ours: NumPy, synchronous steps vectorized, asynchronous sweeps a Python loop "
        "over seeds, cues and units (a correctness reference, not a library)",
        "n_seeds": S,
        "seconds": secs,
        "updates_per_s": S * h["cues"] * (h["sync_steps"] + h["async_sweeps"]) / secs,
    }
    pats_t = pats[:, which]
    rec["agreement"] = {
        "weights": _diff(w, w_r),
        "synchronous_states_differing": int((sync != sync_r).any(-1).sum()),
        "asynchronous_states_differing": int((asyn != asyn_r).any(-1).sum()),
        "energy": _diff(energy, energy_r),
        "n_states": int(S * h["cues"]),
    }
    rec["recall"] = {
        "asynchronous_exact": float(np.mean((asyn == pats_t).all(-1))),
        "synchronous_exact": float(np.mean((sync == pats_t).all(-1))),
        "cue_overlap": float(np.mean((cues * pats_t).mean(-1))),
    }
    a = rec["agreement"]
    print(
        f"  vs NumPy reference: weights max |Δ| {a['weights']['max_abs']:.1e}, states differing "
        f"{a['synchronous_states_differing']} (sync) / {a['asynchronous_states_differing']} "
        f"(async) of {a['n_states']}; exact recall "
        f"{100 * rec['recall']['asynchronous_exact']:.0f}%",
        flush=True,
    )
    return rec


def run_modern(args, peers, tmp):
    h = HOPFIELD
    S, T = args.hopfield_seeds, h["modern_steps"]
    pats, cues, which = hopfield_data(args.seed, S, h["modern_patterns"])
    np.savez(tmp / "modern.npz", patterns=pats, cues=cues)

    def one(p, cs):
        return jax.vmap(lambda c: credax.hopfield.modern_recall(p, c, beta=h["beta"], steps=T))(cs)

    print("modern Hopfield:", flush=True)
    rec = {"credax": {}}
    for tag, f, a, n in (
        ("one_seed", jax.jit(one), (pats[0], cues[0]), 1),
        ("many_seeds", jax.jit(jax.vmap(one)), (pats, cues), S),
    ):
        comp, runs, out = _time_compiled(f, a, args.repeats)
        secs = float(np.median(runs))
        rec["credax"][tag] = {
            "method": "modern_recall of every cue, jax.vmap over cues"
            + (" and seeds" if n > 1 else "")
            + ", one compiled program",
            "n_seeds": n,
            "compile_seconds": comp,
            "seconds_runs": runs if len(runs) <= 20 else None,
            "n_runs": len(runs),
            "seconds_min": float(np.min(runs)),
            "seconds": secs,
            "updates_per_s": n * h["cues"] * T / secs,
        }
        print(f"  credax: {n} seed{'s' * (n > 1)} {secs * 1e3:.2f} ms", flush=True)
    states = np.asarray(out)
    one_step = np.asarray(
        jax.jit(
            jax.vmap(
                jax.vmap(
                    lambda p, c: credax.hopfield.modern_recall(p, c, beta=h["beta"], steps=1),
                    in_axes=(None, 0),
                )
            )
        )(pats, cues)
    )
    pats_t = pats[:, which]
    rec["recall"] = {
        "sign_exact": float(np.mean((np.sign(states) == pats_t).all(-1))),
        "max_abs_from_pattern": float(np.abs(states - pats_t).max()),
    }
    rec["ngclearn"] = run_peer(
        peers["ngclearn"],
        "ngclearn_run.py",
        tmp,
        "modern_hopfield",
        {
            "case": "modern_hopfield",
            "data": str(tmp / "modern.npz"),
            "beta": h["beta"],
            "steps": T,
            "n_seeds": S,
            "time": True,
            "repeats": args.repeats,
            "repeats_many": args.repeats_many,
        },
    )
    if "arrays" in rec["ngclearn"]:
        got = rec["ngclearn"].pop("arrays")["states"]
        rec["ngclearn"]["agreement"] = _diff(states, got)
        print(
            f"  credax vs ngclearn ({T} steps): max |Δξ| "
            f"{rec['ngclearn']['agreement']['max_abs']:.1e}",
            flush=True,
        )
    rec["hamux"] = run_peer(
        peers["hamux"],
        "hamux_run.py",
        tmp,
        "hamux",
        {
            "data": str(tmp / "modern.npz"),
            "beta": h["beta"],
            "alpha": h["hamux_alpha"],
            "steps": args.hamux_steps,
            "n_seeds": S,
            "repeats": args.repeats,
            "repeats_many": args.repeats_many,
        },
    )
    if "arrays" in rec["hamux"]:
        arr = rec["hamux"].pop("arrays")
        dev = np.abs(states - arr["descent"]).max(-1)  # per cue
        same = dev < 1e-3
        rec["hamux"]["agreement"] = {
            "one_step_vs_credax_one_step": _diff(one_step, arr["one_step"]),
            "descent_vs_credax_fixed_point": _diff(states, arr["descent"]),
            "descent_cues_at_credax_fixed_point": float(same.mean()),
            "descent_max_abs_at_those_cues": float(dev[same].max()) if same.any() else None,
            "descent_max_rel_at_those_cues": (
                float(
                    (
                        np.linalg.norm(states - arr["descent"], axis=-1)
                        / np.linalg.norm(states, axis=-1)
                    )[same].max()
                )
                if same.any()
                else None
            ),
            "descent_sign_exact": float(np.mean((np.sign(arr["descent"]) == pats_t).all(-1))),
            "credax_sign_exact_where_descent_differs": (
                float(np.mean((np.sign(states[~same]) == pats_t[~same]).all(-1)))
                if (~same).any()
                else None
            ),
        }
        a = rec["hamux"]["agreement"]
        print(
            "  credax vs hamux: one step max |Δξ| "
            f"{a['one_step_vs_credax_one_step']['max_abs']:.1e}; after {args.hamux_steps} "
            f"descent steps {100 * a['descent_cues_at_credax_fixed_point']:.2f}% of the cues sit "
            f"at credax's fixed point (max |Δξ| {_e(a['descent_max_abs_at_those_cues'])})",
            flush=True,
        )
    return rec


# --- summary, table, plot -----------------------------------------------------------------------


def _rate(rec, key):
    r = rec.get(key) if isinstance(rec, dict) else None
    return None if r is None else r["updates_per_s"]


def summarize(results, n_seeds):
    """Per model: credax's vmap factor and its ratio to every peer variant at 1 and many seeds."""
    rows = {}
    models = [(k, v) for k, v in results["local"].items() if LOCAL[k.split()[0]]["timed"]]
    models += [("hopfield_classic", results["hopfield_classic"])]
    models += [("hopfield_modern", results["hopfield_modern"])]
    for name, rec in models:
        c1, cm = _rate(rec["credax"], "one_seed"), _rate(rec["credax"], "many_seeds")
        row = {"credax_1": c1, f"credax_{n_seeds}": cm, "vmap_factor": cm / c1}
        peers = [p for p in ("ngclearn", "hamux", "numpy_reference") if p in rec]
        for peer in peers:
            pr = rec[peer]
            if "updates_per_s" in pr:  # the NumPy reference: one many-seed run
                row[f"{peer}_{n_seeds}"] = pr["updates_per_s"]
                row[f"ratio_{peer}_{n_seeds}"] = cm / pr["updates_per_s"]
                continue
            p1 = _rate(pr, "one_seed")
            if p1 is None:
                row[peer] = pr.get("missing") or pr.get("failed")
                continue
            row[f"{peer}_1"] = p1
            row[f"ratio_{peer}_1"] = c1 / p1
            for key in ("many_seeds_loop", "many_seeds_vmap_by_hand", "many_seeds_vmap"):
                pm = _rate(pr, key)
                if pm is not None:
                    row[f"{peer}_{n_seeds}_{key.split('_', 2)[2]}"] = pm
                    row[f"ratio_{peer}_{n_seeds}_{key.split('_', 2)[2]}"] = cm / pm
            pm = _rate(pr, "many_seeds_loop")
            if pm is not None:
                row[f"goal_met_{peer}"] = bool(cm / pm >= row["vmap_factor"])
        rows[name] = row
    return rows


def _e(v):
    return "-" if v is None else f"{v:.1e}"


def _fmt(v):
    return "-" if v is None else (f"{v / 1e6:.2f}M" if v >= 1e6 else f"{v / 1e3:.1f}k")


def print_table(results, summary, n_seeds):
    print("\nupdates/s, all seeds together (Hopfield: recall steps x cues / s); credax's ratio")
    how = {
        "loop": "Python loop over seeds",
        "vmap_by_hand": "its compiled step, scan + vmap by hand (not documented)",
        "vmap": "scan + vmap around its energy (ours)",
    }
    for name, row in summary.items():
        print(
            f"{name:17s} credax     1 seed {_fmt(row['credax_1']):>7s}, {n_seeds} seeds "
            f"{_fmt(row[f'credax_{n_seeds}']):>7s} (vmap factor {row['vmap_factor']:.1f})"
        )
        for peer in ("ngclearn", "hamux"):
            if isinstance(row.get(peer), str):
                print(f"{'':17s} {peer:10s} {row[peer]}")
            if f"{peer}_1" in row:
                print(
                    f"{'':17s} {peer:10s} 1 seed {_fmt(row[f'{peer}_1']):>7s} "
                    f"(credax {row[f'ratio_{peer}_1']:.1f}x)"
                )
            for suffix, text in how.items():
                k = f"{peer}_{n_seeds}_{suffix}"
                if k in row:
                    print(
                        f"{'':17s} {peer:10s} {n_seeds} seeds {_fmt(row[k]):>7s} "
                        f"(credax {row[f'ratio_{k}']:.1f}x): {text}"
                    )
        if f"numpy_reference_{n_seeds}" in row:
            k = f"numpy_reference_{n_seeds}"
            print(
                f"{'':17s} {'NumPy ref':10s} {n_seeds} seeds {_fmt(row[k]):>7s} "
                f"(credax {row[f'ratio_{k}']:.1f}x): ours, Python loops"
            )
    for peer in ("ngclearn", "hamux"):
        goals = {k: r[f"goal_met_{peer}"] for k, r in summary.items() if f"goal_met_{peer}" in r}
        if goals:
            print(f"goal, credax / {peer} (loop) at {n_seeds} seeds >= vmap factor: {goals}")


def plot(results, summary, n_seeds, path):
    fig = plt.figure(figsize=(16, 10))
    grid = fig.add_gridspec(2, 2, width_ratios=[2.2, 1], height_ratios=[1, 0.95])
    axes = [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1]), fig.add_subplot(grid[1, :])]
    series = [
        ("credax_1", "credax, 1 seed", "C0", None),
        (f"credax_{n_seeds}", f"credax, {n_seeds} seeds (vmap)", "C0", "//"),
        ("ngclearn_1", "ngclearn, 1 seed", "C1", None),
        (f"ngclearn_{n_seeds}_loop", f"ngclearn, {n_seeds} seeds (loop)", "C1", "//"),
        (
            f"ngclearn_{n_seeds}_vmap_by_hand",
            f"ngclearn, {n_seeds} (its step, scan+vmap by hand)",
            "C1",
            "..",
        ),
        ("hamux_1", "hamux, 1 seed (jit step)", "C2", None),
        (f"hamux_{n_seeds}_loop", f"hamux, {n_seeds} seeds (loop)", "C2", "//"),
        (f"hamux_{n_seeds}_vmap", f"hamux, {n_seeds} (scan+vmap, ours)", "C2", ".."),
        (f"numpy_reference_{n_seeds}", f"NumPy reference, {n_seeds} (ours)", "C7", "//"),
    ]
    for ax, names, title in (
        (axes[0], [n for n in summary if not n.startswith("hopfield")], "local rules: updates / s"),
        (axes[1], ["hopfield_classic", "hopfield_modern"], "Hopfield: recall steps x cues / s"),
    ):
        present = [s for s in series if any(s[0] in summary.get(n, {}) for n in names)]
        width = 0.8 / max(len(present), 1)
        for j, (key, label, color, hatch) in enumerate(present):
            xs, vs = [], []
            for i, n in enumerate(names):
                v = summary.get(n, {}).get(key)
                if v is not None:
                    xs.append(i + (j - (len(present) - 1) / 2) * width)
                    vs.append(v)
            ax.bar(xs, vs, width, label=label, color=color, hatch=hatch, edgecolor="white")
        ax.set_yscale("log")
        ax.set_xticks(range(len(names)), [n.replace(" ", "\n").replace("_", "\n") for n in names])
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("updates / s, all seeds (log)")
        ax.legend(fontsize=6)
    labels, vals = [], []
    for case, rec in results["local"].items():
        a = rec.get("agreement")
        if a:
            why = " (ngclearn divides by θ)" if case.startswith("bcm B") else ""
            labels.append(f"{case}: credax vs ngclearn{why}")
            vals.append(a["many_seeds"]["max_rel"])
            if "ngclearn_vs_its_form_numpy" in a:
                labels.append(f"{case}: ngclearn vs its /θ form (NumPy)")
                vals.append(a["ngclearn_vs_its_form_numpy"]["max_rel"])
    ca = results["hopfield_classic"]["agreement"]
    labels.append("classic: weights vs NumPy")
    vals.append(ca["weights"]["max_rel"])
    m = results["hopfield_modern"]
    if "agreement" in m.get("ngclearn", {}):
        labels.append("modern: credax vs ngclearn")
        vals.append(m["ngclearn"]["agreement"]["max_rel"])
    if "agreement" in m.get("hamux", {}):
        labels.append("modern: hamux one step")
        vals.append(m["hamux"]["agreement"]["one_step_vs_credax_one_step"]["max_rel"])
        a = m["hamux"]["agreement"]
        labels.append(
            f"modern: hamux descent ({100 * a['descent_cues_at_credax_fixed_point']:.2f}% "
            "of cues at the fixed point)"
        )
        vals.append(a["descent_max_rel_at_those_cues"] or np.nan)
    floor = 1e-9
    axes[2].barh(range(len(vals)), [max(v, floor) for v in vals], color="C3")
    for i, v in enumerate(vals):
        axes[2].text(
            max(v, floor), i, " 0 (identical)" if v == 0 else f" {v:.1e}", va="center", fontsize=6
        )
    axes[2].set_yticks(range(len(vals)), labels, fontsize=7)
    axes[2].set_xscale("log")
    axes[2].axvline(np.finfo(np.float32).eps, color="k", ls=":", lw=1, label="float32 eps")
    axes[2].set_title(
        "agreement of final weights / retrieved states: max over seeds of ‖a - b‖ / ‖a‖",
        fontsize=10,
    )
    axes[2].legend(fontsize=7)
    axes[2].invert_yaxis()
    fig.suptitle(
        f"credax vs ngclearn / hamux: the same simulations; classic Hopfield states differing: "
        f"{ca['synchronous_states_differing']} sync, {ca['asynchronous_states_differing']} async "
        f"of {ca['n_states']}",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def setup_record(args):
    return {
        "local": {
            "network": f"one layer {args.inputs} -> {args.units}, no biases (credax.nets.mlp "
            "use_bias=False; ngclearn synapses without biases)",
            "steps": args.steps,
            "batches": args.batches,
            "seeds_many": args.seeds,
            "inputs": "Hebb, Oja: centred Gaussian, variances 5·0.7^k in a random basis per seed; "
            "BCM: each example one of 4 uniform [0, 1) patterns per seed",
            "initial_weights": "credax.nets.mlp's Glorot-uniform draw per seed (BCM: 0.5·|W|), "
            "handed to ngclearn transposed (inputs x units)",
            "rules": {
                k: {kk: vv for kk, vv in v.items() if kk not in ("rule", "timed")}
                for k, v in LOCAL.items()
            },
        },
        "hopfield": {**HOPFIELD, "seeds": args.hopfield_seeds, "hamux_steps": args.hamux_steps},
        "timing": f"compile excluded; median of {args.repeats} runs (one seed) and "
        f"{args.repeats_many} (many seeds; credax {args.repeats}); updates/s = steps x seeds / s",
    }


def _versions() -> dict:
    from importlib.metadata import version

    return {
        "credax": version("credax"),
        "jax": jax.__version__,
        "equinox": version("equinox"),
        "optax": version("optax"),
        "numpy": np.__version__,
    }


if __name__ == "__main__":
    main()
