"""The learning-rule contract and the backprop baseline.

A learning rule is a pair of pure functions, modelled on optax's ``GradientTransformation``::

    state = rule.init(key, params)
    updates, state = rule.update(params, state, batch)

``updates`` has the tree structure, shapes and dtypes of ``params`` and the sign of a gradient
(descent subtracts it), so it feeds any optax optimizer unchanged. Everything that changes between
steps lives in ``state``; ``update`` is deterministic given its arguments.

Two optional members serve the training engine without it knowing any family:

- ``update_with_value(params, state, batch) -> (updates, state, value)``: the same step, also
  returning the scalar objective the rule computed on the way (the batch loss for supervised
  rules), so the engine records a running training loss without a second forward pass;
- ``diagnostics(params, state, batch) -> dict[str, Array]``: the rule's own records (feedback
  angles, E/I balance, ...), taken at every evaluation of ``credax.train.make_fit``;
- ``predict(params, x) -> outputs``: how the network the rule trains computes its outputs on a
  batch, for rules whose network is not the feedforward pass ``jax.vmap(params)(x)`` (the free
  equilibrium of equilibrium propagation); None means the feedforward pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from credax._src.checks import as_key, check_callable
from credax._src.layers import find_layers, only_layers, warn_foreign
from credax._src.tasks import check_inputs, supervised_batch

Params = Any
RuleState = Any
Batch = Any
Loss = Callable[[jax.Array, jax.Array], jax.Array]
InitFn = Callable[[jax.Array, Params], RuleState]
UpdateFn = Callable[[Params, RuleState, Batch], tuple[Params, RuleState]]
ValueUpdateFn = Callable[[Params, RuleState, Batch], tuple[Params, RuleState, jax.Array]]
DiagnosticsFn = Callable[[Params, RuleState, Batch], dict[str, jax.Array]]
PredictFn = Callable[[Params, jax.Array], jax.Array]


class LearningRule(NamedTuple):
    """A credit-assignment rule: ``init(key, params) -> state`` and
    ``update(params, state, batch) -> (updates, state)``.

    Attributes:
        init: ``init(key, params) -> state``; ``key`` is a PRNG key or an int seed.
        update: ``update(params, state, batch) -> (updates, state)``.
        update_with_value: optional, the same step returning ``(updates, state, value)`` with
            the scalar objective computed on the way (None if the rule has none).
        diagnostics: optional ``diagnostics(params, state, batch) -> dict`` of named arrays the
            rule reports about itself.
        predict: optional ``predict(params, x) -> outputs`` for a batch ``x``, when the trained
            network's outputs are not its feedforward pass (None: ``jax.vmap(params)(x)``).
    """

    init: InitFn
    update: UpdateFn
    update_with_value: ValueUpdateFn | None = None
    diagnostics: DiagnosticsFn | None = None
    predict: PredictFn | None = None


def make_rule(
    name: str,
    init: InitFn,
    update_with_value: ValueUpdateFn,
    *,
    diagnostics: DiagnosticsFn | None = None,
    layers_only: bool = True,
) -> LearningRule:
    """Assembles a ``LearningRule`` from ``init`` and ``update_with_value``, adding what every
    credax rule shares: int seeds as keys, a check that ``params`` is a layered model, and (with
    ``layers_only``) zero updates, with a warning at ``init``, for arrays outside credax layers.

    Args:
        name: the rule's name, used in messages.
        init: ``init(key, params) -> state`` (receives a PRNG key).
        update_with_value: ``(params, state, batch) -> (updates, state, value)``.
        diagnostics: optional records the rule reports (see ``LearningRule``).
        layers_only: whether the rule trains credax layers only.
    """

    def init_fn(key, params):
        key = as_key(key, f"{name} init key")
        find_layers(params)
        if layers_only:
            warn_foreign(params, name)
        return init(key, params)

    def update_with_value_fn(params, state, batch):
        updates, state, value = update_with_value(params, state, batch)
        return (only_layers(updates) if layers_only else updates), state, value

    def update_fn(params, state, batch):
        updates, state, _ = update_with_value_fn(params, state, batch)
        return updates, state

    return LearningRule(init_fn, update_fn, update_with_value_fn, diagnostics)


def check_loss(loss: Any) -> Loss:
    return check_callable(
        "loss",
        loss,
        "loss(outputs (B, n_out), y) -> scalar such as credax.losses.softmax_cross_entropy",
    )


def check_batch(params: Params, batch: Any) -> tuple[jax.Array, jax.Array]:
    """Checks a supervised ``batch = (x, y)`` against ``params`` at trace time."""
    return supervised_batch(params, batch)


def forward(params: Params, x: jax.Array) -> jax.Array:
    """The model applied to a batch: ``jax.vmap(params)(x)``."""
    return jax.vmap(params)(x)


class BackpropState(NamedTuple):
    """Backprop keeps no state."""


def backprop(loss: Loss) -> LearningRule:
    """Backpropagation: ``updates = ∇_θ L`` exactly, as ``jax.grad`` computes it.

    The baseline every credax metric compares against. Unlike the other rules it trains every
    floating-point array of the model, inside credax layers or not.

    Args:
        loss: ``loss(outputs, y) -> scalar``, e.g. ``credax.losses.softmax_cross_entropy``.

    Returns:
        A ``LearningRule`` (supervised task); its value is the batch loss.

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
        del key, params
        return BackpropState()

    def update_with_value(params, state, batch):
        x, y = check_batch(params, batch)
        value, grads = jax.value_and_grad(lambda p: loss(forward(p, x), y))(params)
        return grads, state, value

    return make_rule("backprop", init, update_with_value, layers_only=False)


def batch_inputs(params: Params, batch: Any) -> jax.Array:
    """The inputs ``x`` of a supervised, unsupervised or modulated batch."""
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    return check_inputs(params, x)


def zeros_like_params(params: Params) -> Params:
    return jax.tree_util.tree_map(jnp.zeros_like, params)
