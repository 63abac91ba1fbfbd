"""The target family: feedback carries targets for each layer's activity, not gradients.

Every rule here runs the network forward (``credax.nets.trace``), sets a first target from the
loss, sends targets down through learned feedback networks, and lets each layer reduce its own
distance to its target, ``L_l = ½‖h_l - t_l‖²`` (batch mean), with ``h_{l-1}`` held fixed: the
error at the pre-activation is ``δ_l = σ'(a_l) ⊙ (h_l - t_l)`` and ``credax.nets.local_updates``
turns it into ``ΔW_l = δ_l h_{l-1}ᵀ``. The output layer's update is backprop's. TP and DTP follow
Lee et al.'s (2015) Algorithm 1: the output layer descends the loss and the first target is a
gradient step on the last hidden layer, ``t_{N-1} = h_{N-1} - η ∂ℓ/∂h_{N-1}`` (``ℓ`` one example's
loss); with ``output_target=True``, and in BIG, the first target is the output layer's,
``t_N = h_N - η ∂ℓ/∂h_N``, sent down through an inverse of the output layer too (the BIG
abstract's form).

Layers are numbered ``l = 1 .. N`` (``h_0`` the input, ``h_N`` the output layer's activity);
rules differ in how a target is sent down to the hidden layers (``l = 1 .. N-1``; ``f_{l+1}`` is
the layer above, ``g_l`` its learned inverse, ``i_l`` a local inhibitory circuit):

- target propagation (Bengio 2014): ``t_l = g_l(t_{l+1})``;
- difference target propagation (Lee et al. 2015; eq. 3 of the BIG abstract):
  ``t_l = g_l(t_{l+1}) - [g_l(f_{l+1}(h_l)) - h_l]``;
- the balanced inhibition gradient (eq. 4 of the BIG abstract):
  ``t_l = h_l/σ² + g_l(t_{l+1}) - i_l(h_l)/σ²``.

Feedback networks and inhibition live in the rule's state and learn inside ``update`` with their
own optimizer (``inverse_optimizer``, default Adam 1e-3); the caller's optimizer sees only the
forward weights. Each ``g_l`` is a credax ``Dense`` layer ``n_{l+1} -> n_l`` with layer ``l``'s
activation, trained to reconstruct ``h_l`` from ``f_{l+1}(h_l)`` under noise injection
(``½‖g_l(f_{l+1}(h_l + ε)) - (h_l + ε)‖²``, ``ε ~ N(0, noise² I)``, Lee et al. 2015).

The rules need a chain of ``Dense`` layers (``credax.nets.mlp`` or a ``Sequential`` of ``Dense``
layers and parameter-free maps) with at least one hidden layer; other models are refused with a
message. The loss is assumed to be a batch mean, so that one example's loss gradient is ``B``
times the batch loss's.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from credax._src.batches import SUPERVISED, supervised_batch
from credax._src.checks import check_count, check_flag, check_positive
from credax._src.metrics import angle
from credax._src.nets._containers import Sequential
from credax._src.nets._dense import Dense
from credax._src.nets._trace import local_updates, trace
from credax._src.rule import LearningRule, check_loss, make_rule
from credax._src.stages import Chain, activation_vjp, dense_chain

TP, DTP, BIG = "target_propagation", "difference_target_propagation", "balanced_inhibition_gradient"


class TargetPropagationState(NamedTuple):
    """State of target propagation and difference target propagation.

    Attributes:
        inverses: ``g_l`` for the hidden layers ``l = 1 .. N-1`` (``inverses[l-1]``), credax
            ``Dense`` layers ``n_{l+1} -> n_l``.
        opt_state: the inverse optimizer's state.
        key: PRNG key for the noise injected when training the inverses, split on every update.
    """

    inverses: tuple
    opt_state: Any
    key: jax.Array


class BalancedInhibitionState(NamedTuple):
    """State of the balanced inhibition gradient.

    Attributes:
        inverses: the feedback ``g_l`` (feedback excitation ``E_fb``), ``l = 1 .. N-1``,
            credax ``Dense`` layers ``n_{l+1} -> n_l``.
        inhibition: the local inhibition ``i_l``, ``l = 1 .. N-1``: any callable Module on one
            example ``(n_l,) -> (n_l,)``; by default a ``Sequential`` of two ``Dense`` layers
            ``n_l -> n_{l+1} -> n_l``, the shape of ``g_l ∘ f_{l+1}``.
        opt_state: the optimizer state of ``(inverses, inhibition)`` (re-initialise it,
            ``inverse_optimizer.init((inverses, inhibition))``, after replacing either with
            nets of another structure).
        key: PRNG key for the noise of both denoising objectives, split on every update.
    """

    inverses: tuple
    inhibition: tuple
    opt_state: Any
    key: jax.Array


# --- shared machinery -----------------------------------------------------------------------------


def _check_optimizer(opt: Any) -> optax.GradientTransformation:
    if opt is None:
        return optax.adam(1e-3)
    if not (hasattr(opt, "init") and hasattr(opt, "update")):
        raise TypeError(
            f"expected inverse_optimizer to be an optax GradientTransformation (e.g. "
            f"optax.adam(1e-3)), got {opt!r}"
        )
    return opt


def _inverses(key: jax.Array, chain: Chain) -> tuple:
    """``g_l``: ``Dense(n_{l+1} -> n_l)`` with layer ``l``'s activation and dtype."""
    layers = chain.layers
    keys = jax.random.split(key, len(layers) - 1)
    return tuple(
        Dense(
            layers[l + 1].out_shape[0],
            layers[l].out_shape[0],
            key=keys[l],
            activation=layers[l].activation,
            dtype=layers[l].weight.dtype,
        )
        for l in range(len(layers) - 1)
    )


def _check_chain_maps(chain: Chain, rule: str) -> None:
    """Maps between hidden layers must keep the vector's size (the inverse sees ``h_{l+1}``)."""
    for l in range(1, len(chain.layers)):
        if chain.layers[l].in_shape != chain.layers[l - 1].out_shape:
            raise ValueError(
                f"{rule}: expected layer {l}'s input size to equal layer {l - 1}'s output size, "
                f"got {chain.layers[l].in_shape} and {chain.layers[l - 1].out_shape}"
            )


def _noise(key: jax.Array, hs: list, scale: float) -> list:
    keys = jax.random.split(key, len(hs))
    return [scale * jax.random.normal(k, h.shape, h.dtype) for k, h in zip(keys, hs)]


def _batched(f, *args):
    return jax.vmap(f)(*args)


def _reconstruction_loss(inverses, chain: Chain, hs: list, eps: list):
    """``Σ_l ½‖g_l(f_{l+1}(h_l + ε_l)) - (h_l + ε_l)‖²`` (batch mean), ``h`` held fixed."""
    total = 0.0
    for l, g in enumerate(inverses):
        hn = jax.lax.stop_gradient(hs[l] + eps[l])
        up = jax.lax.stop_gradient(_batched(lambda h, l=l: chain.stage(l + 1, h), hn))
        r = _batched(g, up) - hn
        total = total + 0.5 * jnp.mean(jnp.sum(jnp.square(r.astype(jnp.float32)), axis=-1))
    return total


def _denoising_loss(inhibition, hs: list, eps: list):
    """``Σ_l ½‖i_l(h_l + ε_l) - h_l‖²`` (batch mean)."""
    total = 0.0
    for l, i in enumerate(inhibition):
        h = jax.lax.stop_gradient(hs[l])
        r = _batched(i, h + eps[l]) - h
        total = total + 0.5 * jnp.mean(jnp.sum(jnp.square(r.astype(jnp.float32)), axis=-1))
    return total


def _balance_loss(inhibition, inverses, hs: list):
    """``Σ_l ½‖i_l(h_l) - g_l(h_{l+1})‖²`` (batch mean): inhibition learns to cancel the feedback
    excitation the cell receives when the layer above is at its own activity."""
    total = 0.0
    for l, i in enumerate(inhibition):
        h = jax.lax.stop_gradient(hs[l])
        e_fb = jax.lax.stop_gradient(_batched(inverses[l], hs[l + 1]))
        r = _batched(i, h) - e_fb
        total = total + 0.5 * jnp.mean(jnp.sum(jnp.square(r.astype(jnp.float32)), axis=-1))
    return total


def _apply(opt, grads, opt_state, nets):
    updates, opt_state = opt.update(grads, opt_state, nets)
    return optax.apply_updates(nets, updates), opt_state


def _top_error(loss, chain: Chain, out: jax.Array, h_top: jax.Array, y: jax.Array):
    """``∂ℓ_n/∂h_N`` per example (``B`` times the batch loss's gradient), and the loss."""
    b = h_top.shape[0]
    value, pullback = jax.vjp(lambda h: loss(_batched(chain.head, h), y), h_top)
    return pullback(jnp.ones_like(value))[0] * b, value


def _forward_updates(params, chain: Chain, tr, targets: list):
    """``δ_l = σ'(a_l) ⊙ (h_l - t_l) / B`` at every layer, turned into updates."""
    b = tr.output.shape[0]
    deltas = [
        activation_vjp(layer, a, (h - t) / b)
        for layer, a, h, t in zip(chain.layers, tr.preactivations, tr.outputs, targets)
    ]
    return local_updates(params, tr.inputs, deltas)


def _forward_pass(params, batch, rule: str):
    x, y = supervised_batch(params, batch)
    chain = dense_chain(params, rule)
    _check_chain_maps(chain, rule)
    tr = trace(params, x)
    return chain, tr, y


def _rms(a: jax.Array) -> jax.Array:
    return jnp.sqrt(jnp.mean(jnp.square(a.astype(jnp.float32))))


# --- target propagation and difference target propagation ----------------------------------------


def _hidden_top_error(loss, chain: Chain, h: jax.Array, y: jax.Array):
    """``∂ℓ_n/∂h_{N-1}`` per example (``B`` times the batch loss's gradient) at the last hidden
    layer, through the output layer, and the loss."""
    b = h.shape[0]
    top = len(chain.layers) - 1

    def out(hh):
        return loss(_batched(chain.head, _batched(lambda v: chain.stage(top, v), hh)), y)

    value, pullback = jax.vjp(out, h)
    return pullback(jnp.ones_like(value))[0] * b, value


def _target_propagation(
    rule: str,
    loss,
    *,
    eta: float,
    noise: float,
    inverse_optimizer,
    alternating: bool,
    inverse_steps: int,
    output_target: bool,
) -> LearningRule:
    loss = check_loss(loss)
    eta = check_positive("eta", eta)
    noise = check_positive("noise", noise, allow_zero=True)
    opt = _check_optimizer(inverse_optimizer)
    alternating = check_flag("alternating", alternating)
    inverse_steps = check_count("inverse_steps", inverse_steps)
    output_target = check_flag("output_target", output_target)
    difference = rule == DTP

    def init(key, params):
        chain = dense_chain(params, rule)
        _check_chain_maps(chain, rule)
        k_inv, key = jax.random.split(key)
        inverses = _inverses(k_inv, chain)
        if not output_target:  # no inverse of the output layer (Lee et al., Algorithm 1)
            inverses = inverses[:-1]
        return TargetPropagationState(inverses, opt.init(inverses), key)

    def train_inverses(chain, hs, state):
        inverses, opt_state, key = state.inverses, state.opt_state, state.key
        for _ in range(inverse_steps):
            key, sub = jax.random.split(key)
            eps = _noise(sub, hs[:-1], noise)
            grads = jax.grad(_reconstruction_loss)(inverses, chain, hs, eps)
            inverses, opt_state = _apply(opt, grads, opt_state, inverses)
        return TargetPropagationState(inverses, opt_state, key)

    def targets(chain, tr, y, inverses):
        hs = list(tr.outputs)
        e_top, value = _top_error(loss, chain, tr.output, hs[-1], y)
        ts = [None] * len(hs)
        if output_target:  # t_N on the output, sent down through every inverse
            ts[-1] = hs[-1] - eta * e_top
            first = len(hs) - 2
        else:  # the output layer descends the loss; t_{N-1} is a gradient step on h_{N-1}
            ts[-1] = hs[-1] - e_top
            e_hidden, _ = _hidden_top_error(loss, chain, hs[-2], y)
            ts[-2] = jax.lax.stop_gradient(hs[-2] - eta * e_hidden)
            first = len(hs) - 3
        for l in range(first, -1, -1):
            g = inverses[l]
            t = _batched(g, ts[l + 1])
            if difference:
                t = t - (_batched(g, hs[l + 1]) - hs[l])
            ts[l] = jax.lax.stop_gradient(t)
        return ts, value

    def update(params, state, batch):
        chain, tr, y = _forward_pass(params, batch, rule)
        hs = list(tr.outputs)
        if alternating:  # inverse phase first, then targets through the trained inverses
            state = train_inverses(chain, hs, state)
            ts, value = targets(chain, tr, y, state.inverses)
        else:
            ts, value = targets(chain, tr, y, state.inverses)
            state = train_inverses(chain, hs, state)
        return _forward_updates(params, chain, tr, ts), state, value

    def diagnostics(params, state, batch):
        chain, tr, _ = _forward_pass(params, batch, rule)
        hs = list(tr.outputs)
        errs = [
            _rms(_batched(g, hs[l + 1]) - hs[l]) / jnp.maximum(_rms(hs[l]), 1e-12)
            for l, g in enumerate(state.inverses)
        ]
        return {"reconstruction_errors": jnp.stack(errs) if errs else jnp.zeros((0,), jnp.float32)}

    return make_rule(rule, init, update_with_value=update, diagnostics=diagnostics, task=SUPERVISED)


def target_propagation(
    loss,
    *,
    eta: float = 1.0,
    noise: float = 0.1,
    inverse_optimizer: optax.GradientTransformation | None = None,
    alternating: bool = False,
    inverse_steps: int = 1,
    output_target: bool = False,
) -> LearningRule:
    """Target propagation: targets sent down through learned inverses, ``t_l = g_l(t_{l+1})``.

    As in Lee et al.'s (2015) Algorithm 1: the output layer ``N`` descends the loss itself, and
    the first target sits on the last hidden layer, a gradient step on its activity,
    ``t_{N-1} = h_{N-1} - η ∂ℓ/∂h_{N-1}`` (``ℓ`` one example's loss); below it, each inverse
    ``g_l`` (a ``Dense`` layer ``n_{l+1} -> n_l`` inverting ``f_{l+1}``, ``l = 1 .. N-2``; no
    inverse of the output layer) sends it down, ``t_l = g_l(t_{l+1})``, and learns to
    reconstruct ``h_l`` from ``f_{l+1}(h_l)`` with noise injection. Each hidden layer descends
    ``L_l = ½‖h_l - t_l‖²`` (batch mean) with its input fixed,
    ``ΔW_l ∝ -(σ'(a_l) ⊙ (h_l - t_l)) h_{l-1}ᵀ``. Updates have a gradient's sign; the output
    layer's is backprop's, and with one hidden layer so is the hidden layer's direction (its
    target is a gradient step).

    With ``output_target=True``, the form the BIG abstract writes (eq. 2): the output layer also
    gets a target, ``t_N = h_N - η ∂ℓ/∂h_N``, and the targets start there, sent down through an
    inverse of the output layer too (``l = 1 .. N-1``); with ``η = 1`` the output layer's update
    is again backprop's. Measured on MNIST-1D (``benchmarks/target_alignment.py``), Lee et al.'s
    structure trains better: an inverse of the 10-unit output layer reconstructs a 256-wide
    hidden layer poorly.

    Deviations: Bengio (2014) trains each inverse as the decoder of a denoising auto-encoder;
    here ``g_l`` minimises ``½‖g_l(f_{l+1}(h_l + ε)) - (h_l + ε)‖²``, the noise-injected
    reconstruction of Lee et al. (2015), so that TP and DTP differ only in their targets.
    ``inverse_optimizer`` (default Adam 1e-3) updates the inverses ``inverse_steps`` times per
    update, after the targets are computed (simultaneous), or before them with
    ``alternating=True`` (an inverse phase, then a forward phase on the same batch; the schedule
    Bartunov et al. 2018 found most stable).

    Args:
        loss: ``loss(outputs, y) -> scalar``, a batch mean.
        eta: ``η`` > 0, the step of the first target along the loss gradient.
        noise: std of the noise ``ε`` injected when training the inverses (≥ 0).
        inverse_optimizer: an optax transformation for the inverses (default ``optax.adam(1e-3)``).
        alternating: train the inverses before computing the targets.
        inverse_steps: inverse updates per call (≥ 1).
        output_target: start the targets on the output layer, through an inverse of it (the BIG
            abstract's form) instead of on the last hidden layer.

    Returns:
        A ``LearningRule`` (supervised) with state ``TargetPropagationState``; its diagnostics
        record ``reconstruction_errors``, per inverse ``rms(g_l(h_{l+1}) - h_l) / rms(h_l)``.

    Raises:
        ValueError: at ``init``/``update`` for a model that is not a chain of ``Dense`` layers
            with a hidden layer.

    Examples:
        >>> import jax, jax.numpy as jnp, credax
        >>> net = credax.nets.mlp([3, 5, 4, 2], activation=jnp.tanh, key=0)
        >>> lee = credax.target_propagation(credax.losses.mse)   # no inverse of the output layer
        >>> [g.weight.shape for g in lee.init(1, net).inverses]
        [(5, 4)]
        >>> rule = credax.target_propagation(credax.losses.mse, output_target=True)
        >>> [g.weight.shape for g in rule.init(1, net).inverses]
        [(5, 4), (4, 2)]

    References:
        Bengio (2014). How auto-encoders could provide credit assignment in deep networks via
        target propagation. arXiv:1407.7906.
        Lee, Zhang, Fischer & Bengio (2015). Difference target propagation. ECML-PKDD
        (Algorithm 1).
    """
    return _target_propagation(
        TP,
        loss,
        eta=eta,
        noise=noise,
        inverse_optimizer=inverse_optimizer,
        alternating=alternating,
        inverse_steps=inverse_steps,
        output_target=output_target,
    )


def difference_target_propagation(
    loss,
    *,
    eta: float = 1.0,
    noise: float = 0.1,
    inverse_optimizer: optax.GradientTransformation | None = None,
    alternating: bool = False,
    inverse_steps: int = 1,
    output_target: bool = False,
) -> LearningRule:
    """Difference target propagation: ``t_l = g_l(t_{l+1}) - [g_l(f_{l+1}(h_l)) - h_l]``.

    Lee et al. (2015), Algorithm 1 (eq. 3 of the BIG abstract): the bracket removes the
    inverse's own reconstruction error, so ``t_{l+1} = h_{l+1}`` gives ``t_l = h_l`` exactly
    whatever the inverses (stability), and the implied gradient estimate is
    ``-∇_{h_l}L ≈ g_l(t_{l+1}) - g_l(f_{l+1}(h_l))``. As in their algorithm the output layer
    descends the loss and the first target is a gradient step on the last hidden layer,
    ``t_{N-1} = h_{N-1} - η ∂ℓ/∂h_{N-1}``; ``output_target=True`` starts the targets on the
    output layer instead, through an inverse of it (the BIG abstract's form, which BIG uses).
    Everything else, and every option, is as in :func:`target_propagation`;
    ``alternating=True`` trains the inverses in their own phase before the forward weights, the
    schedule Bartunov et al. (2018) found most stable.

    Args:
        loss: ``loss(outputs, y) -> scalar``, a batch mean.
        eta: ``η`` > 0, the step of the first target along the loss gradient.
        noise: std of the noise injected when training the inverses (≥ 0).
        inverse_optimizer: an optax transformation for the inverses (default ``optax.adam(1e-3)``).
        alternating: train the inverses before computing the targets.
        inverse_steps: inverse updates per call (≥ 1).
        output_target: start the targets on the output layer, through an inverse of it.

    Returns:
        A ``LearningRule`` (supervised) with state ``TargetPropagationState``; diagnostics as
        :func:`target_propagation`.

    Examples:
        >>> import jax, jax.numpy as jnp, credax
        >>> net = credax.nets.mlp([3, 5, 4, 2], activation=jnp.tanh, key=0)
        >>> rule = credax.difference_target_propagation(credax.losses.mse, alternating=True)
        >>> g, state = rule.update(net, rule.init(1, net), (jnp.ones((6, 3)), jnp.zeros((6, 2))))
        >>> g.layers[0].weight.shape
        (5, 3)

    References:
        Lee, Zhang, Fischer & Bengio (2015). Difference target propagation. ECML-PKDD
        (Algorithm 1).
        Bartunov, Santoro, Richards, Marris, Hinton & Lillicrap (2018). Assessing the scalability
        of biologically-motivated deep learning algorithms and architectures. NeurIPS.
    """
    return _target_propagation(
        DTP,
        loss,
        eta=eta,
        noise=noise,
        inverse_optimizer=inverse_optimizer,
        alternating=alternating,
        inverse_steps=inverse_steps,
        output_target=output_target,
    )


# --- the balanced inhibition gradient -------------------------------------------------------------


def _inhibition(key: jax.Array, chain: Chain) -> tuple:
    """``i_l``: ``Dense(n_l -> n_{l+1})`` with layer ``l+1``'s activation, then
    ``Dense(n_{l+1} -> n_l)`` with layer ``l``'s: the architecture of ``g_l ∘ f_{l+1}``."""
    layers = chain.layers
    out = []
    for l, k in enumerate(jax.random.split(key, len(layers) - 1)):
        k1, k2 = jax.random.split(k)
        n, m = layers[l].out_shape[0], layers[l + 1].out_shape[0]
        dtype = layers[l].weight.dtype
        out.append(
            Sequential(
                [
                    Dense(n, m, key=k1, activation=layers[l + 1].activation, dtype=dtype),
                    Dense(m, n, key=k2, activation=layers[l].activation, dtype=dtype),
                ]
            )
        )
    return tuple(out)


def balanced_inhibition_gradient(
    loss,
    *,
    sigma: float = 1.0,
    eta: float = 1.0,
    noise: float = 0.1,
    inverse_optimizer: optax.GradientTransformation | None = None,
    inverse_steps: int = 1,
    balance: bool = False,
) -> LearningRule:
    """The balanced inhibition gradient (BIG): ``t_l = h_l/σ² + g_l(t_{l+1}) - i_l(h_l)/σ²``.

    Eq. 4 of the BIG abstract ("Balanced excitation and inhibition could help estimate
    gradients"). Its eq. 1 writes the loss gradient at layer ``l`` as the score of the
    conditional minus the score of the prior, ``-∇_{h_l}L = ∇ log p(h_l|Y*) - ∇ log p(h_l)``.
    The feedback ``g_l`` (feedback excitation ``E_fb``), trained to predict ``h_l``, gives the
    first, ``g_l(t_{l+1}) - h_l``; a local inhibitory circuit ``i_l`` (``I``), trained as a
    denoising auto-encoder ``i_l(h_l + ε) → h_l`` with ``ε ~ N(0, σ² I)``, gives the second,
    ``∇ log p(h_l) ≈ (i_l(h_l) - h_l)/σ²`` (Tweedie / Kadkhodaie & Simoncelli). Their difference
    is the target above, and each layer's plasticity follows ``t_l - h_l = E_fb - h_l -
    (I - h_l)/σ²``: at ``σ² = 1``, the ``E_fb - I`` difference. With ``σ² = 1`` and
    ``i_l = g_l ∘ f_{l+1}`` the target is DTP's exactly.

    The output layer's target and the forward updates are those of :func:`target_propagation`;
    ``g_l`` learns as DTP's inverses do, and ``i_l`` by its denoising objective, both with
    ``inverse_optimizer``, after the targets are computed (one pass: BIG needs no inverse
    phase). By default ``i_l`` has the architecture of ``g_l ∘ f_{l+1}``, two ``Dense`` layers
    ``n_l -> n_{l+1} -> n_l``, the circuit DTP uses in its place; its inner layer learns by
    differentiating the circuit's own local objective (the paper does not specify ``i_l``).

    Args:
        loss: ``loss(outputs, y) -> scalar``, a batch mean.
        sigma: ``σ`` > 0, the denoising noise's std; the prior score is divided by ``σ²``.
        eta: ``η`` > 0, the step of the output target along the loss gradient.
        noise: std of the noise injected when training the feedback ``g_l`` (≥ 0).
        inverse_optimizer: an optax transformation for ``g`` and ``i`` (default Adam 1e-3).
        inverse_steps: updates of ``g`` and ``i`` per call (≥ 1).
        balance: train ``i_l`` to cancel the feedback excitation instead of denoising,
            ``½‖i_l(h_l) - g_l(h_{l+1})‖²``: inhibition that keeps E/I balanced while the layer
            above carries its own activity. An extension, not in the abstract: ``i_l`` then
            approaches ``g_l ∘ f_{l+1}``, and BIG at ``σ = 1`` approaches DTP (and its
            stability) without DTP's second feedback pass. Measured in
            ``benchmarks/big_vs_dtp.py``: ``i_l`` comes within 4-20% (relative RMS) of
            ``g_l ∘ f_{l+1}``, yet training stays at chance: the residual must be small against
            the label signal, not against the activity.

    Returns:
        A ``LearningRule`` (supervised) with state ``BalancedInhibitionState``. Its diagnostics
        record, per hidden layer ``l = 1 .. N-1`` on the probe batch (RMS over examples and
        units): ``excitation_ff`` (``h_l = f_l(h_{l-1})``), ``excitation_fb`` (``g_l(t_{l+1})``),
        ``inhibition`` (``i_l(h_l)``), ``ei_balance`` (``rms(E_fb - I) / rms(E_fb)``: 0 is
        perfect balance), ``inhibition_vs_dtp`` (``rms(i_l(h_l) - g_l(f_{l+1}(h_l))) /
        rms(g_l(f_{l+1}(h_l)))``: 0 where BIG's prior term is DTP's) and ``target_angle_dtp``
        (degrees between BIG's ``t_l - h_l`` and DTP's with the same ``g``).

    Examples:
        >>> import jax, jax.numpy as jnp, credax
        >>> net = credax.nets.mlp([3, 5, 4, 2], activation=jnp.tanh, key=0)
        >>> rule = credax.balanced_inhibition_gradient(credax.losses.mse, sigma=0.5)
        >>> state = rule.init(1, net)
        >>> [i(jnp.ones(n)).shape for i, n in zip(state.inhibition, (5, 4))]
        [(5,), (4,)]

    References:
        Balanced excitation and inhibition could help estimate gradients (abstract; eqs 1-4 and
        Fig. 1 are cited here as "the BIG abstract").
        Lee, Zhang, Fischer & Bengio (2015). Difference target propagation. ECML-PKDD.
    """
    loss = check_loss(loss)
    sigma = check_positive("sigma", sigma)
    s2 = sigma**2
    eta = check_positive("eta", eta)
    noise = check_positive("noise", noise, allow_zero=True)
    opt = _check_optimizer(inverse_optimizer)
    inverse_steps = check_count("inverse_steps", inverse_steps)
    balance = check_flag("balance", balance)

    def init(key, params):
        chain = dense_chain(params, BIG)
        _check_chain_maps(chain, BIG)
        k_g, k_i, key = jax.random.split(key, 3)
        nets = (_inverses(k_g, chain), _inhibition(k_i, chain))
        return BalancedInhibitionState(*nets, opt.init(nets), key)

    def objective(nets, chain, hs, eps_g, eps_i):
        inverses, inhibition = nets
        own = (
            _balance_loss(inhibition, inverses, hs)
            if balance
            else _denoising_loss(inhibition, hs, eps_i)
        )
        return _reconstruction_loss(inverses, chain, hs, eps_g) + own

    def targets(chain, tr, y, state):
        hs = list(tr.outputs)
        e_top, value = _top_error(loss, chain, tr.output, hs[-1], y)
        ts = [None] * len(hs)
        ts[-1] = hs[-1] - eta * e_top
        parts = []
        for l in range(len(hs) - 2, -1, -1):
            e_fb = _batched(state.inverses[l], ts[l + 1])
            inh = _batched(state.inhibition[l], hs[l])
            ts[l] = jax.lax.stop_gradient(hs[l] / s2 + e_fb - inh / s2)
            parts.append((e_fb, inh))
        return ts, value, parts[::-1]

    def check_big_state(chain, state):
        if not isinstance(state, BalancedInhibitionState):
            raise ValueError(
                f"{BIG}: expected a BalancedInhibitionState (from this rule's init), got "
                f"{type(state).__name__}"
            )
        want = [(l.out_shape[0], n.out_shape[0]) for l, n in zip(chain.layers, chain.layers[1:])]
        got = [getattr(g, "weight", None) for g in state.inverses]
        if len(got) != len(want) or any(
            w is None or tuple(jnp.shape(w)) != shape for w, shape in zip(got, want)
        ):
            raise ValueError(
                f"{BIG}: the state's feedback networks do not fit this model: expected inverse "
                f"weights {want}, got {[None if w is None else tuple(jnp.shape(w)) for w in got]};"
                " make the state with this rule's init on this model"
            )

    def update(params, state, batch):
        chain, tr, y = _forward_pass(params, batch, BIG)
        check_big_state(chain, state)
        hs = list(tr.outputs)
        ts, value, _ = targets(chain, tr, y, state)
        nets, opt_state, key = (state.inverses, state.inhibition), state.opt_state, state.key
        expected = jax.tree_util.tree_structure(jax.eval_shape(opt.init, nets))
        if jax.tree_util.tree_structure(opt_state) != expected:
            raise ValueError(
                f"{BIG}: state.opt_state does not fit (state.inverses, state.inhibition); after "
                "replacing either, re-initialise it: state._replace(opt_state="
                "inverse_optimizer.init((inverses, inhibition)))"
            )
        for _ in range(inverse_steps):
            key, kg, ki = jax.random.split(key, 3)
            eps_g = _noise(kg, hs[:-1], noise)
            eps_i = _noise(ki, hs[:-1], sigma)
            grads = jax.grad(objective)(nets, chain, hs, eps_g, eps_i)
            nets, opt_state = _apply(opt, grads, opt_state, nets)
        state = BalancedInhibitionState(*nets, opt_state, key)
        return _forward_updates(params, chain, tr, ts), state, value

    def diagnostics(params, state, batch):
        chain, tr, y = _forward_pass(params, batch, BIG)
        hs = list(tr.outputs)
        ts, _, parts = targets(chain, tr, y, state)
        rec = {k: [] for k in ("excitation_ff", "excitation_fb", "inhibition", "ei_balance")}
        rec["inhibition_vs_dtp"], rec["target_angle_dtp"] = [], []
        for l, (e_fb, inh) in enumerate(parts):
            g_f = _batched(state.inverses[l], hs[l + 1])  # g_l(f_{l+1}(h_l))
            dtp = e_fb - g_f + hs[l]
            rec["excitation_ff"].append(_rms(hs[l]))
            rec["excitation_fb"].append(_rms(e_fb))
            rec["inhibition"].append(_rms(inh))
            rec["ei_balance"].append(_rms(e_fb - inh) / jnp.maximum(_rms(e_fb), 1e-12))
            rec["inhibition_vs_dtp"].append(_rms(inh - g_f) / jnp.maximum(_rms(g_f), 1e-12))
            rec["target_angle_dtp"].append(angle(ts[l] - hs[l], dtp - hs[l]))
        return {k: jnp.stack(v) for k, v in rec.items()}

    # The inhibition may be replaced by a net of another architecture (check_state=False);
    # update checks the feedback networks against the model itself.
    return make_rule(
        BIG,
        init,
        update_with_value=update,
        diagnostics=diagnostics,
        task=SUPERVISED,
        check_state=False,
    )
