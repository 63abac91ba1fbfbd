"""Diagnostics (credax.metrics) and losses on inputs whose answers are known."""

from __future__ import annotations

import functools

import chex
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import make_batch, make_mlp, weights_as_feedback

import credax
from credax import metrics

LOSS = credax.losses.softmax_cross_entropy


@functools.cache
def setup():
    params = make_mlp(jax.random.key(0))
    batch = make_batch(jax.random.key(1), (5,), batch=4)
    return params, batch


def random_feedback(params, key=None):
    key = jax.random.key(3) if key is None else key
    weights = weights_as_feedback(params)
    keys = jax.random.split(key, len(weights))
    return tuple(jax.random.normal(k, w.shape) for k, w in zip(keys, weights, strict=True))


def backprop(params, batch):
    rule = credax.backprop(LOSS)
    return rule.update(params, rule.init(jax.random.key(0), params), batch)[0]


# --- angle ----------------------------------------------------------------------------------------


def test_angle_known_values():
    v = jax.random.normal(jax.random.key(0), (17,))
    assert abs(float(metrics.angle(v, v))) < 1e-3
    assert abs(float(metrics.angle(v, 3.0 * v))) < 1e-3  # scale does not matter
    assert abs(float(metrics.angle(v, -v)) - 180.0) < 1e-3
    e0, e1 = jnp.eye(2)
    np.testing.assert_allclose(metrics.angle(e0, e1), 90.0, atol=1e-4)
    np.testing.assert_allclose(metrics.angle(e0, e0 + e1), 45.0, atol=1e-4)
    np.testing.assert_allclose(
        metrics.angle(jnp.array([1.0, 0.0]), jnp.array([-1.0, 1e-3])),
        180.0 - np.degrees(1e-3),
        atol=1e-3,
    )  # accurate near 180°


def test_angle_of_pytrees_flattens_them():
    u = {"a": jnp.array([1.0, 0.0]), "b": jnp.zeros((2, 2))}
    v = {"a": jnp.array([0.0, 0.0]), "b": jnp.array([[0.0, 1.0], [0.0, 0.0]])}
    np.testing.assert_allclose(metrics.angle(u, v), 90.0, atol=1e-4)
    np.testing.assert_allclose(metrics.angle(u, u), 0.0, atol=1e-4)


def test_angle_nan_for_zero_or_non_finite():
    v = jnp.arange(1.0, 5.0)
    assert np.isnan(metrics.angle(v, jnp.zeros(4)))
    assert np.isnan(metrics.angle(v, v.at[2].set(jnp.nan)))
    assert np.isnan(metrics.angle(v, v.at[0].set(jnp.inf)))


def test_angle_size_mismatch_raises():
    with pytest.raises(ValueError, match="sizes differ"):
        metrics.angle(jnp.ones(3), jnp.ones(4))


# --- update_angles --------------------------------------------------------------------------------


def test_update_angles_shape_and_values():
    params, batch = setup()
    g = backprop(params, batch)
    n = len(credax.nets.find_layers(params))
    a = metrics.update_angles(g, g)
    assert a.shape == (n,)
    np.testing.assert_allclose(a, 0.0, atol=1e-3)
    np.testing.assert_allclose(
        metrics.update_angles(jax.tree.map(jnp.negative, g), g), 180.0, atol=1e-3
    )


def test_update_angles_of_a_rule_lie_in_0_180():
    params, batch = setup()
    rule = credax.feedback_alignment(LOSS)
    u, _ = rule.update(params, rule.init(jax.random.key(2), params), batch)
    a = metrics.update_angles(u, backprop(params, batch))
    assert bool(jnp.all((a >= 0) & (a <= 180))), a
    np.testing.assert_allclose(a[-1], 0.0, atol=1e-2)  # FA's output layer is backprop's
    assert float(a[0]) > 1.0


def test_nan_update_gives_nan_angle_in_that_layer_only():
    params, batch = setup()
    g = backprop(params, batch)
    bad = eqx.tree_at(lambda t: t.layers[1].weight, g, g.layers[1].weight.at[0, 0].set(jnp.nan))
    a = metrics.update_angles(bad, g)
    assert np.isnan(a[1])
    assert np.all(np.isfinite(np.asarray(a)[[0, 2]]))


def test_update_angles_layer_count_mismatch_raises():
    params, batch = setup()
    other = make_mlp(jax.random.key(0), sizes=(5, 3))
    with pytest.raises(ValueError, match="layers"):
        metrics.update_angles(params, other)


# --- feedback vs weights --------------------------------------------------------------------------


def test_feedback_angles_known_values():
    params, _ = setup()
    w = weights_as_feedback(params)
    np.testing.assert_allclose(metrics.feedback_angles(params, w), 0.0, atol=1e-3)
    np.testing.assert_allclose(metrics.feedback_angles(params, [-b for b in w]), 180.0, atol=1e-3)
    # B = W + U with U ⟂ W and |U| = |W|: 45° in every layer.
    tilted = []
    for b, r in zip(w, random_feedback(params), strict=True):
        u = r - jnp.vdot(r, b) / jnp.vdot(b, b) * b
        tilted.append(b + u * jnp.linalg.norm(b) / jnp.linalg.norm(u))
    a = metrics.feedback_angles(params, tilted)
    assert a.shape == (len(w),)
    np.testing.assert_allclose(a, 45.0, atol=1e-2)


def test_norm_ratios_known_values():
    params, _ = setup()
    w = weights_as_feedback(params)
    np.testing.assert_allclose(metrics.norm_ratios(params, w), 1.0, rtol=1e-6)
    np.testing.assert_allclose(metrics.norm_ratios(params, [2.0 * b for b in w]), 2.0, rtol=1e-6)
    np.testing.assert_allclose(metrics.norm_ratios(params, [-0.5 * b for b in w]), 0.5, rtol=1e-6)


def test_sign_concordance_known_values():
    params, _ = setup()
    w = weights_as_feedback(params)
    np.testing.assert_array_equal(metrics.sign_concordance(params, w), 1.0)
    np.testing.assert_array_equal(metrics.sign_concordance(params, [-b for b in w]), 0.0)
    np.testing.assert_array_equal(metrics.sign_concordance(params, [3.0 * b for b in w]), 1.0)
    # Flip the sign of the first row of every B: the concordance drops by 1/out_features.
    flipped = [b.at[0].multiply(-1.0) for b in w]
    expected = [1.0 - 1.0 / b.shape[0] for b in w]
    np.testing.assert_allclose(metrics.sign_concordance(params, flipped), expected, rtol=1e-6)


@pytest.mark.parametrize(
    "fn", [metrics.feedback_angles, metrics.norm_ratios, metrics.sign_concordance]
)
def test_feedback_metrics_reject_mismatched_shapes(fn):
    params, _ = setup()
    w = weights_as_feedback(params)
    with pytest.raises(ValueError, match="shape"):
        fn(params, w[:-1])
    with pytest.raises(ValueError, match="shape"):
        fn(params, [b.T for b in w])


# --- errors and Lillicrap's condition -------------------------------------------------------------


def test_layer_errors_of_backprop():
    params, batch = setup()
    x, y = batch
    errors = metrics.layer_errors(params, None, batch, LOSS)
    layers = credax.nets.find_layers(params)
    assert [e.shape for e in errors] == [(x.shape[0], *layer.out_shape) for layer in layers]
    # Output layer (linear, cross-entropy): δ_L = softmax(z) - onehot(y), per example.
    logits = jax.vmap(params)(x)
    np.testing.assert_allclose(
        errors[-1], jax.nn.softmax(logits) - jax.nn.one_hot(y, 3), rtol=1e-5, atol=1e-6
    )
    # The weight gradient is the batch mean of δ_l h_{l-1}ᵀ: here for the first layer, h_0 = x.
    g = backprop(params, batch)
    np.testing.assert_allclose(
        g.layers[0].weight,
        jnp.einsum("bi,bj->ij", errors[0], x) / x.shape[0],
        rtol=1e-5,
        atol=1e-6,
    )
    # Feedback equal to the weights delivers backprop's errors.
    chex.assert_trees_all_close(
        metrics.layer_errors(params, weights_as_feedback(params), batch, LOSS),
        errors,
        rtol=1e-5,
        atol=1e-6,
    )


def test_layer_errors_of_feedback_alignment_match_its_updates():
    params, batch = setup()
    x, _ = batch
    fb = random_feedback(params)
    errors = metrics.layer_errors(params, fb, batch, LOSS)
    rule = credax.feedback_alignment(LOSS)
    u, _ = rule.update(params, rule.init(jax.random.key(0), params)._replace(feedback=fb), batch)
    np.testing.assert_allclose(
        u.layers[0].weight,
        jnp.einsum("bi,bj->ij", errors[0], x) / x.shape[0],
        rtol=1e-5,
        atol=1e-6,
    )


def test_lillicrap_condition_known_values():
    params, batch = setup()
    w = weights_as_feedback(params)
    n = len(w)
    ones = metrics.lillicrap_condition(params, w, batch, LOSS)
    assert ones.shape == (n,)
    np.testing.assert_array_equal(ones, 1.0)
    np.testing.assert_array_equal(
        metrics.lillicrap_condition(params, [-b for b in w], batch, LOSS), 0.0
    )
    frac = metrics.lillicrap_condition(params, random_feedback(params), batch, LOSS)
    assert frac.shape == (n,)
    assert bool(jnp.all((frac >= 0) & (frac <= 1))), frac
    # Fractions of a batch of 4 examples.
    np.testing.assert_allclose(np.asarray(frac) * 4, np.round(np.asarray(frac) * 4), atol=1e-6)


def test_lillicrap_condition_on_a_conv_net():
    params = credax.nets.lenet(key=jax.random.key(0), n_classes=3, activation=jnp.tanh)
    batch = make_batch(jax.random.key(1), (1, 32, 32), batch=2)
    w = weights_as_feedback(params)
    fn = jax.jit(metrics.lillicrap_condition, static_argnums=3)
    np.testing.assert_array_equal(fn(params, w, batch, LOSS), 1.0)
    frac = fn(params, random_feedback(params), batch, LOSS)
    assert frac.shape == (len(w),)
    assert bool(jnp.all((frac >= 0) & (frac <= 1))), frac


# --- all_finite, purity ---------------------------------------------------------------------------


def test_all_finite():
    params, _ = setup()
    assert bool(metrics.all_finite(params))
    assert bool(jax.jit(metrics.all_finite)(params))
    bad = eqx.tree_at(lambda t: t.layers[2].bias, params, params.layers[2].bias.at[1].set(jnp.nan))
    assert not bool(metrics.all_finite(bad))
    assert not bool(jax.jit(metrics.all_finite)(bad))
    assert not bool(metrics.all_finite({"a": jnp.ones(2), "b": jnp.array([1.0, jnp.inf])}))


def test_metrics_jit_and_vmap():
    params, batch = setup()
    fb = random_feedback(params)
    eager = metrics.feedback_angles(params, fb)
    np.testing.assert_allclose(jax.jit(metrics.feedback_angles)(params, fb), eager, rtol=1e-5)
    # vmap over seeds of (params, feedback) pairs.
    keys = jax.random.split(jax.random.key(4), 3)
    stacked = jax.vmap(make_mlp)(keys)
    stacked_fb = jax.vmap(random_feedback)(stacked, keys)
    v = jax.vmap(metrics.feedback_angles)(stacked, stacked_fb)
    assert v.shape == (3, len(fb))
    for i, k in enumerate(keys):
        p = make_mlp(k)
        np.testing.assert_allclose(
            v[i], metrics.feedback_angles(p, random_feedback(p, k)), rtol=1e-4, atol=1e-3
        )


# --- losses ---------------------------------------------------------------------------------------


def test_losses_known_values():
    np.testing.assert_allclose(
        credax.losses.softmax_cross_entropy(jnp.zeros((2, 4)), jnp.array([0, 3])),
        np.log(4.0),
        rtol=1e-6,
    )
    np.testing.assert_allclose(credax.losses.mse(jnp.ones((2, 3)), jnp.zeros((2, 3))), 1.5)
    # Integer labels and one-hot targets agree.
    z = jax.random.normal(jax.random.key(0), (5, 3))
    y = jnp.array([0, 2, 1, 1, 0])
    for loss in (credax.losses.softmax_cross_entropy, credax.losses.mse):
        np.testing.assert_allclose(loss(z, y), loss(z, jax.nn.one_hot(y, 3)), rtol=1e-6)
    assert float(credax.losses.accuracy(jnp.eye(3), jnp.array([0, 1, 0]))) == pytest.approx(2 / 3)
    assert float(credax.losses.accuracy(jnp.eye(3), jnp.eye(3))) == 1.0
    # d/dz of the mean cross-entropy is (softmax(z) - t) / B.
    g = jax.grad(credax.losses.softmax_cross_entropy)(z, y)
    np.testing.assert_allclose(g, (jax.nn.softmax(z) - jax.nn.one_hot(y, 3)) / 5, atol=1e-6)
