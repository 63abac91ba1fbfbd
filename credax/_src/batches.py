"""What a batch is for each task, checked at trace time with a message naming what was expected.

A rule's task says what its ``batch`` argument holds:

- ``supervised``: ``(x, y)``: inputs ``(B, ...)`` and targets, integer labels ``(B,)`` or arrays
  ``(B, ...)``, for rules that descend a loss (backprop, feedback alignment, perturbation, ...).
  Rules whose reward depends on the network's own action (REINFORCE, AGREL) are supervised
  rules with an internal reward: the labels define the reward, the rule samples the action.
- ``unsupervised``: ``x`` alone (a batch ``(x, y)`` or ``(x, m)`` is accepted and its second
  part ignored, so that an unsupervised rule composes with a supervised or modulated one under
  ``credax.chain``);
- ``modulated``: ``(x, m)``: inputs and a modulator given by the data (a reward, a
  neuromodulator), a scalar ``()`` for the whole batch, one value per example ``(B,)``, or one
  per example and unit ``(B, n)`` (three-factor rules). The modulator is a real number: integer
  arrays are refused, so that labels are never taken for dopamine (``credax.tasks.bandit`` turns
  labels into a reward for a modulated rule).

Sequences carry their time axis inside each example: ``x`` of shape ``(B, T, ...)`` for a model
whose first layer takes ``(T, ...)`` (a temporal layer) or that scans over ``T`` steps; the
batch axis always comes first.

The checks run when a rule's ``update`` is traced: shapes and dtypes only, never values. Under
``jax.jit`` values are not known: integer labels outside ``[0, n_out)`` are then not caught by
a rule (``jax.nn.one_hot`` gives a zero row); ``credax.train.make_fit`` checks the values of the
data it is given, before compiling.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from credax._src.nets._containers import Sequential, declared_input_shape
from credax._src.nets._select import find_layers

SUPERVISED = "supervised"
UNSUPERVISED = "unsupervised"
MODULATED = "modulated"
TASK_NAMES = (SUPERVISED, UNSUPERVISED, MODULATED)


def _array(value: Any, what: str) -> jax.Array:
    if isinstance(value, (str, bytes)) or not (
        hasattr(value, "shape") or hasattr(value, "__array__") or isinstance(value, (int, float))
    ):
        raise TypeError(f"expected {what} to be an array, got {type(value).__name__}")
    return jnp.asarray(value)


def check_inputs(params: Any, x: Any) -> jax.Array:
    """``x`` as a floating-point array ``(B, ...)`` (integer inputs, e.g. ``uint8`` images, are
    cast to the first layer's dtype), checked against the first layer of a ``Sequential``
    (other models check their input when called)."""
    x = _array(x, "inputs x (B, ...)")
    if x.ndim < 1:
        raise ValueError(f"expected inputs x of shape (B, ...), got shape {x.shape}")
    if not jnp.issubdtype(x.dtype, jnp.number) or jnp.issubdtype(x.dtype, jnp.complexfloating):
        raise TypeError(f"expected real inputs x, got dtype {x.dtype}")
    layers = find_layers(params)
    first = layers[0]
    if isinstance(params, Sequential) and params.layers and params.layers[0] is first:
        if x.shape[1:] != tuple(first.in_shape):
            raise ValueError(
                f"expected inputs of shape (B, {', '.join(map(str, first.in_shape))}) for this "
                f"model, got {x.shape}"
            )
    declared = declared_input_shape(params)
    if declared is not None and (x.ndim < 2 or math.prod(x.shape[1:]) != math.prod(declared)):
        raise ValueError(
            f"expected inputs of shape (B, {', '.join(map(str, declared))}) for this model (or "
            f"(B, ...) with {math.prod(declared)} values per example: its encoder flattens "
            f"them), got {x.shape}"
        )
    if x.shape[0] == 0:
        raise ValueError(f"expected a batch of at least one example, got inputs of shape {x.shape}")
    if not jnp.issubdtype(x.dtype, jnp.floating):  # integer images, as they are loaded
        x = x.astype(first.weight.dtype)
    return x


def supervised_batch(params: Any, batch: Any) -> tuple[jax.Array, jax.Array]:
    """A supervised batch ``(x, y)``, checked against ``params``."""
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        raise TypeError(
            f"expected a supervised batch (x, y), got {type(batch).__name__}"
            + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
        )
    x, y = _array(batch[0], "inputs x (B, ...)"), _array(batch[1], "targets y")
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
    return check_inputs(params, _array(batch, "an unsupervised batch x (B, ...)"))


def modulated_batch(params: Any, batch: Any) -> tuple[jax.Array, jax.Array]:
    """A modulated batch ``(x, m)``: ``m`` real, of shape ``()``, ``(B,)`` or ``(B, n)``."""
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        raise TypeError(
            "expected a modulated batch (x, m) with m a scalar, (B,) or (B, n) modulator, got "
            f"{type(batch).__name__}"
            + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
        )
    x = check_inputs(params, batch[0])
    m = _array(batch[1], "the modulator m")
    if jnp.issubdtype(m.dtype, jnp.integer) or m.dtype == jnp.bool_:
        raise TypeError(
            f"expected a real-valued modulator m (a reward or neuromodulator), got dtype "
            f"{m.dtype}; integer labels are not a modulator: for a reward from labels wrap the "
            "rule with credax.tasks.bandit, or cast the modulator to float"
        )
    if not jnp.issubdtype(m.dtype, jnp.floating):
        raise TypeError(f"expected a real-valued modulator m, got dtype {m.dtype}")
    b = x.shape[0]
    if not (m.ndim == 0 or (m.ndim in (1, 2) and m.shape[0] == b)):
        raise ValueError(
            f"expected the modulator m of shape (), ({b},) or ({b}, n) for a batch of {b}, got "
            f"{m.shape}"
        )
    return x, m


BATCHES = {
    SUPERVISED: supervised_batch,
    UNSUPERVISED: unsupervised_batch,
    MODULATED: modulated_batch,
}
