"""The perturbation family: rules that estimate the gradient from the effect of noise.

None of these rules sends errors backward through the forward weights. Each one perturbs the
network (its weights, its units' pre-activations, or its choice of action), observes the change
in the loss or a reward, and correlates the two:

- weight perturbation: noise on every synapse, a global loss difference (eqs 7-8 of chapter 9,
  "Plasticity as optimization");
- node perturbation: noise on every unit's pre-activation, one loss difference per example
  (Mazzoni, Andersen & Jordan 1991; Werfel, Xie & Seung 2005);
- REINFORCE: Gaussian stochastic units, a reward and a baseline, a three-factor rule
  (Williams 1992);
- AGREL: a stochastic choice among the output units, a reward prediction error and attentional
  feedback from the chosen unit (Roelfsema & van Ooyen 2005; Richards & Lillicrap 2018);
- forward gradient: the exact directional derivative along a random tangent, by forward-mode
  differentiation (Baydin et al. 2022; Ren et al. 2022 for tangents on activities).

All are estimators: a single update is noisy, and only its mean over the rule's noise equals (or
approximates) backprop's gradient. ``credax.metrics.estimator_statistics`` measures their bias and
variance. Updates have the sign of a gradient of ``loss`` (a batch mean); randomness comes only
from the PRNG key in the rule's state, split on every update.

Batches are checked when a rule is traced, shapes only: under ``jax.jit`` integer labels
outside ``[0, n_out)`` are not seen and give finite updates (``credax.tasks.check`` checks the
values; ``credax.train.make_fit`` checks its data before compiling).

Rules that perturb units (node perturbation, REINFORCE, AGREL, activity-perturbed forward
gradient) first estimate the error ``δa_l`` at each layer's pre-activation, per example, from a
``credax.nets.trace`` of the network (with the noise as pre-activation offsets), and then turn it
into the weight update the layer gets when ``δa_l`` is its error with
``credax.nets.local_updates`` (``δa_l h_{l-1}ᵀ`` for a dense layer, the matching correlation for
a convolution). This works on any model built from credax layers (``credax.nets.mlp``,
``lenet``, ``Sequential`` or a user's own equinox Module), dense or convolutional, recurrent
too: a layer applied at several steps (a ``credax.nets.scan`` over time, a loop) is perturbed
independently at every step and its update sums over the steps, as a shared weight's gradient
does. Arrays outside credax layers are not trained
(their updates are zero, and weight-space rules do not perturb them); ``init`` warns when there
are any. The loss is assumed to be a batch mean, so that one example's loss is ``loss`` of a
batch of one. The finite-difference rules (weight and node perturbation) evaluate low-precision
(bfloat16, float16) models in float32, where their small perturbations survive rounding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from credax._src.batches import SUPERVISED, supervised_batch
from credax._src.checks import check_count, check_flag, check_positive, is_number
from credax._src.nets._select import find_layers, is_trainable, only_layers, trainable
from credax._src.nets._trace import local_updates, preactivation_shapes, trace
from credax._src.rule import LearningRule, Loss, check_loss, forward, make_rule

# --- option checks --------------------------------------------------------------------------------


def _check_sigma(sigma: Any) -> Any:
    """A positive number, or a pytree of positive numbers or arrays (matched to params later)."""
    if is_number(sigma) or isinstance(sigma, (str, bytes)) or sigma is None:
        return check_positive("sigma", sigma)
    if hasattr(sigma, "shape") and np.ndim(sigma) == 0:  # a 0-d array is a number
        return check_positive("sigma", sigma)
    leaves = jax.tree.leaves(sigma)
    if not leaves:
        raise TypeError(f"expected sigma to be a number or a pytree matching params, got {sigma!r}")
    for leaf in leaves:
        if not (is_number(leaf) or hasattr(leaf, "shape")):
            raise TypeError(f"expected sigma's leaves to be numbers or arrays, got {leaf!r}")
        _check_concrete_positive(leaf)
    return sigma


def _check_concrete_positive(leaf: Any) -> None:
    if isinstance(leaf, jax.core.Tracer):
        return
    if not bool(np.all(np.asarray(leaf) > 0)):
        raise ValueError(f"expected sigma > 0 everywhere, got a leaf with values {leaf!r}")


def _sigma_tree(sigma: Any, params: Any) -> Any:
    """``σ`` as a pytree with the structure of ``params``' floating-point arrays (None
    elsewhere), each leaf a scalar or of the leaf's shape."""
    params = trainable(params)
    if is_number(sigma):
        return jax.tree.map(lambda w: sigma, params)
    if jax.tree.structure(sigma) != jax.tree.structure(params):
        raise ValueError(
            "expected sigma to be a number or a pytree with params' structure (one σ per leaf, "
            "e.g. jax.tree.map(lambda w: 1e-3 * jnp.ones_like(w), params)), got structure "
            f"{jax.tree.structure(sigma)} for params {jax.tree.structure(params)}"
        )

    def check(s, w):
        s = jnp.asarray(s)
        if s.shape not in ((), w.shape):
            raise ValueError(
                f"expected each sigma leaf to be a scalar or of its parameter's shape {w.shape}, "
                f"got shape {s.shape}"
            )
        _check_concrete_positive(s)
        return s

    return jax.tree.map(check, sigma, params)


# --- shared machinery -----------------------------------------------------------------------------


def per_example_losses(loss: Loss, outputs: jax.Array, y: jax.Array) -> jax.Array:
    """``E_n = loss(outputs[n:n+1], y[n:n+1])`` for every example, shape ``(B,)``."""
    return jax.vmap(lambda o, t: loss(o[None], t[None]))(outputs, y)


def _forward(params: Any, x: jax.Array, offsets=None) -> jax.Array:
    """The model on a batch, with optional per-example pre-activation offsets (one
    ``(B, *a_l.shape)`` array per layer)."""
    return trace(params, x, offsets=offsets).output


def weight_updates(params: Any, x: jax.Array, deltas: list, offsets: list | None = None) -> Any:
    """The weight updates of a network whose layers receive the errors ``deltas``:
    ``credax.nets.local_updates`` at the inputs each layer sees in a pass over ``x`` (with the
    pre-activation ``offsets``, if given: noisy units' activity for REINFORCE).

    Args:
        params: a layered credax model.
        x: the batch's inputs ``(B, ...)``.
        deltas: one array ``(B, *a_l.shape)`` per layer: the error at each example's
            pre-activation, already divided by ``B`` when the loss is a batch mean.
        offsets: optional pre-activation offsets of the forward pass whose activities are used
            as presynaptic factors; None for the clean pass.

    Returns:
        Updates with params' structure: ``Σ_n δa_l[n] h_{l-1}[n]ᵀ`` per dense layer (its
        convolutional counterpart per conv layer) and ``Σ_n δa_l[n]`` per bias.
    """
    return local_updates(params, trace(params, x, offsets=offsets).inputs, deltas)


def _float32(tree: Any) -> Any:
    """Floating-point leaves narrower than float32 (bfloat16, float16) cast to float32: finite
    differences of ``σ ≈ 1e-3`` vanish in their rounding (bfloat16 keeps about 3 digits)."""

    def up(a):
        if hasattr(a, "dtype") and jnp.issubdtype(a.dtype, jnp.floating):
            if jnp.finfo(a.dtype).bits < 32:
                return a.astype(jnp.float32)
        return a

    return jax.tree.map(up, tree)


def _cast_like(tree: Any, like: Any) -> Any:
    return jax.tree.map(lambda a, b: a.astype(b.dtype), tree, trainable(like))


def _split_normal(key: jax.Array, shapes: list, dtypes: list) -> list:
    """Standard normals of the given shapes, from one draw (one random kernel, whatever the
    number of shapes: cheaper to compile than a draw per array)."""
    sizes = [int(np.prod(shape)) for shape in shapes]
    dtype = jnp.result_type(jnp.float32, *dtypes)  # at least float32, then cast per array
    flat = jax.random.normal(key, (max(sum(sizes), 1),), dtype)
    out, start = [], 0
    for shape, dtype, size in zip(shapes, dtypes, sizes):
        out.append(flat[start : start + size].reshape(shape).astype(dtype))
        start += size
    return out


def _activity_noise(key: jax.Array, like: list, scale: Any = 1.0) -> list:
    """Noise ``scale · N(0, I)`` on every layer's pre-activation, shaped as ``like`` (the
    pre-activations of a trace, or their shapes: ``(B, *a_l.shape)``, or ``(B, N, ...)`` for a
    layer applied at ``N`` steps)."""
    draws = _split_normal(key, [a.shape for a in like], [a.dtype for a in like])
    return [(scale * z).astype(z.dtype) for z in draws]


def _normal_like(key: jax.Array, params: Any) -> Any:
    """A standard normal pytree with the structure, shapes and dtypes of ``params``'
    floating-point arrays (None elsewhere)."""
    leaves, treedef = jax.tree.flatten(trainable(params))
    draws = _split_normal(key, [leaf.shape for leaf in leaves], [leaf.dtype for leaf in leaves])
    return treedef.unflatten(draws)


def _per_example(c: jax.Array, z: jax.Array) -> jax.Array:
    """``c[n] · z[n]`` for a ``(B,)`` vector ``c`` and a ``(B, ...)`` array ``z``."""
    return c.reshape(c.shape + (1,) * (z.ndim - 1)).astype(z.dtype) * z


def _mean0(tree: Any) -> Any:
    return jax.tree.map(lambda a: jnp.mean(a, axis=0).astype(a.dtype), tree)


def _zeros_offsets(params: Any, x: jax.Array) -> list:
    return [jnp.zeros(s.shape, s.dtype) for s in preactivation_shapes(params, x)]


# --- weight perturbation --------------------------------------------------------------------------


class WeightPerturbationState(NamedTuple):
    """State of weight perturbation.

    Attributes:
        key: PRNG key for the perturbations, split on every update.
    """

    key: jax.Array


def weight_perturbation(
    loss: Loss,
    *,
    sigma: float | Any = 1e-3,
    n_perturbations: int = 1,
    antithetic: bool = False,
) -> LearningRule:
    """Weight perturbation: correlate a random change of every synapse with the change in loss.

    With ``w̃ ~ N(w, σ²)`` over all parameters (weights and biases), eqs 7-8 of the "Plasticity
    as optimization" chapter read::

        ∇_w E = E[(E(w̃) - E(w)) (w̃ - w)] / σ²        Δw ∝ -(E(w̃) - E(w)) (w̃ - w) / σ²

    and ``updates = (E(w̃) - E(w)) (w̃ - w) / σ²``, averaged over ``n_perturbations`` independent
    draws. With ``antithetic=True`` each draw ``ξ`` is used twice,
    ``(E(w + ξ) - E(w - ξ)) ξ / (2σ²)``, which cancels the even-order terms of ``E`` (the
    curvature's contribution to the variance) at the cost of a second evaluation.

    ``sigma`` may be a pytree with params' structure (a scalar or an array of the parameter's
    shape per leaf): per-synapse noise, as in Seung's (2003) reading of unreliable transmitter
    release as perturbation, where more unreliable synapses make larger changes. Each coordinate
    is then divided by its own ``σ_i²``, which keeps the estimate unbiased.

    Deviations: ``E`` is the batch-mean loss (the chapter's objective, for one batch). The
    perturbation used in the estimate is the one actually realised, ``fl(w + ξ) - w``, not ``ξ``,
    so rounding of ``w + ξ`` does not bias it. The default ``σ = 1e-3`` is chosen for float32:
    float rounding of ``E`` (relative ``ε ≈ 1.2e-7``) enters each coordinate as about
    ``ε |E| / σ`` and the third-order terms of ``E`` as ``σ²``; for an O(1) loss both stay near
    or below 1e-4, while ``√ε ≈ 3e-4`` balances them. Low-precision parameters (bfloat16,
    float16) would round such small perturbations away, so the rule evaluates the network in
    float32 and casts the updates back to the parameters' dtypes.

    Args:
        loss: ``loss(outputs, y) -> scalar``, a batch mean.
        sigma: ``σ`` > 0, a number or a pytree matching params (per-synapse ``σ``).
        n_perturbations: independent draws averaged per update (``K`` ≥ 1).
        antithetic: use ``±ξ`` pairs.

    Returns:
        A ``LearningRule`` with state ``WeightPerturbationState``; updates have a gradient's
        sign and equal ``∇E`` on average (to ``O(σ²)``).

    Examples:
        >>> import jax, jax.numpy as jnp, credax
        >>> net = credax.nets.mlp([3, 4, 2], activation=jnp.tanh, key=jax.random.key(0))
        >>> rule = credax.weight_perturbation(credax.losses.mse, n_perturbations=8)
        >>> state = rule.init(jax.random.key(1), net)
        >>> g, state = rule.update(net, state, (jnp.ones((5, 3)), jnp.zeros((5, 2))))
        >>> g.layers[0].weight.shape
        (4, 3)

    References:
        "Plasticity as optimization", chapter 9 of the course text in credax's sources (eqs 7-8).
        Jabri & Flower (1992). Weight perturbation: an optimal architecture and learning
        technique for analog VLSI feedforward and recurrent multilayer networks. IEEE TNN.
        Seung (2003). Learning in spiking neural networks by reinforcement of stochastic synaptic
        transmission. Neuron 40, 1063-1073.
    """
    loss = check_loss(loss)
    sigma = _check_sigma(sigma)
    k = check_count("n_perturbations", n_perturbations)
    antithetic = check_flag("antithetic", antithetic)

    def init(key, params):
        _sigma_tree(sigma, params)
        return WeightPerturbationState(key)

    def update(params, state, batch):
        x, y = supervised_batch(params, batch)
        sig = _sigma_tree(sigma, params)
        p32, static = eqx.partition(_float32(params), is_trainable)
        x32 = _float32(x)

        def objective(p):
            return loss(forward(eqx.combine(p, static), x32), y)

        e0 = objective(p32)
        key, sub = jax.random.split(state.key)

        def one(kk):
            # Noise on credax layers' parameters only (arrays outside them are constants).
            v = only_layers(_normal_like(kk, p32))
            plus = jax.tree.map(lambda w, s, vi: w + (s * vi).astype(w.dtype), p32, sig, v)
            if antithetic:
                minus = jax.tree.map(lambda w, s, vi: w - (s * vi).astype(w.dtype), p32, sig, v)
                diff = objective(plus) - objective(minus)
                return jax.tree.map(
                    lambda a, b, s: (diff * (a - b) / (4 * s**2)).astype(a.dtype), plus, minus, sig
                )
            diff = objective(plus) - e0
            return jax.tree.map(
                lambda a, w, s: (diff * (a - w) / s**2).astype(w.dtype), plus, p32, sig
            )

        updates = _mean0(jax.vmap(one)(jax.random.split(sub, k)))
        return _cast_like(updates, params), WeightPerturbationState(key), e0

    return make_rule("weight_perturbation", init, update_with_value=update, task=SUPERVISED)


# --- node perturbation ----------------------------------------------------------------------------


class NodePerturbationState(NamedTuple):
    """State of node perturbation.

    Attributes:
        key: PRNG key for the perturbations, split on every update.
    """

    key: jax.Array


def node_perturbation(
    loss: Loss, *, sigma: float = 1e-3, n_perturbations: int = 1, antithetic: bool = False
) -> LearningRule:
    """Node perturbation: correlate noise on every unit's input with the change in loss.

    Each layer's pre-activation ``a_l`` receives noise ``ξ_l ~ N(0, σ² I)``, independently per
    example and all layers at once (Werfel, Xie & Seung 2005, who perturb the output units
    ``y = W x + ξ``). Example ``n``'s loss changes from ``E_n(0)`` to ``E_n(ξ)`` and the error
    at the layer's pre-activation is estimated as::

        δa_l ≈ (E_n(ξ) - E_n(0)) ξ_l / σ²         ΔW_l ∝ -δa_l h_{l-1}ᵀ

    i.e. every layer takes the weight update it would get were ``δa_l`` its error (for a
    convolution, the matching correlation with its input), averaged over the batch. With
    ``antithetic=True``: ``δa_l ≈ (E_n(ξ) - E_n(-ξ)) ξ_l / (2σ²)``. ``n_perturbations`` draws are
    averaged.

    Deviations: the presynaptic factor ``h_{l-1}`` is the activity of the unperturbed network
    (the noise-free mean activity); with the perturbed activity the estimate has the same mean to
    first order in ``σ`` but more variance. ``σ = 1e-3`` is a float32-safe finite-difference
    step (rounding enters ``δa`` as about ``1e-7 |E_n| / σ``, curvature as ``σ``); a
    low-precision (bfloat16, float16) network is evaluated in float32 for the same reason.
    A layer applied at several steps per example gets independent noise at each step.

    Args:
        loss: ``loss(outputs, y) -> scalar``, a batch mean (so ``E_n`` is the loss of a batch of
            one).
        sigma: ``σ`` > 0.
        n_perturbations: independent draws averaged per update (≥ 1).
        antithetic: use ``±ξ`` pairs.

    Returns:
        A ``LearningRule`` with state ``NodePerturbationState``; updates have a gradient's sign
        and equal the gradient on average (to ``O(σ²)``).

    Examples:
        >>> import jax, jax.numpy as jnp, credax
        >>> net = credax.nets.mlp([3, 4, 2], activation=jnp.tanh, key=jax.random.key(0))
        >>> rule = credax.node_perturbation(credax.losses.mse)
        >>> state = rule.init(jax.random.key(1), net)
        >>> g, state = rule.update(net, state, (jnp.ones((5, 3)), jnp.zeros((5, 2))))
        >>> g.layers[1].bias.shape
        (2,)

    References:
        Mazzoni, Andersen & Jordan (1991). A more biologically plausible learning rule for neural
        networks. PNAS 88, 4433-4437.
        Werfel, Xie & Seung (2005). Learning curves for stochastic gradient descent in linear
        feedforward networks. Neural Computation 17, 2699-2718.
    """
    loss = check_loss(loss)
    sigma = check_positive("sigma", sigma)
    k = check_count("n_perturbations", n_perturbations)
    antithetic = check_flag("antithetic", antithetic)

    def init(key, params):
        return NodePerturbationState(key)

    def update(params, state, batch):
        x, y = supervised_batch(params, batch)
        p32, x32 = _float32(params), _float32(x)
        b = x.shape[0]
        clean = trace(p32, x32)
        value = loss(clean.output, y)  # checks the targets
        e0 = per_example_losses(loss, clean.output, y)
        key, sub = jax.random.split(state.key)

        def one(kk):
            xi = _activity_noise(kk, clean.preactivations, sigma)
            e_plus = per_example_losses(loss, _forward(p32, x32, offsets=xi), y)
            if antithetic:
                neg = [-z for z in xi]
                e_minus = per_example_losses(loss, _forward(p32, x32, offsets=neg), y)
                c = (e_plus - e_minus) / (2 * sigma**2)
            else:
                c = (e_plus - e0) / sigma**2
            return [_per_example(c, z) for z in xi]

        deltas = _mean0(jax.vmap(one)(jax.random.split(sub, k)))
        updates = local_updates(p32, clean.inputs, [d / b for d in deltas])
        return _cast_like(updates, params), NodePerturbationState(key), value

    return make_rule("node_perturbation", init, update_with_value=update, task=SUPERVISED)


# --- REINFORCE ------------------------------------------------------------------------------------


class ReinforceState(NamedTuple):
    """State of REINFORCE.

    Attributes:
        key: PRNG key for the units' noise, split on every update.
        reward_mean: running mean of the batch-mean reward, before bias correction, shape ``()``.
        count: updates so far, int32 ``()``.
    """

    key: jax.Array
    reward_mean: jax.Array
    count: jax.Array


Baseline = Callable[[Any, tuple[jax.Array, jax.Array]], jax.Array]


def reinforce(
    loss: Loss,
    *,
    sigma: float = 0.1,
    baseline_decay: float | None = 0.9,
    baseline: Baseline | None = None,
) -> LearningRule:
    """REINFORCE with Gaussian stochastic units: a reward, a baseline and an eligibility.

    Every unit is stochastic: its pre-activation is ``ã_l = a_l + ξ_l`` with
    ``ξ_l ~ N(0, σ² I)`` (Williams' Gaussian units with fixed ``σ``), drawn per example, and the
    network's output is that of the noisy network. The reward is ``r = -E_n``, example ``n``'s
    loss. Williams' (1992) rule ``Δw = α (r - b) e`` with eligibility ``e = ∂ ln g / ∂w``
    (``g`` the density of the unit's output) is, for these units, the three-factor rule::

        ΔW_l ∝ (r - b) · (ξ_l / σ²) · h̃_{l-1}ᵀ

    (global reinforcement ``r - b``, postsynaptic ``ξ_l / σ²``, presynaptic ``h̃_{l-1}``, the
    noisy activity of the layer below), and ``updates = -ΔW`` averaged over the batch. Its mean is
    the gradient of the expected loss of the noisy network, ``∇ E_ξ[E(ξ)]``, for any ``σ``
    and any baseline that does not depend on this update's noise; it approaches backprop's
    gradient as ``σ → 0``.

    The baseline does not change the mean; it changes the variance, which is
    ``E[(r - b)² ‖e‖²] - ‖∇‖²`` and so is smallest near ``b = E[r | x]``. Without a baseline
    (``baseline_decay=None``) every update is dominated by ``r ‖e‖`` with ``r`` of the size of the
    loss itself. The default is a running mean of the batch-mean reward kept in the state,
    ``r̄ ← λ r̄ + (1 - λ) mean_n r_n`` with bias correction ``r̄ / (1 - λ^t)`` (no baseline at the
    first update), which removes the common level of the reward but not its variation across
    examples. ``baseline(params, batch)`` may instead give the baseline per example (shape
    ``(B,)`` or ``()``), e.g. the exact expected reward ``E_ξ[r_n]`` (the "perfect" baseline).

    Args:
        loss: ``loss(outputs, y) -> scalar``, a batch mean; ``r_n = -loss`` of example ``n``.
        sigma: ``σ`` > 0, the units' noise (part of the model, not a finite-difference step: the
            variance of the estimate grows like ``1/σ²``).
        baseline_decay: ``λ`` in ``[0, 1)`` of the running-mean baseline, or None for none.
        baseline: ``baseline(params, batch) -> (B,)`` expected rewards, replacing the running
            mean; or None.

    Returns:
        A ``LearningRule`` with state ``ReinforceState``; updates have a gradient's sign.

    Examples:
        >>> import jax, jax.numpy as jnp, credax
        >>> net = credax.nets.mlp([3, 4, 2], activation=jnp.tanh, key=jax.random.key(0))
        >>> rule = credax.reinforce(credax.losses.mse, sigma=0.1)
        >>> state = rule.init(jax.random.key(1), net)
        >>> g, state = rule.update(net, state, (jnp.ones((5, 3)), jnp.zeros((5, 2))))
        >>> int(state.count)
        1

    References:
        Williams (1992). Simple statistical gradient-following algorithms for connectionist
        reinforcement learning. Machine Learning 8, 229-256.
        Richards & Lillicrap (2018). Can neocortical feedback alter the sign of plasticity?
        Nat. Rev. Neurosci. 19, 636.
    """
    loss = check_loss(loss)
    sigma = check_positive("sigma", sigma)
    if baseline_decay is not None:
        if not is_number(baseline_decay):
            raise TypeError(
                f"expected baseline_decay to be a number or None, got {baseline_decay!r}"
            )
        if not 0.0 <= baseline_decay < 1.0:
            raise ValueError(f"expected baseline_decay in [0, 1), got {baseline_decay}")
        baseline_decay = float(baseline_decay)
    if baseline is not None and not callable(baseline):
        raise TypeError(f"expected baseline(params, batch) -> (B,) or None, got {baseline!r}")

    def init(key, params):
        return ReinforceState(key, jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32))

    def update(params, state, batch):
        x, y = supervised_batch(params, batch)
        b = x.shape[0]
        key, sub = jax.random.split(state.key)
        xi = _activity_noise(sub, preactivation_shapes(params, x), sigma)
        noisy = trace(params, x, offsets=xi)
        out = noisy.output
        value = loss(out, y)  # checks the targets
        reward = -per_example_losses(loss, out, y)
        if baseline is not None:
            base = jnp.asarray(baseline(params, (x, y)))
            if base.shape not in ((), (b,)):
                raise ValueError(
                    f"expected baseline(params, batch) of shape ({b},), got {base.shape}"
                )
            base = jnp.broadcast_to(base, (b,))
        elif baseline_decay is not None:
            t = state.count.astype(jnp.float32)
            corrected = state.reward_mean / jnp.maximum(1.0 - baseline_decay**t, 1e-30)
            base = jnp.broadcast_to(jnp.where(state.count > 0, corrected, 0.0), (b,))
        else:
            base = jnp.zeros((b,), jnp.float32)
        advantage = jax.lax.stop_gradient(reward - base.astype(reward.dtype))
        deltas = [_per_example(-advantage / (sigma**2 * b), z) for z in xi]
        updates = local_updates(params, noisy.inputs, deltas)
        decay = 0.0 if baseline_decay is None else baseline_decay
        mean = decay * state.reward_mean + (1.0 - decay) * jnp.mean(reward).astype(jnp.float32)
        return updates, ReinforceState(key, mean.astype(jnp.float32), state.count + 1), value

    return make_rule("reinforce", init, update_with_value=update, task=SUPERVISED)


# --- AGREL ----------------------------------------------------------------------------------------


class AgrelState(NamedTuple):
    """State of AGREL.

    Attributes:
        key: PRNG key for the action selection, split on every update.
    """

    key: jax.Array


Gate = Callable[[jax.Array], jax.Array]
Select = Callable[[jax.Array, jax.Array], jax.Array]


def _sample_softmax(key: jax.Array, logits: jax.Array) -> jax.Array:
    return jax.random.categorical(key, logits, axis=-1)


def _clip_gate(phi: jax.Array) -> jax.Array:
    return jnp.clip(phi, 0.0, 1.0)


def agrel(
    loss: Loss,
    *,
    signed: bool = False,
    gate: Gate | None = None,
    select: Select | None = None,
) -> LearningRule:
    """Attention-gated reinforcement learning: a chosen action, a reward prediction error and
    feedback from the chosen output unit.

    The four-factor rule (eq 1 of Richards & Lillicrap 2018, simplifying Roelfsema & van Ooyen
    2005)::

        Δw_ij = f_i · f_j · RPE · FB_j

    For a classifier with logits ``z`` and ``p = softmax(z)``: each example selects one output
    unit ``s ~ p`` (``select``); the reward is ``r = t_s`` (1 if ``s`` is the label); the
    selected unit's activity ``p_s`` is its reward expectation, and the RPE ``δ = r - p_s``
    passes through AGREL's expansive function, ``f(δ) = δ / (1 - δ)`` when rewarded and ``-1``
    when not (our reading of Roelfsema & van Ooyen 2005, whose paper is not among credax's
    sources), i.e. ``f(δ) = (r - p_s) / p_s``, the factor that makes the mean update
    backprop's. The chosen unit sends attentional feedback down the network through the forward
    weights (AGREL's feedback weights equal them); unit ``j`` of layer ``l`` receives
    ``φ_j = ∂z_s / ∂a_j``, which for the hidden layer below the output is ``σ'(a_j) w_sj``:
    credax folds AGREL's postsynaptic factor ``f_j = σ'(a_j)`` into ``φ_j``,
    and ``f_i = h_{l-1,i}`` is the presynaptic activity. Then

    - gated (``signed=False``, Roelfsema & Holtmaat's reading): ``FB_j = gate(φ_j) ∈ [0, 1]``
      (default ``clip(φ_j, 0, 1)``), which can switch plasticity on or off but leaves the sign to
      the RPE;
    - signed (``signed=True``, Richards & Lillicrap's proposal): ``FB_j = gate(φ_j) · φ_j``
      (default gate all ones, ``FB_j = φ_j``), so feedback can set the sign of plasticity.

    For a linear output layer ``φ = onehot(s)``: only the chosen unit's weights change. The
    feedback ``φ`` reaches every layer ungated (the gate acts where plasticity happens, per
    unit), so deeper networks are handled layer by layer as the one-hidden-layer original.

    ``updates = -Δw`` averaged over the batch. For any loss, credax replaces ``r - p_s`` by
    ``-∂E_n/∂z_s`` (equal for the softmax cross-entropy, where ``∂E_n/∂z = p - t``), so the
    output layer's error ``-f(δ) onehot(s)`` averages, over ``s ~ p``, to ``∂E_n/∂z`` exactly, and
    the signed rule with an all-ones gate averages to backprop's gradient (the delta rule in a
    one-hidden-layer net). The gated rule is biased. Mean equal to the gradient needs actions
    drawn from ``softmax(z)``; ``select`` may choose otherwise (e.g. greedily) at that price.

    Args:
        loss: ``loss(outputs, y) -> scalar``, a batch mean; the network's output must be a vector
            of logits ``(n_out,)``.
        signed: let feedback carry sign.
        gate: ``gate(φ) -> same shape`` in ``[0, 1]``, applied per unit; None for the default of
            the mode.
        select: ``select(key, logits (B, n_out)) -> (B,)`` int actions; default draws from
            ``softmax(logits)``.

    Returns:
        A ``LearningRule`` with state ``AgrelState``; updates have a gradient's sign.

    Examples:
        >>> import jax, jax.numpy as jnp, credax
        >>> net = credax.nets.mlp([3, 4, 2], activation=jax.nn.sigmoid, key=jax.random.key(0))
        >>> rule = credax.agrel(credax.losses.softmax_cross_entropy, signed=True)
        >>> state = rule.init(jax.random.key(1), net)
        >>> g, state = rule.update(net, state, (jnp.ones((5, 3)), jnp.array([0, 1, 0, 1, 1])))
        >>> g.layers[0].weight.shape
        (4, 3)

    References:
        Roelfsema & van Ooyen (2005). Attention-gated reinforcement learning of internal
        representations for classification. Neural Computation 17, 2176-2214.
        Roelfsema & Holtmaat (2018). Control of synaptic plasticity in deep cortical networks.
        Nat. Rev. Neurosci. 19, 166-180.
        Richards & Lillicrap (2018). Can neocortical feedback alter the sign of plasticity?
        Nat. Rev. Neurosci. 19, 636.
    """
    loss = check_loss(loss)
    signed = check_flag("signed", signed)
    if gate is not None and not callable(gate):
        raise TypeError(f"expected gate(phi) -> array in [0, 1] or None, got {gate!r}")
    if select is not None and not callable(select):
        raise TypeError(f"expected select(key, logits) -> (B,) int actions or None, got {select!r}")
    if gate is None:
        gate = jnp.ones_like if signed else _clip_gate
    select = _sample_softmax if select is None else select

    def n_out(params):
        layers = find_layers(params)
        out = layers[-1].out_shape
        if len(out) != 1:
            raise ValueError(f"agrel needs a vector output layer (logits), got output {out}")
        return layers

    def init(key, params):
        n_out(params)
        return AgrelState(key)

    def update(params, state, batch):
        x, y = supervised_batch(params, batch)
        n_out(params)
        b = x.shape[0]

        def clean(offsets):
            t = trace(params, x, offsets=offsets)
            return t.output, t.inputs

        # One forward pass: the outputs, the inputs of every layer, and the pullback that sends
        # the chosen unit's attentional feedback down to every pre-activation.
        z, select_pullback, inputs = jax.vjp(clean, _zeros_offsets(params, x), has_aux=True)
        if z.ndim != 2:
            raise ValueError(f"agrel needs outputs of shape (B, n_out), got {z.shape}")
        value, grad_z = jax.value_and_grad(lambda o: loss(o, y))(z)
        grad_z = b * grad_z  # ∂E_n/∂z per example
        p = jax.nn.softmax(z.astype(jnp.float32), axis=-1)
        key, sub = jax.random.split(state.key)
        action = jnp.asarray(select(sub, z))
        if action.shape != (b,):
            raise ValueError(
                f"expected select(key, logits) to return ({b},) actions, got {action.shape}"
            )
        chosen = jax.nn.one_hot(action, z.shape[1], dtype=z.dtype)
        p_s = jnp.sum(p * chosen, axis=-1)
        g_s = jnp.sum(grad_z.astype(jnp.float32) * chosen, axis=-1)
        neg_rpe = g_s / jnp.maximum(p_s, jnp.finfo(jnp.float32).tiny)  # -f(δ)

        phi = select_pullback(chosen)[0]  # φ = ∂z_s/∂a per example and layer
        fb = [gate(f) * f if signed else gate(f) for f in phi]
        deltas = [_per_example(neg_rpe / b, f) for f in fb]
        return local_updates(params, inputs, deltas), AgrelState(key), value

    return make_rule("agrel", init, update_with_value=update, task=SUPERVISED)


# --- forward gradient -----------------------------------------------------------------------------


class ForwardGradientState(NamedTuple):
    """State of the forward gradient.

    Attributes:
        key: PRNG key for the tangents, split on every update.
    """

    key: jax.Array


def forward_gradient(loss: Loss, *, activity: bool = False, n_tangents: int = 1) -> LearningRule:
    """Forward gradient: the directional derivative along a random tangent, times the tangent.

    Weight-perturbed (Baydin et al. 2022, "forward gradient"): with ``v ~ N(0, I)`` over all
    parameters, ``g(θ) = (∇f(θ) · v) v``, where ``∇f(θ) · v`` is computed exactly in one forward
    pass by forward-mode differentiation (``jax.jvp``); ``E[g] = ∇f``.

    Activity-perturbed (``activity=True``; Ren et al. 2022): a tangent ``u_l ~ N(0, I)`` on every
    layer's pre-activation, per example; ``g_a = (∂E_n/∂a · u) u`` estimates the error at each
    pre-activation and every layer takes the weight update it would get were ``g_a`` its error,
    as in node perturbation (the ``σ → 0`` limit of antithetic node perturbation). The tangent
    space has one dimension per unit and example rather than per weight, hence less variance.

    Deviations: Ren et al. apply activity perturbation with local losses per block; here the
    network's single loss is used, and ``∂E_n/∂a · u`` sums over all layers' tangents (one
    forward pass), which keeps the estimate unbiased. ``n_tangents`` draws are averaged.

    Args:
        loss: ``loss(outputs, y) -> scalar``, a batch mean.
        activity: tangents on pre-activations instead of weights.
        n_tangents: independent tangents averaged per update (≥ 1).

    Returns:
        A ``LearningRule`` with state ``ForwardGradientState``; updates have a gradient's sign
        and equal it on average.

    Examples:
        >>> import jax, jax.numpy as jnp, credax
        >>> net = credax.nets.mlp([3, 4, 2], activation=jnp.tanh, key=jax.random.key(0))
        >>> rule = credax.forward_gradient(credax.losses.mse, activity=True)
        >>> state = rule.init(jax.random.key(1), net)
        >>> g, state = rule.update(net, state, (jnp.ones((5, 3)), jnp.zeros((5, 2))))
        >>> g.layers[0].weight.shape
        (4, 3)

    References:
        Baydin, Pearlmutter, Syme, Wood & Torr (2022). Gradients without backpropagation.
        arXiv:2202.08587.
        Ren, Kornblith, Liao & Hinton (2022). Scaling forward gradient with local losses.
        arXiv:2210.03310 (ICLR 2023).
    """
    loss = check_loss(loss)
    activity = check_flag("activity", activity)
    k = check_count("n_tangents", n_tangents)

    def init(key, params):
        return ForwardGradientState(key)

    def update(params, state, batch):
        x, y = supervised_batch(params, batch)
        b = x.shape[0]
        key, sub = jax.random.split(state.key)
        keys = jax.random.split(sub, k)
        if not activity:
            diff, static = eqx.partition(params, is_trainable)

            def objective(p):
                return loss(forward(eqx.combine(p, static), x), y)

            value = objective(diff)  # checks the targets

            def one(kk):
                # Tangents on credax layers' parameters only.
                v = only_layers(_normal_like(kk, diff))
                _, d = jax.jvp(objective, (diff,), (v,))
                return jax.tree.map(lambda vi: (d * vi).astype(vi.dtype), v)

            return _mean0(jax.vmap(one)(keys)), ForwardGradientState(key), value

        clean = trace(params, x)
        value = loss(clean.output, y)  # checks the targets

        def losses(offsets):
            return per_example_losses(loss, _forward(params, x, offsets=offsets), y)

        zeros = [jnp.zeros_like(a) for a in clean.preactivations]

        def one_activity(kk):
            u = _activity_noise(kk, clean.preactivations)
            _, d = jax.jvp(losses, (zeros,), (u,))
            return [_per_example(d, ui) for ui in u]

        deltas = _mean0(jax.vmap(one_activity)(keys))
        updates = local_updates(params, clean.inputs, [dl / b for dl in deltas])
        return updates, ForwardGradientState(key), value

    return make_rule("forward_gradient", init, update_with_value=update, task=SUPERVISED)
