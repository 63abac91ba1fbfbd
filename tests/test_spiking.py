"""credax.spiking's neurons, encoders and traces against their closed forms, every supervised
rule on a spiking network, and the spiking core's bad inputs."""

from __future__ import annotations

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import LOSS, RULES, make_rule

import credax
from credax import spiking as sp

# --- neurons against their closed forms -----------------------------------------------------------


def interspike_rate(s: np.ndarray, dt: float) -> float:
    t = np.flatnonzero(s)
    return 1000.0 / (np.diff(t).mean() * dt)


@pytest.mark.parametrize("refractory", [0.0, 2.0])
@pytest.mark.parametrize("current", [1.2, 1.5, 3.0])
def test_lif_rate_under_constant_current_is_the_closed_form(refractory, current):
    """τ dU/dt = -U + I from 0 to ϑ = 1 takes τ ln(I / (I - 1)); with the refractory period the
    rate is 1 / (t_ref + τ ln(I / (I - 1))). Exact integration: the only error is the step's
    quantisation of spike times (dt = 0.01 ms)."""
    dyn = sp.Dynamics(dt=0.01, tau_mem=10.0, tau_syn=None, refractory=refractory)
    s, exposed = dyn.run(jnp.full((20000, 1), current))
    expected = 1000.0 / (refractory + 10.0 * math.log(current / (current - 1.0)))
    measured = interspike_rate(np.asarray(s[:, 0]), 0.01)
    assert measured == pytest.approx(expected, rel=2e-3)
    # Below threshold it never fires.
    quiet, _ = dyn.run(jnp.full((5000, 1), 0.99))
    assert float(quiet.sum()) == 0.0


def test_synaptic_membrane_is_the_exact_double_exponential():
    """One charge q at step 0: I(t) = q e^{-t/τs}, U(t) = q τs/(τs - τm) (e^{-t/τs} - e^{-t/τm}),
    reached one step after the charge arrives."""
    dt, tm, ts, q = 0.5, 10.0, 5.0, 0.3
    dyn = sp.Dynamics(dt=dt, tau_mem=tm, tau_syn=ts, threshold=100.0)
    a = jnp.zeros((80, 1)).at[0, 0].set(q)
    _, ex = dyn.run(a)
    t = dt * np.arange(80)
    u = q * ts / (ts - tm) * (np.exp(-t / ts) - np.exp(-t / tm))
    np.testing.assert_allclose(np.asarray(ex["membrane"][:, 0]), u, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(ex["current"][:, 0]), q * np.exp(-t / ts), rtol=1e-5)
    # Equal time constants: U(t) = q (t/τ) e^{-t/τ}.
    _, ex = sp.Dynamics(dt=dt, tau_mem=tm, tau_syn=tm, threshold=100.0).run(a)
    np.testing.assert_allclose(
        np.asarray(ex["membrane"][:, 0]), q * t / tm * np.exp(-t / tm), rtol=1e-5, atol=1e-7
    )


def test_reset_modes_and_refractory_hold():
    a = jnp.full((40, 1), 2.5)
    zero, ez = sp.Dynamics(dt=1.0, tau_mem=10.0, tau_syn=None, reset="zero").run(a)
    sub, es = sp.Dynamics(dt=1.0, tau_mem=10.0, tau_syn=None, reset="subtract").run(a)
    first = int(np.flatnonzero(np.asarray(zero[:, 0]))[0])
    u_at = float(ez["membrane"][first, 0])
    assert u_at >= 1.0
    # After the first spike, "zero" restarts from 0 and "subtract" from U - ϑ.
    beta = math.exp(-0.1)
    assert float(ez["membrane"][first + 1, 0]) == pytest.approx((1 - beta) * 2.5, rel=1e-5)
    assert float(es["membrane"][first + 1, 0]) == pytest.approx(
        beta * (u_at - 1.0) + (1 - beta) * 2.5, rel=1e-5
    )
    assert float(sub.sum()) >= float(zero.sum())
    ref, er = sp.Dynamics(dt=1.0, tau_mem=10.0, tau_syn=None, refractory=3.0).run(a)
    np.testing.assert_array_equal(np.asarray(er["membrane"][first + 1 : first + 4, 0]), 0.0)
    assert float(er["membrane"][first + 4, 0]) > 0


def test_spike_derivative_is_the_surrogate():
    v = jnp.linspace(-1.0, 1.0, 9)
    surrogate = sp.fast_sigmoid(4.0)
    np.testing.assert_array_equal(np.asarray(sp.spike(v, surrogate)), np.asarray(v >= 0))
    grad = jax.vmap(jax.grad(lambda u: sp.spike(u, surrogate)))(v)
    np.testing.assert_allclose(np.asarray(grad), 1.0 / (4.0 * np.abs(np.asarray(v)) + 1.0) ** 2)


def test_detached_reset_changes_only_the_gradient():
    key = jax.random.key(0)
    x = sp.poisson(key, jnp.full((6,), 300.0), 30)
    kw = dict(key=1, weight_scale=4.0, dt=1.0, tau_mem=10.0, tau_syn=5.0)
    a, b = sp.LIF(30, 6, 4, detach_reset=True, **kw), sp.LIF(30, 6, 4, detach_reset=False, **kw)
    np.testing.assert_array_equal(np.asarray(a(x)), np.asarray(b(x)))
    assert float(a(x).sum()) > 0
    ga = jax.grad(lambda m: jnp.sum(m(x)))(a)
    gb = jax.grad(lambda m: jnp.sum(m(x)))(b)
    assert not np.allclose(np.asarray(ga.weight), np.asarray(gb.weight))


# --- encoders and traces --------------------------------------------------------------------------


def test_poisson_regular_and_latency_encoders():
    rates = jnp.array([0.0, 20.0, 100.0, 500.0])
    s = sp.poisson(jax.random.key(0), rates, 20000, dt=0.5)
    assert s.shape == (20000, 4) and set(np.unique(np.asarray(s))) <= {0.0, 1.0}
    measured = np.asarray(s.mean(0)) * 1000 / 0.5
    np.testing.assert_allclose(measured, np.asarray(rates), rtol=0.05, atol=1.0)
    r = sp.regular(rates, 1000, dt=1.0)  # 1 s
    np.testing.assert_array_equal(np.asarray(r.sum(0)), [0, 20, 100, 500])
    lat = sp.latency(jnp.array([1.0, 0.5, 0.0, 0.25]), 9)
    np.testing.assert_array_equal(np.asarray(jnp.argmax(lat, 0)), [0, 4, 0, 6])
    np.testing.assert_array_equal(np.asarray(lat.sum(0)), [1, 1, 0, 1])


def test_exponential_trace_and_van_rossum_closed_forms():
    dt, tau = 0.5, 4.0
    s = jnp.zeros((60, 2)).at[3, 0].set(1.0).at[[3, 10], 1].set(1.0)
    x = sp.exponential_trace(s, tau, dt=dt)
    n = np.arange(60)
    one = np.where(n >= 3, np.exp(-(n - 3) * dt / tau), 0.0)
    np.testing.assert_allclose(np.asarray(x[:, 0]), one, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(
        np.asarray(x[:, 1]), one + np.where(n >= 10, np.exp(-(n - 10) * dt / tau), 0.0), rtol=1e-5
    )
    assert float(sp.van_rossum(s, s, tau, dt=dt)) == 0.0
    # One spike against none: sqrt(dt/τ Σ_k e^{-2 k dt/τ}) over the remaining steps.
    expected = math.sqrt(dt / tau * np.sum(np.exp(-2 * np.arange(57) * dt / tau)))
    d = sp.van_rossum(s[:, :1], jnp.zeros((60, 1)), tau, dt=dt)
    assert float(d) == pytest.approx(expected, rel=1e-5)


def test_encode_is_frozen_per_example_and_shaped_for_lif():
    enc = sp.Encode("poisson", 25, lo=-2.0, hi=2.0, max_rate=400.0)
    x = jax.random.normal(jax.random.key(0), (3, 7))
    a, b = jax.vmap(enc)(x), jax.vmap(enc)(x)
    assert a.shape == (3, 25, 7)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a[0]), np.asarray(a[1]))
    lat = sp.Encode("latency", 5, lo=0.0, hi=1.0)(jnp.array([1.0, 0.0, 0.5]))
    np.testing.assert_array_equal(np.asarray(lat.argmax(0)), [0, 0, 2])
    np.testing.assert_array_equal(np.asarray(lat.sum(0)), [1, 0, 1])
    cur = sp.Encode("current", 4)(jnp.arange(3.0))
    np.testing.assert_array_equal(np.asarray(cur), np.tile(np.arange(3.0), (4, 1)))


# --- every rule on a spiking network --------------------------------------------------------------

STEPS = 12


def spiking_net(key=0):
    enc = sp.Encode("poisson", STEPS, lo=-2.0, hi=2.0, max_rate=500.0)
    return sp.network(
        [5, 7, 6, 3], STEPS, key=key, encode=enc, weight_scale=4.0, tau_mem=2.0, tau_syn=None
    )


def spiking_batch():
    x = jax.random.normal(jax.random.key(1), (4, 5))
    return x, jnp.array([0, 1, 2, 1])


def test_a_spiking_network_traces_its_spikes_and_membranes():
    net = spiking_net()
    x, _ = spiking_batch()
    t = credax.nets.trace(net, x)
    assert [h.shape for h in t.inputs] == [(4, STEPS, 5), (4, STEPS, 7), (4, STEPS, 6)]
    assert t.output.shape == (4, 3)
    for out in t.outputs[:2]:
        assert set(np.unique(np.asarray(out))) == {0.0, 1.0}  # hidden layers spike
    assert set(t.internals[0]) == {"membrane"} and t.internals[0]["membrane"].shape == (4, STEPS, 7)


# AGREL chooses one output unit per example: it needs a vector output layer (below).
SUPERVISED_ANY_MODEL = [
    n
    for n, e in RULES.items()
    if e.task == credax.tasks.SUPERVISED
    and not e.has("chain_only")
    and e.family not in ("spiking", "test")
    and n != "agrel"
]


def test_agrel_names_why_it_refuses_a_temporal_readout():
    rule = make_rule("agrel")
    with pytest.raises(ValueError, match="agrel needs a vector output layer"):
        rule.init(0, spiking_net())


@pytest.mark.parametrize("rule_name", SUPERVISED_ANY_MODEL)
def test_supervised_rules_apply_unchanged_to_spiking_layers(rule_name):
    net, batch = spiking_net(), spiking_batch()
    rule = make_rule(rule_name)
    state = rule.init(jax.random.key(2), net)
    updates, _ = jax.jit(rule.update)(net, state, batch)
    chex.assert_trees_all_equal_shapes_and_dtypes(updates, net)
    chex.assert_tree_all_finite(updates)
    for u in credax.nets.find_layers(updates):
        assert float(jnp.linalg.norm(u.weight)) > 0


def test_backprop_on_a_spiking_network_is_surrogate_bptt_and_fa_with_w_is_it():
    net, (x, y) = spiking_net(), spiking_batch()
    grads = jax.grad(lambda m: LOSS(jax.vmap(m)(x), y))(net)
    bp, _ = credax.backprop(LOSS).update(net, credax.EmptyState(), (x, y))
    chex.assert_trees_all_close(bp, grads, rtol=1e-5, atol=1e-7)
    fa = credax.feedback_alignment(LOSS)
    state = fa.init(0, net)
    weights = tuple(layer.weight for layer in credax.nets.find_layers(net))
    fa_u, _ = fa.update(net, state._replace(feedback=weights), (x, y))
    chex.assert_trees_all_close(fa_u, grads, rtol=1e-5, atol=1e-7)


def test_surrogate_bptt_trains_a_spiking_classifier():
    """Backprop through the LIF dynamics with the surrogate (surrogate-gradient BPTT) fits 16
    Poisson-encoded examples of 3 classes: every seed's loss at least halves."""
    import optax

    def init(key):
        enc = sp.Encode("poisson", STEPS, lo=-2.0, hi=2.0, max_rate=500.0)
        return sp.network(
            [5, 16, 3], STEPS, key=key, encode=enc, weight_scale=4.0, tau_mem=2.0, tau_syn=None
        )

    x = jax.random.normal(jax.random.key(1), (16, 5))
    y = jnp.arange(16) % 3
    fit = credax.train.make_fit(
        credax.backprop(LOSS),
        init,
        optax.adam(3e-2),
        train=(x, y),
        test=(x, y),
        epochs=60,
        batch_size=16,
        eval_every=60,
        loss=LOSS,
    )
    loss = np.asarray(credax.train.sweep(fit, 0, 3).history.test_loss)
    assert np.all(loss[:, -1] < 0.65 * loss[:, 0]), loss


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: sp.Dynamics(tau_mem=0.0), ValueError, "tau_mem > 0"),
        (lambda: sp.Dynamics(tau_mem=-5.0), ValueError, "tau_mem > 0"),
        (lambda: sp.Dynamics(tau_syn=0.0), ValueError, "tau_syn"),
        (lambda: sp.Dynamics(dt=2.0, tau_syn=1.0), ValueError, "dt .* smaller than tau_syn"),
        (lambda: sp.Dynamics(dt=10.0, tau_mem=10.0), ValueError, "smaller than tau_mem"),
        (lambda: sp.Dynamics(reset="soft"), ValueError, "reset 'zero' or 'subtract'"),
        (lambda: sp.Dynamics(refractory=-1.0), ValueError, "refractory >= 0"),
        (lambda: sp.Dynamics(surrogate="fast"), TypeError, "surrogate to be a callable"),
        (lambda: sp.LIF(0, 3, 2, key=0), ValueError, "steps"),
        (lambda: sp.LIF(5, 3, 2, key=0, tau_mem=1.0, dynamics=sp.Dynamics()), TypeError, "either"),
        (lambda: sp.LIF(5, 3, 2, key=0)(jnp.ones((4, 3))), ValueError, r"shape \(5, 3\)"),
        (lambda: sp.poisson(0, jnp.array([2000.0]), 5), ValueError, "at most 1/dt = 1000 Hz"),
        (lambda: sp.poisson(0, jnp.array([-1.0]), 5), ValueError, "rates >= 0"),
        (lambda: sp.regular(jnp.array([10.0]), 5, dt=0.0), ValueError, "dt > 0"),
        (lambda: sp.latency(jnp.array([1.5]), 5), ValueError, r"in \[0, 1\]"),
        (lambda: sp.check_spikes(jnp.array([0.0, 0.5])), ValueError, "0/1 values"),
        (lambda: sp.exponential_trace(jnp.ones((3, 2)), 0.0), ValueError, "tau > 0"),
        (lambda: sp.Encode("rate", 5), ValueError, "'current', 'latency' or 'poisson'"),
        (lambda: sp.Encode("poisson", 5, max_rate=5000.0), ValueError, "1/dt"),
        (lambda: sp.Encode("poisson", 5, lo=1.0, hi=1.0), ValueError, "lo < hi"),
        (lambda: sp.TimeReduce("median"), ValueError, "'max', 'mean', 'sum' or 'last'"),
        (lambda: sp.network([5], 4, key=0), ValueError, "at least 2"),
        (lambda: sp.fast_sigmoid(0.0), ValueError, "beta > 0"),
    ],
)
def test_bad_spiking_inputs_are_one_line_errors(make, error, match):
    with pytest.raises(error, match=match) as info:
        make()
    assert "\n" not in str(info.value)


def test_bptt_names_backprop_and_the_spiking_family_is_registered():
    assert credax.registry.lookup("bptt").name == "bp"
    assert "spiking" in credax.registry.FAMILIES
    assert "spiking_only" in credax.registry.TRAITS
