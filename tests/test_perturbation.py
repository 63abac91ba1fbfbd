"""Perturbation rules as estimators of the gradient, and ``credax.metrics.estimator_statistics``.

The registry-parametrised tests (contract, errors, learning) cover these rules' structure and
purity; here: their means converge to ``jax.grad`` at the ``1/sqrt(K)`` rate, their limits and
reductions (antithetic weight perturbation → directional derivative, signed AGREL → delta rule),
the effect of a baseline on REINFORCE's variance, and bad options.
"""

from __future__ import annotations

import functools
import re

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import NETS, make_batch, make_mlp
from test_contract import SkipNet

import credax
from credax import metrics
from credax._src import perturbation

LOSS = credax.losses.softmax_cross_entropy


@functools.cache
def tiny():
    """A 3-4-2 tanh net (26 parameters) and a batch of 4: cheap to draw thousands of updates."""
    params = make_mlp(jax.random.key(0), sizes=(3, 4, 2))
    batch = make_batch(jax.random.key(1), (3,), batch=4, n_classes=2)
    return params, batch


def flat(tree):
    return jnp.concatenate([jnp.ravel(leaf) for leaf in jax.tree.leaves(tree)])


def grad(params, batch, loss=LOSS):
    x, y = batch
    return jax.grad(lambda p: loss(jax.vmap(p)(x), y))(params)


# --- δa_l → ΔW_l, the machinery of the unit-perturbing rules -------------------------------------


@pytest.mark.parametrize("net_name", ["mlp", "convnet", "skipnet"])
def test_weight_updates_from_true_errors_are_backprop(net_name):
    """Given backprop's errors at every pre-activation, the tapped network yields backprop's
    weight updates exactly, on dense, strided/padded conv and non-Sequential models."""
    if net_name == "skipnet":
        params, in_shape = SkipNet(jax.random.key(0)), (5,)
    else:
        make_net, in_shape = NETS[net_name]
        params = make_net(jax.random.key(0))
    x, y = make_batch(jax.random.key(1), in_shape, batch=3)

    @jax.jit
    def both(params, x, y):
        errors = metrics.layer_errors(params, None, (x, y), LOSS)
        ours = perturbation.weight_updates(params, x, [e / x.shape[0] for e in errors])
        return ours, grad(params, (x, y))

    ours, ref = both(params, x, y)
    chex.assert_trees_all_close(ours, ref, rtol=1e-5, atol=1e-6)


# --- means converge to the gradient --------------------------------------------------------------

ESTIMATORS = {
    "wp": lambda: credax.weight_perturbation(LOSS),
    # Per-synapse σ: biases three times noisier than weights; still unbiased.
    "wp_per_synapse": lambda: credax.weight_perturbation(
        LOSS,
        sigma=jax.tree.map(lambda w: jnp.full(w.shape, 1e-3 if w.ndim == 2 else 3e-3), tiny()[0]),
    ),
    "np": lambda: credax.node_perturbation(LOSS),
    "fg": lambda: credax.forward_gradient(LOSS),
    "fga": lambda: credax.forward_gradient(LOSS, activity=True),
}
# AGREL's noise is a choice among a few actions per example, so its sampling error lives in a few
# directions and does not concentrate; its mean is checked exactly, by enumerating the actions,
# in test_signed_agrel_with_an_all_ones_gate_is_the_delta_rule_on_average.


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_mean_converges_to_grad_at_one_over_sqrt_k(name):
    """The mean of K single-draw updates matches jax.grad within 4 standard errors,
    ``‖ḡ_K - g‖ / ‖g‖ ≤ 4 sqrt(tr Σ / K) / ‖g‖ + 1e-3`` (1e-3 bounds the O(σ²) bias of the
    finite differences), at K = 64 and at 16K = 1024, and the error shrinks by at least 2 (4 is
    expected) from K to 16K. Observed: relative errors 0.3-1.4 at K, ratios 3-5 (weight
    perturbation and weight forward gradient draw the same tangents, as do node perturbation and
    activity forward gradient, so their figures agree)."""
    params, batch = tiny()
    rule = ESTIMATORS[name]()
    k, big = 64, 1024
    g = grad(params, batch)

    @jax.jit
    def statistics(params, batch):
        def one(key):
            return rule.update(params, rule.init(key, params), batch)[0]

        updates = jax.vmap(one)(jax.random.split(jax.random.key(3), big))
        return [
            metrics.update_statistics(jax.tree.map(lambda u, n=n: u[:n], updates), g)
            for n in (k, big)
        ]

    norm_g = float(jnp.linalg.norm(flat(g)))
    errors = []
    for n, s in zip((k, big), statistics(params, batch), strict=True):
        bound = 4.0 * float(jnp.sqrt(s.total_variance / n)) / norm_g + 1e-3
        err = float(s.relative_error)
        assert err <= bound, (n, err, bound)
        errors.append(err)
    assert errors[1] < errors[0] / 2.0, errors
    assert errors[1] < 0.5, errors  # the tiny net's SNR makes 1024 draws enough for < 50 %


def test_antithetic_weight_perturbation_is_the_directional_derivative_as_sigma_goes_to_zero():
    """For small σ, ``(E(w+ξ) - E(w-ξ)) ξ / (2σ²)`` is ``(∇E·ξ) ξ / σ²`` along the same ξ, the
    directional derivative computed exactly by ``jax.jvp``; at large σ it is not. Forward
    gradient with the same key draws the same tangent: it is that limit itself."""
    params, batch = tiny()
    x, y = batch
    key = jax.random.key(5)

    def objective(p):
        return LOSS(jax.vmap(p)(x), y)

    @jax.jit
    def run(params):
        out = {}
        for sigma in (1e-3, 0.5):
            rule = credax.weight_perturbation(LOSS, sigma=sigma, antithetic=True)
            g, _ = rule.update(params, rule.init(key, params), batch)
            # The rule's draw: split(state.key) -> (next, sub); one perturbation per sub-key.
            _, sub = jax.random.split(key)
            v = perturbation._normal_like(jax.random.split(sub, 1)[0], params)
            xi = jax.tree.map(lambda vi, sigma=sigma: sigma * vi, v)
            _, d = jax.jvp(objective, (params,), (xi,))
            out[sigma] = (g, jax.tree.map(lambda e, sigma=sigma, d=d: d * e / sigma**2, xi))
        fg = credax.forward_gradient(LOSS)
        return out, fg.update(params, fg.init(key, params), batch)[0]

    def rel(a, b):
        a, b = flat(a), flat(b)
        return float(jnp.linalg.norm(a - b) / jnp.linalg.norm(b))

    out, g_fg = run(params)
    small, large = rel(*out[1e-3]), rel(*out[0.5])
    assert small < 2e-3, small
    assert large > 10 * small, (small, large)
    assert rel(out[1e-3][0], g_fg) < 2e-3


def test_weight_perturbation_sigma_pytree_is_validated():
    """A per-synapse ``σ`` must have params' structure, a scalar or the parameter's shape per
    leaf, and be positive everywhere (its unbiasedness is tested with the other estimators)."""
    params, batch = tiny()
    bad = {"w": 1e-3}
    with pytest.raises(ValueError, match="structure"):
        credax.weight_perturbation(LOSS, sigma=bad).init(jax.random.key(0), params)
    wrong_shape = jax.tree.map(lambda w: jnp.ones((7,)), params)
    with pytest.raises(ValueError, match="shape"):
        credax.weight_perturbation(LOSS, sigma=wrong_shape).init(jax.random.key(0), params)
    negative = jax.tree.map(lambda w: -jnp.ones_like(w), params)
    with pytest.raises(ValueError, match="sigma > 0"):
        credax.weight_perturbation(LOSS, sigma=negative)


# --- REINFORCE -----------------------------------------------------------------------------------


def test_reinforce_perfect_baseline_lowers_variance():
    """Baselines leave the mean alone and change the variance: with the exact expected reward
    ``E_ξ[r_n]`` (Monte Carlo over 4,096 noise draws) as baseline the total variance of one
    update is far below that with no baseline (observed ratio ~1e-3 here), and the running
    baseline, after some updates, lies in between."""
    params, batch = tiny()
    x, y = batch
    sigma = 0.1
    shapes = credax.nets.preactivation_shapes(params, x)

    def expected_reward(params):
        def one(k):
            keys = jax.random.split(k, len(shapes))
            xi = [sigma * jax.random.normal(kk, s.shape, s.dtype) for kk, s in zip(keys, shapes)]
            out = credax.nets.trace(params, x, offsets=xi).output
            return -jax.vmap(lambda o, t: LOSS(o[None], t[None]))(out, y)

        return jnp.mean(jax.vmap(one)(jax.random.split(jax.random.key(9), 4096)), axis=0)

    @jax.jit
    def stats(params, batch):
        perfect = expected_reward(params)
        rules = {
            "none": credax.reinforce(LOSS, sigma=sigma, baseline_decay=None),
            "perfect": credax.reinforce(LOSS, sigma=sigma, baseline=lambda p, b: perfect),
        }
        return perfect, {
            name: metrics.estimator_statistics(
                rule, params, batch, key=jax.random.key(4), n_draws=512, loss=LOSS
            )
            for name, rule in rules.items()
        }

    perfect, s = stats(params, batch)
    assert float(s["perfect"].total_variance) < 0.05 * float(s["none"].total_variance), s
    # Both estimate the same (smoothed) gradient: the perfect baseline's mean is close to it.
    assert float(s["perfect"].bias_angle) < 15.0, s["perfect"].bias_angle

    # The running baseline: no baseline at the first update, then the bias-corrected mean.
    rule = credax.reinforce(LOSS, sigma=sigma, baseline_decay=0.5)
    state = rule.init(jax.random.key(0), params)
    assert int(state.count) == 0 and float(state.reward_mean) == 0.0
    update = jax.jit(rule.update)
    _, state = update(params, state, batch)
    _, state = update(params, state, batch)
    assert int(state.count) == 2
    corrected = float(state.reward_mean) / (1 - 0.5**2)
    np.testing.assert_allclose(corrected, float(jnp.mean(perfect)), rtol=0.2)


# --- AGREL ---------------------------------------------------------------------------------------


def test_signed_agrel_with_an_all_ones_gate_is_the_delta_rule_on_average():
    """One hidden layer of sigmoid units (AGREL's network). With an all-ones gate the signed
    feedback from the chosen unit s is ``φ = σ'(a) ⊙ W2[s]``; weighted by the RPE term
    ``f(δ) = (t_s - p_s) / p_s`` and averaged exactly over the action (enumerated, weights
    ``p_s``), it is backprop's error ``W2ᵀ(p - t) ⊙ σ'(a)``, so AGREL's mean update is the
    (generalised) delta rule ``ΔW2 = (p - t) hᵀ``, ``ΔW1 = (W2ᵀ(p - t) ⊙ h(1 - h)) xᵀ``."""
    k1, k2 = jax.random.split(jax.random.key(0))
    params = credax.nets.Sequential(
        [
            credax.nets.Dense(4, 5, key=k1, activation=jax.nn.sigmoid),
            credax.nets.Dense(5, 3, key=k2),
        ]
    )
    x, y = make_batch(jax.random.key(1), (4,), batch=3)
    n_actions = 3

    @jax.jit
    def expected_update(params, x, y):
        def for_example_and_action(xn, yn, s):
            rule = credax.agrel(
                LOSS,
                signed=True,
                gate=jnp.ones_like,
                select=lambda key, logits: jnp.full(logits.shape[:1], s),
            )
            state = rule.init(jax.random.key(0), params)
            return rule.update(params, state, (xn[None], yn[None]))[0]

        per = jax.vmap(
            lambda xn, yn: jax.vmap(lambda s: for_example_and_action(xn, yn, s))(
                jnp.arange(n_actions)
            )
        )(x, y)  # leaves (B, n_actions, ...)
        p = jax.nn.softmax(jax.vmap(params)(x))  # (B, n_actions)

        def average(u):
            w = p.reshape(p.shape + (1,) * (u.ndim - 2))
            return jnp.sum(w * u, axis=(0, 1)) / x.shape[0]

        return jax.tree.map(average, per), p

    agrel_mean, p = expected_update(params, x, y)
    w2 = params.layers[1].weight
    h = jax.vmap(params.layers[0])(x)
    e = p - jax.nn.one_hot(y, n_actions)
    delta_1 = (e @ w2) * h * (1 - h)
    b = x.shape[0]
    delta_rule = (delta_1.T @ x / b, jnp.mean(delta_1, 0), e.T @ h / b, jnp.mean(e, 0))
    got = (
        agrel_mean.layers[0].weight,
        agrel_mean.layers[0].bias,
        agrel_mean.layers[1].weight,
        agrel_mean.layers[1].bias,
    )
    chex.assert_trees_all_close(got, delta_rule, rtol=1e-4, atol=1e-6)
    chex.assert_trees_all_close(agrel_mean, grad(params, (x, y)), rtol=1e-4, atol=1e-6)


def test_agrel_single_draw_changes_only_the_chosen_units_output_weights():
    """At the output layer FB = onehot(s): a unit's weights change only through the examples
    that chose it, by presynaptic activity times the RPE term (gated and signed alike); the gated
    rule's hidden updates differ from the signed rule's."""
    params, batch = tiny()
    x, _ = batch
    s = jnp.array([1, 0, 1, 1])
    select = lambda key, logits: s  # noqa: E731
    gated = credax.agrel(LOSS, select=select)
    signed = credax.agrel(LOSS, signed=True, select=select)
    key = jax.random.key(0)
    u_gated, _ = jax.jit(gated.update)(params, gated.init(key, params), batch)
    u_signed, _ = jax.jit(signed.update)(params, signed.init(key, params), batch)
    # Only example 1 chose unit 0: row 0 of ΔW2 is its RPE term (the bias update) times its h.
    out = u_gated.layers[-1]
    chex.assert_trees_all_close(out, u_signed.layers[-1], rtol=1e-6)
    assert float(jnp.abs(out.bias[0])) > 0 and float(jnp.abs(out.bias[1])) > 0
    h = jax.vmap(params.layers[0])(x)
    chex.assert_trees_all_close(out.weight[0], out.bias[0] * h[1], rtol=1e-5, atol=1e-7)
    assert float(metrics.angle(u_gated.layers[0].weight, u_signed.layers[0].weight)) > 1.0


# --- estimator statistics ------------------------------------------------------------------------


@functools.cache
def stats_of(name):
    params = make_mlp(jax.random.key(0))
    batch = make_batch(jax.random.key(1), (5,), batch=4)
    rule = {"bp": credax.backprop(LOSS), "fa": credax.feedback_alignment(LOSS)}[name]

    @jax.jit
    def run(params, batch):
        return metrics.estimator_statistics(
            rule, params, batch, key=jax.random.key(2), n_draws=16, loss=LOSS
        )

    return run(params, batch), len(credax.nets.find_layers(params))


def test_estimator_statistics_of_backprop():
    s, n_layers = stats_of("bp")
    assert s.cosines.shape == (16,) and s.layer_variance.shape == (n_layers,)
    assert float(s.total_variance) == 0.0
    np.testing.assert_array_equal(s.layer_variance, 0.0)
    np.testing.assert_allclose(s.cosines, 1.0, atol=1e-5)
    assert float(s.bias_angle) < 0.05 and float(s.relative_error) < 1e-5
    assert np.isinf(float(s.snr))


def test_estimator_statistics_of_feedback_alignment():
    """Over feedback draws FA is biased: the mean hidden update shrinks (E[B] = 0), so the mean
    is off the gradient; the output layer, exact in every draw, has no variance."""
    s, _ = stats_of("fa")
    assert float(s.bias_angle) > 5.0, s.bias_angle
    assert float(s.total_variance) > 0.0
    assert float(s.layer_variance[-1]) < 1e-10
    assert bool(jnp.all(s.layer_variance[:-1] > 0))
    assert bool(jnp.all(jnp.abs(s.cosines) <= 1.0 + 1e-6))
    np.testing.assert_allclose(float(s.total_variance), float(jnp.sum(s.layer_variance)), rtol=1e-5)


def test_estimator_statistics_bad_input():
    params, batch = tiny()
    rule = credax.backprop(LOSS)
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="n_draws >= 2"):
        metrics.estimator_statistics(rule, params, batch, key=key, n_draws=1, loss=LOSS)
    with pytest.raises(TypeError, match="n_draws"):
        metrics.estimator_statistics(rule, params, batch, key=key, n_draws=2.0, loss=LOSS)
    with pytest.raises(TypeError, match="LearningRule"):
        metrics.estimator_statistics(LOSS, params, batch, key=key, n_draws=2, loss=LOSS)
    with pytest.raises(ValueError, match=re.escape("(B, 3)")):
        metrics.estimator_statistics(
            rule, params, (jnp.ones((4, 5)), batch[1]), key=key, n_draws=2, loss=LOSS
        )
    g = grad(params, batch)
    with pytest.raises(ValueError, match="at least 2 draws"):
        metrics.update_statistics(jax.tree.map(lambda a: a[None], g), g)


# --- bad options ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "factory, option, value, error",
    [
        (credax.weight_perturbation, "sigma", 0.0, ValueError),
        (credax.weight_perturbation, "sigma", -1e-3, ValueError),
        (credax.weight_perturbation, "sigma", "small", TypeError),
        (credax.weight_perturbation, "n_perturbations", 0, ValueError),
        (credax.weight_perturbation, "n_perturbations", 2.5, TypeError),
        (credax.weight_perturbation, "antithetic", "yes", TypeError),
        (credax.node_perturbation, "sigma", -1.0, ValueError),
        (credax.node_perturbation, "n_perturbations", 0, ValueError),
        (credax.node_perturbation, "n_perturbations", True, TypeError),
        (credax.reinforce, "sigma", 0.0, ValueError),
        (credax.reinforce, "baseline_decay", 1.0, ValueError),
        (credax.reinforce, "baseline_decay", "running", TypeError),
        (credax.reinforce, "baseline", 0.5, TypeError),
        (credax.agrel, "signed", 1, TypeError),
        (credax.agrel, "gate", 0.5, TypeError),
        (credax.agrel, "select", "argmax", TypeError),
        (credax.forward_gradient, "n_tangents", 0, ValueError),
        (credax.forward_gradient, "activity", None, TypeError),
    ],
)
def test_bad_options(factory, option, value, error):
    with pytest.raises(error, match=option):
        factory(LOSS, **{option: value})


def test_bad_callables_fail_at_trace_time():
    params, batch = tiny()
    rule = credax.reinforce(LOSS, baseline=lambda p, b: jnp.zeros(7))
    with pytest.raises(ValueError, match=re.escape("baseline(params, batch) of shape (4,)")):
        jax.jit(rule.update)(params, rule.init(jax.random.key(0), params), batch)
    rule = credax.agrel(LOSS, select=lambda key, logits: jnp.zeros((2,), jnp.int32))
    with pytest.raises(ValueError, match=re.escape("(4,) actions")):
        jax.jit(rule.update)(params, rule.init(jax.random.key(0), params), batch)


def test_agrel_needs_vector_outputs():
    k1 = jax.random.key(0)
    params = credax.nets.Sequential(
        [credax.nets.Conv2d(1, 2, 3, input_hw=(4, 4), key=k1), credax.nets.Flatten()]
    )
    with pytest.raises(ValueError, match="vector output"):
        credax.agrel(LOSS).init(jax.random.key(0), params)
