"""Layer traces and local updates (``credax.nets.trace``, ``credax.nets.local_updates``), and a
user-written ``credax.nets.Layer`` whose activation is an operator over a time axis."""

from __future__ import annotations

import re

import chex
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import LOSS, N_CLASSES, NETS, make_batch, make_mlp, make_rule
from test_contract import SkipNet

import credax
from credax import nets


def grad(params, batch, loss=LOSS):
    x, y = batch
    return jax.grad(lambda p: loss(jax.vmap(p)(x), y))(params)


# --- trace ----------------------------------------------------------------------------------------


def test_trace_of_an_mlp_is_the_forward_pass():
    params = make_mlp(jax.random.key(0))  # 5 -> 7 -> 6 -> 3, tanh
    x, _ = make_batch(jax.random.key(1), (5,), batch=4)
    t = nets.trace(params, x)
    h = x
    for i, layer in enumerate(params.layers):
        a = h @ layer.weight.T + layer.bias[None]
        np.testing.assert_allclose(t.inputs[i], h, rtol=1e-6)
        np.testing.assert_allclose(t.preactivations[i], a, rtol=1e-5, atol=1e-6)
        h = layer.activation(a)
        np.testing.assert_allclose(t.outputs[i], h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(t.output, jax.vmap(params)(x), rtol=1e-6)
    assert t.order == (0, 1, 2)


@pytest.mark.parametrize("net_name", ["lenet", "convnet"])
def test_trace_of_conv_nets_chains(net_name):
    make_net, in_shape = NETS[net_name]
    params = make_net(jax.random.key(0))
    x, _ = make_batch(jax.random.key(1), in_shape, batch=2)
    t = nets.trace(params, x)
    layers = nets.find_layers(params)
    assert len(t.inputs) == len(layers)
    for layer, h, a in zip(layers, t.inputs, t.preactivations, strict=True):
        assert h.shape == (2, *layer.in_shape) and a.shape == (2, *layer.out_shape)
    np.testing.assert_allclose(t.output, jax.vmap(params)(x), rtol=1e-5, atol=1e-6)


def test_trace_with_offsets_shifts_the_preactivations():
    params = make_mlp(jax.random.key(0))
    x, _ = make_batch(jax.random.key(1), (5,), batch=3)
    z = [jnp.full((3, *l.out_shape), 0.5) for l in nets.find_layers(params)]
    clean, shifted = nets.trace(params, x), nets.trace(params, x, offsets=z)
    np.testing.assert_allclose(shifted.inputs[0], clean.inputs[0])
    # The first layer's pre-activation moves by exactly the offset; the next one sees the change.
    np.testing.assert_allclose(shifted.preactivations[0], clean.preactivations[0] + 0.5, rtol=1e-6)
    assert not np.allclose(shifted.inputs[1], clean.inputs[1])
    with pytest.raises(ValueError, match=re.escape("offsets of shape (3, 7) for layer 0")):
        nets.trace(params, x, offsets=[jnp.zeros((3, 4)), None, None])
    with pytest.raises(ValueError, match="one offset per credax layer"):
        nets.trace(params, x, offsets=[None])


def test_trace_of_a_user_model_with_a_skip_connection():
    params = SkipNet(jax.random.key(0))
    x, _ = make_batch(jax.random.key(1), (5,))
    t = nets.trace(params, x)
    # The output layer received h1 + h2, what the model actually computed.
    np.testing.assert_allclose(t.inputs[2], t.outputs[0] + t.outputs[1], rtol=1e-6)
    assert t.order == (0, 1, 2)


class OutputFirst(eqx.Module):
    """Declares its output layer first: pytree order differs from call order."""

    out: nets.Dense
    hidden: nets.Dense

    def __init__(self, key):
        k1, k2 = jax.random.split(key)
        self.out = nets.Dense(6, N_CLASSES, key=k1)
        self.hidden = nets.Dense(5, 6, key=k2, activation=jnp.tanh)

    def __call__(self, x):
        return self.out(self.hidden(x))


def test_trace_reports_the_call_order():
    params = OutputFirst(jax.random.key(0))
    x, _ = make_batch(jax.random.key(1), (5,))
    assert nets.trace(params, x).order == (1, 0)
    assert nets.call_order(params) == (1, 0)


class Twice(eqx.Module):
    layer: nets.Dense

    def __call__(self, x):
        return self.layer(self.layer(x))


class Unused(eqx.Module):
    a: nets.Dense
    b: nets.Dense

    def __call__(self, x):
        return self.a(x)


class Outside(eqx.Module):
    a: nets.Dense

    def __call__(self, x):
        return nets.Dense(3, 3, key=0)(self.a(x))


@pytest.mark.parametrize(
    "model, match",
    [
        (
            lambda: Unused(nets.Dense(3, 3, key=0), nets.Dense(3, 3, key=1)),
            "Unused: .*never applied",
        ),
        (lambda: Outside(nets.Dense(3, 3, key=0)), "Outside: a credax Dense that is not part"),
    ],
    ids=["unused", "outside"],
)
def test_trace_refuses_models_that_are_not_chains_of_layers(model, match):
    with pytest.raises(ValueError, match=match):
        nets.trace(model(), jnp.ones((2, 3)))


def test_trace_refuses_tied_layer_objects():
    d = nets.Dense(3, 3, key=0)
    tied = nets.Sequential([d, d])
    with pytest.raises(ValueError, match="tied weights"):
        nets.trace(tied, jnp.ones((2, 3)))


def test_trace_needs_a_layered_model():
    with pytest.raises(TypeError, match="credax"):
        nets.trace({"w": jnp.ones(3)}, jnp.ones((2, 3)))


# --- local_updates --------------------------------------------------------------------------------


@pytest.mark.parametrize("net_name", ["mlp", "convnet", "lenet"])
def test_local_updates_of_backprops_errors_are_backprop(net_name):
    """With δ_l = ∂L/∂a_l (credax.metrics.layer_errors / B) at every layer, local_updates gives
    jax.grad exactly: dense δᵀh, the conv correlation, and Σδ for biases."""
    make_net, in_shape = NETS[net_name]
    params = make_net(jax.random.key(0))
    x, y = make_batch(jax.random.key(1), in_shape, batch=3)

    @jax.jit
    def both(params, x, y):
        errors = credax.metrics.layer_errors(params, None, (x, y), LOSS)
        t = nets.trace(params, x)
        return nets.local_updates(params, t.inputs, [e / 3 for e in errors]), grad(params, (x, y))

    ours, ref = both(params, x, y)
    chex.assert_trees_all_close(ours, ref, rtol=1e-5, atol=1e-6)


def test_local_updates_dense_is_delta_transpose_h():
    params = make_mlp(jax.random.key(0))
    x, _ = make_batch(jax.random.key(1), (5,), batch=4)
    t = nets.trace(params, x)
    d = jax.random.normal(jax.random.key(2), (4, 6))
    u = nets.local_updates(params, t.inputs, [None, d, None])
    np.testing.assert_allclose(u.layers[1].weight, d.T @ t.inputs[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(u.layers[1].bias, d.sum(0), rtol=1e-5, atol=1e-6)
    for i in (0, 2):  # None: zero update, the params' shapes and dtypes
        assert (
            not np.any(u.layers[i].weight)
            and u.layers[i].weight.shape == params.layers[i].weight.shape
        )
    chex.assert_trees_all_equal_shapes_and_dtypes(u, params)


def test_local_updates_checks_shapes():
    params = make_mlp(jax.random.key(0))
    t = nets.trace(params, jnp.ones((4, 5)))
    with pytest.raises(
        ValueError, match=re.escape("layer 1 (Dense) expects deltas of shape (B, 6) or (B, N, 6)")
    ):
        nets.local_updates(params, t.inputs, [None, jnp.ones((4, 7)), None])
    with pytest.raises(ValueError, match=re.escape("with the same B (and N), got (4, 7) and")):
        nets.local_updates(params, t.inputs, [None, jnp.ones((3, 6)), None])
    with pytest.raises(TypeError, match="expected deltas to be a list with one array"):
        nets.local_updates(params, t.inputs, {"a": None})
    with pytest.raises(
        TypeError, match="real floating-point deltas for layer 2, got dtype complex"
    ):
        nets.local_updates(params, t.inputs, [None, None, jnp.ones((4, 3), jnp.complex64)])
    with pytest.raises(ValueError, match="one input and one delta per credax layer"):
        nets.local_updates(params, t.inputs, [None])


# --- a user-written temporal layer ----------------------------------------------------------------


def leaky(a, decay=0.7):
    """A leaky integrator over the leading (time) axis: couples time steps, not elementwise."""

    def step(v, a_t):
        v = decay * v + a_t
        return v, v

    return jnp.tanh(jax.lax.scan(step, jnp.zeros(a.shape[1:], a.dtype), a)[1])


class TimeDense(nets.Layer):
    weight: jax.Array
    bias: jax.Array
    activation: callable = eqx.field(static=True)
    feedback: nets.Feedback | None
    steps: int = eqx.field(static=True)

    def __init__(self, steps, n_in, n_out, *, key):
        self.weight = jax.random.normal(key, (n_out, n_in)) / n_in**0.5
        self.bias = jnp.zeros(n_out)
        self.activation, self.feedback, self.steps = leaky, None, steps

    @property
    def linear(self):
        return lambda w, x: x @ w.T

    @property
    def in_shape(self):
        return (self.steps, self.weight.shape[1])

    @property
    def out_shape(self):
        return (self.steps, self.weight.shape[0])


class Last(eqx.Module):
    def __call__(self, h):
        return h[-1]


T = 6


def time_net(key):
    k1, k2 = jax.random.split(key)
    return nets.Sequential([TimeDense(T, 4, 8, key=k1), Last(), nets.Dense(8, N_CLASSES, key=k2)])


def time_batch(key, b=5):
    kx, ky = jax.random.split(key)
    return jax.random.normal(kx, (b, T, 4)), jax.random.randint(ky, (b,), 0, N_CLASSES)


def test_temporal_layer_trace_and_local_updates_match_backprop():
    params = time_net(jax.random.key(0))
    x, y = time_batch(jax.random.key(1))
    t = nets.trace(params, x)
    assert t.preactivations[0].shape == (5, T, 8)
    errors = credax.metrics.layer_errors(params, None, (x, y), LOSS)
    ours = nets.local_updates(params, t.inputs, [e / 5 for e in errors])
    chex.assert_trees_all_close(ours, grad(params, (x, y)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("rule_name", ["fa", "dfa", "kp", "wm", "np", "fga", "agrel"])
def test_rules_work_on_a_temporal_layer(rule_name):
    """Feedback-path, direct and unit-perturbation rules all run on a layer whose activation
    couples time steps; with B = W feedback alignment is backprop there too."""
    params = time_net(jax.random.key(0))
    x, y = time_batch(jax.random.key(1))
    rule = make_rule(rule_name)
    state = rule.init(2, params)
    updates, _ = jax.jit(rule.update)(params, state, (x, y))
    chex.assert_trees_all_equal_shapes_and_dtypes(updates, params)
    chex.assert_tree_all_finite(updates)
    assert float(jnp.linalg.norm(updates.layers[0].weight)) > 0
    if rule_name == "fa":
        exact = state._replace(feedback=tuple(l.weight for l in nets.find_layers(params)))
        chex.assert_trees_all_close(
            rule.update(params, exact, (x, y))[0], grad(params, (x, y)), rtol=1e-5, atol=1e-6
        )


def test_temporal_layer_learns_under_feedback_alignment():
    x, y = time_batch(jax.random.key(1), b=32)
    rule, opt = credax.feedback_alignment(LOSS), optax.adam(3e-2)
    params = time_net(jax.random.key(0))
    state, opt_state = rule.init(2, params), opt.init(params)

    @jax.jit
    def step(params, state, opt_state):
        g, state = rule.update(params, state, (x, y))
        u, opt_state = opt.update(g, opt_state, params)
        return optax.apply_updates(params, u), state, opt_state

    before = float(LOSS(jax.vmap(params)(x), y))
    for _ in range(150):
        params, state, opt_state = step(params, state, opt_state)
    assert float(LOSS(jax.vmap(params)(x), y)) < 0.5 * before
