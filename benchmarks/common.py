"""Shared helpers for the benchmark scripts: result files, seed statistics, plots."""

from __future__ import annotations

import json
import os
import platform
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
