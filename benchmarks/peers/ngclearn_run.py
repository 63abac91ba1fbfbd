"""The ngclearn half of ``benchmarks/local_side_by_side.py``: one case (a Hebbian, Oja or BCM
synapse, or the modern Hopfield synapse) simulated with ngclearn's components.

Runs in its own virtual environment, started by ``local_side_by_side.py`` as
``.peers/ngclearn/bin/python benchmarks/peers/ngclearn_run.py CONFIG.json``, once per case (so
that every case has ngclearn's global state to itself: a process's ``run`` hands every
compartment of every context built so far to its jitted function). It imports neither credax nor
anything else from this repository: the initial weights, the inputs and the settings arrive as
files named in the config; the results leave as a JSON file and an ``.npz`` of final weights or
states.

The network is built as ngclearn's lessons build one, component by component inside a
``Context``: a synapse whose ``inputs`` are clamped to the batch and wired to its ``pre``
compartment, and its ``outputs`` wired to ``post`` (Hebb, Oja: linear units) or through a
stateless ``RateCell`` (``tau_m = 0``, ReLU) whose rates ``zF`` are wired to ``post`` (BCM). One
``MethodProcess`` chains ``advance_state`` and ``evolve`` (one simulation step, one synaptic
update); it is called once per step from Python after clamping the step's inputs, as ngclearn's
lessons do. Several seeds: a Python loop that hands the same compiled model each seed's initial
weights (and initial threshold). As a diagnostic the script also runs the model's compiled step
function (``process.run.compiled.source_fn``, a pure function of ngclearn's state dict) in a
hand-written ``lax.scan`` with ``jax.vmap`` over seeds: not a documented use of ngclearn.

Rules and settings (ngclearn 3.2):

- ``HebbianSynapse(eta=lr/B, sign_value=-1, w_bound=0, optim_type="sgd")``: ``dW = -(preᵀ post)``,
  ``W ← W - eta dW`` (a batch sum, hence ``eta = lr/B``; ``sign_value=-1`` for ascent;
  ``w_bound=0`` turns off its soft bound ``dW·(w_bound - |W|)`` and clipping, on by default).
- ``OjaTensorSynapse(n_in_streams=1, K_local=D, O_local=U, P_l=1, use_block_matrix_format=True,
  sign_value=lr/B)``: one dense block; ``W ← W + sign_value (preᵀ post - Σ_b post² W)``. Its
  ``eta`` argument is not used by ``evolve``: ``sign_value`` is the step size.
- ``BCMSynapse(tau_w=B/lr, tau_theta, theta0)``: ``W ← W + dt/tau_w preᵀ [y (y - θ) / (θ + 1e-7)]``
  then ``θ ← θ + dt/tau_theta (⟨y²⟩ - θ)``, ``dt = 1``.
- ``HopfieldSynapse(shape=(N, P), initial_patterns=Xᵀ, beta, eta=0)``: ``advance_state`` maps
  the probe ``ξ`` to ``Xᵀ softmax(β X ξ)`` for a batch of probes; several steps feed its
  ``outputs`` back into ``inputs`` from Python.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from ngclearn import Context, MethodProcess
from ngclearn.components.neurons.graded.rateCell import RateCell
from ngclearn.components.synapses.competitive.hopfieldSynapse import HopfieldSynapse
from ngclearn.components.synapses.hebbian.BCMSynapse import BCMSynapse
from ngclearn.components.synapses.hebbian.hebbianSynapse import HebbianSynapse
from ngclearn.components.synapses.hebbian.ojaTensorSynapse import OjaTensorSynapse
from ngclearn.utils.distribution_generator import DistributionGenerator
from ngcsimlib.global_state import stateManager


def _version(name):
    from importlib.metadata import version

    try:
        return version(name)
    except Exception:
        return None


def _timed(f):
    t0 = time.perf_counter()
    out = f()
    jax.block_until_ready(out)
    return time.perf_counter() - t0, out


# --- the local rules ------------------------------------------------------------------------------


def build_local(cfg, batch, d, u):
    """The one-layer model of ``cfg["case"]``: returns the synapse, the step process and the state
    keys of its weights, inputs and (BCM) threshold."""
    case, lr, key = cfg["case"], cfg["lr"], jax.random.PRNGKey(0)
    zeros = DistributionGenerator.constant(value=0.0)
    with Context(case):
        if case == "hebb":
            syn = HebbianSynapse(
                "W",
                shape=(d, u),
                eta=lr / batch,
                weight_init=zeros,
                w_bound=0.0,
                sign_value=-1.0,
                optim_type="sgd",
                batch_size=batch,
                key=key,
            )
        elif case == "oja":
            syn = OjaTensorSynapse(
                "W",
                n_in_streams=1,
                K_local=d,
                O_local=u,
                P_l=1,
                eta=lr / batch,  # not used by evolve: sign_value is the step size
                sign_value=lr / batch,
                weight_init=zeros,
                use_block_matrix_format=True,
                batch_size=batch,
                key=key,
            )
        else:  # bcm, bcm_frozen
            syn = BCMSynapse(
                "W",
                shape=(d, u),
                tau_w=batch / lr,
                tau_theta=cfg["tau_theta"],
                theta0=cfg["theta0"],
                weight_init=zeros,
                batch_size=batch,
                key=key,
            )
        syn.inputs >> syn.pre
        if case in ("hebb", "oja"):
            syn.outputs >> syn.post
            step = MethodProcess("step") >> syn.advance_state >> syn.evolve
        else:
            cell = RateCell(
                "z", n_units=u, tau_m=0.0, act_fx=cfg["activation"], batch_size=batch, key=key
            )
            syn.outputs >> cell.j
            cell.zF >> syn.post
            step = MethodProcess("step") >> syn.advance_state >> cell.advance_state >> syn.evolve
    return syn, step


def run_seed(cfg, syn, step, w0, xs):
    """One seed's simulation from Python: reset, then per step clamp the inputs and run."""
    syn.weights.set(jnp.asarray(w0))
    if hasattr(syn, "theta"):
        syn.theta.set(jnp.full(syn.theta.get().shape, cfg["theta0"], jnp.float32))
    for x in xs:
        syn.inputs.set(x)
        step.run(t=0.0, dt=1.0)
    return syn.weights.get()


def scan_by_hand(cfg, syn, step):
    """``(w0, xs) -> W``: the compiled step function in a ``lax.scan`` (a diagnostic)."""
    fn = step.run.compiled.source_fn
    prefix = cfg["case"] + ":"
    state0 = {k: v for k, v in stateManager.state.items() if k.startswith(prefix)}
    wkey, xkey = syn.weights.root, syn.inputs.root
    tkey = getattr(getattr(syn, "theta", None), "root", None)
    order = step.get_keywords()
    args = tuple({"t": 0.0, "dt": 1.0}[k] for k in order)

    def run(w0, xs):
        st = dict(state0)
        st[wkey] = w0
        if tkey is not None:
            st[tkey] = jnp.full(state0[tkey].shape, cfg["theta0"], jnp.float32)

        def body(st, x):
            st = dict(st)
            st[xkey] = x
            st, _ = fn(st, args)
            return st, None

        st, _ = jax.lax.scan(body, st, xs)
        return st[wkey]

    return run


def local_case(cfg, out):
    d = np.load(cfg["data"])
    xs_all, w0_all = d["x"], d["w0"]  # (S, steps, B, D), (S, D, U)
    n_seeds = min(cfg["n_seeds"], len(xs_all))
    steps, batch, dim = xs_all.shape[1:]
    units = w0_all.shape[-1]
    syn, step = build_local(cfg, batch, dim, units)
    out["keywords"] = step.get_keywords()
    finals = {}

    # One seed: compile (the first step less a later one), then whole runs; the median.
    first, _ = _timed(lambda: run_seed(cfg, syn, step, w0_all[0], xs_all[0, :1]))
    later = float(
        np.median(
            [
                _timed(lambda: run_seed(cfg, syn, step, w0_all[0], xs_all[0, :1]))[0]
                for _ in range(3)
            ]
        )
    )
    runs = []
    for _ in range(cfg["repeats"] if cfg["time"] else 1):
        secs, w = _timed(lambda: run_seed(cfg, syn, step, w0_all[0], xs_all[0]))
        runs.append(secs)
    finals["one"] = np.asarray(w)
    out["one_seed"] = {
        "method": "one MethodProcess (advance_state >> evolve) called per step from Python",
        "compile_seconds": first - later,
        "seconds_runs": runs,
        "seconds": float(np.median(runs)),
        "updates_per_s": steps / float(np.median(runs)),
    }
    print(f"  ngclearn {cfg['case']}: 1 seed {np.median(runs):.2f} s", flush=True)

    # Many seeds: a Python loop over seeds, the same compiled model.
    runs = []
    for _ in range(cfg["repeats_many"] if cfg["time"] else 1):
        t0 = time.perf_counter()
        ws = [np.asarray(run_seed(cfg, syn, step, w0_all[s], xs_all[s])) for s in range(n_seeds)]
        runs.append(time.perf_counter() - t0)
    finals["many"] = np.stack(ws)
    out["many_seeds_loop"] = {
        "method": "Python loop over seeds around the per-step Python loop (one compiled model)",
        "n_seeds": n_seeds,
        "seconds_runs": runs,
        "seconds": float(np.median(runs)),
        "updates_per_s": n_seeds * steps / float(np.median(runs)),
    }
    print(f"  ngclearn {cfg['case']}: {n_seeds} seeds (loop) {np.median(runs):.2f} s", flush=True)

    # Diagnostic: ngclearn's compiled step in a hand-written scan, vmap over seeds.
    if cfg["time"]:
        run = scan_by_hand(cfg, syn, step)
        for tag, f, args, n in (
            ("one_seed_scan_by_hand", jax.jit(run), (w0_all[0], xs_all[0]), 1),
            (
                "many_seeds_vmap_by_hand",
                jax.jit(jax.vmap(run)),
                (w0_all[:n_seeds], xs_all[:n_seeds]),
                n_seeds,
            ),
        ):
            args = jax.device_put(args)
            t0 = time.perf_counter()
            compiled = f.lower(*args).compile()
            comp = time.perf_counter() - t0
            runs = []  # at least `repeats` runs, and 0.5 s of them (up to 200 runs)
            while len(runs) < cfg["repeats"] or (sum(runs) < 0.5 and len(runs) < 200):
                runs.append(_timed(functools.partial(compiled, *args))[0])
            w = compiled(*args)
            finals[tag] = np.asarray(w)
            out[tag] = {
                "method": "ngclearn's compiled step function (process.run.compiled.source_fn) in a "
                "hand-written jax.lax.scan"
                + (", jax.vmap over seeds" if n > 1 else "")
                + ": not a documented use",
                "n_seeds": n,
                "compile_seconds": comp,
                "seconds_runs": runs if len(runs) <= 20 else None,
                "n_runs": len(runs),
                "seconds": float(np.median(runs)),
                "updates_per_s": n * steps / float(np.median(runs)),
            }
    np.savez(cfg["weights_out"], **finals)


def lesson_case(cfg, out):
    """ngclearn's "evolving synapses" lesson: a 1x1 Hebbian synapse, eta 1, weight 1, inputs
    1, 1, 0, 0, 1; the weight after each step."""
    with Context("lesson"):
        syn = HebbianSynapse(
            "W",
            shape=(1, 1),
            eta=1.0,
            weight_init=DistributionGenerator.constant(value=1.0),
            w_bound=0.0,
            sign_value=-1.0,
            batch_size=1,
            key=jax.random.PRNGKey(0),
        )
        syn.inputs >> syn.pre
        syn.outputs >> syn.post
        step = MethodProcess("step") >> syn.advance_state >> syn.evolve
    path = []
    for x in cfg["inputs"]:
        syn.inputs.set(jnp.full((1, 1), x, jnp.float32))
        step.run(t=0.0, dt=1.0)
        path.append(float(syn.weights.get()[0, 0]))
    out["weights"] = path


# --- the modern Hopfield network -----------------------------------------------------------------


def hopfield_case(cfg, out):
    d = np.load(cfg["data"])
    patterns, cues = d["patterns"], d["cues"]  # (S, P, N), (S, C, N)
    n_seeds = min(cfg["n_seeds"], len(patterns))
    _, n_pat, n = patterns.shape
    n_cues = cues.shape[1]
    steps = cfg["steps"]
    with Context("hopfield"):
        hop = HopfieldSynapse(
            "H",
            shape=(n, n_pat),
            eta=0.0,
            beta=cfg["beta"],
            initial_patterns=jnp.asarray(patterns[0].T),
            batch_size=n_cues,
            key=jax.random.PRNGKey(0),
        )
        recall = MethodProcess("recall") >> hop.advance_state

    def run_seed(s):
        hop.weights.set(jnp.asarray(patterns[s].T))
        hop.inputs.set(cues[s])
        for _ in range(steps):
            recall.run()
            hop.inputs.set(hop.outputs.get())
        return hop.outputs.get()

    first, _ = _timed(lambda: run_seed(0))
    later = float(np.median([_timed(lambda: run_seed(0))[0] for _ in range(3)]))
    runs = [_timed(lambda: run_seed(0))[0] for _ in range(cfg["repeats"] if cfg["time"] else 1)]
    out["one_seed"] = {
        "method": "HopfieldSynapse.advance_state per step from Python, outputs fed back to inputs",
        "compile_seconds": (first - later) / steps,
        "seconds_runs": runs,
        "seconds": float(np.median(runs)),
        "updates_per_s": steps * n_cues / float(np.median(runs)),
    }
    runs = []
    for _ in range(cfg["repeats_many"] if cfg["time"] else 1):
        t0 = time.perf_counter()
        states = [np.asarray(run_seed(s)) for s in range(n_seeds)]
        runs.append(time.perf_counter() - t0)
    out["many_seeds_loop"] = {
        "method": "Python loop over seeds (patterns handed to the same synapse)",
        "n_seeds": n_seeds,
        "seconds_runs": runs,
        "seconds": float(np.median(runs)),
        "updates_per_s": n_seeds * steps * n_cues / float(np.median(runs)),
    }
    print(
        f"  ngclearn hopfield: 1 seed {out['one_seed']['seconds'] * 1e3:.1f} ms, {n_seeds} seeds "
        f"(loop) {np.median(runs):.2f} s",
        flush=True,
    )
    np.savez(cfg["weights_out"], states=np.stack(states))


def main(config_path):
    cfg = json.loads(Path(config_path).read_text())
    out = {
        "case": cfg["case"],
        "versions": {
            "ngclearn": _version("ngclearn"),
            "ngcsimlib": _version("ngcsimlib"),
            "jax": jax.__version__,
            "jaxlib": _version("jaxlib"),
            "numpy": np.__version__,
            "python": sys.version.split()[0],
        },
        "backend": jax.default_backend(),
    }
    if cfg["case"] == "modern_hopfield":
        hopfield_case(cfg, out)
    elif cfg["case"] == "lesson":
        lesson_case(cfg, out)
        np.savez(cfg["weights_out"], weights=np.asarray(out["weights"]))
    else:
        local_case(cfg, out)
    Path(cfg["out"]).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main(sys.argv[1])
