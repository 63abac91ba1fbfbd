"""The learning-rule contract, its one normaliser, and the backprop baseline.

A learning rule is a pair of pure functions, modelled on optax's ``GradientTransformation``::

    state = rule.init(key, params)
    updates, state = rule.update(params, state, batch)

``updates`` has the tree structure, shapes and dtypes of ``params`` (None where params hold a
leaf that is not a floating-point array, as ``equinox.filter_grad`` gives) and the sign of a
gradient (descent subtracts it), so it feeds any optax optimizer unchanged. Everything that
changes between steps lives in ``state``; ``update`` is deterministic given its arguments.

Optional members serve the training engine and the evaluations without them knowing any family:

- ``update_with_value(params, state, batch) -> (updates, state, value)``: the same step, also
  returning the scalar objective the rule computed on the way (the batch loss for supervised
  rules), or None for a rule that descends no objective (a Hebbian rule): the engine records a
  running training loss from it without a second forward pass, and no loss where there is none;
- ``diagnostics(params, state, batch) -> dict[str, Array]``: the rule's own records (feedback
  angles, E/I balance, ...);
- ``predict(params, x) -> outputs``: how the network the rule trains computes its outputs on a
  batch (the free equilibrium of equilibrium propagation); by default the feedforward pass;
- ``task``: the name of the task whose batches ``update`` takes (``credax.tasks``).

``complete(rule)`` fills every optional member in once (as optax's
``with_extra_args_support`` does); every consumer (``chain``, ``masked``, the engine, the
evaluations) calls it instead of probing for members.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from credax._src.batches import SUPERVISED, TASK_NAMES, supervised_batch
from credax._src.checks import as_key, check_callable
from credax._src.nets._select import find_layers, only_layers, warn_foreign

Params = Any
RuleState = Any
Batch = Any
Loss = Callable[[jax.Array, jax.Array], jax.Array]
InitFn = Callable[[jax.Array, Params], RuleState]
UpdateFn = Callable[[Params, RuleState, Batch], tuple[Params, RuleState]]
ValueUpdateFn = Callable[[Params, RuleState, Batch], tuple[Params, RuleState, Any]]
DiagnosticsFn = Callable[[Params, RuleState, Batch], dict[str, jax.Array]]
PredictFn = Callable[[Params, jax.Array], jax.Array]


class LearningRule(NamedTuple):
    """A credit-assignment rule: ``init(key, params) -> state`` and
    ``update(params, state, batch) -> (updates, state)``.

    Attributes:
        init: ``init(key, params) -> state``; ``key`` is a PRNG key or an int seed.
        update: ``update(params, state, batch) -> (updates, state)``.
        update_with_value: optional, the same step returning ``(updates, state, value)`` with
            the scalar objective computed on the way, or None as ``value`` for a rule without
            an objective.
        diagnostics: optional ``diagnostics(params, state, batch) -> dict`` of named arrays the
            rule reports about itself.
        predict: optional ``predict(params, x) -> outputs`` for a batch ``x``, when the trained
            network's outputs are not its feedforward pass ``jax.vmap(params)(x)``.
        task: optional name of the task of its batches (``"supervised"``, ``"unsupervised"``,
            ``"modulated"``; see ``credax.tasks``).
    """

    init: InitFn
    update: UpdateFn
    update_with_value: ValueUpdateFn | None = None
    diagnostics: DiagnosticsFn | None = None
    predict: PredictFn | None = None
    task: str | None = None


class EmptyState(NamedTuple):
    """The state of a rule that keeps none between batches."""


def init_empty(key: Any, params: Any) -> EmptyState:
    """``init`` of a rule without state."""
    del key, params
    return EmptyState()


def forward(params: Params, x: jax.Array) -> jax.Array:
    """The model applied to a batch: ``jax.vmap(params)(x)``."""
    return jax.vmap(params)(x)


def _no_diagnostics(params, state, batch) -> dict:
    del params, state, batch
    return {}


def check_task(task: Any, where: str) -> str | None:
    if task is not None and task not in TASK_NAMES:
        raise ValueError(f"{where}: unknown task {task!r}; expected one of {', '.join(TASK_NAMES)}")
    return task


def complete(rule: Any, where: str = "rule") -> LearningRule:
    """``rule`` with every optional member filled in: ``update_with_value`` (value None when the
    rule reports none), ``diagnostics`` (no records), ``predict`` (the feedforward pass).

    Accepts any object with callable ``init`` and ``update`` (and, optionally, the other
    members as attributes); the one place where optional members are looked for.

    Raises:
        TypeError: naming ``where``, when ``rule`` has no callable ``init`` and ``update``.
    """
    init, update = getattr(rule, "init", None), getattr(rule, "update", None)
    if not (callable(init) and callable(update)):
        raise TypeError(
            f"{where}: expected a credax.LearningRule (init and update functions), got {rule!r}"[
                :300
            ]
        )
    value_fn = getattr(rule, "update_with_value", None)
    diagnostics = getattr(rule, "diagnostics", None)
    predict = getattr(rule, "predict", None)
    task = check_task(getattr(rule, "task", None), where)
    if value_fn is None:

        def value_fn(params, state, batch):
            updates, state = update(params, state, batch)
            return updates, state, None

    return LearningRule(
        init,
        update,
        value_fn,
        diagnostics if diagnostics is not None else _no_diagnostics,
        predict if predict is not None else forward,
        task,
    )


def make_rule(
    name: str,
    init: InitFn,
    *,
    update: UpdateFn | None = None,
    update_with_value: ValueUpdateFn | None = None,
    diagnostics: DiagnosticsFn | None = None,
    predict: PredictFn | None = None,
    task: str | None = None,
    layers_only: bool = True,
    check_state: bool = True,
) -> LearningRule:
    """Assembles a complete ``LearningRule`` with what every credax rule shares: int seeds as
    keys, a check that ``params`` is a layered model, and (with ``layers_only``) zero updates,
    with a warning at ``init``, for arrays outside credax layers.

    Give exactly one of ``update`` (a rule that reports no objective: its value is None, and the
    engine records no training loss for it) and ``update_with_value``.

    Args:
        name: the rule's name, used in messages.
        init: ``init(key, params) -> state`` (receives a PRNG key).
        update: ``(params, state, batch) -> (updates, state)``.
        update_with_value: ``(params, state, batch) -> (updates, state, value)``.
        diagnostics: optional records the rule reports (see ``LearningRule``).
        predict: optional ``predict(params, x)`` (see ``LearningRule``).
        task: the task of the rule's batches (``credax.tasks``), e.g. ``"unsupervised"``.
        layers_only: whether the rule trains credax layers only.
        check_state: whether ``update`` checks, when traced, that the state has the structure
            and shapes ``init`` gives for the model (a state of another rule or model is then
            refused in one line naming both); off for rules whose state may be replaced by
            parts of another structure.

    Examples:
        A Hebbian rule, ``Δw = η y xᵀ`` on every layer, with ``updates = -Δw``:

        >>> import jax, jax.numpy as jnp, credax
        >>> def update(params, state, batch):
        ...     x = credax.tasks.unsupervised_batch(params, batch)
        ...     t = credax.nets.trace(params, x)
        ...     return credax.nets.local_updates(params, t.inputs, [-h for h in t.outputs]), state
        >>> hebb = credax.make_rule("hebb", credax.init_empty, update=update, task="unsupervised")
        >>> net = credax.nets.mlp([3, 2], activation=jnp.tanh, key=0)
        >>> g, _, value = hebb.update_with_value(net, hebb.init(0, net), jnp.ones((4, 3)))
        >>> g.layers[0].weight.shape, value is None
        ((2, 3), True)
    """
    if (update is None) == (update_with_value is None):
        raise TypeError(f"make_rule({name!r}): give exactly one of update and update_with_value")
    check_callable("init", init, "init(key, params) -> state")
    for label, fn in (("diagnostics", diagnostics), ("predict", predict)):
        if fn is not None:
            check_callable(label, fn, f"{label} function")
    task = check_task(task, f"make_rule({name!r})")
    if update_with_value is None:
        check_callable("update", update, "update(params, state, batch) -> (updates, state)")
        step = update

        def update_with_value(params, state, batch):
            updates, state = step(params, state, batch)
            return updates, state, None
    else:
        check_callable(
            "update_with_value",
            update_with_value,
            "update_with_value(params, state, batch) -> (updates, state, value)",
        )
    inner = update_with_value
    if not isinstance(check_state, bool):
        raise TypeError(f"expected check_state to be True or False, got {check_state!r}")

    def state_fits(params, state):
        """The state against the one ``init`` makes for ``params``: a state from another rule,
        another model or another chain order is refused here, naming both."""
        expected = eqx.filter_eval_shape(init, jax.random.key(0), params)
        got_def, want_def = (
            jax.tree_util.tree_structure(state),
            jax.tree_util.tree_structure(expected),
        )
        problem = None
        if not jax.tree_util.tree_leaves(expected):  # a stateless rule takes any empty state
            if jax.tree_util.tree_leaves(state):
                problem = "another structure"
        elif got_def != want_def:
            problem = "another structure"
        else:
            for got, want in zip(
                jax.tree_util.tree_leaves(state), jax.tree_util.tree_leaves(expected)
            ):
                if jnp.issubdtype(want.dtype, jax.dtypes.prng_key):
                    continue  # a typed or a raw key, as the caller made it
                if jnp.shape(got) != want.shape:
                    problem = "other shapes"
                    break
        if problem:
            raise ValueError(
                f"{name}: the rule state does not fit this rule and model ({problem}): "
                f"expected {_describe(expected)}, got {_describe(state)}; make the "
                f"state with this rule's init on this model"
            )

    def init_fn(key, params):
        key = as_key(key, f"{name} init key")
        find_layers(params)
        if layers_only:
            warn_foreign(params, name)
        return init(key, params)

    def value_fn(params, state, batch):
        if check_state:
            state_fits(params, state)
        updates, state, value = inner(params, state, batch)
        return (only_layers(updates) if layers_only else updates), state, value

    def update_fn(params, state, batch):
        updates, state, _ = value_fn(params, state, batch)
        return updates, state

    return complete(LearningRule(init_fn, update_fn, value_fn, diagnostics, predict, task), name)


def _describe(tree: Any) -> str:
    """A short description of a state: its type and its leaves' shapes."""
    leaves = jax.tree_util.tree_leaves(tree)
    shapes = [tuple(jnp.shape(leaf)) for leaf in leaves[:6]]
    more = f", ... ({len(leaves)} arrays)" if len(leaves) > 6 else ""
    return f"{type(tree).__name__} with arrays {shapes}{more}"[:400]


def check_loss(loss: Any) -> Loss:
    return check_callable(
        "loss",
        loss,
        "loss(outputs (B, n_out), y) -> scalar such as credax.losses.softmax_cross_entropy",
    )


def backprop(loss: Loss) -> LearningRule:
    """Backpropagation: ``updates = ∇_θ L`` exactly, as ``jax.grad`` computes it.

    The baseline every credax metric compares against. Unlike the other rules it trains every
    floating-point array of the model, inside credax layers or not (leaves that are not
    floating-point arrays get None, as ``equinox.filter_grad`` gives).

    Args:
        loss: ``loss(outputs, y) -> scalar``, e.g. ``credax.losses.softmax_cross_entropy``.

    Returns:
        A ``LearningRule`` (supervised task) with state ``EmptyState``; its value is the batch
        loss.

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

    def update_with_value(params, state, batch):
        x, y = supervised_batch(params, batch)
        value, grads = eqx.filter_value_and_grad(lambda p: loss(forward(p, x), y))(params)
        return grads, state, value

    return make_rule(
        "backprop",
        init_empty,
        update_with_value=update_with_value,
        task=SUPERVISED,
        layers_only=False,
    )
