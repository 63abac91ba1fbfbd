"""The 2-D convolution layer."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from credax._src.checks import as_key
from credax._src.nets._dense import check_activation, check_size, uniform
from credax._src.nets._layer import Layer, identity


def _conv(weight: jax.Array, x: jax.Array, *, stride, padding) -> jax.Array:
    y = lax.conv_general_dilated(
        x[None], weight, stride, padding, dimension_numbers=("NCHW", "OIHW", "NCHW")
    )
    return y[0]


def check_pair(name: str, v: int | Sequence[int], *, minimum: int = 1) -> tuple[int, int]:
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
        c_in = check_size("in_channels", in_channels)
        c_out = check_size("out_channels", out_channels)
        kh, kw = check_pair("kernel_size", kernel_size)
        self.stride = check_pair("stride", stride)
        ph, pw = check_pair("padding", padding, minimum=0)
        self.padding = ((ph, ph), (pw, pw))
        self.input_hw = check_pair("input_hw", input_hw)
        key = as_key(key, "Conv2d key")
        fan_in, fan_out = c_in * kh * kw, c_out * kh * kw
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        self.weight = uniform(key, (c_out, c_in, kh, kw), bound, dtype)
        self.bias = jnp.zeros((c_out,), dtype) if use_bias else None
        self.activation = check_activation(activation)
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
