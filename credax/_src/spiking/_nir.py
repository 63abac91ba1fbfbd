"""Export and import of credax spiking networks as NIR graphs.

NIR, the Neuromorphic Intermediate Representation (Pedersen et al. 2024), describes a spiking
network as a graph of continuous-time primitives: ``Affine`` (``y = W x + b``) and ``Linear``
(``y = W x``) maps, and neurons defined by ODEs with the time constants in ms,

- ``LIF``: ``τ dv/dt = (v_leak - v) + R I``, a spike when ``v > v_threshold``, then
  ``v ← v_reset``; ``LI``: the same without threshold;
- ``CubaLIF``: ``τ_syn dI/dt = -I + w_in S``, ``τ_mem dv/dt = (v_leak - v) + R I``, threshold
  and reset as ``LIF``; ``CubaLI``: the same without threshold.

A credax network (``credax.spiking.network``: ``[Encode,] LIF, ..., LIF, LI[, TimeReduce]``)
steps these ODEs exactly at ``t_n = n·dt`` (:class:`credax.spiking.Dynamics`). What a value on
an edge means between the steps is what the two must agree on; credax reads a value ``x_n`` at
step ``n`` (a spike ``S_n = 1``, or a real input) as the impulse ``x_n·dt·δ(t - t_n)``: the charge
of ``x_n`` held over the step, delivered at its end. It is the reading under which the graphs
snnTorch exports mean the networks snnTorch simulates (its ``R = τ/dt`` and ``w_in = τ_syn/dt``
make one spike add ``W``, as its own step does), up to its Euler discretisation. Under it each
credax layer is its NIR pair with these parameters (``β = exp(-dt/τ_mem)``; ``W`` is written
unchanged):

- current-based input (``tau_syn=None``; credax ``U_n = β U_{n-1} + (1 - β) a_n``): ``LIF`` /
  ``LI`` with ``τ = τ_mem``, ``R = τ_mem (1 - β)/dt`` (so an impulse raises ``v`` by
  ``R x_n dt/τ = (1 - β) x_n``; ``R → 1`` as ``dt → 0``), ``v_leak = v_reset = 0``,
  ``v_threshold = ϑ``; a bias ``b`` is NIR's constant ``b/R`` (a constant current ``c`` adds
  ``(1 - β) R c`` per step). Exact at every step; with no bias the membrane only jumps at the
  steps and decays between them, so the ODE fires at exactly credax's spike times;
- exponential synapses (credax ``I_n = α I_{n-1} + a_n``, ``U_n = β U_{n-1} + κ I_{n-1}``, the
  exact propagator): ``CubaLIF`` / ``CubaLI`` with the same ``τ_syn``, ``τ_mem``, ``R = 1`` and
  ``w_in = τ_syn/dt`` (an impulse then jumps ``I`` by ``w_in x_n dt/τ_syn = x_n``). Exact at
  every step. A bias ``b`` (a charge added at every step in credax) is NIR's constant ``b``, the
  same mean current: with synapses and a non-zero bias the two agree on average, not step by
  step (an Affine's bias is a constant in NIR, and no constant gives a train of jumps).

Import inverts this for any parameters: with ``dt`` the step credax simulates at, a neuron node
becomes a credax layer with the node's ``τ``'s and threshold and the weights ``W`` of its Affine
scaled row by row, ``W_c = (R dt / (τ (1 - β))) W`` for ``LIF``/``LI`` (bias ``R b``) and
``W_c = (R w_in dt/τ_syn) W`` for ``CubaLIF``/``CubaLI`` (bias likewise): per-neuron ``R`` and
``w_in`` are thus allowed, while ``τ``'s and thresholds must be shared by a node's neurons (one
``Dynamics`` per layer) and ``v_leak``, ``v_reset`` must be 0 (credax's potentials are relative
to rest, and it resets to rest). A graph exported by credax comes back with the same weights,
to the last bit, and simulates identically.

Deviations: NIR fires when ``v > v_threshold``, credax when ``U ≥ ϑ`` (they differ only when a
membrane lands exactly on the threshold). NIR has no refractory period and resets to a value, so
layers with ``refractory > 0`` or ``reset="subtract"`` are refused. ``Encode`` and
``TimeReduce`` (no NIR counterparts), the step ``dt``, ``steps``, ``detach_reset`` and a
``fast_sigmoid`` surrogate travel in the graph's and nodes' ``metadata`` under ``credax`` keys:
NIR asks backends not to rely on metadata, and a graph without them imports as its spiking core
(LIF/LI layers) at the ``dt`` the caller gives.

References:
    Pedersen, J. E., Abreu, S., Jobst, M., et al. (2024). Neuromorphic intermediate
    representation: a unified instruction set for interoperable brain-inspired computing.
    Nature Communications 15, 8122.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from credax._src.checks import check_count, check_positive
from credax._src.nets._containers import Sequential
from credax._src.spiking._encode import Encode
from credax._src.spiking._neurons import LI, LIF, Dynamics, FastSigmoid, TimeReduce, fast_sigmoid

SUPPORTED = ("Input", "Output", "Affine", "Linear", "LIF", "CubaLIF", "LI", "CubaLI")
_NEURONS = ("LIF", "CubaLIF", "LI", "CubaLI")
_FORMAT = 1  # version of the credax metadata


def _nir():
    try:
        import nir
    except ImportError:
        raise ImportError(
            "credax.spiking.to_nir and from_nir need the nir package (pip install 'nir>=1.0')"
        ) from None
    return nir


# --- the mapping, shared by export and import -----------------------------------------------------


def _gains(kind: str, p: dict[str, np.ndarray], dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Per neuron, the factors ``(g_W, g_b)`` that turn a NIR node's Affine weights and bias into
    a credax layer's at step ``dt`` (float64)."""
    if kind in ("LIF", "LI"):
        tau = p["tau"]
        g_w = p["r"] * dt / (tau * -np.expm1(-dt / tau))
        return g_w, p["r"].copy()
    g = p["r"] * p["w_in"] * dt / p["tau_syn"]
    return g, g.copy()


def _export_params(dyn: Dynamics, n: int) -> tuple[str, dict[str, np.ndarray]]:
    """The NIR node kind and parameters of ``n`` credax neurons with dynamics ``dyn``."""
    full = lambda v: np.full((n,), v, np.float64)  # noqa: E731
    if dyn.tau_syn is None:
        r = dyn.tau_mem * -math.expm1(-dyn.dt / dyn.tau_mem) / dyn.dt
        return "LIF", {"tau": full(dyn.tau_mem), "r": full(r), "v_leak": full(0.0)}
    return "CubaLIF", {
        "tau_syn": full(dyn.tau_syn),
        "tau_mem": full(dyn.tau_mem),
        "r": full(1.0),
        "v_leak": full(0.0),
        "w_in": full(dyn.tau_syn / dyn.dt),
    }


# --- export ---------------------------------------------------------------------------------------


def _split(model: Any) -> tuple[Encode | None, list, TimeReduce | None]:
    if not isinstance(model, Sequential):
        raise TypeError(
            "to_nir: expected a credax.nets.Sequential of [Encode,] LIF/LI layers [, TimeReduce] "
            f"(as credax.spiking.network builds), got {type(model).__name__}"
        )
    items = list(model.layers)
    encode = items.pop(0) if items and isinstance(items[0], Encode) else None
    reduce = items.pop() if items and isinstance(items[-1], TimeReduce) else None
    for i, item in enumerate(items):
        if not isinstance(item, (LIF, LI)):
            raise ValueError(
                f"to_nir: item {i + (encode is not None)} of the Sequential is a "
                f"{type(item).__name__}; NIR export takes [Encode,] LIF/LI layers [, TimeReduce]"
            )
    if not items:
        raise ValueError("to_nir: expected at least one LIF or LI layer, got none")
    return encode, items, reduce


def _check_exportable(i: int, layer: LIF | LI, dt: float, steps: int) -> None:
    d, name = layer.dynamics, f"to_nir: layer {i} ({type(layer).__name__})"
    if d.dt != dt:
        raise ValueError(f"{name} steps by dt = {d.dt} ms, layer 0 by {dt} ms; expected one dt")
    if layer.steps != steps:
        raise ValueError(f"{name} has {layer.steps} steps, layer 0 {steps}; expected one count")
    if d.refractory_steps:
        raise ValueError(
            f"{name} has a refractory period of {d.refractory} ms; NIR's LIF and CubaLIF have "
            "none (expected refractory=0)"
        )
    if d.reset != "zero":
        raise ValueError(
            f"{name} resets by subtraction; NIR's neurons reset to v_reset (expected reset='zero')"
        )


def to_nir(model: Any, *, dt: float | None = None):
    """A credax spiking network as a NIR graph (``nir.NIRGraph``).

    ``model`` is a ``credax.nets.Sequential`` of an optional :class:`Encode`, ``LIF`` and ``LI``
    layers and an optional :class:`TimeReduce`, as :func:`credax.spiking.network` builds. Each
    layer becomes a ``Linear`` (or ``Affine`` with a bias) node and a neuron node, chained from
    ``Input`` to ``Output``: ``LIF``/``LI`` for current-based layers with ``τ = τ_mem``,
    ``R = τ_mem (1 - exp(-dt/τ_mem))/dt``, bias ``b/R``; ``CubaLIF``/``CubaLI`` with synapses,
    ``R = 1``, ``w_in = τ_syn/dt``, bias ``b``; ``v_leak = v_reset = 0`` and ``v_threshold =
    ϑ``. The weights are written unchanged. The module docstring derives the mapping: the ODEs
    with each step's value ``x_n`` as the impulse ``x_n·dt·δ(t - t_n)`` pass through credax's
    states at every step.

    Args:
        model: the network; every layer with ``refractory=0`` and ``reset="zero"`` (NIR has
            neither a refractory period nor a subtractive reset), all at one ``dt`` and one
            number of steps.
        dt: the step in ms the export is meant for; None (the default) takes the layers'. Given,
            it must be theirs (a credax layer is defined at its own step: rebuild it with
            ``Dynamics(dt=...)`` to change it).

    Returns:
        A ``nir.NIRGraph`` with nodes ``input``, ``linear_l`` or ``affine_l``, ``lif_l``,
        ``li_l``, ``cubalif_l`` or ``cubali_l`` per layer ``l``, and ``output``; its
        ``metadata["credax"]`` (JSON) holds ``dt``, ``steps`` and the ``Encode`` and
        ``TimeReduce`` settings, each neuron node's metadata its ``detach_reset`` and
        ``fast_sigmoid`` steepness, so that :func:`from_nir` rebuilds the same model.

    Examples:
        >>> import jax, credax
        >>> net = credax.spiking.network([4, 6, 2], 10, key=0)
        >>> g = credax.spiking.to_nir(net)
        >>> sorted(type(n).__name__ for n in g.nodes.values())
        ['CubaLI', 'CubaLIF', 'Input', 'Linear', 'Linear', 'Output']
        >>> back = credax.spiking.from_nir(g, steps=10)
        >>> x = jax.random.bernoulli(jax.random.key(1), 0.3, (10, 4)).astype("float32")
        >>> bool((back(x) == net(x)).all())
        True

    References:
        Pedersen et al. (2024), Neuromorphic intermediate representation: a unified
        instruction set for interoperable brain-inspired computing.
    """
    nir = _nir()
    encode, layers, reduce = _split(model)
    model_dt, steps = layers[0].dynamics.dt, layers[0].steps
    if dt is not None and check_positive("dt", dt) != model_dt:
        raise ValueError(
            f"to_nir: expected dt equal to the layers' step ({model_dt} ms), got {dt}; rebuild "
            "the layers with Dynamics(dt=...) to export at another step"
        )
    for i, layer in enumerate(layers):
        _check_exportable(i, layer, model_dt, steps)

    n_in = layers[0].weight.shape[1]
    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array([n_in])})}
    edges, prev = [], "input"
    for i, layer in enumerate(layers):
        d = layer.dynamics
        n = layer.weight.shape[0]
        kind, p = _export_params(d, n)
        if isinstance(layer, LI):
            kind = kind[:-1]  # LIF -> LI, CubaLIF -> CubaLI
        else:
            p = {**p, "v_threshold": np.full((n,), d.threshold, np.float64), "v_reset": p["v_leak"]}
        weight = np.asarray(layer.weight)
        if layer.bias is None:
            lin_name, lin = f"linear_{i}", nir.Linear(weight=weight)
        else:
            g_b = _gains(kind, p, model_dt)[1]
            bias = np.asarray(layer.bias, np.float64) / g_b
            lin_name, lin = f"affine_{i}", nir.Affine(weight=weight, bias=bias)
        meta = {"credax_detach_reset": int(d.detach_reset)}
        if isinstance(layer, LI):  # unused by a leaky integrator; kept so the model comes back
            meta["credax_threshold"] = float(d.threshold)
        if isinstance(d.surrogate, FastSigmoid):
            meta["credax_fast_sigmoid_beta"] = float(d.surrogate.beta)
        neuron_name = f"{kind.lower()}_{i}"
        nodes[lin_name] = lin
        nodes[neuron_name] = getattr(nir, kind)(**p, metadata=meta)
        edges += [(prev, lin_name), (lin_name, neuron_name)]
        prev = neuron_name
    n_out = layers[-1].weight.shape[0]
    nodes["output"] = nir.Output(output_type={"output": np.array([n_out])})
    edges.append((prev, "output"))
    credax_meta = {"format": _FORMAT, "dt": model_dt, "steps": steps}
    if encode is not None:
        credax_meta["encode"] = {
            k: getattr(encode, k) for k in ("how", "lo", "hi", "max_rate", "dt", "seed")
        }
    if reduce is not None:
        credax_meta["readout"] = reduce.how
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"credax": json.dumps(credax_meta)})


# --- import ---------------------------------------------------------------------------------------


def _text(v: Any) -> str:
    if isinstance(v, np.ndarray) and v.ndim == 0:
        v = v.item()
    return v.decode() if isinstance(v, (bytes, np.bytes_)) else str(v)


def _credax_meta(metadata: Any) -> dict:
    if not isinstance(metadata, dict) or "credax" not in metadata:
        return {}
    try:
        meta = json.loads(_text(metadata["credax"]))
    except ValueError:
        raise ValueError("from_nir: the graph's metadata['credax'] is not credax's JSON") from None
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise ValueError(
            f"from_nir: expected credax metadata of format {_FORMAT}, got "
            f"{meta.get('format') if isinstance(meta, dict) else meta!r}"
        )
    return meta


def _chain(graph: Any, nir: Any) -> list[str]:
    """The node names from the Input to the Output of a feedforward chain, both excluded."""
    nodes, edges = graph.nodes, [tuple(e) for e in graph.edges]
    out_of: dict[str, list[str]] = {k: [] for k in nodes}
    into: dict[str, list[str]] = {k: [] for k in nodes}
    for a, b in edges:
        out_of[a].append(b)
        into[b].append(a)
    for k in nodes:
        if len(out_of[k]) > 1 or len(into[k]) > 1:
            raise ValueError(
                f"from_nir: expected a feedforward chain Input -> (Affine|Linear -> neuron)... -> "
                f"Output, but node {k!r} has {len(into[k])} incoming and {len(out_of[k])} "
                "outgoing edges"
            )
    starts = [k for k, n in nodes.items() if isinstance(n, nir.Input)]
    if len(starts) != 1:
        raise ValueError(f"from_nir: expected one Input node, found {len(starts)}")
    order, k = [], starts[0]
    while out_of[k]:
        k = out_of[k][0]
        if k in order:
            raise ValueError(f"from_nir: expected a feedforward chain, found a cycle at {k!r}")
        order.append(k)
    if not order or not isinstance(nodes[order[-1]], nir.Output):
        raise ValueError("from_nir: expected the chain from the Input node to end at an Output")
    if len(order) + 1 != len(nodes):
        rest = sorted(set(nodes) - set(order) - {starts[0]})
        raise ValueError(f"from_nir: expected one chain, but nodes {rest} are not on it")
    return order[:-1]


def _uniform(name: str, key: str, v: np.ndarray) -> float:
    if v.size == 0 or not np.all(np.isfinite(v)):
        raise ValueError(f"from_nir: node {name!r} has non-finite or empty {key}")
    if np.ptp(v) != 0:
        raise ValueError(
            f"from_nir: node {name!r} has per-neuron {key} in [{v.min():g}, {v.max():g}]; a credax "
            "layer has one Dynamics, so expected one value"
        )
    return float(v.flat[0])


def _neuron(name: str, node: Any, n: int, dt: float, node_meta: dict) -> tuple[str, dict, Dynamics]:
    kind = type(node).__name__
    fields = {
        "LIF": ("tau", "r", "v_leak", "v_threshold", "v_reset"),
        "LI": ("tau", "r", "v_leak"),
        "CubaLIF": ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in"),
        "CubaLI": ("tau_syn", "tau_mem", "r", "v_leak", "w_in"),
    }[kind]
    p = {}
    for f in fields:
        v = np.asarray(getattr(node, f), np.float64)
        if v.size not in (1, n):
            raise ValueError(
                f"from_nir: node {name!r} ({kind}) has {f} of shape {v.shape}; expected one value "
                f"or one per neuron ({n})"
            )
        p[f] = np.broadcast_to(v.reshape(-1), (n,)).copy()
    for f in ("v_leak", "v_reset"):
        if f in p and np.any(p[f] != 0):
            raise ValueError(
                f"from_nir: node {name!r} ({kind}) has {f} != 0; credax's potentials are relative "
                "to rest and reset to rest (expected v_leak = v_reset = 0)"
            )
    tau_mem = _uniform(name, "tau_mem" if "tau_mem" in p else "tau", p.get("tau_mem", p.get("tau")))
    tau_syn = _uniform(name, "tau_syn", p["tau_syn"]) if "tau_syn" in p else None
    for label, tau in (("tau_mem", tau_mem), ("tau_syn", tau_syn)):
        if tau is not None and not tau > dt:
            raise ValueError(
                f"from_nir: node {name!r} ({kind}) has {label} = {tau:g}, expected it larger than "
                f"dt = {dt:g} (pass the dt, in the graph's time unit, that resolves it)"
            )
    threshold = float(node_meta.get("credax_threshold", 1.0))
    if "v_threshold" in p:
        threshold = _uniform(name, "v_threshold", p["v_threshold"])
        if not threshold > 0:
            raise ValueError(
                f"from_nir: node {name!r} ({kind}) has v_threshold = {threshold:g}; credax expects "
                "a threshold above the resting potential 0"
            )
    beta = node_meta.get("credax_fast_sigmoid_beta")
    dyn = Dynamics(
        dt=dt,
        tau_mem=tau_mem,
        tau_syn=tau_syn,
        threshold=threshold,
        detach_reset=bool(node_meta.get("credax_detach_reset", True)),
        surrogate=None if beta is None else fast_sigmoid(float(beta)),
    )
    return kind, p, dyn


def _node_meta(node: Any) -> dict:
    meta = getattr(node, "metadata", None) or {}
    out = {}
    for k, v in meta.items():
        if str(k).startswith("credax_"):
            out[str(k)] = np.asarray(v).item()
    return out


def from_nir(graph: Any, *, steps: int, dt: float | None = None) -> Sequential:
    """A credax spiking network from a NIR graph (or a path to a ``.nir`` file).

    The graph must be a chain ``Input -> (Affine|Linear -> LIF|CubaLIF|LI|CubaLI)... ->
    Output``; each pair becomes a credax ``LIF`` (spiking nodes) or ``LI`` layer simulated
    exactly at step ``dt`` (the module docstring gives the mapping: every step's value ``x_n``
    enters NIR's ODEs as the impulse ``x_n·dt·δ(t - t_n)``; the weights are scaled row by row,
    ``W_c = (R dt/(τ(1 - exp(-dt/τ)))) W`` for LIF/LI, ``W_c = (R w_in dt/τ_syn) W`` for
    CubaLIF/CubaLI). ``Encode`` and ``TimeReduce`` written by :func:`to_nir` come back from the
    graph's metadata. Other NIR nodes (convolutions, IF, Flatten, Scale, Delay, Threshold,
    subgraphs...) are refused before anything is built.

    Args:
        graph: a ``nir.NIRGraph``, or the path of a file ``nir.write`` wrote.
        steps: ``T``, the number of steps the layers simulate (inputs ``(T, n_in)``).
        dt: the step, in the graph's time unit (credax: ms), each ``τ`` being larger; None (the
            default) takes the one credax recorded in the graph's metadata, and is an error for
            graphs from elsewhere (snnTorch's exporter, for instance, writes ``τ = dt/(1 - β)``
            for its ``dt = 1e-4``).

    Returns:
        A ``credax.nets.Sequential``: ``[Encode,] LIF..., LIF|LI[, TimeReduce]``.

    Raises:
        ValueError: naming the node, for unsupported node types (and those found), a graph
            that is not a chain, ``v_leak`` or ``v_reset`` not 0, per-neuron ``τ``'s or
            thresholds, a ``τ`` not above ``dt``, or no ``dt``.

    References:
        Pedersen et al. (2024), Neuromorphic intermediate representation: a unified
        instruction set for interoperable brain-inspired computing.
    """
    nir = _nir()
    if isinstance(graph, (str, os.PathLike)):
        graph = nir.read(graph)
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"from_nir: expected a nir.NIRGraph or a path, got {type(graph).__name__}")
    steps = check_count("steps", steps)
    found = sorted({type(n).__name__ for n in graph.nodes.values()})
    bad = [t for t in found if t not in SUPPORTED]
    if bad:
        raise ValueError(
            f"from_nir: credax.spiking does not support NIR nodes {', '.join(bad)} (the graph has "
            f"{', '.join(found)}; supported: {', '.join(SUPPORTED)})"
        )
    meta = _credax_meta(getattr(graph, "metadata", None))
    if dt is None:
        if "dt" not in meta:
            raise ValueError(
                "from_nir: expected dt (the simulation step, in the graph's time unit): the graph "
                "carries no credax metadata to take it from"
            )
        dt = meta["dt"]
    dt = check_positive("dt", dt)
    chain = _chain(graph, nir)
    kinds = [type(graph.nodes[k]).__name__ for k in chain]
    if len(chain) % 2 or any(
        kinds[i] not in ("Affine", "Linear") or kinds[i + 1] not in _NEURONS
        for i in range(0, len(chain), 2)
    ):
        raise ValueError(
            "from_nir: expected the chain to alternate Affine|Linear and a neuron node "
            f"(LIF, CubaLIF, LI, CubaLI), got {' -> '.join(kinds) or 'nothing'}"
        )
    layers: list[Any] = []
    n_prev = None
    for i in range(0, len(chain), 2):
        lin_name, neuron_name = chain[i], chain[i + 1]
        lin, node = graph.nodes[lin_name], graph.nodes[neuron_name]
        w = np.asarray(lin.weight, np.float64)
        if w.ndim != 2 or (n_prev is not None and w.shape[1] != n_prev):
            raise ValueError(
                f"from_nir: node {lin_name!r} has weight of shape {w.shape}; expected "
                f"(n_out, {n_prev if n_prev is not None else 'n_in'})"
            )
        n_out, n_in = w.shape
        kind, p, dyn = _neuron(neuron_name, node, n_out, dt, _node_meta(node))
        g_w, g_b = _gains(kind, p, dt)
        bias = None
        if isinstance(lin, nir.Affine):
            b = np.asarray(lin.bias, np.float64).reshape(-1)
            if b.size not in (1, n_out):
                raise ValueError(
                    f"from_nir: node {lin_name!r} has a bias of {b.size} values for {n_out} outputs"
                )
            bias = jnp.asarray(np.broadcast_to(b, (n_out,)) * g_b, jnp.float32)
        cls = LIF if kind in ("LIF", "CubaLIF") else LI
        layer = cls(steps, n_in, n_out, key=0, use_bias=bias is not None, dynamics=dyn)
        layer = eqx.tree_at(lambda q: q.weight, layer, jnp.asarray(w * g_w[:, None], jnp.float32))
        if bias is not None:
            layer = eqx.tree_at(lambda q: q.bias, layer, bias)
        layers.append(layer)
        n_prev = n_out
    if "encode" in meta:
        e = meta["encode"]
        encode = Encode(
            e["how"], steps, lo=e["lo"], hi=e["hi"], max_rate=e["max_rate"], dt=dt, seed=e["seed"]
        )
        first = next(lay for lay in layers if isinstance(lay, (LIF, LI)))
        layers.insert(0, encode.sized(first.weight.shape[1]))
    if "readout" in meta:
        layers.append(TimeReduce(meta["readout"]))
    return Sequential(layers)
