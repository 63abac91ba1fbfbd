"""Composition: ``credax.chain`` sums rules' updates, ``credax.masked`` restricts a rule to part
of the parameters; both keep the contract and train under ``make_fit`` and ``sweep``."""

from __future__ import annotations

import chex
import jax
import numpy as np
import optax
import pytest
from conftest import LOSS, make_batch, make_mlp

import credax
from credax import nets


def _not(mask):
    return jax.tree.map(lambda m: not m, mask)


def setup():
    params = make_mlp(jax.random.key(0))  # 3 layers
    batch = make_batch(jax.random.key(1), (5,), batch=4)
    return params, batch


def test_chain_of_masked_rules_on_disjoint_layers():
    """Forward gradient (activity tangents) on the first layer and feedback alignment on the
    others: each layer's update is that of its own rule, state by state and key by key."""
    params, batch = setup()
    first = nets.layer_mask(params, 0)
    fa, np_rule = credax.feedback_alignment(LOSS), credax.forward_gradient(LOSS, activity=True)
    rule = credax.chain(credax.masked(np_rule, first), credax.masked(fa, _not(first)))
    state = rule.init(jax.random.key(7), params)
    updates, new_state = jax.jit(rule.update)(params, state, batch)

    k_np, k_fa = jax.random.split(jax.random.key(7))
    u_np, _ = jax.jit(np_rule.update)(params, np_rule.init(k_np, params), batch)
    u_fa, _ = jax.jit(fa.update)(params, fa.init(k_fa, params), batch)
    chex.assert_trees_all_close(updates.layers[0], u_np.layers[0], rtol=1e-5, atol=1e-7)
    for i in (1, 2):
        chex.assert_trees_all_close(updates.layers[i], u_fa.layers[i], rtol=1e-5, atol=1e-7)
    chex.assert_trees_all_equal_shapes_and_dtypes(updates, params)
    assert isinstance(new_state, tuple) and isinstance(new_state[0], credax.MaskedState)
    # The chained state can stand in for the one it replaced (a scan carry).
    chex.assert_trees_all_equal_structs(new_state, state)


def test_chain_sums_updates():
    params, batch = setup()
    bp = credax.backprop(LOSS)
    g, _ = bp.update(params, bp.init(0, params), batch)
    two = credax.chain(bp, bp)
    g2, _ = two.update(params, two.init(0, params), batch)
    chex.assert_trees_all_close(g2, jax.tree.map(lambda a: 2 * a, g), rtol=1e-6)


def test_masked_zeroes_outside_the_mask_and_keeps_value_and_diagnostics():
    params, batch = setup()
    rule = credax.masked(credax.feedback_alignment(LOSS), nets.layer_mask(params, [1, -1]))
    state = rule.init(0, params)
    g, s, value = rule.update_with_value(params, state, batch)
    assert not np.any(g.layers[0].weight) and not np.any(g.layers[0].bias)
    assert np.any(g.layers[1].weight) and np.any(g.layers[2].weight)
    np.testing.assert_allclose(value, LOSS(jax.vmap(params)(batch[0]), batch[1]), rtol=1e-6)
    assert rule.diagnostics(params, state, batch)["feedback_angles"].shape == (3,)


def test_mask_as_a_function_of_params():
    params, batch = setup()
    rule = credax.masked(credax.backprop(LOSS), lambda p: nets.layer_mask(p, lambda i, l: i == 2))
    g, _ = rule.update(params, rule.init(0, params), batch)
    assert not np.any(g.layers[0].weight) and np.any(g.layers[2].weight)


def test_layer_mask_errors_and_shape():
    params, _ = setup()
    mask = nets.layer_mask(params, 0)
    assert jax.tree.leaves(mask) == [True, True, False, False, False, False]
    with pytest.raises(ValueError, match=r"layer indices in \[-3, 3\)"):
        nets.layer_mask(params, 3)


def test_masked_and_chain_bad_input():
    params, batch = setup()
    with pytest.raises(TypeError, match="LearningRule"):
        credax.masked("fa", nets.layer_mask(params, 0))
    with pytest.raises(TypeError, match="mask of bools"):
        credax.masked(credax.backprop(LOSS), {"a": 1.0})
    other = nets.layer_mask(make_mlp(jax.random.key(0), sizes=(5, 4, 3)), 0)
    rule = credax.masked(credax.backprop(LOSS), other)
    with pytest.raises(ValueError, match="structure"):
        rule.init(0, params)
    with pytest.raises(ValueError, match="at least one rule"):
        credax.chain()
    with pytest.raises(TypeError, match="chain .rule 1."):
        credax.chain(credax.backprop(LOSS), None)
    rule = credax.chain(credax.backprop(LOSS), credax.backprop(LOSS))
    with pytest.raises(ValueError, match="tuple of 2 rule states"):
        rule.update(params, (), batch)


def _fit(rule):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 5)).astype(np.float32)
    y = x[:, :3].argmax(1).astype(np.int32)
    return credax.train.make_fit(
        rule,
        make_mlp,
        optax.adam(1e-2),
        loss=LOSS,
        train=(x, y),
        test=(x[:32], y[:32]),
        epochs=3,
        batch_size=16,
        probe_size=16,
    )


def test_composed_rule_trains_under_make_fit_and_sweep():
    params, _ = setup()
    first = nets.layer_mask(params, 0)
    rule = credax.chain(
        credax.masked(credax.node_perturbation(LOSS), first),
        credax.masked(credax.feedback_alignment(LOSS), _not(first)),
    )
    fit = _fit(rule)
    res = credax.train.sweep(fit, 0, 2, rule_key_per_seed=True)
    h = res.history
    assert h.test_loss.shape == (2, 4) and np.all(res.diverged_step == -1)
    assert np.all(h.test_loss[:, -1] < h.test_loss[:, 0])
    assert h.feedback_angles.shape == (2, 4, 3)  # FA's own record, through chain and masked
    assert np.isfinite(h.train_loss[:, 1:]).all()
    one = jax.jit(fit.run)(*(k[0] for k in credax.train.sweep_keys(0, 1, 1)))
    assert one.history["update_angles"].shape == (4, 3)


def test_a_state_from_the_wrong_rule_or_order_is_named():
    params, batch = setup()
    fa, np_rule = credax.feedback_alignment(LOSS), credax.node_perturbation(LOSS)
    with pytest.raises(ValueError, match="chain: expected a tuple of 1 rule states .* got Feed"):
        credax.chain(fa).update(params, fa.init(0, params), batch)
    swapped = credax.chain(np_rule, fa).init(0, params)
    with pytest.raises(
        ValueError, match="feedback_alignment: the rule state does not fit .* got No"
    ):
        credax.chain(fa, np_rule).update(params, swapped, batch)
