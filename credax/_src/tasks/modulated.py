"""The modulated task: batches ``(x, m)`` with a modulator given by the data (three-factor
rules). ``bandit`` turns labels into a reward for such a rule: classification as a contextual
bandit, the protocol ``credax run`` compares modulated rules with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from credax._src.batches import SUPERVISED, supervised_batch
from credax._src.checks import as_key
from credax._src.rule import LearningRule, complete
from credax._src.tasks._records import Evaluate, check_pair, check_targets, model_output
from credax._src.tasks.unsupervised import representation_evaluation


def modulated_evaluation(
    rule: LearningRule | None = None,
    *,
    loss: Callable | None = None,
    classification: bool = True,
    angles: bool = True,
) -> Evaluate:
    """The evaluation of modulated rules, ``evaluate(params, rule_state, test, probe)``.

    Records ``weight_norms`` and ``activity`` on the test inputs (``test = (x, m)``); with a
    ``loss``, ``test = (x, y)`` holds labels and the supervised records of the network's output
    are added (see ``credax.tasks.unsupervised_evaluation``): the evaluation of a modulated rule
    rewarded from labels by ``credax.tasks.bandit``.
    """
    return representation_evaluation(
        rule, loss, inputs=lambda test: test[0], classification=classification, angles=angles
    )


def evaluation(rule, *, loss=None, classification=True, angles=True) -> Evaluate:
    return modulated_evaluation(rule, loss=loss, classification=classification, angles=angles)


class BanditState(NamedTuple):
    """State of ``bandit``.

    Attributes:
        inner: the modulated rule's state.
        key: PRNG key of the sampled actions, split on every update.
        reward_mean: running mean of the reward, before bias correction, ``()``.
        count: updates so far, int32 ``()``.
    """

    inner: Any
    key: jax.Array
    reward_mean: jax.Array
    count: jax.Array


def bandit(rule: LearningRule, *, baseline_decay: float = 0.9) -> LearningRule:
    """A modulated rule rewarded from labels: classification as a contextual bandit.

    On a supervised batch ``(x, y)`` (integer labels), the network's outputs are read as the
    logits of a policy; each example samples an action ``a ~ softmax(z)``, is rewarded
    ``r = 1`` if ``a = y`` and 0 otherwise, and the modulated rule receives the batch
    ``(x, m)`` with ``m = r - r̄``, the reward minus a running mean of past rewards
    (``r̄ ← λ r̄ + (1 - λ) mean(r)``, bias-corrected; no baseline at the first update), shape
    ``(B,)``. The result is a supervised rule whose value is the error rate of the sampled
    actions, ``1 - mean(r)``.

    Args:
        rule: a modulated rule (``(x, m)`` batches).
        baseline_decay: ``λ`` in ``[0, 1)``.

    Returns:
        A ``LearningRule`` (supervised) with state ``BanditState``; diagnostics, prediction are
        the rule's.
    """
    rule = complete(rule, "bandit")
    if not isinstance(baseline_decay, (int, float)) or isinstance(baseline_decay, bool):
        raise TypeError(f"expected baseline_decay to be a number in [0, 1), got {baseline_decay!r}")
    if not 0.0 <= baseline_decay < 1.0:
        raise ValueError(f"expected baseline_decay in [0, 1), got {baseline_decay}")
    decay = float(baseline_decay)

    def init(key, params):
        k_inner, k_act = jax.random.split(as_key(key, "bandit init key"))
        return BanditState(
            rule.init(k_inner, params), k_act, jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32)
        )

    def update_with_value(params, state, batch):
        if not isinstance(state, BanditState):
            raise ValueError(f"bandit: expected a BanditState, got {type(state).__name__}")
        x, y = supervised_batch(params, batch)
        if not jnp.issubdtype(y.dtype, jnp.integer) or y.ndim != 1:
            raise TypeError(
                f"bandit: expected integer class labels y of shape (B,), got {y.dtype} {y.shape}"
            )
        logits = rule.predict(params, x)
        if logits.ndim != 2:
            raise ValueError(f"bandit: expected outputs (B, n_classes), got {logits.shape}")
        key, sub = jax.random.split(state.key)
        action = jax.random.categorical(sub, jax.lax.stop_gradient(logits), axis=-1)
        reward = (action == y).astype(jnp.float32)
        t = state.count.astype(jnp.float32)
        corrected = state.reward_mean / jnp.maximum(1.0 - decay**t, 1e-30)
        base = jnp.where(state.count > 0, corrected, 0.0)
        m = (reward - base).astype(x.dtype)
        updates, inner, _ = rule.update_with_value(params, state.inner, (x, m))
        mean = decay * state.reward_mean + (1.0 - decay) * jnp.mean(reward)
        new = BanditState(inner, key, mean.astype(jnp.float32), state.count + 1)
        return updates, new, (1.0 - jnp.mean(reward)).astype(jnp.result_type(logits.dtype))

    def update(params, state, batch):
        updates, state, _ = update_with_value(params, state, batch)
        return updates, state

    def diagnostics(params, state, batch):
        return rule.diagnostics(params, state.inner, batch)

    return LearningRule(init, update, update_with_value, diagnostics, rule.predict, SUPERVISED)


def check_data(init_model: Callable, name: str, data: Any, loss: Callable | None) -> None:
    """Concrete ``(x, m)`` against the model (with a loss: ``(x, y)`` labels)."""
    x, m = check_pair(data, name, "(x, m) for a modulated rule")
    if loss is not None:
        check_targets(init_model, loss, name, x, m)
        return
    model_output(init_model, np.shape(x), np.result_type(x), name)
    dtype = np.result_type(m)
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(
            f"{name}: expected a real-valued modulator m, got dtype {dtype} (integer labels are "
            "not a modulator; see credax.tasks.bandit)"
        )
    n, shape = np.shape(x)[0], np.shape(m)
    if not (len(shape) in (1, 2) and shape[0] == n):
        raise ValueError(
            f"{name}: expected the modulator m of shape ({n},) or ({n}, n_units), one per "
            f"example, got {shape}"
        )


def protocol(rule: LearningRule, *, loss, classification=True, angles=True):
    """How ``credax run`` compares a modulated rule on ``(x, y)`` data: ``bandit``."""
    if not classification:
        raise ValueError(
            "modulated rules are compared on classification (a reward per sampled class); this "
            "dataset's targets are not class labels"
        )
    rule = bandit(rule)
    return rule, modulated_evaluation(rule, loss=loss, classification=True, angles=angles)
