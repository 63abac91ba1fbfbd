"""Targets and energies: the properties each rule of the family promises, beyond the contract.

- DTP is stable by construction: targets equal to the activities at the top give targets equal
  to the activities everywhere (zero updates), whatever the inverses; TP is not.
- BIG equals DTP at σ² = 1 when the inhibition ``i_l`` is ``g_l ∘ f_{l+1}``.
- Predictive coding approaches backprop as the output error becomes small; equilibrium
  propagation approaches the gradient of its free equilibrium's loss (recurrent backprop,
  differentiated through the settling) as β → 0.
- Feedback networks and inhibition learn their own objectives inside ``update``.
- Bad options are refused with a message naming what was expected.
"""

from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import credax

MSE = credax.losses.mse
LOSS = credax.losses.softmax_cross_entropy
nets = credax.nets


@functools.cache
def small():
    """A 4-6-5-3 tanh MLP and a batch of 8."""
    params = nets.mlp([4, 6, 5, 3], activation=jnp.tanh, key=0)
    x = jax.random.normal(jax.random.key(1), (8, 4))
    y = jax.random.randint(jax.random.key(2), (8,), 0, 3)
    return params, x, y


def cosines(u, v):
    out = []
    for a, b in zip(nets.find_layers(u), nets.find_layers(v), strict=True):
        fa = jnp.concatenate([a.weight.ravel(), a.bias.ravel()])
        fb = jnp.concatenate([b.weight.ravel(), b.bias.ravel()])
        out.append(float(fa @ fb / (jnp.linalg.norm(fa) * jnp.linalg.norm(fb))))
    return np.array(out)


def bp(params, x, y, loss=MSE):
    return jax.grad(lambda p: loss(jax.vmap(p)(x), y))(params)


# --- target propagation ---------------------------------------------------------------------------


@pytest.mark.parametrize("output_target", [False, True], ids=["lee", "output"])
def test_dtp_is_stable_and_tp_is_not(output_target):
    """Targets equal to the activities at the top (the network already outputs y, MSE): DTP's
    targets equal the activities everywhere, zero updates (to rounding, ~1e-7), with untrained
    random inverses. TP's targets carry the inverses' reconstruction error below the first
    target (in Lee et al.'s structure the first target, on the last hidden layer, is exact)."""
    params, x, _ = small()
    y = jax.vmap(params)(x)
    for name in ("difference_target_propagation", "target_propagation"):
        rule = getattr(credax, name)(MSE, output_target=output_target)
        g, _ = jax.jit(rule.update)(params, rule.init(1, params), (x, y))
        norms = [float(jnp.linalg.norm(layer.weight)) for layer in nets.find_layers(g)]
        exact = 1 if output_target else 2  # layers at or above the first target
        if name.startswith("difference"):
            assert max(norms) < 1e-6, norms
        else:
            assert max(norms[-exact:]) < 1e-6 and min(norms[:-exact]) > 1e-3, norms


@pytest.mark.parametrize("name", ["target_propagation", "difference_target_propagation"])
def test_lee_structure_first_target_is_a_gradient_step(name):
    """Lee et al.'s Algorithm 1: no inverse of the output layer, and the first target a gradient
    step on the last hidden layer (η = 1): that layer's update and the output layer's are
    backprop's, so with one hidden layer the whole update is backprop's."""
    shallow = nets.mlp([4, 6, 3], activation=jnp.tanh, key=0)
    params, x, y = small()
    for net in (shallow, params):
        rule = getattr(credax, name)(LOSS)
        state = rule.init(1, net)
        assert [g.weight.shape for g in state.inverses] == [
            (a.out_shape[0], b.out_shape[0])
            for a, b in zip(nets.find_layers(net)[:-2], nets.find_layers(net)[1:-1])
        ]
        g, _ = rule.update(net, state, (x, y))
        ref = bp(net, x, y, LOSS)
        top = slice(-2, None)
        chex.assert_trees_all_close(
            nets.find_layers(g)[top], nets.find_layers(ref)[top], rtol=1e-5, atol=1e-7
        )
    assert state.inverses  # the deeper net's lower layer is reached through an inverse


def test_dtp_stability_holds_for_any_inverses():
    params, x, _ = small()
    y = jax.vmap(params)(x)
    rule = credax.difference_target_propagation(MSE)
    state = rule.init(1, params)
    wild = jax.tree.map(lambda a: 10.0 * a + 1.0, state.inverses)
    g, _ = rule.update(params, state._replace(inverses=wild), (x, y))
    assert all(float(jnp.abs(leaf).max()) < 1e-6 for leaf in jax.tree.leaves(g))


def _dtp_as_big_state(params, big_state, dtp_state):
    """BIG's state with DTP's feedback and ``i_l = g_l ∘ f_{l+1}``."""
    layers = nets.find_layers(params)
    inhibition = tuple(
        nets.Sequential([layers[l + 1], g]) for l, g in enumerate(dtp_state.inverses)
    )
    return big_state._replace(inverses=dtp_state.inverses, inhibition=inhibition)


@pytest.mark.parametrize("loss", [LOSS, MSE], ids=["xent", "mse"])
def test_big_equals_dtp_at_unit_variance_with_dtp_inhibition(loss):
    params, x, y = small()
    if loss is MSE:
        y = jax.nn.one_hot(y, 3)
    dtp = credax.difference_target_propagation(loss, output_target=True)  # the BIG abstract's form
    dtp_state = dtp.init(1, params)
    g_dtp, _ = dtp.update(params, dtp_state, (x, y))
    for sigma, equal in ((1.0, True), (0.5, False)):
        big = credax.balanced_inhibition_gradient(loss, sigma=sigma)
        state = _dtp_as_big_state(params, big.init(2, params), dtp_state)
        g_big, _ = big.update(params, state, (x, y))
        if equal:
            chex.assert_trees_all_close(g_big, g_dtp, rtol=1e-5, atol=1e-7)
        else:
            assert float(credax.metrics.angle(g_big.layers[0], g_dtp.layers[0])) > 1.0
    # The records agree: DTP's inhibition is DTP's prior term, and the targets coincide.
    big = credax.balanced_inhibition_gradient(loss, sigma=1.0)
    rec = big.diagnostics(params, _dtp_as_big_state(params, big.init(2, params), dtp_state), (x, y))
    np.testing.assert_allclose(rec["inhibition_vs_dtp"], 0.0, atol=1e-6)
    np.testing.assert_allclose(rec["target_angle_dtp"], 0.0, atol=0.1)
    assert rec["ei_balance"].shape == (2,)


def _relax(rule, params, batch, steps):
    """``steps`` rule updates on fixed forward weights; returns (initial state, final state)."""
    state0 = rule.init(jax.random.key(3), params)

    @jax.jit
    def go(state):
        return jax.lax.scan(lambda s, _: (rule.update(params, s, batch)[1], None), state, None,
                            length=steps)[0]  # fmt: skip

    return state0, go(state0)


@pytest.mark.parametrize(
    "name", ["target_propagation", "difference_target_propagation", "balanced_inhibition_gradient"]
)
def test_feedback_networks_learn_inside_update(name):
    params, x, y = small()
    rule = getattr(credax, name)(LOSS, inverse_optimizer=optax.adam(1e-2))
    state0, state = _relax(rule, params, (x, y), 200)
    if name == "balanced_inhibition_gradient":
        before = rule.diagnostics(params, state0, (x, y))
        after = rule.diagnostics(params, state, (x, y))
        # The feedback and the inhibition both learn to predict h_l: E_fb and I come into balance.
        # Observed after 200 steps: 0.52 and 0.62 of the initial imbalance.
        assert bool(jnp.all(after["ei_balance"] < 0.75 * before["ei_balance"])), (before, after)
        # The inhibition denoises: with noise of std σ = 1 its output is closer to h than h + ε.
        h = nets.trace(params, x).outputs[0]
        noisy = h + jax.random.normal(jax.random.key(9), h.shape)
        err = jnp.linalg.norm(jax.vmap(state.inhibition[0])(noisy) - h)
        assert float(err) < 0.5 * float(jnp.linalg.norm(noisy - h))
    else:
        before = rule.diagnostics(params, state0, (x, y))["reconstruction_errors"]
        after = rule.diagnostics(params, state, (x, y))["reconstruction_errors"]
        assert bool(jnp.all(after < 0.5 * before)), (before, after)


def test_balanced_inhibition_approaches_dtp_when_it_learns_to_cancel_feedback():
    """With ``balance=True`` the inhibition learns ``i_l ≈ g_l ∘ f_{l+1}`` (the feedback excitation
    at the free state), so BIG at σ = 1 approaches DTP; the denoising inhibition does not."""
    params, x, y = small()
    out = {}
    for balance in (True, False):
        rule = credax.balanced_inhibition_gradient(
            LOSS, balance=balance, inverse_optimizer=optax.adam(1e-2)
        )
        _, state = _relax(rule, params, (x, y), 300)
        out[balance] = rule.diagnostics(params, state, (x, y))
    assert bool(jnp.all(out[True]["inhibition_vs_dtp"] < 0.1)), out[True]
    assert bool(jnp.all(out[True]["target_angle_dtp"] < 10.0)), out[True]
    assert bool(jnp.all(out[False]["inhibition_vs_dtp"] > 0.3)), out[False]


def test_alternating_schedule_uses_the_trained_inverses():
    """With ``alternating=True`` the inverses take their step first and the targets go through
    the new inverses: the forward updates are those of the simultaneous schedule given them."""
    params, x, y = small()
    alt = credax.difference_target_propagation(LOSS, alternating=True, inverse_steps=3)
    sim = credax.difference_target_propagation(LOSS, inverse_steps=3)
    state = alt.init(1, params)
    g_alt, new = alt.update(params, state, (x, y))
    g_sim, new_sim = sim.update(params, state, (x, y))
    chex.assert_trees_all_close(new.inverses, new_sim.inverses)  # same inverse steps
    g_with_new, _ = sim.update(params, state._replace(inverses=new.inverses), (x, y))
    chex.assert_trees_all_close(g_alt, g_with_new, rtol=1e-6, atol=1e-8)
    assert float(credax.metrics.angle(g_alt.layers[0], g_sim.layers[0])) > 0.01


# --- predictive coding ----------------------------------------------------------------------------


@pytest.mark.parametrize("loss", [MSE, LOSS], ids=["mse", "xent"])
def test_predictive_coding_approaches_backprop_as_the_output_error_vanishes(loss):
    """Whittington & Bogacz (2017): when the output error weighs little against the hidden
    prediction errors (small output precision λ), the relaxed errors are backprop's errors and
    the updates (divided by λ) approach the gradient: cosine > 0.999 per layer at λ = 1e-3,
    relative error < 1%. At λ = 1 the hidden nodes absorb part of the error and the updates
    turn away from the gradient."""
    params, x, y = small()
    if loss is MSE:
        y = jax.nn.one_hot(y, 3)
    ref = bp(params, x, y, loss)
    out = {}
    for lam in (1e-3, 1.0):
        rule = credax.predictive_coding(
            loss, inference_steps=200, inference_rate=0.1, output_precision=lam
        )
        g, _ = jax.jit(rule.update)(params, rule.init(0, params), (x, y))
        out[lam] = (cosines(g, ref), g)
    assert bool(np.all(out[1e-3][0] > 0.999)), out[1e-3][0]
    for a, b in zip(jax.tree.leaves(out[1e-3][1]), jax.tree.leaves(ref), strict=True):
        assert float(jnp.linalg.norm(a - b)) < 1e-2 * float(jnp.linalg.norm(b))
    assert out[1.0][0][0] < 0.999 and out[1.0][0].min() < out[1e-3][0].min(), out


def test_predictive_coding_relaxation_lowers_the_energy():
    params, x, y = small()
    few = credax.predictive_coding(LOSS, inference_steps=1).diagnostics(params, (), (x, y))
    many = credax.predictive_coding(LOSS, inference_steps=50).diagnostics(params, (), (x, y))
    assert float(many["energy"]) < float(few["energy"])
    assert many["prediction_errors"].shape == (2,)


# --- equilibrium propagation ----------------------------------------------------------------------


def test_equilibrium_propagation_approaches_recurrent_backprop():
    """As β → 0, EP's update equals the gradient of the loss of the free equilibrium, computed
    here by differentiating through the settling (recurrent backprop / BPTT); the symmetric
    estimate is closer than the one-sided one at the same β."""
    params, x, y = small()
    y = jax.nn.one_hot(y, 3)
    kw = dict(free_steps=300, nudged_steps=300, step_size=0.3)
    sym = credax.equilibrium_propagation(MSE, beta=1e-2, symmetric=True, **kw)
    one = credax.equilibrium_propagation(MSE, beta=1e-2, symmetric=False, **kw)
    ref = jax.jit(jax.grad(lambda p: MSE(sym.predict(p, x), y)))(params)
    g_sym, _ = jax.jit(sym.update)(params, (), (x, y))
    g_one, _ = jax.jit(one.update)(params, (), (x, y))
    c_sym, c_one = cosines(g_sym, ref), cosines(g_one, ref)
    assert bool(np.all(c_sym > 0.999)), c_sym
    assert bool(np.all(c_one > 0.99)), c_one
    err = lambda g: float(  # noqa: E731
        credax.metrics.angle(g, ref)
    )
    assert err(g_sym) < err(g_one)


def test_equilibrium_propagation_predicts_its_free_equilibrium():
    params, x, y = small()
    rule = credax.equilibrium_propagation(LOSS)
    out = rule.predict(params, x)
    assert out.shape == (8, 3)
    # The free phase moves away from the feedforward pass (feedback through W_lᵀ), a little.
    rec = rule.diagnostics(params, (), (x, y))
    assert 0.0 < float(rec["free_vs_feedforward"]) < 1.0
    _, _, value = rule.update_with_value(params, (), (x, y))
    np.testing.assert_allclose(value, LOSS(out, y), rtol=1e-6)


# --- bad options ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "factory, options, error, match",
    [
        ("balanced_inhibition_gradient", {"sigma": 0.0}, ValueError, "sigma > 0, got 0.0"),
        ("balanced_inhibition_gradient", {"sigma": -1}, ValueError, "sigma > 0"),
        ("balanced_inhibition_gradient", {"sigma": "1"}, TypeError, "sigma to be a number"),
        ("target_propagation", {"eta": 0}, ValueError, "eta > 0"),
        ("target_propagation", {"noise": -0.1}, ValueError, "noise >= 0"),
        ("difference_target_propagation", {"inverse_steps": 0}, ValueError, "inverse_steps >= 1"),
        ("difference_target_propagation", {"inverse_optimizer": "adam"}, TypeError,
         "optax GradientTransformation"),
        ("difference_target_propagation", {"alternating": 1}, TypeError, "True or False"),
        ("predictive_coding", {"inference_steps": 0}, ValueError, "inference_steps >= 1"),
        ("predictive_coding", {"inference_steps": 2.5}, TypeError, "inference_steps to be an int"),
        ("predictive_coding", {"inference_rate": 0}, ValueError, "inference_rate > 0"),
        ("predictive_coding", {"output_precision": -1.0}, ValueError, "output_precision > 0"),
        ("equilibrium_propagation", {"beta": 0.0}, ValueError, "beta > 0, got 0.0"),
        ("equilibrium_propagation", {"free_steps": 0}, ValueError, "free_steps >= 1"),
        ("equilibrium_propagation", {"step_size": float("nan")}, ValueError, "finite"),
    ],
)  # fmt: skip
def test_bad_options(factory, options, error, match):
    with pytest.raises(error, match=match):
        getattr(credax, factory)(LOSS, **options)


def test_make_fit_refuses_a_model_the_rule_cannot_train_before_compiling():
    x, y = jnp.zeros((20, 1, 32, 32)), jnp.zeros(20, jnp.int32)
    with pytest.raises(ValueError, match="expected Dense layers .* got Conv2d"):
        credax.train.make_fit(
            credax.target_propagation(LOSS),
            lambda k: nets.lenet(key=k),
            optax.sgd(0.1),
            loss=LOSS,
            train=(x, y),
            test=(x, y),
            epochs=1,
            batch_size=10,
        )


@pytest.mark.parametrize(
    "factory",
    ["target_propagation", "difference_target_propagation", "balanced_inhibition_gradient",
     "predictive_coding", "equilibrium_propagation"],
)  # fmt: skip
def test_a_network_without_hidden_layer_is_refused(factory):
    rule = getattr(credax, factory)(LOSS)
    with pytest.raises(ValueError, match="at least 2 Dense layers"):
        rule.init(0, nets.mlp([4, 3], activation=jnp.tanh, key=0))


def test_predict_survives_composition_and_drives_the_default_evaluation():
    """``masked`` and ``chain`` keep the rule's ``predict``; ``supervised_evaluation`` then scores
    the free equilibrium's outputs, not the feedforward pass."""
    params, x, y = small()
    ep = credax.equilibrium_propagation(LOSS)
    mask = nets.layer_mask(params, [0, 1, 2])
    for rule in (credax.masked(ep, mask), credax.chain(credax.backprop(LOSS), ep)):
        assert rule.predict is ep.predict
    evaluate = credax.tasks.supervised_evaluation(LOSS, ep, angles=False)
    rec = evaluate(params, (), (x, y), (x, y))
    np.testing.assert_allclose(rec["test_loss"], LOSS(ep.predict(params, x), y), rtol=1e-6)
    assert float(rec["test_loss"]) != float(LOSS(jax.vmap(params)(x), y))


def test_big_state_from_another_model_names_the_feedback_networks():
    net = credax.nets.mlp([5, 7, 3], activation=jnp.tanh, key=0)
    other = credax.nets.mlp([5, 4, 3], activation=jnp.tanh, key=0)
    rule = credax.balanced_inhibition_gradient(credax.losses.softmax_cross_entropy)
    batch = (jnp.ones((4, 5)), jnp.array([0, 1, 2, 0]))
    with pytest.raises(ValueError, match=r"feedback networks do not fit this model: expected"):
        rule.update(net, rule.init(0, other), batch)
    with pytest.raises(ValueError, match="expected a BalancedInhibitionState"):
        rule.update(net, credax.difference_target_propagation(credax.losses.mse).init(0, net),
                    batch)  # fmt: skip
