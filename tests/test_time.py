"""Every task, every time axis: rules of other tasks than the supervised one, layers applied at
every step of a scan (a recurrent spiking network, a Hopfield network iterating one matrix), a
layer's internal state in the trace, and models holding leaves that are not arrays; each written
as a user would write it, through ``trace``, ``local_updates``, ``chain``/``masked``,
``make_fit`` and ``sweep``."""

from __future__ import annotations

import re
from typing import NamedTuple

import chex
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import ANY_MODEL_RULES, LOSS, N_CLASSES, RULES, make_batch, make_rule, rule_batch

import credax
from credax import nets

# --- a Hebbian rule and a three-factor rule, as a user writes them --------------------------------


def hebb(*, decay: float = 0.0) -> credax.LearningRule:
    """Hebb's rule, ``ΔW = ⟨y xᵀ⟩ - λ W`` on every layer; ``updates = -ΔW``; no objective."""

    def update(params, state, batch):
        x = credax.tasks.unsupervised_batch(params, batch)
        t = nets.trace(params, x)
        u = nets.local_updates(params, t.inputs, [-h / x.shape[0] for h in t.outputs])
        if decay:
            layers = nets.find_layers(params)
            u = nets.map_layers(
                lambda i, l: jax.tree.map(lambda a, w: a + decay * w, l, layers[i]), u
            )
        return u, state

    return credax.make_rule("hebb", credax.init_empty, update=update, task="unsupervised")


class EligibilityState(NamedTuple):
    traces: tuple  # e_l per layer, the shape of W_l


def three_factor(*, decay: float = 0.5) -> credax.LearningRule:
    """``ΔW_l = m̄ e_l`` with the eligibility ``e_l ← λ e_l + ⟨y_l x_lᵀ⟩`` (``m̄`` the batch's mean
    modulator): a reward finds the synapses active before it. ``updates = -ΔW``."""

    def init(key, params):
        return EligibilityState(tuple(jnp.zeros_like(l.weight) for l in nets.find_layers(params)))

    def update(params, state, batch):
        x, m = credax.tasks.modulated_batch(params, batch)
        t = nets.trace(params, x)
        hebb = nets.local_updates(params, t.inputs, [h / x.shape[0] for h in t.outputs])
        traces = tuple(decay * e + l.weight for e, l in zip(state.traces, nets.find_layers(hebb)))
        scale = -jnp.mean(m)
        u = nets.map_layers(
            lambda i, l: eqx.tree_at(
                lambda q: (q.weight, q.bias), l, (scale * traces[i], jnp.zeros_like(l.bias))
            ),
            hebb,
        )
        return u, EligibilityState(traces)

    return credax.make_rule("three_factor", init, update=update, task="modulated")


def _x(n=64, d=6, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def _mlp(key):
    return nets.mlp([6, 8, 3], activation=jnp.tanh, key=key)


def test_hebbian_rule_reports_no_value_and_trains_under_make_fit_and_sweep():
    rule = hebb(decay=0.5)
    params = _mlp(jax.random.key(0))
    g, _, value = rule.update_with_value(params, rule.init(0, params), jnp.asarray(_x()))
    assert value is None  # no objective: no loss is invented
    x = _x()
    fit = credax.train.make_fit(
        rule, _mlp, optax.sgd(0.1), train=x, test=x[:16], epochs=3, batch_size=16
    )
    assert fit.task == "unsupervised"
    res = credax.train.sweep(fit, 0, 2)
    assert set(res.history) == {"weight_norms", "activity", "finite"}  # no train_loss
    assert res.history.weight_norms.shape == (2, 4, 2)
    assert np.all(res.diverged_step == -1) and res.history.finite.all()
    # Hebb with decay settles: the norms change, then stay bounded.
    norms = res.history.weight_norms
    assert not np.allclose(norms[:, 0], norms[:, -1]) and np.all(norms[:, -1] < 10)


def test_plain_hebb_diverges_and_the_engine_says_when():
    """Hebb's rule without bounds grows the weights without limit: the run is flagged at the step
    their norm passes the factor (finite weights, no loss to watch), and with no factor only when
    they overflow."""
    x = _x()
    steps = {}
    for factor in (100.0, None):
        fit = credax.train.make_fit(
            hebb(), _mlp, optax.sgd(0.5), train=x, test=x[:16], epochs=40, batch_size=16,
            diverge_factor=factor,
        )  # fmt: skip
        res = credax.train.sweep(fit, 0, 1)
        steps[factor] = int(res.diverged_step[0])
        if factor is not None:
            assert res.history.finite[0, steps[factor] // fit.steps_per_epoch]
    assert 0 < steps[100.0] < steps[None] or (steps[None] == -1 and steps[100.0] > 0), steps


def test_hebbian_first_layer_under_a_readout_chain_and_masked():
    x = _x()
    y = (x[:, :3].argmax(1)).astype(np.int32)
    params = _mlp(jax.random.key(0))
    first = nets.layer_mask(params, 0)
    rule = credax.chain(
        credax.masked(hebb(decay=0.5), first),
        credax.masked(credax.feedback_alignment(LOSS), jax.tree.map(lambda m: not m, first)),
    )
    assert rule.task == "supervised"  # unsupervised + supervised: one (x, y) batch
    g, _, value = rule.update_with_value(params, rule.init(0, params), (x, y))
    assert value is not None  # the readout's loss
    fit = credax.train.make_fit(
        rule, _mlp, optax.adam(1e-2), loss=LOSS, train=(x, y), test=(x, y), epochs=5,
        batch_size=16,
    )  # fmt: skip
    res = credax.train.sweep(fit, 0, 2)
    h = res.history
    assert np.isfinite(h.train_loss[:, 1:]).all() and h.feedback_angles.shape == (2, 6, 2)
    assert np.all(h.test_loss[:, -1] < h.test_loss[:, 0])


def test_three_factor_rule_on_modulated_batches():
    params = _mlp(jax.random.key(0))
    rule = three_factor()
    x = jnp.asarray(_x(n=8))
    state = rule.init(0, params)
    # No modulator, no change; the eligibility remembers the activity.
    g, state = rule.update(params, state, (x, jnp.zeros(8)))
    assert all(not np.any(leaf) for leaf in jax.tree.leaves(g))
    # A reward arriving after the activity (a batch of silent inputs) still finds its synapses.
    g, _ = rule.update(params, state, (jnp.zeros_like(x), jnp.ones(8)))
    assert np.any(g.layers[0].weight)
    chex.assert_trees_all_equal_shapes_and_dtypes(g, params)
    with pytest.raises(TypeError, match="integer labels are not a modulator"):
        rule.update(params, state, (x, jnp.zeros(8, jnp.int32)))
    with pytest.raises(ValueError, match="chain: supervised and modulated rules cannot share"):
        credax.chain(rule, credax.feedback_alignment(LOSS))


def test_three_factor_rule_trains_under_make_fit_and_sweep():
    x = _x()
    m = np.sign(x[:, 0]).astype(np.float32)
    first = nets.layer_mask(_mlp(jax.random.key(0)), 0)
    rule = credax.chain(credax.masked(three_factor(), first), hebb(decay=0.5))
    fit = credax.train.make_fit(
        rule, _mlp, optax.sgd(0.01), train=(x, m), test=(x, m), epochs=2, batch_size=16
    )
    assert fit.task == "modulated"
    res = credax.train.sweep(fit, 0, 2, n_draws=2)
    assert set(res.history) == {"weight_norms", "activity", "finite"}
    assert res.history.weight_norms.shape == (2, 2, 3, 2)
    assert np.all(res.diverged_step == -1)
    # A large, always positive modulator: the eligibility grows the weights without bound.
    runaway = credax.train.make_fit(
        three_factor(decay=1.0), _mlp, optax.sgd(1.0), train=(x, np.abs(m) + 1.0),
        test=(x, m), epochs=10, batch_size=16,
    )  # fmt: skip
    assert np.all(credax.train.sweep(runaway, 0, 2).diverged_step > 0)
    with pytest.raises(TypeError, match="expected a real-valued modulator m, got dtype int"):
        credax.train.make_fit(
            three_factor(), _mlp, optax.sgd(0.01), train=(x, m.astype(np.int32)),
            test=(x, m), epochs=1, batch_size=16,
        )  # fmt: skip


# --- a recurrent spiking network, traced through a scan over time ---------------------------------


@jax.custom_jvp
def spike(v):
    """Heaviside step, with the SuperSpike surrogate derivative ``1 / (1 + 10|v|)²``."""
    return (v > 0).astype(v.dtype)


@spike.defjvp
def _spike_jvp(primals, tangents):
    (v,), (dv,) = primals, tangents
    return spike(v), dv / (1.0 + 10.0 * jnp.abs(v)) ** 2


class LIFCell(nets.Layer):
    """A leaky integrate-and-fire step with a recurrent input: ``a = W [x_t; s_{t-1}] + b``,
    ``v = β v + a``, spike when ``v > 1`` then subtract the threshold; the membrane potential is
    the state carried between steps and is shown to the trace."""

    weight: jax.Array
    bias: jax.Array
    beta: float = eqx.field(static=True)

    def __init__(self, n_in, n, *, key, beta=0.8):
        self.weight = 1.5 * jax.random.normal(key, (n, n_in + n)) / np.sqrt(n_in + n)
        self.bias = jnp.full((n,), 0.3)
        self.beta = beta

    @property
    def activation(self):
        return lambda a: self.activate(a, self.initial_state())[0]

    @property
    def linear(self):
        return lambda w, x: w @ x

    @property
    def in_shape(self):
        return (self.weight.shape[1],)

    @property
    def out_shape(self):
        return (self.weight.shape[0],)

    def initial_state(self):
        return jnp.zeros(self.weight.shape[0], self.weight.dtype)

    def activate(self, a, v):
        v = self.beta * v + a
        s = spike(v - 1.0)
        return s, v - jax.lax.stop_gradient(s), {"membrane": v}


T, N_IN, N_REC = 7, 4, 6


class SNN(eqx.Module):
    cell: LIFCell
    readout: nets.Dense
    use_lax: bool = eqx.field(static=True, default=False)

    def __call__(self, xs):  # xs: (T, N_IN) input currents
        def step(carry, x_t):
            v, s = carry
            s, v = self.cell(jnp.concatenate([x_t, s]), v)
            return (v, s), s

        scan = jax.lax.scan if self.use_lax else nets.scan
        _, spikes = scan(step, (self.cell.initial_state(), jnp.zeros(N_REC)), xs)
        return self.readout(jnp.mean(spikes, axis=0))


def snn(key, use_lax=False):
    k1, k2 = jax.random.split(key)
    return SNN(LIFCell(N_IN, N_REC, key=k1), nets.Dense(N_REC, N_CLASSES, key=k2), use_lax)


def spikes_data(key, b=5):
    kx, ky = jax.random.split(key)
    return 2.0 * jax.random.normal(kx, (b, T, N_IN)), jax.random.randint(ky, (b,), 0, N_CLASSES)


def grad(params, batch):
    x, y = batch
    return jax.grad(lambda p: LOSS(jax.vmap(p)(x), y))(params)


def test_recurrent_trace_stacks_records_over_time_with_the_membrane():
    params = snn(jax.random.key(0))
    x, _ = spikes_data(jax.random.key(1))
    t = nets.trace(params, x)
    assert t.steps == (T, None) and t.order == (0, 1)
    assert t.inputs[0].shape == (5, T, N_IN + N_REC) and t.outputs[0].shape == (5, T, N_REC)
    assert t.internals[0]["membrane"].shape == (5, T, N_REC) and t.internals[1] == {}
    s = np.asarray(t.outputs[0])
    assert 0 < s.mean() < 1  # the cells spike, not always
    # Each step's input holds the previous step's spikes; the membrane follows its equation.
    np.testing.assert_array_equal(t.inputs[0][:, 1:, N_IN:], s[:, :-1])
    v, a = np.asarray(t.internals[0]["membrane"]), np.asarray(t.preactivations[0])
    v_prev = np.concatenate([np.zeros_like(v[:, :1]), (v - s)[:, :-1]], axis=1)
    np.testing.assert_allclose(v, 0.8 * v_prev + a, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(t.output, jax.vmap(params)(x), rtol=1e-6)


def test_local_updates_of_errors_through_time_are_backprop_through_time():
    """δ at every step's pre-activation (layer_errors through the scan), turned into updates by
    local_updates summing over the steps, is jax.grad of the unrolled network (surrogate)."""
    params = snn(jax.random.key(0))
    batch = spikes_data(jax.random.key(1))
    errors = credax.metrics.layer_errors(params, None, batch, LOSS)
    assert errors[0].shape == (5, T, N_REC) and errors[1].shape == (5, N_CLASSES)
    t = nets.trace(params, batch[0])
    ours = nets.local_updates(params, t.inputs, [e / 5 for e in errors])
    chex.assert_trees_all_close(ours, grad(params, batch), rtol=1e-4, atol=1e-6)
    assert float(jnp.linalg.norm(ours.cell.weight)) > 0


def test_plain_lax_scan_is_refused_with_the_fix():
    params = snn(jax.random.key(0), use_lax=True)
    x, y = spikes_data(jax.random.key(1))
    match = re.escape("applied inside jax.lax.scan") + ".*use credax.nets.scan"
    with pytest.raises(ValueError, match=match):
        nets.trace(params, x)
    rule = credax.node_perturbation(LOSS)
    with pytest.raises(ValueError, match=match):
        rule.update(params, rule.init(0, params), (x, y))
    # Rules that do not trace (feedback transport) work under lax.scan as they are.
    fa = credax.feedback_alignment(LOSS)
    g, _ = fa.update(params, fa.init(0, params), (x, y))
    assert np.isfinite(g.cell.weight).all()


@pytest.mark.parametrize("rule_name", ["fa", "kp", "dfa", "np", "fga", "agrel", "reinforce"])
def test_rules_train_a_recurrent_network(rule_name):
    params = snn(jax.random.key(0))
    batch = spikes_data(jax.random.key(1))
    rule = make_rule(rule_name)
    state = rule.init(2, params)
    g, _ = jax.jit(rule.update)(params, state, batch)
    chex.assert_trees_all_equal_shapes_and_dtypes(g, params)
    assert np.isfinite(g.cell.weight).all() and np.any(g.cell.weight)
    if rule_name == "fa":  # with B = W, feedback alignment through time is BPTT
        exact = state._replace(feedback=(params.cell.weight, params.readout.weight))
        chex.assert_trees_all_close(rule.update(params, exact, batch)[0], grad(params, batch),
                                    rtol=1e-4, atol=1e-6)  # fmt: skip


def test_node_perturbation_through_time_is_unbiased():
    """Noise on every step's pre-activation: the mean update over draws estimates BPTT's
    gradient without bias, so its error falls as 1/sqrt(draws) (measured: 0.51 at 2,048 draws,
    0.33 at 8,192; a biased estimate would level off)."""
    params = snn(jax.random.key(0))
    batch = spikes_data(jax.random.key(1), b=4)
    rule = credax.node_perturbation(LOSS, antithetic=True)

    def error(n):
        stats = jax.jit(
            lambda k: credax.metrics.estimator_statistics(
                rule, params, batch, key=k, n_draws=n, loss=LOSS
            )
        )(jax.random.key(2))
        return float(stats.relative_error)

    few, many = error(2048), error(8192)
    assert many < 0.4 and many < 0.75 * few, (few, many)


def test_recurrent_network_under_make_fit_sweep_chain_and_masked():
    x, y = spikes_data(jax.random.key(1), b=64)
    params = snn(jax.random.key(0))
    cell = nets.layer_mask(params, 0)
    rule = credax.chain(
        credax.masked(credax.node_perturbation(LOSS), cell),
        credax.masked(credax.feedback_alignment(LOSS), jax.tree.map(lambda m: not m, cell)),
    )
    fit = credax.train.make_fit(
        rule, snn, optax.adam(1e-2), loss=LOSS, train=(x, y), test=(x, y), epochs=4,
        batch_size=16,
    )  # fmt: skip
    res = credax.train.sweep(fit, 0, 2, rule_key_per_seed=True)
    h = res.history
    assert h.update_angles.shape == (2, 5, 2) and np.isfinite(h.train_loss[:, 1:]).all()
    assert np.all(res.diverged_step == -1) and np.all(h.train_loss[:, -1] < h.train_loss[:, 1])
    # Too fast a learning rate: the loss runs away and the engine says when.
    fast = credax.train.make_fit(
        credax.backprop(LOSS), snn, optax.sgd(1e4), loss=LOSS, train=(x, y), test=(x, y),
        epochs=4, batch_size=16, diverge_factor=3.0,
    )  # fmt: skip
    assert np.all(credax.train.sweep(fast, 0, 2).diverged_step >= 0)


# --- a Hopfield network iterating one weight matrix -----------------------------------------------


class Hopfield(eqx.Module):
    """``s ← tanh(β W s)`` for ``steps`` iterations from a cue: one layer applied at every step."""

    layer: nets.Dense
    steps: int = eqx.field(static=True)

    def __call__(self, cue):
        return nets.scan(lambda s, _: (self.layer(s), None), cue, None, length=self.steps)[0]


def hopfield(key, n=12, steps=5):
    layer = nets.Dense(n, n, key=key, activation=lambda a: jnp.tanh(4.0 * a), use_bias=False)
    return Hopfield(layer, steps)


def test_hopfield_network_iterates_one_matrix_and_hebb_sums_over_iterations():
    params = hopfield(jax.random.key(0))
    cues = jnp.sign(jax.random.normal(jax.random.key(1), (3, 12)))
    t = nets.trace(params, cues)
    assert t.steps == (5,) and t.inputs[0].shape == (3, 5, 12)
    np.testing.assert_array_equal(t.inputs[0][:, 0], cues)  # the first iteration sees the cue
    np.testing.assert_allclose(t.inputs[0][:, 1:], t.outputs[0][:, :-1], rtol=1e-6)
    u = nets.local_updates(params, t.inputs, [-t.outputs[0]])
    hand = -jnp.einsum("bti,btj->ij", t.outputs[0], t.inputs[0])
    np.testing.assert_allclose(u.layer.weight, hand, rtol=1e-5, atol=1e-5)
    assert u.layer.bias is None


def test_hopfield_storage_under_make_fit_records_and_divergence():
    patterns = np.sign(np.random.default_rng(0).normal(size=(32, 12))).astype(np.float32)
    fit = credax.train.make_fit(
        hebb(decay=1.0), hopfield, optax.sgd(0.05), train=patterns, test=patterns, epochs=3,
        batch_size=8,
    )  # fmt: skip
    res = credax.train.sweep(fit, 0, 2)
    assert np.all(res.diverged_step == -1) and res.history.weight_norms.shape == (2, 4, 1)
    # Hebbian storage masked to the matrix's weights, chained with a decay of the whole model.
    params = hopfield(jax.random.key(0))
    weights_only = jax.tree.map(lambda _: True, params)
    rule = credax.chain(credax.masked(hebb(), weights_only), hebb(decay=1.0))
    g, _ = rule.update(params, rule.init(0, params), jnp.asarray(patterns[:4]))
    alone, _ = hebb(decay=1.0).update(params, (), jnp.asarray(patterns[:4]))
    np.testing.assert_allclose(g.layer.weight, 2 * alone.layer.weight - params.layer.weight,
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    runaway = credax.train.make_fit(
        hebb(), hopfield, optax.sgd(0.5), train=patterns, test=patterns, epochs=20, batch_size=8,
    )  # fmt: skip
    assert np.all(credax.train.sweep(runaway, 0, 2).diverged_step > 0)


# --- shared layers --------------------------------------------------------------------------------


class Twice(eqx.Module):
    hidden: nets.Dense
    out: nets.Dense

    def __call__(self, x):
        return self.out(self.hidden(self.hidden(x)))


class SharedTwice(eqx.Module):
    """The same two-application model, tied through equinox.nn.Shared."""

    shared: eqx.nn.Shared

    def __init__(self, key):
        k1, k2 = jax.random.split(key)
        hidden = nets.Dense(5, 5, key=k1, activation=jnp.tanh)
        self.shared = eqx.nn.Shared(
            (hidden, hidden, nets.Dense(5, N_CLASSES, key=k2)), lambda p: p[1], lambda p: p[0]
        )

    def __call__(self, x):
        first, second, out = self.shared()
        return out(second(first(x)))


@pytest.mark.parametrize("model", ["loop", "shared"])
def test_a_layer_applied_twice_is_one_set_of_parameters(model):
    k1, k2 = jax.random.split(jax.random.key(0))
    if model == "loop":
        params = Twice(nets.Dense(5, 5, key=k1, activation=jnp.tanh), nets.Dense(5, 3, key=k2))
    else:
        params = SharedTwice(jax.random.key(0))
    batch = make_batch(jax.random.key(1), (5,), batch=4)
    t = nets.trace(params, batch[0])
    assert t.steps == (2, None) and t.inputs[0].shape == (4, 2, 5)
    errors = credax.metrics.layer_errors(params, None, batch, LOSS)
    ours = nets.local_updates(params, t.inputs, [e / 4 for e in errors])
    ref = eqx.filter_grad(lambda p: LOSS(jax.vmap(p)(batch[0]), batch[1]))(params)
    chex.assert_trees_all_close(ours, ref, rtol=1e-5, atol=1e-6)


# --- models holding leaves that are not arrays ----------------------------------------------------


def lambda_net(key):
    k1, k2 = jax.random.split(key)
    return nets.Sequential(
        [nets.Dense(5, 7, key=k1), eqx.nn.Lambda(jnp.tanh), nets.Dense(7, N_CLASSES, key=k2)]
    )


@pytest.mark.parametrize(
    "rule_name",
    [
        n
        for n in RULES
        if not any(
            RULES[n].has(t)
            for t in ("bounded_activation", "spiking_only", "latency_only", "nonnegative_rates")
        )
    ],
)  # a linear layer beside a Lambda(tanh) has no bounded activation of its own, nor spikes
@pytest.mark.filterwarnings("ignore:equilibrium_propagation. hidden layer 0's activation")
def test_models_with_functions_in_their_pytree(rule_name):
    """``equinox.nn.Lambda`` inside ``Sequential``: every rule updates the arrays and gives None
    for the function (equinox's filtered convention), under ``equinox.filter_jit``."""
    params = lambda_net(jax.random.key(0))
    batch = rule_batch(rule_name, jax.random.key(1), (5,))
    rule = make_rule(rule_name)
    state = rule.init(2, params)
    g, _ = eqx.filter_jit(rule.update)(params, state, batch)
    arrays = eqx.filter(params, eqx.is_inexact_array)
    chex.assert_trees_all_equal_structs(g, arrays)
    chex.assert_trees_all_equal_shapes_and_dtypes(g, arrays)
    assert g.layers[1] is not None and g.layers[1].fn is None
    assert np.isfinite(g.layers[0].weight).all() and np.any(g.layers[-1].weight)
    new = eqx.apply_updates(params, jax.tree.map(lambda u: -0.1 * u, g))
    assert new.layers[1].fn is params.layers[1].fn


@pytest.mark.parametrize("rule_name", ["bp", "fa", "np"])
def test_models_with_functions_train_under_make_fit_and_sweep(rule_name):
    x = _x(d=5)
    y = (x[:, :3].argmax(1)).astype(np.int32)
    fit = credax.train.make_fit(
        make_rule(rule_name), lambda_net, optax.adam(1e-2), loss=LOSS, train=(x, y),
        test=(x, y), epochs=3, batch_size=16,
    )  # fmt: skip
    res = credax.train.sweep(fit, 0, 2, rule_key_per_seed=True)
    assert np.all(res.diverged_step == -1)
    assert np.all(res.history.test_loss[:, -1] < res.history.test_loss[:, 0])
    assert res.params.layers[1].fn is None  # arrays only leave the program


@pytest.mark.parametrize("rule_name", ANY_MODEL_RULES[:1])
def test_rule_with_time_stacked_records_in_its_task_evaluation(rule_name):
    """The unsupervised evaluation's activity covers every step of a layer applied in a scan."""
    evaluate = credax.tasks.unsupervised_evaluation()
    params = hopfield(jax.random.key(0))
    cues = jnp.sign(jax.random.normal(jax.random.key(1), (3, 12)))
    rec = evaluate(params, None, cues, cues)
    t = nets.trace(params, cues)
    np.testing.assert_allclose(rec["activity"][0], jnp.sqrt(jnp.mean(t.outputs[0] ** 2)), 1e-6)


# --- direct feedback with a temporal output -------------------------------------------------------


class StepDense(nets.Layer):
    """A dense map applied to every step of a sequence ``(T, n_in) -> (T, n_out)``."""

    weight: jax.Array
    bias: jax.Array
    activation: callable = eqx.field(static=True)
    steps: int = eqx.field(static=True)

    def __init__(self, steps, n_in, n_out, *, key, activation=nets.identity):
        self.weight = jax.random.normal(key, (n_out, n_in)) / np.sqrt(n_in)
        self.bias = jnp.zeros(n_out)
        self.activation, self.steps = activation, steps

    @property
    def linear(self):
        return lambda w, x: x @ w.T

    @property
    def in_shape(self):
        return (self.steps, self.weight.shape[1])

    @property
    def out_shape(self):
        return (self.steps, self.weight.shape[0])


def test_direct_feedback_with_a_temporal_output():
    """An output ``(T, n_out)`` (a readout at every step): each hidden step receives its own
    step's error through ``B`` ``(n_out, n_hidden)``; with ``B = W_out`` and a linear per-step
    output layer that is backprop."""
    k1, k2 = jax.random.split(jax.random.key(0))
    params = nets.Sequential(
        [StepDense(T, 4, 8, key=k1, activation=jnp.tanh), StepDense(T, 8, 3, key=k2)]
    )
    x = jax.random.normal(jax.random.key(1), (5, T, 4))
    y = jax.random.normal(jax.random.key(2), (5, T, 3))

    def loss(o, t):
        return 0.5 * jnp.mean(jnp.sum((o - t) ** 2, axis=(1, 2)))

    rule = credax.direct_feedback_alignment(loss)
    state = rule.init(0, params)
    assert [b.shape for b in state.feedback] == [(3, 8)]
    exact = state._replace(feedback=(params.layers[1].weight,))
    g, _ = rule.update(params, exact, (x, y))
    ref = jax.grad(lambda p: loss(jax.vmap(p)(x), y))(params)
    chex.assert_trees_all_close(g, ref, rtol=1e-5, atol=1e-6)
    g, _ = rule.update(params, state, (x, y))
    assert float(credax.metrics.angle(g.layers[0].weight, ref.layers[0].weight)) > 1.0
