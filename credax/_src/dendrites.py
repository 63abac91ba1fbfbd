"""The dendritic family: pyramidal neurons with feedforward input on basal dendrites and feedback
on apical dendrites, whose apical activity (a potential, a plateau, a burst) gates plasticity.

``../shared/papers`` 000 §4.2 and its Fig. 5: "we can identify the feedforward signals with the
inputs to the basal dendrites, and the error signals with the inputs to the distal apical
dendrites"; 001 on Payeur et al. (2021), eq. 1. Four rules, rate-based:

- :func:`dendritic_prediction` (Urbanczik & Senn 2014): basal synapses learn to predict the
  somatic rate, ``ΔW ∝ (φ(u) - φ(v̂_B)) r_preᵀ``;
- :func:`dendritic_microcircuit` (Sacramento, Ponte Costa, Bengio & Senn 2018): pyramidal
  neurons with basal, apical and somatic compartments and a population of interneurons per
  hidden layer, four weight families, the self-predicting state;
- :func:`segregated_dendrites` (Guerguiev, Lillicrap & Richards 2017): a forward and a target
  phase, apical plateau potentials, local updates from their difference;
- :func:`burstprop` (Payeur, Guerguiev, Zenke, Richards & Naud 2021): the error carried by the
  burst probability multiplexed with the event rate.

Conventions shared by the four. Layers are numbered ``l = 1 .. N`` (``N`` the output layer) in
the docstrings, ``0 .. N-1`` in the code. A layer's pre-activation ``a_l = W_l r_{l-1} + b_l``
is the basal dendrite's prediction of the somatic potential, ``v̂_B`` (the dendritic attenuation
``g_B/(g_L + g_B + g_A)`` of the papers is folded into ``W_l``); its activation ``φ`` is the
rate function and its output ``r_l = φ(v̂_l)`` the rate without apical input or teaching: the
feedforward pass is the network's free state, and the trained network's predictions are its
feedforward pass. The output somata are nudged towards a lower loss: for any loss ``ℓ``,
``u_N = v̂_N - λ ∂ℓ_n/∂r_N`` (``ℓ_n`` one example's loss), which for the squared error on linear
outputs is the papers' conductance-weighted nudging ``u_N = (1 - λ) v̂_N + λ u*`` towards the
target ``u*`` with ``λ = g_som/(g_L + g_B + g_som)``.

Updates have a gradient's sign (``-ΔW``), averaged over the batch. Each rule's plasticity at
layer ``l`` carries a known gain (a power of the nudging and coupling constants) that the papers
absorb into per-layer learning rates ``η_l``; credax divides it out (``normalize=True``), so that
in each rule's backprop limit the updates are backprop's gradient, and an optax optimizer with
one learning rate serves every layer.

The rules need a chain of ``Dense`` layers (``credax.nets.mlp``); other models are refused with a
message, as in the target family.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from credax._src.batches import SUPERVISED, UNSUPERVISED, supervised_batch, unsupervised_batch
from credax._src.checks import check_count, check_flag, check_positive
from credax._src.feedback._rules import glorot_uniform
from credax._src.nets._select import find_layers, zeros_like
from credax._src.nets._trace import local_updates, trace
from credax._src.rule import EmptyState, LearningRule, check_loss, make_rule
from credax._src.stages import Chain, activation_vjp, dense_chain
from credax._src.target import _check_chain_maps, _rms, _top_error

US, MC, SD, BURST = (
    "dendritic_prediction",
    "dendritic_microcircuit",
    "segregated_dendrites",
    "burstprop",
)


# --- shared machinery -----------------------------------------------------------------------------


def _fraction(name: str, value: Any, *, one: bool = True) -> float:
    """A number in ``(0, 1]`` (``one=True``) or ``(0, 1)``."""
    v = check_positive(name, value)
    if v > 1 or (v == 1 and not one):
        raise ValueError(f"expected {name} in (0, {'1]' if one else '1)'}, got {v}")
    return v


def _rates(chain: Chain, l: int, u: jax.Array) -> jax.Array:
    """``φ_l(u)`` on a batch ``(B, n_l)``."""
    return jax.vmap(chain.layers[l].activation)(u)


def _inputs(chain: Chain, l: int, below: jax.Array) -> jax.Array:
    """Layer ``l``'s input on a batch, given the rates of the layer below (or the input)."""
    return jax.vmap(lambda h: chain.into(l, h))(below)


def _basal(chain: Chain, l: int, inputs: jax.Array) -> jax.Array:
    """``v̂_l = W_l r_{l-1} + b_l`` on a batch of layer ``l``'s inputs."""
    return jax.vmap(chain.layers[l].preactivation)(inputs)


def _per_example_grad(loss, chain: Chain, r_top: jax.Array, y: jax.Array):
    """``∂ℓ_n/∂r_N`` per example and the batch loss, at output-layer rates ``r_top``."""
    return _top_error(loss, chain, None, r_top, y)


def _chain(params, rule: str, min_layers: int = 2) -> Chain:
    chain = dense_chain(params, rule, min_layers=min_layers)
    _check_chain_maps(chain, rule)
    return chain


def _own(key: jax.Array) -> jax.Array:
    """The rule's own stream: a key folded with a constant, so that a rule seeded like the
    network (``mlp(..., key=0)``, ``rule.init(0, net)``) does not draw the network's weights."""
    return jax.random.fold_in(key, 0xD3D)


def _widths(chain: Chain) -> list[int]:
    return [layer.out_shape[0] for layer in chain.layers]


def _check_shapes(rule: str, what: str, arrays, want: list[tuple], hint: str) -> None:
    got = [tuple(jnp.shape(a)) for a in arrays]
    if got != want:
        raise ValueError(
            f"{rule}: the rule state does not fit this rule and model: expected {what} of "
            f"shapes {want}, got {got}; {hint}"
        )


# --- Urbanczik & Senn 2014 ------------------------------------------------------------------------


def dendritic_prediction(loss, *, nudging: float = 0.1) -> LearningRule:
    """Learning by the dendritic prediction of somatic activity (Urbanczik & Senn 2014).

    A two-compartment neuron: a dendrite whose potential ``v̂`` (the basal prediction, here the
    layer's pre-activation ``W r_pre + b``) predicts the potential ``u`` of a soma that also
    receives a teacher. The dendritic synapses learn to make the prediction true::

        ΔW = η (φ(u) - φ(v̂)) r_preᵀ

    (Urbanczik & Senn's rate form; their spiking rule replaces ``φ(u)`` by the somatic spike
    train and weights the difference by ``h(v̂) = φ'(v̂)/φ(v̂)``, which in rates gives the same
    expectation). Plasticity stops exactly when the prediction equals the somatic rate.

    On a network, only the output neurons have a somatic teacher, the nudging
    ``u_N = v̂_N - λ ∂ℓ_n/∂r_N`` (module docstring); a hidden soma sees nothing but its own
    dendrite (``u = v̂``), so hidden layers do not change: this is the single-layer building
    block of :func:`dendritic_microcircuit`, whose apical compartments give hidden somata a
    teacher. The update is ``-ΔW/λ`` (batch mean): as ``λ → 0`` the output layer's update is
    backprop's, with ``φ(v̂ - λg) - φ(v̂) ≈ -λ φ'(v̂) g``.

    Args:
        loss: ``loss(outputs, y) -> scalar``, a batch mean.
        nudging: ``λ`` in ``(0, 1]``, the strength of the somatic teacher.

    Returns:
        A ``LearningRule`` (supervised, no state: ``credax.EmptyState``). Its diagnostics record
        ``dendritic_error``, ``rms(φ(u_N) - φ(v̂_N))`` on the probe batch.

    Examples:
        >>> import jax.numpy as jnp, credax
        >>> net = credax.nets.mlp([3, 2], activation=jnp.tanh, key=0)
        >>> rule = credax.dendritic_prediction(credax.losses.mse, nudging=0.2)
        >>> g, _ = rule.update(net, rule.init(0, net), (jnp.ones((4, 3)), jnp.zeros((4, 2))))
        >>> g.layers[0].weight.shape
        (2, 3)

    References:
        Urbanczik, R. & Senn, W. (2014). Learning by the dendritic prediction of somatic
        spiking. Neuron 81(3), 521-528.
    """
    loss = check_loss(loss)
    lam = _fraction("nudging", nudging)

    def init(key, params):
        _chain(params, US, min_layers=1)
        return EmptyState()

    def somata(params, batch):
        x, y = supervised_batch(params, batch)
        chain = _chain(params, US, min_layers=1)
        tr = trace(params, x)
        g, value = _per_example_grad(loss, chain, tr.outputs[-1], y)
        u = tr.preactivations[-1] - lam * g
        err = _rates(chain, len(chain.layers) - 1, u) - tr.outputs[-1]  # φ(u) - φ(v̂)
        return chain, tr, err, value

    def update(params, state, batch):
        chain, tr, err, value = somata(params, batch)
        deltas = [None] * (len(chain.layers) - 1) + [-err / (lam * err.shape[0])]
        return local_updates(params, tr.inputs, deltas), state, value

    def diagnostics(params, state, batch):
        return {"dendritic_error": _rms(somata(params, batch)[2])}

    return make_rule(US, init, update_with_value=update, diagnostics=diagnostics, task=SUPERVISED)


# --- Sacramento et al. 2018 -----------------------------------------------------------------------


class MicrocircuitState(NamedTuple):
    """The microcircuit's own weights, per hidden layer ``l = 1 .. N-1`` (index ``l - 1``).

    Attributes:
        to_interneurons: ``W^IP_l``, pyramidal ``l`` → interneurons ``l``, ``(n_{l+1}, n_l)``:
            one interneuron per pyramidal neuron of the layer above.
        interneuron_bias: the interneurons' dendritic bias ``c_l``, ``(n_{l+1},)``.
        from_interneurons: ``W^PI_l``, interneurons ``l`` → apical dendrites of pyramidal ``l``,
            ``(n_l, n_{l+1})``.
        top_down: ``W^PP_{l,l+1}`` (``B_l``), pyramidal ``l+1`` → apical dendrites of pyramidal
            ``l``, ``(n_l, n_{l+1})``: fixed random unless ``symmetric_top_down``.
    """

    to_interneurons: tuple
    interneuron_bias: tuple
    from_interneurons: tuple
    top_down: tuple


class Compartments(NamedTuple):
    """The microcircuit's potentials over a presentation, each ``(B, T, ...)`` per layer
    (``T = 1`` for the steady state), as the microcircuit rules compute them.

    Attributes:
        inputs: layer ``l``'s input (the rates below), ``(B, T, n_{l-1})``, every layer.
        basal: ``v̂_l``, the basal prediction of the soma, every layer.
        soma: ``u_l``, the somatic potential, every layer.
        interneuron: ``u^I_l``, the interneurons' somatic potential, hidden layers.
        interneuron_basal: ``v̂^I_l = W^IP_l r_l + c_l``, their dendritic prediction.
        apical: ``v_A,l = B_l r_{l+1} + W^PI_l φ(u^I_l)``, hidden layers.
        top_down: ``B_l r_{l+1}``, the apical input from above alone, hidden layers.
        rates: ``r_l`` the rates the interneurons' dendrites saw, hidden layers.
    """

    inputs: list
    basal: list
    soma: list
    interneuron: list
    interneuron_basal: list
    apical: list
    top_down: list
    rates: list


def _mc_options(nudging, apical_coupling, interneuron_nudging, settle_iterations, tau, dt, steps):
    tau, dt = check_positive("tau", tau), check_positive("dt", dt)
    if dt > tau:
        raise ValueError(
            f"expected dt <= tau (Euler steps of the somatic dynamics overshoot beyond it), got "
            f"dt={dt} and tau={tau}"
        )
    return dict(
        lam=_fraction("nudging", nudging),
        gamma=_fraction("apical_coupling", apical_coupling),
        lam_i=_fraction("interneuron_nudging", interneuron_nudging, one=False),
        iterations=check_count("settle_iterations", settle_iterations),
        tau=tau,
        dt=dt,
        steps=check_count("steps", steps),
    )


RECORDS = (
    "apical_potential",
    "apical_mismatch",
    "self_prediction_error",
    "interneuron_mismatch",
    "apical_error",
)


def _ratio(a: jax.Array, b: jax.Array) -> jax.Array:
    """``rms(a) / rms(b)``."""
    return _rms(a) / jnp.maximum(_rms(b), 1e-12)


def _check_microcircuit_state(rule: str, chain: Chain, state: Any) -> None:
    if not isinstance(state, MicrocircuitState):
        raise ValueError(
            f"{rule}: expected a MicrocircuitState (from this rule's init), got "
            f"{type(state).__name__}"
        )
    n = _widths(chain)
    hidden = range(len(n) - 1)
    hint = "make the state with this rule's init on this model"
    counts = [tuple(jnp.shape(w))[:1] for w in state.to_interneurons]
    if counts != [(n[l + 1],) for l in hidden]:
        raise ValueError(
            f"{rule}: the rule state does not fit this rule and model: expected one interneuron "
            "per pyramidal neuron of the layer above, "
            f"{[n[l + 1] for l in hidden]} in hidden layers 1..{len(n) - 1}, got "
            f"{[c[0] if c else None for c in counts]} (state.to_interneurons); {hint}"
        )
    _check_shapes(rule, "state.to_interneurons", state.to_interneurons,
                  [(n[l + 1], n[l]) for l in hidden], hint)  # fmt: skip
    _check_shapes(rule, "state.interneuron_bias", state.interneuron_bias,
                  [(n[l + 1],) for l in hidden], hint)  # fmt: skip
    for name in ("from_interneurons", "top_down"):
        _check_shapes(rule, f"state.{name}", getattr(state, name),
                      [(n[l], n[l + 1]) for l in hidden], hint)  # fmt: skip


def _settle_steady(chain, state, x, r0, g_fn, o, lam):
    """Fixed-point iterations of the microcircuit's steady state (dendrites and somata at
    equilibrium), each a top-down sweep from the rates of the previous one; ``r0`` the
    feedforward rates. Returns ``Compartments`` with ``T = 1``."""
    n_layers = len(chain.layers)
    rates = list(r0)
    for _ in range(o["iterations"]):
        below = [x, *rates[:-1]]
        inputs = [_inputs(chain, l, below[l]) for l in range(n_layers)]
        vb = [_basal(chain, l, inputs[l]) for l in range(n_layers)]
        u = [None] * n_layers
        ui, vib, va, td = ([None] * (n_layers - 1) for _ in range(4))
        top = n_layers - 1
        u[top] = vb[top] - lam * g_fn(_rates(chain, top, vb[top])) if lam else vb[top]
        for l in range(n_layers - 2, -1, -1):
            vib[l] = rates[l] @ state.to_interneurons[l].T + state.interneuron_bias[l][None]
            ui[l] = (1 - o["lam_i"]) * vib[l] + o["lam_i"] * u[l + 1]
            td[l] = _rates(chain, l + 1, u[l + 1]) @ state.top_down[l].T
            va[l] = td[l] + _rates(chain, l + 1, ui[l]) @ state.from_interneurons[l].T
            u[l] = vb[l] + o["gamma"] * va[l]
        used = rates[:-1]
        rates = [_rates(chain, l, u[l]) for l in range(n_layers)]
    one = lambda xs: [a[:, None] for a in xs]  # noqa: E731
    return Compartments(*map(one, (inputs, vb, u, ui, vib, va, td, used)))


def _settle_continuous(chain, state, x, r0, a0, g_fn, o, lam):
    """Euler integration of the somatic dynamics ``τ du/dt = u_∞(r) - u`` (pyramidal and
    interneuron somata; dendrites instantaneous) for ``steps`` steps of ``dt`` from the free
    state, the teacher on from ``t = 0``. Returns ``Compartments`` over the ``steps``."""
    n_layers = len(chain.layers)
    k = o["dt"] / o["tau"]
    top = n_layers - 1
    u0 = list(a0)
    ui0 = [
        (1 - o["lam_i"]) * (r0[l] @ state.to_interneurons[l].T + state.interneuron_bias[l][None])
        + o["lam_i"] * a0[l + 1]
        for l in range(n_layers - 1)
    ]

    def step(carry, _):
        u, ui = carry
        rates = [_rates(chain, l, u[l]) for l in range(n_layers)]
        below = [x, *rates[:-1]]
        inputs = [_inputs(chain, l, below[l]) for l in range(n_layers)]
        vb = [_basal(chain, l, inputs[l]) for l in range(n_layers)]
        target = [None] * n_layers
        target[top] = vb[top] - lam * g_fn(_rates(chain, top, vb[top])) if lam else vb[top]
        vib, td, va, ui_target = [], [], [], []
        for l in range(n_layers - 1):
            vib.append(rates[l] @ state.to_interneurons[l].T + state.interneuron_bias[l][None])
            ui_target.append((1 - o["lam_i"]) * vib[l] + o["lam_i"] * u[l + 1])
            td.append(rates[l + 1] @ state.top_down[l].T)
            va.append(td[l] + _rates(chain, l + 1, ui[l]) @ state.from_interneurons[l].T)
            target[l] = vb[l] + o["gamma"] * va[l]
        out = (inputs, vb, u, ui, vib, va, td, rates[:-1])
        u = [a + k * (t - a) for a, t in zip(u, target)]
        ui = [a + k * (t - a) for a, t in zip(ui, ui_target)]
        return (u, ui), out

    _, outs = jax.lax.scan(step, (u0, ui0), length=o["steps"])
    return Compartments(*[[jnp.moveaxis(a, 0, 1) for a in group] for group in outs])


def _microcircuit(rule, loss, o, *, symmetric_top_down, self_predicting_init, continuous,
                  interneuron_lr, apical_lr, normalize, teach):  # fmt: skip
    """The machinery shared by :func:`dendritic_microcircuit` (``teach=True``) and
    :func:`microcircuit_self_prediction` (``teach=False``)."""

    def top_down_of(chain, state):
        if symmetric_top_down:  # B_l = W_{l+1}ᵀ and its mirror W^PI_l = -B_l
            top_down = tuple(layer.weight.T for layer in chain.layers[1:])
            return state._replace(top_down=top_down, from_interneurons=tuple(-b for b in top_down))
        return state

    def init(key, params):
        chain = _chain(params, rule)
        n = _widths(chain)
        keys = jax.random.split(_own(key), 2 * (len(n) - 1))
        dtype = chain.layers[0].weight.dtype
        hidden = range(len(n) - 1)
        if symmetric_top_down:
            top_down = tuple(layer.weight.T for layer in chain.layers[1:])
        else:
            top_down = tuple(glorot_uniform(keys[2 * l], (n[l], n[l + 1]), dtype) for l in hidden)
        if self_predicting_init:
            to_i = tuple(layer.weight for layer in chain.layers[1:])
            bias = tuple(
                jnp.zeros((n[l + 1],), dtype) if layer.bias is None else layer.bias
                for l, layer in zip(hidden, chain.layers[1:])
            )
            from_i = tuple(-b for b in top_down)
        else:
            to_i = tuple(glorot_uniform(keys[2 * l + 1], (n[l + 1], n[l]), dtype) for l in hidden)
            bias = tuple(jnp.zeros((n[l + 1],), dtype) for l in hidden)
            from_i = tuple(jnp.zeros((n[l], n[l + 1]), dtype) for l in hidden)
        return MicrocircuitState(to_i, bias, from_i, top_down)

    def settle(params, state, x, y, lam, free=False):
        """The presentation's compartments; ``free``: one sweep, no teacher (the records)."""
        chain = _chain(params, rule)
        _check_microcircuit_state(rule, chain, state)
        state = top_down_of(chain, state)
        tr = trace(params, x)
        value = None
        if y is not None:
            _, value = _per_example_grad(loss, chain, tr.outputs[-1], y)

        def g_fn(r_top):
            return _per_example_grad(loss, chain, r_top, y)[0]

        r0, a0 = list(tr.outputs), list(tr.preactivations)
        if free:
            c = _settle_steady(chain, state, x, r0, g_fn, {**o, "iterations": 1}, 0.0)
        elif continuous:
            c = _settle_continuous(chain, state, x, r0, a0, g_fn, o, lam)
        else:
            c = _settle_steady(chain, state, x, r0, g_fn, o, lam)
        return chain, state, c, value

    def gains(n_layers, lam):
        """Layer ``l``'s plasticity gain in the backprop limit: ``λ [γ(1 - λ_I)]^{N-l}``."""
        if not normalize:
            return [1.0] * n_layers
        return [
            lam * (o["gamma"] * (1 - o["lam_i"])) ** (n_layers - 1 - l) for l in range(n_layers)
        ]

    def plasticity(params, chain, state, c, lam):
        n_layers = len(chain.layers)
        b, t = c.soma[0].shape[:2]
        if lam:
            gain = gains(n_layers, lam)
            deltas = [
                -(_rates(chain, l, c.soma[l]) - _rates(chain, l, c.basal[l])) / (gain[l] * b * t)
                for l in range(n_layers)
            ]
            updates = local_updates(params, c.inputs, deltas)
        else:  # no teacher: the forward weights are held (the first phase)
            updates = zeros_like(params)
        to_i, bias, from_i = [], [], []
        for l in range(n_layers - 1):
            # W^IP: the interneuron's dendrite predicts its (nudged) soma.
            r_i = _rates(chain, l + 1, c.interneuron[l])
            e = r_i - _rates(chain, l + 1, c.interneuron_basal[l])
            to_i.append(
                state.to_interneurons[l]
                + interneuron_lr * jnp.einsum("bti,btj->ij", e, c.rates[l]) / (b * t)
            )
            bias.append(
                state.interneuron_bias[l] + interneuron_lr * jnp.sum(e, axis=(0, 1)) / (b * t)
            )
            # W^PI: interneurons silence the apical dendrite (v_rest = 0).
            from_i.append(
                state.from_interneurons[l]
                - apical_lr * jnp.einsum("bti,btj->ij", c.apical[l], r_i) / (b * t)
            )
        state = state._replace(
            to_interneurons=tuple(to_i),
            interneuron_bias=tuple(bias),
            from_interneurons=tuple(from_i),
        )
        return updates, state

    def update(params, state, batch):
        if teach:
            x, y = supervised_batch(params, batch)
            lam = o["lam"]
        else:
            x, y, lam = unsupervised_batch(params, batch), None, 0.0
        chain, state, c, value = settle(params, state, x, y, lam)
        updates, state = plasticity(params, chain, state, c, lam)
        return updates, state, value

    def diagnostics(params, state, batch):
        if teach:
            x, y = supervised_batch(params, batch)
        else:
            x, y = unsupervised_batch(params, batch), None
        chain, state, free, _ = settle(params, state, x, None, 0.0, free=True)
        rec = {k: [] for k in RECORDS}
        for l in range(len(chain.layers) - 1):
            va, td = free.apical[l], free.top_down[l]
            above, r_above = free.basal[l + 1], _rates(chain, l + 1, free.soma[l + 1])
            r_i = _rates(chain, l + 1, free.interneuron[l])
            rec["apical_potential"].append(_rms(va))
            rec["apical_mismatch"].append(_ratio(va, td))
            rec["self_prediction_error"].append(_ratio(free.interneuron_basal[l] - above, above))
            rec["interneuron_mismatch"].append(_ratio(r_i - r_above, r_above))
        if teach:  # the label's part of the apical potential: nudged minus free, same sweeps
            _, _, c, _ = settle(params, state, x, y, o["lam"])
            _, _, c0, _ = settle(params, state, x, None, 0.0)
            rec["apical_error"] = [_rms(v - v0) for v, v0 in zip(c.apical, c0.apical)]
        return {k: jnp.stack(v) for k, v in rec.items() if v or k != "apical_error"}

    return make_rule(
        rule,
        init,
        update_with_value=update,
        diagnostics=diagnostics,
        task=SUPERVISED if teach else UNSUPERVISED,
        check_state=False,  # the state is checked with messages of its own (interneuron counts)
    )


def dendritic_microcircuit(
    loss,
    *,
    nudging: float = 0.1,
    apical_coupling: float = 0.8 / 1.9,
    interneuron_nudging: float = 0.8 / 1.9,
    interneuron_lr: float = 0.02,
    apical_lr: float = 0.01,
    symmetric_top_down: bool = False,
    self_predicting_init: bool = True,
    continuous: bool = False,
    settle_iterations: int = 1,
    tau: float = 1.0,
    dt: float = 0.1,
    steps: int = 100,
    normalize: bool = True,
) -> LearningRule:
    """Dendritic cortical microcircuits (Sacramento, Ponte Costa, Bengio & Senn 2018).

    Each hidden layer ``l`` holds pyramidal neurons with three compartments and a population of
    interneurons, one per pyramidal neuron of the layer above. Potentials at steady state
    (dendrites instantaneous, the paper's conductance-weighted averages with the constants
    folded into the weights and into ``γ``, ``λ``, ``λ_I``)::

        basal        v̂_l   = W_l r_{l-1} + b_l                         (W^PP_{l,l-1})
        apical       v_A,l = B_l r_{l+1} + W^PI_l r^I_l                 (W^PP_{l,l+1}, W^PI)
        soma         u_l   = v̂_l + γ v_A,l,   γ = g_A/(g_L + g_B + g_A)
        interneuron  u^I_l = (1 - λ_I) v̂^I_l + λ_I u_{l+1},   v̂^I_l = W^IP_l r_l + c_l
        output soma  u_N   = v̂_N - λ ∂ℓ_n/∂r_N    (the weakly nudged output)

    with rates ``r = φ(u)``. The four weight families learn by the paper's rules (its eqs. for
    ``Ẇ^PP``, ``Ẇ^IP``, ``Ẇ^PI``)::

        ΔW_l    ∝ (φ(u_l) - φ(v̂_l)) r_{l-1}ᵀ     forward, Urbanczik-Senn on the basal dendrite
        ΔW^IP_l = η_IP (φ(u^I_l) - φ(v̂^I_l)) r_lᵀ   interneurons learn to predict their soma
        ΔW^PI_l = η_PI (v_rest - v_A,l) r^I_lᵀ      interneurons learn to silence the apical
                                                    dendrite (v_rest = 0)
        B_l     fixed random (``symmetric_top_down``: B_l = W_{l+1}ᵀ, a non-local reference)

    The self-predicting state, ``W^IP_l = W_{l+1}``, ``c_l = b_{l+1}``, ``W^PI_l = -B_l``,
    cancels every apical potential when no target is present, so no weight changes; the
    interneuron rules learn it from any start (:func:`microcircuit_self_prediction` learns it
    with no target, as the paper's first phase; ``self_predicting_init`` starts there). There,
    with the output nudged, the apical potential of layer ``l`` carries the error from above,
    ``u_l - v̂_l = γ(1 - λ_I) B_l φ'(v̂_{l+1})(u_{l+1} - v̂_{l+1})`` to first order in ``λ``: with
    ``B_l = W_{l+1}ᵀ``, ``u_l - v̂_l → -λ[γ(1 - λ_I)]^{N-l} ∂ℓ/∂v̂_l`` as ``λ → 0``, backprop's
    error scaled. The forward update is ``-ΔW_l`` divided by that gain (``normalize``; the
    paper's per-layer learning rates), so the weakly nudged updates approach backprop's
    gradient; ``W^IP``, ``c`` and ``W^PI`` learn inside ``update`` with their own rates (plain
    gradient-free steps; the caller's optimizer sees the forward weights only).

    Two ways to reach the nudged state: the steady state (default; ``settle_iterations``
    top-down sweeps of the equations above from the feedforward rates, each sweep using the
    rates of the one before: one sweep is exact to first order in ``λ``, more converge to the
    full fixed point), or the paper's continuous dynamics (``continuous=True``):
    ``τ du/dt = u_∞ - u`` for pyramidal and interneuron somata, Euler steps of ``dt`` for
    ``steps`` steps from the free state, the teacher on from ``t = 0``, plasticity integrated
    over the presentation (weights held fixed within it: they change slowly against ``τ``).

    Deviations: the output nudging is written for any loss (module docstring); ``B_l`` is not
    learned (the paper's experiments keep top-down weights fixed or random too); all plasticity
    is computed in the nudged phase, as in the paper, so ``W^PI`` slowly learns to cancel part of
    the error too (keep ``apical_lr`` small against the forward learning rate).

    Args:
        loss: ``loss(outputs, y) -> scalar``, a batch mean.
        nudging: ``λ`` in ``(0, 1]``, the output teacher's strength (``g_som/(g_L+g_B+g_som)``).
        apical_coupling: ``γ`` in ``(0, 1]``; default the paper's ``g_A/(g_L+g_B+g_A)`` =
            0.8/1.9.
        interneuron_nudging: ``λ_I`` in ``(0, 1)``, the interneurons' somatic coupling to the
            pyramidal neurons above (default 0.8/1.9, the paper's ``g_som/(g_L+g_D+g_som)``).
        interneuron_lr: ``η_IP`` ≥ 0 (0 holds ``W^IP`` fixed). ``W^IP`` must track ``W_{l+1}``
            as it learns: its step is about ``η_IP λ_I`` times the mismatch, so with SGD at
            rate ``η`` on the (normalized) forward updates, ``η_IP`` of the order of
            ``η/(λ λ_I)`` keeps up for the top hidden layer (population ``l`` needs
            ``η/(λ_I g_{l+1})``, ``g`` the layer's gain above: one rate matches one layer); a
            lagging ``W^IP`` leaves apical input that the normalization magnifies. The paper's
            plain delta rule is stable only while ``η_IP λ_I φ'² λ_max(⟨r_l r_lᵀ⟩) < 2``: wide
            layers need small rates (the default 0.02 is stable at 256 units; 0.05 diverged
            there, measured in ``benchmarks/dendrites_vs_big.py``), so tracking and stability
            together cap the forward SGD rate (about 0.05 on MNIST-1D with 256 tanh units,
            ``benchmarks/microcircuit.py``); under Adam the interneurons lag.
        apical_lr: ``η_PI`` ≥ 0 (0 holds ``W^PI`` fixed, as in the paper's MNIST run).
        symmetric_top_down: ``B_l = W_{l+1}ᵀ`` and ``W^PI_l = -B_l`` at every update (a
            non-local reference for the backprop limit: ``W^PI`` would otherwise lag behind a
            ``B`` that moves with ``W``, and the uncancelled top-down input, divided by the
            gain, would pose as an error); default fixed random Glorot-uniform ``B_l``, as the
            paper shows works, with ``W^PI`` learned.
        self_predicting_init: start in the self-predicting state (default: the state
            :func:`microcircuit_self_prediction` learns); False starts from random ``W^IP`` and
            ``W^PI = 0``, as the paper's first phase does (run that phase first).
        continuous: simulate the dynamics instead of solving the steady state.
        settle_iterations: steady-state sweeps (≥ 1).
        tau: ``τ`` > 0, the somatic time constant (continuous).
        dt: ``dt`` in ``(0, τ]``, the Euler step (continuous).
        steps: Euler steps per presentation (continuous, ≥ 1).
        normalize: divide each layer's plasticity by its backprop-limit gain (above).

    Returns:
        A ``LearningRule`` (supervised) with state :class:`MicrocircuitState`. Its diagnostics
        record per hidden layer, with no target (the free state, one sweep):
        ``apical_potential`` (``rms v_A``), ``apical_mismatch`` (``rms v_A / rms B r_{l+1}``:
        0 when interneurons cancel the top-down input), ``self_prediction_error``
        (``rms(v̂^I_l - v̂_{l+1}) / rms(v̂_{l+1})``), ``interneuron_mismatch``
        (``rms(φ(u^I_l) - r_{l+1}) / rms(r_{l+1})``); and ``apical_error``, the label's part of
        the apical potential, ``rms(v_A - v_A^free)`` (nudged minus free, the error each layer
        receives; against ``apical_potential``, what the interneurons fail to cancel).

    Examples:
        >>> import jax, jax.numpy as jnp, credax
        >>> net = credax.nets.mlp([4, 6, 3], activation=jnp.tanh, key=0)
        >>> rule = credax.dendritic_microcircuit(credax.losses.mse)
        >>> state = rule.init(1, net)
        >>> [w.shape for w in state.to_interneurons]   # one interneuron per output neuron
        [(3, 6)]
        >>> rec = rule.diagnostics(net, state, (jnp.ones((2, 4)), jnp.zeros((2, 3))))
        >>> float(rec["apical_mismatch"][0]) < 1e-6   # the apical input is cancelled
        True

    References:
        Sacramento, J., Ponte Costa, R., Bengio, Y. & Senn, W. (2018). Dendritic cortical
        microcircuits approximate the backpropagation algorithm. NeurIPS 31.
    """
    loss = check_loss(loss)
    o = _mc_options(
        nudging, apical_coupling, interneuron_nudging, settle_iterations, tau, dt, steps
    )
    return _microcircuit(
        MC, loss, o,
        symmetric_top_down=check_flag("symmetric_top_down", symmetric_top_down),
        self_predicting_init=check_flag("self_predicting_init", self_predicting_init),
        continuous=check_flag("continuous", continuous),
        interneuron_lr=check_positive("interneuron_lr", interneuron_lr, allow_zero=True),
        apical_lr=check_positive("apical_lr", apical_lr, allow_zero=True),
        normalize=check_flag("normalize", normalize),
        teach=True,
    )  # fmt: skip


def microcircuit_self_prediction(
    *,
    apical_coupling: float = 0.8 / 1.9,
    interneuron_nudging: float = 0.8 / 1.9,
    interneuron_lr: float = 0.02,
    apical_lr: float = 0.01,
    symmetric_top_down: bool = False,
    self_predicting_init: bool = False,
    continuous: bool = False,
    settle_iterations: int = 1,
    tau: float = 1.0,
    dt: float = 0.1,
    steps: int = 100,
) -> LearningRule:
    """The microcircuit's first phase: the self-predicting state, learned with no target.

    The interneuron rules of :func:`dendritic_microcircuit` (same options, same
    :class:`MicrocircuitState`) on inputs alone: ``W^IP`` learns to predict the pyramidal
    neurons above, ``W^PI`` to cancel the top-down input, until every apical potential vanishes
    (Sacramento et al. 2018, Fig. 2). The forward weights are held fixed in this phase (the
    updates are zero; the state carries what is learned), so the state it leaves is the one to
    pass to the supervised rule's ``update``. An unsupervised ``LearningRule`` (batches ``x``)
    without an objective; its diagnostics are the supervised rule's free-state records.

    Examples:
        >>> import jax, jax.numpy as jnp, credax
        >>> net = credax.nets.mlp([4, 6, 3], activation=jnp.tanh, key=0)
        >>> pre = credax.dendrites.microcircuit_self_prediction(interneuron_lr=0.5, apical_lr=0.5)
        >>> state = pre.init(1, net)
        >>> x = jax.random.normal(jax.random.key(2), (64, 4))
        >>> before = float(pre.diagnostics(net, state, x)["apical_mismatch"][0])
        >>> for _ in range(200):
        ...     _, state = pre.update(net, state, x)
        >>> after = float(pre.diagnostics(net, state, x)["apical_mismatch"][0])
        >>> before, after < 0.1
        (1.0, True)
    """
    o = _mc_options(1.0, apical_coupling, interneuron_nudging, settle_iterations, tau, dt, steps)
    return _microcircuit(
        MC, None, o,
        symmetric_top_down=check_flag("symmetric_top_down", symmetric_top_down),
        self_predicting_init=check_flag("self_predicting_init", self_predicting_init),
        continuous=check_flag("continuous", continuous),
        interneuron_lr=check_positive("interneuron_lr", interneuron_lr, allow_zero=True),
        apical_lr=check_positive("apical_lr", apical_lr, allow_zero=True),
        normalize=True,
        teach=False,
    )  # fmt: skip


# --- Guerguiev et al. 2017 ------------------------------------------------------------------------


class SegregatedDendritesState(NamedTuple):
    """State of :func:`segregated_dendrites`.

    Attributes:
        feedback: ``Y_l``, output layer → apical dendrites of hidden layer ``l``, ``(n_l, n_N)``
            per hidden layer, fixed random.
    """

    feedback: tuple


def segregated_dendrites(
    loss, *, nudging: float = 1.0, feedback_scale: float = 1.0
) -> LearningRule:
    """Deep learning with segregated dendrites (Guerguiev, Lillicrap & Richards 2017).

    Hidden neurons have a basal compartment (feedforward input, driving the soma) and an
    electrotonically segregated apical compartment receiving the output layer's activity
    through fixed random feedback ``Y_l``. Each presentation has two phases: a forward phase,
    the output free, and a target phase, the output somata driven towards the target, here
    ``r_N^t = r_N^f - β ∂ℓ_n/∂r_N`` (for the squared error and ``β = 1``, the target itself, as
    in the paper). The apical potential of each phase, averaged over it,
    ``A_l^f = Y_l r_N^f`` and ``A_l^t = Y_l r_N^t``, sets a plateau potential ``α = σ(A)``
    (``σ`` the logistic function). The paper's local losses and updates::

        L_N = ‖r_N^t - r_N^f‖²,  ΔW_N ∝ (r_N^t - r_N^f) ⊙ φ'(a_N) r_{N-1}ᵀ
        L_l ≈ ‖α_l^t - α_l^f‖²,  ΔW_l ∝ (α_l^t - α_l^f) ⊙ φ'(a_l) r_{l-1}ᵀ

    (the hidden target ``r_l^* = r_l^f + α_l^t - α_l^f``), every quantity of the forward phase.
    The update is ``-ΔW/β`` (batch mean): the output layer's is backprop's exactly; a hidden
    layer's is ``σ'(A_l) ⊙ Y_l(-∂ℓ/∂r_N)`` through ``φ'``, direct feedback alignment gated by the
    plateau's slope, as ``β → 0``.

    Deviations: the paper simulates spiking inputs and voltage dynamics over each phase and
    takes the plateau from the phase-averaged apical potential; this is the rate-based steady
    state of those averages. Every hidden layer's apical dendrite receives the output layer (as
    in the paper's networks).

    Args:
        loss: ``loss(outputs, y) -> scalar``, a batch mean.
        nudging: ``β`` in ``(0, 1]``, the target phase's step along the loss gradient.
        feedback_scale: scale of ``Y_l`` (> 0), drawn Glorot-uniform then multiplied.

    Returns:
        A ``LearningRule`` (supervised) with state :class:`SegregatedDendritesState`. Its
        diagnostics record, per hidden layer, ``plateau_forward`` (mean ``α^f``) and
        ``plateau_difference`` (``rms(α^t - α^f)``).

    Examples:
        >>> import jax.numpy as jnp, credax
        >>> net = credax.nets.mlp([4, 6, 3], activation=jnp.tanh, key=0)
        >>> rule = credax.segregated_dendrites(credax.losses.mse)
        >>> [y.shape for y in rule.init(1, net).feedback]
        [(6, 3)]

    References:
        Guerguiev, J., Lillicrap, T. P. & Richards, B. A. (2017). Towards deep learning with
        segregated dendrites. eLife 6, e22901.
    """
    loss = check_loss(loss)
    beta = _fraction("nudging", nudging)
    scale = check_positive("feedback_scale", feedback_scale)

    def init(key, params):
        chain = _chain(params, SD)
        n = _widths(chain)
        keys = jax.random.split(_own(key), len(n) - 1)
        dtype = chain.layers[0].weight.dtype
        return SegregatedDendritesState(
            tuple(scale * glorot_uniform(k, (n[l], n[-1]), dtype) for l, k in enumerate(keys))
        )

    def phases(params, state, batch):
        x, y = supervised_batch(params, batch)
        chain = _chain(params, SD)
        n = _widths(chain)
        if not isinstance(state, SegregatedDendritesState):
            raise ValueError(
                f"{SD}: expected a SegregatedDendritesState (from this rule's init), got "
                f"{type(state).__name__}"
            )
        _check_shapes(SD, "state.feedback", state.feedback, [(m, n[-1]) for m in n[:-1]],
                      "make the state with this rule's init on this model")  # fmt: skip
        tr = trace(params, x)
        r_f = tr.outputs[-1]
        g, value = _per_example_grad(loss, chain, r_f, y)
        r_t = r_f - beta * g
        plateaus = [(jax.nn.sigmoid(r_f @ Y.T), jax.nn.sigmoid(r_t @ Y.T)) for Y in state.feedback]
        return chain, tr, r_f, r_t, plateaus, value

    def update(params, state, batch):
        chain, tr, r_f, r_t, plateaus, value = phases(params, state, batch)
        b = r_f.shape[0]
        targets = [a_t - a_f for a_f, a_t in plateaus] + [r_t - r_f]
        deltas = [
            activation_vjp(layer, a, -d / (beta * b))
            for layer, a, d in zip(chain.layers, tr.preactivations, targets)
        ]
        return local_updates(params, tr.inputs, deltas), state, value

    def diagnostics(params, state, batch):
        *_, plateaus, _ = phases(params, state, batch)
        return {
            "plateau_forward": jnp.stack([jnp.mean(a_f) for a_f, _ in plateaus]),
            "plateau_difference": jnp.stack([_rms(a_t - a_f) for a_f, a_t in plateaus]),
        }

    return make_rule(
        SD, init, update_with_value=update, diagnostics=diagnostics, task=SUPERVISED,
        check_state=False,
    )  # fmt: skip


# --- Payeur et al. 2021 ---------------------------------------------------------------------------


class BurstpropState(NamedTuple):
    """State of :func:`burstprop`.

    Attributes:
        feedback: ``Y_l`` per hidden layer ``l = 1 .. N-1``, in the shape of the forward weight
            ``W_{l+1}`` (``(n_{l+1}, n_l)``): burst rates of layer ``l+1`` reach the apical
            dendrites of layer ``l`` through ``Y_lᵀ``. Fixed random unless ``feedback_lr > 0``.
        burst_average: ``P̄_l``, a moving average over presentations of each unit's burst
            probability in the teaching phase, ``(n_l,)`` per layer.
    """

    feedback: tuple
    burst_average: tuple


def _signed(layer) -> bool:
    """Whether ``layer``'s activation takes negative values (probed on [-30, 30]; False when it
    cannot be evaluated without the traced parameters)."""
    probe = np.linspace(-30.0, 30.0, 61)
    grid = np.broadcast_to(probe[:, None], (61, layer.out_shape[0]))
    try:
        with jax.ensure_compile_time_eval():
            values = jax.vmap(layer.activation)(jnp.asarray(grid, layer.weight.dtype))
            return bool(jnp.any(values < 0))
    except jax.errors.ConcretizationTypeError:  # an activation with traced parameters
        return False


def _check_rates(chain: Chain) -> None:
    """Event rates are rates: every hidden layer's activation must be nonnegative."""
    for l, layer in enumerate(chain.layers[:-1]):
        if _signed(layer):
            raise ValueError(
                f"{BURST}: expected nonnegative event rates, but layer {l}'s activation "
                f"{getattr(layer.activation, '__name__', layer.activation)!r} gives negative "
                "values; use a rate function such as jax.nn.sigmoid (as Payeur et al.)"
            )


def _dendritic_gain(layer, a: jax.Array, e: jax.Array) -> jax.Array:
    """``h(e) = φ'(a)/φ(a)`` (0 where ``φ(a) = 0``): the apical nonlinearity that makes
    ``e ⊙ h(e) = φ'(a)``; for the logistic ``φ``, Payeur et al.'s ``h(e) = 1 - e``."""
    d = activation_vjp(layer, a, jnp.ones_like(a))
    return jnp.where(e > 0, d / jnp.where(e > 0, e, 1), 0)


def burstprop(
    loss,
    *,
    nudging: float = 1.0,
    output_burst_probability: float = 0.2,
    running_average: bool = False,
    average_decay: float = 0.99,
    feedback_lr: float = 0.0,
    feedback_decay: float = 0.0,
    symmetric_feedback: bool = False,
    normalize: bool = True,
) -> LearningRule:
    """Burstprop (Payeur, Guerguiev, Zenke, Richards & Naud 2021), the rate-based ensemble model.

    Each unit is an ensemble of pyramidal neurons that multiplexes two signals: its event rate
    ``E = e_l = φ(a_l)`` carries the feedforward activity, its burst probability ``p_l`` the
    feedback, and the burst rate ``B = p ⊙ e`` travels back through feedback weights ``Y`` to the
    apical dendrites of the layer below. Paper 001, eq. 1::

        dw_ij/dt = η [B_i(t) - P̄_i(t) E_i(t)] Ẽ_j(t)

    with ``Ẽ_j`` the presynaptic event rate and ``P̄_i`` the unit's average burst probability. In
    the ensemble model (the paper's Methods) with a teaching phase after a free one:

        output      p_N = p̄_N,  p_N^t = p̄_N (1 - β h(e_N) ⊙ ∂ℓ_n/∂e_N)
        hidden      u_l = h(e_l) ⊙ (Y_lᵀ b_{l+1}),  p_l = σ(u_l),  b_l = p_l ⊙ e_l
                    (and u_l^t, p_l^t, b_l^t from the teaching-phase burst rates above)
        plasticity  ΔW_l ∝ (b_l^t - P̄_l ⊙ e_l) e_{l-1}ᵀ

    ``h(e) = φ'(a)/φ(a)`` is the apical dendrite's nonlinearity (``1 - e`` for the logistic
    ``φ``, as in the paper), so that ``e ⊙ h(e) = φ'(a)``; ``σ`` the logistic function. For
    the squared error and ``β = 1`` the output is the paper's ``p̄(1 + (1 - e)(y - e))``. ``P̄`` is
    the free phase's burst probability of the same input (default: the paper's ensemble model,
    each input's burst probability without teaching), or, with ``running_average=True``, the
    moving average over presentations kept in the state (decay ``average_decay``, starting at
    ``σ(0) = 1/2``). The moving average works when the free-phase burst probability hardly
    varies with the input, which in the paper its recurrent inhibition of the apical input
    ensures; without it (below) the input-dependent part of ``p`` stays in ``B - P̄E`` and
    swamps the teaching signal: measured in ``benchmarks/burstprop.py``, this mode does not
    learn (MNIST-1D at chance).

    Backprop limit: with ``P̄ = p``, ``Y_l = W_{l+1}`` and small apical drive (``u → 0``), to
    first order in ``β``, ``b_l^t - b_l = σ'(u_l) ⊙ φ'(a_l) ⊙ Y_lᵀ (b_{l+1}^t - b_{l+1})``
    and ``b_N^t - b_N = -β p̄_N φ'(a_N) ∂ℓ/∂e_N``: backprop's errors, scaled by
    ``β p̄_N σ'(0)^{N-l}`` (``σ'(0) = 1/4``) and, per unit, by ``4σ'(u_l)``. The update is
    ``-ΔW_l`` divided by that scale (``normalize``: the paper's per-layer learning rates), so
    in the limit it is backprop's gradient.

    The feedback ``Y`` is fixed random (Glorot-uniform, as feedback alignment) by default; with
    ``feedback_lr > 0`` it learns by the forward weights' own rule,
    ``ΔY_l = feedback_lr (ΔW_{l+1} - feedback_decay Y_l)`` (as the paper's learned-feedback
    variant). With decay this brings ``Y`` into line with ``W`` when ``W`` takes the same plain
    gradient steps with the same decay (the Kolen-Pollack condition: SGD at the same rate and
    weight decay); under Adam it does not (``benchmarks/burstprop.py`` uses SGD for it).

    Deviations: rates, not spikes (the paper's spiking model is its other half); no recurrent
    inhibition of the burst probability; Dense layers only (the paper's conv nets are left for a
    later version).

    Args:
        loss: ``loss(outputs, y) -> scalar``, a batch mean.
        nudging: ``β`` in ``(0, 1]``, the teaching signal's strength at the output.
        output_burst_probability: ``p̄_N`` in ``(0, 1)``, the output units' baseline.
        running_average: use the moving average in the state as ``P̄`` (default: the free
            phase's burst probability).
        average_decay: the moving average's decay per update, in ``[0, 1)``.
        feedback_lr: learning rate of ``Y`` (≥ 0; 0 keeps it fixed).
        feedback_decay: weight decay of ``Y`` when it learns (≥ 0).
        symmetric_feedback: ``Y_l = W_{l+1}`` at every update (a reference).
        normalize: divide by the backprop-limit scale (above).

    Returns:
        A ``LearningRule`` (supervised) with state :class:`BurstpropState`, for chains of
        ``Dense`` layers with nonnegative activations (``jax.nn.sigmoid``). Its diagnostics
        record per layer (means over examples and units, teaching phase): ``burst_probability``
        (``p^t``), ``burst_average`` (``P̄`` in the state), ``event_rate`` (``e``) and
        ``burst_error`` (``rms(b^t - P̄ e)``); the first three are NaN for an output layer whose
        activation takes negative values (a linear readout has no rates).

    Examples:
        >>> import jax, jax.numpy as jnp, credax
        >>> net = credax.nets.mlp([4, 6, 3], activation=jax.nn.sigmoid, key=0)
        >>> rule = credax.burstprop(credax.losses.mse)
        >>> state = rule.init(1, net)
        >>> [y.shape for y in state.feedback], [p.shape for p in state.burst_average]
        ([(3, 6)], [(6,), (3,)])

    References:
        Payeur, A., Guerguiev, J., Zenke, F., Richards, B. A. & Naud, R. (2021). Burst-dependent
        synaptic plasticity can coordinate learning in hierarchical circuits. Nature
        Neuroscience 24, 1010-1019.
    """
    loss = check_loss(loss)
    beta = _fraction("nudging", nudging)
    p_out = _fraction("output_burst_probability", output_burst_probability, one=False)
    running_average = check_flag("running_average", running_average)
    decay = check_positive("average_decay", average_decay, allow_zero=True)
    if decay >= 1:
        raise ValueError(f"expected average_decay in [0, 1), got {decay}")
    feedback_lr = check_positive("feedback_lr", feedback_lr, allow_zero=True)
    feedback_decay = check_positive("feedback_decay", feedback_decay, allow_zero=True)
    symmetric = check_flag("symmetric_feedback", symmetric_feedback)
    normalize = check_flag("normalize", normalize)

    def init(key, params):
        chain = _chain(params, BURST)
        _check_rates(chain)
        n = _widths(chain)
        keys = jax.random.split(_own(key), len(n) - 1)
        dtype = chain.layers[0].weight.dtype
        feedback = tuple(glorot_uniform(k, (n[l + 1], n[l]), dtype) for l, k in enumerate(keys))
        if symmetric:
            feedback = tuple(layer.weight for layer in chain.layers[1:])
        average = tuple(jnp.full((m,), p_out if l == len(n) - 1 else 0.5, dtype)
                        for l, m in enumerate(n))  # fmt: skip
        return BurstpropState(feedback, average)

    def phases(params, state, batch):
        x, y = supervised_batch(params, batch)
        chain = _chain(params, BURST)
        _check_rates(chain)
        n = _widths(chain)
        if not isinstance(state, BurstpropState):
            raise ValueError(
                f"{BURST}: expected a BurstpropState (from this rule's init), got "
                f"{type(state).__name__}"
            )
        hint = "make the state with this rule's init on this model"
        _check_shapes(BURST, "state.feedback", state.feedback,
                      [(n[l + 1], n[l]) for l in range(len(n) - 1)], hint)  # fmt: skip
        _check_shapes(BURST, "state.burst_average", state.burst_average, [(m,) for m in n], hint)
        feedback = (
            tuple(layer.weight for layer in chain.layers[1:]) if symmetric else state.feedback
        )
        tr = trace(params, x)
        es, top = list(tr.outputs), len(n) - 1
        hs = [  # the apical nonlinearity of the hidden layers (the output has no apical input)
            _dendritic_gain(layer, a, e)
            for layer, a, e in zip(chain.layers[:-1], tr.preactivations, es)
        ]
        g, value = _per_example_grad(loss, chain, es[top], y)
        p, p_t, b, b_t = ([None] * len(n) for _ in range(4))
        # The output: b_N = p̄_N e_N and b_N^t = p̄_N (e_N - β φ'(a_N) ∂ℓ_n/∂e_N), i.e.
        # p_N^t = p̄_N (1 - β h(e_N) ∂ℓ_n/∂e_N) written without dividing by e_N (so a linear
        # readout works too).
        d_top = activation_vjp(chain.layers[top], tr.preactivations[top], g)
        p[top] = jnp.full_like(es[top], p_out)
        b[top] = p_out * es[top]
        b_t[top] = p_out * (es[top] - beta * d_top)
        p_t[top] = jnp.where(es[top] > 0, b_t[top] / jnp.where(es[top] > 0, es[top], 1), p_out)
        for l in range(top - 1, -1, -1):
            p[l] = jax.nn.sigmoid(hs[l] * (b[l + 1] @ feedback[l]))
            p_t[l] = jax.nn.sigmoid(hs[l] * (b_t[l + 1] @ feedback[l]))
            b[l], b_t[l] = p[l] * es[l], p_t[l] * es[l]
        if running_average:  # B - P̄ E with P̄ the moving average in the state
            errors = [bt - a[None] * e for bt, a, e in zip(b_t, state.burst_average, es)]
            errors[top] = b_t[top] - b[top]  # the output's P̄ is its baseline p̄_N
        else:  # B - P̄ E with P̄ the free phase's burst probability
            errors = [bt - bf for bt, bf in zip(b_t, b)]
        return chain, tr, es, p_t, errors, feedback, value

    def update(params, state, batch):
        chain, tr, es, p_t, errors, feedback, value = phases(params, state, batch)
        n_layers, b = len(chain.layers), es[0].shape[0]
        scale = [
            beta * p_out * 0.25 ** (n_layers - 1 - l) if normalize else 1.0 for l in range(n_layers)
        ]
        deltas = [-err / (s * b) for err, s in zip(errors, scale)]
        updates = local_updates(params, tr.inputs, deltas)
        average = tuple(
            decay * a + (1 - decay) * jnp.mean(pt, axis=0)
            for a, pt in zip(state.burst_average, p_t)
        )
        if feedback_lr and not symmetric:
            ups = [layer.weight for layer in find_layers(updates)[1:]]
            feedback = tuple(
                y - feedback_lr * (u + feedback_decay * y) for y, u in zip(state.feedback, ups)
            )
        else:
            feedback = state.feedback
        return updates, BurstpropState(tuple(feedback), average), value

    def diagnostics(params, state, batch):
        chain, _, es, p_t, errors, _, _ = phases(params, state, batch)
        rec = {
            "burst_probability": jnp.stack([jnp.mean(p) for p in p_t]),
            "burst_average": jnp.stack([jnp.mean(a) for a in state.burst_average]),
            "event_rate": jnp.stack([jnp.mean(e) for e in es]),
            "burst_error": jnp.stack([_rms(err) for err in errors]),
        }
        if _signed(chain.layers[-1]):  # a linear readout has no rates or burst probabilities
            for k in ("burst_probability", "burst_average", "event_rate"):
                rec[k] = rec[k].at[-1].set(jnp.nan)
        return rec

    return make_rule(
        BURST, init, update_with_value=update, diagnostics=diagnostics, task=SUPERVISED,
        check_state=False,
    )  # fmt: skip
