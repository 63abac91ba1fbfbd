"""The dense layer, and the checks of layer sizes and activations shared by every layer."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from credax._src.checks import as_key, check_callable
from credax._src.nets._layer import Layer, identity


def uniform(key, shape, bound, dtype):
    return jax.random.uniform(key, shape, dtype, -bound, bound)


def check_size(name: str, value: Any) -> int:
    """A positive int layer size (``16.7`` is refused, not truncated)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"expected {name} to be a positive int, got {value!r}")
    if value < 1:
        raise ValueError(f"expected {name} to be a positive int, got {value}")
    return int(value)


def check_activation(value: Any) -> Callable:
    if isinstance(value, str):
        raise TypeError(
            f"expected activation to be a callable such as jax.numpy.tanh or jax.nn.relu, got "
            f"the string {value!r}"
        )
    return check_callable("activation", value, "σ(a) such as jax.numpy.tanh")


def _matvec(weight: jax.Array, x: jax.Array) -> jax.Array:
    return weight @ x


class Dense(Layer):
    """A dense layer ``h = σ(W x + b)``.

    Attributes:
        weight: ``W``, shape ``(out_features, in_features)``.
        bias: ``b``, shape ``(out_features,)``, or None.
    """

    weight: jax.Array
    bias: jax.Array | None
    activation: Callable = eqx.field(static=True)

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        key: jax.Array | int,
        activation: Callable = identity,
        use_bias: bool = True,
        dtype=jnp.float32,
    ):
        """Glorot-uniform weights and zero biases (the initialisation of the published
        feedback-alignment benchmarks).

        Args:
            in_features: input size.
            out_features: output size.
            key: a PRNG key or an int seed.
            activation: ``σ``, a function of the whole pre-activation ``(out_features,)``.
            use_bias: whether to add a bias.
            dtype: parameter dtype.
        """
        n_in = check_size("in_features", in_features)
        n_out = check_size("out_features", out_features)
        key = as_key(key, "Dense key")
        bound = math.sqrt(6.0 / (n_in + n_out))
        self.weight = uniform(key, (n_out, n_in), bound, dtype)
        self.bias = jnp.zeros((n_out,), dtype) if use_bias else None
        self.activation = check_activation(activation)

    @property
    def linear(self):
        return _matvec

    @property
    def in_shape(self):
        return (self.weight.shape[1],)

    @property
    def out_shape(self):
        return (self.weight.shape[0],)
