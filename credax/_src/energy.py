"""The energy family: the network settles to an equilibrium of an energy, and weights learn from
quantities local to each synapse at that equilibrium.

- predictive coding (Whittington & Bogacz 2017; Song et al. 2020): value nodes ``x_l`` relax on
  the sum of squared prediction errors with the output clamped to the target through the loss;
  weights descend the same energy at the relaxed values, from each layer's own prediction error;
- equilibrium propagation (Scellier & Bengio 2017; Laborieux et al. 2021): a layered Hopfield
  energy settles freely, then weakly nudged towards the target (``β``); the update is the
  difference of the two equilibria's local correlations, divided by ``β``.

Both need a chain of ``Dense`` layers (``credax.nets.mlp``) with a hidden layer; the per-layer
errors they compute become updates through ``credax.nets.local_updates``. Inference loops are
``lax.scan`` (reverse-differentiable), so a whole settling can be differentiated through: that is
how the tests check equilibrium propagation against recurrent backprop.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp

from credax._src.batches import SUPERVISED, supervised_batch
from credax._src.checks import check_count, check_flag, check_positive
from credax._src.nets._trace import local_updates, trace
from credax._src.rule import LearningRule, check_loss, init_empty, make_rule
from credax._src.stages import Chain, activation_vjp, dense_chain

PC, EP = "predictive_coding", "equilibrium_propagation"


def _stage_batch(chain: Chain, l: int, h: jax.Array):
    """Layer ``l`` on a batch of outputs of the layer below: ``(input, a_l, f_l)``."""
    layer = chain.layers[l]
    inp = jax.vmap(lambda v: chain.into(l, v))(h)
    a = jax.vmap(layer.preactivation)(inp)
    return inp, a, jax.vmap(layer.activation)(a)


# --- relaxations that settle, and those that run away ---------------------------------------------


def _descent(energy, states: list, steps: int, rate: float):
    """``steps`` steps of gradient descent on ``energy`` from ``states``: the final states, the
    energy before and after, and the settling ratio ``‖Δ_T‖ / ‖Δ_1‖`` (last step's size over the
    first's; below 1 for a relaxation that settles, measured 0.06-0.22 on MNIST-1D MLPs at the
    defaults, above 1 for one that runs away: 20-30 for equilibrium propagation with ReLU layers,
    inf for predictive coding at rate 50)."""

    def step(s, _):
        g = jax.grad(energy)(s)
        new = [si - rate * gi.astype(si.dtype) for si, gi in zip(s, g)]
        size = jnp.sqrt(
            sum(jnp.sum(jnp.square((a - b).astype(jnp.float32))) for a, b in zip(new, s))
        )
        return new, size

    final, sizes = jax.lax.scan(step, states, length=steps)
    ratio = sizes[-1] / jnp.maximum(sizes[0], jnp.finfo(jnp.float32).tiny)
    return final, energy(states), energy(final), jnp.where(steps > 1, ratio, 0.0)


def _ran_away(e0, e1, ratio) -> jax.Array:
    """A relaxation ran away: its energy or step sizes became non-finite, its energy rose, or its
    steps grew (ratio > 1): the rule's update is then meaningless, and its value is made inf so
    that the engine counts the run as diverged."""
    rose = e1 > e0 + 1e-5 * jnp.abs(e0) + 1e-6
    return ~jnp.isfinite(e1) | ~jnp.isfinite(ratio) | rose | (ratio > 1.0)


def _unbounded(layer, rule: str, index: int) -> None:
    """Warns when a hidden layer's activation is unbounded: an energy of ``ρ(s) W ρ(s')`` terms
    then has no minimum unless the weights are small, and the relaxation may run away."""
    try:
        with jax.ensure_compile_time_eval():  # concrete, even while a rule is being traced
            big = jnp.asarray([-1e4, 1e4], layer.weight.dtype)
            probe = jnp.broadcast_to(
                big.reshape(2, *([1] * len(layer.out_shape))), (2, *layer.out_shape)
            )
            bounded = bool(jnp.all(jnp.abs(jax.vmap(layer.activation)(probe)) < 1e3))
    except Exception:  # an activation that cannot be probed this way: nothing to say
        return
    if not bounded:
        warnings.warn(
            f"{rule}: hidden layer {index}'s activation is unbounded (|σ(±1e4)| ≥ 1e3); the "
            "energy then has a minimum only for small weights and the relaxation may run away "
            "(flagged as divergence): use a bounded activation (tanh, sigmoid, a hard sigmoid)",
            stacklevel=4,
        )


# --- predictive coding ----------------------------------------------------------------------------


def predictive_coding_energy(
    loss, chain: Chain, x: jax.Array, values: list, y: jax.Array, precision: float = 1.0
):
    """``F = Σ_{l<N-1} ½‖x_l - f_l(x_{l-1})‖² + λ B·loss(f_N(x_{N-2}), y)``, summed over the
    batch (``x_{-1}`` the input, ``x_l`` the hidden value nodes, ``λ`` the output precision)."""
    below = [x, *values]
    total = 0.0
    for l, v in enumerate(values):
        _, _, pred = _stage_batch(chain, l, below[l])
        total = total + 0.5 * jnp.sum(jnp.square((v - pred).astype(jnp.float32)))
    _, _, out = _stage_batch(chain, len(values), below[-1])
    b = x.shape[0]
    return total + precision * b * loss(jax.vmap(chain.head)(out), y)


def predictive_coding(
    loss,
    *,
    inference_steps: int = 20,
    inference_rate: float = 0.1,
    output_precision: float = 1.0,
) -> LearningRule:
    """Predictive coding: relax value nodes on the prediction-error energy, then learn locally.

    Each hidden layer has value nodes ``x_l``, started at the feedforward pass ``h_l``. With the
    input clamped and the output clamped to the target through the loss, they descend (per
    example) the energy::

        F = Σ_{l<N-1} ½‖ε_l‖² + λ ℓ(f_N(x_{N-2}), y),     ε_l = x_l - f_l(x_{l-1}),
        x_l ← x_l - γ ∂F/∂x_l = x_l - γ (ε_l - J_{l+1}ᵀ ε_{l+1})

    for ``inference_steps`` steps of size ``γ = inference_rate`` (``J_{l+1}ᵀε_{l+1}`` is the
    error of the layer above, sent down through its own weights: ``W_{l+1}ᵀ(σ'(a_{l+1}) ⊙
    ε_{l+1})``). The weights then descend ``F`` (batch mean) at the relaxed values:
    ``ΔW_l ∝ (σ'(a_l) ⊙ ε_l) x_{l-1}ᵀ``, each layer's own prediction error times its input, and
    for the output layer the loss's error at its pre-activation; the updates are divided by
    ``λ`` so that they keep a gradient's scale. Updates have a gradient's sign.

    ``λ = output_precision`` is the output node's precision (inverse variance ``Σ_N⁻¹`` in
    Whittington & Bogacz's probabilistic form). As the output error weighs little against the
    hidden prediction errors (``λ → 0``, a weakly clamped output), the relaxed errors approach
    ``λ`` times backprop's ``∂ℓ/∂h_l`` and the updates approach the gradient (Whittington &
    Bogacz 2017), once the relaxation has carried the error down to every layer, which takes
    more steps the deeper the layer. Measured on MNIST-1D's 40-256-256-10 tanh MLP at init (3
    seeds, batch 256, ``γ = 0.1``), per-layer cosine to the gradient (and update norm over the
    gradient's), input layer first: at ``λ = 1e-3``, ``T = 20`` (the default) 0.986, 0.986, 1.000
    (norms 0.42, 0.73, 1.00); ``T = 50`` 0.994, 0.996, 1.000 (0.78, 0.92); ``T = 100`` 0.9992,
    0.9997, 1.000 (0.95, 0.98); ``T = 200`` above 0.9999 (0.995-0.999). At ``λ = 1`` (the common
    choice) the hidden nodes absorb part of the output error and the updates differ from the
    gradient in direction as well as scale whatever ``T``: 0.95-0.997 in the hidden layers and
    0.77-0.89 at the output (norms 0.36-0.80). The tests check cosine > 0.999 per layer at
    ``λ = 1e-3`` with enough steps for their depth. With a softmax cross-entropy ``ℓ`` the output
    node is clamped through the loss rather than to a value; with ``credax.losses.mse`` it is
    the classic clamped output.

    Args:
        loss: ``loss(outputs, y) -> scalar``, a batch mean.
        inference_steps: ``T ≥ 1`` relaxation steps.
        inference_rate: ``γ`` > 0.
        output_precision: ``λ`` > 0, the weight of the loss in the energy.

    Returns:
        A ``LearningRule`` (supervised) with state ``credax.EmptyState``; its value is the
        batch loss of the feedforward pass, or ``inf`` when the relaxation ran away (its energy
        rose or turned non-finite, or its steps grew: too large an ``inference_rate``), which
        ``credax.train.make_fit`` counts as divergence; its diagnostics record ``energy`` (``F``
        per example after relaxation), ``prediction_errors`` (RMS of ``ε_l`` per hidden layer)
        and ``settle_ratio`` (the last inference step's size over the first's: near 0 when the
        nodes settle, above 1 when they run away).

    Examples:
        >>> import jax, jax.numpy as jnp, credax
        >>> net = credax.nets.mlp([3, 5, 2], activation=jnp.tanh, key=0)
        >>> rule = credax.predictive_coding(credax.losses.mse, inference_steps=10)
        >>> g, _ = rule.update(net, rule.init(1, net), (jnp.ones((4, 3)), jnp.zeros((4, 2))))
        >>> g.layers[0].weight.shape
        (5, 3)

    References:
        Whittington & Bogacz (2017). An approximation of the error backpropagation algorithm in
        a predictive coding network with local Hebbian synaptic plasticity. Neural Computation
        29, 1229-1262.
        Song, Lukasiewicz, Xu & Bogacz (2020). Can the brain do backpropagation? Exact
        implementation of backpropagation in predictive coding networks. NeurIPS.
    """
    loss = check_loss(loss)
    steps = check_count("inference_steps", inference_steps)
    rate = check_positive("inference_rate", inference_rate)
    lam = check_positive("output_precision", output_precision)

    def init(key, params):
        dense_chain(params, PC)
        return init_empty(key, params)

    def settle(params, batch):
        x, y = supervised_batch(params, batch)
        chain = dense_chain(params, PC)
        tr = trace(params, x)
        value = loss(tr.output, y)
        values, e0, e1, ratio = _descent(
            lambda v: predictive_coding_energy(loss, chain, x, v, y, lam),
            [jax.lax.stop_gradient(h) for h in tr.outputs[:-1]],
            steps,
            rate,
        )
        value = jnp.where(_ran_away(e0, e1, ratio), jnp.inf, value).astype(value.dtype)
        return chain, x, y, tr, values, value, ratio

    def update(params, state, batch):
        chain, x, y, tr, values, value, _ = settle(params, batch)
        b = x.shape[0]
        below = [x, *values]
        inputs, deltas = [], []
        for l, layer in enumerate(chain.layers):
            inp, a, pred = _stage_batch(chain, l, below[l])
            if l < len(values):  # ε_l = x_l - f_l(x_{l-1}); descending ½‖ε_l‖² wrt W_l, / λ
                d = activation_vjp(layer, a, -(values[l] - pred) / (b * lam))
            else:  # the loss's error at the output pre-activation
                d = jax.grad(
                    lambda a_, layer=layer: loss(
                        jax.vmap(chain.head)(jax.vmap(layer.activation)(a_)), y
                    )
                )(a)
            inputs.append(inp)
            deltas.append(d)
        return local_updates(params, inputs, deltas), state, value

    def diagnostics(params, state, batch):
        chain, x, y, _, values, _, ratio = settle(params, batch)
        below = [x, *values]
        errs = []
        for l, v in enumerate(values):
            _, _, pred = _stage_batch(chain, l, below[l])
            errs.append(jnp.sqrt(jnp.mean(jnp.square((v - pred).astype(jnp.float32)))))
        energy = predictive_coding_energy(loss, chain, x, values, y, lam) / x.shape[0]
        return {"energy": energy, "prediction_errors": jnp.stack(errs), "settle_ratio": ratio}

    return make_rule(PC, init, update_with_value=update, diagnostics=diagnostics, task=SUPERVISED)


# --- equilibrium propagation ----------------------------------------------------------------------


def layered_energy(chain: Chain, x: jax.Array, states: list) -> jax.Array:
    """The layered Hopfield energy of Scellier & Bengio (2017), summed over the batch::

        E(s) = Σ_l ½‖s_l‖² - Σ_l ρ_l(s_l) · (W_l ρ_{l-1}(s_{l-1}) + b_l),   ρ_{-1}(s_{-1}) = x

    with ``ρ_l`` layer ``l``'s activation (identity at a linear output layer).
    """
    total = 0.0
    below = x
    for l, s in enumerate(states):
        layer = chain.layers[l]
        inp = jax.vmap(lambda v, l=l: chain.into(l, v))(below)
        a = jax.vmap(layer.preactivation)(inp)
        r = jax.vmap(layer.activation)(s)
        total = total + 0.5 * jnp.sum(jnp.square(s)) - jnp.sum(r * a)
        below = r
    return total


def equilibrium_propagation(
    loss,
    *,
    beta: float = 0.5,
    symmetric: bool = True,
    free_steps: int = 40,
    nudged_steps: int = 20,
    step_size: float = 0.5,
) -> LearningRule:
    """Equilibrium propagation: contrast a free and a weakly nudged equilibrium.

    The network is the layered Hopfield energy ``E`` of :func:`layered_energy` on the model's
    own weights (used symmetrically: ``W_l`` feeds forward, ``W_lᵀ`` back), states ``s_l`` per
    layer. The free phase descends ``E`` from the feedforward pass, ``s ← s - ε ∂E/∂s`` for
    ``free_steps`` steps (``ε = step_size``), to ``s⁰``; its output ``s⁰_N`` is the network's
    prediction (``rule.predict``). The nudged phase continues from ``s⁰`` on ``F = E + β ℓ(s_N,
    y)`` for ``nudged_steps`` steps to ``s^β``. The update (Scellier & Bengio 2017, eq. 10) is::

        ΔW ∝ -(1/β) (∂E/∂W(s^β) - ∂E/∂W(s⁰)),   ∂E/∂W_l = -ρ_l(s_l) ρ_{l-1}(s_{l-1})ᵀ

    a contrastive Hebbian rule computed with ``credax.nets.local_updates``; with ``symmetric``
    the two phases are ``±β`` and the difference is divided by ``2β`` (Laborieux et al. 2021),
    which removes the ``O(β)`` bias. As ``β → 0`` (and with settled phases) the update equals the
    gradient of the loss of the free equilibrium, the gradient recurrent backprop computes by
    differentiating through the settling (Scellier & Bengio 2019); the tests check cosine > 0.99.
    Updates have a gradient's sign (batch mean).

    Deviations: continuous-state gradient dynamics rather than the discrete fixed-point updates
    of Laborieux et al.; states are not clipped (bounded activations such as ``tanh`` keep the
    energy bounded below: with an unbounded activation the free phase may diverge). The free
    phase starts at the feedforward pass rather than at zero: it settles in fewer steps. The
    defaults (40 free, 20 nudged steps) are cheap, not settled: on 256-wide tanh layers the free
    phase needs hundreds to thousands of steps, and until it settles the update is a biased
    estimate (``benchmarks/target_alignment.py`` measures 36-85° from the gradient of the settled
    network at the defaults; 4,000 steps at ``β = 1e-3`` bring it within 0.1°).

    Args:
        loss: ``loss(outputs, y) -> scalar``, a batch mean.
        beta: ``β`` > 0, the nudging strength.
        symmetric: nudge with ``+β`` and ``-β`` (default) or use the free phase and ``+β``.
        free_steps: free-phase steps (≥ 1).
        nudged_steps: nudged-phase steps (≥ 1).
        step_size: ``ε`` > 0.

    Returns:
        A ``LearningRule`` (supervised) with state ``credax.EmptyState`` and
        ``predict(params, x) -> outputs`` (the free equilibrium's output, which the default
        evaluation of ``credax.train`` uses); its value is the loss of the free equilibrium, or
        ``inf`` when the free phase ran away (its energy turned non-finite or rose, or its steps
        grew: an unbounded hidden activation such as ReLU lets the energy fall without end; ``init``
        warns about such layers), which ``credax.train.make_fit`` counts as divergence; its
        diagnostics record ``energy`` (``E(s⁰)`` per example), ``free_vs_feedforward`` (RMS
        distance between the free equilibrium's output and the feedforward pass) and
        ``settle_ratio`` (the free phase's last step size over its first).

    Examples:
        >>> import jax, jax.numpy as jnp, credax
        >>> net = credax.nets.mlp([3, 5, 2], activation=jnp.tanh, key=0)
        >>> rule = credax.equilibrium_propagation(credax.losses.mse, beta=0.1)
        >>> rule.predict(net, jnp.ones((4, 3))).shape
        (4, 2)

    References:
        Scellier & Bengio (2017). Equilibrium propagation: bridging the gap between energy-based
        models and backpropagation. Frontiers in Computational Neuroscience 11, 24.
        Laborieux, Ernoult, Scellier, Bengio, Grollier & Querlioz (2021). Scaling equilibrium
        propagation to deep ConvNets by drastically reducing its gradient estimator bias.
        Frontiers in Neuroscience 15, 633674.
    """
    loss = check_loss(loss)
    beta = check_positive("beta", beta)
    symmetric = check_flag("symmetric", symmetric)
    free_steps = check_count("free_steps", free_steps)
    nudged_steps = check_count("nudged_steps", nudged_steps)
    eps = check_positive("step_size", step_size)

    warned: set = set()  # once per rule and layer, however often init is traced

    def init(key, params):
        chain = dense_chain(params, EP)
        for i, layer in enumerate(chain.layers[:-1]):
            if i not in warned:
                warned.add(i)
                _unbounded(layer, EP, i)
        return init_empty(key, params)

    def descend(chain, x, states, steps, y=None, b=0.0):
        def total(s):
            e = layered_energy(chain, x, s)
            if y is None:
                return e
            return e + b * x.shape[0] * loss(jax.vmap(chain.head)(s[-1]), y)

        return _descent(total, states, steps, eps)

    def free(params, x):
        chain = dense_chain(params, EP)
        tr = trace(params, x)
        s0, e0, e1, ratio = descend(chain, x, list(tr.preactivations), free_steps)
        return chain, s0, _ran_away(e0, e1, ratio), ratio

    def correlations(params, chain, x, s):
        """``∂E/∂θ`` at states ``s`` through ``local_updates``: inputs ``ρ(s_{l-1})``, errors
        ``-ρ(s_l)``."""
        below = x
        inputs, deltas = [], []
        for l, layer in enumerate(chain.layers):
            inputs.append(jax.vmap(lambda v, l=l: chain.into(l, v))(below))
            r = jax.vmap(layer.activation)(s[l])
            deltas.append(-r)
            below = r
        return local_updates(params, inputs, deltas)

    def predict(params, x):
        x = jnp.asarray(x)
        chain, s0, _, _ = free(params, x)
        return jax.vmap(chain.head)(s0[-1])

    def update(params, state, batch):
        x, y = supervised_batch(params, batch)
        chain, s0, ran_away, _ = free(params, x)
        value = loss(jax.vmap(chain.head)(s0[-1]), y)
        value = jnp.where(ran_away, jnp.inf, value).astype(value.dtype)
        b = x.shape[0]
        plus = descend(chain, x, s0, nudged_steps, y, beta)[0]
        if symmetric:
            minus = descend(chain, x, s0, nudged_steps, y, -beta)[0]
            scale, low = 1.0 / (2 * beta * b), minus
        else:
            scale, low = 1.0 / (beta * b), s0
        hi_c, low_c = correlations(params, chain, x, plus), correlations(params, chain, x, low)
        updates = jax.tree.map(lambda p, q: scale * (p - q), hi_c, low_c)
        return updates, state, value

    def diagnostics(params, state, batch):
        x, _ = supervised_batch(params, batch)
        chain, s0, _, ratio = free(params, x)
        out = jax.vmap(chain.head)(s0[-1])
        gap = jnp.sqrt(jnp.mean(jnp.square(out - jax.vmap(params)(x))))
        return {
            "energy": layered_energy(chain, x, s0) / x.shape[0],
            "free_vs_feedforward": gap,
            "settle_ratio": ratio,
        }

    return make_rule(
        EP,
        init,
        update_with_value=update,
        diagnostics=diagnostics,
        predict=predict,
        task=SUPERVISED,
    )
