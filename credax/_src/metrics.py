"""Diagnostics: how a rule's updates relate to backprop's, and what every network has (weight
norms, finiteness). Pure, jit/vmap-able. Those that claim exactness (``layer_errors``,
``estimator_statistics``) compute their matrix products at full float32 precision
(``jax.default_matmul_precision("highest")``) whatever the caller's default (TF32 on GPUs).
The feedback family's own metrics (feedback angles, sign concordance, Lillicrap's condition)
live with it and are re-exported by ``credax.metrics``.

Angles are in degrees. A NaN or inf anywhere in an input makes the affected figure NaN, so a
diverged run shows in every metric rather than passing silently; ``all_finite`` tests for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from credax._src.batches import supervised_batch
from credax._src.nets._select import find_layers, is_trainable
from credax._src.nets._trace import preactivation_shapes, trace

Loss = Any


def _flat(tree: Any) -> jax.Array:
    leaves = jax.tree_util.tree_leaves(tree)
    return jnp.concatenate([jnp.ravel(leaf) for leaf in leaves]) if leaves else jnp.zeros(0)


def angle(u: Any, v: Any) -> jax.Array:
    """Angle in degrees between two arrays or pytrees seen as flat vectors (NaN if either is
    zero or non-finite)."""
    a, b = _flat(u), _flat(v)
    if a.shape != b.shape:
        raise ValueError(f"angle: sizes differ ({a.shape[0]} vs {b.shape[0]})")
    a = a / jnp.linalg.norm(a)
    b = b / jnp.linalg.norm(b)
    # 2·atan2(|a - b|, |a + b|) is accurate near 0° and 180°, where arccos of the cosine is not.
    return jnp.degrees(2.0 * jnp.arctan2(jnp.linalg.norm(a - b), jnp.linalg.norm(a + b)))


def update_angles(updates: Any, reference: Any) -> jax.Array:
    """Per-layer angle between two update trees, e.g. a rule's updates and backprop's.

    Args:
        updates: updates of a layered credax model.
        reference: updates of the same model (typically ``credax.backprop``'s).

    Returns:
        Array ``(n_layers,)`` of degrees, one per credax layer (weight and bias together).
    """
    la, lb = find_layers(updates), find_layers(reference)
    if len(la) != len(lb):
        raise ValueError(f"update_angles: {len(la)} layers vs {len(lb)} layers")
    return jnp.stack([angle((a.weight, a.bias), (b.weight, b.bias)) for a, b in zip(la, lb)])


def layer_errors(params: Any, feedback: Sequence[jax.Array] | None, batch, loss: Loss) -> list:
    """The error ``δ_l = ∂L_n/∂a_l`` that each layer's pre-activation receives, per example:
    the gradient of the loss with respect to offsets added to the pre-activations by
    ``credax.nets.trace``, through the rule's backward pass (``B_l`` in place of ``W_l``).

    Args:
        params: a layered credax model.
        feedback: ``B_l`` per layer (feedback-path rules) or None for backprop's errors.
        batch: ``(x, y)``.
        loss: the batched loss; per-example errors are taken on ``B·loss`` so that they do not
            shrink with the batch size.

    Returns:
        A list with one array per layer shaped like its pre-activations: ``(B, *a_l.shape)``,
        or ``(B, N, *a_l.shape)`` for a layer applied at ``N`` steps (one error per step).
    """
    from credax._src.feedback._transport import Transport

    x, y = supervised_batch(params, batch)
    offsets = [jnp.zeros(s.shape, s.dtype) for s in preactivation_shapes(params, x)]

    def total(zs):
        if feedback is None:
            return x.shape[0] * loss(trace(params, x, offsets=zs).output, y)
        with Transport(params, feedback):
            return x.shape[0] * loss(trace(params, x, offsets=zs).output, y)

    with jax.default_matmul_precision("highest"):
        return jax.grad(total)(offsets)


def weight_norms(params: Any) -> jax.Array:
    """Per credax layer, the Frobenius norm of its weight ``‖W_l‖``. Returns ``(n_layers,)``."""
    return jnp.stack(
        [jnp.linalg.norm(layer.weight.astype(jnp.float32)) for layer in find_layers(params)]
    )


def all_finite(tree: Any) -> jax.Array:
    """Whether every floating-point array of ``tree`` is finite (False flags a diverged update);
    other leaves are ignored."""
    leaves = [leaf for leaf in jax.tree_util.tree_leaves(tree) if is_trainable(leaf)]
    if not leaves:
        return jnp.asarray(True)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in leaves]))


class EstimatorStatistics(NamedTuple):
    """How well a stochastic rule's updates estimate the gradient (see ``estimator_statistics``).

    Attributes:
        bias_angle: ``()`` degrees between the mean update ``ḡ`` and the true gradient ``g``.
        relative_error: ``()`` ``‖ḡ - g‖ / ‖g‖``: bias plus the sampling error of the mean,
            which shrinks like ``sqrt(total_variance / n_draws) / ‖g‖``.
        total_variance: ``()`` trace of the updates' covariance, ``Σ_i Var(u_i)`` (unbiased,
            over draws).
        layer_variance: ``(n_layers,)`` the same per credax layer (weight and bias).
        snr: ``()`` ``‖ḡ‖² / total_variance``: squared length of the mean over the spread of one
            draw (``inf`` for a deterministic rule). One update with ``SNR ≪ 1`` is mostly noise;
            averaging ``K`` independent draws multiplies it by ``K``.
        cosines: ``(n_draws,)`` cosine of each single draw's update with ``g``.
    """

    bias_angle: jax.Array
    relative_error: jax.Array
    total_variance: jax.Array
    layer_variance: jax.Array
    snr: jax.Array
    cosines: jax.Array


def update_statistics(updates: Any, gradient: Any) -> EstimatorStatistics:
    """Estimator statistics of precomputed updates.

    Args:
        updates: updates of a layered credax model stacked over draws (every leaf has a leading
            axis of size ``n_draws`` ≥ 2), e.g. from ``jax.vmap`` of a rule's ``update`` over
            rule states.
        gradient: the true gradient, one update tree without the leading axis.

    Returns:
        ``EstimatorStatistics``.
    """
    leaves = jax.tree_util.tree_leaves(updates)
    if not leaves or leaves[0].ndim < 1:
        raise ValueError("expected updates stacked over draws (a leading axis on every leaf)")
    n = leaves[0].shape[0]
    if n < 2:
        raise ValueError(f"expected at least 2 draws to estimate a variance, got {n}")
    if jax.tree_util.tree_structure(updates) != jax.tree_util.tree_structure(gradient):
        raise ValueError("updates and gradient must have the same tree structure")
    for u, g in zip(leaves, jax.tree_util.tree_leaves(gradient)):
        if u.shape != (n, *g.shape):
            raise ValueError(
                f"expected stacked updates of shape ({n}, *{g.shape}) to match the gradient, got "
                f"{u.shape}"
            )

    def variance(tree):
        ls = jax.tree_util.tree_leaves(tree)
        return sum(jnp.sum(jnp.var(leaf.astype(jnp.float32), axis=0, ddof=1)) for leaf in ls)

    mean = jax.tree.map(lambda u: jnp.mean(u.astype(jnp.float32), axis=0), updates)
    g = jax.tree.map(lambda a: a.astype(jnp.float32), gradient)
    flat_mean, flat_g = _flat(mean), _flat(g)
    total = variance(updates)
    layer_var = jnp.stack(
        [variance((lay.weight, lay.bias)) for lay in find_layers(updates)]
    ).astype(jnp.float32)
    flat_draws = jax.vmap(_flat)(jax.tree.map(lambda u: u.astype(jnp.float32), updates))
    cosines = (flat_draws @ flat_g) / (
        jnp.linalg.norm(flat_draws, axis=1) * jnp.linalg.norm(flat_g)
    )
    return EstimatorStatistics(
        bias_angle=angle(mean, g),
        relative_error=jnp.linalg.norm(flat_mean - flat_g) / jnp.linalg.norm(flat_g),
        total_variance=total,
        layer_variance=layer_var,
        snr=jnp.sum(flat_mean**2) / total,
        cosines=cosines,
    )


def estimator_statistics(
    rule: Any, params: Any, batch, *, key: jax.Array, n_draws: int, loss: Loss
) -> EstimatorStatistics:
    """Bias and variance of a rule's update as an estimator of the gradient of ``loss``.

    The rule is initialised with ``n_draws`` keys split from ``key`` and takes one update from
    each state, all by ``jax.vmap``: for a perturbation rule the draws are its noise, for
    feedback alignment its feedback matrices. The updates are compared with
    ``jax.grad`` of the batch loss (see ``EstimatorStatistics`` for the figures and the SNR).
    Backprop has zero variance, zero bias angle and cosines 1; an unbiased estimator has a
    relative error that shrinks like ``1/sqrt(n_draws)``.

    Args:
        rule: a ``credax.LearningRule``.
        params: a layered credax model.
        batch: ``(x, y)``.
        key: PRNG key for the draws.
        n_draws: number of independent rule states (≥ 2).
        loss: the loss the rule descends, ``loss(outputs, y) -> scalar``.

    Returns:
        ``EstimatorStatistics``. Jit it by closing over ``rule``, ``loss`` and ``n_draws``.

    Examples:
        >>> import jax, jax.numpy as jnp, credax
        >>> net = credax.nets.mlp([3, 4, 2], activation=jnp.tanh, key=jax.random.key(0))
        >>> batch = (jnp.ones((5, 3)), jnp.zeros((5, 2)))
        >>> bp = credax.backprop(credax.losses.mse)
        >>> s = credax.metrics.estimator_statistics(
        ...     bp, net, batch, key=jax.random.key(1), n_draws=4, loss=credax.losses.mse)
        >>> float(s.total_variance), s.cosines.shape
        (0.0, (4,))
    """
    if not (hasattr(rule, "init") and hasattr(rule, "update")):
        raise TypeError(f"expected a credax.LearningRule, got {rule!r}")
    if isinstance(n_draws, bool) or not isinstance(n_draws, int):
        raise TypeError(f"expected n_draws to be an int >= 2, got {n_draws!r}")
    if n_draws < 2:
        raise ValueError(f"expected n_draws >= 2 to estimate a variance, got {n_draws}")
    if not callable(loss):
        raise TypeError(f"expected loss to be a callable loss(outputs, y) -> scalar, got {loss!r}")
    x, y = supervised_batch(params, batch)
    with jax.default_matmul_precision("highest"):  # the rule's estimate, not the rounding
        gradient = eqx.filter_grad(lambda p: loss(jax.vmap(p)(x), y))(params)

        def one(k):
            return rule.update(params, rule.init(k, params), (x, y))[0]

        updates = jax.vmap(one)(jax.random.split(key, n_draws))
        return update_statistics(updates, gradient)
