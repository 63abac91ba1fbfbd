"""The learning-rule contract and the backprop baseline.

A learning rule is a pair of pure functions, modelled on optax's ``GradientTransformation``::

    state = rule.init(key, params)
    updates, state = rule.update(params, state, batch)

``updates`` has the tree structure, shapes and dtypes of ``params`` and the sign of a gradient
(descent subtracts it), so it feeds any optax optimizer unchanged. Everything that changes between
steps lives in ``state``; ``update`` is deterministic given its arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from credax._src.layers import Sequential, find_layers

Params = Any
RuleState = Any
Batch = tuple[jax.Array, jax.Array]
Loss = Callable[[jax.Array, jax.Array], jax.Array]


class LearningRule(NamedTuple):
    """A credit-assignment rule: ``init(key, params) -> state`` and
    ``update(params, state, batch) -> (updates, state)``."""

    init: Callable[[jax.Array, Params], RuleState]
    update: Callable[[Params, RuleState, Batch], tuple[Params, RuleState]]


def check_loss(loss: Any) -> Loss:
    if not callable(loss):
        raise TypeError(
            "expected loss to be a callable loss(outputs (B, n_out), y) -> scalar such as "
            f"credax.losses.softmax_cross_entropy, got {loss!r}"
        )
    return loss


def check_positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"expected {name} to be a number, got {value!r}") from None
    if not (v > 0 or (allow_zero and v == 0)):
        raise ValueError(f"expected {name} {'>= 0' if allow_zero else '> 0'}, got {v}")
    return v


def check_batch(params: Params, batch: Any) -> tuple[jax.Array, jax.Array]:
    """Checks ``batch = (x, y)`` against ``params`` at trace time and returns it."""
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        raise TypeError(f"expected batch = (x, y), got {type(batch).__name__}")
    x, y = (jnp.asarray(b) for b in batch)
    layers = find_layers(params)
    if x.ndim < 1 or y.ndim < 1 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"expected x of shape (B, ...) and y of shape (B,) or (B, n_out) with the same B, got "
            f"x {x.shape} and y {y.shape}"
        )
    first = layers[0]
    if isinstance(params, Sequential) and params.layers and params.layers[0] is first:
        if x.shape[1:] != first.in_shape:
            raise ValueError(
                f"expected inputs of shape (B, {', '.join(map(str, first.in_shape))}) for this "
                f"model, got {x.shape}"
            )
    return x, y


def forward(params: Params, x: jax.Array) -> jax.Array:
    """The model applied to a batch: ``jax.vmap(params)(x)``."""
    return jax.vmap(params)(x)


class BackpropState(NamedTuple):
    """Backprop keeps no state."""


def backprop(loss: Loss) -> LearningRule:
    """Backpropagation: ``updates = ∇_θ L`` exactly, as ``jax.grad`` computes it.

    The baseline every credax metric compares against.

    Args:
        loss: ``loss(outputs, y) -> scalar``, e.g. ``credax.losses.softmax_cross_entropy``.

    Returns:
        A ``LearningRule``.

    Examples:
        >>> import jax, jax.numpy as jnp, credax
        >>> net = credax.nets.mlp([3, 4, 2], activation=jnp.tanh, key=jax.random.key(0))
        >>> rule = credax.backprop(credax.losses.mse)
        >>> state = rule.init(jax.random.key(1), net)
        >>> g, state = rule.update(net, state, (jnp.ones((5, 3)), jnp.zeros((5, 2))))
        >>> g.layers[0].weight.shape
        (4, 3)

    References:
        Rumelhart, Hinton & Williams (1986). Learning representations by back-propagating errors.
    """
    loss = check_loss(loss)

    def init(key, params):
        del key
        find_layers(params)
        return BackpropState()

    def update(params, state, batch):
        x, y = check_batch(params, batch)
        grads = jax.grad(lambda p: loss(forward(p, x), y))(params)
        return grads, state

    return LearningRule(init, update)
