"""NIR export and import of credax spiking networks (``credax.spiking.to_nir`` / ``from_nir``):
round trips that simulate identically, the parameter mapping, agreement with the exact solution of
NIR's ODEs for an impulse, and refusals."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import nir
import numpy as np
import pytest

import credax

spiking = credax.spiking
STEPS, N_IN = 40, 6


def _spikes(key, batch=3, steps=STEPS, n=N_IN, p=0.3):
    return jax.random.bernoulli(key, p, (batch, steps, n)).astype(jnp.float32)


def _net(tau_syn, *, bias: bool, key=0):
    """A 6-8-5-3 network (LIF, LIF, LI) that fires in both hidden layers, with random biases."""
    dyn = spiking.Dynamics(dt=0.5, tau_mem=8.0, tau_syn=tau_syn, threshold=0.8)
    keys = jax.random.split(jax.random.key(key), 6)
    sizes = [N_IN, 8, 5, 3]
    layers = []
    for i in range(3):
        cls = spiking.LIF if i < 2 else spiking.LI
        scale = 40.0 if tau_syn is None else 6.0  # a current-based step passes (1 - β) of a_n
        layer = cls(
            STEPS,
            sizes[i],
            sizes[i + 1],
            key=keys[i],
            use_bias=bias,
            weight_scale=scale,
            dynamics=dyn,
        )
        if bias:
            b = jax.random.uniform(keys[3 + i], (sizes[i + 1],), minval=-0.2, maxval=0.4)
            layer = eqx.tree_at(lambda q: q.bias, layer, b)
        layers.append(layer)
    return credax.nets.Sequential(layers)


def _assert_same(a, b, x):
    ta, tb = credax.nets.trace(a, x), credax.nets.trace(b, x)
    for la, lb in zip(credax.nets.find_layers(a), credax.nets.find_layers(b)):
        assert type(la) is type(lb)
        assert la.dynamics == lb.dynamics
        np.testing.assert_array_equal(np.asarray(la.weight), np.asarray(lb.weight))
        if la.bias is None:
            assert lb.bias is None
        else:
            np.testing.assert_array_equal(np.asarray(la.bias), np.asarray(lb.bias))
    for ia, ib in zip(ta.internals, tb.internals):
        np.testing.assert_array_equal(np.asarray(ia["membrane"]), np.asarray(ib["membrane"]))
    for oa, ob in zip(ta.outputs, tb.outputs):
        np.testing.assert_array_equal(np.asarray(oa), np.asarray(ob))
    return ta


@pytest.mark.parametrize("tau_syn", [None, 3.0])
@pytest.mark.parametrize("bias", [False, True])
def test_round_trip_simulates_identically(tau_syn, bias):
    net = _net(tau_syn, bias=bias)
    graph = spiking.to_nir(net)
    back = spiking.from_nir(graph, steps=STEPS)
    t = _assert_same(net, back, _spikes(jax.random.key(1)))
    for h in t.outputs[:2]:  # both LIF layers fire, neither saturates
        rate = float(jnp.mean(h))
        assert 0.02 < rate < 0.9


def test_file_round_trip_restores_encoder_and_readout(tmp_path):
    net = spiking.network(
        [N_IN, 7, 3],
        STEPS,
        key=2,
        encode=spiking.Encode("poisson", STEPS, max_rate=400.0, dt=0.5, seed=3),
        readout="mean",
        dt=0.5,
        tau_syn=None,
        weight_scale=5.0,
        surrogate=spiking.fast_sigmoid(4.0),
        detach_reset=False,
    )
    path = tmp_path / "net.nir"
    nir.write(path, spiking.to_nir(net))
    back = spiking.from_nir(str(path), steps=STEPS)
    assert [type(m) for m in back.layers] == [type(m) for m in net.layers]
    assert back.layers[0] == net.layers[0] and back.layers[-1] == net.layers[-1]
    assert back.layers[1].dynamics == net.layers[1].dynamics  # surrogate and detach_reset too
    x = jax.random.uniform(jax.random.key(4), (5, N_IN))
    np.testing.assert_array_equal(np.asarray(jax.vmap(back)(x)), np.asarray(jax.vmap(net)(x)))


def test_export_parameters():
    net = _net(None, bias=True)
    g = spiking.to_nir(net)
    lif, aff = g.nodes["lif_0"], g.nodes["affine_0"]
    layer = net.layers[0]
    r = 8.0 * (1 - math.exp(-0.5 / 8.0)) / 0.5
    np.testing.assert_allclose(lif.r, r, rtol=1e-12)
    np.testing.assert_array_equal(lif.tau, 8.0)
    np.testing.assert_array_equal(lif.v_threshold, 0.8)
    np.testing.assert_array_equal(lif.v_leak, 0.0)
    np.testing.assert_array_equal(lif.v_reset, 0.0)
    np.testing.assert_array_equal(aff.weight, np.asarray(layer.weight))
    np.testing.assert_allclose(aff.bias, np.asarray(layer.bias, np.float64) / r, rtol=1e-12)
    assert type(g.nodes["li_2"]).__name__ == "LI"
    cuba = spiking.to_nir(_net(3.0, bias=False)).nodes["cubalif_1"]
    np.testing.assert_array_equal(cuba.r, 1.0)
    np.testing.assert_allclose(cuba.w_in, 3.0 / 0.5, rtol=1e-12)
    np.testing.assert_array_equal(cuba.tau_syn, 3.0)


def _one_neuron_graph(kind, n=3):
    """Input(1) -> Linear(w) -> a node of n neurons with per-neuron r (and w_in), no threshold
    crossing for one input spike."""
    w = np.array([[0.5], [-0.3], [0.8]])[:n]
    r = np.array([1.0, 2.5, 0.7])[:n]
    if kind == "LI":
        node = nir.LI(tau=np.full(n, 6.0), r=r, v_leak=np.zeros(n))
    else:
        node = nir.CubaLI(
            tau_syn=np.full(n, 2.0),
            tau_mem=np.full(n, 6.0),
            r=r,
            v_leak=np.zeros(n),
            w_in=np.array([1.0, 3.0, 0.5])[:n],
        )
    return nir.NIRGraph.from_list(nir.Linear(weight=w), node), w[:, 0], r


@pytest.mark.parametrize("kind", ["LI", "CubaLI"])
def test_import_follows_nir_ode_exactly(kind):
    """One input spike at step k is the impulse dt·δ(t - t_k): the imported layer's membrane is
    the exact solution of NIR's ODE at every step."""
    dt, k, steps = 0.25, 3, 30
    g, w, r = _one_neuron_graph(kind)
    net = spiking.from_nir(g, steps=steps, dt=dt)
    x = jnp.zeros((1, steps, 1)).at[0, k, 0].set(1.0)
    u = np.asarray(credax.nets.trace(net, x).internals[0]["membrane"][0], np.float64)
    s = (np.arange(steps) - k)[:, None] * dt  # time since the impulse
    if kind == "LI":
        jump = r * w * dt / 6.0
        exact = np.where(s >= 0, jump * np.exp(-s / 6.0), 0.0)
    else:
        w_in = np.array([1.0, 3.0, 0.5])
        i0 = w_in * w * dt / 2.0  # the jump of NIR's I
        shape = 2.0 / (2.0 - 6.0) * (np.exp(-s / 2.0) - np.exp(-s / 6.0))
        exact = np.where(s >= 0, r * i0 * shape, 0.0)
    assert np.abs(exact).max() > 0.01
    np.testing.assert_allclose(u, exact, rtol=1e-5, atol=1e-7)


def test_snntorch_convention_gives_unit_jumps():
    """A node written as snnTorch writes it (τ = dt/(1-β), R = τ/dt) imported at its dt: one
    spike raises the membrane by the weight, which then decays by exp(-dt/τ) per step."""
    dt, beta = 1e-4, 0.9
    tau = dt / (1 - beta)
    node = nir.LIF(
        tau=np.array([tau], np.float32),
        r=np.array([tau / dt], np.float32),
        v_leak=np.zeros(1, np.float32),
        v_threshold=np.ones(1, np.float32),
    )
    w = np.array([[0.4, 0.7]], np.float32)
    g = nir.NIRGraph.from_list(nir.Linear(weight=w), node)
    with pytest.raises(ValueError, match="expected dt"):
        spiking.from_nir(g, steps=5)  # no credax metadata: the step must be given
    net = spiking.from_nir(g, steps=5, dt=dt)
    x = jnp.zeros((1, 5, 2)).at[0, 1, 1].set(1.0)
    u = np.asarray(credax.nets.trace(net, x).internals[0]["membrane"][0, :, 0])
    decay = math.exp(-dt / float(node.tau[0]))
    np.testing.assert_allclose(u[1:], 0.7 * decay ** np.arange(4), rtol=1e-5)
    assert u[0] == 0.0


def _graph_with(*extra):
    return nir.NIRGraph.from_list(nir.Linear(weight=np.ones((2, 3))), *extra)


def _message(excinfo) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg
    return msg


def test_refuses_unsupported_nodes_before_building():
    g = _graph_with(nir.IF(r=np.ones(2), v_threshold=np.ones(2)), nir.Flatten(input_type=None))
    with pytest.raises(ValueError) as e:
        spiking.from_nir(g, steps=4, dt=1.0)
    msg = _message(e)
    assert "does not support NIR nodes Flatten, IF" in msg
    assert "Linear" in msg.split("the graph has")[1] and "CubaLIF" in msg.split("supported:")[1]


@pytest.mark.parametrize(
    "graph, match",
    [
        (
            _graph_with(nir.LIF(np.ones(2) * 5, np.ones(2), np.ones(2), np.ones(2))),
            "v_leak != 0",
        ),
        (
            _graph_with(nir.LI(np.array([5.0, 6.0]), np.ones(2), np.zeros(2))),
            "per-neuron tau",
        ),
        (_graph_with(nir.LI(np.full(2, 0.5), np.ones(2), np.zeros(2))), "larger than dt"),
        (
            _graph_with(nir.LIF(np.ones(2) * 5, np.ones(2), np.zeros(2), -np.ones(2))),
            "v_threshold",
        ),
        (nir.NIRGraph.from_list(nir.Linear(weight=np.ones((2, 3)))), "alternate"),
    ],
)
def test_refuses_graphs_it_cannot_simulate(graph, match):
    with pytest.raises(ValueError, match=match) as e:
        spiking.from_nir(graph, steps=4, dt=1.0)
    _message(e)


def test_refuses_a_graph_that_is_not_a_chain():
    li = lambda: nir.LI(np.full(2, 5.0), np.ones(2), np.zeros(2))  # noqa: E731
    nodes = {
        "input": nir.Input(input_type={"input": np.array([3])}),
        "a": nir.Linear(weight=np.ones((2, 3))),
        "b": nir.Linear(weight=np.ones((2, 3))),
        "la": li(),
        "lb": li(),
        "output": nir.Output(output_type={"output": np.array([2])}),
    }
    edges = [("input", "a"), ("input", "b"), ("a", "la"), ("b", "lb"), ("la", "output")]
    g = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    with pytest.raises(ValueError, match="feedforward chain") as e:
        spiking.from_nir(g, steps=4, dt=1.0)
    _message(e)


@pytest.mark.parametrize(
    "settings, match",
    [
        ({"refractory": 2.0}, "refractory"),
        ({"reset": "subtract"}, "subtraction"),
    ],
)
def test_export_refuses_what_nir_cannot_express(settings, match):
    net = spiking.network([3, 4, 2], 5, key=0, **settings)
    with pytest.raises(ValueError, match=match) as e:
        spiking.to_nir(net)
    _message(e)


def test_export_refuses_other_models_and_steps():
    net = spiking.network([3, 4, 2], 5, key=0, dt=0.5)
    with pytest.raises(ValueError, match="layers' step"):
        spiking.to_nir(net, dt=1.0)
    assert type(spiking.to_nir(net, dt=0.5)).__name__ == "NIRGraph"
    with pytest.raises(TypeError, match="Sequential"):
        spiking.to_nir(net.layers[0])
    mixed = credax.nets.Sequential([net.layers[0], credax.nets.Dense(4, 2, key=0)])
    with pytest.raises(ValueError, match="Dense"):
        spiking.to_nir(mixed)
