"""Throughput of feedback-alignment training of tanh MLPs: credax against a hand-written JAX
scan, a Python loop over credax single-seed programs and biotorch, in samples x seeds per second
(batch_size * steps * n_seeds / seconds), with achieved FLOP/s against the float32 matmul
ceiling, the seed-batching choice (``seed_block``) and the device memory of a sweep per seed.

Variants (the same FA-SGD work: per-epoch random permutation, batches gathered from a
device-resident dataset, forward, FA backward, SGD update; parameter init inside the program):

- ``credax``: ``fit = make_fit(feedback_alignment(loss), ...)`` and ``prog = sweep_fn(fit,
  seed_block=None)`` (one program, vmap over seeds), compiled ahead of time with
  ``prog.compile(*keys)``; a timed call is ``prog(*keys)``. Only the first and last records
  happen (``eval_every`` = all steps; test set and probe batch of 8 examples).
- ``credax_sb<k>``: the same with ``seed_block=k`` (``lax.map`` over blocks of k seeds).
- ``credax_na``: the sweep as a throughput-minded user runs it: ``seed_block="auto"`` (the
  engine's choice for the backend and shape) and ``make_fit(..., angles=False)``, so that its
  two records skip the angle measurements (two gradients on the probe and several passes over
  the weights each) that the hand-written scan does not do either.
- ``credax_run_vmap``: diagnostic, the same training run as ``jax.jit(jax.vmap(fit.run,
  in_axes=(0, None, 0)))``: ``sweep_fn`` without its vmap over a single feedback draw.
- ``hand``: a minimal hand-written FA step (list of ``(W, b, B)``, manual backward) in a
  ``lax.scan``, ``vmap`` over seeds, no credax. ``hand_sb1``: ``lax.map`` over seeds (CPU only).
- ``credax_loop``: credax's ``rule.update`` + optax SGD in a jitted ``lax.scan`` for ONE seed,
  called from a Python loop over seeds.
- ``biotorch``: ``biotorch.layers.fa.Linear`` layers + tanh, torch SGD, one seed at a time (on
  CUDA when available; model construction excluded from the time).

FLOPs of one FA step of batch B: forward ``2*B*in*out`` per layer, weight gradient the same,
error transport ``2*B*in*out`` per layer except the first; elementwise work is ignored.

Every run has at least two epochs. Runs of fewer than ``--fixed-below`` steps (short CPU runs) of
``credax`` and ``hand`` are also timed at twice the steps, which splits their time into a per-run
part (init, credax's two records) and a per-step part ("steady" rates).

    python benchmarks/throughput.py                 # full run (CPU: ~10 min, GPU: ~5 min)
    python benchmarks/throughput.py --quick         # smoke test
    python benchmarks/throughput.py --shapes 784-256-256-10 --seeds 1,16 --out-dir /tmp/r
"""

from __future__ import annotations

import argparse
import concurrent.futures
import gc
import json
import math
import os
import re
import subprocess
import sys
import time
import traceback
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

try:
    import credax  # noqa: F401
except ImportError:  # run from a checkout without an install
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import optax  # noqa: E402
from common import RESULTS, environment, write_json  # noqa: E402

import credax  # noqa: E402
from credax import train  # noqa: E402
from credax.losses import softmax_cross_entropy  # noqa: E402

LR = 1e-3
SPE_MAX = 20  # steps per epoch (the dataset holds SPE_MAX batches; fewer for short runs)
N_TEST = 8  # test examples and probe batch of credax's two records
MAX_STEPS = 200_000
DEFAULT_SHAPES = {"40-256-256-10": 100, "784-256-256-10": 128, "784-1000-1000-1000-10": 128}
CORE = ("credax", "hand", "credax_na")  # measured even past the deadline

# Reference figures (FA training of tanh MLPs, samples x seeds per second).
REFERENCES = {
    "biotorch_cpu_2core_40-256-256-10_b100": 115e3,
    "biotorch_h100_40-256-256-10_b100": 60e3,
    "hand_jax_h100_64seeds_40-256-256-10_b100": 60e6,
    "hand_jax_cpu_2core_16seeds_40-256-256-10_b100": 340e3,
    "note": "biotorch figures hold for any number of seeds (one seed at a time).",
}
GOALS = {
    "credax_over_hand": 0.9,
    "gpu_64seed_784-1000-1000-1000-10_matmul_fraction": 0.4,
    "cpu_matmul_fraction": 0.5,
    "cpu_ahead_of_biotorch": True,
}


def log(*a):
    print(*a, flush=True)


# ----------------------------------------------------------------------------- shapes, FLOPs


def parse_shapes(text: str) -> list[tuple[str, list[int], int]]:
    """``"40-256-256-10:100,784-256-256-10"`` -> [(name, sizes, batch)]."""
    out = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, _, b = item.partition(":")
        sizes = [int(v) for v in name.split("-")]
        batch = int(b) if b else DEFAULT_SHAPES.get(name, 128)
        out.append((name, sizes, batch))
    return out


def step_flops(sizes, batch) -> int:
    """FLOPs of one FA training step: forward + weight gradient on every layer, error transport
    on every layer but the first."""
    mm = [2 * batch * i * o for i, o in zip(sizes[:-1], sizes[1:])]
    return 2 * sum(mm) + sum(mm[1:])


def step_weight_bytes(sizes, fused: bool) -> int:
    """Bytes of per-seed weight traffic in one SGD step of FA (a lower bound: activations, the
    shared ``B`` and biases left out). Each weight is read by the forward pass; then either the
    weight gradient is written and the update reads ``W`` and ``dW`` and writes ``W`` (5 passes),
    or the update is fused into the weight-gradient GEMM (``W <- W - lr x^T d``: read and write,
    3 passes). With per-seed weights this traffic grows with seeds as the FLOPs do, so it bounds
    the rate at ``FLOPs / (bytes / bandwidth)`` whatever the number of seeds."""
    n = sum(i * o for i, o in zip(sizes[:-1], sizes[1:]))
    return 4 * n * (3 if fused else 5)


def roofline(sizes, batch, matmul, bandwidth, fused: bool) -> float:
    """The highest FLOP/s one FA step can reach: the matmul rate or the rate its weight traffic
    allows at ``bandwidth`` bytes/s, whichever is lower."""
    flops = step_flops(sizes, batch)
    return min(matmul, flops * bandwidth / step_weight_bytes(sizes, fused))


def record_flops(sizes, n_test=N_TEST, n_probe=N_TEST) -> int:
    """Matmul FLOPs of one credax record: test forward, FA and backprop updates on the probe."""
    mm = [2 * i * o for i, o in zip(sizes[:-1], sizes[1:])]
    return n_test * sum(mm) + 2 * n_probe * (2 * sum(mm) + sum(mm[1:]))


def plan_steps(steps, min_steps) -> tuple[int, int]:
    """Rounds ``steps`` to at least two whole epochs: returns ``(steps, steps_per_epoch)``, so
    that a run and one of twice its steps compile to the same loop structure."""
    steps = int(min(max(min_steps, round(steps)), MAX_STEPS))
    if steps <= 2 * SPE_MAX:
        spe = max(1, math.ceil(steps / 2))
        return 2 * spe, spe
    return int(round(steps / SPE_MAX)) * SPE_MAX, SPE_MAX


def median(v):
    return float(np.median(np.asarray(v, np.float64)))


# ----------------------------------------------------------------------------- hand-written FA


def hand_init(init_key, fb_key, sizes):
    """``[(W, b, B)]``: Glorot-uniform ``W`` (from ``init_key``) and ``B`` (from ``fb_key``)."""
    kw = jax.random.split(init_key, len(sizes) - 1)
    kb = jax.random.split(fb_key, len(sizes) - 1)
    params = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        bound = math.sqrt(6.0 / (n_in + n_out))
        w = jax.random.uniform(kw[i], (n_out, n_in), jnp.float32, -bound, bound)
        fb = jax.random.uniform(kb[i], (n_out, n_in), jnp.float32, -bound, bound)
        params.append((w, jnp.zeros((n_out,), jnp.float32), fb))
    return params


def hand_step(params, x, y, lr):
    """One FA-SGD step on softmax cross-entropy: tanh hidden layers, linear output."""
    n_layers = len(params)
    hs, h = [x], x
    for i, (w, b, _) in enumerate(params):
        a = h @ w.T + b
        h = jnp.tanh(a) if i < n_layers - 1 else a
        hs.append(h)
    delta = (jax.nn.softmax(h) - jax.nn.one_hot(y, h.shape[-1], dtype=h.dtype)) / x.shape[0]
    new = [None] * n_layers
    for i in reversed(range(n_layers)):
        w, b, fb = params[i]
        gw, gb = delta.T @ hs[i], jnp.sum(delta, 0)
        if i > 0:
            delta = (delta @ fb) * (1.0 - hs[i] ** 2)
        new[i] = (w - lr * gw, b - lr * gb, fb)
    return new


def hand_train(init_key, data_key, fb_key, x, y, *, sizes, steps, spe, batch):
    params = hand_init(init_key, fb_key, sizes)
    n = x.shape[0]

    def step(params, idx):
        return hand_step(params, x[idx], y[idx], LR), None

    def epoch(params, e):
        perm = jax.random.permutation(jax.random.fold_in(data_key, e), n)
        params, _ = jax.lax.scan(step, params, perm[: spe * batch].reshape(spe, batch))
        return params, None

    params, _ = jax.lax.scan(epoch, params, jnp.arange(steps // spe))
    return params


# ----------------------------------------------------------------------------- programs


class Config:
    """One network shape and batch, with its synthetic device-resident data."""

    def __init__(self, name, sizes, batch):
        self.name, self.sizes, self.batch = name, sizes, batch
        k = jax.random.key(1234)
        n = batch * SPE_MAX
        self.x = jax.random.normal(k, (n, sizes[0]), jnp.float32)
        self.y = jax.random.randint(jax.random.fold_in(k, 1), (n,), 0, sizes[-1], jnp.int32)
        jax.block_until_ready((self.x, self.y))
        self.flops = step_flops(sizes, batch)

    def data(self, spe):
        n = self.batch * spe
        return self.x[:n], self.y[:n]

    def init_model(self, key):
        return credax.nets.mlp(self.sizes, activation=jnp.tanh, key=key)

    def make_fit(self, steps, spe, angles=True):
        x, y = self.data(spe)
        return train.make_fit(
            credax.feedback_alignment(softmax_cross_entropy),
            self.init_model,
            optax.sgd(LR),
            loss=softmax_cross_entropy,
            train=(x, y),
            test=(self.x[:N_TEST], self.y[:N_TEST]),
            epochs=steps // spe,
            batch_size=self.batch,
            eval_every=steps,
            probe_size=N_TEST,
            angles=angles,
        )


def _with(call, compiled):
    call.compiled = compiled
    return call


def step_hlo_summary(text: str) -> dict:
    """What one training step costs in the optimized HLO: the innermost while-loop body that
    gathers a batch, its top-level operations (kernels, on an accelerator), the matrix products
    among them (dots, GEMM custom calls, fusions around a dot) with their result shapes, and
    its copies/transposes."""
    comps = {}
    for comp in re.split(r"\n(?=\S)", text):
        m = re.match(r"(?:ENTRY )?%?([\w.\-]+) ", comp)
        if m:
            comps[m.group(1)] = comp

    def calls(body):
        return re.findall(r"(?:calls|to_apply)=%?([\w.\-]+)", body)

    def has(name, pat, seen):
        if name in seen or name not in comps:
            return False
        seen.add(name)
        return bool(re.search(pat, comps[name])) or any(
            has(c, pat, seen) for c in calls(comps[name])
        )

    bodies = [b for b in set(re.findall(r"body=%?([\w.\-]+)", text)) if b in comps]
    steps = [b for b in bodies if has(b, r" gather\(", set())]
    if not steps:
        return {"found": False}
    body = min(steps, key=lambda b: len(comps[b]))
    skip = {"parameter", "constant", "get-tuple-element", "tuple", "bitcast"}
    count = {"ops": 0, "copies": 0}
    gemms = []

    def walk(name, depth=0):
        for line in comps.get(name, "").splitlines()[1:]:
            m = re.match(r"\s*(?:ROOT )?\S+ = (\S+) ([a-z][a-z0-9\-]*)\(", line)
            if not m or m.group(2) in skip:
                continue
            shape, op = m.group(1), m.group(2)
            callee = re.search(r"(?:calls|to_apply)=%?([\w.\-]+)", line)
            if op == "call" and callee and depth < 4:  # e.g. a GPU command buffer
                walk(callee.group(1), depth + 1)
                continue
            count["ops"] += 1
            inner = comps.get(callee.group(1), "") if (op == "fusion" and callee) else ""
            target = re.search(r'custom_call_target="([^"]+)"', line)
            if (
                op == "dot"
                or (op == "fusion" and " dot(" in inner)
                or (op == "custom-call" and target and re.search("gemm|matmul", target.group(1)))
            ):
                gemms.append(shape.split("{")[0])
            elif op in ("copy", "transpose") or (
                op == "fusion"
                and re.search(r" (copy|transpose)\(", inner)
                and not re.search(r" (dot|gather|dynamic-slice)\(", inner)
            ):
                count["copies"] += 1

    walk(body)
    ops, copies = count["ops"], count["copies"]
    return {
        "found": True,
        "ops": ops,
        "gemms": len(gemms),
        "gemm_shapes": gemms,
        "copy_or_transpose_ops": copies,
    }


def compile_sweep(fit, keys, **kwargs):
    """``sweep_fn(fit, **kwargs)`` compiled ahead of time for ``keys``, and its ``jax.stages.
    Compiled`` executable (optimized HLO, ``memory_analysis``)."""
    fn = train.sweep_fn(fit, **kwargs)
    return fn, fn.executable(*keys)


def build_credax(cfg, steps, spe, n_seeds, seed_block, angles=True):
    fit = cfg.make_fit(steps, spe, angles)
    keys = train.sweep_keys(0, n_seeds, 1)
    fn, compiled = compile_sweep(fit, keys, seed_block=seed_block, devices=jax.devices()[:1])
    return _with(lambda: fn(*keys), compiled)


def build_credax_run_vmap(cfg, steps, spe, n_seeds):
    fit = cfg.make_fit(steps, spe)
    ki, kr, kd = train.sweep_keys(0, n_seeds, 1)
    args = (ki, kr[0], kd)
    compiled = jax.jit(jax.vmap(fit.run, in_axes=(0, None, 0))).lower(*args).compile()
    return _with(lambda: compiled(*args), compiled)


def build_hand(cfg, steps, spe, n_seeds, seed_block):
    x, y = cfg.data(spe)
    one = partial(hand_train, sizes=cfg.sizes, steps=steps, spe=spe, batch=cfg.batch)

    def many(init_keys, data_keys, fb_key, x, y):
        def f(kk):
            return one(kk[0], kk[1], fb_key, x, y)

        if seed_block is None or seed_block >= init_keys.shape[0]:
            return jax.vmap(f)((init_keys, data_keys))
        return jax.lax.map(f, (init_keys, data_keys), batch_size=int(seed_block))

    ki, kr, kd = train.sweep_keys(0, n_seeds, 1)
    args = (ki, kd, kr[0], x, y)
    compiled = jax.jit(many).lower(*args).compile()
    return _with(lambda: compiled(*args), compiled)


def build_credax_one(cfg, steps, spe):
    """credax's single-seed program: rule.update + optax SGD in a lax.scan. Returns
    ``call(init_key, rule_key, data_key) -> params``."""
    x, y = cfg.data(spe)
    rule = credax.feedback_alignment(softmax_cross_entropy)
    opt = optax.sgd(LR)
    n = x.shape[0]
    batch = cfg.batch

    def one(init_key, rule_key, data_key, x, y):
        params = cfg.init_model(init_key)
        state = rule.init(rule_key, params)
        opt_state = opt.init(params)

        def step(carry, idx):
            params, state, opt_state = carry
            g, state = rule.update(params, state, (x[idx], y[idx]))
            u, opt_state = opt.update(g, opt_state, params)
            return (optax.apply_updates(params, u), state, opt_state), None

        def epoch(carry, e):
            perm = jax.random.permutation(jax.random.fold_in(data_key, e), n)
            return jax.lax.scan(step, carry, perm[: spe * batch].reshape(spe, batch))

        carry, _ = jax.lax.scan(epoch, (params, state, opt_state), jnp.arange(steps // spe))
        return carry[0]

    k = jax.random.key(0)
    compiled = jax.jit(one).lower(k, k, k, x, y).compile()
    return lambda ik, rk, dk: compiled(ik, rk, dk, x, y)


class Variant:
    """A measured variant. ``kind``: "program" (one call trains all seeds) or "loop" (one call
    per seed). ``build(steps, spe)`` returns the callable (compiles)."""

    def __init__(self, key, family, kind, build, min_steps=8, split=False, run_seed=None):
        self.key, self.family, self.kind, self.build = key, family, kind, build
        self.min_steps, self.split, self.run_seed = min_steps, split, run_seed


# ----------------------------------------------------------------------------- timing


class Timer:
    """Chooses step counts so that a timed call takes about ``target`` seconds, from what it has
    measured so far (per shape and variant family), else from a FLOP model; times calls."""

    def __init__(self, backend, ceiling, target, repeats, fixed_below, loop_cap):
        self.gpu = backend != "cpu"
        self.alpha = 0.5 if self.gpu else 1.0  # assumed growth of a step's time with seeds
        self.too_short = 5.0 if self.gpu else 3.0  # recompile if a call is target/this or less
        self.ceiling, self.target, self.repeats = ceiling, target, repeats
        self.fixed_below, self.loop_cap = fixed_below, loop_cap
        self.hints: dict = {}
        self.hlo_seeds: tuple = (1,)

    def hlo_summary(self, n_seeds):
        return n_seeds in self.hlo_seeds

    # --- step-count model
    def predict(self, cfg, family, n_seeds):
        """Seconds per step of a call (or, for loops, of all seeds' calls)."""
        if "_sb" in family:
            base, k = family.split("_sb")
            k = min(int(k), n_seeds)
            return (n_seeds / k) * self.predict(cfg, base, k)
        h = self.hints.get((cfg.name, family))
        if family in ("credax_loop", "biotorch"):
            if h is None:
                floor = (1e-3 if self.gpu else 3e-4) if family == "biotorch" else 0.0
                h = floor + self._model(cfg, 1) * 2
            return h * n_seeds
        if h is None and family == "credax_run_vmap":
            h = self.hints.get((cfg.name, "credax"))
        if h:
            s0, t0 = min(h.items(), key=lambda kv: abs(math.log(kv[0] / n_seeds)))
            return t0 * (n_seeds / s0) ** self.alpha
        return self._model(cfg, n_seeds)

    def _model(self, cfg, n_seeds):
        floor = 60e-6 if self.gpu else 20e-6
        return floor + cfg.flops * n_seeds / (0.25 * self.ceiling)

    def learn(self, cfg, family, n_seeds, sec_per_step):
        if family in ("credax_loop", "biotorch"):
            self.hints[(cfg.name, family)] = sec_per_step / n_seeds
        elif "_sb" not in family:
            self.hints.setdefault((cfg.name, family), {})[n_seeds] = sec_per_step

    def plan(self, cfg, v, n_seeds):
        return plan_steps(self.target / self.predict(cfg, v.family, n_seeds), v.min_steps)

    # --- measurement
    def warm(self, cfg, v, built):
        """Warm-up call of a compiled program; one recompile with more steps if it was far
        shorter than the target. Returns ``[call, steps, spe, compile_s, warmup_s]``."""
        call, steps, spe, compile_s = built
        for attempt in range(2):
            t0 = time.perf_counter()
            jax.block_until_ready(call())
            first = time.perf_counter() - t0
            if attempt == 0 and first < self.target / self.too_short and steps < MAX_STEPS:
                new = plan_steps(steps * self.target / max(first, 1e-6), v.min_steps)
                if new[0] > steps:
                    del call
                    call, steps, spe, dt = compile_one(v, *new)
                    compile_s += dt
                    continue
            break
        return [call, steps, spe, compile_s, first]

    def round_robin(self, calls: dict) -> dict:
        """``repeats`` rounds, each timing every call once, so that a slow spell of a shared
        machine affects all variants alike. Returns the times per key."""
        times = {k: [] for k in calls}
        for _ in range(self.repeats):
            for k, call in calls.items():
                t0 = time.perf_counter()
                jax.block_until_ready(call())
                times[k].append(time.perf_counter() - t0)
        return times

    def programs(self, cfg, variants, n_seeds, built, errors):
        """Measures program variants together: warm-up (and step adjustment) of each, then
        round-robin repeats; then, for ``split`` variants with short runs, the same at twice
        the steps (same loop structure): ``t(n) = per_run + n * per_step``."""
        warm = {}
        for v in variants:
            try:
                warm[v.key] = self.warm(cfg, v, built.pop(v.key))
            except Exception as e:  # noqa: BLE001
                errors[v.key] = e
        times = self.round_robin({k: w[0] for k, w in warm.items()})
        out = {}
        for v in variants:
            if v.key not in warm:
                continue
            _, steps, spe, compile_s, first = warm[v.key]
            sec = median(times[v.key])
            self.learn(cfg, v.family, n_seeds, sec / steps)
            out[v.key] = {
                "steps": steps,
                "steps_per_epoch": spe,
                "seconds": sec,
                "times": times[v.key],
                "warmup_s": first,
                "compile_s": compile_s,
            }
            compiled = getattr(warm[v.key][0], "compiled", None)
            if self.hlo_summary(n_seeds) and compiled is not None and "_sb" not in v.key:
                try:
                    out[v.key]["step_hlo"] = step_hlo_summary(compiled.as_text())
                except Exception as e:  # noqa: BLE001
                    out[v.key]["step_hlo"] = {"error": repr(e)}
        warm.clear()
        split = [v for v in variants if v.split and v.key in out]
        split = [v for v in split if out[v.key]["steps"] < self.fixed_below]
        calls = {}
        for v in split:
            r = out[v.key]
            try:
                call, _, _, dt = compile_one(v, 2 * r["steps"], r["steps_per_epoch"])
                r["compile_s"] += dt
                jax.block_until_ready(call())
                calls[v.key] = call
            except Exception as e:  # noqa: BLE001
                r["split_error"] = repr(e)
        times = self.round_robin(calls) if calls else {}
        calls.clear()
        for k, t in times.items():
            r = out[k]
            t2 = median(t)
            t_step = (t2 - r["seconds"]) / r["steps"]
            r.update(
                {
                    "split_steps": 2 * r["steps"],
                    "split_seconds": t2,
                    "split_times": t,
                    "per_step_seconds": t_step,
                    "per_run_seconds": r["seconds"] - r["steps"] * t_step,
                    "samples_seeds_per_s_steady": (
                        cfg.batch * n_seeds / t_step if t_step > 0 else None
                    ),
                }
            )
        return out

    def loop(self, cfg, v, n_seeds, built):
        """One call per seed; the per-seed times are the repeats (passes are repeated until
        >= 3 seed runs). When a pass would exceed ``loop_cap`` seconds only the first seeds are
        run and the figure is extrapolated (labelled)."""
        handle, steps, spe, compile_s = built
        for attempt in range(2):
            first = v.run_seed(handle, 0)  # warm-up
            total = first * n_seeds
            if attempt == 0 and total < self.target / self.too_short and steps < MAX_STEPS:
                new = plan_steps(steps * self.target / max(total, 1e-6), v.min_steps)
                if new[0] > steps:
                    handle, steps, spe, dt = compile_one(v, *new)
                    compile_s += dt
                    continue
            break
        # The first timed run (not the warm-up, which may carry one-off costs) decides whether
        # a full pass fits in loop_cap seconds.
        times = [v.run_seed(handle, 1 % n_seeds)]
        n_run = n_seeds
        if self.loop_cap and times[0] * n_seeds > self.loop_cap:
            n_run = max(3, min(n_seeds, int(self.loop_cap / max(times[0], 1e-9))))
        while len(times) < max(3, n_run):
            for i in range(n_run):
                if len(times) < max(3, n_run):
                    times.append(v.run_seed(handle, (i + 2) % n_seeds))
        per_seed = median(times)
        self.learn(cfg, v.family, n_seeds, per_seed * n_seeds / steps)
        return {
            "steps": steps,
            "steps_per_epoch": spe,
            "seconds": per_seed * n_seeds,
            "timing": "median seconds per seed x seeds",
            "seconds_per_seed_mean": float(np.mean(times)),
            "seed_runs_timed": len(times),
            "warmup_s": first,
            "compile_s": compile_s,
            "extrapolated": n_run < n_seeds,
            "measured_seeds": n_run,
        }


def compile_one(v, steps, spe):
    t0 = time.perf_counter()
    call = v.build(steps, spe)
    return call, steps, spe, time.perf_counter() - t0


# ----------------------------------------------------------------------------- biotorch


def torch_setup():
    try:
        import torch
    except Exception as e:  # noqa: BLE001
        return None, f"torch not importable: {e!r}"
    try:
        from biotorch.layers.fa import Linear as FALinear
    except Exception as e:  # noqa: BLE001
        return None, f"biotorch not importable: {e!r}"

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    info = {
        "torch": torch.__version__,
        "biotorch": _dist_version("biotorch"),
        "device": dev,
        "threads": torch.get_num_threads(),
        "tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32) if dev == "cuda" else None,
    }
    return (torch, FALinear, dev), info


def _dist_version(name):
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:  # noqa: BLE001
        return "unknown (imported from a path)"


def biotorch_variant(tb, cfg):
    torch, FALinear, dev = tb
    import torch.nn.functional as F

    xs = torch.randn(cfg.batch * SPE_MAX, cfg.sizes[0], device=dev)
    ys = torch.randint(0, cfg.sizes[-1], (cfg.batch * SPE_MAX,), device=dev)

    def sync():
        if dev == "cuda":
            torch.cuda.synchronize()

    def run_seed(handle, seed):
        steps, spe = handle
        n = cfg.batch * spe
        x, y = xs[:n], ys[:n]
        torch.manual_seed(seed)
        layers = []
        for i, (a, b) in enumerate(zip(cfg.sizes[:-1], cfg.sizes[1:])):
            layers.append(FALinear(a, b))
            if i < len(cfg.sizes) - 2:
                layers.append(torch.nn.Tanh())
        model = torch.nn.Sequential(*layers).to(dev)
        opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=LR)
        sync()
        t0 = time.perf_counter()
        for _ in range(steps // spe):
            perm = torch.randperm(n, device=dev)
            for s in range(spe):
                idx = perm[s * cfg.batch : (s + 1) * cfg.batch]
                loss = F.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        sync()
        return time.perf_counter() - t0

    return Variant(
        "biotorch", "biotorch", "loop", lambda st, spe: (st, spe), min_steps=8, run_seed=run_seed
    )


# ----------------------------------------------------------------------------- matmul ceiling


def matmul_ceiling(backend, quick):
    n = 4096 if backend != "cpu" else (1024 if quick else 2048)
    ka, kb = jax.random.split(jax.random.key(7))
    a = jax.random.normal(ka, (n, n), jnp.float32)
    b = jax.random.normal(kb, (n, n), jnp.float32)
    f = jax.jit(jnp.dot).lower(a, b).compile()
    inner = 10 if backend != "cpu" else 2
    jax.block_until_ready(f(a, b))
    jax.block_until_ready(f(a, b))
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(inner):
            out = f(a, b)
        jax.block_until_ready(out)
        times.append((time.perf_counter() - t0) / inner)
    sec = median(times)
    return {"n": n, "precision": "default", "seconds": sec, "flops_per_s": 2 * n**3 / sec}


def bandwidth_ceiling(backend, quick):
    """Device memory bandwidth: a jitted elementwise pass over an array far larger than caches
    (reads and writes every byte once)."""
    n = (256 if backend != "cpu" else (16 if quick else 64)) * 2**20 // 4
    a = jnp.ones((n,), jnp.float32)
    f = jax.jit(lambda a: a * 1.0001 + 1.0).lower(a).compile()
    jax.block_until_ready(f(a))
    jax.block_until_ready(f(a))
    inner = 10 if backend != "cpu" else 3
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(inner):
            out = f(a)
        jax.block_until_ready(out)
        times.append((time.perf_counter() - t0) / inner)
    sec = median(times)
    return {"bytes": 8 * n, "seconds": sec, "bytes_per_s": 8 * n / sec}


# ----------------------------------------------------------------------------- memory


def _mem_stats(dev):
    try:
        s = dev.memory_stats()
    except Exception:  # noqa: BLE001
        return None
    return s if s and "peak_bytes_in_use" in s else None


MEM_STEPS, MEM_SPE = 4, 2  # two epochs of two steps: the loop structure of the timed runs


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _run_sampling_rss(fn):
    """Runs ``fn()`` while a thread samples the resident set size every millisecond; returns
    (result, peak RSS)."""
    import threading

    peak, stop = [_rss()], threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.001)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        res = fn()
    finally:
        stop.set()
        t.join()
    return res, max(peak[0], _rss())


def memory_points(shape, points, workers=1):
    """Memory of credax sweeps of ``shape`` at ``points = [[seeds, batch]]``, given in
    ascending order of memory: the compile-time analysis and, where the device reports it, the
    peak in use above the bytes in use before the run (peak memory is a process-wide high-water
    mark, hence a fresh process and the ascending order); on CPU the peak resident set size
    during the run above the one before it (sampled every millisecond)."""
    _, sizes, _ = parse_shapes(shape)[0]
    dev = jax.devices()[0]

    def compile_point(pt):
        n_seeds, batch = pt
        cfg = Config(shape, sizes, batch)
        keys = train.sweep_keys(0, n_seeds, 1)
        fn, compiled = compile_sweep(
            cfg.make_fit(MEM_STEPS, MEM_SPE), keys, seed_block=None, devices=[dev]
        )
        return fn, compiled, keys

    if workers > 1:
        with concurrent.futures.ThreadPoolExecutor(workers) as ex:
            built = list(ex.map(compile_point, points))
    else:
        built = None
    out = []
    for i, (n_seeds, batch) in enumerate(points):
        fn, compiled, keys = built[i] if built else compile_point((n_seeds, batch))
        r = {"seeds": n_seeds, "batch": batch}
        try:
            m = compiled.memory_analysis()
            for f in (
                "temp_size_in_bytes",
                "argument_size_in_bytes",
                "output_size_in_bytes",
                "alias_size_in_bytes",
                "generated_code_size_in_bytes",
            ):
                r[f] = int(getattr(m, f, 0) or 0)
            r["analysis_bytes"] = (
                r["temp_size_in_bytes"]
                + r["argument_size_in_bytes"]
                + r["output_size_in_bytes"]
                - r["alias_size_in_bytes"]
            )
        except Exception as e:  # noqa: BLE001
            r["memory_analysis_error"] = repr(e)
        s0 = _mem_stats(dev)
        if s0 is None and os.path.exists("/proc/self/statm"):
            gc.collect()
            rss0 = _rss()
            res, rss1 = _run_sampling_rss(lambda f=fn, k=keys: jax.block_until_ready(f(*k)))
            r["rss_before"], r["rss_peak"] = rss0, rss1
            r["rss_peak_above_baseline"] = rss1 - rss0
            del res
        if s0 is not None:
            res = fn(*keys)
            jax.block_until_ready(res)
            s1 = _mem_stats(dev)
            r["bytes_in_use_before"] = s0.get("bytes_in_use")
            r["peak_bytes_in_use"] = s1.get("peak_bytes_in_use")
            r["peak_was_raised"] = s1["peak_bytes_in_use"] > s0["peak_bytes_in_use"]
            if s0.get("bytes_in_use") is not None:
                r["peak_above_baseline"] = s1["peak_bytes_in_use"] - s0["bytes_in_use"]
            del res
        out.append(r)
        if built:
            built[i] = None
        del fn, compiled
        gc.collect()
    return out


def memory_probe(spec):
    pts = memory_points(spec["shape"], spec["points"], spec.get("workers", 1))
    print("MEMJSON " + json.dumps(pts), flush=True)


def fit_slope(xs, ys):
    pairs = [(x, y) for x, y in zip(xs, ys) if y is not None]
    if len(pairs) < 2:
        return None, None
    slope, icpt = np.polyfit(*np.asarray(pairs, np.float64).T, 1)
    return float(slope), float(icpt)


def memory_section(args, backend, workers):
    shape = args.memory_shape
    _, sizes, b0 = parse_shapes(shape)[0]
    gpu = backend != "cpu"
    if args.quick:
        s_top, seeds, batches = 4, [1, 4], [32, b0]
    else:
        s_top, seeds, batches = 64, [1, 16, 64], [32, b0, 512]
    # Ascending memory: seeds at the base batch, then the batches at the most seeds.
    points = [[s, b0] for s in seeds[:-1]] + [[s_top, b] for b in sorted(set(batches))]
    if gpu or not args.memory_in_process:
        # A fresh process, memory allocated on demand, and no GEMM autotuning: autotuning
        # allocates scratch buffers on the device that would set the peak before any run.
        flags = (os.environ.get("XLA_FLAGS", "") + " --xla_gpu_autotune_level=0").strip()
        env = dict(os.environ, XLA_PYTHON_CLIENT_PREALLOCATE="false", XLA_FLAGS=flags)
        # On an accelerator all points in one process (ascending); on CPU one process per
        # point, so that each run starts from a clean resident set.
        groups = [points] if gpu else [[pt] for pt in points]
        pts = []
        for group in groups:
            spec = {"shape": shape, "points": group, "workers": workers}
            cmd = [sys.executable, str(Path(__file__).resolve()), "--memory-probe"]
            p = subprocess.run(
                [*cmd, json.dumps(spec)], env=env, capture_output=True, text=True, timeout=300
            )
            lines = [ln for ln in p.stdout.splitlines() if ln.startswith("MEMJSON ")]
            if p.returncode or not lines:
                raise RuntimeError(f"memory probe failed (rc {p.returncode}): {p.stderr[-2000:]}")
            pts += json.loads(lines[-1][len("MEMJSON ") :])
    else:
        pts = memory_points(shape, points)
    key = "analysis_bytes"
    for k in ("peak_above_baseline", "rss_peak_above_baseline"):
        if all(k in p for p in pts):
            key = k
            break
    by_seed = [p for p in pts if p["batch"] == b0]
    by_batch = [p for p in pts if p["seeds"] == s_top]
    n_par = sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:]))
    res = {
        "shape": shape,
        "sweep": f"sweep_fn(fit, seed_block=None), {MEM_STEPS} steps in epochs of {MEM_SPE}"
        " (memory does not grow with steps)",
        "measure": key,
        "method": (
            "device memory_stats(): peak_bytes_in_use above bytes_in_use before the sweep, in a"
            " fresh process with XLA_PYTHON_CLIENT_PREALLOCATE=false and"
            " --xla_gpu_autotune_level=0 (autotuning scratch would set the peak), all points"
            " compiled first, then run in ascending order of memory"
            if key == "peak_above_baseline"
            else "peak resident set size of the process during the sweep (sampled every ms)"
            " above the one before it, one fresh process per point (CPU)"
            if key == "rss_peak_above_baseline"
            else "compiled.memory_analysis(): temp + argument + output - alias bytes"
        ),
        "note": "sweep_fn passes the training data to the program as an argument, so"
        " memory_analysis counts it in argument bytes (it does not grow with seeds).",
        "points": pts,
        "params_bytes_per_seed": 4 * n_par,
    }
    res["bytes_per_seed"], res["intercept_bytes"] = fit_slope(
        [p["seeds"] for p in by_seed], [p.get(key) for p in by_seed]
    )
    res["bytes_per_example"], _ = fit_slope(
        [p["batch"] for p in by_batch], [p.get(key) for p in by_batch]
    )
    res["bytes_per_example_at_seeds"] = s_top
    if res["bytes_per_example"] is not None:
        res["bytes_per_seed_per_example"] = res["bytes_per_example"] / s_top
    if key != "analysis_bytes":
        res["analysis_bytes_per_seed"], _ = fit_slope(
            [p["seeds"] for p in by_seed], [p.get("analysis_bytes") for p in by_seed]
        )
    return res


# ----------------------------------------------------------------------------- reporting


def _rate(v, k):
    x = v.get(k)
    return x.get("samples_seeds_per_s") if isinstance(x, dict) else None


def summarise(results):
    """Per-config ratios, seed-block choice and goal checks."""
    backend = results["environment"]["backend"]
    blocks, goals = [], []
    for c in results["configs"]:
        v = c["variants"]
        r = {}
        cr, hr = _rate(v, "credax"), _rate(v, "hand")
        if cr and hr:
            r["credax_over_hand"] = cr / hr
            cs = v["credax"].get("samples_seeds_per_s_steady")
            hs = v["hand"].get("samples_seeds_per_s_steady")
            if cs and hs:
                r["credax_over_hand_steady"] = cs / hs
        if _rate(v, "credax_na") and hr:
            r["credax_na_over_hand"] = _rate(v, "credax_na") / hr
        if _rate(v, "credax_run_vmap") and hr:
            r["credax_run_vmap_over_hand"] = _rate(v, "credax_run_vmap") / hr
        sweep = {
            k: _rate(v, k)
            for k in v
            if (k == "credax" or k.startswith("credax_sb")) and _rate(v, k)
        }
        if sweep:
            best = max(sweep, key=sweep.get)
            c["best_seed_block"] = None if best == "credax" else int(best[len("credax_sb") :])
            if c["seeds"] > 1:
                hand_sb = {k: _rate(v, k) for k in ("hand", "hand_sb1") if _rate(v, k)}
                blocks.append(
                    {
                        "shape": c["shape"],
                        "seeds": c["seeds"],
                        "widest": max(c["sizes"]),
                        "best_seed_block": c["best_seed_block"],
                        "credax_rates": sweep,
                        "hand_rates": hand_sb,
                    }
                )
        br = _rate(v, "biotorch")
        if br and sweep:
            r["best_credax_over_biotorch"] = max(sweep.values()) / br
            if cr:
                r["credax_over_biotorch"] = cr / br
        bw = results.get("bandwidth_ceiling", {}).get("bytes_per_s")
        mm = results.get("matmul_ceiling", {}).get("flops_per_s")
        if bw and mm:
            roof = {
                f: roofline(c["sizes"], c["batch"], mm, bw, f == "fused")
                for f in ("fused", "unfused")
            }
            c["roofline_flops_per_s"] = roof
            for k in ("credax", "hand"):
                x = v.get(k)
                if isinstance(x, dict) and x.get("flops_per_s"):
                    r[f"{k}_of_roofline_unfused"] = x["flops_per_s"] / roof["unfused"]
                    r[f"{k}_of_roofline_fused"] = x["flops_per_s"] / roof["fused"]
        c["ratios"] = r
        name = f"{c['shape']} x{c['seeds']}"
        if "credax_na_over_hand" in r:
            goals.append(
                {
                    "goal": "credax (auto seed_block, no angle records) >= 0.9x hand",
                    "config": name,
                    "value": r["credax_na_over_hand"],
                    "met": r["credax_na_over_hand"] >= GOALS["credax_over_hand"],
                }
            )
        if "credax_over_hand" in r:
            goals.append(
                {
                    "goal": "credax >= 0.9x hand",
                    "config": name,
                    "value": r["credax_over_hand"],
                    "met": r["credax_over_hand"] >= GOALS["credax_over_hand"],
                }
            )
        fracs = [
            x.get("matmul_fraction") or 0
            for k, x in v.items()
            if isinstance(x, dict) and (k in ("credax", "credax_na") or k.startswith("credax_sb"))
        ]
        if backend == "cpu" and fracs:
            goals.append(
                {
                    "goal": "CPU credax (best seed_block, or credax_na) >= 50% of matmul rate",
                    "config": name,
                    "value": max(fracs),
                    "met": max(fracs) >= GOALS["cpu_matmul_fraction"],
                }
            )
            if "best_credax_over_biotorch" in r:
                goals.append(
                    {
                        "goal": "CPU credax (best seed_block) ahead of biotorch",
                        "config": name,
                        "value": r["best_credax_over_biotorch"],
                        "met": r["best_credax_over_biotorch"] > 1,
                    }
                )
        elif c["shape"] == "784-1000-1000-1000-10" and c["seeds"] == 64 and cr:
            f = v["credax"]["matmul_fraction"]
            goals.append(
                {
                    "goal": "GPU 64-seed 784-1000-1000-1000-10 credax >= 40% of matmul rate",
                    "config": name,
                    "value": f,
                    "met": f >= GOALS["gpu_64seed_784-1000-1000-1000-10_matmul_fraction"],
                }
            )
    results["seed_blocking"] = {"backend": backend, "per_config": blocks}
    results["goals"] = goals


VARIANT_ORDER = [
    "credax",
    "credax_na",
    "credax_run_vmap",
    "credax_sb1",
    "credax_sb4",
    "credax_sb8",
    "hand",
    "hand_sb1",
    "credax_loop",
    "biotorch",
]


def _si(x):
    for unit, s in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= s:
            return f"{x / s:.3g}{unit}"
    return f"{x:.3g}"


def table(results) -> str:
    cols = [
        ("credax", 8),
        ("run_vmap", 8),
        ("best sb", 7),
        ("hand", 8),
        ("c/h", 5),
        ("c/h st", 6),
        ("na", 8),
        ("na/h", 5),
        ("rv/h", 5),
        ("loop", 8),
        ("biotorch", 8),
        ("c/bt", 5),
        ("%mm c", 5),
        ("%mm h", 5),
        ("%rf c", 5),
        ("%rf h", 5),
    ]
    head = f"{'shape':<22}{'seeds':>5} " + " ".join(f"{n:>{w}}" for n, w in cols)
    rows = [head, "-" * len(head)]
    nan = float("nan")
    for c in results["configs"]:
        v, ra = c["variants"], c.get("ratios", {})

        def rate(k, v=v):
            x = v.get(k)
            s = x.get("samples_seeds_per_s") if isinstance(x, dict) else None
            return "-" if not s else _si(s) + ("*" if x.get("extrapolated") else "")

        def frac(k, v=v):
            x = v.get(k)
            m = x.get("matmul_fraction") if isinstance(x, dict) else None
            return f"{100 * m:.0f}" if m else "-"

        bsb = c.get("best_seed_block", "-")
        vals = [
            rate("credax"),
            rate("credax_run_vmap"),
            "all" if bsb is None else str(bsb),
            rate("hand"),
            f"{ra.get('credax_over_hand', nan):.2f}",
            f"{ra.get('credax_over_hand_steady', nan):.2f}",
            rate("credax_na"),
            f"{ra.get('credax_na_over_hand', nan):.2f}",
            f"{ra.get('credax_run_vmap_over_hand', nan):.2f}",
            rate("credax_loop"),
            rate("biotorch"),
            f"{ra.get('best_credax_over_biotorch', nan):.1f}",
            frac("credax"),
            frac("hand"),
            f"{100 * ra.get('credax_of_roofline_unfused', nan):.0f}",
            f"{100 * ra.get('hand_of_roofline_unfused', nan):.0f}",
        ]
        rows.append(
            f"{c['shape']:<22}{c['seeds']:>5} "
            + " ".join(f"{x:>{w}}" for x, (_, w) in zip(vals, cols))
        )
    mm = results["matmul_ceiling"]
    rows += [
        f"matmul ceiling {mm['n']}^3 f32, default precision: {mm['flops_per_s'] / 1e9:.1f} GFLOP/s."
        " Rates: samples x seeds / s (* = extrapolated from fewer seeds).",
        "best sb: fastest credax seed_block (all = full vmap); c/bt: that one over biotorch;"
        " c/h st: per-step",
        "rates only (split measurement, short runs); rv/h: credax_run_vmap (run vmapped without"
        " the feedback axis) / hand.",
        "na: credax with seed_block='auto' and angles=False (records without angle"
        " measurements); na/h: that over hand.",
        "reference (40-256-256-10, b100): biotorch ~115k (2-core CPU), ~60k (H100); hand JAX"
        " ~340k (CPU, 16 seeds), ~60M (H100, 64 seeds).",
        "%rf: FLOP/s over the roofline min(matmul rate, FLOPs x bandwidth / per-seed weight"
        " bytes of an unfused SGD step).",
    ]
    return "\n".join(rows)


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configs = results["configs"]
    if not configs:
        return
    names = [k for k in VARIANT_ORDER if any(_rate(c["variants"], k) for c in configs)]
    fig, ax = plt.subplots(figsize=(max(8, 1.4 * len(configs) + 3), 5.5))
    width = 0.8 / max(1, len(names))
    for j, k in enumerate(names):
        xs, ys, hatch = [], [], []
        for i, c in enumerate(configs):
            s = _rate(c["variants"], k)
            if s:
                xs.append(i + (j - (len(names) - 1) / 2) * width)
                ys.append(s)
                hatch.append("//" if c["variants"][k].get("extrapolated") else "")
        bars = ax.bar(xs, ys, width, label=k)
        for b, h in zip(bars, hatch):
            b.set_hatch(h)
    ax.set_yscale("log")
    ax.set_xticks(range(len(configs)))
    ax.set_xticklabels(
        [f"{c['shape']}\nb{c['batch']}, {c['seeds']} seeds" for c in configs], fontsize=7
    )
    ax.set_ylabel("samples x seeds / s")
    env = results["environment"]
    ax.set_title(
        f"FA training of tanh MLPs, {env['backend']} ({env['device']}), jax {env['jax']};"
        " hatched = extrapolated",
        fontsize=9,
    )
    gpu = env["backend"] != "cpu"
    for val, txt in (
        (60e3 if gpu else 115e3, "ref. biotorch 40-256-256-10"),
        (60e6 if gpu else 340e3, f"ref. hand JAX 40-256-256-10 ({64 if gpu else 16} seeds)"),
    ):
        ax.axhline(val, color="grey", ls=":", lw=1)
        ax.text(-0.4, val, " " + txt, fontsize=7, va="bottom", color="grey")
    ax.legend(fontsize=7, ncol=3, loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def recommendation(results) -> str:
    """The seed_block rule these results support, for this backend."""
    per = results["seed_blocking"]["per_config"]
    if not per:
        return "no multi-seed configurations measured"
    lines = []
    for p in per:
        best = "full vmap" if p["best_seed_block"] is None else f"seed_block={p['best_seed_block']}"
        rates = ", ".join(f"{k}: {_si(s)}" for k, s in p["credax_rates"].items())
        hand = ", ".join(f"{k}: {_si(s)}" for k, s in p["hand_rates"].items())
        lines.append(
            f"  {p['shape']} x{p['seeds']} (widest {p['widest']}): {best} ({rates}; {hand})"
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke test: two small shapes, few steps")
    p.add_argument("--shapes", default=None, help="e.g. 40-256-256-10:100,784-256-256-10:128")
    p.add_argument("--seeds", default=None, help="e.g. 1,16,64")
    p.add_argument("--seed-blocks", default="1,8", help="seed_block values besides full vmap")
    p.add_argument("--out-dir", default=str(RESULTS))
    p.add_argument("--target", type=float, default=None, help="seconds per timed call")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument(
        "--loop-cap",
        type=float,
        default=None,
        help="max seconds for one pass of a per-seed loop before extrapolating (CPU default 12)",
    )
    p.add_argument(
        "--fixed-below",
        type=int,
        default=100,
        help="split credax and hand runs shorter than this many steps into per-run and per-step"
        " time (an extra run at twice the steps)",
    )
    p.add_argument("--memory-shape", default="784-1000-1000-1000-10:128")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--no-biotorch", action="store_true")
    p.add_argument("--no-diagnostics", action="store_true", help="skip credax_run_vmap, hand_sb1")
    p.add_argument(
        "--deadline",
        type=float,
        default=None,
        help="seconds after which only credax and hand are measured and memory is skipped"
        " (default: 330 on an accelerator, 840 on CPU)",
    )
    p.add_argument(
        "--compile-workers",
        type=int,
        default=None,
        help="programs compiled concurrently (default: 1 on CPU, else min(4, cores // 2))",
    )
    p.add_argument("--memory-in-process", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "--memory-only",
        action="store_true",
        help="only redo the memory section, into the existing JSON of --out-dir",
    )
    p.add_argument("--memory-probe", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.memory_probe:
        memory_probe(json.loads(args.memory_probe))
        return

    backend = jax.default_backend()
    gpu = backend != "cpu"
    default_shapes = ",".join(f"{k}:{v}" for k, v in DEFAULT_SHAPES.items())
    shapes = parse_shapes(
        args.shapes or ("40-256-256-10:100,784-256-256-10:128" if args.quick else default_shapes)
    )
    seeds = [int(s) for s in (args.seeds or ("1,4" if args.quick else "1,16,64")).split(",")]
    blocks = [int(b) for b in args.seed_blocks.split(",") if b.strip()]
    target = args.target or (0.15 if args.quick else (0.25 if gpu else 0.8))
    loop_cap = args.loop_cap if args.loop_cap is not None else (None if gpu else 12.0)
    deadline = args.deadline or (330.0 if gpu else 840.0)
    workers = args.compile_workers or (1 if not gpu else max(1, min(4, (os.cpu_count() or 2) // 2)))
    if args.quick and args.memory_shape == p.get_default("memory_shape"):
        args.memory_shape = "784-256-256-10:128"
    out_dir = Path(args.out_dir)
    json_path = out_dir / f"throughput_{backend}.json"
    png_path = out_dir / f"throughput_{backend}.png"
    if args.memory_only:
        results = json.loads(json_path.read_text())
        results["memory"] = memory_section(args, backend, workers)
        results.setdefault("commands_after", []).append(
            " ".join([Path(sys.executable).name, *sys.argv])
        )
        write_json(json_path, results)
        os.chmod(json_path, 0o644)
        _log_memory(results["memory"])
        return

    t_start = time.perf_counter()
    env = environment()
    env["cpu_count"] = os.cpu_count()
    env["xla_flags"] = os.environ.get("XLA_FLAGS")
    env["loadavg_start"] = os.getloadavg()
    tb, tinfo = (None, "disabled by --no-biotorch") if args.no_biotorch else torch_setup()
    results = {
        "description": __doc__.splitlines()[0],
        "environment": env,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "unit": "samples x seeds / s = batch_size * steps * n_seeds / seconds",
        "settings": {
            "shapes": [[n, s, b] for n, s, b in shapes],
            "seeds": seeds,
            "seed_blocks": blocks,
            "target_call_s": target,
            "repeats": args.repeats,
            "loop_cap_s": loop_cap,
            "fixed_below_steps": args.fixed_below,
            "deadline_s": deadline,
            "compile_workers": workers,
            "lr": LR,
            "steps_per_epoch_max": SPE_MAX,
            "credax_test_and_probe_examples": N_TEST,
            "quick": args.quick,
        },
        "torch": tinfo if tb is not None else {"status": "not available", "reason": tinfo},
        "references_samples_seeds_per_s": REFERENCES,
        "goals_spec": GOALS,
        "configs": [],
    }
    log(f"backend {backend} ({env['device']}), jax {jax.__version__}; torch: {tinfo}")

    mm = matmul_ceiling(backend, args.quick)
    results["matmul_ceiling"] = mm
    log(f"matmul ceiling {mm['n']}^3: {mm['flops_per_s'] / 1e9:.1f} GFLOP/s")
    bw = bandwidth_ceiling(backend, args.quick)
    results["bandwidth_ceiling"] = bw
    log(f"bandwidth ceiling: {bw['bytes_per_s'] / 1e9:.1f} GB/s")
    timer = Timer(backend, mm["flops_per_s"], target, args.repeats, args.fixed_below, loop_cap)
    timer.hlo_seeds = (1, max(seeds)) if not gpu else (1,)

    def save(with_plot=False):
        summarise(results)
        results["elapsed_s"] = time.perf_counter() - t_start
        results["environment"]["loadavg_now"] = os.getloadavg()
        write_json(json_path, results)
        os.chmod(json_path, 0o644)  # write_json's temporary file is created 0600
        if with_plot:
            try:
                plot(results, png_path)
            except Exception as e:  # noqa: BLE001
                log(f"  plot failed: {e!r}")

    for name, sizes, batch in shapes:
        cfg = Config(name, sizes, batch)
        for n_seeds in seeds:
            run_config(
                cfg,
                n_seeds,
                seeds,
                args,
                blocks,
                tb,
                tinfo,
                timer,
                results,
                mm,
                save,
                t_start,
                deadline,
                workers,
                gpu,
            )
            gc.collect()
        save(with_plot=True)
        del cfg
        gc.collect()

    if args.no_memory:
        pass
    elif time.perf_counter() - t_start > deadline + 30:
        results["memory"] = {"skipped": f"past the {deadline:.0f} s deadline"}
        log("\nmemory: skipped (past the deadline)")
    else:
        log(f"\nmemory: credax sweep of {args.memory_shape}")
        try:
            results["memory"] = memory_section(args, backend, workers)
            _log_memory(results["memory"])
        except Exception as e:  # noqa: BLE001
            log(f"  memory FAILED {e!r}")
            traceback.print_exc()
            results["memory"] = {"error": repr(e)}
    save(with_plot=True)
    log("\n" + table(results))
    log(f"\nseed_block on {backend} (fastest credax sweep per shape and seeds):")
    log(recommendation(results))
    for g in results["goals"]:
        met = "met" if g["met"] else "NOT met"
        log(f"goal {g['goal']} [{g['config']}]: {g['value']:.2f} {met}")
    log(f"\nwrote {json_path} and {png_path} in {time.perf_counter() - t_start:.0f} s")


def _log_memory(m):
    per_ex = m.get("bytes_per_seed_per_example") or 0
    log(
        f"  {m['measure']}: {(m['bytes_per_seed'] or 0) / 2**20:.1f} MiB per seed"
        f" (params {m['params_bytes_per_seed'] / 2**20:.1f} MiB per seed);"
        f" {per_ex / 2**10:.1f} KiB per seed per example of the batch"
    )


def run_config(
    cfg,
    n_seeds,
    seeds_all,
    args,
    blocks,
    tb,
    tinfo,
    timer,
    results,
    mm,
    save,
    t_start,
    deadline,
    workers,
    gpu,
):
    c = {
        "shape": cfg.name,
        "sizes": cfg.sizes,
        "batch": cfg.batch,
        "seeds": n_seeds,
        "flops_per_step_per_seed": cfg.flops,
        "credax_record_flops": record_flops(cfg.sizes),
        "variants": {},
    }
    results["configs"].append(c)
    log(f"\n{cfg.name} batch {cfg.batch}, {n_seeds} seeds ({cfg.flops / 1e6:.1f} MFLOP/step/seed)")
    S = n_seeds
    variants = [
        Variant(
            "credax",
            "credax",
            "program",
            lambda st, spe: build_credax(cfg, st, spe, S, None),
            split=True,
        ),
        Variant(
            "hand", "hand", "program", lambda st, spe: build_hand(cfg, st, spe, S, None), split=True
        ),
        Variant(
            "credax_na",
            "credax_na",
            "program",
            lambda st, spe: build_credax(cfg, st, spe, S, "auto", angles=False),
        ),
    ]
    top = S == max(seeds_all)
    if not args.no_diagnostics and (not gpu or S == 1 or top):
        variants.append(
            Variant(
                "credax_run_vmap",
                "credax_run_vmap",
                "program",
                lambda st, spe: build_credax_run_vmap(cfg, st, spe, S),
            )
        )
    if S > 1:
        for k in blocks:
            # On an accelerator the blocks other than 1 only at the most seeds (compile time).
            if k < S and (not gpu or k == 1 or top):
                variants.append(
                    Variant(
                        f"credax_sb{k}",
                        f"credax_sb{k}",
                        "program",
                        lambda st, spe, k=k: build_credax(cfg, st, spe, S, k),
                    )
                )
        if not gpu and 1 in blocks and S <= 16 and not args.no_diagnostics:
            variants.append(
                Variant(
                    "hand_sb1",
                    "hand_sb1",
                    "program",
                    lambda st, spe: build_hand(cfg, st, spe, S, 1),
                )
            )
    keys = train.sweep_keys(0, S, 1)

    def run_jax_seed(one, i):
        t0 = time.perf_counter()
        jax.block_until_ready(one(keys[0][i], keys[1][0], keys[2][i]))
        return time.perf_counter() - t0

    variants.append(
        Variant(
            "credax_loop",
            "credax_loop",
            "loop",
            lambda st, spe: build_credax_one(cfg, st, spe),
            min_steps=4,
            run_seed=run_jax_seed,
        )
    )
    if tb is not None:
        variants.append(biotorch_variant(tb, cfg))
    else:
        c["variants"]["biotorch"] = {"status": "not available", "reason": tinfo}

    late = time.perf_counter() - t_start > deadline
    if late:
        for v in variants:
            if v.key not in CORE:
                log(f"  {v.key}: skipped (past the {deadline:.0f} s deadline)")
                c["variants"][v.key] = {"skipped": f"past the {deadline:.0f} s deadline"}
        variants = [v for v in variants if v.key in CORE]

    # Compile every JAX program of this configuration first, concurrently on an accelerator
    # host (nothing is timed meanwhile); biotorch needs no compile.
    plans = {v.key: timer.plan(cfg, v, S) for v in variants}
    built, errors = {}, {}
    if workers > 1:
        with concurrent.futures.ThreadPoolExecutor(workers) as ex:
            fut = {v.key: ex.submit(compile_one, v, *plans[v.key]) for v in variants}
        for k, f in fut.items():
            try:
                built[k] = f.result()
            except Exception as e:  # noqa: BLE001
                errors[k] = e

    def get(v):
        if v.key not in built and v.key not in errors:
            try:
                built[v.key] = compile_one(v, *plans[v.key])
            except Exception as e:  # noqa: BLE001
                errors[v.key] = e
        return v.key in built

    progs = [v for v in variants if v.kind == "program" and get(v)]
    results_v = timer.programs(cfg, progs, S, built, errors)
    for v in variants:
        if v.kind == "loop" and v.key not in errors:
            try:
                if get(v):
                    results_v[v.key] = timer.loop(cfg, v, S, built.pop(v.key))
            except Exception as e:  # noqa: BLE001
                errors[v.key] = e
    built.clear()
    for v in variants:
        if v.key in errors:
            e = errors[v.key]
            log(f"  {v.key}: FAILED {e!r}")
            traceback.print_exception(e)
            c["variants"][v.key] = {"error": repr(e)}
            continue
        r = results_v[v.key]
        r["samples_seeds_per_s"] = cfg.batch * r["steps"] * S / r["seconds"]
        r["flops_per_s"] = cfg.flops * r["steps"] * S / r["seconds"]
        r["matmul_fraction"] = r["flops_per_s"] / mm["flops_per_s"]
        if v.key.startswith("credax") and v.key != "credax_loop":
            r["record_flops_fraction"] = 2 * c["credax_record_flops"] / (cfg.flops * r["steps"])
        if workers > 1 and v.kind == "program":
            r["compiled_concurrently"] = True
        c["variants"][v.key] = r
        steady = r.get("samples_seeds_per_s_steady")
        log(
            f"  {v.key:<15} {r['samples_seeds_per_s']:>12,.0f} samples*seeds/s"
            f"  {r['flops_per_s'] / 1e9:9.1f} GFLOP/s ({100 * r['matmul_fraction']:.0f}%)"
            f"  steps {r['steps']}, {r['seconds']:.3f} s, compile {r['compile_s']:.1f} s"
            + (f"; per-step only {steady:,.0f}" if steady else "")
            + ("  [extrapolated]" if r.get("extrapolated") else "")
        )
    hlo = {
        k: r["step_hlo"]
        for k, r in c["variants"].items()
        if isinstance(r, dict) and r.get("step_hlo", {}).get("found")
    }
    if hlo:
        log(
            "  one step in the optimized HLO (ops, of which GEMMs, copies/transposes): "
            + ", ".join(
                f"{k} {h['ops']}/{h['gemms']}/{h['copy_or_transpose_ops']}" for k, h in hlo.items()
            )
        )
    c["loadavg_after"] = os.getloadavg()
    save()


if __name__ == "__main__":
    main()
