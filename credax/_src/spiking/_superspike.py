"""SuperSpike (Zenke & Ganguli 2018): supervised learning in multilayer spiking networks by a
three-factor rule, the surrogate gradient of each neuron's own output with an error sent down
by symmetric (``Wᵀ``) or fixed random feedback, and its loss, the van Rossum distance between
output and target spike trains.

The rule, for a synapse from neuron ``j`` onto neuron ``i`` (time in ms)::

    ∂w_ij/∂t = r e_i(t) λ_ij(t),        λ_ij = α ∗ (σ′(U_i) (ε ∗ S_j))

with ``S_j`` the presynaptic spike train, ``ε`` the postsynaptic-potential kernel, ``U_i`` the
membrane potential, ``σ′`` the surrogate derivative of a spike (the fast sigmoid's), ``α`` the
double-exponential kernel of the eligibility trace ``λ_ij``, and ``e_i`` the error signal: for an
output neuron ``e_i = α ∗ (Ŝ_i − S_i)`` (target minus output spike train), for a hidden neuron
``e_i = Σ_k B_ik e_k``, the errors of the layer above through feedback weights ``B_ik = w_ki``
(symmetric) or fixed random ones (random feedback).

credax writes it for any loss, so the same rule trains a spike-timing task and a classifier
whose readout follows the spiking layers; see :func:`superspike`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from credax._src.batches import SUPERVISED, supervised_batch
from credax._src.checks import check_callable, check_positive
from credax._src.feedback._rules import glorot_uniform
from credax._src.nets._layer import Hook
from credax._src.nets._select import find_layers
from credax._src.nets._trace import local_updates, trace
from credax._src.rule import LearningRule, Loss, check_loss, make_rule
from credax._src.spiking._encode import check_spikes, van_rossum
from credax._src.spiking._neurons import LI, LIF, Dynamics

Init = Callable[[jax.Array, tuple[int, ...], jnp.dtype], jax.Array]

#: The time constant (ms) of the van Rossum distance reported by ``diagnostics``.
DIAGNOSTIC_TAU = 10.0

# --- the paper's loss: a van Rossum distance with the kernel α -----------------------------------


def _alpha_decays(tau_rise: float, tau_decay: float, dt: float) -> tuple[float, float, float]:
    """``(d_rise, d_decay, c)``: the decays per step of the two exponential stages of ``α`` and
    the factor that gives ``α`` a peak of 1."""
    d_rise = 0.0 if tau_rise == 0 else math.exp(-dt / tau_rise)
    d_decay = math.exp(-dt / tau_decay)
    n = np.arange(int(math.ceil(20 * tau_decay / dt)) + 2)
    if math.isclose(d_rise, d_decay):
        kernel = (n + 1) * d_decay**n
    else:
        kernel = (d_decay ** (n + 1) - d_rise ** (n + 1)) / (d_decay - d_rise)
    return d_rise, d_decay, float(1.0 / kernel.max())


def alpha_filter(
    x: jax.typing.ArrayLike, *, tau_rise: float = 5.0, tau_decay: float = 10.0, dt: float = 1.0
) -> jax.Array:
    """``α ∗ x`` over the leading (time) axis: SuperSpike's double-exponential kernel, causal,
    with a peak of 1.

    Two exponential stages in series, ``z_n = d_r z_{n-1} + x_n`` then ``y_n = d_d y_{n-1} +
    z_n`` (``d = exp(-dt/τ)``), scaled so that one spike's trace peaks at 1: the kernel is
    ``α_n ∝ (d_d^{n+1} − d_r^{n+1}) / (d_d − d_r)``, which rises with ``tau_rise`` and decays
    with ``tau_decay``. With ``tau_rise=0`` it is ``credax.spiking.exponential_trace(x,
    tau_decay)``.

    Args:
        x: ``(T, ...)``.
        tau_rise: rise time constant in ms (``>= 0``).
        tau_decay: decay time constant in ms (``> 0``).
        dt: the step in ms.

    Returns:
        ``(T, ...)``, the dtype of ``x`` (float32 for integer or boolean spikes).
    """
    tau_rise = check_positive("tau_rise", tau_rise, allow_zero=True)
    tau_decay = check_positive("tau_decay", tau_decay)
    dt = check_positive("dt", dt)
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    if x.ndim < 1:
        raise ValueError(f"expected x of shape (T, ...) to filter over time, got shape {x.shape}")
    return _alpha(x, *_alpha_decays(tau_rise, tau_decay, dt))


def _alpha(x: jax.Array, d_rise: float, d_decay: float, c: float) -> jax.Array:
    def step(carry, x_n):
        z, y = carry
        z = d_rise * z + x_n
        y = d_decay * y + z
        return (z, y), y

    zero = jnp.zeros(x.shape[1:], x.dtype)
    return c * jax.lax.scan(step, (zero, zero), x)[1]


def van_rossum_loss(
    *, tau_rise: float = 5.0, tau_decay: float = 10.0, dt: float = 1.0
) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """SuperSpike's loss: ``L = ½ (dt/τ_decay) Σ_t Σ_i [(α ∗ (Ŝ_i − S_i))(t)]²``, batch mean.

    The squared van Rossum distance between output spike trains ``S`` and targets ``Ŝ``
    (Zenke & Ganguli 2018 write ``L = ½ ∫ [(α ∗ (Ŝ_i − S_i))(s)]² ds``), with ``α`` the
    kernel of :func:`alpha_filter` (peak 1); the factor ``dt/τ_decay`` makes it dimensionless
    and, with ``tau_rise=0``, equal to ``½ credax.spiking.van_rossum(S, Ŝ, tau_decay)²``. Its
    gradient is defined everywhere (the distance itself, a square root, has none at 0).

    Args:
        tau_rise: rise time constant of ``α`` in ms (``>= 0``; the paper: 5 ms).
        tau_decay: decay time constant of ``α`` in ms (the paper: 10 ms).
        dt: the network's step in ms.

    Returns:
        ``loss(outputs, targets) -> scalar`` for spike trains ``(B, T, n)`` of one shape.

    Examples:
        >>> import jax.numpy as jnp, credax
        >>> loss = credax.spiking.van_rossum_loss(tau_rise=0.0, tau_decay=10.0)
        >>> s = jnp.zeros((1, 50, 1)).at[0, 10, 0].set(1.0)
        >>> bool(jnp.isclose(loss(s, 0 * s), 0.5 * credax.spiking.van_rossum(s[0], 0 * s[0]) ** 2))
        True
    """
    tau_rise = check_positive("tau_rise", tau_rise, allow_zero=True)
    tau_decay = check_positive("tau_decay", tau_decay)
    dt = check_positive("dt", dt)
    decays = _alpha_decays(tau_rise, tau_decay, dt)

    def loss(outputs, targets):
        s, target = jnp.asarray(outputs), jnp.asarray(targets)
        if s.ndim != 3 or target.shape != s.shape:
            raise ValueError(
                f"van_rossum_loss: expected output and target spike trains of one shape "
                f"(B, T, n), got {s.shape} and {target.shape}"
            )
        s = s if jnp.issubdtype(s.dtype, jnp.floating) else s.astype(jnp.float32)
        d = jax.vmap(lambda a: _alpha(a, *decays))(s - target.astype(s.dtype))
        return 0.5 * (dt / tau_decay) * jnp.sum(jnp.square(d)) / s.shape[0]

    return loss


# --- the rule ------------------------------------------------------------------------------------


class SuperSpikeState(NamedTuple):
    """State of SuperSpike.

    Attributes:
        feedback: with random feedback, ``B_l`` per credax layer (pytree order), each the shape
            of ``W_l`` ``(n_out, n_in)``: the layer below receives ``B_lᵀ e_l`` (the first
            layer's is carried for uniformity but never used: nothing lies below it). Empty
            with symmetric feedback (``B_l = W_l``).
    """

    feedback: tuple


class _OutputTap(Hook):
    """Adds ``z`` to the output of layer ``index``: the gradient at ``z = 0`` is the loss's
    gradient at that layer's output, through whatever parameter-free maps follow it."""

    def __init__(self, model: Any, index: int, z: jax.Array):
        super().__init__(model)
        self.index, self.z = index, z

    def output(self, index, layer, h):
        return h + self.z.astype(h.dtype) if index == self.index else h


def spiking_layers(params: Any, where: str) -> list:
    """The credax layers of ``params``, checked to be ``credax.spiking.LIF`` or ``LI``."""
    layers = find_layers(params)
    for i, layer in enumerate(layers):
        if not isinstance(layer, (LIF, LI)):
            raise TypeError(
                f"{where} trains spiking networks: expected every credax layer to be a "
                f"credax.spiking.LIF or LI, got {type(layer).__name__} (layer {i})"
            )
    return layers


def _chain(params: Any, layers: list, x: jax.Array, where: str) -> tuple[int, ...]:
    """The order in which the model applies its layers (found abstractly), checked to be a chain
    in which each layer feeds the next, each applied once per example."""
    shape = jax.eval_shape(lambda xx: trace(params, xx), x)
    order, steps = shape.order, shape.steps
    if any(s is not None for s in steps):
        raise ValueError(
            f"{where}: expected each spiking layer applied once per example (its dynamics run "
            f"over the whole time axis), found layers applied several times: steps {steps}"
        )
    for lower, upper in zip(order[:-1], order[1:]):
        out, inp = tuple(layers[lower].out_shape), tuple(layers[upper].in_shape)
        if out != inp:
            raise ValueError(
                f"{where} sends errors down a chain of spiking layers: expected layer {lower}'s "
                f"output (T, n) = {out} to be the input of layer {upper}, applied next, which "
                f"takes {inp}"
            )
    return order


def spike_targets(layer: Any, x: jax.Array, y: jax.Array, where: str) -> tuple[jax.Array, bool]:
    """``(y, is_spikes)``: targets with a time axis ``(B, T, n)`` for a spiking output layer are
    target spike trains, checked to be ``(B, T, n_out)`` and 0/1 (values when concrete)."""
    if not (isinstance(layer, LIF) and y.ndim == 3):
        return y, False
    want = (x.shape[0], *layer.out_shape)
    if tuple(y.shape) != want:
        raise ValueError(
            f"{where}: expected target spike trains y of shape (B, T, n_out) = {want} for the "
            f"output layer, got {tuple(y.shape)}"
        )
    return check_spikes(y, "target spike trains y").astype(layer.weight.dtype), True


def psp_adjoint(dynamics: Dynamics, delta: jax.Array) -> jax.Array:
    """``ε̃ ∗ δ``: errors ``(B, T, n)`` at the membrane sent back through the neuron's linear
    (subthreshold, reset-free) dynamics to its pre-activations, the transpose of
    ``a ↦ ε ∗ a``, so that ``Σ_t δ(t) (ε ∗ S_j)(t) = Σ_t (ε̃ ∗ δ)(t) S_j(t)``."""

    def one(d):
        zeros = jnp.zeros(d.shape, d.dtype)
        return jax.vjp(lambda a: dynamics.run(a, spiking=False)[0], zeros)[1](d)[0]

    return jax.vmap(one)(delta)


def superspike(
    loss: Loss,
    *,
    feedback: str = "symmetric",
    feedback_init: Init | None = None,
    scale: float | None = None,
) -> LearningRule:
    """SuperSpike: a voltage-based three-factor rule with symmetric or random feedback.

    Zenke & Ganguli (2018) train a synapse ``w_ij`` from neuron ``j`` onto neuron ``i`` by::

        ∂w_ij/∂t = r ∫ e_i(s) λ_ij(s) ds,      λ_ij = α ∗ (σ′(U_i) (ε ∗ S_j))

    ``S_j`` the presynaptic spike train, ``ε ∗ S_j`` its postsynaptic potential (the surrogate
    of ``∂U_i/∂w_ij`` that ignores the reset), ``σ′(U_i)`` the surrogate derivative of the
    neuron's spike at its membrane potential (``dynamics.surrogate(U − ϑ)``, the fast sigmoid's
    ``1/(β|U − ϑ| + 1)²`` by default), ``α`` the double-exponential kernel of the eligibility
    trace ``λ_ij``, and the error signal ``e_i = α ∗ (Ŝ_i − S_i)`` for an output neuron,
    ``e_i = Σ_k B_ik e_k`` for a hidden one (the errors of the layer above, before their own
    ``σ′``), ``B_ik = w_ki`` with symmetric feedback or fixed random with random feedback.

    General losses. The paper's ``e`` and ``λ`` share ``α`` because both come from its loss,
    ``L = ½ ∫ [(α ∗ (Ŝ − S))(s)]² ds``: its gradient at the output spikes is
    ``−∂L/∂S_i = α̃ ∗ e_i`` (``α̃`` the time-reversed kernel), and, the filter being linear,
    ``Σ_t e_i(t) (α ∗ f)(t) = Σ_t (α̃ ∗ e_i)(t) f(t)`` for ``f = σ′(U_i)(ε ∗ S_j)``. credax
    computes this right-hand side for any loss, with a gradient's sign::

        updates_l = Σ_t δ_l(t) (ε ∗ h_{l−1})(t)ᵀ,   δ_l = g_l ⊙ σ′(U_l),
        g_L = ∂L/∂S_L (= −α̃ ∗ e),   g_l = B_{l+1}ᵀ g_{l+1}

    (the weight change is ``−r · updates``), where ``∂L/∂S_L`` is the loss's gradient at the
    output layer's spike trains at each step, taken with ``jax.vjp`` through whatever
    parameter-free maps follow that layer (a ``credax.spiking.TimeReduce`` and softmax
    cross-entropy for a classifier), and ``B_{l+1}`` is ``W_{l+1}`` or the fixed random matrix
    in its shape. With :func:`van_rossum_loss` (the
    paper's loss; with ``tau_rise=0`` half the squared ``credax.spiking.van_rossum``) the updates
    are the paper's ``Σ_t e λ`` exactly, ``α`` the loss's kernel; with another loss, ``α̃ ∗ e``
    is that loss's gradient. The eligibility ``α`` is therefore an option of the loss, not of
    the rule: a second ``α`` on top of a loss's own kernel would filter the error twice and no
    longer descend the loss.

    How it is computed. ``credax.nets.trace`` gives each layer's presynaptic spike trains
    (``inputs``) and its membrane potential before the reset (``internals[l]["membrane"]``).
    The PSP filter is moved onto the error by the same identity, ``Σ_t δ(t) (ε ∗ S_j)(t) =
    Σ_t (ε̃ ∗ δ)(t) S_j(t)``, with ``ε`` the layer's own subthreshold dynamics
    (``Dynamics.run`` without spikes: the membrane kernel, or synaptic then membrane): ``ε̃ ∗
    δ`` is that linear map's transpose (``jax.vjp``), one filter per neuron rather than a trace
    per synapse, and ``credax.nets.local_updates`` turns it into the updates (biases, if any,
    get ``Σ_t δ(t) (ε ∗ 1)(t)``).

    Output layers. A spiking output layer (``LIF``) uses ``σ′(U)``. A leaky-integrator output
    layer (``LI``, non-spiking, output ``U``) uses ``∂U/∂w = ε ∗ S_j`` directly (no ``σ′``);
    its error is sent down alike. A non-spiking hidden layer (``LI``) likewise has no ``σ′``.

    Relation to surrogate-gradient BPTT (``credax.backprop`` through the same layers). For a
    one-layer network the updates equal BPTT's exactly when BPTT's ``∂U/∂w`` is ``ε ∗ S_j``:
    reset by subtraction with ``detach_reset=True`` and no refractory period (a detached reset
    to zero also zeroes BPTT's ``∂U/∂w`` at each of the neuron's own spikes, and a refractory
    neuron ignores its input; the paper, and this rule, ignore both). In deeper networks the
    hidden errors differ from BPTT's even with symmetric feedback: they reach a hidden layer
    without the upper layers' ``σ′`` and PSP filters (the paper's straight-through error).

    Deviations. The paper applies updates online and scales each weight's step by a running
    estimate of its gradient's magnitude (an RMSprop-like per-parameter ``r``); credax gives
    the update summed over each example's trial, averaged over the batch as the loss averages
    it, and leaves the step to the optax optimizer (``optax.rmsprop`` or ``optax.adam`` are
    close to that normalisation). The authors' published implementation also delays errors on
    their way down and adds, in hidden layers, a weight decay growing with the fourth power of
    the neuron's rate; credax has neither (hidden rates may grow under random feedback).
    Updates have the sign of a gradient, so ``optax.sgd(lr)`` descends the loss.

    Args:
        loss: ``loss(outputs, y) -> scalar`` on the model's outputs for a batch, e.g.
            ``credax.spiking.van_rossum_loss()`` for target spike trains ``y`` ``(B, T,
            n_out)``, or ``credax.losses.softmax_cross_entropy`` after a
            ``credax.spiking.TimeReduce``.
        feedback: ``"symmetric"`` (``B = Wᵀ``) or ``"random"`` (a fixed random ``B`` drawn at
            ``init``: feedback alignment for spiking networks).
        feedback_init: with random feedback, ``init(key, shape, dtype)`` drawing each ``B_l``
            (default ``credax.glorot_uniform``, the forward weights' distribution).
        scale: with random feedback, a factor on every ``B_l`` (default 1).

    Returns:
        A ``LearningRule`` (supervised; batches ``(x, y)``, ``x`` of shape ``(B, T, n_in)`` or
        whatever the model's first stage takes) with state :class:`SuperSpikeState`; its value
        is the batch loss. Its diagnostics: ``firing_rate`` (Hz) and ``spike_count`` (spikes
        per example) of each ``LIF`` layer in pytree order, and, when ``y`` is target spike
        trains, ``van_rossum``, the batch mean of ``credax.spiking.van_rossum`` between output
        and target trains (τ = 10 ms).

    Raises:
        TypeError: for a model whose credax layers are not all ``credax.spiking.LIF``/``LI``.
        ValueError: for target spike trains of another shape than the output layer's
            ``(B, T, n_out)`` or values other than 0/1, or layers that are not a chain.

    Examples:
        >>> import jax, jax.numpy as jnp, optax, credax
        >>> net = credax.nets.Sequential([
        ...     credax.spiking.LIF(50, 20, 8, key=1, weight_scale=4.0),
        ...     credax.spiking.LIF(50, 8, 1, key=2, weight_scale=4.0)])
        >>> x = credax.spiking.poisson(0, jnp.full(20, 40.0), 50)[None]
        >>> y = jnp.zeros((1, 50, 1)).at[0, 30, 0].set(1.0)
        >>> rule = credax.superspike(credax.spiking.van_rossum_loss(), feedback="random")
        >>> state = rule.init(jax.random.key(3), net)
        >>> g, state = rule.update(net, state, (x, y))
        >>> g.layers[0].weight.shape
        (8, 20)

    References:
        Zenke & Ganguli (2018). SuperSpike: supervised learning in multilayer spiking neural
        networks. Neural Computation 30, 1514-1541.
        Lillicrap, Cownden, Tweed & Akerman (2016). Random synaptic feedback weights support
        error backpropagation for deep learning. Nature Communications 7, 13276.
    """
    loss = check_loss(loss)
    if feedback not in ("symmetric", "random"):
        raise ValueError(f"superspike: expected feedback 'symmetric' or 'random', got {feedback!r}")
    random = feedback == "random"
    if not random and (feedback_init is not None or scale is not None):
        raise ValueError(
            "superspike: feedback_init and scale draw random feedback; pass feedback='random' "
            "to use them"
        )
    draw = glorot_uniform if feedback_init is None else feedback_init
    check_callable("feedback_init", draw, "init(key, shape, dtype)")
    scale = 1.0 if scale is None else check_positive("scale", scale)
    name = "superspike" if not random else "superspike (random feedback)"

    def init(key, params):
        layers = spiking_layers(params, name)
        if not random:
            return SuperSpikeState(())
        keys = jax.random.split(key, len(layers))
        return SuperSpikeState(
            tuple(scale * draw(k, l.weight.shape, l.weight.dtype) for k, l in zip(keys, layers))
        )

    def matrices(layers, state):
        if not random:
            return [layer.weight for layer in layers]
        fb = state.feedback
        if not isinstance(fb, (tuple, list)) or [jnp.shape(b) for b in fb] != [
            layer.weight.shape for layer in layers
        ]:
            raise ValueError(
                f"{name}: expected feedback matrices of shapes "
                f"{[layer.weight.shape for layer in layers]}, got "
                f"{[jnp.shape(b) for b in fb] if isinstance(fb, (tuple, list)) else fb!r}"
            )
        return list(fb)

    def update(params, state, batch):
        layers = spiking_layers(params, name)
        x, y = supervised_batch(params, batch)
        order = _chain(params, layers, x, name)
        last = order[-1]
        y, _ = spike_targets(layers[last], x, y, name)
        fb = matrices(layers, state)
        out_shape = (x.shape[0], *layers[last].out_shape)

        def probed(z):
            def one(xi, zi):
                with _OutputTap(params, last, zi):
                    return params(xi)

            return loss(jax.vmap(one)(x, z), y)

        value, g = jax.value_and_grad(probed)(jnp.zeros(out_shape, layers[last].weight.dtype))
        t = trace(params, x)
        deltas: list = [None] * len(layers)
        for k in range(len(order) - 1, -1, -1):
            i = order[k]
            layer = layers[i]
            if k < len(order) - 1:  # the error of the layer above, through its feedback
                g = jnp.einsum("...o,oi->...i", g, fb[order[k + 1]].astype(g.dtype))
            delta = g
            if isinstance(layer, LIF):
                u = t.internals[i]["membrane"]
                delta = g * layer.dynamics.surrogate(u - layer.dynamics.threshold).astype(g.dtype)
            deltas[i] = psp_adjoint(layer.dynamics, delta)
        return local_updates(params, t.inputs, deltas), state, value

    def diagnostics(params, state, batch):
        del state
        layers = spiking_layers(params, name)
        x, y = supervised_batch(params, batch)
        order = _chain(params, layers, x, name)
        y, is_spikes = spike_targets(layers[order[-1]], x, y, name)
        t = trace(params, x)
        out = {}  # firing rates and spike counts: every rule's evaluation records them
        if is_spikes:
            last = layers[order[-1]]
            dist = jax.vmap(
                lambda s, target: van_rossum(s, target, DIAGNOSTIC_TAU, dt=last.dynamics.dt)
            )
            out["van_rossum"] = jnp.mean(dist(t.outputs[order[-1]], y))
        return out

    return make_rule(
        "superspike",
        init,
        update_with_value=update,
        diagnostics=diagnostics,
        task=SUPERVISED,
    )
