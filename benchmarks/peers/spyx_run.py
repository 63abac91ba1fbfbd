"""The Spyx half of ``benchmarks/spiking_throughput.py``: one Linear + LIF layer run over time as
Spyx documents it, timed, and checked on shared weights and input spikes.

Runs in its own virtual environment, started by ``spiking_throughput.py`` as
``.peers/spyx/bin/python benchmarks/peers/spyx_run.py CONFIG.json``. It imports neither credax
nor anything else from this repository: the settings arrive in the config. Two modes: the
equal-results check (the arrays arrive in an ``.npz`` the config names; spike trains, membrane
potentials and the weight gradient leave in another), and, with ``serve`` in the config, a
process that builds the timed functions of one width (or of the many-seed run) and then times
single calls on request from stdin (``serve``), so that ``spiking_throughput.py`` can interleave
its calls with credax's and snnTorch's on a shared machine. The timing data are drawn here by
the same NumPy generator calls as in ``spiking_throughput.py`` (``make_data``; the checksums it
returns show that they are the same numbers).

Spyx 1.0 is built on Flax NNX (earlier releases used Haiku and ``hk.dynamic_unroll``). The
network: ``spyx.nn.Sequential(nnx.Linear(n, n, use_bias=False), spyx.nn.LIF((n,), beta,
threshold=1, activation=spyx.axn.superspike(k)))`` driven over a time-major input ``(T, B, n)``
by ``spyx.nn.run`` (a ``lax.scan`` of the stateful model, its documented runner), jitted with
``jax.jit`` over the ``nnx.split`` state as ``spyx.bench`` does. Spyx's LIF computes, per step,
``S_t = Θ(V_{t-1} - ϑ)`` from the membrane it carries in, then ``V_t = β V_{t-1} + x_t - ϑ S_t``:
its spike at step ``t`` reports the threshold crossing of step ``t - 1``, and the reset is
subtractive and not detached. A second form (``hoisted``) applies the Linear to all time steps
at once (``nnx.Linear`` acts on the last axis of ``(T, B, n)``) and runs only the LIF in the
scan, as credax's layer does. The loss is ``½ Σ_{b,n} (r_bn - y_bn)² / B`` with ``r`` the
firing rate (spike count / T); its gradient is taken with respect to the Linear's kernel only.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import spyx
from flax import nnx

KERNEL = nnx.PathContains("kernel")


def make_data(seed, batch, steps, width, rate, gain, n_weights=1):
    """The inputs ``(B, T, n)`` (Bernoulli spikes of probability ``rate`` per step) and
    ``n_weights`` Glorot-uniform weight matrices ``(n_out, n_in)`` times ``gain``, float32, as
    ``spiking_throughput.py`` draws them."""
    rng = np.random.default_rng(seed)
    x = (rng.random((batch, steps, width)) < rate).astype(np.float32)
    bound = gain * math.sqrt(6.0 / (2 * width))
    w = rng.uniform(-bound, bound, (n_weights, width, width)).astype(np.float32)
    return x, w


def build(cfg, width, weight):
    """``(graphdef, kernel, rest)`` of the network with ``weight`` ``(n_out, n_in)``."""
    rngs = nnx.Rngs(0)
    model = spyx.nn.Sequential(
        nnx.Linear(width, width, use_bias=False, rngs=rngs),
        spyx.nn.LIF(
            (width,),
            beta=cfg["beta"],
            threshold=cfg["threshold"],
            activation=spyx.axn.superspike(cfg["slope"]),
            rngs=rngs,
        ),
    )
    model.layers[0].kernel[...] = jnp.asarray(np.ascontiguousarray(weight.T))
    return nnx.split(model, KERNEL, ...)


def make_fns(graphdef, rest, hoisted):
    """Jitted ``forward(kernel, x) -> (S, V)`` (time-major) and ``grad(kernel, x, y)``."""

    def run(kernel, x):
        model = nnx.merge(graphdef, kernel, rest)
        if hoisted:
            linear, lif = model.layers
            return spyx.nn.run(lif, linear(x))
        return spyx.nn.run(model, x)

    def spikes(kernel, x):
        return run(kernel, x)[0]

    def loss(kernel, x, y):
        r = jnp.mean(spikes(kernel, x), axis=0)
        return 0.5 * jnp.sum((r - y) ** 2) / y.shape[0]

    return jax.jit(spikes), jax.jit(jax.grad(loss))


def membrane(graphdef, kernel, rest, x):
    """Spyx's membrane ``V_t`` after each step (time-major): the LIF stepped by hand, as
    ``spyx.nn.run`` steps it, to expose its state."""
    model = nnx.merge(graphdef, kernel, rest)
    linear, lif = model.layers
    cur = linear(x)

    def step(v, c):
        _, v = lif(c, v)
        return v, v

    return jax.lax.scan(step, lif.initial_state(x.shape[1]), cur)[1]


def check(cfg, arrays):
    """Spike trains, membrane potentials and the weight gradient on the check's arrays."""
    with np.load(cfg["check"]) as z:
        x, w, y = z["x"].astype(np.float32), z["w"], z["y"]
    width = x.shape[-1]
    graphdef, kernel, rest = build(cfg, width, w)
    xt = jnp.asarray(np.swapaxes(x, 0, 1))
    fwd, grad = make_fns(graphdef, rest, hoisted=False)
    arrays["spikes_subtract"] = np.swapaxes(np.asarray(fwd(kernel, xt)), 0, 1).astype(np.uint8)
    arrays["membrane_subtract"] = np.swapaxes(
        np.asarray(membrane(graphdef, kernel, rest, xt)), 0, 1
    )
    g = grad(kernel, xt, jnp.asarray(y))
    arrays["grad_subtract"] = np.asarray(g["layers"][0]["kernel"][...]).T


def serve_width(cfg, width):
    """The timed functions at one width (``spyx/...``: the documented Sequential in
    ``spyx.nn.run``; ``spyx_hoisted/...``: the Linear before the scan) and the run's info."""
    B, T = cfg["batch"], cfg["steps"]
    x, w = make_data(cfg["seed"], B, T, width, cfg["input_rate"], cfg["gain"])
    w = w[0] * np.float32(cfg["current_scale"])
    checksum = {"x": float(x.sum(dtype=np.float64)), "w": float(w.sum(dtype=np.float64))}
    xt = jnp.asarray(np.swapaxes(x, 0, 1))
    yt = jnp.full((B, width), cfg["target_rate"], jnp.float32)
    graphdef, kernel, rest = build(cfg, width, w)
    del x, w
    fns, forwards = {}, {}
    for name, hoisted in (("spyx", False), ("spyx_hoisted", True)):
        fwd, grad = make_fns(graphdef, rest, hoisted)
        fns[f"{name}/forward"] = lambda fwd=fwd: fwd(kernel, xt)
        fns[f"{name}/forward_backward"] = lambda grad=grad: grad(kernel, xt, yt)
        forwards[name] = fns[f"{name}/forward"]

    def info():
        return {
            "checksum": checksum,
            "spike_rate": {k: float(jnp.mean(f())) for k, f in forwards.items()},
        }

    return fns, info


def serve_seeds(cfg):
    """Forward+backward of ``n`` networks (one weight draw each, one input batch): a Python loop
    over seeds calling the one compiled gradient with each seed's kernel, in both forms."""
    s = cfg["serve"]["seeds"]
    B, T, width, n = cfg["batch"], cfg["steps"], s["width"], s["n"]
    x, w = make_data(cfg["seed"], B, T, width, cfg["input_rate"], cfg["gain"], n)
    w = w * np.float32(cfg["current_scale"])
    xt = jnp.asarray(np.swapaxes(x, 0, 1))
    yt = jnp.full((B, width), cfg["target_rate"], jnp.float32)
    graphdef, kernel, rest = build(cfg, width, w[0])
    kernels = [
        jax.tree.map(lambda _, wi=wi: jnp.asarray(np.ascontiguousarray(wi.T)), kernel) for wi in w
    ]
    fns = {}
    for name, hoisted in (("spyx_loop", False), ("spyx_hoisted_loop", True)):
        _, grad = make_fns(graphdef, rest, hoisted)
        fns[name] = lambda grad=grad: [grad(k, xt, yt) for k in kernels]
    return fns, lambda: {"method": "Python loop over seeds, one compiled gradient"}


def serve(fns, info, versions):
    """Answers, one JSON line each, ``call NAME K`` (the mean seconds of ``K`` calls of
    ``fns[NAME]``, each waited for), ``info`` and ``quit`` read from stdin; stray output of the
    libraries goes to stderr."""
    proto = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    print(json.dumps({"functions": list(fns), **versions}), file=proto, flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        if cmd[0] == "info":
            print(json.dumps(info()), file=proto, flush=True)
            continue
        f, k = fns[cmd[1]], int(cmd[2])
        t0 = time.perf_counter()
        for _ in range(k):
            jax.block_until_ready(f())
        print(json.dumps({"seconds": (time.perf_counter() - t0) / k}), file=proto, flush=True)


def main(config_path):
    cfg = json.loads(Path(config_path).read_text())
    from importlib.metadata import version

    versions = {
        "versions": {
            "spyx": version("spyx"),
            "flax": version("flax"),
            "jax": jax.__version__,
            "jaxlib": version("jaxlib"),
            "numpy": np.__version__,
            "python": sys.version.split()[0],
        },
        "backend": jax.default_backend(),
        "device": getattr(jax.devices()[0], "device_kind", str(jax.devices()[0])),
    }
    if "serve" in cfg:
        if "width" in cfg["serve"]:
            fns, info = serve_width(cfg, cfg["serve"]["width"])
        else:
            fns, info = serve_seeds(cfg)
        serve(fns, info, versions)
        return
    arrays = {}
    check(cfg, arrays)
    np.savez(cfg["arrays_out"], **arrays)
    Path(cfg["out"]).write_text(json.dumps(versions, indent=1))


if __name__ == "__main__":
    main(sys.argv[1])
