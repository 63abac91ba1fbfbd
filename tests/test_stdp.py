"""Spike-timing-dependent plasticity: pair-based STDP against its window F(Δt) on hand-made
spike pairs (its core on given trains and the rule end to end), its bounds, and the
Graupner-Brunel calcium synapse against its closed forms and the paper's qualitative results."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import credax
from credax import graupner_brunel, stdp
from credax import spiking as sp
from credax._src.spiking._stdp import _pair_sums
from credax.spiking import graupner_brunel_synapse

A_PLUS, A_MINUS, TAU_PLUS, TAU_MINUS = 0.8, 0.3, 15.0, 30.0


def window(dt_ms: float) -> float:
    """F(Δt) with Δt = t_post - t_pre; a pair within one step counts half each way."""
    if dt_ms > 0:
        return A_PLUS * math.exp(-dt_ms / TAU_PLUS)
    if dt_ms < 0:
        return -A_MINUS * math.exp(dt_ms / TAU_MINUS)
    return (A_PLUS - A_MINUS) / 2


def trains(t_pre, t_post, steps=120, n_pre=1):
    pre = np.zeros((1, steps, n_pre), np.float32)
    post = np.zeros((1, steps, 1), np.float32)
    for t in np.atleast_1d(t_pre):
        pre[0, t, 0] = 1.0
    for t in np.atleast_1d(t_post):
        post[0, t, 0] = 1.0
    return jnp.asarray(pre), jnp.asarray(post)


def change(pre, post, nearest, dt=1.0):
    p, d = _pair_sums(pre, post, dt=dt, tau_plus=TAU_PLUS, tau_minus=TAU_MINUS, nearest=nearest)
    return np.asarray(A_PLUS * p - A_MINUS * d)


# --- STDP: the core on given trains ---------------------------------------------------------------


@pytest.mark.parametrize("nearest", [False, True])
@pytest.mark.parametrize("delta", [-40, -7, -1, 0, 1, 5, 23])
def test_one_pair_gives_the_window(delta, nearest):
    """Pre at t0, post at t0 + Δt: A₊ e^{-Δt/τ₊} for Δt > 0, -A₋ e^{Δt/τ₋} for Δt < 0, and
    (A₊ - A₋)/2 for a pair in one step; at dt = 0.5 ms the same pair is 2Δt steps apart."""
    pre, post = trains(50, 50 + delta)
    assert change(pre, post, nearest)[0, 0] == pytest.approx(window(delta), rel=1e-5, abs=1e-7)
    pre, post = trains(100, 100 + 2 * delta, steps=200)
    assert change(pre, post, nearest, dt=0.5)[0, 0] == pytest.approx(
        window(delta), rel=1e-5, abs=1e-7
    )


def test_all_to_all_sums_every_pair_and_nearest_only_the_nearest():
    # Two presynaptic spikes before one postsynaptic spike, then one after it.
    pre, post = trains([10, 30, 70], 40)
    all_pairs = window(30) + window(10) + window(-30)
    assert change(pre, post, False)[0, 0] == pytest.approx(all_pairs, rel=1e-5)
    # Nearest: the post spike pairs with the pre spike at 30 only, the pre spike at 70 with the
    # post spike at 40, the pre spike at 10 with no post spike before it.
    assert change(pre, post, True)[0, 0] == pytest.approx(window(10) + window(-30), rel=1e-5)
    # Several trains (a batch) are summed; each train's pairs stay within it.
    both = jnp.concatenate([pre, pre]), jnp.concatenate([post, post])
    assert change(*both, False)[0, 0] == pytest.approx(2 * all_pairs, rel=1e-5)


def test_the_window_integral_is_the_continuous_ones():
    """Summed over every lag, the discrete window integrates F by the trapezoidal rule: its sum
    times dt matches A₊τ₊ - A₋τ₋ to O((dt/τ)²) (what Song et al.'s competition depends on)."""
    lags = np.arange(-400, 401)
    total = sum(window(float(k)) for k in lags)
    assert total == pytest.approx(A_PLUS * TAU_PLUS - A_MINUS * TAU_MINUS, rel=2e-3)


# --- STDP: the rule end to end --------------------------------------------------------------------


def driven(steps, w_test=0.01, dt=1.0, readout=False):
    """A LIF layer with a test input (weight w_test, too weak to drive the neuron) and a teacher
    input of weight 50 that makes the neuron fire in the step it fires (current-based input);
    optionally followed by an LI readout."""
    layer = sp.LIF(steps, 2, 1, key=0, tau_syn=None, dt=dt)
    layer = eqx.tree_at(lambda l: l.weight, layer, jnp.array([[w_test, 50.0]]))
    if not readout:
        return layer
    return credax.nets.Sequential([layer, sp.LI(steps, 1, 2, key=1)])


def pair_input(t_pre, t_teacher, steps):
    x = np.zeros((1, steps, 2), np.float32)
    x[0, t_pre, 0] = 1.0
    x[0, t_teacher, 1] = 1.0
    return jnp.asarray(x)


@pytest.mark.parametrize("nearest", [False, True])
def test_rule_on_a_driven_neuron_gives_the_window(nearest):
    steps = 100
    net = driven(steps, readout=True)
    rule = stdp(
        a_plus=A_PLUS,
        a_minus=A_MINUS,
        tau_plus=TAU_PLUS,
        tau_minus=TAU_MINUS,
        nearest=nearest,
        bounds=None,
    )
    state = rule.init(0, net)
    update = jax.jit(rule.update)
    spikes = jax.jit(lambda x: credax.nets.trace(net, x).outputs[0])
    for delta in (-12, -2, 3, 9):
        x = pair_input(50, 50 + delta, steps)
        assert np.flatnonzero(np.asarray(spikes(x)[0, :, 0])).tolist() == [50 + delta]
        g, state = update(net, state, x)
        assert -float(g.layers[0].weight[0, 0]) == pytest.approx(window(delta), rel=1e-5)
        # The readout and the biases are not plastic.
        assert float(jnp.abs(g.layers[1].weight).max()) == 0.0
        assert g.layers[0].bias is None


def test_additive_bounds_keep_the_weights_in_range():
    steps, n_in = 60, 20
    start = layer = sp.LIF(steps, n_in, 3, key=0, tau_syn=None, weight_scale=3.0)
    x = sp.poisson(1, jnp.full((n_in,), 200.0), steps)[None].repeat(4, 0)
    free = stdp(a_plus=0.3, a_minus=0.3, bounds=None)
    g_free, _ = jax.jit(free.update)(layer, free.init(0, layer), x)
    w, dw = layer.weight, -g_free.weight
    # Some weights start outside [0, 0.5] or would leave it: the clip has work to do.
    assert bool(jnp.any((w + dw > 0.5) | (w + dw < 0.0)))
    rule = stdp(a_plus=0.3, a_minus=0.3, w_min=0.0, w_max=0.5)
    update = jax.jit(rule.update)
    opt = optax.sgd(1.0)
    state, opt_state = rule.init(0, layer), opt.init(layer)
    for _ in range(3):
        g, state = update(layer, state, x)
        u, opt_state = opt.update(g, opt_state, layer)
        layer = optax.apply_updates(layer, u)
        assert float(layer.weight.min()) >= 0.0 and float(layer.weight.max()) <= 0.5
    # Where no bound is reached the change is the free one.
    inside = (w + dw >= 0.0) & (w + dw <= 0.5) & (w >= 0.0) & (w <= 0.5)
    assert bool(jnp.any(inside))
    g, _ = update(start, state, x)
    np.testing.assert_allclose(g.weight[inside], g_free.weight[inside], rtol=1e-6)


@pytest.mark.parametrize("delta", [-6, 8])
def test_multiplicative_bounds_scale_with_the_room_left(delta):
    """Soft bounds: potentiation times (w_max - w), depression times (w - w_min)."""
    steps = 80
    x = pair_input(30, 30 + delta, steps)
    kw = dict(a_plus=0.01, a_minus=0.02, tau_plus=TAU_PLUS, tau_minus=TAU_MINUS)
    plain = stdp(**kw, bounds=None)
    soft = stdp(**kw, bounds="multiplicative", w_min=-0.1, w_max=0.5)
    for w in (0.05, 0.3):
        net = driven(steps, w_test=w)
        g_plain, _ = plain.update(net, plain.init(0, net), x)
        g_soft, _ = jax.jit(soft.update)(net, soft.init(0, net), x)
        scale = (0.5 - w) if delta > 0 else (w + 0.1)
        assert float(g_soft.weight[0, 0]) == pytest.approx(
            scale * float(g_plain.weight[0, 0]), rel=1e-5
        )


def test_stdp_jit_equals_eager_and_vmap_over_seeds_equals_a_loop():
    steps, n_in = 50, 6
    rule = stdp(bounds="multiplicative", nearest=True)
    x = sp.poisson(3, jnp.full((n_in,), 150.0), steps)[None].repeat(2, 0)
    nets = [sp.LIF(steps, n_in, 4, key=s, tau_syn=None, weight_scale=4.0) for s in range(2)]
    jitted = jax.jit(lambda n: rule.update(n, rule.init(0, n), x)[0].weight)
    eager = rule.update(nets[0], rule.init(0, nets[0]), x)[0].weight
    np.testing.assert_allclose(jitted(nets[0]), eager, rtol=1e-6, atol=1e-7)
    assert float(jnp.abs(eager).max()) > 0
    stacked = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *nets)
    batched = jax.vmap(lambda n: rule.update(n, rule.init(0, n), x)[0].weight)(stacked)
    for k, net in enumerate(nets):
        np.testing.assert_allclose(batched[k], jitted(net), rtol=1e-6, atol=1e-7)


def test_stdp_diagnostics_report_rates_and_weights():
    steps = 100
    net = driven(steps, readout=True)
    x = pair_input(20, 40, steps)
    rule = stdp()
    d = rule.diagnostics(net, rule.init(0, net), x)
    # One pre and one teacher spike over 2 inputs x 100 steps of 1 ms: 10 Hz; one output spike.
    np.testing.assert_allclose(d["pre_rate"], [10.0], rtol=1e-6)
    np.testing.assert_allclose(d["post_rate"], [10.0], rtol=1e-6)
    np.testing.assert_allclose(d["mean_weight"], [(0.01 + 50.0) / 2], rtol=1e-6)


# --- Graupner-Brunel ------------------------------------------------------------------------------


def test_calcium_is_its_closed_form_and_the_time_above_threshold_is_exact():
    """One presynaptic spike at 10 ms: c(t) = C_pre e^{-(t - 10 - D)/τ_Ca} after t = 10 + D and 0
    before; one postsynaptic spike at 50 ms: above θ for τ_Ca ln(C_post/θ) ms."""
    dt, delay, tau_ca = 0.5, 5.0, 20.0
    run = graupner_brunel_synapse(
        [10.0], [], duration=100.0, dt=dt, delay=delay, tau_ca=tau_ca, c_pre=1.0, noise=False
    )
    t = dt * np.arange(200)
    expected = np.where(t >= 15.0, np.exp(-(t - 15.0) / tau_ca), 0.0)
    np.testing.assert_allclose(run.calcium, expected, rtol=1e-5, atol=1e-7)
    post = graupner_brunel_synapse(
        [], [50.0], duration=200.0, dt=dt, c_post=2.0, theta_d=1.0, theta_p=1.3, noise=False
    )
    assert float(post.time_above_d) == pytest.approx(tau_ca * math.log(2.0), rel=1e-5)
    assert float(post.time_above_p) == pytest.approx(tau_ca * math.log(2.0 / 1.3), rel=1e-5)


def test_without_spikes_rho_relaxes_to_the_nearest_stable_state():
    """No calcium: τ dρ/dt = -ρ(1 - ρ)(ρ* - ρ), DOWN below ρ*, UP above (τ shortened to 50 ms)."""
    run = graupner_brunel_synapse(
        [], [], duration=3000.0, dt=1.0, rho0=[0.1, 0.45, 0.55, 0.9], tau=50.0, noise=False
    )
    np.testing.assert_allclose(run.rho, [0.0, 0.0, 1.0, 1.0], atol=1e-3)
    # ρ* itself is an equilibrium, unstable.
    still = graupner_brunel_synapse(
        [], [], duration=3000.0, dt=1.0, rho0=0.5, tau=50.0, noise=False
    )
    assert float(still.rho) == pytest.approx(0.5, abs=1e-6)


def pairing(deltas, rho0, noise=False, key=None):
    """60 pairs at 1 Hz at each lag Δt = t_post - t_pre, the DP parameters, dt = 1 ms."""
    pre = 200.0 + 1000.0 * jnp.arange(60)

    @jax.jit
    def one(delta):
        return graupner_brunel_synapse(
            pre, pre + delta, duration=60000.0, dt=1.0, rho0=rho0, key=key, noise=noise
        ).rho

    return np.stack([np.asarray(one(jnp.float32(d))) for d in deltas])


def test_pairing_potentiates_pre_post_and_depresses_post_pre_without_noise():
    """The DP set (paper 000 fig. 3; Graupner & Brunel 2012 fig. 2): pre 10 ms before post
    holds the calcium above θ_p long enough to potentiate; post 20-50 ms before pre mostly
    between θ_d and θ_p, so it depresses; far apart (100 ms) the two balance (ρ̄ ≈ ρ*)."""
    deltas = [10.0, -20.0, -30.0, -40.0, -50.0, 100.0]
    rho = pairing(deltas, jnp.asarray([0.0, 0.5, 1.0]))
    start_down, middle, start_up = rho[:, 0], rho[:, 1], rho[:, 2]
    assert start_down[0] > 0.5 and start_up[0] > 0.5  # DOWN -> UP, UP stays
    assert middle[0] > 0.54
    assert np.all(middle[1:5] < 0.49)  # every post-pre lag depresses
    assert np.all(start_up[1:3] < 0.5)  # UP -> DOWN at -20 and -30 ms
    assert np.all(start_down[1:5] < 0.5)  # DOWN stays DOWN
    assert abs(middle[5] - 0.5) < 0.01


def test_with_noise_transitions_follow_the_window():
    """With the noise (DP set, 200 synapses starting DOWN and 200 UP): at +10 ms a DOWN synapse
    goes UP more often than an UP one goes DOWN, at -20 ms the reverse (Graupner & Brunel's
    simulations: 0.65 vs 0.31 and 0.22 vs 0.58)."""
    rho0 = jnp.concatenate([jnp.zeros(200), jnp.ones(200)])
    rho = pairing([10.0, -20.0], rho0, noise=True, key=jax.random.key(3))
    up = (rho[:, :200] > 0.5).mean(1)
    down = (rho[:, 200:] < 0.5).mean(1)
    assert up[0] > down[0] + 0.15
    assert down[1] > up[1] + 0.15


def test_rule_integrates_the_synapse_and_sets_the_weights():
    """The rule on a driven LIF layer equals the synapse simulation of the same spikes, with the
    examples of a batch (and successive batches) as consecutive time; sgd(1.0) then puts the
    weights at w0 + ρ (w1 - w0)."""
    steps, delay = 200, 4.0
    layer = driven(steps, w_test=0.6)
    x = jnp.concatenate([pair_input(10, 17, steps), pair_input(60, 52, steps)])
    opts = dict(tau=200.0, delay=delay, noise=False)
    rule = graupner_brunel(**opts)
    state = rule.init(0, layer)
    np.testing.assert_allclose(state.rho[0], [[0.5, 1.0]], rtol=1e-6)  # from W, clipped
    g, state = rule.update(layer, state, x[:1])
    g, state = rule.update(layer, state, x[1:])
    run = graupner_brunel_synapse(
        [10.0, 260.0], [17.0, 252.0], duration=400.0, dt=1.0, rho0=0.5, **opts
    )
    assert float(state.rho[0][0, 0]) == pytest.approx(float(run.rho), rel=1e-5)
    assert float(run.rho) != pytest.approx(0.5, abs=1e-3)
    new = optax.apply_updates(layer, optax.sgd(1.0).update(g, optax.sgd(1.0).init(layer))[0])
    np.testing.assert_allclose(new.weight, 0.2 + 0.8 * state.rho[0], rtol=1e-5)
    # One batch of both examples is the same as the two batches.
    g2, state2 = rule.update(layer, rule.init(0, layer), x)
    np.testing.assert_allclose(state2.rho[0], state.rho[0], rtol=1e-6)
    d = rule.diagnostics(layer, state, x)
    assert set(d) == {"pre_rate", "post_rate", "mean_rho", "fraction_up"}
    assert float(d["fraction_up"][0]) == pytest.approx(float(jnp.mean(state.rho[0] > 0.5)))


def test_graupner_brunel_jit_equals_eager_and_vmap_over_seeds_equals_a_loop():
    steps, n_in = 80, 5
    layer = sp.LIF(steps, n_in, 3, key=0, tau_syn=None, weight_scale=6.0)
    x = sp.poisson(1, jnp.full((n_in,), 200.0), steps)[None]
    rule = graupner_brunel(tau=500.0, tau_ca=10.0, delay=2.0)
    states = [rule.init(s, layer) for s in range(2)]
    step = jax.jit(rule.update)
    g, new = rule.update(layer, states[0], x)
    g_jit, new_jit = step(layer, states[0], x)
    np.testing.assert_allclose(g_jit.weight, g.weight, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new_jit.rho[0], new.rho[0], rtol=1e-5, atol=1e-6)
    batched = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *states)
    g_v, new_v = jax.vmap(rule.update, in_axes=(None, 0, None))(layer, batched, x)
    looped = [step(layer, s, x) for s in states]
    for k, (g, new) in enumerate(looped):
        np.testing.assert_allclose(g_v.weight[k], g.weight, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(new_v.rho[0][k], new.rho[0], rtol=1e-5, atol=1e-6)
    # The seeds' noise differs, so do their efficacies.
    assert not np.allclose(looped[0][1].rho[0], looped[1][1].rho[0])


# --- bad inputs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, error, match",
    [
        ({"tau_plus": 0.0}, ValueError, "tau_plus > 0"),
        ({"tau_minus": -5.0}, ValueError, "tau_minus > 0"),
        ({"a_plus": -0.1}, ValueError, "a_plus >= 0"),
        ({"bounds": "soft"}, ValueError, "bounds 'additive', 'multiplicative' or None"),
        ({"w_min": 1.0, "w_max": 1.0}, ValueError, "w_min < w_max"),
        ({"w_max": float("inf")}, TypeError, "w_max to be a finite number"),
        ({"nearest": 1}, TypeError, "nearest to be True or False"),
    ],
)
def test_stdp_refuses_bad_options(options, error, match):
    with pytest.raises(error, match=match):
        stdp(**options)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"tau_ca": 0.0}, "tau_ca > 0"),
        ({"tau": -1.0}, "tau > 0"),
        ({"rho_star": 1.0}, "0 < rho_star < 1"),
        ({"w0": 1.0, "w1": 0.5}, "w0 < w1"),
        ({"delay": -1.0}, "delay >= 0"),
    ],
)
def test_graupner_brunel_refuses_bad_options(options, match):
    with pytest.raises(ValueError, match=match):
        graupner_brunel(**options)


@pytest.mark.parametrize("make", [stdp, graupner_brunel])
def test_rules_refuse_models_without_lif_layers_and_coarse_steps(make):
    mlp = credax.nets.mlp([3, 2], activation=jnp.tanh, key=0)
    with pytest.raises(ValueError, match="at least one credax.spiking.LIF layer"):
        make().init(0, mlp)
    readout = sp.LI(10, 3, 2, key=0)
    with pytest.raises(ValueError, match="at least one credax.spiking.LIF layer"):
        make().update(readout, (), jnp.zeros((1, 10, 3)))
    coarse = sp.LIF(10, 3, 2, key=0, dt=4.0, tau_mem=20.0, tau_syn=None)
    slow = {"tau_plus": 3.0} if make is stdp else {"tau_ca": 4.0}
    with pytest.raises(
        ValueError, match=r"dt of LIF layer 0 \(4.0 ms\) smaller than|dt \(4.0 ms\)"
    ):
        make(**slow).init(0, coarse)


@pytest.mark.parametrize("make", [stdp, graupner_brunel])
def test_rules_refuse_inputs_that_are_not_spikes(make):
    layer = sp.LIF(10, 3, 2, key=0, tau_syn=None)
    rule = make()
    with pytest.raises(ValueError, match="input spikes of LIF layer 0 to hold 0/1 values"):
        rule.update(layer, rule.init(0, layer), jnp.full((2, 10, 3), 0.5))


def test_synapse_simulation_refuses_bad_protocols():
    with pytest.raises(TypeError, match="expected a key"):
        graupner_brunel_synapse([1.0], [2.0], duration=10.0)
    with pytest.raises(ValueError, match=r"pre_times in \[0, duration\)"):
        graupner_brunel_synapse([12.0], [2.0], duration=10.0, noise=False)
    with pytest.raises(ValueError, match=r"dt \(30.0 ms\) smaller than tau_ca"):
        graupner_brunel_synapse([1.0], [2.0], duration=100.0, dt=30.0, noise=False)
    with pytest.raises(ValueError, match="duration to be a number of ms > 0"):
        graupner_brunel_synapse([1.0], [2.0], duration=0.0, noise=False)
