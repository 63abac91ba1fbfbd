"""The dendritic family: each rule's own invariants and its backprop limit (the contract, learning
and error tests cover them through the registry).

- Urbanczik & Senn: plasticity stops when the dendrite predicts the soma.
- The microcircuit: in the self-predicting state with no target the apical potentials vanish and
  nothing changes; the interneuron rules learn that state from random weights; with symmetric
  top-down weights the updates approach backprop's as the nudging weakens (first order in λ:
  ``1 - cos`` and the norm error shrink with λ); the continuous dynamics settle where the
  steady state is.
- Segregated dendrites: the hidden update is the plateau difference through ``φ'``.
- Burstprop: with ``P̄`` the free burst probability, symmetric feedback and a weak apical drive,
  its updates are backprop's.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import credax

LOSS = credax.losses.softmax_cross_entropy
SIZES = [5, 7, 6, 3]


def batch(n=16, d=5, k=3):
    x = jax.random.normal(jax.random.key(1), (n, d))
    return x, jax.random.randint(jax.random.key(2), (n,), 0, k)


def net(activation=jnp.tanh, sizes=SIZES, scale=1.0):
    params = credax.nets.mlp(sizes, activation=activation, key=0)
    return jax.tree.map(lambda a: scale * a, params)


def flat(layer):
    return jnp.concatenate([layer.weight.ravel(), layer.bias.ravel()])


def cosines_and_norms(updates, ref):
    """Per layer: cosine to backprop and the norm ratio."""
    out = []
    for a, b in zip(credax.nets.find_layers(updates), credax.nets.find_layers(ref)):
        u, v = flat(a), flat(b)
        out.append(
            (float(u @ v / jnp.linalg.norm(u) / jnp.linalg.norm(v)),
             float(jnp.linalg.norm(u) / jnp.linalg.norm(v)))
        )  # fmt: skip
    return np.array(out)


def backprop(params, b, loss=LOSS):
    return credax.backprop(loss).update(params, (), b)[0]


# --- Urbanczik & Senn -----------------------------------------------------------------------------


def test_dendritic_prediction_stops_when_the_dendrite_predicts_the_soma():
    params = net(sizes=[5, 4])
    x, _ = batch()
    y = jax.vmap(params)(x)  # the teacher asks for what the dendrite already predicts
    rule = credax.dendritic_prediction(credax.losses.mse, nudging=0.5)
    g, _ = rule.update(params, rule.init(0, params), (x, y))
    assert float(jnp.max(jnp.abs(g.layers[0].weight))) == 0.0
    assert float(rule.diagnostics(params, rule.init(0, params), (x, y))["dendritic_error"]) == 0


def test_dendritic_prediction_learns_a_teacher_until_prediction_matches():
    """A two-compartment layer learns a tanh teacher by the rule alone (SGD on -ΔW/λ)."""
    teacher, student = credax.nets.mlp([5, 3], activation=jnp.tanh, key=7), net(sizes=[5, 3])
    student = credax.nets.mlp([5, 3], activation=jnp.tanh, key=8)
    x = jax.random.normal(jax.random.key(3), (64, 5))
    y = jax.vmap(teacher)(x)
    rule = credax.dendritic_prediction(credax.losses.mse, nudging=0.5)
    opt = optax.sgd(0.5)

    @jax.jit
    def train(p):
        def step(carry, _):
            p, s = carry
            g, _ = rule.update(p, credax.EmptyState(), (x, y))
            u, s = opt.update(g, s, p)
            return (optax.apply_updates(p, u), s), None

        return jax.lax.scan(step, (p, opt.init(p)), length=300)[0][0]

    trained = train(student)
    before = rule.diagnostics(student, credax.EmptyState(), (x, y))["dendritic_error"]
    after = rule.diagnostics(trained, credax.EmptyState(), (x, y))["dendritic_error"]
    assert float(after) < 0.02 * float(before), (before, after)


# --- the microcircuit -----------------------------------------------------------------------------


def test_self_predicting_state_with_no_target_changes_nothing():
    params, (x, _) = net(), batch()
    pre = credax.dendrites.microcircuit_self_prediction(self_predicting_init=True)
    state = pre.init(0, params)
    rec = pre.diagnostics(params, state, x)
    for name in ("apical_potential", "apical_mismatch", "self_prediction_error"):
        np.testing.assert_allclose(rec[name], 0.0, atol=1e-6)
    g, new = pre.update(params, state, x)
    assert all(float(jnp.max(jnp.abs(a))) == 0 for a in jax.tree.leaves(g))
    for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(new)):
        np.testing.assert_allclose(a, b, atol=1e-7)
    # The supervised rule too, when the target is what the network already gives (no error).
    rule = credax.dendritic_microcircuit(credax.losses.mse)
    g, new = rule.update(params, rule.init(0, params), (x, jax.vmap(params)(x)))
    assert max(float(jnp.max(jnp.abs(a))) for a in jax.tree.leaves(g)) < 1e-5


def test_interneurons_learn_the_self_predicting_state():
    params = net()
    x = jax.random.normal(jax.random.key(4), (64, 5))
    pre = credax.dendrites.microcircuit_self_prediction(interneuron_lr=0.5, apical_lr=0.5)
    state = pre.init(3, params)

    @jax.jit
    def learn(state):
        return jax.lax.scan(lambda s, _: (pre.update(params, s, x)[1], None), state, length=400)[0]

    before, after = pre.diagnostics(params, state, x), pre.diagnostics(params, learn(state), x)
    np.testing.assert_allclose(before["apical_mismatch"], 1.0)  # W^PI starts at zero
    assert bool(jnp.all(after["apical_mismatch"] < 0.1)), after
    assert bool(jnp.all(after["self_prediction_error"] < 0.2 * before["self_prediction_error"]))


@pytest.mark.parametrize("continuous", [False, True])
def test_weak_nudging_approaches_backprop(continuous):
    """Self-predicting state, B_l = W_{l+1}ᵀ: updates - backprop's = O(λ) per layer."""
    params, b = net(), batch()
    ref = backprop(params, b)
    err = []
    for lam in (0.3, 0.03):
        rule = credax.dendritic_microcircuit(
            LOSS, nudging=lam, symmetric_top_down=True, continuous=continuous, steps=2000
        )
        cn = cosines_and_norms(rule.update(params, rule.init(0, params), b)[0], ref)
        err.append((1 - cn[:, 0], np.abs(cn[:, 1] - 1)))
    strong, weak = err
    assert np.all(weak[0] < 1e-3), weak  # cosines
    # The hidden layers' errors shrink with λ; the output layer's cosine is exact in both.
    assert np.all(weak[0][:-1] < strong[0][:-1]) and np.all(weak[1][:-1] < strong[1][:-1]), err
    # One sweep is first-order exact in λ; the dynamics reach the full fixed point (whose rates
    # below the output move by O(λ) too, a relative O(λ) change) and integrate their rise from
    # the free state (τ/T = 0.5% of the window).
    assert np.all(weak[1] < (0.03 if continuous else 2e-3)), weak


def test_fixed_random_top_down_is_feedback_alignment_like():
    params, b = net(), batch()
    rule = credax.dendritic_microcircuit(LOSS, nudging=0.01)
    angles = credax.metrics.update_angles(rule.update(params, rule.init(0, params), b)[0],
                                          backprop(params, b))  # fmt: skip
    assert bool(jnp.all(angles[:-1] > 5.0)) and float(angles[-1]) < 1.0, angles


def test_more_sweeps_converge_to_the_dynamics_fixed_point():
    params, b = net(), batch()
    opts = dict(nudging=0.3, symmetric_top_down=True)
    sweeps = credax.dendritic_microcircuit(LOSS, settle_iterations=30, **opts)
    dynamics = credax.dendritic_microcircuit(LOSS, continuous=True, steps=4000, dt=0.2, **opts)
    state = sweeps.init(0, params)
    a, c = sweeps.update(params, state, b)[0], dynamics.update(params, state, b)[0]
    cn = cosines_and_norms(a, c)
    assert np.all(cn[:, 0] > 0.9999) and np.all(np.abs(cn[:, 1] - 1) < 0.01), cn


def test_microcircuit_records():
    params, b = net(), batch()
    rule = credax.dendritic_microcircuit(LOSS, self_predicting_init=False)
    rec = rule.diagnostics(params, rule.init(0, params), b)
    assert set(rec) == set(credax.registry.lookup("microcircuit").diagnostics)
    assert all(v.shape == (2,) for v in rec.values())
    np.testing.assert_allclose(rec["apical_mismatch"], 1.0)  # nothing cancels the top-down yet


# --- segregated dendrites -------------------------------------------------------------------------


def test_segregated_dendrites_hidden_update_is_the_plateau_difference():
    params, (x, y) = net(sizes=[5, 7, 3]), batch()
    rule = credax.segregated_dendrites(LOSS, nudging=0.5)
    state = rule.init(0, params)
    g, _ = rule.update(params, state, (x, y))
    tr = credax.nets.trace(params, x)
    r = tr.outputs[-1]
    grad = jax.grad(lambda o: LOSS(o, y))(r) * x.shape[0]  # ∂ℓ_n/∂r_N per example
    (Y,) = state.feedback
    plateau = jax.nn.sigmoid((r - 0.5 * grad) @ Y.T) - jax.nn.sigmoid(r @ Y.T)
    delta = -plateau * (1 - jnp.tanh(tr.preactivations[0]) ** 2) / (0.5 * x.shape[0])
    np.testing.assert_allclose(g.layers[0].weight, delta.T @ x, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(g.layers[1].weight, backprop(params, (x, y)).layers[1].weight,
                               rtol=1e-5, atol=1e-6)  # fmt: skip


# --- burstprop ------------------------------------------------------------------------------------


def test_burstprop_with_true_burst_average_and_symmetric_feedback_is_backprop():
    """Weak apical drive (small weights: σ'(u) ≈ 1/4), P̄ the free phase's p, Y = W."""
    params, b = net(jax.nn.sigmoid, scale=0.2), batch()
    rule = credax.burstprop(LOSS, symmetric_feedback=True)
    cn = cosines_and_norms(rule.update(params, rule.init(0, params), b)[0], backprop(params, b))
    assert np.all(cn[:, 0] > 0.999) and np.all(np.abs(cn[:, 1] - 1) < 0.02), cn
    # With random feedback the hidden layers are feedback-alignment-like, the output exact.
    rule = credax.burstprop(LOSS)
    angles = credax.metrics.update_angles(rule.update(params, rule.init(0, params), b)[0],
                                          backprop(params, b))  # fmt: skip
    assert bool(jnp.all(angles[:-1] > 5.0)) and float(angles[-1]) < 1e-3, angles


def test_burstprop_output_is_the_papers_for_the_squared_error():
    """p_N^t = p̄(1 + (1 - e)(y - e)) for sigmoid outputs (Payeur et al.'s ensemble model)."""
    hidden = credax.nets.Dense(5, 7, key=jax.random.key(4), activation=jax.nn.sigmoid)
    out = credax.nets.Dense(7, 3, key=jax.random.key(5), activation=jax.nn.sigmoid)
    sig = credax.nets.Sequential([hidden, out])
    x = jax.random.normal(jax.random.key(1), (4, 5))
    y = jax.random.uniform(jax.random.key(2), (4, 3))
    rule = credax.burstprop(lambda o, t: 0.5 * jnp.mean(jnp.sum((o - t) ** 2, -1)))
    state = rule.init(0, sig)
    rec = rule.diagnostics(sig, state, (x, y))
    e = jax.vmap(sig)(x)
    np.testing.assert_allclose(rec["burst_probability"][-1],
                               jnp.mean(0.2 * (1 + (1 - e) * (y - e))), rtol=1e-5)  # fmt: skip


def test_burstprop_running_average_and_learned_feedback():
    params, b = net(jax.nn.sigmoid), batch()
    rule = credax.burstprop(LOSS, running_average=True, average_decay=0.5, feedback_lr=0.1)
    state = rule.init(0, params)
    _, new = rule.update(params, state, b)
    p_t = rule.diagnostics(params, state, b)["burst_probability"]
    # P̄ moved halfway to this batch's mean burst probability (hidden layers: the linear
    # readout records none); Y learned.
    np.testing.assert_allclose([jnp.mean(a) for a in new.burst_average[:-1]],
                               0.5 * np.array([jnp.mean(a) for a in state.burst_average[:-1]])
                               + 0.5 * np.asarray(p_t[:-1]), rtol=1e-5)  # fmt: skip
    assert bool(jnp.isnan(p_t[-1]))
    assert not np.allclose(new.feedback[0], state.feedback[0])


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: credax.dendritic_microcircuit(LOSS, tau=0.0), r"expected tau > 0, got 0.0"),
        (lambda: credax.dendritic_microcircuit(LOSS, dt=-1), r"expected dt > 0"),
        (lambda: credax.dendritic_microcircuit(LOSS, nudging=0), r"expected nudging > 0"),
        (lambda: credax.dendritic_microcircuit(LOSS, nudging=1.5), r"nudging in \(0, 1\]"),
        (lambda: credax.dendritic_microcircuit(LOSS, interneuron_nudging=1.0),
         r"interneuron_nudging in \(0, 1\)"),
        (lambda: credax.dendritic_microcircuit(LOSS, settle_iterations=0),
         "settle_iterations >= 1"),
        (lambda: credax.dendritic_prediction(LOSS, nudging=2), r"nudging in \(0, 1\]"),
        (lambda: credax.segregated_dendrites(LOSS, nudging=-0.1), "nudging > 0"),
        (lambda: credax.burstprop(LOSS, output_burst_probability=1.0),
         r"output_burst_probability in \(0, 1\)"),
        (lambda: credax.burstprop(LOSS, average_decay=1.0), r"average_decay in \[0, 1\)"),
        (lambda: credax.burstprop(LOSS, feedback_lr=-1), "feedback_lr >= 0"),
    ],
)  # fmt: skip
def test_bad_options(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_option_types():
    with pytest.raises(TypeError, match="expected tau to be a number"):
        credax.dendritic_microcircuit(LOSS, tau="1")
    with pytest.raises(TypeError, match="expected continuous to be True or False"):
        credax.dendritic_microcircuit(LOSS, continuous=1)


def test_interneuron_count_must_match_the_layer_above():
    params, b = net(), batch()
    rule = credax.dendritic_microcircuit(LOSS)
    state = rule.init(0, params)
    first = state.to_interneurons[0][:5]
    wrong = state._replace(to_interneurons=(first, *state.to_interneurons[1:]))
    expected = r"one interneuron per pyramidal neuron of the layer above, \[6, 3\] in hidden "
    with pytest.raises(ValueError, match=expected + r"layers 1..2, got \[5, 3\]"):
        rule.update(params, wrong, b)


def test_burstprop_refuses_signed_rates():
    with pytest.raises(ValueError, match="expected nonnegative event rates, but layer 0's"):
        credax.burstprop(LOSS).init(0, net(jnp.tanh))
