"""credax under ``jax_enable_x64``: sweeps of one rule of each family (and of each task) work,
float32 models stay float32 and float64 models train in float64. Run in a subprocess: x64 is
a process-wide switch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

TESTS = Path(__file__).resolve().parent

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp, numpy as np, optax
    sys.path.insert(0, sys.argv[1])
    import conftest, credax  # conftest registers the suite's unsupervised and modulated rules

    L = credax.losses.softmax_cross_entropy
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5))
    y = x[:, :3].argmax(1).astype(np.int32)

    def model(dtype):
        def init(k):
            k1, k2 = jax.random.split(k)
            return credax.nets.Sequential([
                credax.nets.Dense(5, 7, key=k1, activation=jnp.tanh, dtype=dtype),
                credax.nets.Dense(7, 3, key=k2, dtype=dtype),
            ])
        return init

    out = {}
    for name in ["bp", "np", "dtp", "pc", "hebb_decay", "reward_hebb"]:
        entry = credax.registry.RULES[name]
        task = credax.tasks.TASKS[entry.task]
        for dtype in ("float32", "float64"):
            rule, evaluate = task.protocol(
                conftest.make_rule(name), loss=L, classification=True, angles=True
            )
            fit = credax.train.make_fit(
                rule, model(jnp.dtype(dtype)), optax.adam(1e-2), loss=L, evaluate=evaluate,
                train=(x.astype(dtype), y), test=(x.astype(dtype), y), epochs=3, batch_size=16,
            )
            res = credax.train.sweep(fit, 0, 2, rule_key_per_seed=True)
            h = res.history
            out[f"{name}/{dtype}"] = {
                "diverged": np.asarray(res.diverged_step).tolist(),
                "finite": bool(np.all(h["finite"])),
                "weight_dtype": str(res.params.layers[0].weight.dtype),
                "train_loss_dtype": str(h["train_loss"].dtype),
                "loss_first": float(np.mean(h["test_loss"][:, 0])),
                "loss_last": float(np.mean(h["test_loss"][:, -1])),
            }
    print(json.dumps(out))
    """
)


def test_sweeps_under_x64():
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(TESTS)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    results = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(results) == 12
    for key, r in results.items():
        dtype = key.split("/")[1]
        assert r["diverged"] == [-1, -1] and r["finite"], (key, r)
        assert r["weight_dtype"] == dtype and r["train_loss_dtype"] == dtype, (key, r)
        if not key.startswith("reward_hebb"):  # every rule but the test's bandit learns here
            assert r["loss_last"] < r["loss_first"], (key, r)
