"""Training as one compiled program: ``lax.scan`` over steps, ``vmap`` over seeds.

``make_fit`` builds ``run(init_key, rule_key, data_key) -> (History, params)``, a pure function
that trains one model from scratch with the data resident on the device; ``jax.vmap`` of it over
keys is a seed sweep (``sweep`` does that). After every epoch it records the train loss, the test
loss and accuracy, each layer's angle between the rule's update and backprop's on a fixed probe
batch, and for feedback-path rules each layer's angle between ``W_l`` and ``B_l``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from credax._src.layers import find_layers
from credax._src.losses import accuracy
from credax._src.metrics import all_finite, feedback_angles, update_angles
from credax._src.rule import LearningRule, backprop, forward


class History(NamedTuple):
    """Per-epoch records; the first entry is before training. Shapes for one seed:

    Attributes:
        train_loss: ``(epochs + 1,)`` mean training loss over the epoch (NaN at entry 0).
        test_loss: ``(epochs + 1,)``.
        test_accuracy: ``(epochs + 1,)`` (NaN for regression tasks).
        update_angles: ``(epochs + 1, n_layers)`` degrees between the rule's update and
            backprop's on the probe batch.
        feedback_angles: ``(epochs + 1, n_layers)`` degrees between ``W_l`` and ``B_l`` (NaN for
            rules without ``W``-shaped feedback).
        finite: ``(epochs + 1,)`` whether parameters are all finite.
    """

    train_loss: jax.Array
    test_loss: jax.Array
    test_accuracy: jax.Array
    update_angles: jax.Array
    feedback_angles: jax.Array
    finite: jax.Array


def _feedback_angles(params, rule_state, n_layers):
    fb = getattr(rule_state, "feedback", None)
    weights = [layer.weight for layer in find_layers(params)]
    if (
        fb is not None
        and len(fb) == len(weights)
        and all(b.shape == w.shape for b, w in zip(fb, weights))
    ):
        return feedback_angles(params, fb)
    return jnp.full((n_layers,), jnp.nan)


def make_fit(
    rule: LearningRule,
    init_model: Callable[[jax.Array], Any],
    optimizer: optax.GradientTransformation,
    *,
    loss: Callable,
    train: tuple[Any, Any] | Callable[[jax.Array, int], tuple[jax.Array, jax.Array]],
    test: tuple[Any, Any],
    epochs: int,
    batch_size: int,
    steps_per_epoch: int | None = None,
    probe_size: int = 256,
    classification: bool = True,
) -> Callable:
    """Builds a pure ``run(init_key, rule_key, data_key) -> (History, final_params)``.

    Args:
        rule: the learning rule.
        init_model: ``key -> params``.
        optimizer: an optax optimizer applied to the rule's updates.
        loss: the loss the rule and the metrics use.
        train: ``(x, y)`` arrays (shuffled every epoch by ``data_key``; the last partial batch
            is dropped) or ``sample(key, batch_size) -> (x, y)`` drawing fresh examples.
        test: ``(x, y)`` arrays evaluated after every epoch.
        epochs: number of epochs.
        batch_size: examples per step.
        steps_per_epoch: steps per epoch when ``train`` is a sampler.
        probe_size: examples of the fixed batch on which update angles are measured.
        classification: whether to record test accuracy.
    """
    epochs, batch_size = int(epochs), int(batch_size)
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs}, {batch_size}")
    bp = backprop(loss)
    x_test, y_test = jnp.asarray(test[0]), jnp.asarray(test[1])
    if callable(train):
        sample = train
        if steps_per_epoch is None or int(steps_per_epoch) < 1:
            raise ValueError("a sampler as train data needs steps_per_epoch >= 1")
        spe = int(steps_per_epoch)
    else:
        sample = None
        x_train, y_train = jnp.asarray(train[0]), jnp.asarray(train[1])
        n = x_train.shape[0]
        if y_train.shape[0] != n:
            raise ValueError(f"train x has {n} examples but y has {y_train.shape[0]}")
        spe = n // batch_size
        if spe < 1:
            raise ValueError(f"batch_size {batch_size} exceeds the {n} training examples")

    def record(params, rule_state, probe, train_loss):
        out = forward(params, x_test)
        g_rule, _ = rule.update(params, rule_state, probe)
        g_bp, _ = bp.update(params, (), probe)
        n_layers = len(find_layers(params))
        return History(
            train_loss=train_loss,
            test_loss=loss(out, y_test),
            test_accuracy=accuracy(out, y_test) if classification else jnp.float32(jnp.nan),
            update_angles=update_angles(g_rule, g_bp),
            feedback_angles=_feedback_angles(params, rule_state, n_layers),
            finite=all_finite(params),
        )

    def run(init_key, rule_key, data_key):
        params = init_model(init_key)
        rule_state = rule.init(rule_key, params)
        opt_state = optimizer.init(params)
        probe_key, data_key = jax.random.split(data_key)
        if sample is None:
            idx = jax.random.choice(probe_key, n, (min(probe_size, n),), replace=False)
            probe = (x_train[idx], y_train[idx])
        else:
            probe = sample(probe_key, probe_size)

        def step(carry, batch_or_key):
            params, rule_state, opt_state = carry
            if sample is None:
                batch = (x_train[batch_or_key], y_train[batch_or_key])
            else:
                batch = sample(batch_or_key, batch_size)
            value = loss(forward(params, batch[0]), batch[1])
            g, rule_state = rule.update(params, rule_state, batch)
            u, opt_state = optimizer.update(g, opt_state, params)
            params = optax.apply_updates(params, u)
            return (params, rule_state, opt_state), value

        def epoch(carry, key):
            if sample is None:
                xs = jax.random.permutation(key, n)[: spe * batch_size].reshape(spe, batch_size)
            else:
                xs = jax.random.split(key, spe)
            carry, losses = jax.lax.scan(step, carry, xs)
            params, rule_state, _ = carry
            return carry, record(params, rule_state, probe, jnp.mean(losses))

        first = record(params, rule_state, probe, jnp.float32(jnp.nan))
        carry, hist = jax.lax.scan(
            epoch, (params, rule_state, opt_state), jax.random.split(data_key, epochs)
        )
        hist = jax.tree_util.tree_map(
            lambda a, b: jnp.concatenate([jnp.asarray(a, b.dtype)[None], b]), first, hist
        )
        return hist, carry[0]

    return run


def seed_keys(seed: int, n_seeds: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Independent ``(init, rule, data)`` keys ``(n_seeds,)`` each, from one integer seed."""
    k = jax.random.split(jax.random.key(seed), 3)
    return tuple(jax.random.split(ki, n_seeds) for ki in k)


def sweep(run: Callable, seed: int, n_seeds: int):
    """Runs ``run`` for ``n_seeds`` seeds as one jitted, vmapped program. Returns
    ``(History, params)`` with a leading seed axis."""
    keys = seed_keys(seed, n_seeds)
    return jax.jit(jax.vmap(run))(*keys)
