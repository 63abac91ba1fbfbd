"""The Brian2 half of ``benchmarks/spiking_vs_brian2.py``: LIF networks (and the STDP synapses of
Brian2's classic example) driven by given input spike times, simulated by Brian2.

Runs in its own virtual environment (Brian2 pins NumPy and SymPy), started by
``spiking_vs_brian2.py`` as ``.peers/brian2/bin/python benchmarks/peers/brian2_run.py
CONFIG.json``. It imports neither credax nor anything else from this repository: the input spikes
and weights arrive as ``.npz`` files named in the config; the results leave as a JSON file (times,
counts) and an ``.npz`` per case (spikes, membranes, weights).

Each case builds, inside ``start_scope()``, what a Brian2 user writes for the network (units: ms,
potentials dimensionless relative to rest, threshold ``v >= threshold``, reset ``v = 0``,
``method='exact'``):

- inputs: a ``SpikeGeneratorGroup`` of the given spike times (step index × dt);
- neurons: current-based, ``dv/dt = -v/tau_m : 1 (unless refractory)`` with ``on_pre:
  v_post += w * int(not_refractory_post)`` (a jump of ``v``; ignored while refractory); with
  exponential synapses, ``dv/dt = (I - v)/tau_m : 1 (unless refractory)``, ``dI/dt =
  -I/tau_s : 1`` and ``on_pre: I_post += w`` (a jump of the synaptic current);
- ``schedule = "synapses_first"`` moves the input group's spike emission to ``before_groups`` and
  the synaptic pathway to ``after_groups``, so that an input spike of step ``n`` reaches the
  neurons before their threshold test of step ``n``; ``"default"`` keeps Brian2's order
  (groups, thresholds, synapses, resets);
- ``copies`` independent copies of the network (block-diagonal connectivity) simulate several
  seeds in one Brian2 network, as a Brian2 user would;
- STDP (``kind = "stdp"``), Brian2's classic example (Song, Miller & Abbott 2000) with traces
  ``apre``, ``apost`` (event-driven) and the additive rule with hard bounds: ``on_pre: apre +=
  a_plus; w = clip(w + apost, 0, w_max)``, ``on_post: apost -= a_minus; w = clip(w + apre, 0,
  w_max)``; ``plastic = "frozen"`` instead accumulates the same changes in a variable ``wp``
  that does not drive the neuron, without clipping (so the postsynaptic spikes do not depend on
  the learning, and the summed change can be compared pair for pair).

Timing: each case is built and run ``repeats`` times; the first run includes Brian2's code
generation (and, for the ``cython`` target, compilation unless cached in ``~/.cython``: the
objects have fixed names, so that a second build generates the same code and finds it there;
the number of extensions compiled during each run is recorded).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np


def _network(cfg, data):
    import brian2 as b2

    ms = b2.ms
    dt = cfg["dt"] * ms
    n_in, n_out, copies = cfg["n_in"], cfg["n_out"], cfg.get("copies", 1)
    schedule = cfg.get("schedule", "default")
    synaptic = cfg["tau_syn"] is not None
    ns = {"tau_m": cfg["tau_mem"] * ms, "tau_s": (cfg["tau_syn"] or 1.0) * ms}
    gen = b2.SpikeGeneratorGroup(
        n_in * copies,
        data["pre_index"],
        data["pre_step"] * dt,
        dt=dt,
        when="before_groups" if schedule == "synapses_first" else "thresholds",
        name="inputs",
    )
    if synaptic:
        eqs = "dv/dt = (I - v)/tau_m : 1 (unless refractory)\ndI/dt = -I/tau_s : 1"
        drive = "I_post += w"
    else:
        eqs = "dv/dt = -v/tau_m : 1 (unless refractory)"
        drive = "v_post += w * int(not_refractory_post)"
    neurons = b2.NeuronGroup(
        n_out * copies,
        eqs,
        threshold=f"v >= {cfg['threshold']!r}",
        reset="v = 0",
        refractory=cfg["refractory"] * ms,
        method="exact",
        namespace=ns,
        dt=dt,
        name="neurons",
    )
    model, on_pre, on_post = "w : 1", drive, None
    if cfg["kind"] == "stdp":
        ns.update(
            a_plus=cfg["a_plus"],
            a_minus=cfg["a_minus"],
            tau_plus=cfg["tau_plus"] * ms,
            tau_minus=cfg["tau_minus"] * ms,
            w_max=cfg["w_max"],
        )
        traces = (
            "dapre/dt = -apre/tau_plus : 1 (event-driven)\n"
            "dapost/dt = -apost/tau_minus : 1 (event-driven)"
        )
        if cfg["plastic"] == "online":
            model = "w : 1\n" + traces
            on_pre = f"{drive}\napre += a_plus\nw = clip(w + apost, 0, w_max)"
            on_post = "apost -= a_minus\nw = clip(w + apre, 0, w_max)"
        else:
            model = "w : 1\nwp : 1\n" + traces
            on_pre = f"{drive}\napre += a_plus\nwp += apost"
            on_post = "apost -= a_minus\nwp += apre"
    syn = b2.Synapses(
        gen,
        neurons,
        model,
        on_pre=on_pre,
        on_post=on_post,
        namespace=ns,
        method="exact",
        dt=dt,
        name="synapses",
    )
    w = np.asarray(data["weights"], np.float64)  # (n_out, n_in)
    post, pre = np.meshgrid(np.arange(n_out), np.arange(n_in), indexing="ij")
    src = np.concatenate([pre.ravel() + c * n_in for c in range(copies)])
    dst = np.concatenate([post.ravel() + c * n_out for c in range(copies)])
    syn.connect(i=src, j=dst)
    syn.w = np.tile(w.ravel(), copies)
    if cfg["kind"] == "stdp" and cfg["plastic"] == "frozen":
        syn.wp = np.tile(w.ravel(), copies)
    if schedule == "synapses_first":
        syn.pre.when = "after_groups"
    spikes = b2.SpikeMonitor(neurons, name="spikes")
    objs = [gen, neurons, syn, spikes]
    volt = None
    if cfg.get("record_v"):
        volt = b2.StateMonitor(
            neurons, "v", record=True, when="before_thresholds", dt=dt, name="voltage"
        )
        objs.append(volt)
    return b2.Network(*objs), syn, spikes, volt


def run_case(cfg, out_dir):
    import brian2 as b2

    b2.prefs.codegen.target = cfg.get("target", "numpy")
    with np.load(cfg["data"]) as z:
        data = {k: z[k] for k in z.files}
    times, res = [], None
    cache = Path.home() / ".cython" / "brian_extensions"
    count = lambda: len(list(cache.glob("*.so"))) if cache.exists() else 0  # noqa: E731
    for _ in range(cfg.get("repeats", 1)):
        b2.start_scope()
        before = count()
        t0 = time.perf_counter()
        net, syn, spikes, volt = _network(cfg, data)
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        net.run(cfg["steps"] * cfg["dt"] * b2.ms)
        times.append(
            {
                "build_seconds": build,
                "run_seconds": time.perf_counter() - t0,
                "cython_extensions_compiled": count() - before,
            }
        )
        res = (syn, spikes, volt)
    syn, spikes, volt = res
    arrays = {
        "spike_index": np.asarray(spikes.i[:], np.int32),
        "spike_step": np.asarray(np.round(spikes.t[:] / (cfg["dt"] * b2.ms)), np.int64),
    }
    if volt is not None:
        arrays["v"] = np.asarray(volt.v[:], np.float64)  # (n_out, steps)
    if cfg["kind"] == "stdp":
        n_out, n_in = cfg["n_out"], cfg["n_in"]
        weights = np.empty((n_out, n_in))
        name = "w" if cfg["plastic"] == "online" else "wp"
        weights[np.asarray(syn.j[:]), np.asarray(syn.i[:])] = np.asarray(getattr(syn, name)[:])
        arrays["weights"] = weights
    np.savez(out_dir / f"{cfg['name']}.npz", **arrays)
    return {
        "name": cfg["name"],
        "target": b2.prefs.codegen.target,
        "timings": times,
        "n_spikes": int(len(arrays["spike_index"])),
        "arrays": str(out_dir / f"{cfg['name']}.npz"),
    }


def main(path):
    import brian2 as b2

    cfg = json.loads(Path(path).read_text())
    out_dir = Path(cfg["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    b2.BrianLogger.suppress_name("resolution_conflict")
    results = []
    for case in cfg["cases"]:
        t0 = time.perf_counter()
        try:
            results.append(run_case(case, out_dir))
        except Exception as e:  # a failed case is reported, the others still run
            results.append({"name": case["name"], "failed": f"{type(e).__name__}: {e}"})
        print(f"  brian2 {case['name']}: {time.perf_counter() - t0:.1f} s", flush=True)
    versions = {"brian2": b2.__version__, "numpy": np.__version__}
    Path(cfg["out"]).write_text(json.dumps({"versions": versions, "cases": results}))


if __name__ == "__main__":
    main(sys.argv[1])
