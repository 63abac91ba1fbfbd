"""The snnTorch half of ``benchmarks/spiking_throughput.py``: one Linear + Leaky layer run over
time as snnTorch's tutorials run it, timed, and checked on shared weights and input spikes.

Runs in its own virtual environment, started by ``spiking_throughput.py`` as
``.peers/snntorch/bin/python benchmarks/peers/snntorch_run.py CONFIG.json``. It imports neither
credax nor anything else from this repository: the settings arrive in the config. Two modes: the
equal-results check (the arrays arrive in an ``.npz`` the config names; spike trains, membrane
potentials and weight gradients leave in another), and, with ``serve`` in the config, a process
that builds the timed functions of one width (or of the many-seed run) and then times single
calls on request from stdin (``serve``), so that ``spiking_throughput.py`` can interleave its
calls with credax's and Spyx's on a shared machine. The timing data are drawn here by the same
NumPy generator calls as in ``spiking_throughput.py`` (``make_data``; the checksums it returns
show that they are the same numbers).

The network (snnTorch tutorial 5's pattern): ``nn.Linear(n, n, bias=False)`` and
``snn.Leaky(beta, threshold=1, spike_grad=surrogate.fast_sigmoid(slope), reset_mechanism)``,
applied step by step in a Python loop over the time axis of a time-major input ``(T, B, n)``:
``cur = fc(x[t])``, ``spk, mem = lif(cur, mem)``. Leaky computes
``U_t = β U_{t-1} + I_t - ϑ S_{t-1}`` (subtract) or ``U_t = β (1 - S_{t-1}) U_{t-1} + I_t``
(zero), ``S_t = Θ(U_t - ϑ)``, with the reset term detached from the graph. The loss is
``½ Σ_{b,n} (r_bn - y_bn)² / B`` with ``r`` the firing rate (spike count / T); its gradient with
respect to the Linear's weight is ``loss.backward()``. Forward passes are timed under
``torch.no_grad()`` (no graph kept), forward+backward with autograd. On a CPU each run keeps
the faster of torch's default thread count and one thread (``choose_threads``).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import snntorch as snn
import torch
from snntorch import surrogate
from torch import nn

DEFAULT_THREADS = torch.get_num_threads()


def make_data(seed, batch, steps, width, rate, gain, n_weights=1):
    """The inputs ``(B, T, n)`` (Bernoulli spikes of probability ``rate`` per step) and
    ``n_weights`` Glorot-uniform weight matrices ``(n_out, n_in)`` times ``gain``, float32, as
    ``spiking_throughput.py`` draws them."""
    rng = np.random.default_rng(seed)
    x = (rng.random((batch, steps, width)) < rate).astype(np.float32)
    bound = gain * math.sqrt(6.0 / (2 * width))
    w = rng.uniform(-bound, bound, (n_weights, width, width)).astype(np.float32)
    return x, w


class Net(nn.Module):
    def __init__(self, width, beta, threshold, slope, reset):
        super().__init__()
        self.fc = nn.Linear(width, width, bias=False)
        self.lif = snn.Leaky(
            beta=beta,
            threshold=threshold,
            spike_grad=surrogate.fast_sigmoid(slope=slope),
            reset_mechanism=reset,
        )

    def forward(self, x):
        """``x`` time-major ``(T, B, n)``; the spike trains and membrane potentials, stacked."""
        mem = self.lif.reset_mem()
        spk_rec, mem_rec = [], []
        for step in range(x.shape[0]):
            cur = self.fc(x[step])
            spk, mem = self.lif(cur, mem)
            spk_rec.append(spk)
            mem_rec.append(mem)
        return torch.stack(spk_rec), torch.stack(mem_rec)


def rate_loss(spk, y):
    """``½ Σ (r - y)² / B`` with ``r`` the rate over the leading time axis."""
    r = spk.mean(0)
    return 0.5 * ((r - y) ** 2).sum() / y.shape[0]


def build(cfg, width, weight, reset=None, device="cpu"):
    net = Net(width, cfg["beta"], cfg["threshold"], cfg["slope"], reset or cfg["reset"])
    with torch.no_grad():
        net.fc.weight.copy_(torch.from_numpy(weight))
    return net.to(device)


def forward(net, x):
    with torch.no_grad():
        return net(x)[0]


def forward_backward(net, x, y):
    net.zero_grad(set_to_none=True)
    spk, _ = net(x)
    loss = rate_loss(spk, y)
    loss.backward()
    return net.fc.weight.grad


def _sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def choose_threads(cfg, net, xt, device):
    """torch's CPU thread count: ``cfg["torch_threads"]`` when given, else the faster of torch's
    default and 1 thread on the first ``probe_steps`` steps of a forward pass (best of two calls
    each). torch's OpenMP workers spin while they wait: on a CPU shared with other work (load
    at or above the core count) its default threads can run several times slower than one."""
    if device != "cpu":
        return {"threads": None}
    if cfg.get("torch_threads"):
        torch.set_num_threads(cfg["torch_threads"])
        return {"threads": cfg["torch_threads"], "chosen_by": "--torch-threads"}
    probe = xt[: cfg.get("probe_steps", 50)]
    seconds = {}
    for n in dict.fromkeys((DEFAULT_THREADS, 1)):
        torch.set_num_threads(n)
        runs = []
        for _ in range(2):
            t0 = time.perf_counter()
            forward(net, probe)
            runs.append(time.perf_counter() - t0)
        seconds[n] = min(runs)
    best = min(seconds, key=seconds.get)
    torch.set_num_threads(best)
    return {
        "threads": best,
        "chosen_by": f"probe: forward of {len(probe)} steps",
        "probe_seconds": {str(k): v for k, v in seconds.items()},
    }


def check(cfg, device, arrays):
    """Spike trains, membrane potentials and weight gradients on the check's arrays, for each
    reset in ``cfg["check_resets"]``."""
    with np.load(cfg["check"]) as z:
        x, w, y = z["x"].astype(np.float32), z["w"], z["y"]
    width = x.shape[-1]
    xt = torch.from_numpy(np.ascontiguousarray(np.swapaxes(x, 0, 1))).to(device)
    yt = torch.from_numpy(y).to(device)
    for reset in cfg["check_resets"]:
        net = build(cfg, width, w, reset, device)
        spk, mem = net(xt)
        rate_loss(spk, yt).backward()
        arrays[f"spikes_{reset}"] = np.swapaxes(spk.detach().cpu().numpy(), 0, 1).astype(np.uint8)
        arrays[f"membrane_{reset}"] = np.swapaxes(mem.detach().cpu().numpy(), 0, 1)
        arrays[f"grad_{reset}"] = net.fc.weight.grad.cpu().numpy()


def serve_width(cfg, width, device):
    """The timed functions at one width (``snntorch/forward`` under ``torch.no_grad()``,
    ``snntorch/forward_backward``) and the run's info."""
    B, T = cfg["batch"], cfg["steps"]
    x, w = make_data(cfg["seed"], B, T, width, cfg["input_rate"], cfg["gain"])
    w = w[0] * np.float32(cfg["current_scale"])
    checksum = {"x": float(x.sum(dtype=np.float64)), "w": float(w.sum(dtype=np.float64))}
    xt = torch.from_numpy(np.ascontiguousarray(np.swapaxes(x, 0, 1))).to(device)
    yt = torch.full((B, width), cfg["target_rate"], dtype=torch.float32, device=device)
    net = build(cfg, width, w, device=device)
    del x, w
    threads = choose_threads(cfg, net, xt, device)
    fns = {
        "snntorch/forward": lambda: forward(net, xt),
        "snntorch/forward_backward": lambda: forward_backward(net, xt, yt),
    }

    def info():
        spike_rate = float(forward(net, xt).mean())
        return {"checksum": checksum, "spike_rate": {"snntorch": spike_rate}, "threads": threads}

    return fns, info


def serve_seeds(cfg, device):
    """Forward+backward of ``n`` networks (one weight draw each, one input batch), a Python loop
    over seeds reusing one network (its weight replaced in place)."""
    s = cfg["serve"]["seeds"]
    B, T, width, n = cfg["batch"], cfg["steps"], s["width"], s["n"]
    x, w = make_data(cfg["seed"], B, T, width, cfg["input_rate"], cfg["gain"], n)
    w = w * np.float32(cfg["current_scale"])
    xt = torch.from_numpy(np.ascontiguousarray(np.swapaxes(x, 0, 1))).to(device)
    yt = torch.full((B, width), cfg["target_rate"], dtype=torch.float32, device=device)
    ws = [torch.from_numpy(w[i]).to(device) for i in range(n)]
    net = build(cfg, width, w[0], device=device)
    threads = choose_threads(cfg, net, xt, device)

    def loop():
        for wi in ws:
            with torch.no_grad():
                net.fc.weight.copy_(wi)
            g = forward_backward(net, xt, yt)
        return g

    def info():
        return {"method": "Python loop over seeds, one network reused", "threads": threads}

    return {"snntorch_loop": loop}, info


def serve(fns, info, versions, device):
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
            f()
            _sync(device)
        print(json.dumps({"seconds": (time.perf_counter() - t0) / k}), file=proto, flush=True)


def main(config_path):
    cfg = json.loads(Path(config_path).read_text())
    device = "cuda" if cfg.get("device") == "gpu" and torch.cuda.is_available() else "cpu"
    from importlib.metadata import version

    versions = {
        "versions": {
            "snntorch": version("snntorch"),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": sys.version.split()[0],
        },
        "device": device,
        "torch_default_threads": DEFAULT_THREADS,
        "cpu_count": os.cpu_count(),
    }
    if "serve" in cfg:
        if "width" in cfg["serve"]:
            fns, info = serve_width(cfg, cfg["serve"]["width"], device)
        else:
            fns, info = serve_seeds(cfg, device)
        serve(fns, info, versions, device)
        return
    arrays = {}
    check(cfg, device, arrays)
    np.savez(cfg["arrays_out"], **arrays)
    Path(cfg["out"]).write_text(json.dumps(versions, indent=1))


if __name__ == "__main__":
    main(sys.argv[1])
