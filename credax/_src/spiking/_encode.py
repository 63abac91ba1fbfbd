"""Spike encoders, exponential traces, spike-train checks and distances, and the builder of
feedforward spiking networks."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from credax._src.checks import as_key, check_count, check_positive
from credax._src.nets._containers import Sequential
from credax._src.spiking._neurons import LI, LIF, Dynamics, TimeReduce


def _concrete(x: Any) -> bool:
    return not isinstance(x, jax.core.Tracer)


def check_rates(rates: Any, dt: float) -> jax.Array:
    """Rates in Hz: finite, ``>= 0`` and at most ``1/dt`` (one spike per step), checked when
    concrete."""
    rates = jnp.asarray(rates, jnp.float32)
    if _concrete(rates) and rates.size:
        r = np.asarray(rates)
        if not np.all(np.isfinite(r)) or r.min() < 0:
            raise ValueError(f"expected finite rates >= 0 (Hz), got values down to {r.min()}")
        top = 1000.0 / dt
        if r.max() > top:
            raise ValueError(
                f"expected rates at most 1/dt = {top:g} Hz (one spike per step of {dt:g} ms), got "
                f"{r.max():g} Hz"
            )
    return rates


def check_spikes(spikes: Any, name: str = "spikes") -> jax.Array:
    """A real array of 0/1 values (checked when concrete)."""
    s = jnp.asarray(spikes)
    if s.dtype == jnp.bool_ or jnp.issubdtype(s.dtype, jnp.integer):
        s = s.astype(jnp.float32)
    if not jnp.issubdtype(s.dtype, jnp.floating):
        raise TypeError(f"expected {name} to be a real array of 0/1 values, got dtype {s.dtype}")
    if _concrete(s) and s.size:
        v = np.asarray(s)
        bad = v[(v != 0) & (v != 1)]
        if bad.size:
            raise ValueError(
                f"expected {name} to hold 0/1 values (spike or not), found values such as "
                f"{bad[:3].tolist()}"
            )
    return s


def poisson(key: Any, rates: Any, steps: int, *, dt: float = 1.0) -> jax.Array:
    """Poisson spike trains: at each of ``steps`` steps of ``dt`` ms, a spike with probability
    ``rate · dt`` (rates in Hz, any shape). Returns ``(steps, *rates.shape)`` float32 0/1."""
    key = as_key(key, "poisson key")
    steps = check_count("steps", steps)
    dt = check_positive("dt", dt)
    rates = check_rates(rates, dt)
    p = rates * (dt / 1000.0)
    return jax.random.bernoulli(key, jnp.broadcast_to(p, (steps, *p.shape))).astype(jnp.float32)


def regular(rates: Any, steps: int, *, dt: float = 1.0) -> jax.Array:
    """Regular spike trains: a neuron at rate ``r`` Hz spikes whenever its accumulated phase
    ``r · t`` crosses an integer (first spike after ``1/r``). ``(steps, *rates.shape)``."""
    steps = check_count("steps", steps)
    dt = check_positive("dt", dt)
    rates = check_rates(rates, dt)
    t = jnp.arange(1, steps + 1, dtype=jnp.float32).reshape((steps,) + (1,) * rates.ndim)
    count = jnp.floor(rates[None] * t * (dt / 1000.0) + 1e-6)
    return jnp.diff(count, axis=0, prepend=jnp.zeros_like(count[:1])).astype(jnp.float32)


def latency(x: Any, steps: int, *, threshold: float = 0.0) -> jax.Array:
    """Time-to-first-spike coding: intensities ``x`` in ``[0, 1]`` (any shape) to one spike each
    at step ``round((1 - x) (steps - 1))``: the strongest inputs fire first; inputs ``<=
    threshold`` do not fire. ``(steps, *x.shape)``."""
    steps = check_count("steps", steps)
    x = jnp.asarray(x, jnp.float32)
    if _concrete(x) and x.size:
        v = np.asarray(x)
        if not np.all(np.isfinite(v)) or v.min() < 0 or v.max() > 1:
            raise ValueError(
                f"expected intensities in [0, 1] for latency coding, got values in "
                f"[{v.min():g}, {v.max():g}]"
            )
    when = jnp.round((1.0 - x) * (steps - 1)).astype(jnp.int32)
    t = jnp.arange(steps).reshape((steps,) + (1,) * x.ndim)
    return ((t == when[None]) & (x[None] > threshold)).astype(jnp.float32)


def exponential_trace(spikes: Any, tau: float, *, dt: float = 1.0) -> jax.Array:
    """``x_n = exp(-dt/τ) x_{n-1} + s_n`` over the leading (time) axis: the all-to-all trace of
    STDP and a synaptic current's shape. Same shape as ``spikes``."""
    tau = check_positive("tau", tau)
    dt = check_positive("dt", dt)
    decay = math.exp(-dt / tau)
    s = jnp.asarray(spikes)

    def step(x, s_n):
        x = decay * x + s_n
        return x, x

    return jax.lax.scan(step, jnp.zeros(s.shape[1:], s.dtype), s)[1]


def van_rossum(a: Any, b: Any, tau: float = 10.0, *, dt: float = 1.0) -> jax.Array:
    """The van Rossum distance between spike trains ``a`` and ``b`` (``(T, ...)``, summed over
    the other axes): ``sqrt((dt/τ) Σ_t (k ∗ (a - b))_t²)`` with the causal exponential kernel
    ``k`` of time constant ``τ`` (van Rossum 2001)."""
    d = exponential_trace(jnp.asarray(a, jnp.float32) - jnp.asarray(b, jnp.float32), tau, dt=dt)
    return jnp.sqrt(jnp.sum(jnp.square(d)) * dt / tau)


class Encode(eqx.Module):
    """A parameter-free first stage turning one real example into ``(steps, n)`` input for
    spiking layers (flattened):

    - ``"current"``: the example repeated at every step (an input current);
    - ``"latency"``: one spike per input, earlier for larger values (``latency``), after
      min-max scaling by ``(lo, hi)``;
    - ``"poisson"``: Poisson trains at ``max_rate · (x - lo)/(hi - lo)`` Hz, frozen per example
      (the key is folded with the example's bits, so an example always gives the same trains).
    """

    how: str = eqx.field(static=True)
    steps: int = eqx.field(static=True)
    lo: float = eqx.field(static=True)
    hi: float = eqx.field(static=True)
    max_rate: float = eqx.field(static=True)
    dt: float = eqx.field(static=True)
    seed: int = eqx.field(static=True)
    size: int | None = eqx.field(static=True)

    def __init__(
        self,
        how: str,
        steps: int,
        *,
        lo: float = 0.0,
        hi: float = 1.0,
        max_rate: float = 100.0,
        dt: float = 1.0,
        seed: int = 0,
        size: int | None = None,
    ):
        if how not in ("current", "latency", "poisson"):
            raise ValueError(f"expected encoding 'current', 'latency' or 'poisson', got {how!r}")
        self.how, self.steps = how, check_count("steps", steps)
        self.lo, self.hi = float(lo), float(hi)
        if not self.lo < self.hi:
            raise ValueError(f"expected lo < hi for the encoder's scaling, got {lo}, {hi}")
        self.dt = check_positive("dt", dt)
        self.max_rate = check_positive("max_rate", max_rate)
        check_rates(self.max_rate, self.dt)
        self.seed = check_count("seed", seed, minimum=0)
        self.size = None if size is None else check_count("size", size)

    @property
    def in_shape(self) -> tuple[int, ...] | None:
        """``(size,)``: the number of values of one example (any shape), when known; lets
        credax check a batch and find the model's layers before running it."""
        return None if self.size is None else (self.size,)

    def sized(self, size: int) -> Encode:
        """This encoder for examples of ``size`` values (``network`` sets it)."""
        kw = {k: getattr(self, k) for k in ("lo", "hi", "max_rate", "dt", "seed")}
        return Encode(self.how, self.steps, size=size, **kw)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.reshape(x, (-1,)).astype(jnp.float32)
        if self.size is not None and x.shape[0] != self.size:
            raise ValueError(
                f"Encode expects one example of {self.size} values, got {x.shape[0]} (is its batch "
                "axis missing, or the data another size?)"
            )
        if self.how == "current":
            return jnp.broadcast_to(x, (self.steps, x.shape[0]))
        u = jnp.clip((x - self.lo) / (self.hi - self.lo), 0.0, 1.0)
        if self.how == "latency":
            when = jnp.round((1.0 - u) * (self.steps - 1)).astype(jnp.int32)
            t = jnp.arange(self.steps)[:, None]
            return ((t == when[None]) & (u[None] > 0)).astype(jnp.float32)
        bits = jax.lax.bitcast_convert_type(x, jnp.uint32)
        odd = jnp.arange(x.shape[0], dtype=jnp.uint32) * jnp.uint32(2654435761) + jnp.uint32(1)
        mix = jnp.sum(bits * odd, dtype=jnp.uint32)
        key = jax.random.fold_in(jax.random.key(self.seed), mix)
        p = u * (self.max_rate * self.dt / 1000.0)
        p = jnp.broadcast_to(p, (self.steps, x.shape[0]))
        return jax.random.bernoulli(key, p).astype(jnp.float32)


def network(
    sizes: Sequence[int],
    steps: int,
    *,
    key: Any,
    encode: Encode | None = None,
    readout: str | None = "max",
    weight_scale: float = 1.0,
    readout_scale: float | None = None,
    dynamics: Dynamics | None = None,
    **settings: Any,
) -> Sequential:
    """A feedforward spiking network: ``[encode,] LIF, ..., LIF, LI[, TimeReduce(readout)]``.

    ``sizes = [n_in, hidden..., n_out]``: spiking hidden layers, a leaky-integrator output layer
    whose membrane over time is reduced by ``readout`` (``"max"``, ``"mean"``, ``"last"``, or
    None to keep ``(steps, n_out)``), the logits of a classifier. Weights are Glorot-uniform
    times ``weight_scale`` (the readout's times ``readout_scale``, default ``weight_scale``: the
    readout integrates spikes over every step, so a smaller scale keeps its initial logits of
    order one). ``settings`` are :class:`Dynamics`' (shared by every layer), or pass
    ``dynamics``.
    """
    sizes = [check_count("sizes", n) for n in sizes]
    if len(sizes) < 2:
        raise ValueError(f"expected sizes [n_in, ..., n_out] with at least 2 entries, got {sizes}")
    dyn = Dynamics(**settings) if dynamics is None else dynamics
    if dynamics is not None and settings:
        raise TypeError(f"give either dynamics or its settings {sorted(settings)}, not both")
    keys = jax.random.split(as_key(key, "network key"), len(sizes) - 1)
    if encode is not None:
        if not isinstance(encode, Encode):
            raise TypeError(f"expected encode to be a credax.spiking.Encode, got {encode!r}"[:200])
        if encode.size is not None and encode.size != sizes[0]:
            raise ValueError(f"encode.size {encode.size} differs from the input size {sizes[0]}")
        encode = encode.sized(sizes[0])
    layers: list = [] if encode is None else [encode]
    for i, k in enumerate(keys):
        last = i == len(sizes) - 2
        scale = readout_scale if last and readout_scale is not None else weight_scale
        cls = LI if last else LIF
        layers.append(cls(steps, sizes[i], sizes[i + 1], key=k, weight_scale=scale, dynamics=dyn))
    if readout is not None:
        layers.append(TimeReduce(readout))
    return Sequential(layers)
