"""The snnTorch half of the NIR part of ``benchmarks/spiking_vs_brian2.py``: builds a small random
snnTorch network, exports it to a NIR file with snnTorch's own exporter, and simulates it on given
input spikes.

Runs in its own virtual environment, started by ``spiking_vs_brian2.py`` as
``.peers/snntorch/bin/python benchmarks/peers/snntorch_nir_run.py CONFIG.json``. It imports
neither credax nor anything else from this repository: the input spikes arrive as an ``.npz``
file; the NIR graph leaves as a ``.nir`` file (``nir.write``), the simulation as an ``.npz``.

The network: ``Linear(n_in, n_hidden, bias=False) -> neuron -> Linear(n_hidden, n_out,
bias=False) -> neuron`` with ``torch.manual_seed(seed)`` and PyTorch's default weight draw times
``weight_scale``; neurons ``snn.Leaky(beta)`` or ``snn.Synaptic(alpha, beta)`` with threshold 1,
``reset_mechanism="zero"`` and ``reset_delay=False`` (the reset in the step of the spike, the
one NIR's LIF describes; snnTorch's exporter writes ``v_reset = 0`` whatever the module's reset).
``beta``, ``alpha`` and the threshold are per-neuron tensors: snnTorch's exporter (1.0) writes
scalar ones with shapes NIR's type check refuses. Per step snnTorch computes (its Euler scheme)::

    Leaky:    U[t] = β U[t-1] + W S[t],                 S_out[t] = Θ(U[t] - 1), reset to 0
    Synaptic: I[t] = α I[t-1] + W S[t], U[t] = β U[t-1] + I[t], the same spike and reset

and exports ``τ = dt/(1 - β)``, ``R = τ/dt`` (and ``τ_syn = dt/(1 - α)``, ``w_in = τ_syn/dt``) with
its fixed ``dt = 1e-4``. Recorded per layer: the spikes and the membrane after the reset.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np


def main(path):
    import nir
    import snntorch as snn
    import torch
    from snntorch.export_nir import export_to_nir

    cfg = json.loads(Path(path).read_text())
    torch.manual_seed(cfg["seed"])
    n_in, n_h, n_out = cfg["n_in"], cfg["n_hidden"], cfg["n_out"]

    def neuron(n, last):
        kw = dict(
            threshold=torch.ones(n),
            reset_mechanism="zero",
            reset_delay=False,
            init_hidden=True,
            output=last,
        )
        beta = torch.full((n,), cfg["beta"])
        if cfg["neuron"] == "synaptic":
            return snn.Synaptic(alpha=torch.full((n,), cfg["alpha"]), beta=beta, **kw)
        return snn.Leaky(beta=beta, **kw)

    fc1, fc2 = torch.nn.Linear(n_in, n_h, bias=False), torch.nn.Linear(n_h, n_out, bias=False)
    with torch.no_grad():
        fc1.weight.mul_(cfg["weight_scale"])
        fc2.weight.mul_(cfg["weight_scale"])
    lif1, lif2 = neuron(n_h, False), neuron(n_out, True)
    net = torch.nn.Sequential(fc1, lif1, fc2, lif2)

    t0 = time.perf_counter()
    graph = export_to_nir(net, torch.zeros(1, n_in), ignore_dims=[0])
    nir.write(cfg["nir_out"], graph)
    export_seconds = time.perf_counter() - t0

    with np.load(cfg["data"]) as z:
        x = torch.tensor(z["x"], dtype=torch.float32)  # (B, T, n_in)
    rec = {k: [] for k in ("s1", "u1", "s2", "u2")}
    t0 = time.perf_counter()
    with torch.no_grad():
        lif1.mem = torch.zeros(0)  # re-created with the batch's shape on the first step
        lif2.mem = torch.zeros(0)
        if cfg["neuron"] == "synaptic":
            lif1.syn = torch.zeros(0)
            lif2.syn = torch.zeros(0)
        for t in range(x.shape[1]):
            s1 = lif1(fc1(x[:, t]))
            rec["s1"].append(s1.clone())
            rec["u1"].append(lif1.mem.clone())
            out = lif2(fc2(s1))
            rec["s2"].append(out[0].clone())
            rec["u2"].append(out[-1].clone())
    sim_seconds = time.perf_counter() - t0
    arrays = {k: torch.stack(v, 1).numpy() for k, v in rec.items()}  # (B, T, n)
    arrays["w1"], arrays["w2"] = fc1.weight.detach().numpy(), fc2.weight.detach().numpy()
    np.savez(cfg["arrays_out"], **arrays)

    from importlib.metadata import version

    Path(cfg["out"]).write_text(
        json.dumps(
            {
                "versions": {k: version(k) for k in ("snntorch", "torch", "nir", "nirtorch")},
                "export_seconds": export_seconds,
                "simulate_seconds": sim_seconds,
                "nodes": {k: type(v).__name__ for k, v in graph.nodes.items()},
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
