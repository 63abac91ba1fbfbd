"""Parameter-free layers and the sequential container."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from credax._src.nets._dense import check_size


class MaxPool2d(eqx.Module):
    """Max pooling over ``(C, H, W)`` with a square window and stride equal to the window."""

    window: int = eqx.field(static=True)

    def __init__(self, window: int = 2):
        self.window = check_size("window", window)

    def __call__(self, x: jax.Array) -> jax.Array:
        k = self.window
        return lax.reduce_window(x, -jnp.inf, lax.max, (1, k, k), (1, k, k), "VALID")


class Flatten(eqx.Module):
    """Flattens one example to a vector."""

    def __call__(self, x: jax.Array) -> jax.Array:
        return jnp.reshape(x, (-1,))


class Sequential(eqx.Module):
    """A sequence of layers applied in order to one example.

    Attributes:
        layers: a tuple of credax layers (``Dense``, ``Conv2d``) and parameter-free maps
            (``MaxPool2d``, ``Flatten`` or any callable Module, e.g.
            ``equinox.nn.Lambda(jax.numpy.tanh)``).
    """

    layers: tuple

    def __init__(self, layers: Sequence[Any]):
        layers = tuple(layers)
        for i, layer in enumerate(layers):
            if not callable(layer):
                raise TypeError(f"Sequential: item {i} is not callable: {layer!r}")
        self.layers = layers

    def __call__(self, x: jax.Array) -> jax.Array:
        for layer in self.layers:
            x = layer(x)
        return x


def declared_input_shape(model: Any) -> tuple[int, ...] | None:
    """The input shape a ``Sequential`` declares through a first stage that is not a credax
    layer but has an ``in_shape`` (an encoder such as ``credax.spiking.Encode``), or None."""
    from credax._src.nets._layer import Layer

    if not (isinstance(model, Sequential) and model.layers):
        return None
    first = model.layers[0]
    shape = None if isinstance(first, Layer) else getattr(first, "in_shape", None)
    return None if shape is None else tuple(shape)
