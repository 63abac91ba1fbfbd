"""The local family: rules a synapse computes from what it sees, its presynaptic activity ``x``,
its postsynaptic activity ``y`` and, for three-factor rules, a modulator ``m``.

Every rule here acts on every credax layer of the model it is given (restrict it with
``credax.masked``), with ``x = h_{l-1}`` the layer's input and ``y`` its output ``h_l`` (or, for
Oja's rule, its pre-activation ``a_l = W x + b``, the linear neuron the rule assumes), read from
``credax.nets.trace``; a layer applied at several steps (a recurrent network) contributes every
step. Changes are batch means. These rules follow no loss: their ``updates`` are ``-Δw``, so that
``optax.sgd(lr)`` applies ``w ← w + lr·Δw``, and they report no value (the engine watches their
weights' norm for runaway growth instead). Paper 000 of credax's sources ("Plasticity as
optimization") is cited by equation:

- ``hebb``: ``Δw ∝ y xᵀ`` (eq. 1), unstable without bounds;
- ``oja``: Oja's normalised Hebbian rule, and with ``components`` Sanger's generalised Hebbian
  algorithm (principal components);
- ``bcm``: ``Δw ∝ x y (y - θ)`` with the sliding threshold ``τ_θ dθ/dt = y² - θ`` (eqs 2-3);
- ``three_factor``: ``Δw ∝ m e``, the modulator times an eligibility trace of ``y xᵀ`` (eq. 4);
- ``homeostasis``: synaptic scaling of each unit's inputs towards a firing-rate set point;
- ``intrinsic_plasticity``: each unit's gain and bias adapt so that its output distribution
  approaches the exponential of a fixed mean (maximal output entropy, eq. 13; Triesch 2005).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from credax._src.batches import MODULATED, UNSUPERVISED, modulated_batch, unsupervised_batch
from credax._src.checks import check_count, check_flag, check_positive, is_number
from credax._src.nets._select import find_layers, map_layers
from credax._src.nets._trace import local_updates, trace
from credax._src.rule import LearningRule, init_empty, make_rule

# --- shared machinery -----------------------------------------------------------------------------


def _flat(a: jax.Array, layer) -> jax.Array:
    """``(B, [N,] *out_shape)`` records as ``(examples, units)`` rows: steps of a layer applied
    several times count as examples, the unit axes are flattened."""
    return a.reshape(-1, math.prod(layer.out_shape))


def _hebbian(params: Any, t, post: list, scale: float = 1.0) -> Any:
    """``-⟨post xᵀ⟩`` per layer as updates (``post`` shaped like each layer's output), summed
    over steps, averaged over the batch."""
    b = t.output.shape[0]
    return local_updates(params, t.inputs, [-scale * p / b for p in post])


def _zero_biases(updates: Any) -> Any:
    return map_layers(
        lambda i, l: (
            l if l.bias is None else eqx.tree_at(lambda q: q.bias, l, jnp.zeros_like(l.bias))
        ),
        updates,
    )


def _check_time_constant(name: str, value: Any) -> float:
    """A time constant in updates, ``τ ≥ 1`` (the fraction ``1/τ`` moves per update)."""
    tau = check_positive(name, value)
    if tau < 1:
        raise ValueError(f"expected {name} >= 1 (in updates), got {tau}")
    return tau


def _range(layer) -> tuple[float, float]:
    """The range of a layer's activation, probed at large negative and positive inputs and 0."""
    with jax.ensure_compile_time_eval():
        probe = jnp.asarray([-1e4, -1.0, 0.0, 1.0, 1e4], layer.weight.dtype)
        shape = (5, *layer.out_shape)
        out = jax.vmap(layer.activation)(
            jnp.broadcast_to(probe.reshape(5, *([1] * len(layer.out_shape))), shape)
        )
        return float(jnp.min(out)), float(jnp.max(out))


# --- Hebb ----------------------------------------------------------------------------------------


def hebb(*, bounds: tuple[float, float] | None = None, normalize: bool = False) -> LearningRule:
    """Hebb's rule: ``Δw = ⟨y xᵀ⟩`` (paper 000, eq. 1), the coactivation of a synapse's
    presynaptic input ``x`` and postsynaptic output ``y``, batch mean; biases take
    ``Δb = ⟨y⟩`` (a synapse from a constant input). ``updates = -Δw``.

    Without bounds the rule is unstable: ``y`` grows with ``w``, which grows with ``y``; the
    weights' norm grows geometrically (``tests/test_local.py`` shows it and ``make_fit`` flags
    it). Two remedies, as options:

    - ``bounds=(w_min, w_max)``: hard bounds. A change that would push a weight past a bound it
      has reached is dropped (``Δw_ij = 0`` where ``w_ij ≥ w_max`` and ``Δw_ij > 0``, or
      ``w_ij ≤ w_min`` and ``Δw_ij < 0``): weights stop at the bounds up to the optimizer's
      last step. Biases are bounded alike.
    - ``normalize=True``: weight normalisation. Each unit's change is projected orthogonal to
      its weight vector, ``Δw_i ← Δw_i - (Δw_i·w_i) w_i / ‖w_i‖²``, so ``‖w_i‖`` is constant to
      first order in the step (the explicit normalisation Oja's rule approximates); biases are
      not changed (``Δb = ⟨y⟩`` would grow them without end).

    Args:
        bounds: ``(w_min, w_max)`` with ``w_min < w_max``, or None.
        normalize: keep each unit's weight norm.

    Returns:
        A ``LearningRule`` (unsupervised) with state ``credax.EmptyState``; no value.

    References:
        Hebb (1949). The Organization of Behavior. Wiley.
        "Plasticity as optimization", chapter in credax's sources (paper 000), eq. 1.
    """
    if bounds is not None:
        if not (isinstance(bounds, (tuple, list)) and len(bounds) == 2):
            raise TypeError(f"expected bounds to be a pair (w_min, w_max) or None, got {bounds!r}")
        if not all(is_number(b) for b in bounds) or not math.isfinite(bounds[0] + bounds[1]):
            raise TypeError(f"expected bounds to be two finite numbers, got {bounds!r}")
        if not bounds[0] < bounds[1]:
            raise ValueError(f"expected bounds w_min < w_max, got {bounds!r}")
        bounds = (float(bounds[0]), float(bounds[1]))
    normalize = check_flag("normalize", normalize)

    def update(params, state, batch):
        x = unsupervised_batch(params, batch)
        t = trace(params, x)
        updates = _hebbian(params, t, list(t.outputs))
        layers = find_layers(params)

        def shape(i, u):
            layer = layers[i]
            w, dw = layer.weight, -u.weight  # Δw
            b = layer.bias
            db = None if b is None else -u.bias
            units = w.shape[0]
            if normalize:
                rows = w.reshape(units, -1)
                d = dw.reshape(units, -1)
                coef = jnp.sum(d * rows, 1, keepdims=True) / jnp.maximum(
                    jnp.sum(rows * rows, 1, keepdims=True), 1e-30
                )
                dw = (d - coef * rows).reshape(w.shape)
                db = None if b is None else jnp.zeros_like(db)  # a bias would grow with ⟨y⟩
            if bounds is not None:

                def bound(v, dv):
                    stuck = ((v >= bounds[1]) & (dv > 0)) | ((v <= bounds[0]) & (dv < 0))
                    return jnp.where(stuck, 0.0, dv)

                dw = bound(w, dw)
                db = None if b is None else bound(b, db)
            u = eqx.tree_at(lambda q: q.weight, u, -dw)
            return u if b is None else eqx.tree_at(lambda q: q.bias, u, -db)

        return map_layers(shape, updates), state

    return make_rule("hebb", init_empty, update=update, task=UNSUPERVISED)


# --- units: the rows of W ------------------------------------------------------------------------


def _unit_layers(params: Any, rule: str) -> list:
    """The layers, checked to have their units on the first axis of both W and the output (a
    dense layer's units, a convolution's channels)."""
    layers = find_layers(params)
    for i, layer in enumerate(layers):
        if not layer.out_shape or layer.out_shape[0] != layer.weight.shape[0]:
            raise ValueError(
                f"{rule}: expected every layer's units on the first axis of its weight and its "
                f"output (dense units, conv channels); layer {i} ({type(layer).__name__}) has "
                f"weight {layer.weight.shape} and output {tuple(layer.out_shape)}"
            )
    return layers


def _per_unit(a: jax.Array, layer, b: int, fn=jnp.sum) -> jax.Array:
    """``(units,)``: ``fn`` over examples, steps and positions of each unit, divided by the
    batch ``b`` when ``fn`` is a sum (a batch mean of per-example totals)."""
    units = layer.out_shape[0]
    rows = a.reshape(-1, units, math.prod(layer.out_shape[1:]))
    return fn(rows, axis=(0, 2)) / (b if fn is jnp.sum else 1)


def _rows(vec: jax.Array, like: jax.Array) -> jax.Array:
    """A per-unit vector broadcast against ``like``, whose first axis is the units."""
    return vec.reshape(vec.shape[0], *([1] * (like.ndim - 1)))


def _broadcast_units(vec: jax.Array, a: jax.Array, layer) -> jax.Array:
    """A per-unit vector broadcast against records ``(B, [N,] units, ...)``."""
    lead = a.ndim - len(layer.out_shape)
    return vec.reshape(*([1] * lead), vec.shape[0], *([1] * (len(layer.out_shape) - 1)))


# --- Oja and Sanger ------------------------------------------------------------------------------


def oja(*, components: int | None = None) -> LearningRule:
    """Oja's rule: Hebbian growth with a decay that normalises each unit's weight vector.

    For a unit with output ``y = w·x`` (the layer's pre-activation ``a``, the linear neuron Oja
    analyses), ``Δw = y (x - y w)``, batch mean: ``w`` converges to the unit-norm leading
    eigenvector of the input's second-moment matrix ``⟨x xᵀ⟩`` (the first principal component of
    centred data), every unit of a layer to the same one. With ``components=k``, Sanger's
    generalised Hebbian algorithm on the first ``k`` units of every layer (all of them in a
    layer of fewer), ``ΔW = y xᵀ - LT(y yᵀ) W`` (``LT`` the lower triangle, diagonal included):
    unit ``i`` converges to the ``i``-th eigenvector, the first ``k`` units together to the
    leading ``k`` (units past ``k`` are left unchanged). In a convolution the units are the
    channels and every position counts as an example (the eigenvectors of the patches' second
    moments). Biases are not changed. ``updates = -Δw``.

    Args:
        components: ``k`` for Sanger's algorithm, or None for Oja's rule on every unit.

    Returns:
        A ``LearningRule`` (unsupervised) with state ``credax.EmptyState``; no value. Its
        diagnostics record ``subspace_angle`` per layer: the largest principal angle in degrees
        between the span of the unit weight vectors (the first ``k`` with ``components``, the
        leading one otherwise) and the leading eigenvectors of the layer's input second-moment
        matrix on the probe batch.

    References:
        Oja (1982). A simplified neuron model as a principal component analyzer. Journal of
        Mathematical Biology 15, 267-273.
        Sanger (1989). Optimal unsupervised learning in a single-layer linear feedforward neural
        network. Neural Networks 2, 459-473.
    """
    k = None if components is None else check_count("components", components)

    def check(params):
        return _unit_layers(params, "oja")

    def init(key, params):
        check(params)
        return init_empty(key, params)

    def update(params, state, batch):
        x = unsupervised_batch(params, batch)
        check(params)
        t = trace(params, x)
        b = x.shape[0]
        hebb_u = find_layers(_hebbian(params, t, list(t.preactivations)))  # -⟨y ⊗ x⟩

        def one(i, layer):
            units = layer.weight.shape[0]
            a = t.preactivations[i].astype(jnp.float32)
            rows = a.reshape(-1, units, math.prod(layer.out_shape[1:]))
            y = jnp.swapaxes(rows, 1, 2).reshape(-1, units)  # (examples, steps, positions) x units
            w = layer.weight.reshape(units, -1).astype(jnp.float32)
            grow = -hebb_u[i].weight.reshape(units, -1).astype(jnp.float32)  # ⟨y xᵀ⟩
            if k is None:  # Oja: each unit's own ⟨y_i²⟩ w_i
                dw = grow - (jnp.sum(y * y, 0) / b)[:, None] * w
            else:  # Sanger: LT(⟨y yᵀ⟩) W on the first k units
                n = min(k, units)
                dw = grow[:n] - jnp.tril(y[:, :n].T @ y[:, :n] / b) @ w[:n]
                dw = jnp.concatenate([dw, jnp.zeros_like(w[n:])], 0)
            upd = jax.tree_util.tree_map(jnp.zeros_like, layer)
            return eqx.tree_at(
                lambda q: q.weight, upd, -dw.reshape(layer.weight.shape).astype(layer.weight.dtype)
            )

        return map_layers(one, params), state

    def diagnostics(params, state, batch):
        x = unsupervised_batch(params, batch)
        t = trace(params, x)
        angles = []
        for layer, xin in zip(check(params), t.inputs):
            xin = xin.reshape(-1, math.prod(layer.in_shape)).astype(jnp.float32)
            w = layer.weight.reshape(layer.weight.shape[0], -1).astype(jnp.float32)
            n = 1 if k is None else min(k, w.shape[0])
            _, vecs = jnp.linalg.eigh(xin.T @ xin / xin.shape[0])
            top = vecs[:, ::-1][:, :n]  # the leading eigenvectors
            q, _ = jnp.linalg.qr(w[:n].T)  # the units' span
            s = jnp.linalg.svd(top.T @ q, compute_uv=False)
            angles.append(jnp.degrees(jnp.arccos(jnp.clip(jnp.min(s), -1.0, 1.0))))
        return {"subspace_angle": jnp.stack(angles)}

    return make_rule("oja", init, update=update, diagnostics=diagnostics, task=UNSUPERVISED)


# --- BCM -----------------------------------------------------------------------------------------


class BCMState(NamedTuple):
    """State of the BCM rule.

    Attributes:
        theta: per layer, the sliding threshold ``θ`` of each unit, ``(units,)``.
    """

    theta: tuple


def bcm(*, tau_theta: float = 100.0, theta_init: float = 0.0) -> LearningRule:
    """The BCM rule: ``Δw = ⟨x y (y - θ)⟩`` with a sliding threshold ``τ_θ dθ/dt = y² - θ``.

    Bienenstock, Cooper & Munro (1982). Paper 000 writes the rule ``Δw ∝ x (y - θ)`` (eq. 2)
    with ``Δθ ∝ y² - θ`` (eq. 3); credax keeps the original's postsynaptic factor
    ``φ(y, θ) = y (y - θ)``, as the BCM literature does: with it a silent unit
    (``y = 0``) does not change, and a fixed point needs ``y = θ`` or ``y = 0`` for every input,
    which is what makes units selective (eq. 2's form depresses every synapse of an active
    input whenever ``y < θ``, silent units included). Activity above the threshold potentiates,
    below it depresses, and the threshold, a running average of ``y²`` per unit (``θ ← θ +
    (⟨y²⟩ - θ)/τ_θ`` each update, ``⟨·⟩`` over the batch), grows faster than the rate, which
    stabilises the weights and makes units selective: each comes to respond to one of several
    input patterns. ``y`` is the layer's output ``h``, for non-negative rates (e.g.
    ``jax.nn.relu`` or ``jax.nn.sigmoid``). Biases are not changed. ``updates = -Δw``.

    Args:
        tau_theta: ``τ_θ ≥ 1``, the threshold's time constant in updates.
        theta_init: ``θ`` at the start (≥ 0).

    Returns:
        A ``LearningRule`` (unsupervised) with state ``BCMState``; no value. Its diagnostics
        record per layer ``threshold`` (mean ``θ``), ``rate_squared`` (mean ``⟨y²⟩`` on the probe
        batch, which ``θ`` tracks) and ``selectivity`` (mean over units of ``1 - ⟨y⟩ / max y``
        over the probe batch: 0 for a unit that responds alike to every input or to none, near 1
        for one that responds to few).

    References:
        Bienenstock, Cooper & Munro (1982). Theory for the development of neuron selectivity.
        Journal of Neuroscience 2, 32-48.
        "Plasticity as optimization", chapter in credax's sources (paper 000), eqs 2-3.
    """
    tau = _check_time_constant("tau_theta", tau_theta)
    theta0 = check_positive("theta_init", theta_init, allow_zero=True)

    def init(key, params):
        layers = _unit_layers(params, "bcm")
        return BCMState(tuple(jnp.full((l.weight.shape[0],), theta0, jnp.float32) for l in layers))

    def update(params, state, batch):
        x = unsupervised_batch(params, batch)
        layers = _unit_layers(params, "bcm")
        t = trace(params, x)
        b = x.shape[0]
        post, theta = [], []
        for layer, y, th in zip(layers, t.outputs, state.theta):
            post.append(y * (y - _broadcast_units(th, y, layer).astype(y.dtype)))
            sq = _per_unit(jnp.square(y).astype(jnp.float32), layer, b, jnp.mean)
            theta.append(th + (sq - th) / tau)
        updates = _zero_biases(_hebbian(params, t, post))
        return updates, BCMState(tuple(theta))

    def diagnostics(params, state, batch):
        x = unsupervised_batch(params, batch)
        layers = _unit_layers(params, "bcm")
        t = trace(params, x)
        sq, sel = [], []
        for layer, y in zip(layers, t.outputs):
            y = y.astype(jnp.float32)
            sq.append(jnp.mean(_per_unit(jnp.square(y), layer, 1, jnp.mean)))
            mean = _per_unit(y, layer, 1, jnp.mean)
            peak = _per_unit(y, layer, 1, jnp.max)
            ratio = mean / jnp.where(peak > 0, peak, 1.0)
            sel.append(jnp.mean(jnp.where(peak > 0, 1.0 - ratio, 0.0)))  # silent units: 0
        return {
            "threshold": jnp.stack([jnp.mean(th) for th in state.theta]),
            "rate_squared": jnp.stack(sq),
            "selectivity": jnp.stack(sel),
        }

    return make_rule("bcm", init, update=update, diagnostics=diagnostics, task=UNSUPERVISED)


# --- three-factor --------------------------------------------------------------------------------


class EligibilityState(NamedTuple):
    """State of a three-factor rule.

    Attributes:
        traces: per layer, the eligibility ``e`` of each weight and bias (a pytree shaped like
            the layer's parameters).
    """

    traces: tuple


def three_factor(*, tau: float = 1.0) -> LearningRule:
    """A three-factor rule: ``Δw = m e``, a modulator times an eligibility trace of ``y xᵀ``.

    Paper 000's eq. 4, ``Δw ∝ x y ρ`` with the third factor ``ρ = m`` (a neuromodulator, a
    reward) given by the batch ``(x, m)``, and the eligibility of Frémaux & Gerstner (2016):
    each update the trace decays and takes the batch's coactivation,
    ``e ← λ e + ⟨y xᵀ⟩`` (biases ``⟨y⟩``) with ``λ = exp(-1/τ)``, and the weights change by the
    modulator times the trace, so a reward that arrives later than the activity still finds the
    synapses that were active (``τ`` updates later, a fraction ``e⁻¹`` of their eligibility is
    left). The modulator may be one value for the batch ``()``, one per example ``(B,)`` (its
    batch mean multiplies the trace) or one per example and unit ``(B, n)``: it then modulates
    each unit of the layers with ``n`` units (its batch mean per unit; ``n`` must be some
    layer's unit count), the other layers by its mean over units. ``m = 0`` changes nothing
    (the traces still build up). ``updates = -Δw``.

    Args:
        tau: ``τ > 0``, the eligibility's time constant in updates.

    Returns:
        A ``LearningRule`` (modulated) with state ``EligibilityState``; no value. Its diagnostics
        record ``eligibility_norms``, ``‖e_l‖`` per layer.

    References:
        Frémaux & Gerstner (2016). Neuromodulated spike-timing-dependent plasticity, and theory
        of three-factor learning rules. Frontiers in Neural Circuits 9, 85.
        "Plasticity as optimization", chapter in credax's sources (paper 000), eq. 4.
    """
    tau = check_positive("tau", tau)
    decay = math.exp(-1.0 / tau)

    def init(key, params):
        layers = _unit_layers(params, "three_factor")
        return EligibilityState(tuple(jax.tree_util.tree_map(jnp.zeros_like, l) for l in layers))

    def update(params, state, batch):
        x, m = modulated_batch(params, batch)
        layers = _unit_layers(params, "three_factor")
        units = sorted({layer.weight.shape[0] for layer in layers})
        if m.ndim == 2 and m.shape[1] not in (1, *units):
            raise ValueError(
                f"three_factor: expected a per-unit modulator (B, n) with n one of the layers' "
                f"unit counts {units} (or 1), got {m.shape}"
            )
        t = trace(params, x)
        coact = find_layers(_hebbian(params, t, list(t.outputs), scale=-1.0))  # +⟨y xᵀ⟩
        traces = tuple(
            jax.tree_util.tree_map(lambda e, c: decay * e + c, e, c)
            for e, c in zip(state.traces, coact)
        )
        m = m.astype(jnp.float32)

        def modulated(i, layer):
            e = traces[i]
            if m.ndim == 2 and layer.weight.shape[0] == m.shape[1]:
                scale = jnp.mean(m, 0)
                return jax.tree_util.tree_map(lambda a: -(_rows(scale.astype(a.dtype), a) * a), e)
            scale = jnp.mean(m).astype(layer.weight.dtype)
            return jax.tree_util.tree_map(lambda a: -scale * a, e)

        updates = map_layers(modulated, params)
        return updates, EligibilityState(traces)

    def diagnostics(params, state, batch):
        del params, batch
        return {
            "eligibility_norms": jnp.stack(
                [jnp.linalg.norm(e.weight.astype(jnp.float32)) for e in state.traces]
            )
        }

    return make_rule("three_factor", init, update=update, diagnostics=diagnostics, task=MODULATED)


# --- homeostasis ---------------------------------------------------------------------------------


class HomeostasisState(NamedTuple):
    """State of synaptic scaling.

    Attributes:
        rates: per layer, each unit's running mean rate ``r̄``, ``(units,)``.
    """

    rates: tuple


def _check_set_point(name: str, value: float, layers: list, rule: str, open_range: bool) -> None:
    for i, layer in enumerate(layers):
        lo, hi = _range(layer)
        inside = lo < value < hi if open_range else lo <= value <= hi
        if not inside:
            raise ValueError(
                f"{rule}: expected {name} inside the range of every layer's activation; layer {i}"
                f" ({type(layer).__name__}) ranges over [{lo:.3g}, {hi:.3g}], got {value}"
            )


def homeostasis(*, target_rate: float, tau: float = 100.0) -> LearningRule:
    """Synaptic scaling to a firing-rate set point: ``Δw_i = (ρ* - r̄_i) w_i``.

    Each unit ``i`` keeps a running mean of its rate, ``r̄_i ← r̄_i + (⟨y_i⟩ - r̄_i)/τ`` (its
    output ``y`` averaged over the batch, steps and positions), and scales all its incoming
    weights multiplicatively towards the set point ``ρ*``: up when it fires too little, down
    when it fires too much (Turrigiano et al. 1998; paper 000, §5: a fixed average firing rate
    as a homeostatic principle). Relative strengths of a unit's synapses are kept. Biases are
    not changed. Like the biology it models (the scaling of excitatory synapses), it assumes
    that larger weights raise the rate (non-negative inputs and weights): a unit driven below
    its bias by negative weights moves the other way. Combine it with any rule by
    ``credax.chain``. ``updates = -Δw``.

    Args:
        target_rate: ``ρ*``, inside the range of every layer's activation.
        tau: ``τ ≥ 1``, the rate average's time constant in updates.

    Returns:
        A ``LearningRule`` (unsupervised) with state ``HomeostasisState`` (rates start at the set
        point); no value. Its diagnostics record per layer ``mean_rate`` (mean ``⟨y⟩`` on the
        probe batch) and ``rate_error`` (mean ``|ρ* - r̄|``).

    References:
        Turrigiano, Leslie, Desai, Rutherford & Nelson (1998). Activity-dependent scaling of
        quantal amplitude in neocortical neurons. Nature 391, 892-896.
        "Plasticity as optimization", chapter in credax's sources (paper 000), §5.
    """
    if not is_number(target_rate) or not math.isfinite(target_rate):
        raise TypeError(f"expected target_rate to be a finite number, got {target_rate!r}")
    rho = float(target_rate)
    tau = _check_time_constant("tau", tau)

    def init(key, params):
        layers = _unit_layers(params, "homeostasis")
        _check_set_point("target_rate", rho, layers, "homeostasis", open_range=False)
        return HomeostasisState(
            tuple(jnp.full((l.weight.shape[0],), rho, jnp.float32) for l in layers)
        )

    def update(params, state, batch):
        x = unsupervised_batch(params, batch)
        layers = _unit_layers(params, "homeostasis")
        t = trace(params, x)
        rates, updates = [], []
        for layer, y, r in zip(layers, t.outputs, state.rates):
            r = r + (_per_unit(y.astype(jnp.float32), layer, 1, jnp.mean) - r) / tau
            rates.append(r)
        scaled = tuple(
            eqx.tree_at(
                lambda q: q.weight,
                jax.tree_util.tree_map(jnp.zeros_like, layer),
                -(_rows((rho - r).astype(layer.weight.dtype), layer.weight) * layer.weight),
            )
            for layer, r in zip(layers, rates)
        )
        updates = map_layers(lambda i, l: scaled[i], params)
        return updates, HomeostasisState(tuple(rates))

    def diagnostics(params, state, batch):
        x = unsupervised_batch(params, batch)
        t = trace(params, x)
        return {
            "mean_rate": jnp.stack([jnp.mean(y.astype(jnp.float32)) for y in t.outputs]),
            "rate_error": jnp.stack([jnp.mean(jnp.abs(rho - r)) for r in state.rates]),
        }

    return make_rule("homeostasis", init, update=update, diagnostics=diagnostics, task=UNSUPERVISED)


# --- intrinsic plasticity ------------------------------------------------------------------------


def _derivatives(f, z: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``f'(z)`` and ``f''(z)`` of an elementwise activation, for a batch of pre-activations."""

    def d1(v):
        return jax.grad(lambda w: jnp.sum(f(w)))(v)

    def d2(v):
        return jax.grad(lambda w: jnp.sum(d1(w)))(v)

    return jax.vmap(d1)(z), jax.vmap(d2)(z)


def _smooth_bounded(layer) -> bool:
    """Whether a layer's activation is elementwise, bounded and increasing at 0 (a logistic
    sigmoid, tanh): one intrinsic plasticity can shape."""
    try:
        with jax.ensure_compile_time_eval():
            probe = jnp.asarray([-1e4, -1.0, 0.0, 1.0, 1e4], jnp.float32)
            out = jax.vmap(layer.activation)(
                jnp.broadcast_to(
                    probe.reshape(5, *([1] * len(layer.out_shape))), (5, *layer.out_shape)
                ).astype(layer.weight.dtype)
            ).reshape(5, -1)
            const = bool(jnp.all(out == out[:, :1]))  # elementwise: the same for every unit
            bounded = bool(jnp.all(jnp.abs(out) < 1e3))
            rising = bool(jnp.all(out[3] > out[1]))
        return const and bounded and rising
    except Exception:
        return False


def intrinsic_plasticity(*, mean: float = 0.2) -> LearningRule:
    """Intrinsic plasticity (Triesch 2005): each unit's gain and bias adapt so that its output
    distribution approaches the exponential density ``∝ exp(-y/μ)`` on the unit's range.

    For rates on ``[0, ∞)`` that exponential is the maximum-entropy distribution of mean ``μ``;
    on a logistic unit's ``(0, 1)`` it is truncated (its mean a little below ``μ``: 0.19 for
    ``μ = 0.2``). On tanh's ``(-1, 1)`` the same density starts at ``-1``: outputs gather near
    ``-1``, mean ``≈ μ - 1``.

    Paper 000's §5 (eq. 13, ``I[x; y] = H[y] - H[y|x]``) reads intrinsic plasticity as
    maximising the output's entropy, hence information transmission, at a fixed mean rate.
    For a unit ``y = f(g u + b)`` with net synaptic input ``u``, gain ``g`` and bias ``b``, the
    stochastic gradient of the KL divergence from the density ``∝ exp(-y/μ)`` gives (``z = g u +
    b``)::

        Δb = f''(z)/f'(z) - f'(z)/μ,        Δg = 1/g + u Δb

    which for the logistic sigmoid is Triesch's ``Δb = 1 - (2 + 1/μ) y + y²/μ``. credax folds the
    gain into the weights: a layer ``h = f(W x + b)`` has ``g = 1`` at each step and ``u = W x``,
    so ``ΔW_i = Δg_i W_i`` (each unit's weights scale, their direction kept) and ``Δb_i = Δb``,
    batch means; ``f'`` and ``f''`` come from differentiating the layer's activation. The step
    in ``W`` is the gain's step: for one input of weight ``a`` it is ``a²`` times Triesch's
    ``Δa = 1/a + x Δb`` (the same fixed points, another speed). The rule
    acts on the layers whose activation is elementwise, bounded and increasing (logistic sigmoid,
    tanh): there the target distribution exists; other layers (a linear readout) get zero
    updates, and a model without such a layer is refused. Combine it with a synaptic rule by
    ``credax.chain``. ``updates = -Δw``.

    Args:
        mean: ``μ``, the target exponential's scale (its mean on ``[0, ∞)``): ``0 < μ <`` the
            width of every plastic layer's activation range.

    Returns:
        A ``LearningRule`` (unsupervised) with state ``credax.EmptyState``; no value. Its
        diagnostics record per layer ``output_mean`` and ``output_sd`` on the probe batch (an
        exponential has ``sd = mean``).

    References:
        Triesch (2005). A gradient rule for the plasticity of a neuron's intrinsic excitability.
        ICANN, LNCS 3696, 65-70.
        "Plasticity as optimization", chapter in credax's sources (paper 000), §5, eq. 13.
    """
    mu = check_positive("mean", mean)

    def plastic(params) -> list[bool]:
        layers = _unit_layers(params, "intrinsic_plasticity")
        which = [_smooth_bounded(layer) for layer in layers]
        if not any(which):
            raise ValueError(
                "intrinsic_plasticity: expected a layer with a bounded, increasing elementwise "
                "activation (logistic sigmoid, tanh), where an output distribution of mean "
                f"{mu} exists; this model's layers have none"
            )
        for i, (layer, on) in enumerate(zip(layers, which)):
            if on:
                lo, hi = _range(layer)
                if not mu < hi - lo:
                    raise ValueError(
                        f"intrinsic_plasticity: expected mean (the exponential's scale) below "
                        f"the width {hi - lo:.3g} of layer {i}'s activation range "
                        f"({lo:.3g}, {hi:.3g}), got {mu}"
                    )
        return which

    def init(key, params):
        plastic(params)
        return init_empty(key, params)

    def update(params, state, batch):
        x = unsupervised_batch(params, batch)
        which = plastic(params)
        layers = find_layers(params)
        t = trace(params, x)
        out = []
        for layer, on, a in zip(layers, which, t.preactivations):
            upd = jax.tree_util.tree_map(jnp.zeros_like, layer)
            if not on:
                out.append(upd)
                continue
            z = a.astype(jnp.float32)
            f1, f2 = _derivatives(layer.activation, z.reshape(-1, *layer.out_shape))
            f1, f2 = f1.reshape(z.shape), f2.reshape(z.shape)
            db = f2 / jnp.maximum(f1, 1e-30) - f1 / mu
            bias = layer.bias_term()
            if bias is not None:  # u = W x: the pre-activation less the bias
                lead = (1,) * (z.ndim - bias.ndim)
                z_minus_b = z - bias.astype(jnp.float32).reshape(*lead, *bias.shape)
            u = z if bias is None else z_minus_b
            dg = _per_unit(1.0 + u * db, layer, 1, jnp.mean)
            w = layer.weight
            upd = eqx.tree_at(lambda q: q.weight, upd, -(_rows(dg.astype(w.dtype), w) * w))
            if layer.bias is not None:
                per_unit_db = _per_unit(db, layer, 1, jnp.mean)
                upd = eqx.tree_at(lambda q: q.bias, upd, -per_unit_db.astype(layer.bias.dtype))
            out.append(upd)
        return map_layers(lambda i, l: out[i], params), state

    def diagnostics(params, state, batch):
        x = unsupervised_batch(params, batch)
        t = trace(params, x)
        return {
            "output_mean": jnp.stack([jnp.mean(y.astype(jnp.float32)) for y in t.outputs]),
            "output_sd": jnp.stack([jnp.std(y.astype(jnp.float32)) for y in t.outputs]),
        }

    return make_rule(
        "intrinsic_plasticity", init, update=update, diagnostics=diagnostics, task=UNSUPERVISED
    )
