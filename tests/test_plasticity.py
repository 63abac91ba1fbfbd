"""The local family: what each rule's paper says it does, shown on small problems where the answer
is known (an eigendecomposition, a set point, a delayed reward), and its bad inputs refused.

The generic contract (jit = eager, vmap = loop, no retrace, learning under a readout) covers these
rules through the registry in ``test_contract.py``, ``test_learning.py`` and ``test_time.py``;
``test_hopfield.py`` tests the associative memories.
"""

from __future__ import annotations

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import credax

D = 8  # input dimension of the PCA problems


@functools.cache
def pca_data(n: int = 512):
    """Centred Gaussian inputs with a separated spectrum (variances 5, 3, 2, 1, ...) in a random
    basis; returns ``x`` and the eigenvectors of its sample second-moment matrix ``xᵀx/n``
    (columns, leading first): the fixed points of Oja's and Sanger's rules on these inputs."""
    k1, k2 = jax.random.split(jax.random.key(0))
    q, _ = jnp.linalg.qr(jax.random.normal(k1, (D, D)))
    sd = jnp.sqrt(jnp.asarray([5.0, 3.0, 2.0, 1.0, 0.5, 0.3, 0.2, 0.1]))
    x = (jax.random.normal(k2, (n, D)) * sd[None]) @ q.T
    _, vecs = jnp.linalg.eigh(x.T @ x / n)
    return x, vecs[:, ::-1]


def annealed(lr: float, steps: int):
    """A learning rate decaying 20-fold over the run, so the stochastic rules settle."""
    return optax.exponential_decay(lr, steps, 0.05)


def run(rule, params, batches, lr, state=None):
    """``lr``-SGD steps of ``rule`` over ``batches`` (leading axis: steps), one ``lax.scan``;
    returns the final params and state and every step's params."""
    opt = optax.sgd(lr)
    state = rule.init(jax.random.key(0), params) if state is None else state

    @jax.jit
    def go(params, state, batches):
        def step(carry, batch):
            params, state, opt_state = carry
            g, state = rule.update(params, state, batch)
            u, opt_state = opt.update(g, opt_state, params)
            params = optax.apply_updates(params, u)
            return (params, state, opt_state), params

        (params, state, _), path = jax.lax.scan(step, (params, state, opt.init(params)), batches)
        return params, state, path

    return go(params, state, batches)


def minibatches(x, steps, size, key=1):
    idx = jax.random.randint(jax.random.key(key), (steps, size), 0, x.shape[0])
    return x[idx]


def linear(sizes, key=0, activation=None, scale=None):
    """A one-layer network ``sizes[0] -> sizes[1]`` with ``activation`` (identity: linear)."""
    act = activation or credax.nets.identity
    net = credax.nets.mlp(list(sizes), key=key, activation=act, final_activation=act)
    if scale is not None:
        net = jax.tree_util.tree_map(lambda a: a * scale, net)
    return net


def step(path, i):
    """The params after step ``i`` of a scanned path."""
    return jax.tree_util.tree_map(lambda a: a[i], path)


def respond(net, x):
    """The first layer's outputs ``(B, units)``."""
    return jax.vmap(net.layers[0])(x)


def selectivity(y):
    """Mean over units of ``1 - mean/max`` response over inputs ``y (P, units)``."""
    return float(jnp.mean(1 - jnp.mean(y, 0) / jnp.max(y, 0)))


def abs_layer(layer, scale, bias):
    """The layer with weights ``scale·|W|`` and every bias ``bias``."""
    layer = eqx.tree_at(lambda q: q.weight, layer, scale * jnp.abs(layer.weight))
    return eqx.tree_at(lambda q: q.bias, layer, jnp.full_like(layer.bias, bias))


def angle(u, v):
    c = jnp.abs(u @ v) / (jnp.linalg.norm(u) * jnp.linalg.norm(v))
    return float(jnp.degrees(jnp.arccos(jnp.clip(c, 0.0, 1.0))))


# --- Hebb -----------------------------------------------------------------------------------------


def test_hebb_grows_without_bounds_and_stays_in_them_with_them():
    x, _ = pca_data()
    batches = minibatches(x, 200, 32)
    net = linear([D, 4], scale=0.3)
    _, _, path = run(credax.hebb(), net, batches, 0.01)
    norms = np.asarray(jax.vmap(lambda p: jnp.linalg.norm(p.layers[0].weight))(path))
    # Geometric growth: y = W x grows with W, and ΔW with y: once the leading direction
    # dominates, log ‖W‖ grows linearly in the step (by the leading variance times lr, ~5%),
    # up to minibatch noise.
    assert norms[-1] > 1e3 * norms[0], norms[[0, -1]]
    steps, logs = np.arange(100, 200), np.log(norms[100:200])
    slope, intercept = np.polyfit(steps, logs, 1)
    assert 0.02 < slope < 0.1, slope
    assert np.max(np.abs(logs - (slope * steps + intercept))) < 0.1

    bounded, _, _ = run(credax.hebb(bounds=(-0.5, 0.5)), net, batches, 0.01)
    w = np.asarray(bounded.layers[0].weight)
    # Weights stop at the bounds up to one step past them.
    assert w.max() <= 0.5 + 0.01 * 50 and w.min() >= -0.5 - 0.01 * 50
    assert np.mean(np.abs(w) >= 0.5) > 0.5  # most weights reached a bound

    normed, _, npath = run(credax.hebb(normalize=True), net, batches, 0.002)
    row_norms = jnp.linalg.norm(normed.layers[0].weight, axis=1)
    w0 = jnp.linalg.norm(net.layers[0].weight, axis=1)
    np.testing.assert_allclose(row_norms, w0, rtol=0.05)  # norms kept to first order
    # Biases: Δb = ⟨y⟩ > 0 for a sigmoid unit would grow without end; normalised, they stay;
    # bounded, they stop at the bound.
    sig = linear([D, 4], activation=jax.nn.sigmoid)
    normed, _, _ = run(credax.hebb(normalize=True), sig, batches, 0.01)
    np.testing.assert_array_equal(normed.layers[0].bias, sig.layers[0].bias)
    bounded, _, _ = run(credax.hebb(bounds=(-0.5, 0.5)), sig, batches, 0.01)
    assert float(jnp.max(bounded.layers[0].bias)) <= 0.5 + 0.01


# --- Oja and Sanger -------------------------------------------------------------------------------


def test_oja_reaches_unit_norm_and_the_first_principal_component():
    x, q = pca_data()
    net = linear([D, 1], scale=0.3)
    final, _, path = run(credax.oja(), net, minibatches(x, 1500, 32), annealed(0.01, 1500))
    w = final.layers[0].weight[0]
    assert abs(float(jnp.linalg.norm(w)) - 1.0) < 0.01, jnp.linalg.norm(w)
    assert angle(w, q[:, 0]) < 1.0, angle(w, q[:, 0])
    # The angle to the leading eigenvector falls over training.
    angles = [angle(p.layers[0].weight[0], q[:, 0]) for p in (net, step(path, 99), step(path, 499))]
    assert angles[0] > angles[1] > angles[2] > angle(w, q[:, 0]) - 1.0, angles


def test_oja_diagnostic_is_the_angle_to_the_leading_eigenvector():
    x, q = pca_data()
    rule = credax.oja()
    aligned = linear([D, 1])
    aligned = eqx.tree_at(lambda p: p.layers[0].weight, aligned, q[:, :1].T * 2.0)
    second = eqx.tree_at(lambda p: p.layers[0].weight, aligned, q[:, 1:2].T)
    # The probe's own second moments have eigenvectors near q's (512 samples).
    a0 = float(rule.diagnostics(aligned, None, x)["subspace_angle"][0])
    a1 = float(rule.diagnostics(second, None, x)["subspace_angle"][0])
    assert a0 < 5.0 and a1 > 80.0, (a0, a1)


def test_sanger_reaches_the_top_k_eigenvectors_in_order():
    x, q = pca_data()
    k = 3
    net = linear([D, 5], scale=0.3)
    rule = credax.oja(components=k)
    final, _, _ = run(rule, net, minibatches(x, 3000, 32), annealed(0.01, 3000))
    w = final.layers[0].weight
    for i in range(k):  # 0.2°, 0.5°, 0.4° here
        assert angle(w[i], q[:, i]) < 2.0, (i, angle(w[i], q[:, i]))
        assert abs(float(jnp.linalg.norm(w[i])) - 1.0) < 0.01
    # Units past k are left as they were.
    np.testing.assert_array_equal(w[k:], net.layers[0].weight[k:])
    angle_record = rule.diagnostics(final, None, x)["subspace_angle"]
    assert float(angle_record[0]) < 2.0


# --- BCM ------------------------------------------------------------------------------------------


def patterns_data(n_patterns=4, dim=16, steps=3000, key=3):
    """Inputs drawn one of a few non-negative patterns at a time (BCM's selectivity setting)."""
    k1, k2 = jax.random.split(jax.random.key(key))
    patterns = jax.random.uniform(k1, (n_patterns, dim))
    which = jax.random.randint(k2, (steps, 8), 0, n_patterns)
    return patterns, patterns[which]


def test_bcm_threshold_tracks_the_mean_squared_rate_and_units_become_selective():
    patterns, batches = patterns_data()
    net = linear([16, 6], activation=jax.nn.relu, key=4)
    # Positive weights: every unit responds to every pattern at first.
    net = eqx.tree_at(lambda p: p.layers[0], net, abs_layer(net.layers[0], 0.5, 0.0))
    rule = credax.bcm(tau_theta=20.0)
    final, state, path = run(rule, net, batches, 0.02)
    y = respond(final, patterns)  # (P, units)
    # θ is a running mean of ⟨y²⟩ (τ = 20 updates): at the end it matches ⟨y²⟩ under the final
    # weights, averaged over the patterns, to within the drift of the last ~20 updates.
    np.testing.assert_allclose(state.theta[0], jnp.mean(y**2, 0), rtol=0.25, atol=1e-3)
    # Units respond to few patterns: most of a unit's response is to its preferred pattern.
    y0 = respond(net, patterns)
    sel0 = selectivity(y0)
    sel = selectivity(y)
    assert sel0 < 0.3 and sel > 0.6, (sel0, sel)
    record = rule.diagnostics(final, state, patterns)
    np.testing.assert_allclose(record["selectivity"][0], sel, rtol=1e-5)
    # Weights stay bounded: the threshold grows faster than the rate.
    norms = jax.vmap(lambda p: jnp.linalg.norm(p.layers[0].weight))(path)
    assert float(jnp.max(norms)) < 10 * float(norms[0]) + 5.0


# --- three-factor ---------------------------------------------------------------------------------


def test_three_factor_with_no_modulator_changes_nothing_but_builds_traces():
    net = linear([5, 4], activation=jnp.tanh, key=2)
    rule = credax.three_factor(tau=5.0)
    state = rule.init(0, net)
    x = jax.random.normal(jax.random.key(1), (6, 5))
    g, state = rule.update(net, state, (x, jnp.zeros(())))
    assert all(float(jnp.abs(a).max()) == 0 for a in jax.tree_util.tree_leaves(g))
    assert float(rule.diagnostics(net, state, (x, jnp.zeros(())))["eligibility_norms"][0]) > 0


def test_a_delayed_reward_reaches_the_synapses_through_the_trace():
    net = linear([5, 4], activation=jnp.tanh, key=2)
    x = jax.random.normal(jax.random.key(1), (6, 5))
    silent = jnp.zeros_like(x)  # no input: a tanh layer without bias is silent, no coactivity
    net = eqx.tree_at(lambda p: p.layers[0].bias, net, jnp.zeros(4))
    y = jnp.tanh(x @ net.layers[0].weight.T)
    coact = y.T @ x / x.shape[0]
    for tau, expected in ((4.0, float(np.exp(-1 / 4))), (0.05, float(np.exp(-1 / 0.05)))):
        rule = credax.three_factor(tau=tau)
        state = rule.init(0, net)
        _, state = rule.update(net, state, (x, jnp.zeros(())))  # activity, no reward yet
        g, state = rule.update(net, state, (silent, jnp.ones(())))  # reward, no activity
        # Δw = m e = 1 · λ ⟨y xᵀ⟩ from the earlier step: updates are -Δw.
        np.testing.assert_allclose(-g.layers[0].weight, expected * coact, rtol=1e-5, atol=1e-7)
    # A per-unit modulator modulates each unit: units with m = 0 are left alone.
    rule = credax.three_factor(tau=1.0)
    state = rule.init(0, net)
    m = jnp.broadcast_to(jnp.asarray([1.0, 0.0, -1.0, 0.0]), (6, 4))
    g, _ = rule.update(net, state, (x, m))
    np.testing.assert_allclose(-g.layers[0].weight[0], coact[0], rtol=1e-5)
    np.testing.assert_allclose(-g.layers[0].weight[2], -coact[2], rtol=1e-5)
    assert float(jnp.abs(g.layers[0].weight[jnp.asarray([1, 3])]).max()) == 0


# --- homeostasis and intrinsic plasticity ---------------------------------------------------------


def test_homeostasis_brings_each_unit_to_its_set_point():
    # Excitatory synapses (non-negative inputs and weights), where scaling a unit's weights up
    # raises its rate; a negative bias, so that low rates are reachable.
    x = jax.random.uniform(jax.random.key(5), (400, 10))
    net = linear([10, 8], activation=jax.nn.sigmoid, key=6)
    net = eqx.tree_at(lambda p: p.layers[0], net, abs_layer(net.layers[0], 3.0, -3.0))
    rule = credax.homeostasis(target_rate=0.2, tau=5.0)
    final, state, _ = run(rule, net, minibatches(x, 1500, 32), 0.05)
    before = jnp.mean(respond(net, x), 0)
    after = jnp.mean(respond(final, x), 0)
    assert float(jnp.max(jnp.abs(before - 0.2))) > 0.2  # far from it at first
    np.testing.assert_allclose(after, 0.2, atol=0.03)
    np.testing.assert_allclose(state.rates[0], after, atol=0.03)
    # Scaling keeps each unit's relative synaptic strengths.
    w0, w1 = net.layers[0].weight, final.layers[0].weight
    cos = jnp.sum(w0 * w1, 1) / (jnp.linalg.norm(w0, axis=1) * jnp.linalg.norm(w1, axis=1))
    np.testing.assert_allclose(cos, 1.0, atol=1e-5)


def exponential_kl(y, mean, bins=20):
    """KL(histogram of y on [0, 1] || exponential of ``mean`` truncated to [0, 1])."""
    edges = np.linspace(0, 1, bins + 1)
    p = np.histogram(np.asarray(y).ravel(), edges)[0] + 1e-3
    p = p / p.sum()
    cdf = 1 - np.exp(-edges / mean)
    qd = np.diff(cdf) / cdf[-1]
    return float(np.sum(p * np.log(p / qd)))


def test_intrinsic_plasticity_shapes_the_rate_distribution_towards_the_exponential():
    x = jax.random.normal(jax.random.key(7), (2000, 6))
    net = linear([6, 1], activation=jax.nn.sigmoid, key=8)
    mu = 0.2
    rule = credax.intrinsic_plasticity(mean=mu)
    final, _, _ = run(rule, net, minibatches(x, 3000, 50), 0.01)

    kl0, kl1 = exponential_kl(respond(net, x), mu), exponential_kl(respond(final, x), mu)
    assert kl1 < 0.25 * kl0 and kl1 < 0.1, (kl0, kl1)
    assert abs(float(jnp.mean(respond(final, x))) - mu) < 0.03


def test_intrinsic_plasticity_leaves_unbounded_layers_alone():
    net = credax.nets.mlp([4, 6, 3], activation=jax.nn.sigmoid, key=0)  # linear readout
    g, _ = credax.intrinsic_plasticity().update(net, None, jnp.ones((3, 4)))
    assert float(jnp.abs(g.layers[0].weight).max()) > 0
    assert float(jnp.abs(g.layers[1].weight).max()) == 0


# --- composition: a masked Oja layer under a feedback-aligned readout -----------------------------


def test_masked_oja_first_layer_under_fa_readout_trains_through_make_fit_and_sweep():
    x, q = pca_data(256)
    y = (x @ q[:, 0] > 0).astype(jnp.int32)  # the label is the side of the leading direction

    def init(key):
        return credax.nets.mlp([D, 4, 2], activation=jnp.tanh, key=key)

    loss = credax.losses.softmax_cross_entropy
    first = lambda p: credax.nets.layer_mask(p, 0)  # noqa: E731
    rest = lambda p: jax.tree_util.tree_map(lambda m: not m, first(p))  # noqa: E731
    rule = credax.chain(
        credax.masked(credax.oja(), first), credax.masked(credax.feedback_alignment(loss), rest)
    )
    fit = credax.train.make_fit(
        rule,
        init,
        optax.sgd(0.02),
        train=(x[:192], y[:192]),
        test=(x[192:], y[192:]),
        epochs=20,
        batch_size=32,
        loss=loss,
    )
    result = credax.train.sweep(fit, 0, 3)
    history = result.history
    assert history["subspace_angle"].shape == (3, len(fit.eval_steps), 2)
    # Oja's first layer turns towards the inputs' leading direction; the readout learns.
    first_angle = history["subspace_angle"][:, :, 0]
    assert np.all(first_angle[:, -1] < 10.0), first_angle[:, [0, -1]]
    assert np.all(first_angle[:, 0] > 20.0), first_angle[:, [0, -1]]
    assert np.all(history["test_accuracy"][:, -1] > 0.6), history["test_accuracy"][:, -1]


# --- bad inputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: credax.bcm(tau_theta=0.0), "tau_theta"),
        (lambda: credax.bcm(tau_theta=-5.0), "tau_theta"),
        (lambda: credax.bcm(tau_theta=0.5), "tau_theta >= 1"),
        (lambda: credax.three_factor(tau=0.0), "tau"),
        (lambda: credax.three_factor(tau=-1.0), "tau"),
        (lambda: credax.homeostasis(target_rate=0.1, tau=0.0), "tau"),
        (lambda: credax.hebb(bounds=(1.0, -1.0)), "w_min < w_max"),
        (lambda: credax.hebb(bounds=(0.0,)), "pair"),
        (lambda: credax.oja(components=0), "components"),
        (lambda: credax.intrinsic_plasticity(mean=0.0), "mean"),
    ],
)
def test_bad_options_are_refused_at_construction(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_a_set_point_outside_the_activation_range_is_refused():
    net = linear([4, 6], activation=jax.nn.sigmoid)
    with pytest.raises(ValueError, match=r"target_rate inside the range .* \[0, 1\], got 1.5"):
        credax.homeostasis(target_rate=1.5).init(0, net)
    with pytest.raises(
        ValueError, match=r"mean \(the exponential's scale\) below the width 1 of layer 0"
    ):
        credax.intrinsic_plasticity(mean=2.0).init(0, net)
    with pytest.raises(ValueError, match="bounded, increasing elementwise activation"):
        credax.intrinsic_plasticity().init(0, linear([4, 6]))


def test_three_factor_refuses_a_missing_or_misshapen_modulator():
    net = credax.nets.mlp([4, 6, 3], activation=jnp.tanh, key=0)
    rule = credax.three_factor()
    state = rule.init(0, net)
    x = jnp.ones((5, 4))
    with pytest.raises(TypeError, match=r"expected a modulated batch \(x, m\)"):
        rule.update(net, state, x)
    with pytest.raises(ValueError, match=r"modulator m of shape \(\), \(5,\) or \(5, n\)"):
        rule.update(net, state, (x, jnp.ones(4)))
    with pytest.raises(ValueError, match=r"unit counts \[3, 6\]"):
        rule.update(net, state, (x, jnp.ones((5, 4))))
    with pytest.raises(TypeError, match="real-valued modulator"):
        rule.update(net, state, (x, jnp.ones(5, jnp.int32)))


def test_local_rules_refuse_inputs_of_the_wrong_size():
    net = credax.nets.mlp([4, 6], activation=jnp.tanh, key=0)
    for rule in (credax.hebb(), credax.oja(), credax.bcm(), credax.homeostasis(target_rate=0.1)):
        state = rule.init(0, net)
        with pytest.raises(ValueError, match=r"expected inputs of shape \(B, 4\)"):
            rule.update(net, state, jnp.ones((3, 5)))
