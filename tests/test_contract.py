"""The learning-rule contract, checked for every rule in the registry (tests/conftest.py).

``state = rule.init(key, params)``; ``updates, state = rule.update(params, state, batch)`` with
a batch of the rule's task: updates have params' structure, shapes and dtypes; the rule is pure
(jit, vmap and a Python loop agree; jit traces once), whatever its task. For supervised rules,
updates have a gradient's sign, and where the feedback equals the forward weights every rule
reduces to backprop.
"""

from __future__ import annotations

import functools

import chex
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import (
    ANY_MODEL_RULES,
    CHAIN_RULES,
    CONV_RULES,
    EXACT_OUTPUT_RULES,
    FEEDBACK_PATH_RULES,
    LOSS,
    N_CLASSES,
    NETS,
    NON_BP_RULES,
    RULE_NAMES,
    RULES,
    SIGN_RULES,
    home_model,
    home_net,
    make_batch,
    make_mlp,
    make_rule,
    rule_batch,
    settings,
    weights_as_feedback,
)

import credax

RTOL = 1e-5
ATOL = 1e-6
BATCH = {"mlp": 3, "lenet": 2, "convnet": 3, "snn": 3, "latency": 3, "rates": 3}


def assert_close(a, b, rtol=RTOL, atol=ATOL):
    chex.assert_trees_all_close(a, b, rtol=rtol, atol=atol)


def avals(tree):
    """Shape, dtype and weak type of every leaf: what a jit cache or a scan carry sees."""
    return jax.tree.map(
        lambda a: (a.shape, str(a.dtype), bool(getattr(a, "weak_type", False))), tree
    )


@functools.cache
def setup(net_name: str):
    make_net, in_shape = NETS[net_name]
    params = make_net(jax.random.key(0))
    batch = make_batch(jax.random.key(1), in_shape, batch=BATCH[net_name])
    return params, batch


def backprop_grads(params, batch, loss=LOSS):
    x, y = batch
    return jax.grad(lambda p: loss(jax.vmap(p)(x), y))(params)


@functools.cache
def reference(net_name: str):
    params, batch = setup(net_name)
    return jax.jit(backprop_grads)(params, batch)


@functools.cache
def task_batch(rule_name: str, net_name: str):
    """The batch of ``setup(net_name)`` in the form of the rule's task."""
    _, in_shape = NETS[net_name]
    return rule_batch(rule_name, jax.random.key(1), in_shape, batch=BATCH[net_name])


@functools.cache
def run(rule_name: str, net_name: str, exact: bool = False):
    """One jitted update of ``rule_name`` on ``net_name`` (cached across tests in a worker); a
    rule of spiking layers runs on the spiking net where others run on the MLP."""
    if net_name == "mlp" and home_net(rule_name) != "mlp":
        return run(rule_name, home_net(rule_name), exact)
    if exact and not settings(rule_name).exact:
        return run(rule_name, net_name)
    params, _ = setup(net_name)
    batch = task_batch(rule_name, net_name)
    rule = make_rule(rule_name, exact=exact)
    update = jax.jit(rule.update)
    state = jax.jit(rule.init)(jax.random.key(2), params)
    updates, new_state = update(params, state, batch)
    return rule, update, params, batch, state, updates, new_state


# The contract runs on the MLP and LeNet; the small strided, padded conv net joins the checks
# where a conv backward pass could go wrong (feedback transport, DFA shapes, exact backprop).
nets = pytest.mark.parametrize("net_name", ["mlp", "lenet"])
# The latency net refuses every rule but backprop and its own (tests/test_spike_latency.py); the
# MLP of sigmoid units is the MLP's case again.
all_nets = pytest.mark.parametrize("net_name", [n for n in NETS if n not in ("latency", "rates")])
rules = pytest.mark.parametrize("rule_name", RULE_NAMES)


def test_strict_rank_promotion_is_on():
    with pytest.raises(ValueError, match="jax_numpy_rank_promotion"):
        jnp.ones(3) + jnp.ones((2, 3))


def test_registry_covers_every_rule_credax_ships():
    """Every rule factory credax exports has a registry line (so every test here covers it)."""
    import inspect

    factories = {
        name
        for name in credax.__all__
        if inspect.isfunction(getattr(credax, name))
        and "LearningRule" in str(inspect.signature(getattr(credax, name)).return_annotation)
        and name not in ("chain", "masked", "make_rule", "complete")
    }
    assert factories, "no factories found"
    assert factories == {e.factory_name for e in RULES.values() if e.family != "test"}


# --- the contract ---------------------------------------------------------------------------------


# Chain-only rules (targets, energies) run the contract on the MLP; conv nets are refused (below).
rule_net_pairs = pytest.mark.parametrize(
    "rule_name, net_name",
    [(r, n) for n in ("mlp", "lenet") for r in RULE_NAMES if n == "mlp" or r in CONV_RULES],
)


def spike_timing_rule(rule_name: str) -> bool:
    """Unsupervised rules of spiking layers learn from pre- and postsynaptic spikes."""
    entry = RULES[rule_name]
    return entry.has("spiking_only") and entry.task != credax.tasks.SUPERVISED


def bounded(layer) -> bool:
    big = jnp.full(tuple(layer.out_shape), 1e4, layer.weight.dtype)
    return bool(jnp.all(jnp.abs(layer.activation(big)) < 1e3))


@rule_net_pairs
def test_contract(rule_name, net_name):
    """Updates mirror params (structure, shapes, dtypes), are finite and non-zero; the returned
    state is a NamedTuple of the type, structure, shapes and dtypes of the one passed in."""
    _, _, params, _, state, updates, new_state = run(rule_name, net_name)
    chex.assert_trees_all_equal_structs(updates, params)
    chex.assert_trees_all_equal_shapes_and_dtypes(updates, params)
    chex.assert_tree_all_finite(updates)
    layers = credax.nets.find_layers(params)
    for i, (layer, update) in enumerate(zip(layers, credax.nets.find_layers(updates))):
        if RULES[rule_name].has("bounded_activation") and not bounded(layer):
            # Intrinsic plasticity shapes bounded units' outputs and leaves the others alone.
            assert float(jnp.linalg.norm(update.weight)) == 0
        elif RULES[rule_name].has("output_only") and i < len(layers) - 1:
            # Hidden somata without a teacher: their dendrites already predict them.
            assert float(jnp.linalg.norm(update.weight)) == 0
        elif spike_timing_rule(rule_name) and not getattr(layer, "is_spiking", False):
            # STDP and the calcium synapse need postsynaptic spikes: a readout has none.
            assert float(jnp.linalg.norm(update.weight)) == 0
        else:
            assert float(jnp.linalg.norm(update.weight)) > 0

    assert isinstance(state, tuple) and hasattr(state, "_fields"), "states are NamedTuples"
    # The state can stand in for the one it replaced (as a scan carry, or in a jit cache).
    assert type(new_state) is type(state)
    chex.assert_trees_all_equal_structs(new_state, state)
    assert avals(new_state) == avals(state)


@rules
def test_jit_matches_eager(rule_name):
    rule, _, params, batch, j_state, j_updates, j_new_state = run(rule_name, "mlp")
    state = rule.init(jax.random.key(2), params)
    updates, new_state = rule.update(params, state, batch)
    assert_close(key_data(j_state), key_data(state))
    assert_close(j_updates, updates, *settings(rule_name).tolerance)
    assert_close(key_data(j_new_state), key_data(new_state))
    # Eager states keep their type too.
    assert avals(new_state) == avals(state)


def key_data(tree):
    """PRNG keys as their raw data, so that states can be compared leaf by leaf."""
    return jax.tree.map(
        lambda a: jax.random.key_data(a) if jnp.issubdtype(a.dtype, jax.dtypes.prng_key) else a,
        tree,
    )


@rules
@pytest.mark.parametrize("dtype", [jnp.bfloat16], ids=["bf16"])
def test_low_precision_params_keep_their_dtype(rule_name, dtype):
    k1, k2, kx = jax.random.split(jax.random.key(0), 3)
    params = credax.nets.Sequential(
        [
            credax.nets.Dense(5, 7, key=k1, activation=jnp.tanh, dtype=dtype),
            credax.nets.Dense(7, N_CLASSES, key=k2, dtype=dtype),
        ]
    )
    if home_net(rule_name) != "mlp":
        params = jax.tree.map(lambda a: a.astype(dtype), NETS[home_net(rule_name)][0](k1))
    batch = rule_batch(rule_name, kx, (5,))
    x = (batch if isinstance(batch, jax.Array) else batch[0]).astype(dtype)
    batch = x if isinstance(batch, jax.Array) else (x, batch[1])
    rule = make_rule(rule_name)
    state = rule.init(jax.random.key(1), params)
    updates, new_state = jax.jit(rule.update)(params, state, batch)
    chex.assert_trees_all_equal_shapes_and_dtypes(updates, params)
    chex.assert_tree_all_finite(updates)
    assert avals(new_state) == avals(state)


def test_feedback_scale_and_glorot_bound():
    params, _ = setup("convnet")
    weights = weights_as_feedback(params)
    for factory in (credax.feedback_alignment, credax.direct_feedback_alignment):
        one = factory(LOSS).init(jax.random.key(3), params).feedback
        three = factory(LOSS, scale=3.0).init(jax.random.key(3), params).feedback
        chex.assert_trees_all_close(three, jax.tree.map(lambda b: 3.0 * b, one), rtol=1e-6)
    for b, w in zip(
        credax.feedback_alignment(LOSS).init(jax.random.key(3), params).feedback,
        weights,
        strict=True,
    ):
        assert b.shape == w.shape and b.dtype == w.dtype
        bound = np.sqrt(6.0 / ((w.shape[0] + w.shape[1]) * np.prod(w.shape[2:], dtype=int)))
        assert float(jnp.max(jnp.abs(b))) <= bound
        assert float(jnp.max(jnp.abs(b))) > 0.5 * bound
    # The default draw is the forward weights' distribution, not the weights themselves.
    for b, w in zip(
        credax.feedback_alignment(LOSS).init(jax.random.key(3), params).feedback,
        weights,
        strict=True,
    ):
        assert not np.allclose(b, w)


# --- backprop and its special cases ---------------------------------------------------------------


@all_nets
def test_backprop_is_jax_grad(net_name):
    """Bit for bit: eagerly on the MLP, under jit (same program both sides) on the conv nets."""
    params, batch = setup(net_name)
    rule = credax.backprop(LOSS)
    state = rule.init(jax.random.key(2), params)
    if net_name == "mlp":
        updates, ref = rule.update(params, state, batch)[0], backprop_grads(params, batch)
    else:
        updates, ref = run("bp", net_name)[5], reference(net_name)
    chex.assert_trees_all_equal(updates, ref)


@all_nets
@pytest.mark.parametrize("rule_name", FEEDBACK_PATH_RULES)
def test_feedback_equal_to_weights_is_backprop(rule_name, net_name):
    _, update, params, batch, state, _, _ = run(rule_name, net_name, exact=True)
    state = state._replace(feedback=weights_as_feedback(params))
    updates, _ = update(params, state, batch)
    assert_close(updates, reference(net_name))


@pytest.mark.parametrize("rule_name", FEEDBACK_PATH_RULES)
def test_feedback_equal_to_weights_is_backprop_mse(rule_name, key):
    """Same with float targets and the squared error."""
    params = make_mlp(key, sizes=(4, 6, 5, 2))
    x = jax.random.normal(jax.random.key(1), (3, 4))
    y = jax.random.normal(jax.random.key(2), (3, 2))
    rule = make_rule(rule_name, credax.losses.mse, exact=True)
    state = rule.init(key, params)._replace(feedback=weights_as_feedback(params))
    updates, _ = jax.jit(rule.update)(params, state, (x, y))
    assert_close(
        updates, jax.jit(backprop_grads, static_argnums=2)(params, (x, y), credax.losses.mse)
    )


@pytest.mark.parametrize("rule_name", FEEDBACK_PATH_RULES)
def test_first_layer_feedback_is_unused(rule_name):
    """Nothing lies below the first layer, so its B does not matter."""
    _, update, params, batch, state, updates, _ = run(rule_name, "mlp")
    fb = list(state.feedback)
    fb[0] = 100.0 * jax.random.normal(jax.random.key(9), fb[0].shape)
    updates2, _ = update(params, state._replace(feedback=tuple(fb)), batch)
    chex.assert_trees_all_close(updates2, updates, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "rule_name, net_name",
    [
        (r, n)
        for n in ("mlp", "lenet")
        for r in EXACT_OUTPUT_RULES
        if (n == "mlp" or not RULES[r].has("chain_only")) and home_net(r) == "mlp"
    ]
    + [(r, home_net(r)) for r in EXACT_OUTPUT_RULES if home_net(r) != "mlp"],
)
def test_output_layer_update_is_backprops(rule_name, net_name):
    updates = run(rule_name, net_name, exact=True)[5]
    out = credax.nets.find_layers(updates)[-1]
    ref = credax.nets.find_layers(reference(net_name))[-1]
    assert_close((out.weight, out.bias), (ref.weight, ref.bias))


# spike_latency is the exact gradient of its spike times (plus a weight cost).
@pytest.mark.parametrize("rule_name", [r for r in NON_BP_RULES if not RULES[r].has("latency_only")])
def test_hidden_updates_differ_from_backprop(rule_name):
    """With random feedback the rule is not silently backprop."""
    updates = run(rule_name, home_net(rule_name))[5]
    if RULES[rule_name].has("output_only"):  # no update to take an angle of
        assert float(jnp.linalg.norm(credax.nets.find_layers(updates)[0].weight)) == 0
        return
    angles = credax.metrics.update_angles(updates, reference(home_net(rule_name)))
    assert float(angles[0]) > 1.0, angles


# --- sign symmetry --------------------------------------------------------------------------------


@nets
@pytest.mark.parametrize("rule_name", SIGN_RULES)
def test_sign_symmetry_feedback_is_sign_concordant(rule_name, net_name):
    _, update, params, batch, state, _, new_state = run(rule_name, net_name)
    np.testing.assert_array_equal(credax.metrics.sign_concordance(params, state.feedback), 1.0)
    np.testing.assert_array_equal(credax.metrics.sign_concordance(params, new_state.feedback), 1.0)
    # After the weights change, the feedback used follows their new signs.
    flipped = jax.tree.map(lambda a: -a, params)
    _, st = update(flipped, new_state, batch)
    np.testing.assert_array_equal(credax.metrics.sign_concordance(flipped, st.feedback), 1.0)


def _glorot_std(w):
    receptive = int(np.prod(w.shape[2:]))
    return np.sqrt(2.0 / ((w.shape[0] + w.shape[1]) * receptive))


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"random_magnitude": True}, {"random_magnitude": True, "redraw": True}],
    ids=["usf", "frsf", "brsf"],
)
def test_sign_symmetry_is_backprop_when_magnitudes_match(kwargs):
    """B = |R| ⊙ sign(W) equals W when every |W_ij| is the magnitude the rule uses.

    uSF uses the layer's Glorot standard deviation (its documented scaling); the random variants
    use ``magnitude_init``, here a constant.
    """
    params, batch = setup("mlp")
    c = 0.3
    if kwargs:
        kwargs = {**kwargs, "magnitude_init": lambda k, s, d: jnp.full(s, c, d)}
        fix = lambda w: c * jnp.sign(w)  # noqa: E731
    else:
        fix = lambda w: _glorot_std(w) * jnp.sign(w)  # noqa: E731
    params = eqx.tree_at(
        lambda p: [layer.weight for layer in credax.nets.find_layers(p)],
        params,
        [fix(layer.weight) for layer in credax.nets.find_layers(params)],
    )
    rule = credax.sign_symmetry(LOSS, **kwargs)
    state = rule.init(jax.random.key(3), params)
    updates, _ = jax.jit(rule.update)(params, state, batch)
    assert_close(updates, jax.jit(backprop_grads)(params, batch))


def test_brsf_redraws_and_frsf_does_not():
    for name, redraws in [("frsf", False), ("brsf", True)]:
        _, update, params, batch, _, u1, s1 = run(name, "mlp")
        u2, _ = update(params, s1, batch)
        same = all(
            np.array_equal(a, b)
            for a, b in zip(jax.tree.leaves(u1), jax.tree.leaves(u2), strict=True)
        )
        assert same != redraws, name


# --- direct feedback alignment --------------------------------------------------------------------


@all_nets
def test_dfa_feedback_shapes(net_name):
    _, _, params, _, state, _, _ = run("dfa", net_name)
    layers = credax.nets.find_layers(params)
    *lead, n_out = layers[-1].out_shape  # a temporal output (T, n_out): B_l maps each step's
    expected = [(n_out, *lay.out_shape[len(lead) :]) for lay in layers[:-1]]  # error to its step
    assert [b.shape for b in state.feedback] == expected


def _dfa_with(params, feedback, batch):
    rule = credax.direct_feedback_alignment(LOSS)
    state = rule.init(jax.random.key(4), params)
    state = state._replace(feedback=tuple(feedback))
    return jax.jit(rule.update)(params, state, batch)[0]


def test_dfa_one_hidden_layer_with_b_equal_w2_is_backprop(key):
    params = make_mlp(key, sizes=(5, 8, N_CLASSES))
    batch = make_batch(jax.random.key(1), (5,))
    w2 = params.layers[1].weight
    assert_close(_dfa_with(params, [w2], batch), jax.jit(backprop_grads)(params, batch))


def test_dfa_deep_linear_with_products_of_weights_is_backprop(key):
    """In a linear net backprop sends e to layer l through W_L ⋯ W_{l+1}: with B_l that product,
    DFA is backprop."""
    params = make_mlp(key, sizes=(5, 7, 6, 4, N_CLASSES), activation=credax.nets.identity)
    batch = make_batch(jax.random.key(1), (5,))
    ws = [layer.weight for layer in params.layers]
    feedback = [functools.reduce(jnp.matmul, ws[:i:-1]) for i in range(len(ws) - 1)]
    assert [b.shape for b in feedback] == [(N_CLASSES, 7), (N_CLASSES, 6), (N_CLASSES, 4)]
    assert_close(_dfa_with(params, feedback, batch), jax.jit(backprop_grads)(params, batch))


# --- purity: determinism, vmap, tracing -----------------------------------------------------------


@rules
def test_update_is_deterministic(rule_name):
    rule, _, params, batch, state, updates, new_state = run(rule_name, "mlp")
    updates2, new_state2 = jax.jit(rule.update)(params, state, batch)  # a fresh trace
    chex.assert_trees_all_equal(updates2, updates)
    chex.assert_trees_all_equal(key_data(new_state2), key_data(new_state))


@rules
def test_vmap_over_seeds_matches_loop(rule_name):
    """A batch of seeds (nets and rule states) under vmap is a Python loop over the seeds."""
    n = 2
    net_keys = jax.random.split(jax.random.key(5), n)
    rule_keys = jax.random.split(jax.random.key(6), n)
    rule, update, _, batch, _, _, _ = run(rule_name, "mlp")
    make_net = NETS[home_net(rule_name)][0]

    @jax.jit
    def vmapped(net_keys, rule_keys):
        params = jax.vmap(make_net)(net_keys)
        states = jax.vmap(rule.init)(rule_keys, params)
        return (params, states), jax.vmap(rule.update, in_axes=(0, 0, None))(params, states, batch)

    v = key_data(vmapped(net_keys, rule_keys))
    for i in range(n):
        params = make_net(net_keys[i])
        state = rule.init(rule_keys[i], params)
        single = key_data(((params, state), update(params, state, batch)))
        assert_close(jax.tree.map(lambda a, i=i: a[i], v), single, *settings(rule_name).tolerance)


@rules
def test_jitted_training_step_traces_once(rule_name):
    params, _ = setup(home_net(rule_name))
    rule = make_rule(rule_name)
    opt = optax.adam(1e-2)
    traces = []

    @jax.jit
    def step(params, state, opt_state, batch):
        traces.append(None)
        g, state = rule.update(params, state, batch)
        u, opt_state = opt.update(g, opt_state, params)
        return optax.apply_updates(params, u), state, opt_state

    state, opt_state = rule.init(jax.random.key(2), params), opt.init(params)
    for i in range(3):
        params, state, opt_state = step(
            params, state, opt_state, rule_batch(rule_name, jax.random.key(i), (5,))
        )
    assert len(traces) == 1
    chex.assert_tree_all_finite(params)


# --- a user's own equinox model -------------------------------------------------------------------


class SkipNet(eqx.Module):
    """Not a Sequential: a residual block between two credax Dense layers."""

    inp: credax.nets.Dense
    hidden: credax.nets.Dense
    out: credax.nets.Dense

    def __init__(self, key):
        k1, k2, k3 = jax.random.split(key, 3)
        self.inp = credax.nets.Dense(5, 6, key=k1, activation=jnp.tanh)
        self.hidden = credax.nets.Dense(6, 6, key=k2, activation=jnp.tanh)
        self.out = credax.nets.Dense(6, N_CLASSES, key=k3)

    def __call__(self, x):
        h = self.inp(x)
        h = h + self.hidden(h)
        return self.out(h)


@functools.cache
def skip_setup():
    params = SkipNet(jax.random.key(0))
    batch = make_batch(jax.random.key(1), (5,))
    return params, batch, jax.jit(backprop_grads)(params, batch)


@functools.cache
def skip_run(rule_name):
    params, batch, ref = skip_setup()
    batch = rule_batch(rule_name, jax.random.key(1), (5,))
    rule = make_rule(rule_name, exact=True)
    state = rule.init(jax.random.key(2), params)
    updates, _ = jax.jit(rule.update)(params, state, batch)
    return params, state, updates, ref


@pytest.mark.parametrize("rule_name", CHAIN_RULES)
@pytest.mark.parametrize("net_name", ["lenet", "skipnet"])
def test_chain_rules_refuse_other_models(rule_name, net_name):
    """Rules that move activities layer by layer refuse, at init and update, models that are not
    a chain of Dense layers, naming what they expected."""
    if net_name == "skipnet":
        params, batch, _ = skip_setup()
        match = "got SkipNet"
    else:
        params, batch = setup(net_name)
        match = "expected Dense layers .* got Conv2d"
    rule = make_rule(rule_name)
    with pytest.raises(ValueError, match=match):
        rule.init(0, params)
    mlp_state = rule.init(0, home_model(rule_name, jax.random.key(0)))
    with pytest.raises(ValueError, match=match):
        rule.update(params, mlp_state, batch)


@pytest.mark.parametrize("rule_name", ANY_MODEL_RULES)
def test_user_model_contract(rule_name):
    params, state, updates, _ = skip_run(rule_name)
    chex.assert_trees_all_equal_structs(updates, params)
    chex.assert_trees_all_equal_shapes_and_dtypes(updates, params)
    chex.assert_tree_all_finite(updates)
    for layer, update in zip(
        (params.inp, params.hidden, params.out), (updates.inp, updates.hidden, updates.out)
    ):
        if RULES[rule_name].has("bounded_activation") and not bounded(layer):
            assert float(jnp.linalg.norm(update.weight)) == 0
        else:
            assert float(jnp.linalg.norm(update.weight)) > 0
    if RULES[rule_name].has("sign_concordant"):
        np.testing.assert_array_equal(credax.metrics.sign_concordance(params, state.feedback), 1.0)


@pytest.mark.parametrize(
    "rule_name", ["bp", *(r for r in EXACT_OUTPUT_RULES if r in ANY_MODEL_RULES)]
)  # supervised rules only
def test_user_model_output_layer_update_is_backprops(rule_name):
    *_, updates, ref = skip_run(rule_name)
    assert_close((updates.out.weight, updates.out.bias), (ref.out.weight, ref.out.bias))


@pytest.mark.parametrize("rule_name", FEEDBACK_PATH_RULES)
def test_user_model_feedback_equal_to_weights_is_backprop(rule_name):
    params, batch, ref = skip_setup()
    rule = make_rule(rule_name, exact=True)
    update = jax.jit(rule.update)
    state = rule.init(jax.random.key(2), params)
    assert [b.shape for b in state.feedback] == [(6, 5), (6, 6), (N_CLASSES, 6)]
    updates, _ = update(params, state._replace(feedback=weights_as_feedback(params)), batch)
    assert_close(updates, ref)
    # With random feedback the input layer's update is no longer backprop's.
    updates, _ = update(params, state, batch)
    assert float(credax.metrics.angle(updates.inp.weight, ref.inp.weight)) > 1.0
