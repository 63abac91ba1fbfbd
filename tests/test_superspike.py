"""SuperSpike (Zenke & Ganguli 2018): its reduction to surrogate-gradient BPTT and to the paper's
eligibility-trace form, a finite-difference check of the smoothed model, symmetric against
random feedback, jit/vmap, learning a spike-timing target, and the errors it raises."""

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
from credax import SuperSpikeState, superspike
from credax.spiking import alpha_filter, van_rossum_loss

T, N_IN, N_HID, N_OUT, B = 40, 10, 6, 2, 3


def poisson(seed, shape, rate):
    """Poisson spike trains ``(B, T, n)`` at ``rate`` Hz."""
    b, steps, n = shape
    return jnp.swapaxes(credax.spiking.poisson(seed, jnp.full((b, n), rate), steps), 0, 1)


def one_layer(tau_syn, *, reset="subtract", use_bias=True, weight_scale=None):
    scale = weight_scale or (6.0 if tau_syn else 12.0)
    lif = credax.spiking.LIF(
        T, N_IN, N_OUT, key=1, tau_syn=tau_syn, reset=reset, use_bias=use_bias,
        weight_scale=scale,
    )  # fmt: skip
    return credax.nets.Sequential([lif])


def two_layer(key=0, *, tau_syn=5.0, out=credax.spiking.LIF):
    k1, k2 = jax.random.split(jax.random.key(key) if isinstance(key, int) else key)
    return credax.nets.Sequential(
        [
            credax.spiking.LIF(T, N_IN, N_HID, key=k1, weight_scale=6.0, tau_syn=tau_syn),
            out(T, N_HID, N_OUT, key=k2, weight_scale=6.0, tau_syn=tau_syn),
        ]
    )


def batch(seed=0):
    return poisson(seed, (B, T, N_IN), 80.0), poisson(seed + 100, (B, T, N_OUT), 40.0)


def close(a, b, rtol=1e-4, atol=1e-6):
    chex.assert_trees_all_close(a, b, rtol=rtol, atol=atol)


def step(rule, net, state, data):
    """``rule.update_with_value``, compiled (eager execution of the scans is slower)."""
    return eqx.filter_jit(rule.update_with_value)(net, state, data)


def bptt(loss, net, data):
    rule = credax.backprop(loss)
    return step(rule, net, rule.init(0, net), data)[0]


# --- the loss and its kernel ---------------------------------------------------------------------


def test_alpha_kernel_peaks_at_one_and_reduces_to_the_exponential_trace():
    s = jnp.zeros((200, 1)).at[0, 0].set(1.0)
    k = alpha_filter(s, tau_rise=5.0, tau_decay=10.0)[:, 0]
    assert float(k.max()) == pytest.approx(1.0, abs=1e-6)
    peak = int(jnp.argmax(k))
    assert 3 <= peak <= 12  # rises, then decays
    assert np.all(np.diff(np.asarray(k[peak:])) <= 0)
    x = poisson(0, (1, 60, 3), 100.0)[0]
    close(alpha_filter(x, tau_rise=0.0, tau_decay=7.0), credax.spiking.exponential_trace(x, 7.0))


def test_van_rossum_loss_is_half_the_squared_distance_without_rise():
    s, target = poisson(1, (B, T, N_OUT), 60.0), poisson(2, (B, T, N_OUT), 60.0)
    loss = van_rossum_loss(tau_rise=0.0, tau_decay=10.0)
    d = jax.vmap(lambda a, b: credax.spiking.van_rossum(a, b, 10.0))(s, target)
    assert float(loss(s, target)) == pytest.approx(float(jnp.mean(0.5 * d**2)), rel=1e-5)
    assert float(van_rossum_loss()(s, s)) == 0.0


# --- reductions ----------------------------------------------------------------------------------


@pytest.mark.parametrize("tau_syn", [None, 5.0], ids=["current", "synaptic"])
def test_one_layer_equals_surrogate_gradient_bptt(tau_syn):
    """One LIF layer, reset by subtraction (detached), no refractory period: BPTT's ∂U/∂w is the
    PSP ε ∗ S_j, and SuperSpike on the paper's loss is BPTT to float precision."""
    net = one_layer(tau_syn)
    data = batch()
    assert float(jnp.sum(jax.vmap(net)(data[0]))) > 5  # the layer fires
    loss = van_rossum_loss()
    rule = superspike(loss)
    g, _, value = step(rule, net, rule.init(0, net), data)
    close(g, bptt(loss, net, data))
    assert float(value) == pytest.approx(float(loss(jax.vmap(net)(data[0]), data[1])), rel=1e-6)


def test_the_paper_eligibility_form_equals_the_rule_when_alpha_is_the_loss_kernel():
    """The paper's online form, Σ_t e_i(t) λ_ij(t) with e = α ∗ (Ŝ − S) and a per-synapse trace
    λ_ij = α ∗ (σ′(U_i) (ε ∗ S_j)), equals the rule (and so BPTT) exactly when the eligibility's α
    is the loss's kernel; with another α it does not."""
    net = one_layer(5.0, use_bias=False)
    lif = net.layers[0]
    x, target = batch(3)
    tau_rise, tau_decay = 5.0, 10.0
    rule = superspike(van_rossum_loss(tau_rise=tau_rise, tau_decay=tau_decay))
    g = step(rule, net, rule.init(0, net), (x, target))[0].layers[0].weight
    t = credax.nets.trace(net, x)
    s, u = t.outputs[0], t.internals[0]["membrane"]
    psp = jax.vmap(lambda xb: lif.dynamics.run(xb, spiking=False)[0])(x)  # ε ∗ S_j, (B, T, n_in)
    f = lif.dynamics.surrogate(u - 1.0)[..., :, None] * psp[..., None, :]  # (B, T, n_out, n_in)

    def paper(eligibility_rise):
        alpha = jax.vmap(lambda a: alpha_filter(a, tau_rise=tau_rise, tau_decay=tau_decay))
        e = (1.0 / tau_decay) / B * alpha(target - s)  # the error, scaled as the loss is
        lam = jax.vmap(lambda a: alpha_filter(a, tau_rise=eligibility_rise, tau_decay=tau_decay))(f)
        return -jnp.einsum("bti,btij->ij", e, lam)  # updates = -Δw

    close(g, paper(tau_rise), rtol=1e-4, atol=1e-6)
    assert float(jnp.max(jnp.abs(g - paper(1.0)))) > 1e-2 * float(jnp.max(jnp.abs(g)))


def test_zero_reset_is_not_bptt_the_rule_ignores_it():
    """BPTT through a detached reset to zero also zeroes ∂U/∂w at each own spike; SuperSpike,
    as the paper, keeps the PSP (documented): the two differ once the neuron fires."""
    net = one_layer(5.0, reset="zero")
    data = batch()
    loss = van_rossum_loss()
    rule = superspike(loss)
    g = step(rule, net, rule.init(0, net), data)[0].layers[0].weight
    gb = bptt(loss, net, data).layers[0].weight
    assert float(jnp.max(jnp.abs(g - gb))) > 1e-3 * float(jnp.max(jnp.abs(gb)))


def _smoothed_loss(w, x, r, s0, u0, target, dynamics, tau_rise, tau_decay):
    """The smoothed one-layer model in float64 NumPy: the same membrane dynamics with the reset
    sequence ``r`` frozen (the detached reset), and spikes ``S = S₀ + φ(U − ϑ) − φ(U₀ − ϑ)``
    with ``φ(v) = v / (1 + β|v|)``, whose derivative is the fast-sigmoid surrogate; at ``w₀`` it
    is the spiking model. Returns the paper's loss of its spikes."""
    beta_s = dynamics.surrogate.beta
    b_mem, a_syn, kappa = dynamics.beta, dynamics.alpha, dynamics.kappa
    a = np.einsum("bti,oi->bto", x, w)
    u = np.zeros(a.shape[::2])
    i = np.zeros_like(u)
    us = np.zeros_like(a)
    for n in range(a.shape[1]):
        u = b_mem * u + kappa * i
        i = a_syn * i + a[:, n]
        us[:, n] = u
        u = u - dynamics.threshold * r[:, n]

    def phi(v):
        return v / (1.0 + beta_s * np.abs(v))

    s = s0 + phi(us - dynamics.threshold) - phi(u0 - dynamics.threshold)
    d_r, d_d = math.exp(-1.0 / tau_rise), math.exp(-1.0 / tau_decay)
    n = np.arange(400)
    peak = ((d_d ** (n + 1) - d_r ** (n + 1)) / (d_d - d_r)).max()
    z, y, total = np.zeros(u.shape), np.zeros(u.shape), 0.0
    for k in range(a.shape[1]):
        z = d_r * z + (s - target)[:, k]
        y = d_d * y + z
        total += np.sum((y / peak) ** 2)
    return 0.5 * total / tau_decay / a.shape[0], us


def test_surrogate_gradient_matches_finite_differences_of_the_smoothed_model():
    """SuperSpike's updates (= surrogate-gradient BPTT for one layer) are the exact gradient of
    the smoothed model: central differences in float64 along random directions agree."""
    net = one_layer(5.0, use_bias=False)
    lif = net.layers[0]
    x, target = batch(5)
    t = credax.nets.trace(net, x)
    s0 = np.asarray(t.outputs[0], np.float64)
    u0 = np.asarray(t.internals[0]["membrane"], np.float64)
    assert s0.sum() > 5
    args = (np.asarray(x, np.float64), s0, s0, u0, np.asarray(target, np.float64), lif.dynamics)
    w0 = np.asarray(lif.weight, np.float64)
    value, us = _smoothed_loss(w0, *args, 5.0, 10.0)
    np.testing.assert_allclose(us, u0, atol=1e-4)  # the smoothed model runs the same membrane
    rule = superspike(van_rossum_loss())
    g = np.asarray(step(rule, net, rule.init(0, net), (x, target))[0].layers[0].weight)
    rng = np.random.default_rng(0)
    eps = 1e-5
    for _ in range(3):
        d = rng.normal(size=w0.shape)
        plus = _smoothed_loss(w0 + eps * d, *args, 5.0, 10.0)[0]
        minus = _smoothed_loss(w0 - eps * d, *args, 5.0, 10.0)[0]
        fd = (plus - minus) / (2 * eps)
        assert np.sum(g * d) == pytest.approx(fd, rel=1e-3, abs=1e-5)


def test_output_layer_is_bptt_in_a_deep_network_and_readouts_go_through_vjp():
    """A spiking classifier, LIF → LI → max over time → softmax cross-entropy: the output layer's
    update is BPTT's (its error comes from the loss through the parameter-free readout), and a
    one-layer LI readout is BPTT exactly."""
    loss = credax.losses.softmax_cross_entropy
    x = poisson(0, (B, T, N_IN), 80.0)
    y = jnp.array([0, 1, 1])
    k1, k2 = jax.random.split(jax.random.key(4))
    net = credax.nets.Sequential(
        [
            credax.spiking.LIF(T, N_IN, N_HID, key=k1, weight_scale=6.0),
            credax.spiking.LI(T, N_HID, N_OUT, key=k2, use_bias=True),
            credax.spiking.TimeReduce("max"),
        ]
    )
    rule = superspike(loss)
    g = step(rule, net, rule.init(0, net), (x, y))[0]
    gb = bptt(loss, net, (x, y))
    close(g.layers[1], gb.layers[1])
    assert float(jnp.max(jnp.abs(g.layers[0].weight))) > 0
    readout = credax.nets.Sequential([net.layers[1], credax.spiking.TimeReduce("mean")])
    h = jax.vmap(net.layers[0])(x)
    g1 = step(rule, readout, rule.init(0, readout), (h, y))[0]
    close(g1, bptt(loss, readout, (h, y)))


# --- symmetric and random feedback ---------------------------------------------------------------


def test_random_feedback_differs_on_hidden_layers_and_equals_symmetric_at_the_output():
    net, data = two_layer(), batch(7)
    loss = van_rossum_loss()
    sym, rnd = superspike(loss), superspike(loss, feedback="random")
    g_sym = step(sym, net, sym.init(0, net), data)[0]
    state = rnd.init(jax.random.key(1), net)
    g_rnd = step(rnd, net, state, data)[0]
    close(g_rnd.layers[1], g_sym.layers[1])
    assert float(jnp.max(jnp.abs(g_sym.layers[0].weight))) > 0
    diff = jnp.max(jnp.abs(g_rnd.layers[0].weight - g_sym.layers[0].weight))
    assert float(diff) > 1e-2 * float(jnp.max(jnp.abs(g_sym.layers[0].weight)))
    # random feedback equal to the forward weights is symmetric feedback
    tied = SuperSpikeState(tuple(layer.weight for layer in net.layers))
    close(step(rnd, net, tied, data)[0], g_sym)
    # and symmetric feedback is not BPTT in a hidden layer (no σ′ nor PSP of the layer above)
    gb = bptt(loss, net, data)
    assert float(jnp.max(jnp.abs(gb.layers[0].weight - g_sym.layers[0].weight))) > 1e-4


def test_random_feedback_is_fixed_over_steps():
    net, data = two_layer(), batch(8)
    rule, opt = superspike(van_rossum_loss(), feedback="random"), optax.adam(1e-2)
    state = rule.init(jax.random.key(2), net)
    assert [b.shape for b in state.feedback] == [layer.weight.shape for layer in net.layers]
    b0 = state.feedback
    opt_state = opt.init(net)
    update = jax.jit(rule.update)
    for _ in range(3):
        g, state = update(net, state, data)
        u, opt_state = opt.update(g, opt_state, net)
        net = optax.apply_updates(net, u)
    chex.assert_trees_all_equal(state.feedback, b0)
    assert superspike(van_rossum_loss()).init(0, net) == SuperSpikeState(())


@pytest.mark.parametrize("feedback", ["symmetric", "random"])
def test_jit_equals_eager_without_retracing(feedback):
    net, data = two_layer(), batch(9)
    rule = superspike(van_rossum_loss(), feedback=feedback)
    state = rule.init(jax.random.key(3), net)
    eager = rule.update_with_value(net, state, data)
    chex.clear_trace_counter()
    traced = chex.assert_max_traces(rule.update_with_value, n=1)
    jitted = jax.jit(traced)
    close(jitted(net, state, data), eager, rtol=1e-5)
    jitted(net, state, batch(10))  # another batch of the same shapes: no second trace


def test_vmap_over_seeds_equals_a_loop():
    data = batch(11)
    rule = superspike(van_rossum_loss(), feedback="random")
    keys = jax.random.split(jax.random.key(5), 2)

    def one(k):
        k_net, k_rule = jax.random.split(k)
        net = two_layer(k_net)
        return rule.update(net, rule.init(k_rule, net), data)

    batched = eqx.filter_jit(eqx.filter_vmap(one))(keys)
    single = eqx.filter_jit(one)
    for i, k in enumerate(keys):
        close(jax.tree.map(lambda a, i=i: a[i], batched), single(k), rtol=1e-5)


# --- learning ------------------------------------------------------------------------------------


@pytest.mark.parametrize("feedback", ["symmetric", "random"])
def test_two_layer_network_learns_target_spike_times(feedback):
    """A 30-8-1 network, frozen Poisson input, three target spikes in 100 ms: 300 RMSprop steps
    bring the paper's loss below half its start, averaged over four seeds."""
    steps, n_in, n_hid = 300, 30, 8
    x = credax.spiking.poisson(1, jnp.full(n_in, 30.0), 100)[None]
    y = jnp.zeros((1, 100, 1)).at[0, jnp.array([25, 50, 80]), 0].set(1.0)
    rule, opt = superspike(van_rossum_loss(), feedback=feedback), optax.rmsprop(1e-2)

    def run(key):
        k1, k2, k3 = jax.random.split(key, 3)
        net = credax.nets.Sequential(
            [
                credax.spiking.LIF(100, n_in, n_hid, key=k1, weight_scale=3.0),
                credax.spiking.LIF(100, n_hid, 1, key=k2, weight_scale=3.0),
            ]
        )
        carry = (net, rule.init(k3, net), opt.init(net))

        def step(carry, _):
            net, state, opt_state = carry
            g, state, value = rule.update_with_value(net, state, (x, y))
            u, opt_state = opt.update(g, opt_state, net)
            return (optax.apply_updates(net, u), state, opt_state), value

        return jax.lax.scan(step, carry, None, length=steps)[1]

    values = jax.jit(jax.vmap(run))(jax.random.split(jax.random.key(1), 4))
    start, end = float(jnp.mean(values[:, 0])), float(jnp.mean(values[:, -50:]))
    assert end < 0.5 * start, (start, end)


# --- diagnostics ---------------------------------------------------------------------------------


def test_diagnostics_report_the_van_rossum_distance_and_records_rates_and_counts():
    from credax._src.tasks._records import spike_records

    net, (x, y) = two_layer(), batch(12)
    rule = superspike(van_rossum_loss())
    d = eqx.filter_jit(rule.diagnostics)(net, rule.init(0, net), (x, y))
    t = credax.nets.trace(net, x)
    vr = jax.vmap(lambda a, b: credax.spiking.van_rossum(a, b, 10.0))(t.outputs[1], y)
    close(d["van_rossum"], jnp.mean(vr))
    # Rates and counts are every rule's records (the evaluation's), per layer.
    counts = jnp.stack([jnp.sum(h) / B for h in t.outputs])
    rec = spike_records(net, t)
    close(rec["spike_count"], counts)
    close(rec["firing_rate"], counts / jnp.array([N_HID, N_OUT]) / (T * 1e-3))
    readout = two_layer(out=credax.spiking.LI)
    d = rule.diagnostics(readout, rule.init(0, readout), (x, y))  # LI output: no spike target
    assert d == {}


# --- errors --------------------------------------------------------------------------------------


def test_bad_inputs_are_refused():
    loss = van_rossum_loss()
    rule = superspike(loss)
    mlp = credax.nets.mlp([4, 3, 2], activation=jnp.tanh, key=0)
    with pytest.raises(TypeError, match="credax.spiking.LIF or LI, got Dense"):
        rule.init(0, mlp)
    net = two_layer()
    state = rule.init(0, net)
    with pytest.raises(TypeError, match="credax.spiking.LIF or LI, got Dense"):
        rule.update(mlp, state, (jnp.ones((2, 4)), jnp.zeros((2, 2))))
    x, y = batch(13)
    with pytest.raises(ValueError, match=r"target spike trains y of shape \(B, T, n_out\)"):
        rule.update(net, state, (x, y[:, :-1]))
    with pytest.raises(ValueError, match=r"target spike trains y of shape \(B, T, n_out\)"):
        rule.update(net, state, (x, jnp.concatenate([y, y], -1)))
    with pytest.raises(ValueError, match="0/1 values"):
        rule.update(net, state, (x, 0.5 * y))
    with pytest.raises(ValueError, match="feedback 'symmetric' or 'random'"):
        superspike(loss, feedback="uniform")
    with pytest.raises(ValueError, match="feedback='random'"):
        superspike(loss, scale=2.0)
    with pytest.raises(ValueError, match="does not fit"):
        superspike(loss, feedback="random").update(net, state, (x, y))
    with pytest.raises(ValueError, match="van_rossum_loss: expected output and target"):
        loss(y, y[:, :-1])
    with pytest.raises(ValueError, match="tau_decay > 0"):
        van_rossum_loss(tau_decay=0.0)
