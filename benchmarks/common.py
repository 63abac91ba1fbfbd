"""Shared helpers for the benchmark scripts: result files, seed statistics, plots."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def environment() -> dict:
    """What the figures were measured on."""
    dev = jax.devices()[0]
    return {
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "device": getattr(dev, "device_kind", str(dev)),
        "n_devices": jax.device_count(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
    }


def write_json(path: Path, payload: dict) -> None:
    """Writes JSON atomically (a crash never leaves a half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(payload, f, indent=1, default=_default)
    os.chmod(tmp, 0o644)  # mkstemp creates the file readable by its owner only
    os.replace(tmp, path)


def _default(o):
    if isinstance(o, (np.ndarray, jax.Array)):
        return np.asarray(o).tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    raise TypeError(type(o))


def peer_env(venv: str | Path, name: str, create: str, module: str | None = None) -> dict:
    """A peer's virtual environment, probed: ``{"python", "version"}``, or ``{"missing"}`` /
    ``{"failed", "stderr_tail"}`` with a printed line saying why (``create``: the command that
    makes it). ``module`` is what must import (default ``name``, the distribution)."""
    python = Path(venv) / "bin" / "python"
    if not python.exists():
        msg = f"{name} skipped: no virtual environment at {venv} (create it with: {create})"
        print(msg, flush=True)
        return {"missing": msg}
    code = f"import {module or name}, importlib.metadata as m; print(m.version('{name}'))"
    probe = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    if probe.returncode != 0:
        tail = (probe.stderr.strip().splitlines() or ["(no output)"])[-1]
        msg = f"{name} does not import in {venv}: {tail}"
        print(msg, flush=True)
        return {"failed": msg, "stderr_tail": probe.stderr[-2000:]}
    return {"python": str(python), "version": probe.stdout.strip()}


def machine_load(load_start: tuple[float, float, float], what: str = "rates") -> dict:
    """The 1-minute load averages at the start (``load_start``, from ``os.getloadavg()``) and now,
    with a printed ``timing_note`` when other work shared the CPU cores (``what``: the
    absolute figures that are then low)."""
    load = {"load_average_start": load_start, "load_average": os.getloadavg()}
    if max(load_start[0], load["load_average"][0]) > 0.75 * (os.cpu_count() or 1):
        load["timing_note"] = (
            f"other work shared the {os.cpu_count()} CPU cores (1-minute load average "
            f"{load_start[0]:.1f} at the start, {load['load_average'][0]:.1f} at the end): "
            f"absolute {what} are low and the ratios noisy"
        )
        print(f"note: {load['timing_note']}")
    return load


def source_sha256(relative: str) -> str:
    """The SHA-256 of a file of the repository (``relative`` to its root): the exact source a
    figure was measured with, committed or not."""
    return hashlib.sha256((RESULTS.parent.parent / relative).read_bytes()).hexdigest()


def significant(a, digits: int = 4) -> np.ndarray:
    """``a`` rounded to ``digits`` significant digits (short JSON)."""
    a = np.asarray(a, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = 10.0 ** (digits - 1 - np.floor(np.log10(np.abs(a))))
        out = np.round(a * scale) / scale
    return np.where(np.isfinite(scale) & (a != 0), out, a)


def summarise_curves(tree):
    """``tree`` with every ``curves`` entry ``(seed, record, ...)`` replaced by its summary over
    seeds per record (mean, sd, 16th and 84th percentiles; entries named ``*_seed0`` are one
    seed's curves and are kept), to keep the JSON small."""
    if not isinstance(tree, dict):
        return tree
    out = {}
    for k, v in tree.items():
        if k != "curves":
            out[k] = summarise_curves(v)
            continue
        out[k] = {}
        for name, c in v.items():
            c = np.asarray(c, np.float64)
            if name.endswith("_seed0"):
                out[k][name] = significant(c)
            else:
                out[k][name] = {
                    "mean": significant(np.mean(c, 0)),
                    "sd": significant(np.std(c, 0)),
                    "p16": significant(np.percentile(c, 16, 0)),
                    "p84": significant(np.percentile(c, 84, 0)),
                }
    return out


def mean_sd(a) -> tuple[float, float]:
    a = np.asarray(a, np.float64)
    return float(np.nanmean(a)), float(np.nanstd(a))


def band(ax, x, ys, label, color=None):
    """Plots the seed mean of ``ys`` ``(seed, len(x))`` with a ±1 sd band."""
    ys = np.asarray(ys, np.float64)
    m, s = np.nanmean(ys, 0), np.nanstd(ys, 0)
    (line,) = ax.plot(x, m, label=label, color=color)
    ax.fill_between(x, m - s, m + s, alpha=0.2, color=line.get_color())


def sweep_rules(names, build_fit, n_seeds, *, seed=0, log=print):
    """Trains every rule in ``names`` over ``n_seeds`` seeds (one vmapped program per rule).

    ``build_fit(name)`` returns the ``credax.train.Fit`` of ``credax.train.make_fit``. Names are
    ``credax.registry`` names: a rule the registry marks ``stochastic`` (its key drives fresh
    noise at every update: perturbation rules, brSF, weight mirror) gets a key stream of its own
    per seed (``rule_key_per_seed=True``); the others share one feedback draw across seeds.
    Yields ``(name, history, seconds)`` as each rule finishes, so a caller can write results at
    once.
    """
    import credax

    for name in names:
        fit = build_fit(name)
        per_seed = credax.registry.lookup(name).has("stochastic")
        t0 = time.perf_counter()
        hist = credax.train.sweep(fit, seed, n_seeds, rule_key_per_seed=per_seed).history
        secs = time.perf_counter() - t0
        log(f"  {name}: {secs:.1f} s")
        yield name, hist, secs


def fashion_mnist_flat(train_size: int):
    """Fashion-MNIST as flat vectors (the first ``train_size`` training images, the whole test
    set), and whether MNIST itself could be loaded (it needs TFDS to download): ``(train, test,
    mnist_status)``."""
    import credax

    try:
        credax.data.load("mnist", "test")
        mnist = "available"
    except Exception as e:  # noqa: BLE001 - any failure is reported, not fatal
        mnist = f"not run: {type(e).__name__}: {str(e).splitlines()[0][:200]}"
    xtr, ytr = credax.data.load("fashion_mnist", "train")
    xte, yte = credax.data.load("fashion_mnist", "test")
    train = (xtr.reshape(len(xtr), -1)[:train_size], ytr[:train_size])
    return train, (xte.reshape(len(xte), -1), yte), mnist
