"""Diagnostics: how a rule's updates and feedback relate to backprop's. Pure, jit/vmap-able.

Angles are in degrees. A NaN or inf anywhere in an input makes the affected figure NaN, so a
diverged run shows in every metric rather than passing silently; ``all_finite`` tests for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from credax._src.layers import Feedback, attach, find_layers
from credax._src.rule import Loss, check_batch


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


def _pairs(params: Any, feedback: Sequence[jax.Array]) -> list[tuple[jax.Array, jax.Array]]:
    weights = [layer.weight for layer in find_layers(params)]
    if len(weights) != len(feedback) or any(w.shape != b.shape for w, b in zip(weights, feedback)):
        raise ValueError(
            "expected one feedback matrix per layer, each the shape of its weight "
            f"{[w.shape for w in weights]}, got {[getattr(b, 'shape', None) for b in feedback]}"
        )
    return list(zip(weights, feedback))


def feedback_angles(params: Any, feedback: Sequence[jax.Array]) -> jax.Array:
    """Per-layer angle in degrees between ``W_lᵀ`` and ``B_lᵀ`` (``B_l`` stored in ``W_l``'s
    shape, as in every feedback-path rule's state). Returns ``(n_layers,)``."""
    return jnp.stack([angle(w, b) for w, b in _pairs(params, feedback)])


def norm_ratios(params: Any, feedback: Sequence[jax.Array]) -> jax.Array:
    """Per-layer ``‖B_l‖ / ‖W_l‖``. Returns ``(n_layers,)``."""
    return jnp.stack([jnp.linalg.norm(b) / jnp.linalg.norm(w) for w, b in _pairs(params, feedback)])


def sign_concordance(params: Any, feedback: Sequence[jax.Array]) -> jax.Array:
    """Per-layer fraction of synapses where ``sign(B_l) = sign(W_l)``. Returns ``(n_layers,)``."""
    return jnp.stack([jnp.mean(jnp.sign(w) == jnp.sign(b)) for w, b in _pairs(params, feedback)])


def layer_errors(params: Any, feedback: Sequence[jax.Array] | None, batch, loss: Loss) -> list:
    """The error ``δ_l = ∂L_n/∂a_l`` that each layer's pre-activation receives, per example.

    Args:
        params: a layered credax model.
        feedback: ``B_l`` per layer (feedback-path rules) or None for backprop's errors.
        batch: ``(x, y)``.
        loss: the batched loss; per-example errors are taken on ``B·loss`` so that they do not
            shrink with the batch size.

    Returns:
        A list with one array ``(B, *a_l.shape)`` per layer.
    """
    x, y = check_batch(params, batch)
    layers = find_layers(params)
    offsets = [jnp.zeros((x.shape[0], *layer.out_shape), layer.weight.dtype) for layer in layers]
    mats = [None] * len(layers) if feedback is None else list(feedback)

    def total(zs):
        def one(xi, zi):
            return attach(params, [Feedback(matrix=m, offset=z) for m, z in zip(mats, zi)])(xi)

        return x.shape[0] * loss(jax.vmap(one)(x, zs), y)

    return jax.grad(total)(offsets)


def lillicrap_condition(params: Any, feedback: Sequence[jax.Array], batch, loss: Loss) -> jax.Array:
    """Per-layer fraction of examples meeting Lillicrap's condition ``eᵀ W B e > 0``.

    For layer ``l`` with error ``e = δ_l`` (as feedback alignment delivers it), backprop would
    send ``W_lᵀ e`` to the layer below and feedback alignment sends ``B_lᵀ e``; the condition
    (Lillicrap et al. 2016, for the output layer ``eᵀ W B e > 0``) holds when the two are within
    90°, i.e. ``(W_lᵀ e)·(B_lᵀ e) > 0``, so that the hidden update is a descent direction.

    Returns:
        Array ``(n_layers,)``; the first layer's entry concerns the input, which has no units to
        update, and is reported for completeness.
    """
    pairs = _pairs(params, feedback)
    errors = layer_errors(params, feedback, batch, loss)
    fracs = []
    for layer, (w, b), e in zip(find_layers(params), pairs, errors):
        x0 = jnp.zeros(layer.in_shape, w.dtype)

        def down(m, ei, layer=layer, x0=x0):
            return jax.vjp(lambda xi: layer.linear(m, xi), x0)[1](ei)[0]

        u = jax.vmap(down, in_axes=(None, 0))(w, e)
        v = jax.vmap(down, in_axes=(None, 0))(b, e)
        fracs.append(jnp.mean(jnp.sum((u * v).reshape(u.shape[0], -1), axis=1) > 0))
    return jnp.stack(fracs)


def all_finite(tree: Any) -> jax.Array:
    """Whether every leaf of ``tree`` is finite (False flags a diverged update)."""
    leaves = jax.tree_util.tree_leaves(tree)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in leaves]))
