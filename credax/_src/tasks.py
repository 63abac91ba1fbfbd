"""Tasks: what a batch is, checked at trace time with a message naming what was expected.

A rule's task says what its ``batch`` argument holds:

- ``supervised``: ``(x, y)``: inputs ``(B, ...)`` and targets, integer labels ``(B,)`` or arrays
  ``(B, ...)``, for rules that descend a loss (backprop, feedback alignment, perturbation, ...);
- ``unsupervised``: ``x`` alone (a supervised ``(x, y)`` batch is accepted and ``y`` ignored, so
  that an unsupervised rule composes with a supervised one under ``credax.chain``);
- ``modulated``: ``(x, m)``: inputs and a modulator, a scalar ``()`` for the whole batch, one
  value per example ``(B,)``, or one per example and unit ``(B, n)`` (three-factor rules).

Sequences carry their time axis inside each example: ``x`` of shape ``(B, T, ...)`` for a model
whose first layer takes ``(T, ...)`` (a temporal layer); the batch axis always comes first.

The checks run when a rule's ``update`` is traced: shapes only, never values (values are checked
where arrays are concrete, e.g. label ranges in ``credax.train.make_fit``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from credax._src.layers import Sequential, find_layers

SUPERVISED = "supervised"
UNSUPERVISED = "unsupervised"
MODULATED = "modulated"
TASKS = (SUPERVISED, UNSUPERVISED, MODULATED)


def check_inputs(params: Any, x: Any) -> jax.Array:
    """``x`` as an array ``(B, ...)``, checked against the first layer of a ``Sequential``
    (other models check their input when called)."""
    x = jnp.asarray(x)
    if x.ndim < 1:
        raise ValueError(f"expected inputs x of shape (B, ...), got shape {x.shape}")
    layers = find_layers(params)
    first = layers[0]
    if isinstance(params, Sequential) and params.layers and params.layers[0] is first:
        if x.shape[1:] != tuple(first.in_shape):
            raise ValueError(
                f"expected inputs of shape (B, {', '.join(map(str, first.in_shape))}) for this "
                f"model, got {x.shape}"
            )
    return x


def supervised_batch(params: Any, batch: Any) -> tuple[jax.Array, jax.Array]:
    """A supervised batch ``(x, y)``, checked against ``params``."""
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        raise TypeError(
            f"expected a supervised batch (x, y), got {type(batch).__name__}"
            + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
        )
    x, y = (jnp.asarray(b) for b in batch)
    if x.ndim < 1 or y.ndim < 1 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"expected x of shape (B, ...) and y of shape (B,) or (B, n_out) with the same B, got "
            f"x {x.shape} and y {y.shape}"
        )
    return check_inputs(params, x), y


def unsupervised_batch(params: Any, batch: Any) -> jax.Array:
    """The inputs ``x`` of an unsupervised batch (``x``, or the ``x`` of ``(x, y)``)."""
    if isinstance(batch, (tuple, list)):
        if not batch:
            raise TypeError("expected an unsupervised batch x (B, ...), got an empty tuple")
        batch = batch[0]
    if not hasattr(batch, "shape") and not isinstance(batch, (int, float)):
        raise TypeError(f"expected an unsupervised batch x (B, ...), got {type(batch).__name__}")
    return check_inputs(params, batch)


def modulated_batch(params: Any, batch: Any) -> tuple[jax.Array, jax.Array]:
    """A modulated batch ``(x, m)``: ``m`` of shape ``()``, ``(B,)`` or ``(B, n)``."""
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        raise TypeError(
            "expected a modulated batch (x, m) with m a scalar, (B,) or (B, n) modulator, got "
            f"{type(batch).__name__}"
        )
    x = check_inputs(params, batch[0])
    m = jnp.asarray(batch[1])
    b = x.shape[0]
    if not (m.ndim == 0 or (m.ndim in (1, 2) and m.shape[0] == b)):
        raise ValueError(
            f"expected the modulator m of shape (), ({b},) or ({b}, n) for a batch of {b}, got "
            f"{m.shape}"
        )
    if not jnp.issubdtype(m.dtype, jnp.number) or jnp.issubdtype(m.dtype, jnp.complexfloating):
        raise TypeError(f"expected a real modulator m, got dtype {m.dtype}")
    return x, m


CHECKS = {
    SUPERVISED: supervised_batch,
    UNSUPERVISED: unsupervised_batch,
    MODULATED: modulated_batch,
}
