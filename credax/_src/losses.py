"""Losses: batched means of per-example losses, with their inputs checked at trace time."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike


def _targets(out: jax.Array, y: ArrayLike, name: str) -> jax.Array:
    """Returns float targets of ``out``'s shape; integer labels become one-hot vectors."""
    if out.ndim != 2:
        raise ValueError(f"{name}: expected outputs of shape (B, n_out), got {out.shape}")
    y = jnp.asarray(y) if not isinstance(y, jax.Array) else y
    n, k = out.shape
    if jnp.issubdtype(y.dtype, jnp.integer):
        if y.shape != (n,):
            raise ValueError(f"{name}: expected integer labels of shape ({n},), got {y.shape}")
        if not isinstance(y, jax.core.Tracer):
            lo, hi = int(np.min(np.asarray(y))), int(np.max(np.asarray(y)))
            if lo < 0 or hi >= k:
                raise ValueError(
                    f"{name}: labels must lie in [0, {k}) for {k} outputs, got values in "
                    f"[{lo}, {hi}]"
                )
        return jax.nn.one_hot(y, k, dtype=out.dtype)
    if y.shape != out.shape:
        raise ValueError(
            f"{name}: expected targets of shape {out.shape} (or integer labels ({n},)), got "
            f"{y.shape}"
        )
    return y.astype(out.dtype)


def softmax_cross_entropy(logits: ArrayLike, y: ArrayLike) -> jax.Array:
    """Mean over the batch of ``-Σ_k t_k log softmax(z)_k``.

    Args:
        logits: ``z``, shape ``(B, K)``.
        y: integer labels ``(B,)`` in ``[0, K)`` or target distributions ``(B, K)`` (checked
            when concrete: entries ``>= 0``, rows summing to 1; under ``jax.jit`` values are not
            checked, see ``credax.tasks.check``).

    Returns:
        A scalar. Its gradient with respect to ``z`` is ``(softmax(z) - t) / B``.

    Examples:
        >>> import jax.numpy as jnp
        >>> float(softmax_cross_entropy(jnp.zeros((2, 4)), jnp.array([0, 3])))  # log 4
        1.386...
    """
    logits = jnp.asarray(logits)
    t = _targets(logits, y, "softmax_cross_entropy")
    if jnp.issubdtype(jnp.asarray(y).dtype, jnp.floating) and not isinstance(y, jax.core.Tracer):
        yy = np.asarray(y, np.float64)
        if yy.size and (yy.min() < 0 or np.abs(yy.sum(-1) - 1).max() > 1e-3):
            raise ValueError(
                "softmax_cross_entropy: expected soft targets that are distributions (entries "
                f">= 0, each row summing to 1), got entries in [{yy.min():.3g}, {yy.max():.3g}] "
                f"and row sums in [{yy.sum(-1).min():.3g}, {yy.sum(-1).max():.3g}]"
            )
    return -jnp.mean(jnp.sum(t * jax.nn.log_softmax(logits), axis=-1))


def mse(out: ArrayLike, y: ArrayLike) -> jax.Array:
    """Mean over the batch of ``½‖e‖²`` with ``e = y - ŷ`` (Lillicrap et al. 2016).

    Args:
        out: ``ŷ``, shape ``(B, n)``.
        y: targets ``(B, n)``, or integer labels ``(B,)`` (compared with one-hot vectors).

    Returns:
        A scalar.

    Examples:
        >>> import jax.numpy as jnp
        >>> float(mse(jnp.ones((2, 3)), jnp.zeros((2, 3))))
        1.5
    """
    out = jnp.asarray(out)
    t = _targets(out, y, "mse")
    return jnp.mean(0.5 * jnp.sum((t - out) ** 2, axis=-1))


def accuracy(logits: ArrayLike, y: ArrayLike) -> jax.Array:
    """Fraction of examples whose arg-max output equals the label (or the target's arg-max)."""
    logits = jnp.asarray(logits)
    y = jnp.asarray(y)
    if not jnp.issubdtype(y.dtype, jnp.integer):
        y = jnp.argmax(y, axis=-1)
    return jnp.mean(jnp.argmax(logits, axis=-1) == y)
