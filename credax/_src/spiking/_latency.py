"""Spike-latency coding with exact spike-time gradients (Mostafa 2017, paper 000 §4.4).

Every neuron fires at most once, and what it says is *when*. The neurons are non-leaky
integrate-and-fire units whose synapses inject exponentially decaying currents,

    dV/dt = Σ_i w_i κ(t − t_i),    κ(s) = Θ(s) exp(−s/τ_syn) / τ_syn,

so that an input spike at ``t_i`` eventually adds ``w_i`` to the membrane potential and

    V(t) = Σ_{i: t_i < t} w_i (1 − exp(−(t − t_i)/τ_syn)).

(Mostafa works in units of ``τ_syn = 1``, where the ``1/τ_syn`` makes no difference; credax keeps
it so that a weight is the potential a spike adds in the end whatever the unit of time.) In the
z-domain ``z = exp(t/τ_syn)`` the neuron's first spike, where ``V`` reaches the threshold ``ϑ``
(1 in the paper), is a ratio of sums over its *causal set* ``C``, the inputs that spiked before
it (Mostafa's spike-time equation, with a threshold ``ϑ`` in place of 1):

    z_out = Σ_{i∈C} w_i z_i / (Σ_{i∈C} w_i − ϑ).

``C`` is found by sorting the input spikes: the first prefix of the sorted inputs with
``Σ_{i∈C} w_i > ϑ`` whose ``z_out`` falls before the next input spike (credax tests the
equivalent ``V(t_next) ≥ ϑ`` on the prefix sums, which rounding cannot make miss a spike that
lands on an input time). Where ``C`` does not change the map is smooth, so its gradients are
exact almost everywhere; they are Mostafa's

    ∂z_out/∂z_i = w_i / (Σ_{j∈C} w_j − ϑ),    ∂z_out/∂w_i = (z_i − z_out) / (Σ_{j∈C} w_j − ϑ)

for ``i ∈ C`` and 0 otherwise, which :func:`first_spike` implements as its derivative (a
``jax.custom_jvp``: forward and reverse mode both use them; ``tests/test_spike_latency.py`` checks
them against central differences and against autodiff of the closed form).

A neuron that never reaches the threshold has ``z = +inf`` (``t = ∞``): in the next layer it is an
input that never spikes (it belongs to no causal set and gets no gradient). Classification reads
which output neuron fires first: the loss is the softmax cross-entropy of ``−z_out`` (the correct
output should spike first), whose logits :class:`FirstSpike` computes at the end of a latency
network (a silent output reads as a finite spike after every other, without gradient). A neuron
whose input weights sum to at most ``ϑ`` cannot fire when all its inputs spike, so Mostafa adds a
cost on such weight sums that makes them fire again (:func:`weight_sum_cost`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from credax._src.batches import SUPERVISED, supervised_batch
from credax._src.checks import as_key, check_count, check_positive, is_number
from credax._src.losses import softmax_cross_entropy
from credax._src.nets._containers import Sequential
from credax._src.nets._dense import check_size
from credax._src.nets._layer import Layer, active_hooks
from credax._src.nets._select import find_layers
from credax._src.nets._trace import trace
from credax._src.rule import LearningRule, check_loss, forward, init_empty, make_rule

# --- the exact first spike ------------------------------------------------------------------------


def _concrete(x: Any) -> bool:
    return not isinstance(x, jax.core.Tracer)


def check_z(z: Any, name: str = "input spike times z") -> None:
    """Spike times in the z-domain: ``z = exp(t/τ_syn) ≥ 1`` (``t ≥ 0``) or ``+inf`` (no spike),
    never NaN; checked when concrete."""
    if not _concrete(z):
        return
    v = np.asarray(z)
    if v.size == 0:
        return
    if np.isnan(v).any():
        raise ValueError(f"expected {name} without NaN (+inf for an input that never spikes)")
    if v.min() < 1:
        raise ValueError(
            f"expected {name} = exp(t/τ_syn) >= 1, i.e. spike times t >= 0 (+inf for no spike), "
            f"got z down to {v.min():.4g} (t = {np.log(max(v.min(), 1e-300)):.4g} τ_syn)"
        )


def _cumsum(a: jax.Array) -> jax.Array:
    """``cumsum`` over the last axis in two levels of triangular matmuls (blocks of ``√n``): the
    same sums up to rounding, faster on a CPU than ``jnp.cumsum`` for the ``(n_out, n_in)``
    arrays of a layer (about 1.5x for 784 inputs and 800 neurons)."""
    n = a.shape[-1]
    blk = math.isqrt(n - 1) + 1 if n > 64 else n
    nb = -(-n // blk)
    if nb == 1:
        return jnp.cumsum(a, axis=-1)
    pad = [(0, 0)] * (a.ndim - 1) + [(0, nb * blk - n)]
    a = jnp.pad(a, pad).reshape(*a.shape[:-1], nb, blk)
    inner = jnp.einsum(
        "...bi,ij->...bj",
        a,
        jnp.triu(jnp.ones((blk, blk), a.dtype)),
        precision=jax.lax.Precision.HIGHEST,
    )
    before = jnp.einsum(
        "...i,ij->...j",
        inner[..., -1],
        jnp.triu(jnp.ones((nb, nb), a.dtype), 1),
        precision=jax.lax.Precision.HIGHEST,
    )
    return (inner + before[..., None]).reshape(*a.shape[:-2], nb * blk)[..., :n]


def _solve(weight: jax.Array, z: jax.Array, threshold: float):
    """``(z_out, causal, excess)`` for one example: the output spikes ``(n_out,)`` (``+inf`` for a
    neuron that does not fire), the causal sets ``(n_out, n_in)`` and ``Σ_{i∈C} w_i − ϑ``
    ``(n_out,)`` (1 where the neuron does not fire)."""
    n_in = z.shape[0]
    spikes = z != jnp.inf
    order = jnp.argsort(jnp.where(spikes, z, jnp.inf))  # earliest first, silent inputs last
    z_sorted = jnp.where(spikes, z, jnp.inf)[order]
    fired = spikes[order]
    z0 = jnp.where(fired, z_sorted, 0.0)
    w_sorted = jnp.where(fired[None, :], jnp.take(weight, order, axis=1), 0.0)
    sums = _cumsum(jnp.stack([w_sorted, w_sorted * z0[None, :]]))
    w_cum, s_cum = sums[0], sums[1]  # Σ_{j≤k} w_j and Σ_{j≤k} w_j z_j
    excess = w_cum - threshold
    nxt = jnp.concatenate([z_sorted[1:], jnp.full((1,), jnp.inf, z.dtype)])
    last = ~jnp.isfinite(nxt)
    # V(t) at the next input spike, Σw − Σwz/z_next, has reached ϑ (or, after the last input
    # spike, V(∞) = Σw exceeds it): the first such prefix is the causal set.
    reached = last[None, :] | (s_cum <= excess * jnp.where(last, 0.0, nxt)[None, :])
    ok = (excess > 0) & fired[None, :] & reached
    k = jnp.argmax(ok, axis=1)
    fires = jnp.any(ok, axis=1)
    exc = jnp.take_along_axis(excess, k[:, None], axis=1)[:, 0]
    num = jnp.take_along_axis(s_cum, k[:, None], axis=1)[:, 0]
    exc = jnp.where(fires, exc, 1.0)
    # Not before its last causal input (which rounding could otherwise give by a few ulps).
    z_out = jnp.where(fires, jnp.maximum(num / exc, jnp.take(z_sorted, k)), jnp.inf)
    rank = jnp.zeros((n_in,), jnp.int32).at[order].set(jnp.arange(n_in, dtype=jnp.int32))
    causal = fires[:, None] & spikes[None, :] & (rank[None, :] <= k[:, None])
    bad = jnp.isnan(z).any() | jnp.isnan(weight).any(axis=1)
    return jnp.where(bad, jnp.nan, z_out), causal, exc


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _first_spike(weight: jax.Array, z: jax.Array, threshold: float) -> jax.Array:
    return _solve(weight, z, threshold)[0]


@_first_spike.defjvp
def _first_spike_jvp(threshold, primals, tangents):
    weight, z = primals
    dw, dz = tangents
    z_out, causal, exc = _solve(weight, z, threshold)
    zi = jnp.where(z != jnp.inf, z, 0.0)
    zo = jnp.where(jnp.isfinite(z_out), z_out, 0.0)
    # Mostafa's gradients, ∂z_out/∂w_i = (z_i − z_out)/(Σ_C w − ϑ) and ∂z_out/∂z_i = w_i/(Σ_C w − ϑ)
    # on i ∈ C, written so that the backward pass keeps only the causal mask per example.
    dw_c = jnp.where(causal, dw, 0.0)
    t = (
        dw_c @ zi
        - zo * jnp.sum(dw_c, axis=1)
        + jnp.sum(jnp.where(causal, weight * dz[None, :], 0.0), axis=1)
    )
    return z_out, t / exc


# Compiled once per shape when called outside a transformation (inlined inside one): an eager
# call would otherwise dispatch the sort-and-cumsum pipeline op by op.
_first_spike_fn = jax.jit(_first_spike, static_argnums=2)
_causal_fn = jax.jit(lambda w, z, threshold: _solve(w, z, threshold)[1], static_argnums=2)


def _check_args(weight: Any, z: Any, threshold: Any) -> tuple[jax.Array, jax.Array, float]:
    threshold = check_positive("threshold", threshold)
    weight, z = jnp.asarray(weight), jnp.asarray(z)
    if weight.ndim != 2:
        raise ValueError(f"expected weight of shape (n_out, n_in), got shape {weight.shape}")
    if z.ndim != 1 or z.shape[0] != weight.shape[1]:
        raise ValueError(
            f"expected input spike times z of shape ({weight.shape[1]},) for weight of shape "
            f"{weight.shape} (one example: map a batch with jax.vmap), got shape {z.shape}"
        )
    for name, a in (("weight", weight), ("z", z)):
        if not jnp.issubdtype(a.dtype, jnp.floating):
            raise TypeError(f"expected real floating-point {name}, got dtype {a.dtype}")
    check_z(z)
    dtype = jnp.result_type(weight.dtype, z.dtype)
    return weight.astype(dtype), z.astype(dtype), threshold


def first_spike(weight: jax.typing.ArrayLike, z: jax.typing.ArrayLike, *, threshold: float = 1.0):
    """The exact first spike of each of a layer's neurons in the z-domain (Mostafa 2017).

    ``z_out = Σ_{i∈C} w_i z_i / (Σ_{i∈C} w_i − ϑ)`` with ``C`` the causal set of each neuron (the
    module docstring); its derivative is Mostafa's, ``∂z_out/∂w_i = (z_i − z_out)/(Σ_C w − ϑ)``
    and ``∂z_out/∂z_i = w_i/(Σ_C w − ϑ)`` on ``C``, exact wherever the causal sets do not change
    (almost everywhere).

    Args:
        weight: ``w``, shape ``(n_out, n_in)``.
        z: one example's input spikes ``z_i = exp(t_i/τ_syn)``, shape ``(n_in,)``: ``≥ 1``
            (``t ≥ 0``) or ``+inf`` for an input that does not spike.
        threshold: ``ϑ > 0``, the firing threshold (1 in the paper).

    Returns:
        ``z_out`` of shape ``(n_out,)``; ``+inf`` for a neuron that never reaches ``ϑ``.

    Examples:
        Two inputs at ``t = 0`` and ``t = ln 2`` (``z = 1, 2``) with weights 1: the potential
        ``2 − 3/z`` reaches 1 at ``z = 3``; one weight of 0.5 alone never does:

        >>> import jax.numpy as jnp
        >>> first_spike(jnp.array([[1.0, 1.0], [0.5, 0.0]]), jnp.array([1.0, 2.0]))
        Array([ 3., inf], dtype=float32)

    References:
        Mostafa (2017). Supervised learning based on temporal coding in spiking neural networks.
        IEEE Transactions on Neural Networks and Learning Systems 29, 3227-3235.
    """
    weight, z, threshold = _check_args(weight, z, threshold)
    return _first_spike_fn(weight, z, threshold)


def causal_set(weight: jax.typing.ArrayLike, z: jax.typing.ArrayLike, *, threshold: float = 1.0):
    """The causal set of each neuron: a boolean ``(n_out, n_in)`` mask of the inputs that spiked
    before it (all False for a neuron that does not fire). Arguments as :func:`first_spike`."""
    weight, z, threshold = _check_args(weight, z, threshold)
    return _causal_fn(weight, z, threshold)


# --- layers ---------------------------------------------------------------------------------------


def _drive(weight: jax.Array, z: jax.Array) -> jax.Array:
    """``Σ_i w_i z_i`` over the inputs that spike: the numerator of ``z_out`` if every one of them
    were causal (the layer's recorded pre-activation)."""
    return weight @ jnp.where(jnp.isinf(z), 0.0, z)


def _no_activation(a: jax.Array) -> jax.Array:
    raise TypeError(
        "LatencyDense has no activation of a pre-activation: its spike times depend on the order "
        "of its input spikes, so it computes them from its input (call the layer)"
    )


class LatencyDense(Layer):
    """A dense layer of non-leaky integrate-and-fire neurons with exponential synaptic currents,
    coding by first-spike latency (Mostafa 2017).

    One example's input is the spike of each of ``in_features`` neurons in the z-domain,
    ``z_i = exp(t_i/τ_syn)`` (``+inf`` for no spike); the output is each neuron's first spike
    :func:`first_spike`, ``(out_features,)``, ``+inf`` where it never fires. Differentiating
    through the layer gives Mostafa's exact gradients, so ``credax.backprop`` on a network of these
    layers is the paper's training (without its weight cost: see ``credax.spike_latency``).

    The layer fits credax's contract where it can: ``weight``, ``bias`` (None: the neurons are
    driven by their synapses alone), ``in_shape``, ``out_shape``, and ``linear``, ``f(W, z) = W z``
    over the inputs that spike (the numerator of ``z_out`` if every input were causal). Its output
    is not a function of that pre-activation alone (it depends on the order of the input spikes),
    so the layer computes it from its input: ``credax.nets.trace`` records ``W z`` as the
    pre-activation, ``z_out`` as the output, and ``causal_size``, the number of inputs in each
    neuron's causal set (0 for a silent neuron), as an internal quantity; rules that change a
    layer's linear map or its pre-activation (feedback alignment and its kin, perturbation rules)
    are refused with an error.

    Attributes:
        weight: ``w``, shape ``(out_features, in_features)``.
        bias: None.
        threshold: ``ϑ``, the firing threshold.
    """

    weight: jax.Array
    bias: None
    threshold: float = eqx.field(static=True)

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        key: Any,
        threshold: float = 1.0,
        weight_mean: float | None = None,
        weight_std: float | None = None,
        dtype=jnp.float32,
    ):
        """Gaussian weights ``w ~ N(μ, σ²)``, by default ``μ = 2ϑ/n_in`` and ``σ = ϑ/√n_in``
        (``weight_mean``, ``weight_std``; credax's choice): each neuron's weights sum to about
        ``2ϑ ± ϑ``, so that most neurons fire once enough of their inputs have spiked (the
        weight-sum cost of ``credax.spike_latency`` lifts the others)."""
        n_in = check_size("in_features", in_features)
        n_out = check_size("out_features", out_features)
        self.threshold = check_positive("threshold", threshold)
        mean = 2.0 * self.threshold / n_in if weight_mean is None else weight_mean
        std = self.threshold / math.sqrt(n_in) if weight_std is None else weight_std
        if not is_number(mean) or not math.isfinite(mean):
            raise TypeError(f"expected weight_mean to be a finite number, got {weight_mean!r}")
        std = check_positive("weight_std", std, allow_zero=True)
        key = as_key(key, "LatencyDense key")
        self.weight = float(mean) + std * jax.random.normal(key, (n_out, n_in), dtype)
        self.bias = None

    @property
    def activation(self):
        return _no_activation

    @property
    def linear(self):
        return _drive

    @property
    def in_shape(self):
        return (self.weight.shape[1],)

    @property
    def out_shape(self):
        return (self.weight.shape[0],)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        if x.shape != tuple(self.in_shape):
            hint = " (map a batch with jax.vmap)" if x.ndim > 1 else ""
            raise ValueError(
                f"LatencyDense expects one example of input spike times z of shape "
                f"{tuple(self.in_shape)}, got an array of shape {x.shape}{hint}"
            )
        if not jnp.issubdtype(x.dtype, jnp.floating):
            raise TypeError(f"LatencyDense expects real spike times z, got dtype {x.dtype}")
        check_z(x)
        x = x.astype(self.weight.dtype)
        hooks = active_hooks()
        if not hooks:
            return _first_spike_fn(self.weight, x, self.threshold)
        sites = [(hook, hook.site(self)) for hook in hooks]
        for hook, i in sites:
            if hook.linear(i, self, x) is not None:
                raise ValueError(_REFUSED.format(what="its linear map (feedback-path rules)"))
        a = self.preactivation(x)
        for hook, i in sites:
            if hook.preactivation(i, self, a) is not a:
                raise ValueError(_REFUSED.format(what="its pre-activation (perturbation rules)"))
        h = _first_spike_fn(self.weight, x, self.threshold)
        for hook, i in sites:
            h = hook.output(i, self, h)
        w, z = jax.lax.stop_gradient(self.weight), jax.lax.stop_gradient(x)
        exposed = {"causal_size": jnp.sum(_causal_fn(w, z, self.threshold), axis=1).astype(h.dtype)}
        for hook, i in sites:
            hook.record(i, self, x, a, h, exposed)
        return h


_REFUSED = (
    "LatencyDense computes spike times from the order of its input spikes, not from a "
    "pre-activation, so a rule cannot change {what}; train it with credax.spike_latency or "
    "credax.backprop"
)


class LatencyEncode(eqx.Module):
    """Intensities to input spike times in the z-domain: the stronger, the earlier.

    One example ``x`` (any shape, flattened) is scaled to ``u = clip((x − lo)/(hi − lo), 0, 1)``;
    each input spikes once at ``t = t_max (1 − u)`` and is given as ``z = exp(t/τ_syn)``, so the
    brightest pixels spike at ``t = 0`` (``z = 1``) and the darkest at ``t_max``: Mostafa's
    latency code of pixel intensities, early spikes for bright pixels and late ones for dark
    pixels. By default every pixel spikes, so that dark pixels are evidence too (an input that
    never spikes belongs to no causal set and passes no gradient). With ``binarize=b`` the
    intensity is first thresholded, ``u ← [u > b]``, a code of two spike times. With
    ``silent_below=s``, inputs with ``u ≤ s`` (before any binarizing) do not spike
    (``z = +inf``).

    Attributes:
        t_max: the latest spike time (in the unit of ``tau_syn``).
        tau_syn: ``τ_syn``, the synaptic time constant.
        lo, hi: the intensities mapped to ``u = 0`` and ``u = 1``.
        binarize: None, or the threshold in ``u`` of a two-time code.
        silent_below: None, or the level of ``u`` at or below which an input does not spike.
    """

    t_max: float = eqx.field(static=True)
    tau_syn: float = eqx.field(static=True)
    lo: float = eqx.field(static=True)
    hi: float = eqx.field(static=True)
    binarize: float | None = eqx.field(static=True)
    silent_below: float | None = eqx.field(static=True)
    size: int | None = eqx.field(static=True)

    def __init__(
        self,
        *,
        t_max: float = 1.0,
        tau_syn: float = 1.0,
        lo: float = 0.0,
        hi: float = 1.0,
        binarize: float | None = None,
        silent_below: float | None = None,
        size: int | None = None,
    ):
        self.t_max = check_positive("t_max", t_max)
        self.tau_syn = check_positive("tau_syn", tau_syn)
        for name, v in (("lo", lo), ("hi", hi)):
            if not is_number(v) or not math.isfinite(v):
                raise TypeError(f"expected {name} to be a finite number, got {v!r}")
        if not lo < hi:
            raise ValueError(f"expected lo < hi for the encoder's scaling, got {lo}, {hi}")
        self.lo, self.hi = float(lo), float(hi)
        for name, v in (("binarize", binarize), ("silent_below", silent_below)):
            if v is not None and not (is_number(v) and 0 <= v < 1):
                raise ValueError(f"expected {name} to be None or a number in [0, 1), got {v!r}")
        self.binarize = None if binarize is None else float(binarize)
        self.silent_below = None if silent_below is None else float(silent_below)
        self.size = None if size is None else check_count("size", size)

    @property
    def in_shape(self) -> tuple[int, ...] | None:
        """``(size,)``: the number of values of one example, when known (``latency_network``
        sets it), so that credax checks batches before running the model."""
        return None if self.size is None else (self.size,)

    def sized(self, size: int) -> LatencyEncode:
        """This encoder for examples of ``size`` values."""
        kw = {k: getattr(self, k) for k in ("t_max", "tau_syn", "lo", "hi", "binarize")}
        return LatencyEncode(silent_below=self.silent_below, size=size, **kw)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.number) or jnp.issubdtype(x.dtype, jnp.complexfloating):
            raise TypeError(f"LatencyEncode expects real intensities, got dtype {x.dtype}")
        x = jnp.reshape(x, (-1,)).astype(jnp.float32)
        if self.size is not None and x.shape[0] != self.size:
            raise ValueError(
                f"LatencyEncode expects one example of {self.size} values, got {x.shape[0]}"
            )
        if _concrete(x) and x.size and not np.all(np.isfinite(np.asarray(x))):
            raise ValueError("LatencyEncode expects finite intensities")
        u = jnp.clip((x - self.lo) / (self.hi - self.lo), 0.0, 1.0)
        silent = None if self.silent_below is None else u <= self.silent_below
        if self.binarize is not None:
            u = (u > self.binarize).astype(u.dtype)
        z = jnp.exp(self.t_max * (1.0 - u) / self.tau_syn)
        return z if silent is None else jnp.where(silent, jnp.inf, z)


class FirstSpike(eqx.Module):
    """The readout of a latency network: logits ``−z_out``, so that the output neuron that fires
    first has the largest logit and a softmax cross-entropy on them is Mostafa's loss,
    ``−ln(exp(−z_g) / Σ_k exp(−z_k))`` for the correct class ``g``.

    A neuron that does not fire (``z = +inf``) reads as a spike at ``max(cap, z_latest) + 1``,
    with ``z_latest`` the latest spike among the example's outputs: after every spike, so it never
    wins, and finite, so the loss stays finite; it carries no gradient (nothing in the network
    moves a spike that does not happen; the weight-sum cost of ``credax.spike_latency`` makes a
    neuron whose weights are too small fire again). Spikes that do happen are read exactly,
    however late, so that their gradient is never cut.

    Attributes:
        cap: the least ``z`` a silent output reads as (default ``1e3``: ``t ≈ 6.9 τ_syn``).
    """

    cap: float = eqx.field(static=True)

    def __init__(self, cap: float = 1e3):
        self.cap = check_positive("cap", cap)
        if self.cap < 1:
            raise ValueError(f"expected cap >= 1 (z = exp(t/τ_syn) at t >= 0), got {cap}")

    def __call__(self, z: jax.Array) -> jax.Array:
        silent = z == jnp.inf  # NaN stays NaN
        latest = jax.lax.stop_gradient(jnp.max(jnp.where(silent, 0.0, z), initial=self.cap))
        return -jnp.where(silent, latest + 1.0, z)


def latency_network(
    sizes: Sequence[int],
    *,
    key: Any,
    encode: LatencyEncode | None = None,
    threshold: float = 1.0,
    cap: float | None = 1e3,
    weight_mean: float | None = None,
    weight_std: float | None = None,
) -> Sequential:
    """A feedforward latency network: ``[encode,] LatencyDense, ..., LatencyDense[, FirstSpike]``.

    Args:
        sizes: ``[n_in, hidden..., n_out]``.
        key: a PRNG key or an int seed.
        encode: a :class:`LatencyEncode` turning raw examples into input spikes, or None for a
            network whose input is already ``z`` ``(n_in,)``.
        threshold: ``ϑ`` of every layer.
        cap: the :class:`FirstSpike` readout's cap, giving logits; None to output ``z_out``.
        weight_mean, weight_std: the weights' initial distribution (see :class:`LatencyDense`).

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> net = latency_network([4, 8, 3], key=0, encode=LatencyEncode())
        >>> jax.vmap(net)(jnp.full((2, 4), 0.5)).shape
        (2, 3)
    """
    sizes = [check_count("sizes", n) for n in sizes]
    if len(sizes) < 2:
        raise ValueError(f"expected sizes [n_in, ..., n_out] with at least 2 entries, got {sizes}")
    if encode is not None and not isinstance(encode, LatencyEncode):
        raise TypeError(f"expected encode to be a LatencyEncode or None, got {encode!r}"[:200])
    if encode is not None:
        if encode.size is not None and encode.size != sizes[0]:
            raise ValueError(f"encode.size {encode.size} differs from the input size {sizes[0]}")
        encode = encode.sized(sizes[0])
    keys = jax.random.split(as_key(key, "latency_network key"), len(sizes) - 1)
    layers: list = [] if encode is None else [encode]
    for n_in, n_out, k in zip(sizes[:-1], sizes[1:], keys):
        layers.append(
            LatencyDense(
                n_in,
                n_out,
                key=k,
                threshold=threshold,
                weight_mean=weight_mean,
                weight_std=weight_std,
            )
        )
    if cap is not None:
        layers.append(FirstSpike(cap))
    return Sequential(layers)


# --- the rule -------------------------------------------------------------------------------------


def latency_layers(params: Any, where: str = "spike_latency") -> list[LatencyDense]:
    """The model's credax layers, every one a :class:`LatencyDense`, or a one-line error."""
    layers = find_layers(params)
    for i, layer in enumerate(layers):
        if not isinstance(layer, LatencyDense):
            raise ValueError(
                f"{where}: expected a network of credax.spiking.LatencyDense layers (e.g. "
                f"credax.spiking.latency_network), got layer {i} {type(layer).__name__}"
            )
    return layers


def weight_sum_cost(params: Any) -> jax.Array:
    """Mostafa's weight-sum cost, ``Σ_l Σ_j max(0, ϑ − Σ_i w_ji)`` over every neuron ``j`` of
    every :class:`LatencyDense` layer: positive for each neuron whose input weights sum to at most
    its threshold (one that cannot fire when all its inputs spike), zero otherwise."""
    layers = latency_layers(params, "weight_sum_cost")
    return sum(
        jnp.sum(jax.nn.relu(layer.threshold - jnp.sum(layer.weight, axis=1))) for layer in layers
    )


def _check_batch(params: Any, x: jax.Array) -> None:
    """Spike times fed straight to a first latency layer are checked like its input."""
    if isinstance(params, Sequential) and params.layers and isinstance(params.layers[0], Layer):
        check_z(x, "input spike times z (the batch's x)")


def spike_latency(loss=None, *, weight_cost: float = 1.0) -> LearningRule:
    """Mostafa's exact spike-time gradient for latency-coded networks of :class:`LatencyDense`.

    ``updates = ∇_w (L + K·WSC)``, the gradient of the paper's objective (a gradient's sign:
    descent subtracts it), through the exact spike-time map (:func:`first_spike`: Mostafa's
    closed form and its gradients, exact almost everywhere), where

    - ``L`` is ``loss`` on the network's output, by default the softmax cross-entropy of the
      readout's logits ``−z_out`` (:class:`FirstSpike`): ``L = −ln(exp(−z_g) / Σ_k exp(−z_k))``,
      the correct output ``g`` should spike first;
    - ``WSC = Σ_l Σ_j max(0, ϑ − Σ_i w_ji)`` is the weight-sum cost (:func:`weight_sum_cost`),
      which raises the input weights of every neuron whose weights sum to at most the threshold,
      so that it can fire again, and ``K`` is ``weight_cost``. Mostafa penalises such neurons
      with a cost of this kind; this hinge (zero for a neuron that can fire, linear in its
      deficit below ``ϑ``) is credax's form of it.

    The exact gradient is unbounded: a neuron whose causal weights sum to just above ``ϑ`` fires
    arbitrarily late and is arbitrarily sensitive to its inputs (``1/(Σ_C w − ϑ)``). Train with a
    clipped optimizer, e.g. ``optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-3))``
    (``benchmarks/spike_latency.py``); without clipping, one such step can inflate Adam's
    second-moment estimate enough to stall training for hundreds of steps.

    With ``weight_cost=0`` the rule is ``credax.backprop(loss)`` on these layers exactly (every
    derivative through a layer is Mostafa's closed form, so backprop is his training; this rule
    adds the weight-sum cost and refuses other models).

    Args:
        loss: ``loss(outputs, y)``; default ``credax.losses.softmax_cross_entropy``, Mostafa's
            loss on the logits of :class:`FirstSpike`.
        weight_cost: ``K ≥ 0``.

    Returns:
        A ``LearningRule`` (supervised) with state ``credax.EmptyState``; its value is the
        batch loss ``L`` (as every supervised rule's; the updates descend ``L + K·WSC``). Its
        diagnostics record per layer ``silent_fraction`` (of neurons
        that do not fire, over the probe batch), ``causal_fraction`` (mean size of the causal
        sets of the neurons that fire, as a fraction of the layer's inputs),
        ``below_threshold_fraction`` (of neurons whose weights sum to at most ``ϑ``), and
        ``decision_time``, the mean time of the first output spike in units of ``τ_syn``
        (``ln z``, over the examples where some output fires).

    Raises:
        ValueError: at ``init`` or ``update``, for a model whose credax layers are not all
            :class:`LatencyDense`.

    Examples:
        >>> import jax.numpy as jnp
        >>> net = latency_network([4, 6, 2], key=0, encode=LatencyEncode())
        >>> rule = spike_latency()
        >>> batch = (jnp.full((3, 4), 0.7), jnp.array([0, 1, 0]))
        >>> g, _ = rule.update(net, rule.init(0, net), batch)
        >>> g.layers[1].weight.shape
        (6, 4)

    References:
        Mostafa (2017). Supervised learning based on temporal coding in spiking neural networks.
        IEEE Transactions on Neural Networks and Learning Systems 29, 3227-3235.
        "Plasticity as optimization", chapter in credax's sources (paper 000), §4.4.
    """
    loss = softmax_cross_entropy if loss is None else check_loss(loss)
    k = check_positive("weight_cost", weight_cost, allow_zero=True)

    def init(key, params):
        latency_layers(params)
        return init_empty(key, params)

    def objective(params, x, y):
        value = loss(forward(params, x), y)
        return (value + k * weight_sum_cost(params) if k else value), value

    def update_with_value(params, state, batch):
        x, y = supervised_batch(params, batch)
        latency_layers(params)
        _check_batch(params, x)
        (_, value), grads = eqx.filter_value_and_grad(objective, has_aux=True)(params, x, y)
        return grads, state, value

    def diagnostics(params, state, batch):
        del state
        x, _ = supervised_batch(params, batch)
        layers = latency_layers(params)
        t = trace(params, x)
        silent, causal, below = [], [], []
        for layer, h, inner in zip(layers, t.outputs, t.internals):
            fires = jnp.isfinite(h)
            silent.append(jnp.mean((~fires).astype(jnp.float32)))
            n = jnp.maximum(jnp.sum(fires), 1)
            causal.append(jnp.sum(inner["causal_size"]) / n / layer.in_shape[0])
            below.append(jnp.mean(jnp.sum(layer.weight, axis=1) <= layer.threshold))
        first = jnp.min(t.outputs[-1], axis=1)
        some = jnp.isfinite(first)
        when = jnp.sum(jnp.where(some, jnp.log(jnp.where(some, first, 1.0)), 0.0))
        return {
            "silent_fraction": jnp.stack(silent),
            "causal_fraction": jnp.stack(causal).astype(jnp.float32),
            "below_threshold_fraction": jnp.stack(below).astype(jnp.float32),
            "decision_time": when / jnp.maximum(jnp.sum(some), 1),
        }

    return make_rule(
        "spike_latency",
        init,
        update_with_value=update_with_value,
        diagnostics=diagnostics,
        task=SUPERVISED,
    )
