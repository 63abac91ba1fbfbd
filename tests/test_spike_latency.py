"""Spike-latency coding (Mostafa 2017): the closed-form first spike against a fine-step simulation
of the neuron and a float64 reference of the paper's algorithm, its gradients against finite
differences and the paper's equations, silent inputs and outputs, the rule (jit, vmap, learning,
backprop), the layer in credax's traces, and bad inputs."""

from __future__ import annotations

import math

import chex
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import credax
from credax import spike_latency
from credax._src.spiking._latency import causal_set as causal_set_checked
from credax._src.spiking._latency import first_spike as first_spike_checked
from credax.spiking import FirstSpike, LatencyDense, LatencyEncode, latency_network, weight_sum_cost

LOSS = credax.losses.softmax_cross_entropy
# Compiled once per shape (eager dispatch of the sort-and-cumsum pipeline costs seconds on a CPU);
# the concrete checks of bad input are tested on the functions themselves.
first_spike = jax.jit(first_spike_checked, static_argnames="threshold")
causal_set = jax.jit(causal_set_checked, static_argnames="threshold")


@eqx.filter_jit
def apply(net, x):
    return jax.vmap(net)(x)


# --- references in float64 NumPy ------------------------------------------------------------------


def reference(w, z, theta=1.0):
    """Mostafa's algorithm, literally: per neuron, walk the inputs in time order and take the
    first prefix C with Σ_C w > ϑ whose z_out = Σ_C w z / (Σ_C w − ϑ) lies in [z_last, z_next)."""
    w, z = np.asarray(w, np.float64), np.asarray(z, np.float64)
    order = [i for i in np.argsort(z, kind="stable") if np.isfinite(z[i])]
    out = np.full(w.shape[0], np.inf)
    sets = np.zeros(w.shape, bool)
    for j in range(w.shape[0]):
        ws = wz = 0.0
        for pos, i in enumerate(order):
            ws, wz = ws + w[j, i], wz + w[j, i] * z[i]
            nxt = z[order[pos + 1]] if pos + 1 < len(order) else np.inf
            if ws > theta and z[i] <= wz / (ws - theta) < nxt:
                out[j] = wz / (ws - theta)
                sets[j, order[: pos + 1]] = True
                break
    return out, sets


def simulate(w, t_in, theta=1.0, dt=1e-3, horizon=8.0):
    """A non-leaky integrate-and-fire neuron with exponential synaptic currents, stepped by ``dt``
    (in units of τ_syn): ``dI/dt = −I`` with a jump ``w_i`` at each input spike, ``dV/dt = I``,
    each step integrated exactly (an input arriving inside a step counts from its arrival); the
    first spike is where ``V`` crosses ``ϑ``, linearly interpolated inside the step."""
    w = np.asarray(w, np.float64)
    decay = math.exp(-dt)
    arrivals: dict[int, list[int]] = {}
    for i, t in enumerate(t_in):
        if np.isfinite(t):
            arrivals.setdefault(int(t // dt), []).append(i)
    v, cur = np.zeros(w.shape[0]), np.zeros(w.shape[0])
    out = np.full(w.shape[0], np.inf)
    for n in range(int(horizon / dt)):
        v_new, cur_new = v + cur * (1 - decay), cur * decay
        for i in arrivals.get(n, ()):
            r = (n + 1) * dt - t_in[i]
            v_new = v_new + w[:, i] * (1 - math.exp(-r))
            cur_new = cur_new + w[:, i] * math.exp(-r)
        hit = (v_new >= theta) & np.isinf(out)
        out[hit] = (n + (theta - v[hit]) / (v_new[hit] - v[hit])) * dt
        v, cur = v_new, cur_new
    return out


def random_layer(seed, n_out=12, n_in=10, silent=2):
    rng = np.random.default_rng(seed)
    w = rng.normal(0.25, 0.45, (n_out, n_in))
    t = rng.uniform(0.0, 2.0, n_in)
    t[rng.choice(n_in, silent, replace=False)] = np.inf
    return w, t


# --- the closed form ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_first_spike_equals_a_fine_step_simulation_of_the_neuron(seed):
    w, t = random_layer(seed)
    z_out = np.asarray(
        first_spike(jnp.asarray(w, jnp.float32), jnp.asarray(np.exp(t), jnp.float32))
    )
    t_closed = np.log(z_out)
    t_sim = simulate(w, t, horizon=8.0)
    early = t_closed < 7.5
    assert early.sum() >= 4 and (~np.isfinite(z_out)).sum() >= 1  # both kinds are tested
    np.testing.assert_allclose(t_sim[early], t_closed[early], atol=2e-3)  # dt = 1e-3 τ_syn
    assert np.all(np.isinf(t_sim[~np.isfinite(z_out)]))  # silent in closed form: no crossing
    ref, sets = reference(w, np.exp(t))
    np.testing.assert_allclose(z_out, ref, rtol=2e-5)
    np.testing.assert_array_equal(
        np.asarray(causal_set(jnp.asarray(w, jnp.float32), jnp.asarray(np.exp(t), jnp.float32))),
        sets,
    )


def test_a_threshold_scales_the_weights():
    w, t = random_layer(2, silent=0)
    z = jnp.asarray(np.exp(t), jnp.float32)
    a = first_spike(jnp.asarray(w, jnp.float32), z, threshold=1.0)
    b = first_spike(jnp.asarray(2.5 * w, jnp.float32), z, threshold=2.5)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(a), reference(w, np.exp(t))[0], rtol=2e-5)


# --- gradients ------------------------------------------------------------------------------------


def fd_jacobian(f, x, eps=1e-6):
    x = np.asarray(x, np.float64)
    cols = []
    for idx in np.ndindex(x.shape):
        hi, lo = x.copy(), x.copy()
        hi[idx] += eps
        lo[idx] -= eps
        with np.errstate(invalid="ignore"):  # inf − inf where a neuron is silent
            cols.append((f(hi) - f(lo)) / (2 * eps))
    return np.stack(cols, -1).reshape(-1, *x.shape)


def test_gradients_match_central_finite_differences_in_float64():
    w, t = random_layer(3, n_out=6, n_in=8, silent=1)
    z = np.exp(t)
    z_out, _ = reference(w, z)
    fires = np.isfinite(z_out)
    assert fires.sum() >= 3 and (~fires).sum() >= 1
    jw, jz = jax.jit(jax.jacrev(first_spike, argnums=(0, 1)))(
        jnp.asarray(w, jnp.float32), jnp.asarray(z, jnp.float32)
    )
    fd_w = fd_jacobian(lambda a: reference(a, z)[0], w)
    zf = np.where(np.isfinite(z), z, 1.0)
    fd_z = fd_jacobian(lambda b: reference(w, np.where(np.isfinite(z), b, np.inf))[0], zf)
    np.testing.assert_allclose(np.asarray(jw)[fires], fd_w[fires], rtol=2e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(jz)[fires], fd_z[fires], rtol=2e-4, atol=1e-5)
    # a silent neuron and a silent input carry no gradient
    assert np.all(np.asarray(jw)[~fires] == 0) and np.all(np.asarray(jz)[:, ~np.isfinite(z)] == 0)


def test_the_derivative_is_mostafas_and_autodiff_of_the_closed_form_equals_it():
    w, t = random_layer(4, n_out=5, n_in=7, silent=1)
    w, z = jnp.asarray(w, jnp.float32), jnp.asarray(np.exp(t), jnp.float32)
    c = np.asarray(causal_set(w, z))
    z_out = np.asarray(first_spike(w, z))
    fires = np.isfinite(z_out)
    zi = np.where(np.isfinite(np.asarray(z)), np.asarray(z), 0.0)
    excess = np.where(c, np.asarray(w), 0.0).sum(1) - 1.0
    # eqs 5-6: ∂z_out/∂w_i = (z_i − z_out)/(Σ_C w − ϑ), ∂z_out/∂z_i = w_i/(Σ_C w − ϑ), i ∈ C
    dw = np.where(c, (zi[None] - np.where(fires, z_out, 0)[:, None]) / excess[:, None], 0.0)
    dz = np.where(c, np.asarray(w) / excess[:, None], 0.0)
    jw, jz = jax.jit(jax.jacrev(first_spike, argnums=(0, 1)))(w, z)
    for j in np.flatnonzero(fires):
        np.testing.assert_allclose(np.asarray(jw)[j, j], dw[j], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(jz)[j], dz[j], rtol=1e-5, atol=1e-6)

    # plain autodiff of z = Σ_C w z / (Σ_C w − ϑ) with the causal set held fixed
    def closed(a, b):
        b0 = jnp.where(jnp.isinf(b), 0.0, b)
        num = jnp.sum(jnp.where(c, a * b0[None], 0.0), 1)
        return num / (jnp.sum(jnp.where(c, a, 0.0), 1) - 1.0)

    aw, az = jax.jit(jax.jacrev(closed, argnums=(0, 1)))(w, z)
    np.testing.assert_allclose(np.asarray(jw)[fires], np.asarray(aw)[fires], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(jz)[fires], np.asarray(az)[fires], rtol=1e-5, atol=1e-6)
    # forward mode gives the same derivative (a custom_jvp)
    tw = jax.random.normal(jax.random.key(0), w.shape)
    _, fwd = jax.jit(lambda a, t: jax.jvp(lambda b: first_spike(b, z), (a,), (t,)))(w, tw)
    np.testing.assert_allclose(
        np.asarray(fwd)[fires], np.einsum("jki,ki->j", np.asarray(jw), tw)[fires], rtol=1e-4
    )


def test_silent_inputs_and_outputs():
    w = jnp.array([[0.6, 0.6, 5.0], [0.4, 0.4, 0.0], [2.0, -3.0, 2.0]])
    z = jnp.array([1.0, 2.5, jnp.inf])  # the third input never spikes
    z_out = first_spike(w, z)
    # neuron 0: the silent input's large weight counts for nothing; 0.6 + 0.6 > ϑ after both
    np.testing.assert_allclose(float(z_out[0]), (0.6 + 0.6 * 2.5) / 0.2, rtol=1e-5)
    assert np.isinf(float(z_out[1]))  # weights sum to 0.8 < ϑ: never fires
    # neuron 2 fires on its first input alone, z = 2/(2 − 1) = 2, before the inhibitory one
    np.testing.assert_allclose(float(z_out[2]), 2.0, rtol=1e-6)
    c = np.asarray(causal_set(w, z))
    np.testing.assert_array_equal(c, [[1, 1, 0], [0, 0, 0], [1, 0, 0]])
    g = jax.grad(
        lambda a: jnp.sum(jnp.where(jnp.isfinite(first_spike(a, z)), first_spike(a, z), 0))
    )
    gw = np.asarray(jax.jit(g)(w))
    assert np.all(np.isfinite(gw)) and np.all(gw[1] == 0) and np.all(gw[:, 2] == 0)
    # every input silent: every output silent, and nothing is NaN
    none = first_spike(w, jnp.full(3, jnp.inf))
    assert np.all(np.isinf(np.asarray(none)))
    # through a network with a silent hidden neuron, gradients stay finite
    net = latency_network([3, 3, 2], key=0)
    net = eqx.tree_at(lambda n: n.layers[0].weight, net, w)
    bp, _ = jax.jit(credax.backprop(LOSS).update)(
        net, credax.EmptyState(), (z[None], jnp.array([1]))
    )
    chex.assert_tree_all_finite(bp)
    assert np.isinf(np.asarray(apply(net.layers[0], z[None]))[0, 1])


def test_nan_propagates_and_is_not_read_as_silence():
    w = jnp.array([[0.6, 0.6], [0.7, 0.7]])
    out = first_spike(w.at[0, 0].set(jnp.nan), jnp.array([1.0, 2.0]))
    assert np.isnan(float(out[0])) and np.isfinite(float(out[1]))


# --- the readout, the encoder and the network -----------------------------------------------------


def test_first_spike_readout_and_encoder():
    logits = FirstSpike(cap=50.0)(jnp.array([3.0, jnp.inf, 80.0]))
    np.testing.assert_allclose(np.asarray(logits), [-3.0, -81.0, -80.0])  # silent: last, finite
    assert np.isnan(np.asarray(FirstSpike()(jnp.array([jnp.nan, 2.0])))[0])
    g = jax.grad(lambda z: FirstSpike()(z)[0] + FirstSpike()(z)[1])(jnp.array([2.0, jnp.inf]))
    np.testing.assert_array_equal(np.asarray(g), [-1.0, 0.0])
    x = jnp.array([[0.0, 0.5], [1.0, 0.25]])
    z = jax.jit(LatencyEncode(t_max=2.0))(x)
    np.testing.assert_allclose(np.asarray(jnp.log(z)), [2.0, 1.0, 0.0, 1.5], rtol=1e-6)
    zb = jax.jit(LatencyEncode(t_max=2.0, tau_syn=2.0, binarize=0.4, silent_below=0.1))(x)
    np.testing.assert_allclose(np.asarray(zb), [np.inf, 1.0, 1.0, math.e], rtol=1e-6)
    net = latency_network([4, 5, 3], key=1, encode=LatencyEncode())
    assert isinstance(net.layers[0], LatencyEncode) and isinstance(net.layers[-1], FirstSpike)
    assert [type(l) for l in credax.nets.find_layers(net)] == [LatencyDense, LatencyDense]
    assert apply(net, jnp.ones((2, 4))).shape == (2, 3)
    assert [type(m) for m in latency_network([4, 3], key=0, cap=None).layers] == [LatencyDense]


def test_trace_records_spike_times_and_causal_sets():
    net = latency_network([4, 5, 3], key=2, encode=LatencyEncode())
    x = jax.random.uniform(jax.random.key(0), (3, 4))
    t = eqx.filter_jit(credax.nets.trace)(net, x)
    z_in = apply(net.layers[0], x)
    chex.assert_trees_all_close(t.inputs[0], z_in)
    layer = net.layers[1]
    chex.assert_trees_all_close(t.preactivations[0], z_in @ layer.weight.T, rtol=1e-6)
    chex.assert_trees_all_close(t.outputs[0], apply(layer, z_in))
    sizes = jax.vmap(lambda z: causal_set(layer.weight, z).sum(1))(z_in)
    np.testing.assert_array_equal(np.asarray(t.internals[0]["causal_size"]), np.asarray(sizes))


# --- the rule -------------------------------------------------------------------------------------


def toy(key, n=16):
    """Two bits coded by a pair of neurons each (one early, one late: 0 or 1 τ_syn, jittered)
    plus a reference spike at 0; the label is their XOR."""
    kb, kn = jax.random.split(key)
    b = jax.random.bernoulli(kb, 0.5, (n, 2)).astype(jnp.float32)
    t = jnp.concatenate([b, 1.0 - b], 1) + 0.1 * jax.random.uniform(kn, (n, 4))
    z = jnp.concatenate([jnp.ones((n, 1)), jnp.exp(t)], 1)
    return z, (b[:, 0] != b[:, 1]).astype(jnp.int32)


def test_backprop_is_the_exact_gradient_and_the_rule_adds_the_weight_cost():
    net = latency_network([5, 6, 2], key=3, weight_mean=0.4, weight_std=0.05)
    short = eqx.tree_at(lambda n: n.layers[0].weight, net, net.layers[0].weight.at[2].set(0.05))
    batch = toy(jax.random.key(1), 8)
    empty = credax.EmptyState()
    bp, _, loss = jax.jit(credax.backprop(LOSS).update_with_value)(short, empty, batch)
    plain, _ = jax.jit(spike_latency(weight_cost=0.0).update)(short, empty, batch)
    chex.assert_trees_all_close(plain, bp, rtol=1e-6, atol=1e-7)
    rule = spike_latency(weight_cost=0.5)
    g, _, value = jax.jit(rule.update_with_value)(short, rule.init(0, short), batch)
    deficit = 1.0 - 5 * 0.05  # ϑ − Σ w of the neuron whose weights were shrunk
    assert float(weight_sum_cost(short)) == pytest.approx(deficit, rel=1e-5)
    assert float(value) == pytest.approx(float(loss), 1e-5)  # the value is the batch loss
    diff = np.asarray(g.layers[0].weight - bp.layers[0].weight)
    expect = np.zeros(diff.shape)
    expect[2] = -0.5  # ∂/∂w of K max(0, ϑ − Σ w) on that neuron's row only
    np.testing.assert_allclose(diff, expect, atol=1e-6)
    np.testing.assert_allclose(np.asarray(g.layers[1].weight), np.asarray(bp.layers[1].weight))


def test_jit_equals_eager_and_a_second_update_does_not_retrace():
    rule = spike_latency()
    batch = toy(jax.random.key(2), 8)
    # eager (op by op: slow to dispatch, so one layer) equals jitted
    one = latency_network([5, 2], key=0)
    eager = rule.update(one, rule.init(0, one), batch)[0]
    update = jax.jit(chex.assert_max_traces(rule.update, n=1))
    chex.assert_trees_all_close(
        update(one, credax.EmptyState(), batch)[0], eager, rtol=1e-5, atol=1e-6
    )
    other = latency_network([5, 2], key=1)
    assert not np.allclose(
        update(other, credax.EmptyState(), batch)[0].layers[0].weight, eager.layers[0].weight
    )


def test_vmap_over_seeds_equals_a_loop_and_diagnostics():
    rule = spike_latency()
    batch = toy(jax.random.key(2), 8)
    keys = jax.random.split(jax.random.key(0), 3)
    update = jax.jit(rule.update)
    looped = [
        update(latency_network([5, 6, 2], key=k), credax.EmptyState(), batch)[0] for k in keys
    ]
    batched = jax.vmap(lambda k: latency_network([5, 6, 2], key=k))(keys)
    g = eqx.filter_jit(jax.vmap(lambda n: rule.update(n, credax.EmptyState(), batch)[0]))(batched)
    for i, e in enumerate(looped):
        chex.assert_trees_all_close(jax.tree.map(lambda a, i=i: a[i], g), e, rtol=1e-5, atol=1e-6)
    net = eqx.tree_at(
        lambda n: n.layers[1].weight, latency_network([5, 6, 2], key=keys[0]), jnp.zeros((2, 6))
    )
    d = jax.jit(rule.diagnostics)(net, credax.EmptyState(), batch)
    assert d["silent_fraction"].shape == (2,) and d["decision_time"].shape == ()
    assert float(d["silent_fraction"][1]) == 1.0 and float(d["below_threshold_fraction"][1]) == 1.0
    assert float(d["causal_fraction"][1]) == 0.0 and 0.0 < float(d["causal_fraction"][0]) <= 1.0


def test_a_small_network_learns_xor_on_spike_times():
    rule = spike_latency()
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(0.02))
    x_test, y_test = toy(jax.random.key(99), 256)

    @jax.jit
    def train(key):
        net = latency_network([5, 8, 2], key=key)
        params, static = eqx.partition(net, eqx.is_array)

        def step(carry, k):
            params, state = carry
            g, _ = rule.update(eqx.combine(params, static), credax.EmptyState(), toy(k))
            u, state = opt.update(eqx.filter(g, eqx.is_array), state, params)
            return (optax.apply_updates(params, u), state), None

        (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), jax.random.split(key, 150))
        net = eqx.combine(params, static)
        before = latency_network([5, 8, 2], key=key)
        acc = lambda m: jnp.mean(jnp.argmax(jax.vmap(m)(x_test), 1) == y_test)  # noqa: E731
        return acc(before), acc(net), LOSS(jax.vmap(net)(x_test), y_test)

    before, after, loss = train(jax.random.key(5))
    assert float(before) < 0.8
    assert float(after) == 1.0 and float(loss) < 0.1


# --- bad input ------------------------------------------------------------------------------------


def test_bad_input_is_refused_in_one_line():
    w = jnp.ones((2, 3))
    cases = [
        (lambda: first_spike_checked(w, jnp.array([0.5, 1.0, 2.0])), "t >= 0"),
        (lambda: first_spike_checked(w, jnp.array([jnp.nan, 1.0, 2.0])), "without NaN"),
        (lambda: first_spike_checked(jnp.ones((2, 4)), jnp.ones(3)), r"shape \(4,\)"),
        (lambda: first_spike_checked(jnp.ones(3), jnp.ones(3)), r"\(n_out, n_in\)"),
        (lambda: first_spike_checked(w, jnp.ones(3), threshold=0.0), "threshold > 0"),
        (lambda: LatencyDense(3, 2, key=0, threshold=-1.0), "threshold > 0"),
        (lambda: LatencyDense(3, 2, key=0)(jnp.ones((4, 3))), "jax.vmap"),
        (lambda: LatencyDense(3, 2, key=0)(jnp.array([1.0, 0.9, 2.0])), "t >= 0"),
        (lambda: LatencyEncode(t_max=0.0), "t_max > 0"),
        (lambda: LatencyEncode(binarize=1.5), "binarize"),
        (lambda: LatencyEncode()(jnp.array([jnp.nan])), "finite intensities"),
        (lambda: FirstSpike(cap=0.5), "cap >= 1"),
        (lambda: latency_network([4], key=0), "at least 2"),
        (lambda: spike_latency(weight_cost=-1.0), "weight_cost >= 0"),
    ]
    for fn, match in cases:
        with pytest.raises((ValueError, TypeError), match=match) as info:
            fn()
        assert "\n" not in str(info.value)
    mlp = credax.nets.mlp([3, 2], activation=jnp.tanh, key=0)
    with pytest.raises(ValueError, match="LatencyDense layers") as info:
        spike_latency().init(0, mlp)
    assert "\n" not in str(info.value)
    net = latency_network([3, 4, 2], key=0)
    batch = (jnp.array([[1.0, 2.0, 0.5]]), jnp.array([0]))
    with pytest.raises(ValueError, match="t >= 0"):
        spike_latency().update(net, credax.EmptyState(), batch)


@pytest.mark.parametrize(
    "make", [credax.feedback_alignment, credax.node_perturbation], ids=["fa", "np"]
)
def test_rules_that_change_a_pre_activation_are_refused(make):
    net = latency_network([5, 4, 2], key=0)
    rule = make(LOSS)
    with pytest.raises(ValueError, match="LatencyDense computes spike times"):
        jax.jit(rule.update)(net, rule.init(0, net), toy(jax.random.key(0), 4))
