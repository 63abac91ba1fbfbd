"""Metrics of feedback-path rules: how the feedback ``B_l`` relates to the forward weights
``W_l``. Pure, jit/vmap-able; angles in degrees."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from credax._src.metrics import angle, layer_errors
from credax._src.nets._select import find_layers


def _pairs(params: Any, feedback: Sequence[jax.Array]) -> list[tuple[jax.Array, jax.Array]]:
    weights = [layer.weight for layer in find_layers(params)]
    if isinstance(feedback, dict) or not isinstance(feedback, Sequence):
        raise TypeError(
            f"expected feedback to be a sequence of matrices, one per layer, got "
            f"{type(feedback).__name__}"
        )
    if len(weights) != len(feedback) or any(
        jnp.shape(w) != jnp.shape(b) for w, b in zip(weights, feedback)
    ):
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


def lillicrap_condition(params: Any, feedback: Sequence[jax.Array], batch, loss) -> jax.Array:
    """Per-layer fraction of examples meeting Lillicrap's condition ``eᵀ W B e > 0``.

    For layer ``l`` with error ``e = δ_l`` (as feedback alignment delivers it), backprop would
    send ``W_lᵀ e`` to the layer below and feedback alignment sends ``B_lᵀ e``; the condition
    (Lillicrap et al. 2016, for the output layer ``eᵀ W B e > 0``) holds when the two are within
    90°, i.e. ``(W_lᵀ e)·(B_lᵀ e) > 0``, so that the hidden update is a descent direction.
    For a layer applied at several steps, each (example, step) counts once.

    Returns:
        Array ``(n_layers,)``; the first layer's entry concerns the input, which has no units to
        update, and is reported for completeness.
    """
    pairs = _pairs(params, feedback)
    errors = layer_errors(params, feedback, batch, loss)
    fracs = []
    for layer, (w, b), e in zip(find_layers(params), pairs, errors):
        x0 = jnp.zeros(layer.in_shape, w.dtype)
        e = e.reshape(-1, *layer.out_shape)

        def down(m, ei, layer=layer, x0=x0):
            return jax.vjp(lambda xi: layer.linear(m, xi), x0)[1](ei)[0]

        with jax.default_matmul_precision("highest"):
            u = jax.vmap(down, in_axes=(None, 0))(w, e)
            v = jax.vmap(down, in_axes=(None, 0))(b, e)
        fracs.append(jnp.mean(jnp.sum((u * v).reshape(u.shape[0], -1), axis=1) > 0))
    return jnp.stack(fracs)
