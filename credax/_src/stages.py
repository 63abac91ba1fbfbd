"""A chain of dense layers seen stage by stage: what target propagation, predictive coding and
equilibrium propagation need beyond ``trace``.

These rules move activities layer by layer (a target ``t_{l+1}`` sent down through an inverse, a
value node relaxed against its neighbours), so they need each layer as a function of the layer
below, ``f_l(h_{l-1})``, not only the activities of one forward pass. That is well defined for a
chain: a ``credax.nets.Sequential`` whose credax layers are ``Dense`` (one vector per example),
with any parameter-free maps (``Flatten``, a fixed nonlinearity) before, between or after them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from credax._src.nets._containers import Sequential
from credax._src.nets._dense import Dense
from credax._src.nets._layer import Layer
from credax._src.nets._select import find_layers, is_layer


class Chain(NamedTuple):
    """A ``Sequential`` split at its credax layers.

    Attributes:
        layers: the ``Dense`` layers ``f_0 .. f_{N-1}``.
        before: ``before[l]``, the parameter-free maps applied between layer ``l-1`` (the input
            for ``l = 0``) and layer ``l``.
        after: the parameter-free maps applied to the last layer's output.
    """

    layers: tuple
    before: tuple
    after: tuple

    def stage(self, l: int, h: jax.Array) -> jax.Array:
        """``f_l(h_{l-1})`` for one example: layer ``l`` applied to the layer below's output."""
        return self.layers[l](self.into(l, h))

    def into(self, l: int, h: jax.Array) -> jax.Array:
        """Layer ``l``'s input given the output ``h`` of layer ``l-1`` (or the network input)."""
        for m in self.before[l]:
            h = m(h)
        return h

    def head(self, h: jax.Array) -> jax.Array:
        """The network's output given the last layer's output."""
        for m in self.after:
            h = m(h)
        return h


def dense_chain(model: Any, rule: str, *, min_layers: int = 2) -> Chain:
    """Splits ``model`` into a :class:`Chain`, or raises naming what was expected.

    Raises:
        ValueError: ``model`` is not a ``credax.nets.Sequential`` of ``Dense`` layers and
            parameter-free maps, or has fewer than ``min_layers`` credax layers.
    """
    find_layers(model)  # a TypeError for a model without credax layers
    name = type(model).__name__
    if not isinstance(model, Sequential):
        raise ValueError(
            f"{rule}: expected a chain of layers (credax.nets.Sequential, e.g. credax.nets.mlp), "
            f"got {name}; the rule moves activities layer by layer and needs each layer as a "
            "function of the one below"
        )
    layers, before, pending = [], [], []
    for i, item in enumerate(model.layers):
        if is_layer(item):
            if not isinstance(item, Dense):
                raise ValueError(
                    f"{rule}: expected Dense layers (one vector per example), got "
                    f"{type(item).__name__} at position {i} of the Sequential"
                )
            layers.append(item)
            before.append(tuple(pending))
            pending = []
        else:
            if any(is_layer(x) for x in jax.tree_util.tree_leaves(item, is_leaf=is_layer)):
                raise ValueError(
                    f"{rule}: expected the Sequential's credax layers at its top level, got a "
                    f"nested {type(item).__name__} at position {i} holding credax layers"
                )
            leaves = jax.tree_util.tree_leaves(item)
            if any(hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.inexact) for x in leaves):
                raise ValueError(
                    f"{rule}: expected only credax layers and parameter-free maps in the chain, "
                    f"got {type(item).__name__} with arrays at position {i}"
                )
            pending.append(item)
    if len(layers) < min_layers:
        raise ValueError(
            f"{rule}: expected at least {min_layers} Dense layers (a hidden layer to assign credit "
            f"to), got {len(layers)}"
        )
    return Chain(tuple(layers), tuple(before), tuple(pending))


def activation_vjp(layer: Layer, a: jax.Array, e: jax.Array) -> jax.Array:
    """``e`` pulled back through ``layer``'s activation at pre-activations ``a`` (a batch):
    ``e ⊙ σ'(a)`` for an elementwise ``σ``, the full Jacobian-transpose product otherwise."""
    return jax.vmap(lambda ai, ei: jax.vjp(layer.activation, ai)[1](ei.astype(ai.dtype))[0])(a, e)
