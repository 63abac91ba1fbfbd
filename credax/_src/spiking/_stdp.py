"""Spike-timing-dependent plasticity of the LIF layers of ``credax.spiking``: pair-based STDP
with spike traces, and the calcium-based synapse of Graupner & Brunel (2012).

Both rules read, for every :class:`credax.spiking.LIF` layer of the model, the presynaptic spike
trains ``trace(model, x).inputs[l]`` and the postsynaptic ones ``trace(model, x).outputs[l]``
(``(B, T, n)``, time in steps of the layer's ``dynamics.dt`` ms), and change only that layer's
weights ``W`` (``(n_out, n_in)``, ``W_ij`` from input ``j`` to neuron ``i``); other layers (an
``LI`` readout, a dense layer) get zero updates and biases are left alone. Neither follows a
loss: ``updates = -Δw``, so that ``optax.sgd(lr)`` applies ``w ← w + lr·Δw`` (the
Graupner-Brunel rule returns ``updates = w - w_new``, so that ``optax.sgd(1.0)`` puts the
weights at the synapses' new strengths).

Time convention: ``Δt = t_post - t_pre`` (positive when the presynaptic spike comes first).
Paper 004's slides and Song, Miller & Abbott (2000) write the same window with ``Δt = t_pre -
t_post``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from credax._src.batches import UNSUPERVISED, unsupervised_batch
from credax._src.checks import as_key, check_flag, check_positive, is_number
from credax._src.nets._select import find_layers, map_layers
from credax._src.nets._trace import trace
from credax._src.rule import LearningRule, init_empty, make_rule
from credax._src.spiking._encode import check_spikes, exponential_trace
from credax._src.spiking._neurons import LIF

# --- shared machinery -----------------------------------------------------------------------------


def _lif_layers(params: Any, rule: str) -> tuple[list, list[int]]:
    """The model's credax layers and the indices of its LIF layers (at least one)."""
    layers = find_layers(params)
    which = [i for i, layer in enumerate(layers) if isinstance(layer, LIF)]
    if not which:
        kinds = ", ".join(type(layer).__name__ for layer in layers)
        raise ValueError(
            f"{rule}: expected a model with at least one credax.spiking.LIF layer (spiking "
            f"neurons whose input and output spike trains the rule reads), got "
            f"{type(params).__name__} with layers [{kinds}]"
        )
    return layers, which


def _check_step(rule: str, layers: list, which: list[int], taus: dict[str, float]) -> None:
    """Every LIF layer's ``dt`` below each of the rule's time constants."""
    for i in which:
        dt = layers[i].dynamics.dt
        for name, tau in taus.items():
            if not dt < tau:
                raise ValueError(
                    f"{rule}: expected the time step dt of LIF layer {i} ({dt} ms) smaller than "
                    f"{name} ({tau} ms): the step must resolve the rule's time constants"
                )


def _spikes(a: jax.Array, name: str) -> jax.Array:
    """Spike trains as float32, checked to be 0/1 when concrete."""
    return check_spikes(a, name).astype(jnp.float32)


def _rate(s: jax.Array, dt: float) -> jax.Array:
    """Mean firing rate in Hz of 0/1 trains of steps of ``dt`` ms."""
    return jnp.mean(s) * (1000.0 / dt)


def _weights(params: Any, new: dict[int, jax.Array]) -> Any:
    """Updates with ``params``' structure: ``new[i]`` as the weight update of layer ``i``, zero
    elsewhere (other layers, biases)."""

    def one(i, layer):
        upd = jax.tree_util.tree_map(jnp.zeros_like, eqx.filter(layer, eqx.is_inexact_array))
        if i in new:
            upd = eqx.tree_at(lambda q: q.weight, upd, new[i].astype(layer.weight.dtype))
        return upd

    return map_layers(one, params)


def _finite(name: str, value: Any) -> float:
    if not is_number(value) or not math.isfinite(value):
        raise TypeError(f"expected {name} to be a finite number, got {value!r}")
    return float(value)


# --- pair-based STDP ------------------------------------------------------------------------------

_BOUNDS = ("additive", "multiplicative", None)


def _spike_trace(s: jax.Array, tau: float, dt: float, nearest: bool) -> jax.Array:
    """Traces of spike trains ``s`` ``(M, T, n)`` over their time axis (axis 1), with ``λ =
    exp(-dt/τ)``: ``x ← λx + s`` (all-to-all, ``credax.spiking.exponential_trace``) or, nearest,
    ``x ← 1`` at a spike and ``λx`` otherwise."""
    s = jnp.swapaxes(s, 0, 1)
    if not nearest:
        return jnp.swapaxes(exponential_trace(s, tau, dt=dt), 0, 1)
    decay = math.exp(-dt / tau)

    def step(x, s_t):
        x = jnp.where(s_t > 0, 1.0, decay * x)
        return x, x

    _, xs = lax.scan(step, jnp.zeros_like(s[0]), s)
    return jnp.swapaxes(xs, 0, 1)


def _pair_sums(
    pre: jax.Array, post: jax.Array, *, dt: float, tau_plus: float, tau_minus: float, nearest: bool
) -> tuple[jax.Array, jax.Array]:
    """The potentiating and depressing pair sums of spike trains ``pre`` ``(M, T, n_in)`` and
    ``post`` ``(M, T, n_out)``, summed over the ``M`` trains and ``T`` steps::

        P_ij = Σ_t S_post_i(t) (x_pre_j(t) - S_pre_j(t)/2)      (x_pre: traces of τ₊)
        D_ij = Σ_t (y_post_i(t) - S_post_i(t)/2) S_pre_j(t)     (y_post: traces of τ₋)

    so that ``A₊ P - A₋ D`` is ``Σ F(t_post - t_pre)`` over the pairs the traces count, with a
    pair in one step counted half as each order (see ``stdp``). Returns ``(P, D)``, each
    ``(n_out, n_in)``, float32."""
    x = _spike_trace(pre, tau_plus, dt, nearest) - 0.5 * pre
    y = _spike_trace(post, tau_minus, dt, nearest) - 0.5 * post
    hi = lax.Precision.HIGHEST
    potentiation = jnp.einsum("mti,mtj->ij", post, x, precision=hi)
    depression = jnp.einsum("mti,mtj->ij", y, pre, precision=hi)
    return potentiation, depression


def stdp(
    *,
    a_plus: float = 0.005,
    a_minus: float = 0.00525,
    tau_plus: float = 20.0,
    tau_minus: float = 20.0,
    nearest: bool = False,
    bounds: str | None = "additive",
    w_max: float = 1.0,
    w_min: float = 0.0,
) -> LearningRule:
    """Pair-based spike-timing-dependent plasticity with spike traces.

    Every pair of a presynaptic spike at ``t_pre`` and a postsynaptic spike at ``t_post`` changes
    the synapse by the window of paper 004 (Song, Miller & Abbott 2000; fitted to Bi & Poo 1998),
    with ``Δt = t_post - t_pre``::

        F(Δt) =  A₊ exp(-Δt/τ₊)    for Δt > 0   (pre before post: potentiation)
        F(Δt) = -A₋ exp( Δt/τ₋)    for Δt < 0   (post before pre: depression)

    computed online with traces (Morrison, Diesmann & Gerstner 2008): per LIF layer, a trace
    ``x_pre_j`` of each input's spikes ``S_pre_j`` with ``τ₊`` and ``y_post_i`` of each neuron's
    spikes ``S_post_i`` with ``τ₋``, updated every step of ``dt`` ms (the layer's
    ``dynamics.dt``) as ``x ← x·exp(-dt/τ) + S`` (all-to-all: every pair counts) or, with
    ``nearest=True``, reset to 1 at a spike (``x ← 1``; the symmetric nearest-spike interaction:
    each postsynaptic spike pairs with the last presynaptic spike before it and each presynaptic
    spike with the last postsynaptic one). Then::

        ΔW_ij = Σ_batch Σ_t [A₊ x_pre_j(t) S_post_i(t) - A₋ y_post_i(t) S_pre_j(t)]

    Discrete time. Spikes of one step have ``Δt = 0``: the continuous-time window is undefined
    there, and in continuous time the two spikes are a uniformly random fraction of a step apart
    either way. credax counts such a pair half as each order, ``F(0) = (A₊ - A₋)/2`` (the traces
    above with ``S/2`` subtracted at the step itself). The sum of ``F`` over all pairs then
    integrates the continuous window by the trapezoidal rule, with an error of order
    ``(dt/τ)²``: counting it as potentiation (``A₊``) or depression (``-A₋``) instead would shift
    the window's integral ``A₊τ₊ - A₋τ₋`` by ``±(A₊ + A₋) dt/2``, at ``dt = 1`` ms as much as
    Song et al.'s whole 5% excess of depression, on which their competition rests. Pairs at
    ``Δt ≠ 0`` (whole steps) follow ``F`` exactly.

    Batches. The change is summed over the batch (not averaged): each example is one trial of a
    protocol (a pairing, a stretch of Poisson input), and the rule applied once to a batch of
    ``B`` trials changes the weights as ``B`` applications one after another would (to first
    order in ``A``), whatever ``B``. Traces start at 0 in every example (credax's LIF layers start
    every example from rest), so pairs across two examples do not count.

    Bounds (the change is computed with the weights ``W`` before the update):

    - ``"additive"``: hard bounds. ``Δw`` does not depend on ``w``; a change that would take
      ``w`` outside ``[w_min, w_max]`` is clipped, ``Δw ← clip(w + Δw, w_min, w_max) - w``, so
      that after ``optax.sgd(lr)`` with ``0 < lr ≤ 1`` a weight in ``[w_min, w_max]`` stays in
      it (with ``lr = 1`` a weight outside is brought to the nearest bound).
    - ``"multiplicative"``: soft bounds (van Rossum, Bi & Turrigiano 2000; Gütig et al. 2003
      with ``μ = 1``): potentiation scales with the room left, depression with the weight,
      ``Δw = A₊ (w_max - w) Σ x_pre S_post - A₋ (w - w_min) Σ y_post S_pre``; ``A₊`` and ``A₋``
      are fractions of the room per pair. The same clip keeps a batch with many pairs from
      overshooting (it changes nothing while ``A₊`` and ``A₋`` times the pair sums stay below 1).
    - ``None``: no bounds; ``w_max`` and ``w_min`` are not used.

    Inputs to LIF layers must be spike trains (0/1, checked when concrete). Biases, and the
    layers that are not LIF (an ``LI`` readout), get zero updates; a model without a LIF layer
    is refused. ``updates = -Δw``, so that ``optax.sgd(lr)`` applies ``w ← w + lr·Δw``.

    Args:
        a_plus: ``A₊ ≥ 0``, the change of a pre-before-post pair at ``Δt → 0⁺``.
        a_minus: ``A₋ ≥ 0``, the depression of a post-before-pre pair at ``Δt → 0⁻``.
        tau_plus: ``τ₊ > 0`` (ms), the potentiation window's time constant.
        tau_minus: ``τ₋ > 0`` (ms), the depression window's time constant.
        nearest: the nearest-spike interaction instead of all-to-all.
        bounds: ``"additive"`` (hard bounds), ``"multiplicative"`` (soft bounds) or None.
        w_max: the upper bound of the weights (with bounds).
        w_min: the lower bound, ``< w_max`` (with bounds).

    Returns:
        A ``LearningRule`` (unsupervised) with state ``credax.EmptyState``; no value. Its
        diagnostics record per LIF layer (in model order) ``pre_rate`` and ``post_rate``, the
        mean rates in Hz of its input and output spikes on the probe batch, and
        ``mean_weight``.

    Examples:
        A 1→1 layer driven by a strong second input, so that the neuron fires when that input
        does: the first input, 10 ms earlier, is potentiated by ``A₊ e^{-10/20}``.

        >>> import jax.numpy as jnp, equinox as eqx
        >>> from credax import spiking
        >>> from credax._src.spiking._stdp import stdp
        >>> layer = spiking.LIF(40, 2, 1, key=0, tau_syn=None)
        >>> layer = eqx.tree_at(lambda l: l.weight, layer, jnp.array([[0.01, 50.0]]))
        >>> x = jnp.zeros((1, 40, 2)).at[0, 10, 0].set(1.0).at[0, 20, 1].set(1.0)
        >>> rule = stdp(a_plus=1.0, bounds=None)
        >>> g, _ = rule.update(layer, rule.init(0, layer), x)
        >>> round(float(-g.weight[0, 0]), 4), round(float(jnp.exp(-0.5)), 4)
        (0.6065, 0.6065)

    References:
        Bi & Poo (1998). Synaptic modifications in cultured hippocampal neurons: dependence on
        spike timing, synaptic strength, and postsynaptic cell type. J. Neurosci. 18, 10464.
        Song, Miller & Abbott (2000). Competitive Hebbian learning through spike-timing-dependent
        synaptic plasticity. Nature Neuroscience 3, 919-926.
        van Rossum, Bi & Turrigiano (2000). Stable Hebbian learning from spike timing-dependent
        plasticity. J. Neurosci. 20, 8812-8821.
        Gütig, Aharonov, Rotter & Sompolinsky (2003). Learning input correlations through
        nonlinear temporally asymmetric Hebbian plasticity. J. Neurosci. 23, 3697-3714.
        Morrison, Diesmann & Gerstner (2008). Phenomenological models of synaptic plasticity
        based on spike timing. Biological Cybernetics 98, 459-478.
        "Computational modelling of plasticity and learning in brains", lecture slides in
        credax's sources (paper 004): the STDP window F(Δt).
    """
    a_plus = check_positive("a_plus", a_plus, allow_zero=True)
    a_minus = check_positive("a_minus", a_minus, allow_zero=True)
    tau_plus = check_positive("tau_plus", tau_plus)
    tau_minus = check_positive("tau_minus", tau_minus)
    nearest = check_flag("nearest", nearest)
    if not (bounds is None or (isinstance(bounds, str) and bounds in _BOUNDS)):
        raise ValueError(f"expected bounds 'additive', 'multiplicative' or None, got {bounds!r}")
    if bounds is not None:
        w_max, w_min = _finite("w_max", w_max), _finite("w_min", w_min)
        if not w_min < w_max:
            raise ValueError(f"expected w_min < w_max, got w_min={w_min}, w_max={w_max}")
    taus = {"tau_plus": tau_plus, "tau_minus": tau_minus}

    def check(params):
        layers, which = _lif_layers(params, "stdp")
        _check_step("stdp", layers, which, taus)
        return layers, which

    def init(key, params):
        check(params)
        return init_empty(key, params)

    def update(params, state, batch):
        x = unsupervised_batch(params, batch)
        layers, which = check(params)
        t = trace(params, x)
        new = {}
        for i in which:
            layer = layers[i]
            steps, n_in = layer.in_shape
            pre = _spikes(t.inputs[i], f"the input spikes of LIF layer {i}")
            pre = pre.reshape(-1, steps, n_in)
            post = t.outputs[i].astype(jnp.float32).reshape(-1, steps, layer.out_shape[1])
            p, d = _pair_sums(
                pre,
                post,
                dt=layer.dynamics.dt,
                tau_plus=tau_plus,
                tau_minus=tau_minus,
                nearest=nearest,
            )
            w = layer.weight.astype(jnp.float32)
            if bounds == "multiplicative":
                dw = a_plus * (w_max - w) * p - a_minus * (w - w_min) * d
            else:
                dw = a_plus * p - a_minus * d
            if bounds is not None:
                dw = jnp.clip(w + dw, w_min, w_max) - w
            new[i] = -dw
        return _weights(params, new), state

    def diagnostics(params, state, batch):
        del state
        x = unsupervised_batch(params, batch)
        layers, which = check(params)
        t = trace(params, x)
        dts = [layers[i].dynamics.dt for i in which]
        return {
            "pre_rate": jnp.stack(
                [_rate(t.inputs[i].astype(jnp.float32), dt) for i, dt in zip(which, dts)]
            ),
            "post_rate": jnp.stack(
                [_rate(t.outputs[i].astype(jnp.float32), dt) for i, dt in zip(which, dts)]
            ),
            "mean_weight": jnp.stack(
                [jnp.mean(layers[i].weight.astype(jnp.float32)) for i in which]
            ),
        }

    return make_rule("stdp", init, update=update, diagnostics=diagnostics, task=UNSUPERVISED)


# --- Graupner-Brunel ------------------------------------------------------------------------------


class _Synapse(NamedTuple):
    """The Graupner-Brunel model's parameters (times in ms)."""

    tau_ca: float
    c_pre: float
    c_post: float
    theta_d: float
    theta_p: float
    gamma_d: float
    gamma_p: float
    sigma: float
    tau: float
    rho_star: float
    delay: float
    w0: float
    w1: float
    noise: bool


def _synapse(
    *,
    tau_ca: float = 20.0,
    c_pre: float = 1.0,
    c_post: float = 2.0,
    theta_d: float = 1.0,
    theta_p: float = 1.3,
    gamma_d: float = 200.0,
    gamma_p: float = 321.808,
    sigma: float = 2.8284,
    tau: float = 150000.0,
    rho_star: float = 0.5,
    delay: float = 13.7,
    w0: float = 0.2,
    w1: float = 1.0,
    noise: bool = True,
) -> _Synapse:
    """The checked options of ``graupner_brunel`` (its defaults: the paper's DP set)."""
    p = _Synapse(
        tau_ca=check_positive("tau_ca", tau_ca),
        c_pre=check_positive("c_pre", c_pre, allow_zero=True),
        c_post=check_positive("c_post", c_post, allow_zero=True),
        theta_d=check_positive("theta_d", theta_d),
        theta_p=check_positive("theta_p", theta_p),
        gamma_d=check_positive("gamma_d", gamma_d, allow_zero=True),
        gamma_p=check_positive("gamma_p", gamma_p, allow_zero=True),
        sigma=check_positive("sigma", sigma, allow_zero=True),
        tau=check_positive("tau", tau),
        rho_star=_finite("rho_star", rho_star),
        delay=check_positive("delay", delay, allow_zero=True),
        w0=_finite("w0", w0),
        w1=_finite("w1", w1),
        noise=check_flag("noise", noise),
    )
    if not 0.0 < p.rho_star < 1.0:
        raise ValueError(
            f"expected 0 < rho_star < 1 (the unstable state between DOWN, ρ = 0, and UP, ρ = 1), "
            f"got {p.rho_star}"
        )
    if not p.w0 < p.w1:
        raise ValueError(f"expected w0 < w1 (the DOWN and UP weights), got w0={p.w0}, w1={p.w1}")
    return p


def _check_synapse_step(p: _Synapse, dt: float, where: str) -> None:
    for name, value in (("tau_ca", p.tau_ca), ("tau", p.tau)):
        if not dt < value:
            raise ValueError(
                f"{where}: expected the time step dt ({dt} ms) smaller than {name} ({value} ms): "
                "the step must resolve the calcium transients"
            )


def _delay_steps(p: _Synapse, dt: float) -> int:
    return int(round(p.delay / dt))


def _time_above(c: jax.Array, theta: float, tau_ca: float, dt: float) -> jax.Array:
    """The time (ms) within a step of ``dt`` that calcium starting at ``c`` and decaying with
    ``τ_Ca`` spends above ``θ``: ``clip(τ_Ca ln(c/θ), 0, dt)`` (exact between spikes)."""
    return jnp.clip(tau_ca * jnp.log(jnp.maximum(c, theta) / theta), 0.0, dt)


def _relax(rho: jax.Array, gain: float, rate: float, time: jax.Array) -> jax.Array:
    """The exact solution of ``dρ/ds = gain - rate·ρ`` after ``s = time`` (in units of ``τ``):
    the threshold terms of ``τ dρ/dt`` while the calcium is above one or both thresholds."""
    if rate == 0:
        return rho + gain * time
    decay = jnp.exp(-rate * time)
    return rho * decay + (gain / rate) * (1.0 - decay)


class _Carry(NamedTuple):
    rho: jax.Array  # (..., n_out, n_in): the efficacies
    c_pre: jax.Array  # (n_in,): the calcium from presynaptic spikes
    c_post: jax.Array  # (n_out,): the calcium from postsynaptic spikes
    in_flight: jax.Array  # (d, n_in): presynaptic spikes of the last d steps, oldest first


def _integrate(
    p: _Synapse,
    dt: float,
    carry: _Carry,
    pre: jax.Array,
    post: jax.Array,
    key: jax.Array,
    record: bool = False,
) -> tuple[_Carry, Any]:
    """Runs the synapses over ``N`` steps of spikes ``pre`` ``(N, n_in)`` and ``post`` ``(N,
    n_out)`` (see ``graupner_brunel``). With ``record``, also returns per step the calcium just
    after the step's spikes and the time spent above ``θ_d`` and ``θ_p``, each ``(N, n_out,
    n_in)``."""
    decay = math.exp(-dt / p.tau_ca)
    lowest = min(p.theta_d, p.theta_p)
    lead = (1,) * (carry.rho.ndim - 2)
    d = carry.in_flight.shape[0]

    def cubic(rho):
        return -rho * (1.0 - rho) * (p.rho_star - rho)

    def step(c: _Carry, inputs):
        s_pre, s_post, n = inputs
        if d:
            arriving = c.in_flight[0]
            in_flight = jnp.concatenate([c.in_flight[1:], s_pre[None]], 0)
        else:
            arriving, in_flight = s_pre, c.in_flight
        c_pre = c.c_pre + p.c_pre * arriving
        c_post = c.c_post + p.c_post * s_post
        calcium = c_post[:, None] + c_pre[None, :]

        def active(rho):
            t_d = _time_above(calcium, p.theta_d, p.tau_ca, dt).reshape(lead + calcium.shape)
            t_p = _time_above(calcium, p.theta_p, p.tau_ca, dt).reshape(lead + calcium.shape)
            both = jnp.minimum(t_p, t_d)  # the calcium is highest at the start of the step
            rho = _relax(rho, p.gamma_p, p.gamma_p + p.gamma_d, both / p.tau)
            rho = _relax(rho, p.gamma_p, p.gamma_p, (t_p - both) / p.tau)
            rho = _relax(rho, 0.0, p.gamma_d, (t_d - both) / p.tau)
            rho = rho + cubic(rho) * (dt / p.tau)
            if p.noise and p.sigma > 0:
                xi = jax.random.normal(jax.random.fold_in(key, n), rho.shape, rho.dtype)
                rho = rho + p.sigma * jnp.sqrt((t_d + t_p) / p.tau) * xi
            return rho, t_d[(0,) * len(lead)], t_p[(0,) * len(lead)]

        def quiet(rho):
            zero = jnp.zeros(calcium.shape, rho.dtype)
            return rho + cubic(rho) * (dt / p.tau), zero, zero

        busy = jnp.max(c_pre, initial=0.0) + jnp.max(c_post, initial=0.0) > lowest
        rho, t_d, t_p = lax.cond(busy, active, quiet, c.rho)
        out = (calcium, t_d, t_p) if record else None
        return _Carry(rho, c_pre * decay, c_post * decay, in_flight), out

    steps = jnp.arange(pre.shape[0], dtype=jnp.uint32)
    return lax.scan(step, carry, (pre, post, steps))


class GraupnerBrunelState(NamedTuple):
    """State of the Graupner-Brunel rule, one entry per LIF layer (in model order).

    Attributes:
        rho: the efficacy ``ρ`` of each synapse, ``(n_out, n_in)``.
        c_pre: the calcium left from presynaptic spikes, per input ``(n_in,)``: the calcium of
            synapse ``ij`` is ``c_pre[j] + c_post[i]``.
        c_post: the calcium left from postsynaptic spikes, per neuron ``(n_out,)``.
        in_flight: the presynaptic spikes of the last ``round(D/dt)`` steps, whose calcium has
            not yet arrived, oldest first, ``(round(D/dt), n_in)``.
        key: the PRNG key of the noise, split at every update.
    """

    rho: tuple
    c_pre: tuple
    c_post: tuple
    in_flight: tuple
    key: jax.Array


def graupner_brunel(
    *,
    tau_ca: float = 20.0,
    c_pre: float = 1.0,
    c_post: float = 2.0,
    theta_d: float = 1.0,
    theta_p: float = 1.3,
    gamma_d: float = 200.0,
    gamma_p: float = 321.808,
    sigma: float = 2.8284,
    tau: float = 150000.0,
    rho_star: float = 0.5,
    delay: float = 13.7,
    w0: float = 0.2,
    w1: float = 1.0,
    noise: bool = True,
) -> LearningRule:
    """The calcium-based synapse of Graupner & Brunel (2012) as a learning rule.

    Each synapse has a calcium concentration ``c(t)`` and an efficacy ``ρ(t)`` (paper 000, fig.
    3; Graupner & Brunel 2012, eqs. 1-2; times in ms)::

        dc/dt = -c/τ_Ca + C_pre Σ_i δ(t - t_i - D) + C_post Σ_j δ(t - t_j)
        τ dρ/dt = -ρ(1 - ρ)(ρ* - ρ) + γ_p (1 - ρ) Θ[c - θ_p] - γ_d ρ Θ[c - θ_d] + Noise(t)
        Noise(t) = σ √τ √(Θ[c - θ_d] + Θ[c - θ_p]) η(t)

    ``t_i`` the presynaptic spikes (their calcium arrives after the delay ``D``), ``t_j`` the
    postsynaptic ones, ``Θ`` the Heaviside function and ``η`` Gaussian white noise of unit
    intensity, ``⟨η(t)η(t')⟩ = δ(t - t')``: the noise acts while the calcium is above either
    threshold, twice as strongly (in variance) above both. Without calcium ``ρ`` relaxes to one
    of two stable states, DOWN (``ρ = 0``) and UP (``ρ = 1``), separated by the unstable
    ``ρ*``; calcium above ``θ_d`` pulls it down at rate ``γ_d``, above ``θ_p`` up at rate
    ``γ_p``. The STDP window and its dependence on the pairing frequency are not put in: they
    follow from how long each spike pattern holds the calcium above the two thresholds (pre
    then post sums the two transients above ``θ_p``; post then pre mostly stays between the
    thresholds; at high frequencies the calcium accumulates above ``θ_p`` for either order).
    The defaults are the paper's "DP" set (fig. 2): ``τ_Ca = 20`` ms, ``C_pre = 1``,
    ``C_post = 2``, ``θ_d = 1``, ``θ_p = 1.3``, ``γ_d = 200``, ``γ_p = 321.808``,
    ``σ = 2.8284``, ``τ = 150`` s, ``ρ* = 0.5``, ``D = 13.7`` ms.

    Synaptic weight. credax maps the efficacy to the weight linearly, ``w = w0 + ρ (w1 - w0)``
    (``w0``, ``w1`` the DOWN and UP strengths; the defaults' ratio ``w1/w0 = 5`` is the paper's
    ``b``). The paper reports the change of a population of bistable synapses, each counted
    at ``w0`` or ``w1`` by the side of ``ρ*`` it ends on, a fraction ``β`` of them starting
    DOWN: a statistic of many synapses, computed from their final ``ρ``
    (``graupner_brunel_synapse`` simulates them; ``benchmarks/stdp_window.py`` computes it).
    With the linear map a synapse's weight follows its ``ρ`` continuously; once the synapses
    have settled to 0 or 1 (without calcium, in a few ``τ``) their mean weight is the paper's
    measure.

    Per LIF layer, the state holds ``ρ`` per synapse, the calcium and the presynaptic spikes
    still in flight (carried from batch to batch), and the key of the noise. Each update reads
    the layer's input and output spikes, takes the examples of the batch as consecutive
    stretches of time (calcium carries from one to the next; each example's neurons start from
    rest, as credax's LIF layers do), integrates ``ρ`` over their ``B·T`` steps of the layer's
    ``dt`` and returns ``updates = w - (w0 + ρ (w1 - w0))``, so that ``optax.sgd(1.0)`` puts
    the weights at the synapses' strengths. ``init`` starts ``ρ`` at ``(w - w0)/(w1 - w0)``
    clipped to ``[0, 1]`` and the calcium at 0.

    Numerics. Between spikes the calcium decays exactly (``c ← c e^{-dt/τ_Ca}`` per step), so
    it is exact at every step; within a step the times ``t_p`` and ``t_d`` it spends above each
    threshold are also exact, ``clip(τ_Ca ln(c/θ), 0, dt)`` (the first ``t`` ms of the step,
    as it decays). ``ρ`` then takes one split step: the threshold terms, linear in ``ρ``,
    solved exactly over those times (relaxation to ``γ_p/(γ_p + γ_d)`` while above both, to 1
    or 0 while above one), the cubic term by an Euler step of ``dt``, and the noise by an
    Euler-Maruyama increment of variance ``σ² (t_d + t_p)/τ``: stable for any rates, accurate
    while ``dt ≪ τ``. Spike times are those of the step grid: the delay is rounded to
    ``round(D/dt)`` steps (13.7 ms is 14 steps at ``dt = 1`` ms), and a ``dt`` that is not below
    ``τ_Ca`` is refused. Steps where the calcium is below both thresholds everywhere take only
    the cubic term. ``ρ`` is not clipped: the noise can take it slightly outside ``[0, 1]``,
    from where the cubic term brings it back.

    Args:
        tau_ca: ``τ_Ca > 0`` (ms), the calcium decay time.
        c_pre: ``C_pre ≥ 0``, the calcium jump of a presynaptic spike.
        c_post: ``C_post ≥ 0``, the calcium jump of a postsynaptic spike.
        theta_d: ``θ_d > 0``, the depression threshold.
        theta_p: ``θ_p > 0``, the potentiation threshold.
        gamma_d: ``γ_d ≥ 0``, the depression rate.
        gamma_p: ``γ_p ≥ 0``, the potentiation rate.
        sigma: ``σ ≥ 0``, the noise amplitude.
        tau: ``τ > 0`` (ms), the efficacy's time constant.
        rho_star: ``0 < ρ* < 1``, the unstable state between DOWN and UP.
        delay: ``D ≥ 0`` (ms), the delay of the presynaptic calcium.
        w0: the weight of a DOWN synapse.
        w1: the weight of an UP synapse, ``> w0``.
        noise: whether to add the noise (``False``: the deterministic model).

    Returns:
        A ``LearningRule`` (unsupervised) with state ``GraupnerBrunelState``; no value. Its
        diagnostics record per LIF layer ``pre_rate`` and ``post_rate`` (Hz, on the probe
        batch), ``mean_rho`` and ``fraction_up`` (the fraction of synapses with ``ρ > ρ*``).

    Examples:
        One update on a LIF layer fed Poisson spikes: ``w - updates`` (what ``optax.sgd(1.0)``
        gives) is ``w0 + ρ (w1 - w0)``.

        >>> import jax.numpy as jnp
        >>> from credax import spiking
        >>> from credax._src.spiking._stdp import graupner_brunel
        >>> layer = spiking.LIF(100, 3, 2, key=0, tau_syn=None, weight_scale=3.0)
        >>> x = spiking.poisson(1, jnp.full((3,), 100.0), 100)[None]
        >>> rule = graupner_brunel()
        >>> g, state = rule.update(layer, rule.init(0, layer), x)
        >>> bool(jnp.allclose(layer.weight - g.weight, 0.2 + 0.8 * state.rho[0]))
        True

    References:
        Graupner & Brunel (2012). Calcium-based plasticity model explains sensitivity of
        synaptic changes to spike pattern, rate, and dendritic location. PNAS 109, 3991-3996.
        "Plasticity as optimization", chapter in credax's sources (paper 000), fig. 3.
    """
    p = _synapse(
        tau_ca=tau_ca,
        c_pre=c_pre,
        c_post=c_post,
        theta_d=theta_d,
        theta_p=theta_p,
        gamma_d=gamma_d,
        gamma_p=gamma_p,
        sigma=sigma,
        tau=tau,
        rho_star=rho_star,
        delay=delay,
        w0=w0,
        w1=w1,
        noise=noise,
    )

    def check(params):
        layers, which = _lif_layers(params, "graupner_brunel")
        for i in which:
            _check_synapse_step(p, layers[i].dynamics.dt, f"graupner_brunel (LIF layer {i})")
        return layers, which

    def init(key, params):
        layers, which = check(params)
        rho, c_in, c_out, flight = [], [], [], []
        for i in which:
            layer = layers[i]
            w = layer.weight.astype(jnp.float32)
            n_out, n_in = w.shape
            rho.append(jnp.clip((w - p.w0) / (p.w1 - p.w0), 0.0, 1.0))
            c_in.append(jnp.zeros((n_in,), jnp.float32))
            c_out.append(jnp.zeros((n_out,), jnp.float32))
            flight.append(jnp.zeros((_delay_steps(p, layer.dynamics.dt), n_in), jnp.float32))
        return GraupnerBrunelState(tuple(rho), tuple(c_in), tuple(c_out), tuple(flight), key)

    def update(params, state, batch):
        x = unsupervised_batch(params, batch)
        layers, which = check(params)
        t = trace(params, x)
        key, sub = jax.random.split(state.key)
        carried = [], [], [], []
        new = {}
        for k, i in enumerate(which):
            layer = layers[i]
            n_in, n_out = layer.in_shape[1], layer.out_shape[1]
            pre = _spikes(t.inputs[i], f"the input spikes of LIF layer {i}").reshape(-1, n_in)
            post = t.outputs[i].astype(jnp.float32).reshape(-1, n_out)
            carry = _Carry(state.rho[k], state.c_pre[k], state.c_post[k], state.in_flight[k])
            carry, _ = _integrate(
                p, layer.dynamics.dt, carry, pre, post, jax.random.fold_in(sub, k)
            )
            for store, value in zip(carried, carry):
                store.append(value)
            w_new = p.w0 + carry.rho * (p.w1 - p.w0)
            new[i] = layer.weight.astype(jnp.float32) - w_new
        rho, c_in, c_out, flight = (tuple(v) for v in carried)
        return _weights(params, new), GraupnerBrunelState(rho, c_in, c_out, flight, key)

    def diagnostics(params, state, batch):
        x = unsupervised_batch(params, batch)
        layers, which = check(params)
        t = trace(params, x)
        dts = [layers[i].dynamics.dt for i in which]
        return {
            "pre_rate": jnp.stack(
                [_rate(t.inputs[i].astype(jnp.float32), dt) for i, dt in zip(which, dts)]
            ),
            "post_rate": jnp.stack(
                [_rate(t.outputs[i].astype(jnp.float32), dt) for i, dt in zip(which, dts)]
            ),
            "mean_rho": jnp.stack([jnp.mean(r) for r in state.rho]),
            "fraction_up": jnp.stack(
                [jnp.mean((r > p.rho_star).astype(jnp.float32)) for r in state.rho]
            ),
        }

    return make_rule(
        "graupner_brunel", init, update=update, diagnostics=diagnostics, task=UNSUPERVISED
    )


class SynapseRun(NamedTuple):
    """What ``graupner_brunel_synapse`` returns.

    Attributes:
        rho: the efficacy ``ρ`` at the end, shaped like ``rho0``.
        weight_change: ``w_end - w_start = (ρ - ρ0)(w1 - w0)``, shaped like ``rho0``.
        calcium: the calcium at every step just after the step's spikes, ``(steps,)``.
        time_above_d: the total time (ms) the calcium spent above ``θ_d``.
        time_above_p: the total time (ms) the calcium spent above ``θ_p``.
    """

    rho: jax.Array
    weight_change: jax.Array
    calcium: jax.Array
    time_above_d: jax.Array
    time_above_p: jax.Array


def _train(times: Any, steps: int, dt: float, name: str, duration: float) -> jax.Array:
    """Spike times (ms) to a train of ``steps`` steps (counts per step; times rounded to the
    grid, those outside ``[0, duration)`` refused when concrete, dropped when traced)."""
    times = jnp.atleast_1d(jnp.asarray(times, jnp.float32))
    if times.ndim != 1:
        raise ValueError(
            f"expected {name} to be a 1-D array of spike times (ms), got {times.shape}"
        )
    if not isinstance(times, jax.core.Tracer) and times.size:
        lo, hi = float(jnp.min(times)), float(jnp.max(times))
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo < 0 or hi >= duration:
            raise ValueError(
                f"expected {name} in [0, duration) = [0, {duration:g}) ms, got times from "
                f"{lo:g} to {hi:g}"
            )
    idx = jnp.round(times / dt).astype(jnp.int32)
    idx = jnp.where((idx >= 0) & (idx < steps), idx, steps)
    return jnp.zeros((steps,), jnp.float32).at[idx].add(1.0, mode="drop")


def graupner_brunel_synapse(
    pre_times: Any,
    post_times: Any,
    *,
    duration: float,
    dt: float = 0.5,
    rho0: Any = 0.0,
    key: Any = None,
    **options: Any,
) -> SynapseRun:
    """Simulates Graupner-Brunel synapses between one presynaptic and one postsynaptic neuron
    for a given spike protocol: the same integration as ``graupner_brunel``'s update.

    ``rho0`` may be an array: each entry is a separate synapse between the two neurons, with the
    same calcium and noise of its own (e.g. ``rho0 = [0]*R + [1]*R``: ``R`` synapses starting
    DOWN and ``R`` starting UP, whose final states give the paper's transition probabilities).
    Spike times are rounded to the grid of ``dt``; several spikes in one step add their calcium.

    Args:
        pre_times: presynaptic spike times (ms), 1-D, in ``[0, duration)``.
        post_times: postsynaptic spike times (ms), 1-D, in ``[0, duration)``.
        duration: the simulated time (ms, a Python number); ``round(duration/dt)`` steps.
        dt: the step (ms), ``< τ_Ca``.
        rho0: the initial efficacy, a number or an array of synapses.
        key: PRNG key (or int seed) of the noise; required unless ``noise=False``.
        **options: those of ``graupner_brunel`` (``tau_ca``, ``c_pre``, ..., ``noise``).

    Returns:
        A :class:`SynapseRun`.

    Examples:
        60 pre-post pairs at 1 Hz, 10 ms apart, without noise: a DOWN synapse goes UP.

        >>> import jax.numpy as jnp
        >>> from credax._src.spiking._stdp import graupner_brunel_synapse
        >>> pre = 100.0 + 1000.0 * jnp.arange(60)
        >>> run = graupner_brunel_synapse(pre, pre + 10.0, duration=60000.0, dt=1.0, noise=False)
        >>> bool(run.rho > 0.5), run.calcium.shape
        (True, (60000,))
    """
    p = _synapse(**options)
    if not is_number(duration) or not math.isfinite(duration) or duration <= 0:
        raise ValueError(f"expected duration to be a number of ms > 0, got {duration!r}")
    dt = check_positive("dt", dt)
    _check_synapse_step(p, dt, "graupner_brunel_synapse")
    steps = int(round(duration / dt))
    if steps < 1:
        raise ValueError(f"expected duration ({duration} ms) of at least one step of {dt} ms")
    if key is None:
        if p.noise and p.sigma > 0:
            raise TypeError(
                "graupner_brunel_synapse: expected a key (jax.random.key(seed)) for the noise, "
                "or noise=False"
            )
        key = jax.random.key(0)
    key = as_key(key, "graupner_brunel_synapse key")
    rho0 = jnp.asarray(rho0, jnp.float32)
    pre = _train(pre_times, steps, dt, "pre_times", float(duration))
    post = _train(post_times, steps, dt, "post_times", float(duration))
    carry = _Carry(
        rho0.reshape(rho0.shape + (1, 1)),
        jnp.zeros((1,), jnp.float32),
        jnp.zeros((1,), jnp.float32),
        jnp.zeros((_delay_steps(p, dt), 1), jnp.float32),
    )
    carry, (calcium, t_d, t_p) = _integrate(
        p, dt, carry, pre[:, None], post[:, None], key, record=True
    )
    rho = carry.rho.reshape(rho0.shape)
    return SynapseRun(
        rho=rho,
        weight_change=(rho - rho0) * (p.w1 - p.w0),
        calcium=calcium[:, 0, 0],
        time_above_d=jnp.sum(t_d),
        time_above_p=jnp.sum(t_p),
    )
