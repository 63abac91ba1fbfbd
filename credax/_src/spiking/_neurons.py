"""Spiking neurons as credax layers: leaky integrate-and-fire (``LIF``) and the leaky integrator
readout (``LI``), simulated over a leading time axis by ``lax.scan`` with exact exponential
integration, and the surrogate derivatives that let gradients through a spike.

A spiking layer is a :class:`credax.nets.Layer`: ``a = W x_t + b`` at every time step ``t`` of one
example ``x`` of shape ``(T, n_in)`` (``linear`` acts on each step), and its activation is the
neuron's dynamics over the whole pre-activation ``a`` of shape ``(T, n_out)``, returning the spike
trains ``S`` (0/1, ``(T, n_out)``). Rules that differentiate through activations (backprop, i.e.
surrogate-gradient BPTT, the feedback and perturbation families) apply unchanged; rules that read
spikes (STDP, SuperSpike) find the presynaptic trains in ``trace(...).inputs``, the postsynaptic
ones in ``trace(...).outputs`` and the membrane potential in ``trace(...).internals``.

Units: time in ms (``dt``, ``tau_mem``, ``tau_syn``, ``refractory``), potentials relative to the
resting potential (0) with the firing threshold ``threshold`` (default 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from credax._src.checks import check_callable, check_flag, check_positive
from credax._src.nets._dense import check_size, uniform
from credax._src.nets._layer import Layer

# --- surrogate derivatives ------------------------------------------------------------------------


class FastSigmoid(eqx.Module):
    """SuperSpike's surrogate derivative ``σ′(v) = 1 / (β |v| + 1)²`` of a spike at ``v = U − ϑ``:
    the derivative of the fast sigmoid ``v / (1 + β|v|)`` (Zenke & Ganguli 2018, eq. 8)."""

    beta: float = eqx.field(static=True)

    def __call__(self, v: jax.Array) -> jax.Array:
        return 1.0 / jnp.square(self.beta * jnp.abs(v) + 1.0)


def fast_sigmoid(beta: float = 10.0) -> FastSigmoid:
    """The SuperSpike surrogate ``σ′(v) = 1 / (β|v| + 1)²`` with steepness ``β`` (per unit of
    potential); Zenke & Vogels (2021) found learning robust to the choice and to ``β``."""
    return FastSigmoid(check_positive("beta", beta))


def _make_spike(surrogate: Callable) -> Callable:
    @jax.custom_jvp
    def f(v):
        return (v >= 0).astype(v.dtype)

    @f.defjvp
    def f_jvp(primals, tangents):
        (v,), (dv,) = primals, tangents
        return f(v), surrogate(v).astype(v.dtype) * dv

    return f


def spike(v: jax.Array, surrogate: Callable | None = None) -> jax.Array:
    """``Θ(v)`` (1 where ``v ≥ 0``) forward, with derivative ``surrogate(v)`` (default
    ``fast_sigmoid(10)``) in place of Dirac's delta."""
    return _make_spike(fast_sigmoid() if surrogate is None else surrogate)(v)


# --- dynamics -------------------------------------------------------------------------------------


def _check_time(dt: float, name: str, tau: float) -> None:
    if not dt < tau:
        raise ValueError(
            f"expected dt ({dt} ms) smaller than {name} ({tau} ms): the step must resolve the "
            "neuron's time constants"
        )


class Dynamics(eqx.Module):
    """The settings of a leaky neuron (static: they are part of the model's structure).

    Per step ``n`` of ``dt`` ms, with ``β = exp(-dt/τ_mem)`` and ``α = exp(-dt/τ_syn)``:

    - current-based input (``tau_syn=None``): ``a_n`` is a current held over the step,
      ``U_n = β U_{n-1} + (1 - β) a_n`` (exact for a piecewise-constant current, unit
      resistance);
    - exponential synapses: ``a_n`` is a charge that jumps the synaptic current,
      ``I_n = α I_{n-1} + a_n``, and the membrane integrates the current of the step before,
      ``U_n = β U_{n-1} + κ I_{n-1}`` with ``κ = τ_syn/(τ_syn - τ_mem) (α - β)`` (``κ = (dt/τ)
      β`` when ``τ_syn = τ_mem``): the exact propagator of ``τ_syn dI/dt = -I``,
      ``τ_mem dU/dt = -U + I`` (Rotter & Diesmann 1999), so an input reaches the membrane one
      step after it arrives.

    A spiking neuron then fires ``S_n = Θ(U_n - ϑ)`` and resets: ``U_n ← 0`` (``reset="zero"``)
    or ``U_n ← U_n - ϑ`` (``"subtract"``); for ``refractory`` ms after a spike its membrane is
    held at 0 and ignores its input (``round(refractory/dt)`` steps).
    """

    dt: float = eqx.field(static=True)
    tau_mem: float = eqx.field(static=True)
    tau_syn: float | None = eqx.field(static=True)
    threshold: float = eqx.field(static=True)
    reset: str = eqx.field(static=True)
    refractory: float = eqx.field(static=True)
    detach_reset: bool = eqx.field(static=True)
    surrogate: Callable = eqx.field(static=True)

    def __init__(
        self,
        *,
        dt: float = 1.0,
        tau_mem: float = 10.0,
        tau_syn: float | None = 5.0,
        threshold: float = 1.0,
        reset: str = "zero",
        refractory: float = 0.0,
        detach_reset: bool = True,
        surrogate: Callable | None = None,
    ):
        self.dt = check_positive("dt", dt)
        self.tau_mem = check_positive("tau_mem", tau_mem)
        _check_time(self.dt, "tau_mem", self.tau_mem)
        if tau_syn is not None:
            tau_syn = check_positive("tau_syn (or None for current-based input)", tau_syn)
            _check_time(self.dt, "tau_syn", tau_syn)
        self.tau_syn = tau_syn
        self.threshold = check_positive("threshold", threshold)
        if reset not in ("zero", "subtract"):
            raise ValueError(f"expected reset 'zero' or 'subtract', got {reset!r}")
        self.reset = reset
        self.refractory = check_positive("refractory", refractory, allow_zero=True)
        self.detach_reset = check_flag("detach_reset", detach_reset)
        self.surrogate = (
            fast_sigmoid()
            if surrogate is None
            else check_callable("surrogate", surrogate, "σ′(v), e.g. credax.spiking.fast_sigmoid()")
        )

    @property
    def beta(self) -> float:
        return math.exp(-self.dt / self.tau_mem)

    @property
    def alpha(self) -> float:
        return 0.0 if self.tau_syn is None else math.exp(-self.dt / self.tau_syn)

    @property
    def kappa(self) -> float:
        """The weight of the synaptic current on the next step's membrane."""
        b, ts, tm = self.beta, self.tau_syn, self.tau_mem
        if ts is None:
            return 1.0 - b
        if math.isclose(ts, tm):
            return self.dt / tm * b
        return ts / (ts - tm) * (self.alpha - b)

    @property
    def refractory_steps(self) -> int:
        return int(round(self.refractory / self.dt))

    def run(self, a: jax.Array, spiking: bool = True) -> tuple[jax.Array, dict]:
        """The neuron's response to pre-activations ``a`` of shape ``(T, ...)`` from rest:
        ``(S, {"membrane": U, "current": I})`` for a spiking neuron (``U`` before the reset,
        ``I`` only with synapses), ``(U, {...})`` for a leaky integrator."""
        beta, alpha, kappa = self.beta, self.alpha, self.kappa
        n_ref = self.refractory_steps
        dtype = a.dtype
        zeros = jnp.zeros(a.shape[1:], dtype)
        synaptic = self.tau_syn is not None

        def step(carry, a_n):
            u, i, ref = carry
            if synaptic:
                u_new = beta * u + kappa * i
                i = alpha * i + a_n
            else:
                u_new = beta * u + kappa * a_n
            if n_ref:
                u_new = jnp.where(ref > 0, 0.0, u_new)
            if not spiking:
                return (u_new, i, ref), (u_new, u_new, i)
            s = spike(u_new - self.threshold, self.surrogate)
            r = jax.lax.stop_gradient(s) if self.detach_reset else s
            if self.reset == "zero":
                u_next = u_new * (1.0 - r)
            else:
                u_next = u_new - self.threshold * r
            if n_ref:
                ref = jnp.where(s > 0, n_ref, jnp.maximum(ref - 1, 0))
            return (u_next, i, ref), (s, u_new, i)

        ref0 = jnp.zeros(a.shape[1:], jnp.int32)
        _, (out, u, i) = jax.lax.scan(step, (zeros, zeros, ref0), a)
        exposed = {"membrane": u}
        if synaptic:
            exposed["current"] = i
        return out, exposed


# --- layers ---------------------------------------------------------------------------------------


def _timewise(weight: jax.Array, x: jax.Array) -> jax.Array:
    return x @ weight.T


class _Leaky(Layer):
    weight: jax.Array
    bias: jax.Array | None
    steps: int = eqx.field(static=True)
    dynamics: Dynamics

    def _init(self, steps, in_features, out_features, key, use_bias, weight_scale, dynamics, kw):
        from credax._src.checks import as_key

        self.steps = check_size("steps", steps)
        n_in = check_size("in_features", in_features)
        n_out = check_size("out_features", out_features)
        if dynamics is not None and kw:
            raise TypeError(f"give either dynamics or its settings {sorted(kw)}, not both")
        self.dynamics = Dynamics(**kw) if dynamics is None else dynamics
        if not isinstance(self.dynamics, Dynamics):
            raise TypeError(
                f"expected dynamics to be a credax.spiking.Dynamics, got {type(dynamics).__name__}"
            )
        key = as_key(key, f"{type(self).__name__} key")
        scale = check_positive("weight_scale", weight_scale)
        bound = scale * math.sqrt(6.0 / (n_in + n_out))
        self.weight = uniform(key, (n_out, n_in), bound, jnp.float32)
        self.bias = jnp.zeros((n_out,), jnp.float32) if use_bias else None

    @property
    def linear(self):
        return _timewise

    @property
    def in_shape(self):
        return (self.steps, self.weight.shape[1])

    @property
    def out_shape(self):
        return (self.steps, self.weight.shape[0])


class LIF(_Leaky):
    """A dense layer of leaky integrate-and-fire neurons over ``steps`` time steps.

    ``a_t = W x_t + b`` for one example ``x`` of shape ``(steps, in_features)`` (spike trains or
    any real input), then the neurons' dynamics (:class:`Dynamics`) over time; the output is
    the spike trains ``S`` of shape ``(steps, out_features)``. The spike's derivative is the
    dynamics' surrogate, so backprop through the layer is surrogate-gradient BPTT; the reset is
    detached from the gradient by default (``detach_reset``), as Zenke & Vogels (2021)
    recommend. ``trace`` shows ``membrane`` (``U`` before the reset) and, with synapses,
    ``current``.

    Attributes:
        weight: ``W``, ``(out_features, in_features)``.
        bias: ``b``, ``(out_features,)``, or None (the default: a constant input current).
        steps: ``T``.
        dynamics: the neuron's settings.
    """

    def __init__(
        self,
        steps: int,
        in_features: int,
        out_features: int,
        *,
        key: jax.Array | int,
        use_bias: bool = False,
        weight_scale: float = 1.0,
        dynamics: Dynamics | None = None,
        **settings: Any,
    ):
        """Glorot-uniform weights times ``weight_scale``; ``settings`` are :class:`Dynamics`'
        (``dt``, ``tau_mem``, ``tau_syn``, ``threshold``, ``reset``, ``refractory``,
        ``detach_reset``, ``surrogate``), or pass ``dynamics``."""
        self._init(
            steps, in_features, out_features, key, use_bias, weight_scale, dynamics, settings
        )

    is_spiking = True  # evaluations record its firing rate and spike count

    @property
    def activation(self):
        return lambda a: self.dynamics.run(a, spiking=True)[0]

    def activate(self, a, state):
        s, exposed = self.dynamics.run(a, spiking=True)
        return s, state, exposed


class LI(_Leaky):
    """A dense layer of leaky integrators (non-spiking LIF neurons): the usual readout of a
    spiking network. Same dynamics as :class:`LIF` without threshold; the output is the membrane
    potential ``U`` of shape ``(steps, out_features)``."""

    def __init__(
        self,
        steps: int,
        in_features: int,
        out_features: int,
        *,
        key: jax.Array | int,
        use_bias: bool = False,
        weight_scale: float = 1.0,
        dynamics: Dynamics | None = None,
        **settings: Any,
    ):
        self._init(
            steps, in_features, out_features, key, use_bias, weight_scale, dynamics, settings
        )

    @property
    def activation(self):
        return lambda a: self.dynamics.run(a, spiking=False)[0]

    def activate(self, a, state):
        u, exposed = self.dynamics.run(a, spiking=False)
        return (
            u,
            state,
            {"membrane": exposed["membrane"]}
            | ({"current": exposed["current"]} if "current" in exposed else {}),
        )


class TimeReduce(eqx.Module):
    """Reduces one example's ``(T, ...)`` over time: ``"max"`` (Zenke & Vogels' readout of the
    membrane), ``"mean"``, ``"sum"`` (a spike count) or ``"last"``."""

    how: str = eqx.field(static=True)

    def __init__(self, how: str = "max"):
        if how not in ("max", "mean", "sum", "last"):
            raise ValueError(f"expected how 'max', 'mean', 'sum' or 'last', got {how!r}")
        self.how = how

    def __call__(self, x: jax.Array) -> jax.Array:
        if self.how == "last":
            return x[-1]
        return {"max": jnp.max, "mean": jnp.mean, "sum": jnp.sum}[self.how](x, axis=0)
