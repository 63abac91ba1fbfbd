"""Composing rules, as optax composes gradient transformations.

- ``chain(*rules)``: several rules on the same parameters, their updates summed (a rule plus
  homeostasis; a Hebbian first layer plus a feedback-aligned readout, each ``masked``);
- ``masked(rule, mask)``: a rule restricted to part of the parameters, zero elsewhere.

Unlike optax's ``masked``, the inner rule sees the whole model: credit assignment needs the
forward pass through every layer, trained by this rule or not. Only its updates are restricted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from credax._src.batches import MODULATED, SUPERVISED, UNSUPERVISED
from credax._src.checks import as_key, check_arity
from credax._src.rule import LearningRule, complete, forward


def chain_task(tasks: list[str | None]) -> str | None:
    """The task of rules chained together: their batches must be one batch. Supervised and
    modulated rules cannot share one (labels are not a modulator); unsupervised rules read the
    inputs of either."""
    known = {t for t in tasks if t is not None}
    if {SUPERVISED, MODULATED} <= known:
        raise ValueError(
            "chain: supervised and modulated rules cannot share a batch ((x, y) labels are not a "
            "modulator); wrap the modulated rule with credax.tasks.bandit to reward it from labels"
        )
    for task in (SUPERVISED, MODULATED, UNSUPERVISED):
        if task in known:
            return task
    return None


def chain(*rules: LearningRule) -> LearningRule:
    """Several rules acting on the same parameters: their updates are summed.

    ``state`` is a tuple of the rules' states (rule ``i`` is initialised with the ``i``-th key
    split from the one given); every rule sees the same ``params`` and ``batch``. The chain's
    value (for the engine's training-loss record) is that of the first rule that reports one;
    its diagnostics are the union of the rules' diagnostics (a name reported by several rules is
    suffixed by the rule's position, ``name/1``); its task is the one batch all rules take.

    Args:
        *rules: one or more ``LearningRule``.

    Returns:
        A ``LearningRule`` with state ``tuple`` of the rules' states.

    Examples:
        Feedback alignment on the first layer, backprop on the others:

        >>> import jax, jax.numpy as jnp, credax
        >>> L = credax.losses.softmax_cross_entropy
        >>> net = credax.nets.mlp([4, 8, 3], activation=jnp.tanh, key=0)
        >>> first = credax.nets.layer_mask(net, 0)
        >>> rule = credax.chain(
        ...     credax.masked(credax.feedback_alignment(L), first),
        ...     credax.masked(credax.backprop(L), lambda p: jax.tree.map(lambda m: not m, first)))
        >>> state = rule.init(1, net)
        >>> g, state = rule.update(net, state, (jnp.ones((2, 4)), jnp.array([0, 2])))
        >>> g.layers[0].weight.shape
        (8, 4)
    """
    if not rules:
        raise ValueError("chain: expected at least one rule")
    rules = tuple(complete(r, f"chain (rule {i})") for i, r in enumerate(rules))
    task = chain_task([r.task for r in rules])

    def init(key, params):
        keys = jax.random.split(as_key(key, "chain init key"), len(rules))
        return tuple(r.init(k, params) for r, k in zip(rules, keys))

    def check_state(state):
        if not (type(state) is tuple and len(state) == len(rules)):
            raise ValueError(
                f"chain: expected a tuple of {len(rules)} rule states (from its init), got "
                f"{type(state).__name__}"
                + (f" of length {len(state)}" if isinstance(state, tuple) else "")
            )

    def update_with_value(params, state, batch):
        check_state(state)
        total, new_states, value = None, [], None
        for rule, s in zip(rules, state):
            u, s, v = rule.update_with_value(params, s, batch)
            new_states.append(s)
            total = u if total is None else jax.tree_util.tree_map(jnp.add, total, u)
            if value is None and v is not None:
                value = v
        return total, tuple(new_states), value

    def update(params, state, batch):
        updates, state, _ = update_with_value(params, state, batch)
        return updates, state

    def diagnostics(params, state, batch):
        check_state(state)
        out: dict[str, jax.Array] = {}
        for i, (rule, s) in enumerate(zip(rules, state)):
            for name, value in rule.diagnostics(params, s, batch).items():
                out[name if name not in out else f"{name}/{i}"] = value
        return out

    # The network the chain trains computes its outputs as its first rule that says how.
    predict = next((r.predict for r in rules if r.predict is not forward), forward)
    return LearningRule(init, update, update_with_value, diagnostics, predict, task)


class _Pair:
    """A mask leaf beside its parameter (not a pytree)."""

    def __init__(self, mask, param):
        self.mask, self.param = mask, param


class MaskedState(NamedTuple):
    """State of a masked rule.

    Attributes:
        inner: the wrapped rule's state.
    """

    inner: Any


Mask = Any  # a pytree of bools with params' structure, or params -> such a pytree


def _is_bool(leaf: Any) -> bool:
    return isinstance(leaf, (bool, np.bool_)) or (
        hasattr(leaf, "dtype") and getattr(leaf, "dtype", None) == jnp.bool_
    )


def _check_mask_leaves(mask: Any) -> None:
    leaves = jax.tree_util.tree_leaves(mask)
    if not leaves:
        raise TypeError(
            f"masked: expected a mask of bools (e.g. credax.nets.layer_mask(params, 0)) or a "
            f"function of params, got {mask!r}"[:300]
        )
    for leaf in leaves:
        if not _is_bool(leaf):
            raise TypeError(
                "masked: expected a mask of bools (True where the rule's updates are kept), found "
                f"a leaf {leaf!r}; use credax.nets.layer_mask or a pytree of True/False"[:300]
            )


def masked(rule: LearningRule, mask: Mask | Callable[[Any], Mask]) -> LearningRule:
    """A rule whose updates are kept where ``mask`` is True and zero elsewhere.

    The wrapped rule runs on the whole model (its forward pass needs every layer); only its
    updates are masked, so ``chain`` of masked rules on disjoint masks trains each part of a
    model with its own rule. ``credax.nets.layer_mask(model, which)`` builds masks by layer.

    Args:
        rule: a ``LearningRule``.
        mask: a pytree of bools with params' structure (a leaf may also be a bool array of the
            parameter's own shape), or a function ``params -> mask``.

    Returns:
        A ``LearningRule`` with state ``MaskedState``; its value, diagnostics, prediction and
        task are the rule's.
    """
    rule = complete(rule, "masked")
    # A function of params is a plain callable; anything else (an equinox Module too, though it
    # is callable) is a pytree of bools.
    is_function = callable(mask) and not isinstance(mask, eqx.Module)
    is_function = is_function and jax.tree_util.tree_leaves(mask) == [mask]
    is_tree = not is_function
    if is_tree:
        _check_mask_leaves(mask)
    else:
        check_arity("masked's mask function", mask, 1, "mask(params) -> a pytree of bools")

    def resolve(params):
        m = mask if is_tree else mask(params)
        _check_mask_leaves(m)
        try:
            if jax.tree_util.tree_structure(m) != jax.tree_util.tree_structure(params):
                raise ValueError
            pairs = jax.tree_util.tree_map(lambda b, p: _Pair(b, p), m, params)
        except ValueError:
            raise ValueError(
                "masked: expected a mask with params' structure (e.g. "
                "credax.nets.layer_mask(params, 0)), got structure "
                f"{jax.tree_util.tree_structure(m)} for params "
                f"{jax.tree_util.tree_structure(params)}"
            ) from None
        for pair in jax.tree_util.tree_leaves(pairs, is_leaf=lambda n: isinstance(n, _Pair)):
            shape, want = (
                np.shape(pair.mask),
                np.shape(pair.param) if hasattr(pair.param, "shape") else (),
            )
            if shape not in ((), want):
                raise ValueError(
                    f"masked: expected each mask leaf to be a bool or a bool array of its "
                    f"parameter's shape {want}, got shape {shape}"
                )
        return m

    def init(key, params):
        resolve(params)
        return MaskedState(rule.init(key, params))

    def apply(u, keep):
        if u is None:
            return None
        return jnp.where(keep, u, jnp.zeros_like(u)).astype(u.dtype)

    def update_with_value(params, state, batch):
        if not isinstance(state, MaskedState):
            raise ValueError(
                f"masked: expected a MaskedState (from masked(...).init), got "
                f"{type(state).__name__}"
            )
        m = resolve(params)
        updates, inner, value = rule.update_with_value(params, state.inner, batch)
        updates = jax.tree_util.tree_map(apply, updates, m, is_leaf=lambda n: n is None)
        return updates, MaskedState(inner), value

    def update(params, state, batch):
        updates, state, _ = update_with_value(params, state, batch)
        return updates, state

    def diagnostics(params, state, batch):
        return rule.diagnostics(params, state.inner, batch)

    return LearningRule(init, update, update_with_value, diagnostics, rule.predict, rule.task)
