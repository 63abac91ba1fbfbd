"""How feedback rules change a network's backward pass, as hooks on its credax layers.

- ``Transport(model, matrices)`` (feedback alignment and relatives): while active, the
  input-cotangent of each layer's linear map ``f_l`` is computed with ``B_l`` in place of
  ``W_l`` (``δh_{l-1} = f_l(B_l, ·)ᵀ δa_l``; for a dense layer ``B_lᵀ δa_l``), while the
  weight-gradient is the true one. It is a ``jax.custom_jvp`` whose tangent rule is linear, so
  its transpose is two ordinary matrix products that batch well under ``vmap``.
- ``Direct(model, matrices, error, output_layer)`` (direct feedback alignment): the cotangent
  that reaches a hidden layer's output ``h_l`` is replaced by the output error ``e`` sent
  through a fixed matrix ``B_l``.

Both are entered inside the function being differentiated, on the model it receives, so that
they work inside any JAX code that calls credax layers, a user's own equinox model included.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from credax._src.nets._layer import Hook


@partial(jax.custom_jvp, nondiff_argnums=(0,))
def _with_feedback(fn: Callable, w: jax.Array, b: jax.Array, x: jax.Array) -> jax.Array:
    return fn(w, x)


@_with_feedback.defjvp
def _with_feedback_jvp(fn, primals, tangents):
    w, b, x = primals
    dw, _, dx = tangents
    # The input-tangent goes through B instead of W; transposed, δx = f(B, ·)ᵀ δa.
    return fn(w, x), fn(dw, x) + fn(b, dx)


@jax.custom_vjp
def _direct_tap(h: jax.Array, matrix: jax.Array, error: jax.Array) -> jax.Array:
    return h


def _direct_tap_fwd(h, matrix, error):
    return h, (matrix, error)


def _direct_tap_bwd(res, g):
    del g  # DFA ignores the cotangent arriving from above.
    matrix, error = res
    return jnp.tensordot(error, matrix, axes=1).astype(matrix.dtype), None, None


_direct_tap.defvjp(_direct_tap_fwd, _direct_tap_bwd)


class Transport(Hook):
    """Feedback matrices ``B_l`` (each ``W_l``'s shape) on the backward path of every layer."""

    def __init__(self, model: Any, matrices: Sequence[jax.Array]):
        super().__init__(model)
        self.matrices = list(matrices)

    def linear(self, index, layer, x):
        return _with_feedback(layer.linear, layer.weight, self.matrices[index], x)


class Direct(Hook):
    """The output error ``e`` sent to each hidden layer's output through ``B_l``: the cotangent
    at ``h_l`` becomes ``e·B_l``, contracting ``e``'s last (unit) axis with ``B_l``'s first
    (``B_l`` of shape ``(n_out, *h_l.shape)``; with a temporal output ``e`` of shape
    ``(T, n_out)`` and ``h_l`` of shape ``(T, ...)``, ``B_l`` of shape ``(n_out, ...)`` maps each
    step's error to the same step)."""

    def __init__(self, model: Any, matrices: Sequence[jax.Array | None], error: jax.Array):
        super().__init__(model)
        self.matrices, self.error = list(matrices), error

    def output(self, index, layer, h):
        b = self.matrices[index]
        return h if b is None else _direct_tap(h, b, self.error)


def transported_gradients(objective: Callable, params: Any, matrices: Sequence[jax.Array]):
    """``(value, grads)`` of ``objective(params)`` with every layer's backward path through
    ``matrices``; grads hold None where params hold anything but a floating-point array."""

    def with_transport(p):
        with Transport(p, matrices):
            return objective(p)

    return eqx.filter_value_and_grad(with_transport)(params)
