"""Layers: the units every credax rule assigns credit to, their traces and local updates.

A credax network applies layers ``h_l = σ_l(a_l)``, ``a_l = f_l(W_l, h_{l-1}) + b_l``, where
``f_l`` is linear in each argument (a dense or convolutional map) and ``σ_l`` is any function of
the whole pre-activation (elementwise like ``tanh``, or an operator over a leading time axis, like
a leaky integrator or a spiking neuron). Each layer is an equinox Module that acts on ONE example;
batching is left to ``jax.vmap``. ``Layer`` is the public base class: subclass it to write a new
kind of layer (see its docstring).

Two primitives serve every local rule:

- ``trace(model, x)``: each layer's input ``h_{l-1}``, pre-activation ``a_l`` and output ``h_l``
  on a batch, as the model actually computed them (optionally with offsets added to the
  pre-activations: the noise of perturbation rules, or zeros to differentiate at ``a_l``);
- ``local_updates(model, inputs, deltas)``: per-layer errors ``δ_l`` at the pre-activations to
  updates with the model's tree (dense ``δ_lᵀ h_{l-1}``, conv the matching correlation, bias
  ``Σ δ_l``).

A layer also carries an optional :class:`Feedback` that changes its backward pass. Rules attach it
to a copy of the caller's model before differentiating, so a feedback rule works inside any JAX
code that calls credax layers, including a user's own equinox model:

- ``Feedback(matrix=B)`` (feedback alignment and relatives): the input-cotangent of ``f_l`` is
  computed with ``B`` in place of ``W`` (``δh_{l-1} = f_l(B, ·)ᵀ δa_l``; for a dense layer
  ``Bᵀ δa_l``), while the weight-gradient is the true one. It is written as a ``jax.custom_jvp``
  whose tangent rule is linear, so its transpose is two ordinary matrix products that batch well
  under ``vmap``.
- ``Feedback(matrix=B, error=e, direct=True)`` (direct feedback alignment): the cotangent that
  reaches the layer's output ``h_l`` is replaced by ``B e``, the output error ``e`` sent through a
  fixed matrix ``B`` of shape ``(n_out, *h_l.shape)``.

Arrays outside credax layers. A model may hold other arrays (a plain ``equinox.nn.Linear``, a
learned scale). credax rules assign credit to credax layers only: to every rule but backprop such
arrays are constants of the model. Errors and activity pass through the functions they define
like through any JAX function, and their updates are zero (``only_layers``); a rule's ``init``
warns once, naming them, and the per-layer metrics cover credax layers only.
"""

from __future__ import annotations

import abc
import math
import numbers
import threading
import warnings
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from credax._src.checks import as_key, check_callable


def identity(x: jax.Array) -> jax.Array:
    """The identity activation."""
    return x


class Feedback(eqx.Module):
    """How a layer's backward pass differs from backprop (see the module docstring).

    Attributes:
        matrix: ``B``. Shape of the layer's weight for feedback-path rules; shape
            ``(n_out, *output_shape)`` for direct feedback.
        error: the output error ``e`` of this example, shape ``(n_out,)``, for direct feedback.
        direct: whether ``matrix`` is a direct-feedback matrix.
    """

    matrix: jax.Array | None = None
    error: jax.Array | None = None
    direct: bool = eqx.field(static=True, default=False)


@partial(jax.custom_jvp, nondiff_argnums=(0,))
def _with_feedback(fn: Callable, w: jax.Array, b: jax.Array, x: jax.Array) -> jax.Array:
    return fn(w, x)


@_with_feedback.defjvp
def _with_feedback_jvp(fn, primals, tangents):
    w, b, x = primals
    dw, _, dx = tangents
    # The input-tangent goes through B instead of W; transposed, δx = f(B, ·)ᵀ δa.
    return fn(w, x), fn(dw, x) + fn(b, dx)


@jax.custom_vjp
def _direct_tap(h: jax.Array, matrix: jax.Array, error: jax.Array) -> jax.Array:
    return h


def _direct_tap_fwd(h, matrix, error):
    return h, (matrix, error)


def _direct_tap_bwd(res, g):
    del g  # DFA ignores the cotangent arriving from above.
    matrix, error = res
    return jnp.tensordot(error, matrix, axes=1).astype(matrix.dtype), None, None


_direct_tap.defvjp(_direct_tap_fwd, _direct_tap_bwd)


# --- recording (trace) ----------------------------------------------------------------------------

_ACTIVE = threading.local()


class _Recorder:
    """Collects, during one example's forward pass, what each layer of a model computed."""

    def __init__(self, layers: Sequence[Layer], offsets, model_name: str):
        self.model_name = model_name
        self.index: dict[int, int] = {}
        for i, layer in enumerate(layers):
            if id(layer) in self.index:
                raise ValueError(
                    f"{model_name}: the same {type(layer).__name__} object appears twice in the "
                    "model (tied weights); trace, local_updates and the rules built on them need "
                    "each credax layer to be its own parameters"
                )
            self.index[id(layer)] = i
        self.offsets = offsets
        self.records: list = [None] * len(layers)
        self.order: list[int] = []

    def enter(self, layer: Layer) -> int:
        i = self.index.get(id(layer))
        if i is None:
            raise ValueError(
                f"{self.model_name}: a credax {type(layer).__name__} that is not part of the "
                "model's pytree was called (a layer closed over or built inside __call__); "
                "trace needs every credax layer the model applies to be one of its fields"
            )
        if self.records[i] is not None:
            raise ValueError(
                f"{self.model_name}: layer {i} ({type(layer).__name__}) is applied more than "
                "once per example (tied weights or a recurrent use); trace, local_updates and "
                "the rules built on them need each credax layer applied exactly once"
            )
        return i

    def offset(self, i: int) -> jax.Array | None:
        return None if self.offsets is None else self.offsets[i]

    def record(self, i: int, x, a, h) -> None:
        self.records[i] = (x, a, h)
        self.order.append(i)


def _recorder() -> _Recorder | None:
    stack = getattr(_ACTIVE, "stack", None)
    return stack[-1] if stack else None


@contextmanager
def _recording(rec: _Recorder):
    stack = getattr(_ACTIVE, "stack", None)
    if stack is None:
        stack = _ACTIVE.stack = []
    stack.append(rec)
    try:
        yield rec
    finally:
        stack.pop()


# --- the layer base class -------------------------------------------------------------------------


class Layer(eqx.Module):
    """The public base of every parametrised credax layer: ``h = σ(f(W, x) + b)``.

    Every rule in credax assigns credit to the weights ``W`` and biases ``b`` of ``Layer``
    instances: feedback-path rules replace ``W`` by ``B`` on the backward path of ``f``, direct
    feedback taps ``h``, local rules read ``(x, a, h)`` from :func:`trace` and turn errors at
    ``a`` into updates with :func:`local_updates`.

    To write a new layer, subclass ``Layer`` (an equinox Module) and provide:

    - fields ``weight`` (an array), ``bias`` (an array or None), ``activation`` (a callable,
      declared ``eqx.field(static=True)``) and ``feedback`` (set to None in ``__init__``);
    - ``linear``: a property returning a static function ``f(W, x)`` for ONE example, linear in
      ``W`` and in ``x`` separately (feedback alignment uses ``f(B, ·)`` on the backward path);
    - ``in_shape`` and ``out_shape``: the shapes of one input example and of ``a`` (and ``h``);
    - optionally ``bias_term()``: ``b`` broadcast to ``out_shape`` (default: aligned with the
      trailing axes, ``jnp.broadcast_to(b, out_shape)``; a convolution puts it on channels).

    ``activation`` receives the whole pre-activation ``a`` of one example, so it may couple units
    or time steps: an operator over a leading time axis (a leaky integrator, a spiking neuron
    simulated by ``lax.scan``) is as valid as ``tanh``. Rules differentiate through it.

    Examples:
        A dense layer applied at every step of a sequence, with a leaky integrator over time as
        its activation (inputs ``(T, n_in)``):

        >>> import jax, jax.numpy as jnp, equinox as eqx, credax
        >>> def leaky(a, decay=0.8):
        ...     step = lambda v, a_t: (decay * v + a_t,) * 2
        ...     return jnp.tanh(jax.lax.scan(step, jnp.zeros(a.shape[1:]), a)[1])
        >>> class TimeDense(credax.nets.Layer):
        ...     weight: jax.Array
        ...     bias: jax.Array
        ...     activation: callable = eqx.field(static=True)
        ...     feedback: credax.nets.Feedback | None
        ...     steps: int = eqx.field(static=True)
        ...     def __init__(self, steps, n_in, n_out, *, key):
        ...         self.weight = jax.random.normal(key, (n_out, n_in)) / n_in**0.5
        ...         self.bias = jnp.zeros(n_out)
        ...         self.activation, self.feedback, self.steps = leaky, None, steps
        ...     @property
        ...     def linear(self):
        ...         return lambda w, x: x @ w.T
        ...     @property
        ...     def in_shape(self):
        ...         return (self.steps, self.weight.shape[1])
        ...     @property
        ...     def out_shape(self):
        ...         return (self.steps, self.weight.shape[0])
        >>> layer = TimeDense(5, 3, 4, key=jax.random.key(0))
        >>> layer(jnp.ones((5, 3))).shape
        (5, 4)
    """

    weight: eqx.AbstractVar[jax.Array]
    bias: eqx.AbstractVar[jax.Array | None]
    activation: eqx.AbstractVar[Callable]
    feedback: eqx.AbstractVar[Feedback | None]

    @property
    @abc.abstractmethod
    def linear(self) -> Callable[[jax.Array, jax.Array], jax.Array]:
        """``f(W, x)``: a static function, linear in each argument, giving the pre-activation
        without the bias for one example."""

    @property
    @abc.abstractmethod
    def in_shape(self) -> tuple[int, ...]:
        """Shape of one input example."""

    @property
    @abc.abstractmethod
    def out_shape(self) -> tuple[int, ...]:
        """Shape of one output example (and of the pre-activation)."""

    def bias_term(self) -> jax.Array | None:
        """``b`` broadcast to ``out_shape``, aligned with its trailing axes (None without a
        bias)."""
        if self.bias is None:
            return None
        return jnp.broadcast_to(self.bias, tuple(self.out_shape))

    def preactivation(self, x: jax.Array) -> jax.Array:
        """``a = f(W, x) + b`` for one example, with backprop's own backward pass."""
        a = self.linear(self.weight, x)
        bias = self.bias_term()
        return a if bias is None else a + bias

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        if x.shape != self.in_shape:
            raise ValueError(
                f"{type(self).__name__} expects one example of shape {self.in_shape}, got an "
                f"array of shape {x.shape} (batch with jax.vmap)"
            )
        rec = _recorder()
        i = rec.enter(self) if rec is not None else None
        fb = self.feedback
        if fb is not None and fb.matrix is not None and not fb.direct:
            a = _with_feedback(self.linear, self.weight, fb.matrix, x)
        else:
            a = self.linear(self.weight, x)
        bias = self.bias_term()
        if bias is not None:
            a = a + bias
        if rec is not None and rec.offset(i) is not None:
            a = a + rec.offset(i).astype(a.dtype)
        h = self.activation(a)
        if fb is not None and fb.direct:
            h = _direct_tap(h, fb.matrix, fb.error)
        if rec is not None:
            rec.record(i, x, a, h)
        return h


def _uniform(key, shape, bound, dtype):
    return jax.random.uniform(key, shape, dtype, -bound, bound)


def _size(name: str, value: Any) -> int:
    """A positive int layer size (``16.7`` is refused, not truncated)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"expected {name} to be a positive int, got {value!r}")
    if value < 1:
        raise ValueError(f"expected {name} to be a positive int, got {value}")
    return int(value)


def _activation(value: Any) -> Callable:
    if isinstance(value, str):
        raise TypeError(
            f"expected activation to be a callable such as jax.numpy.tanh or jax.nn.relu, got "
            f"the string {value!r}"
        )
    return check_callable("activation", value, "σ(a) such as jax.numpy.tanh")


class Dense(Layer):
    """A dense layer ``h = σ(W x + b)``.

    Attributes:
        weight: ``W``, shape ``(out_features, in_features)``.
        bias: ``b``, shape ``(out_features,)``, or None.
    """

    weight: jax.Array
    bias: jax.Array | None
    activation: Callable = eqx.field(static=True)
    feedback: Feedback | None

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        key: jax.Array | int,
        activation: Callable = identity,
        use_bias: bool = True,
        dtype=jnp.float32,
    ):
        """Glorot-uniform weights and zero biases (the initialisation of the published
        feedback-alignment benchmarks).

        Args:
            in_features: input size.
            out_features: output size.
            key: a PRNG key or an int seed.
            activation: ``σ``, a function of the whole pre-activation ``(out_features,)``.
            use_bias: whether to add a bias.
            dtype: parameter dtype.
        """
        n_in, n_out = _size("in_features", in_features), _size("out_features", out_features)
        key = as_key(key, "Dense key")
        bound = math.sqrt(6.0 / (n_in + n_out))
        self.weight = _uniform(key, (n_out, n_in), bound, dtype)
        self.bias = jnp.zeros((n_out,), dtype) if use_bias else None
        self.activation = _activation(activation)
        self.feedback = None

    @property
    def linear(self):
        return _matvec

    @property
    def in_shape(self):
        return (self.weight.shape[1],)

    @property
    def out_shape(self):
        return (self.weight.shape[0],)


class Conv2d(Layer):
    """A 2-D convolution ``h = σ(W ⋆ x + b)`` on one ``(C, H, W)`` example.

    The input's spatial size is fixed at construction so that shapes are known before any data
    is seen (rules such as direct feedback alignment need the output shape at ``init``).

    Attributes:
        weight: ``W``, shape ``(out_channels, in_channels, kh, kw)``.
        bias: ``b``, shape ``(out_channels,)``, or None.
    """

    weight: jax.Array
    bias: jax.Array | None
    activation: Callable = eqx.field(static=True)
    feedback: Feedback | None
    input_hw: tuple[int, int] = eqx.field(static=True)
    stride: tuple[int, int] = eqx.field(static=True)
    padding: tuple[tuple[int, int], tuple[int, int]] = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        *,
        input_hw: Sequence[int],
        key: jax.Array | int,
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        activation: Callable = identity,
        use_bias: bool = True,
        dtype=jnp.float32,
    ):
        """Glorot-uniform weights and zero biases.

        Args:
            in_channels: input channels ``C``.
            out_channels: output channels.
            kernel_size: ``k`` or ``(kh, kw)``.
            input_hw: the input's spatial size ``(H, W)``.
            key: a PRNG key or an int seed.
            stride: ``s`` or ``(sh, sw)``.
            padding: symmetric zero padding ``p`` or ``(ph, pw)``.
            activation: ``σ``, a function of the whole ``(C_out, H', W')`` pre-activation.
            use_bias: whether to add a bias.
            dtype: parameter dtype.
        """
        c_in, c_out = _size("in_channels", in_channels), _size("out_channels", out_channels)
        kh, kw = _pair("kernel_size", kernel_size)
        self.stride = _pair("stride", stride)
        ph, pw = _pair("padding", padding, minimum=0)
        self.padding = ((ph, ph), (pw, pw))
        self.input_hw = _pair("input_hw", input_hw)
        key = as_key(key, "Conv2d key")
        fan_in, fan_out = c_in * kh * kw, c_out * kh * kw
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        self.weight = _uniform(key, (c_out, c_in, kh, kw), bound, dtype)
        self.bias = jnp.zeros((c_out,), dtype) if use_bias else None
        self.activation = _activation(activation)
        self.feedback = None
        if min(self.out_shape) < 1:
            raise ValueError(
                f"Conv2d kernel {kh}x{kw} (stride {self.stride}, padding {(ph, pw)}) does not fit "
                f"an input of spatial size {self.input_hw}"
            )

    @property
    def linear(self):
        return partial(_conv, stride=self.stride, padding=self.padding)

    def bias_term(self):
        return None if self.bias is None else self.bias[:, None, None]

    @property
    def in_shape(self):
        return (self.weight.shape[1], *self.input_hw)

    @property
    def out_shape(self):
        o, _, kh, kw = self.weight.shape
        (h, w), (sh, sw), ((p0, p1), (q0, q1)) = self.input_hw, self.stride, self.padding
        return (o, (h + p0 + p1 - kh) // sh + 1, (w + q0 + q1 - kw) // sw + 1)


def _matvec(weight: jax.Array, x: jax.Array) -> jax.Array:
    return weight @ x


def _conv(weight: jax.Array, x: jax.Array, *, stride, padding) -> jax.Array:
    y = lax.conv_general_dilated(
        x[None], weight, stride, padding, dimension_numbers=("NCHW", "OIHW", "NCHW")
    )
    return y[0]


def _pair(name: str, v: int | Sequence[int], *, minimum: int = 1) -> tuple[int, int]:
    vs = (v, v) if isinstance(v, numbers.Integral) and not isinstance(v, bool) else v
    try:
        vs = tuple(vs)
    except TypeError:
        raise TypeError(f"expected {name} to be an int or a pair of ints, got {v!r}") from None
    ok = len(vs) == 2 and all(
        isinstance(i, numbers.Integral) and not isinstance(i, bool) and i >= minimum for i in vs
    )
    if not ok:
        raise ValueError(f"expected {name} to be an int or a pair of ints >= {minimum}, got {v!r}")
    return (int(vs[0]), int(vs[1]))


class MaxPool2d(eqx.Module):
    """Max pooling over ``(C, H, W)`` with a square window and stride equal to the window."""

    window: int = eqx.field(static=True)

    def __init__(self, window: int = 2):
        self.window = _size("window", window)

    def __call__(self, x: jax.Array) -> jax.Array:
        k = self.window
        return lax.reduce_window(x, -jnp.inf, lax.max, (1, k, k), (1, k, k), "VALID")


class Flatten(eqx.Module):
    """Flattens one example to a vector."""

    def __call__(self, x: jax.Array) -> jax.Array:
        return jnp.reshape(x, (-1,))


class Sequential(eqx.Module):
    """A sequence of layers applied in order to one example.

    Attributes:
        layers: a tuple of credax layers (``Dense``, ``Conv2d``) and parameter-free maps
            (``MaxPool2d``, ``Flatten`` or any callable Module).
    """

    layers: tuple

    def __init__(self, layers: Sequence[Any]):
        layers = tuple(layers)
        for i, layer in enumerate(layers):
            if not callable(layer):
                raise TypeError(f"Sequential: item {i} is not callable: {layer!r}")
        self.layers = layers

    def __call__(self, x: jax.Array) -> jax.Array:
        for layer in self.layers:
            x = layer(x)
        return x


# --- finding and replacing layers -----------------------------------------------------------------


def is_layer(node: Any) -> bool:
    """Whether ``node`` is a parametrised credax layer (a ``Layer``)."""
    return isinstance(node, Layer)


def find_layers(model: Any) -> list[Layer]:
    """The parametrised credax layers of ``model``, in pytree order (input to output for
    ``Sequential``).

    Raises:
        TypeError: if ``model`` contains none.
    """
    layers = [n for n in jax.tree_util.tree_leaves(model, is_leaf=is_layer) if is_layer(n)]
    if not layers:
        raise TypeError(
            "expected params to be a layered credax model (an equinox Module built from "
            f"credax.nets.Dense / Conv2d layers, e.g. credax.nets.mlp), got {type(model).__name__} "
            "with no credax layer in it"
        )
    return layers


def map_layers(fn: Callable[[int, Layer], Any], model: Any) -> Any:
    """Replaces the ``i``-th credax layer ``l`` of ``model`` by ``fn(i, l)``."""
    leaves, treedef = jax.tree_util.tree_flatten(model, is_leaf=is_layer)
    out, i = [], 0
    for leaf in leaves:
        if is_layer(leaf):
            out.append(fn(i, leaf))
            i += 1
        else:
            out.append(leaf)
    return jax.tree_util.tree_unflatten(treedef, out)


def set_feedback(layer: Layer, feedback: Feedback | None) -> Layer:
    """A copy of ``layer`` whose backward pass follows ``feedback``."""
    return eqx.tree_at(lambda l: l.feedback, layer, feedback, is_leaf=lambda n: n is None)


def attach(model: Any, feedbacks: Sequence[Feedback | None]) -> Any:
    """A copy of ``model`` whose ``i``-th layer carries ``feedbacks[i]``."""
    return map_layers(lambda i, l: set_feedback(l, feedbacks[i]), model)


def detach(tree: Any) -> Any:
    """Removes every layer's feedback: turns gradients of an attached model into updates with
    the structure of the caller's params."""
    return map_layers(lambda i, l: l if l.feedback is None else set_feedback(l, None), tree)


def _is_float_array(leaf: Any) -> bool:
    return hasattr(leaf, "dtype") and jnp.issubdtype(leaf.dtype, jnp.inexact)


def foreign_arrays(model: Any) -> list[str]:
    """Paths of the floating-point arrays of ``model`` that lie outside credax layers (e.g. a
    plain ``equinox.nn.Linear``): constants to every rule but backprop (module docstring)."""
    flat, _ = jax.tree_util.tree_flatten_with_path(model, is_leaf=is_layer)
    return [
        jax.tree_util.keystr(path) or "(the model itself)"
        for path, leaf in flat
        if not is_layer(leaf) and _is_float_array(leaf)
    ]


def warn_foreign(model: Any, rule_name: str) -> None:
    """Warns, naming them, when ``model`` holds arrays that ``rule_name`` will not train."""
    paths = foreign_arrays(model)
    if paths:
        warnings.warn(
            f"{rule_name}: the model's arrays {', '.join(paths[:8])}"
            f"{' ...' if len(paths) > 8 else ''} lie outside credax layers; this rule assigns "
            "credit to credax.nets.Layer parameters only, so their updates are zero (build them "
            "from credax layers to train them)",
            stacklevel=3,
        )


def only_layers(tree: Any) -> Any:
    """``tree`` with every floating-point array outside credax layers set to zeros: updates of a
    rule that trains credax layers only (module docstring)."""
    leaves, treedef = jax.tree_util.tree_flatten(tree, is_leaf=is_layer)
    out = [
        leaf if is_layer(leaf) or not _is_float_array(leaf) else jnp.zeros_like(leaf)
        for leaf in leaves
    ]
    return jax.tree_util.tree_unflatten(treedef, out)


def layer_mask(model: Any, which: int | Sequence[int] | Callable[[int, Layer], bool]) -> Any:
    """A mask with ``model``'s structure: True on the arrays of the chosen credax layers.

    For ``credax.masked``: e.g. ``layer_mask(net, 0)`` selects the first layer,
    ``layer_mask(net, [1, 2])`` the next two, ``layer_mask(net, lambda i, l: i > 0)`` all but
    the first. Negative indices count from the last layer.

    Args:
        model: a layered credax model.
        which: a layer index, a sequence of indices, or ``fn(index, layer) -> bool``.

    Returns:
        A pytree of Python bools with ``model``'s structure (False outside credax layers).
    """
    n = len(find_layers(model))
    if callable(which):
        chosen = {i for i, layer in enumerate(find_layers(model)) if which(i, layer)}
    else:
        items = [which] if isinstance(which, numbers.Integral) else list(which)
        chosen = set()
        for i in items:
            if isinstance(i, bool) or not isinstance(i, numbers.Integral) or not -n <= i < n:
                raise ValueError(f"layer_mask: expected layer indices in [-{n}, {n}), got {i!r}")
            chosen.add(int(i) % n)
    marked = map_layers(lambda i, l: _Marked(i in chosen, l), model)
    return jax.tree_util.tree_map(
        lambda node: (
            jax.tree_util.tree_map(lambda _: node.on, node.layer)
            if isinstance(node, _Marked)
            else False
        ),
        marked,
        is_leaf=lambda node: isinstance(node, _Marked),
    )


class _Marked:
    """A layer with a flag, for ``layer_mask`` (not a pytree: a leaf of the marked tree)."""

    def __init__(self, on: bool, layer: Layer):
        self.on, self.layer = on, layer


# --- traces and local updates ---------------------------------------------------------------------


class Trace(eqx.Module):
    """What each credax layer computed on a batch (see :func:`trace`).

    Attributes:
        inputs: per layer (pytree order), ``h_{l-1}`` of shape ``(B, *in_shape)``.
        preactivations: per layer, ``a_l`` of shape ``(B, *out_shape)`` (offsets included).
        outputs: per layer, ``h_l = σ_l(a_l)`` of shape ``(B, *out_shape)``.
        output: the model's output ``(B, ...)``.
        order: layer indices in the order the model applied them (static); ``order[-1]`` is the
            layer applied last, which produces the output of a chain.
    """

    inputs: tuple
    preactivations: tuple
    outputs: tuple
    output: Any
    order: tuple = eqx.field(static=True)


def trace(model: Any, x: jax.typing.ArrayLike, *, offsets: Sequence[Any] | None = None) -> Trace:
    """Each credax layer's input, pre-activation and output on a batch.

    Works on any model whose credax layers are each applied exactly once per example, in
    whatever wiring (``Sequential``, a user's equinox Module with skip connections): the records
    are what each layer actually received and computed. In a chain (``Sequential``) ``inputs[l]``
    is ``outputs[l-1]`` after any parameter-free maps between them.

    Args:
        model: a layered credax model acting on one example.
        x: a batch ``(B, ...)``.
        offsets: optional, one array ``(B, *out_shape)`` (or None) per layer added to its
            pre-activation: ``a_l ← a_l + z_l`` (noise, or zeros to differentiate at ``a_l``).

    Returns:
        A :class:`Trace`; layers in pytree order (as ``find_layers``).

    Raises:
        ValueError: naming the model type, when a credax layer is applied twice (tied weights),
            never, or is not part of the model's pytree.

    Examples:
        >>> import jax, jax.numpy as jnp, credax
        >>> net = credax.nets.mlp([3, 4, 2], activation=jnp.tanh, key=0)
        >>> t = credax.nets.trace(net, jnp.ones((5, 3)))
        >>> [h.shape for h in t.inputs], t.outputs[-1].shape, t.order
        ([(5, 3), (5, 4)], (5, 2), (0, 1))
    """
    layers = find_layers(model)
    name = type(model).__name__
    x = jnp.asarray(x)
    if x.ndim < 1:
        raise ValueError(f"trace: expected a batch x of shape (B, ...), got shape {x.shape}")
    if offsets is not None:
        offsets = list(offsets)
        if len(offsets) != len(layers):
            raise ValueError(
                f"trace: expected one offset per credax layer ({len(layers)}), got {len(offsets)}"
            )
        for layer, z in zip(layers, offsets):
            if z is not None and tuple(jnp.shape(z)) != (x.shape[0], *layer.out_shape):
                raise ValueError(
                    f"trace: expected offsets of shape {(x.shape[0], *layer.out_shape)} for "
                    f"{type(layer).__name__}, got {tuple(jnp.shape(z))}"
                )
    orders: list[tuple[int, ...]] = []

    def one(xi, zi):
        rec = _Recorder(layers, zi, name)
        with _recording(rec):
            out = model(xi)
        missing = [i for i, r in enumerate(rec.records) if r is None]
        if missing:
            raise ValueError(
                f"{name}: credax layer(s) {missing} were never applied to the input; trace and "
                "the rules built on it need each credax layer applied exactly once per example"
            )
        orders.append(tuple(rec.order))
        ins, pre, outs = zip(*rec.records)
        return out, ins, pre, outs

    out, ins, pre, outs = jax.vmap(one)(x, offsets)
    return Trace(tuple(ins), tuple(pre), tuple(outs), out, orders[-1])


def call_order(model: Any, in_shape: Sequence[int] | None = None) -> tuple[int, ...]:
    """The order (as ``find_layers`` indices) in which ``model`` applies its credax layers,
    found by tracing it abstractly (no computation). ``in_shape`` is one example's shape; by
    default each layer's ``in_shape`` is tried as the model's input until one fits."""
    layers = find_layers(model)
    shapes = (
        [tuple(in_shape)]
        if in_shape is not None
        else list(dict.fromkeys(layer.in_shape for layer in layers))
    )
    errors = []
    for shape in shapes:
        dtype = layers[0].weight.dtype
        try:
            box = []
            jax.eval_shape(
                lambda xx, box=box: box.append(trace(model, xx).order),
                jax.ShapeDtypeStruct((1, *shape), dtype),
            )
            return box[0]
        except (ValueError, TypeError) as e:
            errors.append(str(e))
    raise ValueError(
        f"{type(model).__name__}: could not apply the model to an input of any of its layers' "
        f"input shapes {shapes}: {errors[-1] if errors else ''}"
    )


def local_updates(model: Any, inputs: Sequence[Any], deltas: Sequence[Any]) -> Any:
    """Per-layer errors at the pre-activations, turned into updates with the model's tree.

    For layer ``l`` with input ``h_{l-1}`` and error ``δ_l = ∂E/∂a_l`` (per example, already
    scaled as the objective wants, e.g. divided by ``B`` for a batch mean)::

        ΔW_l = Σ_n δ_l[n] h_{l-1}[n]ᵀ        (dense; the matching correlation for a convolution)
        Δb_l = Σ_n δ_l[n]                    (summed over positions for a convolution)

    computed as the pullback of ``W, b ↦ f(W, h_{l-1}) + b`` at ``δ_l``: one matrix product per
    layer. The result has a gradient's sign when ``δ_l`` is a gradient (rules that descend
    ``E`` pass ``δ_l``; Hebbian rules pass ``δ_l = -y`` to get ``updates = -Δw``).

    Args:
        model: a layered credax model.
        inputs: one array ``(B, *in_shape)`` per credax layer (pytree order), e.g.
            ``trace(model, x).inputs``; None for a layer without update.
        deltas: one array ``(B, *out_shape)`` per layer, or None (zero update for that layer).

    Returns:
        Updates with ``model``'s structure, shapes and dtypes; arrays outside credax layers are
        zero.

    Examples:
        >>> import jax, jax.numpy as jnp, credax
        >>> net = credax.nets.mlp([3, 4, 2], activation=jnp.tanh, key=0)
        >>> t = credax.nets.trace(net, jnp.ones((5, 3)))
        >>> u = credax.nets.local_updates(net, t.inputs, [None, jnp.ones((5, 2))])
        >>> u.layers[1].weight.shape, float(u.layers[1].bias[0]), float(u.layers[0].weight.sum())
        ((2, 4), 5.0, 0.0)
    """
    layers = find_layers(model)
    inputs, deltas = list(inputs), list(deltas)
    if len(inputs) != len(layers) or len(deltas) != len(layers):
        raise ValueError(
            f"local_updates: expected one input and one delta per credax layer ({len(layers)}), "
            f"got {len(inputs)} inputs and {len(deltas)} deltas"
        )
    grads = []
    for i, (layer, h, d) in enumerate(zip(layers, inputs, deltas)):
        plain = layer if layer.feedback is None else set_feedback(layer, None)
        if h is None or d is None:
            grads.append(jax.tree_util.tree_map(jnp.zeros_like, plain))
            continue
        h, d = jnp.asarray(h), jnp.asarray(d)
        if h.shape[1:] != tuple(layer.in_shape) or d.shape != (h.shape[0], *layer.out_shape):
            raise ValueError(
                f"local_updates: layer {i} ({type(layer).__name__}) expects inputs "
                f"(B, {', '.join(map(str, layer.in_shape))}) and deltas "
                f"(B, {', '.join(map(str, layer.out_shape))}) with the same B, got {h.shape} and "
                f"{d.shape}"
            )
        a, pullback = jax.vjp(lambda l, h=h: jax.vmap(l.preactivation)(h), plain)
        grads.append(pullback(d.astype(a.dtype))[0])
    return only_layers(map_layers(lambda i, l: grads[i], model))
