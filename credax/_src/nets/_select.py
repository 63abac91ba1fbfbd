"""Finding, replacing and selecting the credax layers of a model, and the arrays outside them.

Models are equinox Modules and may hold leaves that are not arrays (``equinox.nn.Lambda``'s
function, an integer, ``equinox.nn.Shared``'s accessors): rules differentiate and update only
inexact (floating-point) arrays, as ``equinox.filter_grad`` does, and their updates hold None
where the model holds anything else, so they apply with ``equinox.apply_updates`` (for models
of arrays only, ``optax.apply_updates`` works as well).

Arrays outside credax layers (a plain ``equinox.nn.Linear``, a learned scale) are constants to
every rule but backprop: errors and activity pass through the functions they define like through
any JAX function, their updates are zero (``only_layers``), a rule's ``init`` warns once, naming
them, and the per-layer metrics cover credax layers only.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from credax._src.checks import check_arity
from credax._src.nets._layer import Layer


def is_layer(node: Any) -> bool:
    """Whether ``node`` is a parametrised credax layer (a ``Layer``)."""
    return isinstance(node, Layer)


def find_layers(model: Any) -> list[Layer]:
    """The parametrised credax layers of ``model``, in pytree order (input to output for
    ``Sequential``).

    Raises:
        TypeError: if ``model`` contains none.
    """
    layers = [n for n in jax.tree_util.tree_leaves(model, is_leaf=is_layer) if is_layer(n)]
    if not layers:
        raise TypeError(
            "expected params to be a layered credax model (an equinox Module built from "
            f"credax.nets.Dense / Conv2d layers, e.g. credax.nets.mlp), got {type(model).__name__} "
            "with no credax layer in it"
        )
    return layers


def map_layers(fn: Callable[[int, Layer], Any], model: Any) -> Any:
    """Replaces the ``i``-th credax layer ``l`` of ``model`` by ``fn(i, l)``."""
    leaves, treedef = jax.tree_util.tree_flatten(model, is_leaf=is_layer)
    out, i = [], 0
    for leaf in leaves:
        if is_layer(leaf):
            out.append(fn(i, leaf))
            i += 1
        else:
            out.append(leaf)
    return jax.tree_util.tree_unflatten(treedef, out)


def is_trainable(leaf: Any) -> bool:
    """An inexact (floating-point) array: what rules differentiate and update."""
    return eqx.is_inexact_array(leaf)


def trainable(tree: Any) -> Any:
    """``tree`` with None in place of every leaf that is not an inexact array
    (``equinox.filter(tree, equinox.is_inexact_array)``)."""
    return eqx.filter(tree, is_trainable)


def zeros_like(tree: Any) -> Any:
    """Zero updates for ``tree``: zeros at its inexact arrays, None elsewhere."""
    return jax.tree_util.tree_map(jnp.zeros_like, trainable(tree))


def foreign_arrays(model: Any) -> list[str]:
    """Paths of the floating-point arrays of ``model`` that lie outside credax layers (e.g. a
    plain ``equinox.nn.Linear``): constants to every rule but backprop (module docstring)."""
    flat, _ = jax.tree_util.tree_flatten_with_path(model, is_leaf=is_layer)
    return [
        jax.tree_util.keystr(path) or "(the model itself)"
        for path, leaf in flat
        if not is_layer(leaf) and is_trainable(leaf)
    ]


def warn_foreign(model: Any, rule_name: str) -> None:
    """Warns, naming them, when ``model`` holds arrays that ``rule_name`` will not train."""
    paths = foreign_arrays(model)
    if paths:
        warnings.warn(
            f"{rule_name}: the model's arrays {', '.join(paths[:8])}"
            f"{' ...' if len(paths) > 8 else ''} lie outside credax layers; this rule assigns "
            "credit to credax.nets.Layer parameters only, so their updates are zero (build them "
            "from credax layers to train them)",
            stacklevel=3,
        )


def only_layers(tree: Any) -> Any:
    """Updates ``tree`` with every floating-point array outside credax layers set to zeros and
    every leaf that is not an inexact array set to None (module docstring)."""
    leaves, treedef = jax.tree_util.tree_flatten(tree, is_leaf=is_layer)
    out = []
    for leaf in leaves:
        if is_layer(leaf):
            out.append(trainable(leaf))
        elif is_trainable(leaf):
            out.append(jnp.zeros_like(leaf))
        else:
            out.append(None)
    return jax.tree_util.tree_unflatten(treedef, out)


def layer_mask(model: Any, which: int | Sequence[int] | Callable[[int, Layer], bool]) -> Any:
    """A mask with ``model``'s structure: True on the arrays of the chosen credax layers.

    For ``credax.masked``: e.g. ``layer_mask(net, 0)`` selects the first layer,
    ``layer_mask(net, [1, 2])`` the next two, ``layer_mask(net, lambda i, l: i > 0)`` all but
    the first. Negative indices count from the last layer (in pytree order).

    Args:
        model: a layered credax model.
        which: a layer index, a sequence of indices, or ``fn(index, layer) -> bool``.

    Returns:
        A pytree of Python bools with ``model``'s structure (False outside credax layers).
    """
    layers = find_layers(model)
    n = len(layers)
    if callable(which):
        check_arity("layer_mask's which", which, 2, "which(index, layer) -> bool")
        chosen = {i for i, layer in enumerate(layers) if bool(which(i, layer))}
    else:
        if isinstance(which, numbers.Integral) and not isinstance(which, bool):
            items = [which]
        elif isinstance(which, (list, tuple, range)):
            items = list(which)
        else:
            raise TypeError(
                "layer_mask: expected a layer index, a sequence of indices or which(index, layer)"
                f" -> bool, got {which!r}"
            )
        chosen = set()
        for i in items:
            if isinstance(i, bool) or not isinstance(i, numbers.Integral) or not -n <= i < n:
                raise ValueError(f"layer_mask: expected layer indices in [-{n}, {n}), got {i!r}")
            chosen.add(int(i) % n)
    marked = map_layers(lambda i, l: _Marked(i in chosen, l), model)
    return jax.tree_util.tree_map(
        lambda node: (
            jax.tree_util.tree_map(lambda _: node.on, node.layer)
            if isinstance(node, _Marked)
            else False
        ),
        marked,
        is_leaf=lambda node: isinstance(node, _Marked),
    )


class _Marked:
    """A layer with a flag, for ``layer_mask`` (not a pytree: a leaf of the marked tree)."""

    def __init__(self, on: bool, layer: Layer):
        self.on, self.layer = on, layer
