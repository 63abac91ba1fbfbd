"""Spiking-network throughput: one Linear + LIF layer in credax, Spyx and snnTorch on the same
machine (the Open Neuromorphic "SNN library benchmarks" network), with identical results checked
and a 64-seed run that only credax compiles into one program.

Setup (the Open Neuromorphic benchmark): a batch of ``--batch`` 16 input spike trains of
``--steps`` 500 steps (1 ms) and ``n`` channels, one dense layer ``n -> n`` without bias and
``n`` leaky integrate-and-fire neurons, float32, for widths ``n`` in ``--widths`` (on a CPU 512,
1024 and 2048 by default: on a 2-core CPU shared with other work 4096 alone took about four
minutes for the three libraries; the benchmark goes up to 16,384, the default on a GPU).
Throughput in neuron-steps per second, ``B x n x T / seconds``, for the forward pass (the spike
trains) and for forward+backward: the gradient with respect to the weights of
``L = ½ Σ_{b,n} (r_bn - y_bn)² / B``, ``r`` the firing rate of each output neuron over the run
and ``y = 0.05`` a target rate, through each library's surrogate derivative.

- credax: ``credax.spiking.LIF(T, n, n, tau_syn=None, reset="subtract", ...)`` (current-based
  input: the peers' Leaky neurons have no synaptic current), a layer of ONE example ``(T, n)``
  batched by ``jax.vmap``; forward ``eqx.filter_jit`` of the vmapped layer, forward+backward
  ``eqx.filter_jit(eqx.filter_grad(loss))`` with ``loss`` the rate loss above
  (``credax.losses.mse`` of the rates). credax's layer applies the Linear to all time steps in
  one matrix product and runs only the neuron in its ``lax.scan``. Two layouts of the same
  batch: ``credax``, time-major input ``(T, B, n)`` as the peers take it,
  ``jax.vmap(layer, in_axes=1, out_axes=1)``; and ``credax_batch_major``, ``(B, T, n)`` with
  ``jax.vmap(layer)``, the layout credax's rules take (a batch ``(x, y)`` with the examples
  first): XLA then transposes the pre-activations for the scan over time and the weight
  gradient's operands, which cost 5-30% at widths 512-2048 on this CPU (1.8x in the backward
  pass at width 256). Also one
  ``update`` of ``credax.backprop(loss)`` (the same gradient through credax's learning-rule
  interface, batch-major; at widths up to ``--update-max-width``). The gradients of the two
  layouts and of the update agree (recorded).
- Spyx 1.0 (``.peers/spyx``; the newest release, built on Flax NNX, installs with the JAX
  credax uses; earlier releases were built on Haiku and ran ``hk.dynamic_unroll``):
  ``spyx.nn.Sequential(nnx.Linear, spyx.nn.LIF)`` run by ``spyx.nn.run`` (a ``lax.scan`` over
  time of the whole model, its documented runner: the Linear runs inside the scan, one
  ``(B, n) x (n, n)`` product per step), jitted as ``spyx.bench`` jits it; and, labelled
  ``spyx (hoisted)``, the Linear applied to all steps before ``spyx.nn.run`` of the LIF alone,
  the layout credax uses.
- snnTorch 1.0 (torch 2.13 CPU; ``.peers/snntorch``): ``nn.Linear`` + ``snn.Leaky`` stepped by
  a Python loop over time as its tutorials do; forward under ``torch.no_grad()``,
  forward+backward with ``loss.backward()``. Threads: torch's OpenMP workers spin while they
  wait, and on a CPU shared with other work its default (one per core) ran 5-20x slower than
  one thread here; unless ``--torch-threads`` is given, each snnTorch run first times 50 steps
  of the forward pass with torch's default and with 1 thread and keeps the faster (recorded).

Same network: ``β = exp(-dt/τ_mem) = exp(-0.1)`` (credax's ``dt = 1``, ``tau_mem = 10`` ms),
threshold 1, the fast-sigmoid (SuperSpike) surrogate ``1/(10|v| + 1)²`` in all three
(``credax.spiking.fast_sigmoid(10)``, ``surrogate.fast_sigmoid(slope=10)``,
``spyx.axn.superspike(10)``), the same input spikes (Bernoulli, probability 0.1 per step) and
the same weights (Glorot uniform times 20, drawn by NumPy from ``--seed`` in every process; the
peers return checksums). credax integrates the input current exactly over a step,
``U_n = β U_{n-1} + (1 - β) a_n``; the peers add it, ``U_t = β U_{t-1} + I_t``: the peers get
the weights times ``1 - β`` so that ``I = (1 - β) a``. About 7-9% of the neuron-steps spike.

Equal results (``--check-width`` 64, the same batch and steps, its own draw): the output spikes
of each pair are compared element by element.

- Reset to zero: snnTorch's ``reset_mechanism="zero"`` computes
  ``U_t = β (1 - S_{t-1}) U_{t-1} + I_t``, which is credax's ``reset="zero"`` exactly; the
  spikes should agree up to float rounding (a neuron within about 1e-6 of the threshold), and
  the weight gradients too (both detach the reset; ``∂L/∂W_credax = (1 - β) ∂L/∂W_peer``).
- Subtractive reset (what the timings run: snnTorch's default and Spyx's only form): snnTorch
  and Spyx subtract the threshold after the leak, ``U_t = β U_{t-1} + I_t - ϑ S_{t-1}``;
  credax subtracts it at the spike, before the next step's leak, so the reset decays with the
  membrane: ``U_t = β (U_{t-1} - ϑ S_{t-1}) + (1 - β) a_t``. The spike trains differ; the
  script writes the peers' equation in a few lines of JAX (``peers_leaky``) and shows both
  peers agree with it. Spyx's LIF also fires from the membrane it carries in,
  ``S_t = Θ(V_{t-1} - ϑ)``: its spike at step ``t`` is snnTorch's spike at ``t - 1``, so Spyx is
  compared one step shifted.

Seeds: ``--seeds`` 64 independent networks (one weight draw each, one shared time-major input
batch) at ``--seed-width`` 128: credax ``jax.vmap`` over the weights of the forward+backward
(one program), credax in blocks of 8 seeds (``jax.lax.map(..., batch_size=8)``, one program:
the seed blocking ``credax.train.sweep`` picks on a CPU, where a vmapped batch of 64 networks
outgrows the cache), and a Python loop over seeds in credax and in each peer (Spyx calls its one
compiled gradient per seed; snnTorch reuses one network, its weight replaced).

Timing, interleaved: the peers run in their own processes (one per width), which build their
functions and then time single calls on request; each width's functions (credax's, Spyx's,
snnTorch's) are called in rounds, one after the other, so that a slow spell of the shared
machine slows all of them alike. Round 0 is each function's first call; then ``--repeats`` (5)
timed rounds, fewer once ``--max-seconds`` (45) of timed rounds have run (at least one); a
millisecond function is called several times per round so that a measurement lasts at least
``--min-seconds`` / ``--repeats``. Reported: the median over rounds (and the fastest round);
credax's compile times are measured separately (``.lower(...).compile()``), the peers' first
call less the median stands in for theirs. The 1-minute load average is recorded.

Published figure (context, not a comparison: a GPU, and the benchmark's own settings):
Open Neuromorphic, "SNN library benchmarks" (Lenz, Heckel, Shrestha, Barker, Pedersen 2023):
Spyx, float32, on one desktop GPU, about 1.7 G neuron-steps/s.

Peers (git-ignored ``.peers/``, driven through files and a subprocess,
``benchmarks/peers/spyx_run.py`` and ``benchmarks/peers/snntorch_run.py``):

    python3 -m venv .peers/spyx && .peers/spyx/bin/pip install spyx==1.0.0
    python3 -m venv .peers/snntorch && .peers/snntorch/bin/pip install snntorch==1.0.0 \\
        torch==2.13.0
    python benchmarks/spiking_throughput.py            # -> results/spiking_throughput_<backend>
    python benchmarks/spiking_throughput.py --quick    # smoke test, into runs/
    python benchmarks/spiking_throughput.py --snntorch-max-width 4096   # a GPU: up to 16,384

It runs on whatever JAX sees (set ``JAX_PLATFORMS=cpu`` to force the CPU) and names its files
after that backend; on a GPU snnTorch uses CUDA when its torch has it (the CPU wheel does not:
then cap its widths). On this 2-core CPU 8192 and 16,384 would take several minutes per
library and are left out of the default widths.
"""

from __future__ import annotations

import argparse
import json
import math
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
from common import RESULTS, environment, machine_load, peer_env, source_sha256, write_json  # noqa: E402

import credax  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PEERS = Path(__file__).resolve().parent / "peers"
SPYX_VERSION, SNNTORCH_VERSION, TORCH_VERSION = "1.0.0", "1.0.0", "2.13.0"
CREATE = {
    "spyx": f"python3 -m venv .peers/spyx && .peers/spyx/bin/pip install spyx=={SPYX_VERSION}",
    "snntorch": "python3 -m venv .peers/snntorch && .peers/snntorch/bin/pip install "
    f"snntorch=={SNNTORCH_VERSION} torch=={TORCH_VERSION}",
}
DT, TAU_MEM, THRESHOLD, SLOPE = 1.0, 10.0, 1.0, 10.0
BETA = math.exp(-DT / TAU_MEM)
INPUT_RATE, GAIN, TARGET_RATE = 0.1, 20.0, 0.05
PUBLISHED = {
    "spyx_neuron_steps_per_s": 1.7e9,
    "what": "Spyx, float32, one desktop GPU, the Linear + LIF benchmark (batch 16, 500 steps)",
    "source": "Open Neuromorphic, 'SNN library benchmarks' (G. Lenz, K. Heckel, S. B. Shrestha, "
    "C. Barker, J. E. Pedersen, 2023, updated 2024)",
    "note": "context only: measured on a GPU; the figures here are from the machine named in "
    "'environment'",
}
SEED_RUNS = (
    "credax_vmap",
    "credax_blocks_of_8",
    "credax_loop",
    "credax_one_seed",
    "spyx_loop",
    "spyx_hoisted_loop",
    "snntorch_loop",
)
LIBRARIES = [
    ("credax", "credax (time-major input)", "C0", "-"),
    ("credax_batch_major", "credax (batch-major input)", "C0", "--"),
    ("spyx", "Spyx (Linear in the scan, documented)", "C1", "-"),
    ("spyx_hoisted", "Spyx (Linear hoisted out of the scan)", "C1", "--"),
    ("snntorch", "snnTorch (Python loop over time)", "C2", "-"),
]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--widths", default=None, help="comma-separated (default: by backend)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--seeds", type=int, default=64, help="networks of the many-seed run")
    p.add_argument("--seed-width", type=int, default=128, help="width of the many-seed run")
    p.add_argument("--check-width", type=int, default=64, help="width of the equal-results check")
    p.add_argument("--repeats", type=int, default=5, help="timed rounds (median)")
    p.add_argument(
        "--max-seconds", type=float, default=45.0, help="timed rounds stop after (per width)"
    )
    p.add_argument(
        "--min-seconds", type=float, default=0.5, help="least timed seconds per function"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--spyx", default=str(ROOT / ".peers" / "spyx"), help="its venv")
    p.add_argument("--snntorch", default=str(ROOT / ".peers" / "snntorch"), help="its venv")
    p.add_argument(
        "--snntorch-max-width", type=int, default=None, help="widest snnTorch run (default: all)"
    )
    p.add_argument(
        "--torch-threads", type=int, default=0, help="snnTorch's threads (0: probe default vs 1)"
    )
    p.add_argument(
        "--update-max-width", type=int, default=2048, help="widest timed backprop update"
    )
    p.add_argument("--quick", action="store_true", help="a smoke run (about a minute)")
    p.add_argument("--out", default=None, help="path prefix of the .json and .png")
    args = p.parse_args(argv)
    backend = jax.default_backend()
    if args.quick:
        args.widths = args.widths or "64,128"
        args.steps, args.seeds, args.seed_width, args.check_width = 100, 4, 64, 32
        args.repeats = 1
    if args.widths is None:
        args.widths = "512,1024,2048" if backend == "cpu" else "512,1024,2048,4096,8192,16384"
    try:
        args.widths = [int(w) for w in str(args.widths).split(",")]
    except ValueError:
        p.error(f"--widths: expected comma-separated integers, got {args.widths!r}")
    for name in ("batch", "steps", "seeds", "seed_width", "check_width", "repeats"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if not args.widths or min(args.widths) < 1:
        p.error("--widths must be positive")
    if args.max_seconds <= 0 or args.min_seconds < 0 or args.torch_threads < 0:
        p.error("--max-seconds must be > 0, --min-seconds and --torch-threads >= 0")
    if args.out is None:
        args.out = str(
            ROOT / "runs" / "spiking_throughput_quick"
            if args.quick
            else RESULTS / f"spiking_throughput_{backend}"
        )

    wall0 = time.perf_counter()
    load_start = os.getloadavg()
    B, T = args.batch, args.steps
    print(
        f"Linear + LIF, batch {B}, {T} steps, widths {args.widths}, float32, on {backend}; "
        f"β = exp(-{DT}/{TAU_MEM}) = {BETA:.4f}",
        flush=True,
    )
    peers = {name: _peer(getattr(args, name), name) for name in ("spyx", "snntorch")}
    base_cfg = {
        "batch": B,
        "steps": T,
        "beta": BETA,
        "threshold": THRESHOLD,
        "slope": SLOPE,
        "reset": "subtract",
        "seed": args.seed,
        "input_rate": INPUT_RATE,
        "gain": GAIN,
        "current_scale": 1.0 - BETA,
        "target_rate": TARGET_RATE,
        "device": backend,
        "torch_threads": args.torch_threads,
    }
    results = {"check": None, "widths": {}, "seeds": None}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print(f"equal results, width {args.check_width}:", flush=True)
        results["check"] = run_check(args, peers, base_cfg, tmp)
        for width in args.widths:
            print(f"width {width}:", flush=True)
            results["widths"][str(width)] = run_width(width, args, peers, base_cfg, tmp)
        print(f"{args.seeds} seeds, width {args.seed_width}:", flush=True)
        results["seeds"] = run_seeds(args, peers, base_cfg, tmp)
    problems = _problems(results, peers)
    summary = summarize(results, args)
    print_tables(results, summary, args)
    wall = time.perf_counter() - wall0
    load = machine_load(load_start, "throughputs")
    print(f"wall time {wall:.0f} s")
    out = args.out
    write_json(
        Path(f"{out}.json"),
        {
            "benchmark": "spiking_throughput",
            "command": "python benchmarks/spiking_throughput.py " + " ".join(argv or sys.argv[1:]),
            "setup": setup_record(args),
            "published": PUBLISHED,
            "peers": {
                k: {kk: vv for kk, vv in v.items() if kk != "python"} for k, v in peers.items()
            },
            "install": CREATE,
            "environment": {**environment(), **load, "wall_seconds": wall},
            "versions": _versions(),
            "source_sha256": {
                f: source_sha256(f)
                for f in (
                    "benchmarks/spiking_throughput.py",
                    "benchmarks/peers/spyx_run.py",
                    "benchmarks/peers/snntorch_run.py",
                )
            },
            "differences": DIFFERENCES,
            "summary": summary,
            "problems": problems,
            "results": results,
        },
    )
    plot(results, summary, args, f"{out}.png")
    print(f"wrote {out}.json and {out}.png")
    if problems:
        print("problems: " + "; ".join(problems))


DIFFERENCES = [
    "input current: credax integrates a piecewise-constant current exactly, "
    "U_n = β U_{n-1} + (1 - β) a_n; snnTorch and Spyx add the input, U_t = β U_{t-1} + I_t: the "
    "peers get the weights times (1 - β), so I = (1 - β) a (float32 rounding apart)",
    "subtractive reset: credax subtracts ϑ at the spike, so the subtracted ϑ decays with the "
    "membrane on the next step (U_t = β (U_{t-1} - ϑ S_{t-1}) + (1 - β) a_t); snnTorch and Spyx "
    "subtract ϑ after the leak (U_t = β U_{t-1} + I_t - ϑ S_{t-1}). Reset to zero is the same in "
    "credax and snnTorch (Spyx's LIF has no reset to zero)",
    "Spyx's LIF fires from the membrane it carries into the step, S_t = Θ(V_{t-1} - ϑ), then "
    "updates V: its spike trains are snnTorch's one step later",
    "threshold test: credax fires at U ≥ ϑ, snnTorch and Spyx at U > ϑ (equal only at exact ties)",
    "gradient: credax (detach_reset=True, its default) and snnTorch detach the reset from the "
    "graph; Spyx's reset goes through its surrogate. All three use 1/(10|v| + 1)²",
    "layout: credax applies the Linear to all time steps in one matrix product and runs only the "
    "neuron in its lax.scan; Spyx's documented Sequential runs the Linear inside the scan, one "
    "(B, n) x (n, n) product per step (the 'hoisted' Spyx form moves it out, as credax does); "
    "snnTorch's tutorial loop calls the Linear per step from Python",
    "forward timing: snnTorch's forward runs under torch.no_grad() and records the membrane "
    "potentials as its tutorials do; credax and Spyx return the spike trains",
    "data layout: the peers take time-major input (T, B, n); credax's layer takes one example "
    "(T, n) and is vmapped over the batch axis, 1 for the same time-major data (the headline "
    "'credax' figures) or 0 for batch-major data ('credax_batch_major', the layout of credax's "
    "rule interface and of the backprop update)",
    "seeds: credax vmaps the forward+backward over 64 weight draws (one program), or maps over "
    "blocks of 8 (one program); the peers loop over seeds in Python (credax's loop is timed "
    "too)",
    "threads: JAX (credax, Spyx) runs XLA's default CPU thread pool; snnTorch runs the faster "
    "of torch's default thread count and 1 thread, probed per run (torch's spinning OpenMP "
    "workers slow down badly when other work shares the cores)",
]


# --- data and models ----------------------------------------------------------------------------


def make_data(seed, batch, steps, width, rate, gain, n_weights=1):
    """The inputs ``(B, T, n)`` (Bernoulli spikes of probability ``rate`` per step) and
    ``n_weights`` Glorot-uniform weight matrices ``(n_out, n_in)`` times ``gain``, float32 (the
    peers draw the same numbers with the same calls)."""
    rng = np.random.default_rng(seed)
    x = (rng.random((batch, steps, width)) < rate).astype(np.float32)
    bound = gain * math.sqrt(6.0 / (2 * width))
    w = rng.uniform(-bound, bound, (n_weights, width, width)).astype(np.float32)
    return x, w


def make_layer(steps, width, reset, weight=None):
    layer = credax.spiking.LIF(
        steps,
        width,
        width,
        key=0,
        dt=DT,
        tau_mem=TAU_MEM,
        tau_syn=None,
        threshold=THRESHOLD,
        reset=reset,
        surrogate=credax.spiking.fast_sigmoid(SLOPE),
    )
    if weight is not None:
        layer = eqx.tree_at(lambda q: q.weight, layer, jnp.asarray(weight))
    return layer


def rate_loss(spikes, y):
    """``½ Σ_{b,n} (r_bn - y_bn)² / B``, ``r`` the firing rate over time of ``spikes (B, T, n)``."""
    return credax.losses.mse(jnp.mean(spikes, axis=1), y)


def spikes_of(layer, x):
    """Batch-major: ``x (B, T, n)`` -> ``S (B, T, n)`` (the layout credax's rules take)."""
    return jax.vmap(layer)(x)


def loss_of(layer, x, y):
    return rate_loss(spikes_of(layer, x), y)


def spikes_of_time_major(layer, xt):
    """Time-major, the peers' layout: ``xt (T, B, n)`` -> ``S (T, B, n)``; the same layer,
    vmapped over axis 1."""
    return jax.vmap(layer, in_axes=1, out_axes=1)(xt)


def loss_of_time_major(layer, xt, y):
    return credax.losses.mse(jnp.mean(spikes_of_time_major(layer, xt), axis=0), y)


FORWARD = eqx.filter_jit(spikes_of)
GRAD = eqx.filter_jit(eqx.filter_grad(loss_of))
FORWARD_TM = eqx.filter_jit(spikes_of_time_major)
GRAD_TM = eqx.filter_jit(eqx.filter_grad(loss_of_time_major))


def peers_leaky(current, beta, threshold):
    """snnTorch's Leaky with subtractive reset (and Spyx's LIF, one step earlier), written here:
    ``U_t = β U_{t-1} + I_t - ϑ S_{t-1}``, ``S_t = Θ(U_t - ϑ)`` (``U > ϑ``) over the time axis of
    ``current (B, T, n)``; returns ``(S, U)``."""

    def step(u, i_t):
        u = beta * u + i_t - threshold * (u > threshold).astype(u.dtype)
        return u, (u > threshold, u)

    i = jnp.swapaxes(current, 0, 1)
    _, (s, u) = jax.lax.scan(step, jnp.zeros_like(i[0]), i)
    return jnp.swapaxes(s, 0, 1).astype(jnp.uint8), jnp.swapaxes(u, 0, 1)


# --- timing -------------------------------------------------------------------------------------


class PeerError(RuntimeError):
    pass


class PeerServer:
    """A peer's process serving one width (or the many-seed run): ``call(name, k)`` returns the
    mean seconds of ``k`` calls of its function ``name``, timed inside the peer."""

    def __init__(self, peer, script, cfg, path):
        path.write_text(json.dumps(cfg))
        self.script = script
        self.proc = subprocess.Popen(
            [peer["python"], str(PEERS / script), str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        hello = self._read()
        self.functions = hello.pop("functions")
        self.hello = hello

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise PeerError(f"{self.script} exited {self.proc.wait()} (its stderr is above)")
        return json.loads(line)

    def _ask(self, command):
        try:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise PeerError(f"{self.script} exited {self.proc.wait()}") from None
        return self._read()

    def call(self, name, k):
        return self._ask(f"call {name} {k}")["seconds"]

    def info(self):
        return self._ask("info")

    def close(self):
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=60)
        except (BrokenPipeError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


def start_servers(peers, cfg, tmp, tag, names=("spyx", "snntorch")):
    """``{name: PeerServer}`` for the peers that start, and ``{name: failure record}``."""
    servers, failed = {}, {}
    for name in names:
        peer = peers[name]
        if "python" not in peer:
            failed[name] = {k: v for k, v in peer.items() if k in ("missing", "failed")}
            continue
        try:
            servers[name] = PeerServer(peer, f"{name}_run.py", cfg, tmp / f"{name}_{tag}.json")
        except PeerError as e:
            failed[name] = {"failed": str(e)}
            print(f"  {name}: {e}", flush=True)
    return servers, failed


def compile_seconds(f, *args):
    """Seconds to trace, lower and compile ``f`` (a jitted function) for ``args``."""
    t0 = time.perf_counter()
    f.lower(*args).compile()
    return time.perf_counter() - t0


def local(f, *args):
    """A ``call(k)`` of a jitted credax function: the mean seconds of ``k`` waited-for calls."""

    def call(k):
        t0 = time.perf_counter()
        for _ in range(k):
            jax.block_until_ready(f(*args))
        return (time.perf_counter() - t0) / k

    return call


def interleave(runners, args, log=None):
    """Times every ``runners[name](k)`` in rounds that call each runner in turn, so that a slow
    spell of a shared machine slows all of them alike.

    Round 0 is each function's first call (compilation included), round 1 one call each; each
    later round calls a function ``k`` times (``k`` chosen from round 1 so that a measurement
    lasts ``--min-seconds / --repeats`` or more: a single millisecond call is mostly noise),
    until ``--repeats`` timed rounds or ``--max-seconds`` of timed rounds. Per function: the
    median and fastest of its timed rounds (seconds per call), and the first call
    - median (for a JAX function, roughly its compilation). A runner that fails is dropped and
    its error recorded."""
    out = {name: {"seconds_runs": []} for name in runners}
    live = dict(runners)

    def one_round(ks):
        for name, call in list(live.items()):
            try:
                secs = call(1 if ks is None else ks.get(name, 1))
            except PeerError as e:
                out[name]["failed"] = str(e)
                del live[name]
                continue
            if ks is None:
                out[name]["first_seconds"] = secs
            else:
                out[name]["seconds_runs"].append(secs)

    one_round(None)
    t0 = time.perf_counter()
    one_round({})
    ks = {
        name: max(1, math.ceil(args.min_seconds / args.repeats / max(r["seconds_runs"][0], 1e-9)))
        for name, r in out.items()
        if r["seconds_runs"]
    }
    while any(len(out[n]["seconds_runs"]) < args.repeats for n in live) and (
        time.perf_counter() - t0 < args.max_seconds
    ):
        one_round(ks)
    for name, r in out.items():
        if r["seconds_runs"]:
            r["seconds"] = float(np.median(r["seconds_runs"]))
            r["seconds_min"] = min(r["seconds_runs"])
            r["first_minus_median_seconds"] = r["first_seconds"] - r["seconds"]
            r["calls_per_later_run"] = ks[name]
        if log:
            log(name, r)
    return out


def _log(name, r):
    if "seconds" in r:
        print(
            f"  {name}: {r['seconds']:.3f} s (median of {len(r['seconds_runs'])}, fastest "
            f"{r['seconds_min']:.3f}, first call {r['first_seconds']:.2f})",
            flush=True,
        )
    else:
        print(f"  {name}: {r.get('failed', 'no timing')}", flush=True)


def run_width(width, args, peers, base_cfg, tmp):
    """credax, Spyx (both forms) and snnTorch at one width, interleaved, on the same numbers."""
    B, T = args.batch, args.steps
    names = ["spyx"] + (["snntorch"] if width <= (args.snntorch_max_width or width) else [])
    servers, failed = start_servers(
        peers, {**base_cfg, "serve": {"width": width}}, tmp, width, names
    )
    x, w = make_data(args.seed, B, T, width, INPUT_RATE, GAIN)
    checksum = {
        "x": float(x.sum(dtype=np.float64)),
        "w": float((w[0] * np.float32(1.0 - BETA)).sum(dtype=np.float64)),
    }
    layer = make_layer(T, width, "subtract", w[0])
    xt = jnp.asarray(np.ascontiguousarray(np.swapaxes(x, 0, 1)))
    x, y = jnp.asarray(x), jnp.full((B, width), TARGET_RATE, jnp.float32)
    del w
    rule = credax.backprop(rate_loss)
    state = rule.init(jax.random.key(0), layer)
    update = eqx.filter_jit(lambda q, s, x, y: rule.update(q, s, (x, y))[0])
    runners = {
        "credax/forward": local(FORWARD_TM, layer, xt),
        "credax/forward_backward": local(GRAD_TM, layer, xt, y),
        "credax_batch_major/forward": local(FORWARD, layer, x),
        "credax_batch_major/forward_backward": local(GRAD, layer, x, y),
    }
    compiled = {
        "credax/forward": compile_seconds(FORWARD_TM, layer, xt),
        "credax/forward_backward": compile_seconds(GRAD_TM, layer, xt, y),
        "credax_batch_major/forward": compile_seconds(FORWARD, layer, x),
        "credax_batch_major/forward_backward": compile_seconds(GRAD, layer, x, y),
    }
    if width <= args.update_max_width:
        runners["credax_batch_major/backprop_update"] = local(update, layer, state, x, y)
        compiled["credax_batch_major/backprop_update"] = compile_seconds(update, layer, state, x, y)
    for srv in servers.values():
        for f in srv.functions:
            runners[f] = lambda k, srv=srv, f=f: srv.call(f, k)
    timing = interleave(runners, args, _log)
    g, g_tm = GRAD(layer, x, y).weight, GRAD_TM(layer, xt, y).weight
    rec = {
        "credax": {
            "spike_rate": float(jnp.mean(FORWARD_TM(layer, xt))),
            "time_major_vs_batch_major_grad_max_abs": float(jnp.max(jnp.abs(g - g_tm))),
        }
    }
    if "credax_batch_major/backprop_update" in runners:
        u = update(layer, state, x, y).weight
        rec["credax"]["backprop_update_vs_grad_max_abs"] = float(jnp.max(jnp.abs(g - u)))
    for full, r in timing.items():
        lib, kind = full.split("/")
        if "seconds" in r:
            r["neuron_steps_per_s"] = B * T * width / r["seconds"]
        if full in compiled:
            r["compile_seconds"] = compiled[full]
        rec.setdefault(lib, {})[kind] = r
    for name, srv in servers.items():
        try:
            info = srv.info()
        except PeerError as e:
            info = {"failed": str(e)}
        srv.close()
        same = "checksum" in info and (
            info["checksum"]["x"] == checksum["x"]
            and math.isclose(info["checksum"]["w"], checksum["w"], rel_tol=1e-9, abs_tol=1e-6)
        )
        for lib, rate in info.get("spike_rate", {}).items():
            rec.setdefault(lib, {}).update(spike_rate=rate, same_data=same)
        if "threads" in info:
            rec[name]["threads"] = info["threads"]
        if "failed" in info:
            rec.setdefault(name, {})["failed"] = info["failed"]
    rec.update(failed)
    if "snntorch" not in names:
        rec["snntorch"] = {"skipped": f"wider than --snntorch-max-width {args.snntorch_max_width}"}
    return rec


def run_seeds(args, peers, base_cfg, tmp):
    """``--seeds`` networks' forward+backward: credax vmapped, in blocks of 8 seeds and looped;
    each peer looped; interleaved."""
    B, T, S, n = args.batch, args.steps, args.seeds, args.seed_width
    servers, failed = start_servers(
        peers, {**base_cfg, "serve": {"seeds": {"n": S, "width": n}}}, tmp, "seeds"
    )
    x, w = make_data(args.seed, B, T, n, INPUT_RATE, GAIN, S)
    template = make_layer(T, n, "subtract")
    x = jnp.asarray(np.ascontiguousarray(np.swapaxes(x, 0, 1)))  # time-major, as the peers'
    y, w = jnp.full((B, n), TARGET_RATE, jnp.float32), jnp.asarray(w)

    def one(wi, x, y):
        return GRAD_TM(eqx.tree_at(lambda q: q.weight, template, wi), x, y).weight

    many = jax.jit(jax.vmap(one, in_axes=(0, None, None)))
    blocks = jax.jit(lambda w, x, y: jax.lax.map(lambda wi: one(wi, x, y), w, batch_size=8))
    one_jit = jax.jit(one)

    def loop(w, x, y):
        return [one_jit(w[i], x, y) for i in range(len(w))]

    runners = {
        "credax_vmap": local(many, w, x, y),
        "credax_blocks_of_8": local(blocks, w, x, y),
        "credax_loop": local(loop, w, x, y),
        "credax_one_seed": local(one_jit, w[0], x, y),
    }
    for srv in servers.values():
        for f in srv.functions:
            runners[f] = lambda k, srv=srv, f=f: srv.call(f, k)
    rec = interleave(runners, args, _log)
    methods = {
        "credax_vmap": "jax.vmap over the weights of the forward+backward: one program",
        "credax_blocks_of_8": "jax.lax.map over blocks of 8 seeds, vmap within (one program; "
        "the seed blocking credax.train.sweep picks on a CPU)",
        "credax_loop": "Python loop over seeds, one compiled forward+backward",
        "credax_one_seed": "one network",
    }
    g_many, g_blocks = many(w, x, y), blocks(w, x, y)
    rec["agreement_max_abs"] = {
        "vmap_vs_loop": float(
            max(jnp.max(jnp.abs(g_many[i] - one_jit(w[i], x, y))) for i in (0, S - 1))
        ),
        "blocks_vs_vmap": float(jnp.max(jnp.abs(g_blocks - g_many))),
    }
    for srv in servers.values():
        try:
            info = srv.info()
        except PeerError as e:
            info = {"failed": str(e)}
        srv.close()
        for f in srv.functions:
            rec.get(f, {}).update(info)
    rec.update(failed)
    for k, r in rec.items():
        if isinstance(r, dict) and "seconds" in r:
            count = 1 if k == "credax_one_seed" else S
            r.setdefault("method", methods.get(k))
            r["n"] = count
            r["neuron_steps_per_s"] = count * B * T * n / r["seconds"]
    return rec


# --- equal results ------------------------------------------------------------------------------


def run_check(args, peers, base_cfg, tmp):
    """Spike trains of credax, the peers and ``peers_leaky`` on one set of weights and inputs."""
    B, T, n = args.batch, args.steps, args.check_width
    x, w = make_data(args.seed + 1, B, T, n, INPUT_RATE, GAIN)
    w = w[0]
    w_peer = w * np.float32(1.0 - BETA)
    y = np.full((B, n), TARGET_RATE, np.float32)
    np.savez(tmp / "check.npz", x=x.astype(np.uint8), w=w_peer, y=y)
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    ours = {}
    for reset in ("zero", "subtract"):
        layer = make_layer(T, n, reset, w)
        tr = credax.nets.trace(layer, xj)
        ours[reset] = {
            "spikes": np.asarray(tr.outputs[0]).astype(np.uint8),
            "membrane": np.asarray(tr.internals[0]["membrane"]),
            "grad": np.asarray(GRAD(layer, xj, yj).weight),
        }
    ref_s, ref_u = peers_leaky(jnp.einsum("bti,oi->bto", xj, jnp.asarray(w_peer)), BETA, THRESHOLD)
    ref = {"spikes": np.asarray(ref_s), "membrane": np.asarray(ref_u)}
    cfg = {**base_cfg, "check": str(tmp / "check.npz"), "check_resets": ["zero", "subtract"]}
    got = {
        name: run_peer(peers[name], f"{name}_run.py", tmp, f"{name}_check", cfg)
        for name in ("spyx", "snntorch")
    }
    rec = {
        "width": n,
        "neuron_steps": B * T * n,
        "spike_rate": {
            "credax_zero": float(ours["zero"]["spikes"].mean()),
            "credax_subtract": float(ours["subtract"]["spikes"].mean()),
        },
        "comparisons": {},
    }
    comp = rec["comparisons"]
    snn, spyx = got["snntorch"].get("arrays"), got["spyx"].get("arrays")
    # Spyx's spike at t is the crossing at t - 1: compare its steps 1.. with the others' 0..T-2.
    if snn is not None:
        comp["credax zero vs snnTorch zero"] = compare(
            ours["zero"]["spikes"], snn["spikes_zero"], ours["zero"]["membrane"]
        )
        g_ours, g_peer = ours["zero"]["grad"], (1.0 - BETA) * snn["grad_zero"]
        comp["credax zero vs snnTorch zero"]["grad_rel_diff"] = float(
            np.linalg.norm(g_ours - g_peer) / np.linalg.norm(g_ours)
        )
        comp["credax subtract vs snnTorch subtract"] = compare(
            ours["subtract"]["spikes"], snn["spikes_subtract"], ours["subtract"]["membrane"]
        )
        comp["peers' equation vs snnTorch subtract"] = compare(
            ref["spikes"], snn["spikes_subtract"], ref["membrane"]
        )
    if spyx is not None:
        s = spyx["spikes_subtract"]
        rec["spyx_first_step_spikes"] = int(s[:, 0].sum())
        comp["credax subtract vs Spyx (one step shifted)"] = compare(
            ours["subtract"]["spikes"][:, :-1], s[:, 1:], ours["subtract"]["membrane"][:, :-1]
        )
        comp["peers' equation vs Spyx (one step shifted)"] = compare(
            ref["spikes"][:, :-1], s[:, 1:], ref["membrane"][:, :-1]
        )
        rec["spyx_membrane_vs_peers_equation_max_abs"] = float(
            np.abs(spyx["membrane_subtract"] - ref["membrane"]).max()
        )
    if snn is not None and spyx is not None:
        comp["snnTorch subtract vs Spyx (one step shifted)"] = compare(
            snn["spikes_subtract"][:, :-1], spyx["spikes_subtract"][:, 1:], None
        )
    for name in ("spyx", "snntorch"):
        for k in ("missing", "failed"):
            if k in got[name]:
                rec[f"{name}_{k}"] = got[name][k]
    for label, c in comp.items():
        print(
            f"  {label}: {c['mismatches']} of {c['compared']} neuron-steps differ "
            f"({c['neurons_differing']} of {c['neurons']} neuron trains)"
            + (
                f", |U - ϑ| at first differences ≤ {c['max_margin_at_first_difference']:.2g}"
                if c.get("max_margin_at_first_difference") is not None
                else ""
            )
            + (
                f", weight gradient rel. diff {c['grad_rel_diff']:.2g}"
                if "grad_rel_diff" in c
                else ""
            ),
            flush=True,
        )
    return rec


def compare(a, b, membrane):
    """Mismatching neuron-steps of spike trains ``a``, ``b`` ``(B, T, n)``; with ``membrane`` (of
    ``a``), the largest ``|U - ϑ|`` at the first mismatch of each differing neuron train (tiny:
    a rounding difference at the threshold; large: a different equation)."""
    diff = np.asarray(a) != np.asarray(b)
    trains = diff.any(axis=1)  # (B, n)
    out = {
        "compared": int(diff.size),
        "mismatches": int(diff.sum()),
        "neurons": int(trains.size),
        "neurons_differing": int(trains.sum()),
        "spikes": [int(np.asarray(a).sum()), int(np.asarray(b).sum())],
    }
    if membrane is not None and trains.any():
        first = diff.argmax(axis=1)  # (B, n)
        bi, ni = np.nonzero(trains)
        u = np.asarray(membrane)[bi, first[bi, ni], ni]
        out["max_margin_at_first_difference"] = float(np.abs(u - THRESHOLD).max())
        out["median_margin_at_first_difference"] = float(np.median(np.abs(u - THRESHOLD)))
    elif membrane is not None:
        out["max_margin_at_first_difference"] = None
    return out


# --- peers --------------------------------------------------------------------------------------


def _peer(venv, name):
    return peer_env(venv, name, CREATE[name])


def run_peer(peer, script, tmp, tag, cfg):
    """Runs ``peers/script`` on ``cfg`` in the peer's environment: its JSON (with its arrays under
    ``arrays``), or a record of why not."""
    if "python" not in peer:
        return {k: v for k, v in peer.items() if k in ("missing", "failed")}
    cfg = {**cfg, "out": str(tmp / f"{tag}.out.json"), "arrays_out": str(tmp / f"{tag}.out.npz")}
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
    with np.load(cfg["arrays_out"]) as z:
        rec["arrays"] = {k: z[k] for k in z.files}
    if not rec["arrays"]:
        del rec["arrays"]
    return rec


def _problems(results, peers):
    """Every peer that was missing or failed, and any peer run on other numbers than credax's."""
    out = [f"{k}: {v[m]}" for k, v in peers.items() for m in ("missing", "failed") if m in v]

    def failures(where, rec):
        for name, r in rec.items():
            if not isinstance(r, dict):
                continue
            if "failed" in r and r["failed"] != peers.get(name, {}).get("failed"):
                out.append(f"{name} {where}: {r['failed']}")
            for kind, rr in r.items():
                if isinstance(rr, dict) and "failed" in rr:
                    out.append(f"{name} {kind} {where}: {rr['failed']}")
            if r.get("same_data") is False:
                out.append(f"{name} {where}: drew different inputs or weights")

    for width, rec in results["widths"].items():
        failures(f"width {width}", rec)
    failures("seeds", results["seeds"])
    c = results["check"]
    out += [f"check: {c[k]}" for k in c if k.endswith("_failed")]
    return list(dict.fromkeys(out))


# --- summary, tables, plot ----------------------------------------------------------------------


def _rate(rec, name, kind):
    r = rec.get(name, {})
    return r.get(kind, {}).get("neuron_steps_per_s")


def summarize(results, args):
    """Neuron-steps/s per library and width, and credax's ratio to each peer."""
    out = {"widths": {}, "seeds": {}}
    for width, rec in results["widths"].items():
        s = {}
        for kind in ("forward", "forward_backward"):
            rates = {name: _rate(rec, name, kind) for name, *_ in LIBRARIES}
            s[kind] = {k: v for k, v in rates.items() if v is not None}
            for ours in ("credax", "credax_batch_major"):
                c = rates[ours]
                s[kind][f"{ours}_over"] = {
                    name: c / v
                    for name, v in rates.items()
                    if not name.startswith("credax") and v and c
                }
            fastest = {
                name: rec[name][kind]["seconds_min"]
                for name, *_ in LIBRARIES
                if "seconds_min" in rec.get(name, {}).get(kind, {})
            }
            if "credax" in fastest:
                s[kind]["credax_over_by_fastest_call"] = {
                    name: v / fastest["credax"]
                    for name, v in fastest.items()
                    if not name.startswith("credax")
                }
        s["credax_compile_seconds"] = {
            f"{lib}/{k}": rec[lib][k]["compile_seconds"]
            for lib in ("credax", "credax_batch_major")
            for k in ("forward", "forward_backward", "backprop_update")
            if "compile_seconds" in rec.get(lib, {}).get(k, {})
        }
        bm = rec.get("credax_batch_major", {})
        if "neuron_steps_per_s" in bm.get("backprop_update", {}):
            s["credax_backprop_update"] = bm["backprop_update"]["neuron_steps_per_s"]
        s["spike_rate"] = {
            name: rec[name]["spike_rate"]
            for name, *_ in LIBRARIES
            if "spike_rate" in rec.get(name, {})
        }
        out["widths"][width] = s
    sd = results["seeds"]
    rates = {
        k: sd[k]["neuron_steps_per_s"]
        for k in SEED_RUNS
        if k in sd and "neuron_steps_per_s" in sd[k]
    }
    out["seeds"] = {
        "n": args.seeds,
        "width": args.seed_width,
        "neuron_steps_per_s": rates,
    }
    for ours in ("credax_vmap", "credax_blocks_of_8"):
        if ours in rates:
            out["seeds"][f"{ours}_over"] = {
                k: rates[ours] / v for k, v in rates.items() if not k.startswith("credax")
            }
    return out


def _m(v):
    return "" if v is None else f"{v / 1e6:.1f}M" if v < 1e9 else f"{v / 1e9:.2f}G"


def print_tables(results, summary, args):
    pub = PUBLISHED["spyx_neuron_steps_per_s"]
    for kind, title in (("forward", "forward"), ("forward_backward", "forward+backward")):
        print(f"\n{title}: neuron-steps/s (B x n x T / s); published: Spyx ~{_m(pub)} on a GPU")
        peers = [name for name, *_ in LIBRARIES[2:]]
        head = ["width"] + [name for name, *_ in LIBRARIES] + [f"c/{p}" for p in peers]
        head += ["c/spyx fastest"]
        print(" | ".join(f"{h:>13}" for h in head))
        for width, s in summary["widths"].items():
            r = s[kind]
            row = [width] + [_m(r.get(name)) for name, *_ in LIBRARIES]
            over = r["credax_over"]
            row += [f"{over[p]:.2f}x" if p in over else "" for p in peers]
            fast = r.get("credax_over_by_fastest_call", {})
            row.append(f"{fast['spyx']:.2f}x" if "spyx" in fast else "")
            print(" | ".join(f"{v:>13}" for v in row))
    print("\ncredax compile seconds (trace + lower + compile), and its backprop update:")
    for width, s in summary["widths"].items():
        cs = ", ".join(f"{k} {v:.2f}" for k, v in s["credax_compile_seconds"].items())
        upd = s.get("credax_backprop_update")
        print(f"  {width}: {cs}" + (f"; backprop update {_m(upd)} neuron-steps/s" if upd else ""))
    widest = list(summary["widths"])[-1]
    fb = summary["widths"][widest]["forward_backward"]
    print(
        f"\npublished (context: a desktop GPU): Spyx ~{_m(pub)} neuron-steps/s; ours at width "
        f"{widest}, forward+backward on {jax.default_backend()}: credax {_m(fb.get('credax'))}, "
        f"Spyx {_m(fb.get('spyx'))}, Spyx hoisted {_m(fb.get('spyx_hoisted'))}, snnTorch "
        f"{_m(fb.get('snntorch'))}"
    )
    sd = summary["seeds"]
    print(
        f"\n{sd['n']} seeds at width {sd['width']}, forward+backward, neuron-steps/s of all "
        "seeds together:"
    )
    for k, v in sd["neuron_steps_per_s"].items():
        ratios = [
            f"credax {ours[7:]} {sd[f'{ours}_over'][k]:.2f}x"
            for ours in ("credax_vmap", "credax_blocks_of_8")
            if k in sd.get(f"{ours}_over", {})
        ]
        print(f"  {k:>18}: {_m(v):>8}" + (f"  ({', '.join(ratios)})" if ratios else ""))


def plot(results, summary, args, path):
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.2))
    widths = [int(w) for w in summary["widths"]]
    for ax, kind, title in (
        (axes[0], "forward", "forward"),
        (axes[1], "forward_backward", "forward + backward (weight gradient)"),
    ):
        for name, label, color, style in LIBRARIES:
            xs = [w for w in widths if name in summary["widths"][str(w)][kind]]
            ys = [summary["widths"][str(w)][kind][name] for w in xs]
            if xs:
                ax.plot(xs, ys, style, marker="o", color=color, label=label)
        if kind == "forward_backward":
            ax.text(
                0.02,
                0.02,
                f"published (context): Spyx on a desktop GPU, "
                f"~{_m(PUBLISHED['spyx_neuron_steps_per_s'])} neuron-steps/s",
                transform=ax.transAxes,
                fontsize=7,
                color="C1",
            )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("width n (inputs = neurons)")
        ax.set_ylabel("neuron-steps / s")
        ax.set_title(f"{title}, batch {args.batch}, {args.steps} steps", fontsize=10)
        ax.legend(fontsize=7)
    sd = summary["seeds"]["neuron_steps_per_s"]
    labels = {
        "credax_vmap": "credax\nvmap",
        "credax_blocks_of_8": "credax\nblocks of 8",
        "credax_loop": "credax\nloop",
        "spyx_loop": "Spyx\nloop",
        "spyx_hoisted_loop": "Spyx hoisted\nloop",
        "snntorch_loop": "snnTorch\nloop",
    }
    keys = [k for k in labels if k in sd]
    colors = {"credax": "C0", "spyx": "C1", "snntorch": "C2"}
    axes[2].bar(
        range(len(keys)),
        [sd[k] for k in keys],
        color=[colors[k.split("_")[0]] for k in keys],
    )
    axes[2].set_xticks(range(len(keys)), [labels[k] for k in keys], fontsize=8)
    axes[2].set_yscale("log")
    axes[2].set_ylabel("neuron-steps / s, all seeds together")
    axes[2].set_title(
        f"{args.seeds} networks, width {args.seed_width}: forward + backward", fontsize=10
    )
    fig.suptitle(
        f"Linear + LIF throughput on {jax.default_backend()} (float32); load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
        fontsize=11,
    )
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def setup_record(args):
    return {
        "network": "one Linear (no bias) + one layer of LIF neurons, width n -> n",
        "batch": args.batch,
        "steps": args.steps,
        "widths": args.widths,
        "dtype": "float32",
        "dt_ms": DT,
        "tau_mem_ms": TAU_MEM,
        "beta": BETA,
        "threshold": THRESHOLD,
        "surrogate": f"fast sigmoid (SuperSpike) 1/({SLOPE:g}|v| + 1)^2",
        "reset_timed": "subtract",
        "input": f"Bernoulli spikes, probability {INPUT_RATE} per step",
        "weights": f"Glorot uniform x {GAIN} (NumPy default_rng(seed)); peers x (1 - beta)",
        "loss": f"0.5 sum_(b,n) (rate_bn - {TARGET_RATE})^2 / B, rate = spike count / T",
        "seeds": args.seeds,
        "seed_width": args.seed_width,
        "check_width": args.check_width,
        "repeats": args.repeats,
        "torch_threads": args.torch_threads or "probe: the faster of torch's default and 1",
        "backprop_update_timed_up_to_width": args.update_max_width,
        "max_seconds": args.max_seconds,
        "min_seconds": args.min_seconds,
        "seed": args.seed,
        "neuron_steps": "batch x width x steps (x seeds)",
    }


def _versions() -> dict:
    from importlib.metadata import version

    return {
        "credax": version("credax"),
        "jax": jax.__version__,
        "equinox": version("equinox"),
        "numpy": np.__version__,
    }


if __name__ == "__main__":
    main()
