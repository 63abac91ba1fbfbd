"""Layers: the units every credax rule assigns credit to.

A credax network is a sequence of layers ``h_l = σ_l(f_l(θ_l, h_{l-1}))`` where ``f_l`` is
linear in its input (a dense or convolutional map plus a bias) and ``σ_l`` is an elementwise
activation. Each layer is an equinox Module that acts on ONE example; batching is left to
``jax.vmap``.

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
- ``Feedback(offset=z)``: adds ``z`` to the pre-activation ``a_l``; differentiating with respect to
  a zero ``z`` reads out the error signal ``δa_l`` a rule delivers to the layer (a probe).
- ``Feedback(delta=d)``: the cotangent reaching the pre-activation ``a_l`` is replaced by ``d``,
  whatever arrives from above. With every layer so tapped, differentiating any function of the
  output gives each layer the weight update it gets when ``d`` is its error: ``d h_{l-1}ᵀ`` for a
  dense layer, the matching correlation for a convolution (perturbation rules, which estimate
  ``δa_l`` without a backward pass, turn their estimates into weight updates this way).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax


def identity(x: jax.Array) -> jax.Array:
    """The identity activation."""
    return x


class Feedback(eqx.Module):
    """How a layer's backward pass differs from backprop (see the module docstring).

    Attributes:
        matrix: ``B``. Shape of the layer's weight for feedback-path rules; shape
            ``(n_out, *output_shape)`` for direct feedback.
        error: the output error ``e`` of this example, shape ``(n_out,)``, for direct feedback.
        offset: a pre-activation offset ``z`` added to ``a_l`` (zeros to read out ``δa_l``;
            noise for perturbation rules).
        delta: the error ``d`` (shape of ``a_l``) that replaces the cotangent at ``a_l``.
        direct: whether ``matrix`` is a direct-feedback matrix.
    """

    matrix: jax.Array | None = None
    error: jax.Array | None = None
    offset: jax.Array | None = None
    delta: jax.Array | None = None
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
    return jnp.tensordot(error, matrix, axes=1), None, None


_direct_tap.defvjp(_direct_tap_fwd, _direct_tap_bwd)


@jax.custom_vjp
def _delta_tap(a: jax.Array, delta: jax.Array) -> jax.Array:
    return a


def _delta_tap_fwd(a, delta):
    return a, delta


def _delta_tap_bwd(delta, g):
    # The layer's error is the given delta, whatever cotangent ``g`` arrives from above.
    return delta.astype(g.dtype), None


_delta_tap.defvjp(_delta_tap_fwd, _delta_tap_bwd)


class _Layer(eqx.Module):
    """Shared logic of parametrised credax layers (dense and convolutional)."""

    weight: eqx.AbstractVar[jax.Array]
    bias: eqx.AbstractVar[jax.Array | None]
    activation: eqx.AbstractVar[Callable]
    feedback: eqx.AbstractVar[Feedback | None]

    @property
    @abc.abstractmethod
    def linear(self) -> Callable[[jax.Array, jax.Array], jax.Array]:
        """``f(W, x)``: a static function, linear in each argument, giving the pre-activation
        without the bias for one example."""

    def _bias(self) -> jax.Array | None:
        return self.bias

    @property
    @abc.abstractmethod
    def in_shape(self) -> tuple[int, ...]:
        """Shape of one input example."""

    @property
    @abc.abstractmethod
    def out_shape(self) -> tuple[int, ...]:
        """Shape of one output example."""

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        if x.shape != self.in_shape:
            raise ValueError(
                f"{type(self).__name__} expects one example of shape {self.in_shape}, got an "
                f"array of shape {x.shape} (batch with jax.vmap)"
            )
        fb = self.feedback
        if fb is not None and fb.matrix is not None and not fb.direct:
            a = _with_feedback(self.linear, self.weight, fb.matrix, x)
        else:
            a = self.linear(self.weight, x)
        bias = self._bias()
        if bias is not None:
            a = a + bias
        if fb is not None and fb.offset is not None:
            a = a + fb.offset
        if fb is not None and fb.delta is not None:
            a = _delta_tap(a, fb.delta)
        h = self.activation(a)
        if fb is not None and fb.direct:
            h = _direct_tap(h, fb.matrix, fb.error)
        return h


def _uniform(key, shape, bound, dtype):
    return jax.random.uniform(key, shape, dtype, -bound, bound)


class Dense(_Layer):
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
        key: jax.Array,
        activation: Callable = identity,
        use_bias: bool = True,
        dtype=jnp.float32,
    ):
        """Glorot-uniform weights and zero biases (the initialisation of the published
        feedback-alignment benchmarks).

        Args:
            in_features: input size.
            out_features: output size.
            key: a PRNG key.
            activation: the elementwise ``σ``.
            use_bias: whether to add a bias.
            dtype: parameter dtype.
        """
        if in_features < 1 or out_features < 1:
            raise ValueError(f"Dense needs positive sizes, got {in_features} -> {out_features}")
        bound = math.sqrt(6.0 / (in_features + out_features))
        self.weight = _uniform(key, (out_features, in_features), bound, dtype)
        self.bias = jnp.zeros((out_features,), dtype) if use_bias else None
        self.activation = activation
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


class Conv2d(_Layer):
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
        key: jax.Array,
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
            key: a PRNG key.
            stride: ``s`` or ``(sh, sw)``.
            padding: symmetric zero padding ``p`` or ``(ph, pw)``.
            activation: the elementwise ``σ``.
            use_bias: whether to add a bias.
            dtype: parameter dtype.
        """
        kh, kw = _pair(kernel_size)
        self.stride = _pair(stride)
        ph, pw = _pair(padding)
        self.padding = ((ph, ph), (pw, pw))
        self.input_hw = _pair(input_hw)
        fan_in, fan_out = in_channels * kh * kw, out_channels * kh * kw
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        self.weight = _uniform(key, (out_channels, in_channels, kh, kw), bound, dtype)
        self.bias = jnp.zeros((out_channels,), dtype) if use_bias else None
        self.activation = activation
        self.feedback = None
        if min(self.out_shape) < 1:
            raise ValueError(
                f"Conv2d kernel {kh}x{kw} (stride {self.stride}, padding {(ph, pw)}) does not fit "
                f"an input of spatial size {self.input_hw}"
            )

    @property
    def linear(self):
        return partial(_conv, stride=self.stride, padding=self.padding)

    def _bias(self):
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


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    v = tuple(int(i) for i in v)
    if len(v) != 2:
        raise ValueError(f"expected an int or a pair of ints, got {v}")
    return v


class MaxPool2d(eqx.Module):
    """Max pooling over ``(C, H, W)`` with a square window and stride equal to the window."""

    window: int = eqx.field(static=True)

    def __init__(self, window: int = 2):
        self.window = int(window)

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
        self.layers = tuple(layers)

    def __call__(self, x: jax.Array) -> jax.Array:
        for layer in self.layers:
            x = layer(x)
        return x


def is_layer(node: Any) -> bool:
    """Whether ``node`` is a parametrised credax layer (dense or convolutional)."""
    return isinstance(node, _Layer)


def find_layers(model: Any) -> list[_Layer]:
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


def map_layers(fn: Callable[[int, _Layer], Any], model: Any) -> Any:
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


def set_feedback(layer: _Layer, feedback: Feedback | None) -> _Layer:
    """A copy of ``layer`` whose backward pass follows ``feedback``."""
    return eqx.tree_at(lambda l: l.feedback, layer, feedback, is_leaf=lambda n: n is None)


def attach(model: Any, feedbacks: Sequence[Feedback | None]) -> Any:
    """A copy of ``model`` whose ``i``-th layer carries ``feedbacks[i]``."""
    return map_layers(lambda i, l: set_feedback(l, feedbacks[i]), model)


def detach(tree: Any) -> Any:
    """Removes every layer's feedback: turns gradients of an attached model into updates with
    the structure of the caller's params."""
    return map_layers(lambda i, l: l if l.feedback is None else set_feedback(l, None), tree)
