"""The feedback-path family: rules that replace backprop's transposed forward weights ``W_lᵀ``
on the backward path.

Backprop sends the error at layer ``l``'s pre-activation, ``δ_l``, to the layer below as
``δ_{l-1} = (W_lᵀ δ_l) ⊙ σ'(a_{l-1})``. The rules here change only that transport:

- feedback alignment: a fixed random ``B_l`` in place of ``W_l``;
- sign symmetry: ``B_l`` shares the sign of ``W_l``, with uniform or random magnitudes;
- Kolen-Pollack and weight mirror: ``B_l`` learns, by its own local rule, to approach ``W_l``;
- direct feedback alignment: every hidden layer receives the output error ``e`` through its own
  fixed ``B_l`` instead of the error of the layer above.

Each weight update is then the usual local product of the error a layer receives and its input,
so with ``B_l = W_l`` (and for the output layer always) it equals backprop's.

Batches are checked when a rule is traced, shapes only: under ``jax.jit`` integer labels
outside ``[0, n_out)`` are not seen and give finite updates (``credax.tasks.check`` checks the
values; ``credax.train.make_fit`` checks its data before compiling).

Shapes: for feedback-path rules ``B_l`` has the shape of ``W_l`` (``(out, in)`` for a dense
layer, ``(out_c, in_c, kh, kw)`` for a convolution), and the backward pass uses ``B_lᵀ`` where
backprop uses ``W_lᵀ``. The first layer's ``B`` is carried for uniformity but never used: nothing
lies below it. Updates have the sign of a gradient.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from credax._src.batches import SUPERVISED, supervised_batch
from credax._src.checks import check_callable, check_count, check_flag, check_positive
from credax._src.feedback._metrics import feedback_angles
from credax._src.feedback._transport import Direct, transported_gradients
from credax._src.nets._layer import Hook
from credax._src.nets._select import find_layers, map_layers
from credax._src.nets._trace import call_order
from credax._src.rule import LearningRule, Loss, check_loss, forward, make_rule

Init = Callable[[jax.Array, tuple[int, ...], jnp.dtype], jax.Array]


def glorot_uniform(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
    """Glorot-uniform draw, the default for feedback matrices (as for forward weights).

    For a matrix of shape ``(out, in, *kernel)``, bound ``sqrt(6 / (fan_in + fan_out))`` with
    ``fan_in = in·prod(kernel)`` and ``fan_out = out·prod(kernel)``.
    """
    bound = math.sqrt(6.0 / sum(_fans(shape)))
    return jax.random.uniform(key, shape, dtype, -bound, bound)


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    receptive = math.prod(shape[2:]) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _glorot_std(shape: tuple[int, ...]) -> float:
    return math.sqrt(2.0 / sum(_fans(shape)))


def _weights(params) -> list[jax.Array]:
    return [layer.weight for layer in find_layers(params)]


def _draw(key: jax.Array, weights: Sequence[jax.Array], init: Init, scale: float) -> tuple:
    keys = jax.random.split(key, len(weights))
    return tuple(scale * init(k, w.shape, w.dtype) for k, w in zip(keys, weights))


def feedback_gradients(loss: Loss, params, matrices: Sequence[jax.Array], batch) -> tuple:
    """Updates of a feedback-path rule whose ``l``-th layer sends errors down through
    ``matrices[l]`` (each the shape of that layer's weight). Returns ``(updates, loss_value)``."""
    x, y = supervised_batch(params, batch)
    value, grads = transported_gradients(lambda p: loss(forward(p, x), y), params, matrices)
    return grads, value


def feedback_diagnostics(params, state, batch) -> dict[str, jax.Array]:
    """The records of a rule with ``W``-shaped feedback ``state.feedback``: per layer, the angle
    in degrees between ``W_l`` and ``B_l`` (``credax.metrics.feedback_angles``)."""
    del batch
    return {"feedback_angles": feedback_angles(params, state.feedback)}


def _check_matrices(params, feedback: Sequence[jax.Array]) -> None:
    weights = _weights(params)
    if not isinstance(feedback, (tuple, list)):
        raise TypeError(
            f"expected the rule state's feedback to be a tuple of matrices, got "
            f"{type(feedback).__name__}"
        )
    if len(feedback) != len(weights) or any(
        jnp.shape(b) != w.shape for b, w in zip(feedback, weights)
    ):
        raise ValueError(
            "feedback matrices must match the layers' weights: expected shapes "
            f"{[w.shape for w in weights]}, got {[getattr(b, 'shape', None) for b in feedback]}"
        )


class FeedbackAlignmentState(NamedTuple):
    """State of feedback alignment.

    Attributes:
        feedback: ``B_l`` per layer, each the shape of ``W_l``.
    """

    feedback: tuple


def feedback_alignment(
    loss: Loss, *, feedback_init: Init = glorot_uniform, scale: float = 1.0
) -> LearningRule:
    """Feedback alignment: a fixed random matrix carries errors backward.

    ``δ_{l-1} = (B_lᵀ δ_l) ⊙ σ'(a_{l-1})`` with ``B_l`` drawn once and kept fixed, and
    ``ΔW_l ∝ -δ_l h_{l-1}ᵀ`` (Lillicrap et al. 2016, where the backward matrix is written ``B``
    and the hidden update is ``Δh ∝ B e``). The forward weights come to align with ``B`` so that
    the updates fall within 90° of backprop's.

    Args:
        loss: ``loss(outputs, y) -> scalar``.
        feedback_init: ``init(key, shape, dtype)`` drawing each ``B_l`` (default Glorot uniform,
            the distribution of the forward weights).
        scale: a factor on every ``B_l``.

    Returns:
        A ``LearningRule`` with state ``FeedbackAlignmentState``. Updates have a gradient's
        sign; the output layer's equals backprop's.

    Examples:
        >>> import jax, jax.numpy as jnp, optax, credax
        >>> net = credax.nets.mlp([3, 8, 2], activation=jnp.tanh, key=jax.random.key(0))
        >>> rule = credax.feedback_alignment(credax.losses.mse)
        >>> state = rule.init(jax.random.key(1), net)
        >>> g, state = rule.update(net, state, (jnp.ones((4, 3)), jnp.zeros((4, 2))))
        >>> opt = optax.sgd(0.1); u, _ = opt.update(g, opt.init(net))
        >>> net = optax.apply_updates(net, u)

    References:
        Lillicrap, Cownden, Tweed & Akerman (2016). Random synaptic feedback weights support
        error backpropagation for deep learning. Nature Communications 7, 13276.
    """
    loss = check_loss(loss)
    scale = check_positive("scale", scale)
    check_callable("feedback_init", feedback_init, "init(key, shape, dtype)")

    def init(key, params):
        return FeedbackAlignmentState(_draw(key, _weights(params), feedback_init, scale))

    def update(params, state, batch):
        _check_matrices(params, state.feedback)
        updates, value = feedback_gradients(loss, params, state.feedback, batch)
        return updates, state, value

    return make_rule(
        "feedback_alignment",
        init,
        update_with_value=update,
        diagnostics=feedback_diagnostics,
        task=SUPERVISED,
    )


class SignSymmetryState(NamedTuple):
    """State of sign symmetry.

    Attributes:
        feedback: the ``B_l`` used at the last update (at init, from the initial weights).
        magnitude: fixed magnitudes ``|R_l|`` (fixed-random variant) or an empty tuple.
        key: PRNG key for the batchwise-random variant, split on every update.
    """

    feedback: tuple
    magnitude: tuple
    key: jax.Array


def sign_symmetry(
    loss: Loss,
    *,
    random_magnitude: bool = False,
    redraw: bool = False,
    magnitude_init: Init = glorot_uniform,
) -> LearningRule:
    """Sign-concordant feedback: ``B_l`` shares the sign of ``W_l``.

    Three variants, named as in Xiao et al. (2018) and the feedback-alignment benchmarks:

    - uniform (uSF; ``random_magnitude=False``): ``B_l = s_l · sign(W_l)``;
    - fixed random magnitude (frSF; ``random_magnitude=True``): ``B_l = |R_l| ⊙ sign(W_l)`` with
      ``R_l`` drawn once;
    - batchwise random magnitude (brSF; ``random_magnitude=True, redraw=True``): ``R_l`` redrawn
      at every update.

    Deviation: Liao et al. use ``sign(W)`` alone with batch normalisation; without it the unit
    magnitudes make backward signals grow with width, so, as the published benchmarks do, uSF is
    scaled by ``s_l``, the standard deviation of the layer's Glorot initialisation
    (Moskovitz et al. 2018).

    Args:
        loss: ``loss(outputs, y) -> scalar``.
        random_magnitude: random magnitudes ``|R_l|`` instead of uniform ones.
        redraw: redraw ``R_l`` at every update (needs ``random_magnitude``).
        magnitude_init: ``init(key, shape, dtype)`` drawing ``R_l``.

    Returns:
        A ``LearningRule`` with state ``SignSymmetryState``; updates have a gradient's sign.

    References:
        Liao, Leibo & Poggio (2016). How important is weight symmetry in backpropagation? AAAI.
        Xiao, Chen, Liao & Poggio (2018). Biologically-plausible learning algorithms can scale to
        large datasets. arXiv:1811.03567.
    """
    loss = check_loss(loss)
    random_magnitude = check_flag("random_magnitude", random_magnitude)
    redraw = check_flag("redraw", redraw)
    if redraw and not random_magnitude:
        raise ValueError("sign_symmetry: redraw=True needs random_magnitude=True")
    check_callable("magnitude_init", magnitude_init, "init(key, shape, dtype)")

    def matrices(weights, magnitude, key):
        if not random_magnitude:
            return tuple(_glorot_std(w.shape) * jnp.sign(w) for w in weights)
        if redraw:
            magnitude = _draw(key, weights, magnitude_init, 1.0)
        return tuple(jnp.abs(r) * jnp.sign(w) for r, w in zip(magnitude, weights))

    def init(key, params):
        weights = _weights(params)
        k_mag, k_next = jax.random.split(key)
        magnitude = _draw(k_mag, weights, magnitude_init, 1.0) if random_magnitude else ()
        if redraw:
            magnitude = ()
        return SignSymmetryState(matrices(weights, magnitude, k_mag), magnitude, k_next)

    def update(params, state, batch):
        weights = _weights(params)
        key, sub = jax.random.split(state.key)
        feedback = matrices(weights, state.magnitude, sub)
        updates, value = feedback_gradients(loss, params, feedback, batch)
        return updates, SignSymmetryState(feedback, state.magnitude, key), value

    return make_rule(
        "sign_symmetry",
        init,
        update_with_value=update,
        diagnostics=feedback_diagnostics,
        task=SUPERVISED,
    )


class KolenPollackState(NamedTuple):
    """State of Kolen-Pollack learning.

    Attributes:
        feedback: the learned ``B_l``, each the shape of ``W_l``.
    """

    feedback: tuple


def kolen_pollack(
    loss: Loss,
    *,
    feedback_lr: float = 0.1,
    decay: float = 1e-3,
    feedback_init: Init = glorot_uniform,
) -> LearningRule:
    """Kolen-Pollack: forward and feedback weights receive the same local update and decay.

    Errors travel back through ``B_l`` as in feedback alignment. Both pathways then change by the
    same locally available product plus weight decay (Akrout et al. 2019, with ``B`` written in
    ``W``'s shape)::

        ΔW_l = -η (δ_l h_{l-1}ᵀ + λ W_l)        ΔB_l = -η_B (δ_l h_{l-1}ᵀ + λ B_l)

    The rule's updates are ``∇_{W_l} L + λ W_l`` (the decay is part of the rule, on weights, not
    biases), and ``B_l`` takes its own step inside ``update``. When the caller applies the
    updates by SGD with learning rate ``η = η_B``, ``W_l - B_l`` shrinks by ``(1 - η λ)`` every
    step and ``B_l → W_l`` exactly as in the paper. Under another optimizer (Adam, say) the
    increments differ and the alignment is only approximate; the defaults (``η_B = 0.1``,
    ``λ = 1e-3``) align ``B`` with ``W`` to within about 20-45° in 4,000 Adam steps on MNIST-1D.

    Args:
        loss: ``loss(outputs, y) -> scalar``.
        feedback_lr: ``η_B``; set it to the SGD learning rate of ``W`` for the paper's dynamics.
        decay: ``λ``.
        feedback_init: draws the initial ``B_l``.

    Returns:
        A ``LearningRule`` with state ``KolenPollackState``; updates have a gradient's sign.

    References:
        Kolen & Pollack (1994). Backpropagation without weight transport. ICNN.
        Akrout, Wilson, Humphreys, Lillicrap & Tweed (2019). Deep learning without weight
        transport. NeurIPS.
    """
    loss = check_loss(loss)
    feedback_lr = check_positive("feedback_lr", feedback_lr)
    decay = check_positive("decay", decay, allow_zero=True)
    check_callable("feedback_init", feedback_init, "init(key, shape, dtype)")

    def init(key, params):
        return KolenPollackState(_draw(key, _weights(params), feedback_init, 1.0))

    def update(params, state, batch):
        _check_matrices(params, state.feedback)
        grads, value = feedback_gradients(loss, params, state.feedback, batch)
        feedback = tuple(
            b - feedback_lr * (layer.weight + decay * b)
            for b, layer in zip(state.feedback, find_layers(grads))
        )
        updates = map_layers(
            lambda i, g: _replace_weight(g, g.weight + decay * _weights(params)[i]), grads
        )
        return updates, KolenPollackState(feedback), value

    return make_rule(
        "kolen_pollack",
        init,
        update_with_value=update,
        diagnostics=feedback_diagnostics,
        task=SUPERVISED,
    )


def _replace_weight(layer, weight):
    return eqx.tree_at(lambda l: l.weight, layer, weight)


class WeightMirrorState(NamedTuple):
    """State of the weight mirror.

    Attributes:
        feedback: the learned ``B_l``, each the shape of ``W_l``.
        key: PRNG key for the mirror-mode noise, split on every update.
    """

    feedback: tuple
    key: jax.Array


def weight_mirror(
    loss: Loss,
    *,
    feedback_lr: float = 0.1,
    decay: float = 1.0,
    noise_std: float = 1.0,
    mirror_batch: int = 32,
    feedback_init: Init = glorot_uniform,
) -> LearningRule:
    """Weight mirror: feedback weights learn ``W`` from the layer's response to its own noise.

    At each update every layer also runs a "mirror mode" step (Akrout et al. 2019): its input
    neurons fire noise ``x ~ N(0, σ² I)``, its outputs are driven to ``y = W x`` (for a
    convolution, ``y = W ⋆ x``), and ``B`` learns by the Hebbian product of the two::

        B ← B + η_B (y xᵀ / σ² - λ B)

    Because ``E[y xᵀ] = σ² W`` (for a convolution, per output position, so the product is
    averaged over the positions where each kernel tap meets the input), ``B`` relaxes
    towards ``W / λ`` (with the default ``λ = 1``, to ``W``) at rate ``η_B λ``, the noise
    averaging out over ``mirror_batch`` draws per update.
    The ``1/σ²`` normalisation (not in the paper, where ``σ`` is fixed) makes ``B``'s fixed point
    independent of ``σ``. The forward pass uses ``B`` as in feedback alignment, before this
    step's mirror update.

    Args:
        loss: ``loss(outputs, y) -> scalar``.
        feedback_lr: ``η_B``.
        decay: ``λ``.
        noise_std: ``σ``.
        mirror_batch: noise draws per update.
        feedback_init: draws the initial ``B_l``.

    Returns:
        A ``LearningRule`` with state ``WeightMirrorState``; updates have a gradient's sign.

    References:
        Akrout, Wilson, Humphreys, Lillicrap & Tweed (2019). Deep learning without weight
        transport. NeurIPS.
    """
    loss = check_loss(loss)
    feedback_lr = check_positive("feedback_lr", feedback_lr)
    decay = check_positive("decay", decay, allow_zero=True)
    noise_std = check_positive("noise_std", noise_std)
    if isinstance(mirror_batch, float) and mirror_batch != int(mirror_batch):
        raise ValueError(f"expected mirror_batch to be a positive int, got {mirror_batch!r}")
    mirror_batch = check_count("mirror_batch", mirror_batch)
    check_callable("feedback_init", feedback_init, "init(key, shape, dtype)")

    def init(key, params):
        k_b, k_next = jax.random.split(key)
        return WeightMirrorState(_draw(k_b, _weights(params), feedback_init, 1.0), k_next)

    def mirror(layer, key):
        x = noise_std * jax.random.normal(key, (mirror_batch, *layer.in_shape), layer.weight.dtype)

        def drive(w):
            return jax.vmap(lambda xi: layer.linear(w, xi))(x)

        y, pullback = jax.vjp(drive, layer.weight)
        # Σ_n y_n x_nᵀ (the vjp of W ↦ W x at cotangent y), averaged over the noise draws and,
        # for a convolution, over the output positions where each kernel tap meets the input
        # (fewer at padded borders): ``counts`` is that number per weight (1 for a dense layer).
        ones_in = jnp.ones(layer.in_shape, layer.weight.dtype)
        ones_out = jnp.ones(layer.out_shape, layer.weight.dtype)
        counts = jax.vjp(lambda w: layer.linear(w, ones_in), layer.weight)[1](ones_out)[0]
        hebb = pullback(jax.lax.stop_gradient(y))[0]
        return hebb / (mirror_batch * noise_std**2 * jnp.maximum(counts, 1.0))

    def update(params, state, batch):
        _check_matrices(params, state.feedback)
        updates, value = feedback_gradients(loss, params, state.feedback, batch)
        layers = find_layers(params)
        key, sub = jax.random.split(state.key)
        keys = jax.random.split(sub, len(layers))
        feedback = tuple(
            b + feedback_lr * (mirror(layer, k) - decay * b)
            for b, layer, k in zip(state.feedback, layers, keys)
        )
        return updates, WeightMirrorState(feedback, key), value

    return make_rule(
        "weight_mirror",
        init,
        update_with_value=update,
        diagnostics=feedback_diagnostics,
        task=SUPERVISED,
    )


class _OutputProbe(Hook):
    """Adds ``z`` to the output of layer ``last``: the gradient at ``z = 0`` is the error at
    that layer's output through whatever parameter-free maps follow it."""

    def __init__(self, model, last: int, z: jax.Array):
        super().__init__(model)
        self.last, self.z = last, z

    def output(self, index, layer, h):
        return h + self.z if index == self.last else h


class DirectFeedbackAlignmentState(NamedTuple):
    """State of direct feedback alignment.

    Attributes:
        feedback: ``B_l`` for every layer but the output layer, shape ``(n_out, *h_l.shape)``.
    """

    feedback: tuple


def direct_feedback_alignment(
    loss: Loss, *, feedback_init: Init | None = None, scale: float = 1.0
) -> LearningRule:
    """Direct feedback alignment: the output error reaches every hidden layer directly.

    With ``e = ∂L/∂h_L`` the error at the network's output (the output layer's pre-activation
    error when that layer is linear, as in credax's nets), each hidden layer ``l``
    receives ``δ_l = (B_lᵀ e) ⊙ σ'(a_l)`` through its own fixed random ``B_l`` (Nøkland 2016,
    eq. 4 with ``B_l`` mapping the output error to layer ``l``), and ``ΔW_l ∝ -δ_l h_{l-1}ᵀ``.
    The output layer's update equals backprop's. The output layer is the credax layer the model
    applies last (found by tracing it, so a user's model may declare its layers in any
    order); its output is a vector ``(n_out,)`` or a temporal ``(T, n_out)`` (a spiking
    readout), and ``e`` is the loss's gradient there, through any parameter-free maps that
    follow it (e.g. ``credax.spiking.TimeReduce`` over a readout's membrane). For
    convolutional layers ``B_l`` maps ``e`` to the whole ``(C, H, W)`` feature map. With a
    temporal output, every hidden layer's output starts with the same ``T`` and ``B_l`` maps
    each step's error to the same step (``B_l`` of shape ``(n_out, *h_l.shape[1:])``). A
    hidden layer applied at every step of a ``credax.nets.scan`` receives ``B_lᵀ e`` at every
    step. ``feedback`` holds the hidden layers' ``B_l`` in pytree order.

    Args:
        loss: ``loss(outputs, y) -> scalar``.
        feedback_init: ``init(key, shape, dtype)`` for ``B_l`` of shape ``(n_out, *h_l.shape)``;
            default uniform in ``±sqrt(6 / (n_out + |h_l|))``.
        scale: a factor on every ``B_l``.

    Returns:
        A ``LearningRule`` with state ``DirectFeedbackAlignmentState``; updates have a
        gradient's sign.

    References:
        Nøkland (2016). Direct feedback alignment provides learning in deep neural networks.
        NeurIPS.
    """
    loss = check_loss(loss)
    scale = check_positive("scale", scale)
    if feedback_init is not None:
        check_callable("feedback_init", feedback_init, "init(key, shape, dtype) or None")

    def draw(key, shape, dtype):
        if feedback_init is not None:
            return feedback_init(key, shape, dtype)
        bound = math.sqrt(6.0 / (shape[0] + math.prod(shape[1:])))
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    def shapes(params, in_shape=None):
        """``B_l`` shapes (None for the output layer), the layers and the output layer's
        index. The output error ``e`` has the output layer's shape ``(..., n_out)``; leading
        axes before ``n_out`` (a temporal output ``(T, n_out)``) must lead every hidden
        layer's output too, and ``B_l`` maps each step's error to the same step."""
        layers = find_layers(params)
        try:
            last = call_order(params, in_shape)[-1]  # the layer that produces the output
        except ValueError:
            if in_shape is not None:
                raise
            # init sees no data: a model whose input is not any layer's (a sequence scanned
            # over, say) is taken to end with its last layer in pytree order; update checks.
            last = len(layers) - 1
        out = tuple(layers[last].out_shape)
        lead, n_out = out[:-1], out[-1]
        if len(out) > 1 and len(out) != 2:
            raise ValueError(
                f"direct_feedback_alignment needs an output layer with a vector output (n_out,) "
                f"or a temporal one (T, n_out); the layer that produces the model's output "
                f"({type(layers[last]).__name__}, layer {last}) has output shape {out}"
            )
        result = []
        for i, layer in enumerate(layers):
            if i == last:
                result.append(None)
                continue
            h = tuple(layer.out_shape)
            if h[: len(lead)] != lead:
                raise ValueError(
                    f"direct_feedback_alignment: the output has {len(lead)} leading time axis "
                    f"{lead} that hidden layer {i} ({type(layer).__name__}, output {h}) lacks; a "
                    "temporal output needs temporal hidden layers of the same length"
                )
            result.append((n_out, *h[len(lead) :]))
        return result, layers, last

    def init(key, params):
        shp, layers, last = shapes(params)
        hidden = [(s, l) for s, l in zip(shp, layers) if s is not None]
        keys = jax.random.split(key, max(len(hidden), 1))
        return DirectFeedbackAlignmentState(
            tuple(scale * draw(k, s, l.weight.dtype) for k, (s, l) in zip(keys, hidden))
        )

    def update(params, state, batch):
        x, y = supervised_batch(params, batch)
        shp, layers, last = shapes(params, x.shape[1:])
        hidden = [s for s in shp if s is not None]
        if (
            not isinstance(state.feedback, (tuple, list))
            or [jnp.shape(b) for b in state.feedback] != hidden
        ):
            raise ValueError(
                f"DFA feedback shapes must be {hidden}, got "
                f"{[jnp.shape(b) for b in state.feedback]}"
            )
        out_shape = tuple(layers[last].out_shape)
        out = forward(params, x)
        if out.shape[1:] == out_shape:
            value, e = jax.value_and_grad(lambda o: loss(o, y))(out)
        else:  # parameter-free maps follow the output layer (a spiking readout over time)

            def probed(z):
                def one(xi, zi):
                    with _OutputProbe(params, last, zi):
                        return params(xi)

                return loss(jax.vmap(one)(x, z), y)

            value, e = jax.value_and_grad(probed)(jnp.zeros((x.shape[0], *out_shape), out.dtype))
        e = jax.lax.stop_gradient(e)
        matrices = iter(state.feedback)
        per_layer = [None if s is None else next(matrices) for s in shp]

        def objective(p):
            def one(xi, ei):
                with Direct(p, per_layer, ei):
                    return p(xi)

            return loss(jax.vmap(one)(x, e), y)

        grads = eqx.filter_grad(objective)(params)
        return grads, state, value

    return make_rule("direct_feedback_alignment", init, update_with_value=update, task=SUPERVISED)
