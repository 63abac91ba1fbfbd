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

import jax
import jax.numpy as jnp

from credax._src.checks import as_key
from credax._src.rule import LearningRule


def _check_rule(rule: Any, where: str) -> LearningRule:
    if not (hasattr(rule, "init") and hasattr(rule, "update")):
        raise TypeError(f"{where}: expected a credax.LearningRule, got {rule!r}")
    return rule


def _value_update(rule: LearningRule) -> Callable:
    """``(params, state, batch) -> (updates, state, value or None)`` for any rule."""
    fn = getattr(rule, "update_with_value", None)
    if fn is not None:
        return fn
    return lambda params, state, batch: (*rule.update(params, state, batch), None)


def chain(*rules: LearningRule) -> LearningRule:
    """Several rules acting on the same parameters: their updates are summed.

    ``state`` is a tuple of the rules' states (rule ``i`` is initialised with the ``i``-th key
    split from the one given); every rule sees the same ``params`` and ``batch``. The chain's
    value (for the engine's training-loss record) is that of the first rule that reports one;
    its diagnostics are the union of the rules' diagnostics (a name reported by several rules is
    suffixed by the rule's position, ``name/1``).

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
    rules = tuple(_check_rule(r, f"chain (rule {i})") for i, r in enumerate(rules))
    steps = [_value_update(r) for r in rules]

    def init(key, params):
        keys = jax.random.split(as_key(key, "chain init key"), len(rules))
        return tuple(r.init(k, params) for r, k in zip(rules, keys))

    def update_with_value(params, state, batch):
        if not (isinstance(state, tuple) and len(state) == len(rules)):
            raise ValueError(
                f"chain: expected a tuple of {len(rules)} rule states (from its init), got "
                f"{type(state).__name__}"
            )
        total, new_states, value = None, [], None
        for step, s in zip(steps, state):
            u, s, v = step(params, s, batch)
            new_states.append(s)
            total = u if total is None else jax.tree_util.tree_map(jnp.add, total, u)
            if value is None and v is not None:
                value = v
        return total, tuple(new_states), value

    def update(params, state, batch):
        updates, state, _ = update_with_value(params, state, batch)
        return updates, state

    has_value = any(getattr(r, "update_with_value", None) is not None for r in rules)
    has_diag = any(getattr(r, "diagnostics", None) is not None for r in rules)

    def diagnostics(params, state, batch):
        out: dict[str, jax.Array] = {}
        for i, (r, s) in enumerate(zip(rules, state)):
            diag = getattr(r, "diagnostics", None)
            if diag is None:
                continue
            for name, value in diag(params, s, batch).items():
                out[name if name not in out else f"{name}/{i}"] = value
        return out

    return LearningRule(
        init,
        update,
        update_with_value if has_value else None,
        diagnostics if has_diag else None,
        # the network the chain trains computes its outputs as its first rule that says how
        next((r.predict for r in rules if getattr(r, "predict", None) is not None), None),
    )


class MaskedState(NamedTuple):
    """State of a masked rule.

    Attributes:
        inner: the wrapped rule's state.
    """

    inner: Any


Mask = Any  # a pytree of bools with params' structure, or params -> such a pytree


def masked(rule: LearningRule, mask: Mask | Callable[[Any], Mask]) -> LearningRule:
    """A rule whose updates are kept where ``mask`` is True and zero elsewhere.

    The wrapped rule runs on the whole model (its forward pass needs every layer); only its
    updates are masked, so ``chain`` of masked rules on disjoint masks trains each part of a
    model with its own rule. ``credax.nets.layer_mask(model, which)`` builds masks by layer.

    Args:
        rule: a ``LearningRule``.
        mask: a pytree of bools with params' structure (a leaf may also be a bool array of the
            parameter's shape), or a function ``params -> mask``.

    Returns:
        A ``LearningRule`` with state ``MaskedState``; its value and diagnostics are the rule's.
    """
    rule = _check_rule(rule, "masked")
    step = _value_update(rule)
    # A pytree of bools is a mask (even an equinox Module, which is callable); any other
    # callable is a function of params.
    leaves = jax.tree_util.tree_leaves(mask)
    is_tree = bool(leaves) and all(_is_bool(leaf) for leaf in leaves)
    if not is_tree and not callable(mask):
        _check_mask_leaves(mask)

    def resolve(params):
        m = mask if is_tree else mask(params)
        try:
            m = jax.tree_util.tree_map(lambda b, p: b, m, params)
        except ValueError:
            raise ValueError(
                "masked: expected a mask with params' structure (e.g. "
                "credax.nets.layer_mask(params, 0)), got structure "
                f"{jax.tree_util.tree_structure(m)} for params "
                f"{jax.tree_util.tree_structure(params)}"
            ) from None
        _check_mask_leaves(m)
        return m

    def init(key, params):
        resolve(params)
        return MaskedState(rule.init(key, params))

    def update_with_value(params, state, batch):
        if not isinstance(state, MaskedState):
            raise ValueError(f"masked: expected a MaskedState, got {type(state).__name__}")
        m = resolve(params)
        updates, inner, value = step(params, state.inner, batch)
        updates = jax.tree_util.tree_map(
            lambda u, keep: jnp.where(keep, u, jnp.zeros_like(u)).astype(u.dtype), updates, m
        )
        return updates, MaskedState(inner), value

    def update(params, state, batch):
        updates, state, _ = update_with_value(params, state, batch)
        return updates, state

    diag = getattr(rule, "diagnostics", None)
    has_value = getattr(rule, "update_with_value", None) is not None
    return LearningRule(
        init,
        update,
        update_with_value if has_value else None,
        None if diag is None else (lambda params, state, batch: diag(params, state.inner, batch)),
        getattr(rule, "predict", None),
    )


def _is_bool(leaf: Any) -> bool:
    return isinstance(leaf, bool) or (hasattr(leaf, "dtype") and leaf.dtype == jnp.bool_)


def _check_mask_leaves(mask: Any) -> None:
    leaves = jax.tree_util.tree_leaves(mask)
    if not leaves:
        raise TypeError(f"masked: expected a mask of bools or a function of params, got {mask!r}")
    for leaf in leaves:
        if not _is_bool(leaf):
            raise TypeError(f"masked: expected a mask of bools, found a leaf {leaf!r}"[:200])
