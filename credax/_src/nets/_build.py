"""Network constructors: MLPs and a LeNet-5 style conv net, as ``Sequential`` equinox Modules."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax

from credax._src.checks import as_key
from credax._src.nets._containers import Flatten, MaxPool2d, Sequential
from credax._src.nets._conv import Conv2d
from credax._src.nets._dense import Dense
from credax._src.nets._dense import check_size as _size
from credax._src.nets._layer import identity


def mlp(
    sizes: Sequence[int],
    *,
    activation: Callable,
    key: jax.Array | int,
    final_activation: Callable = identity,
    use_bias: bool = True,
) -> Sequential:
    """A multilayer perceptron ``sizes[0] -> ... -> sizes[-1]`` of ``Dense`` layers.

    Args:
        sizes: layer widths (positive ints), input first, at least two.
        activation: ``σ`` of every hidden layer (a callable, e.g. ``jax.numpy.tanh``).
        key: a PRNG key or an int seed.
        final_activation: ``σ`` of the output layer (identity: logits).
        use_bias: whether layers have biases.

    Returns:
        A ``Sequential`` acting on one example of shape ``(sizes[0],)``.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> net = mlp([4, 8, 3], activation=jnp.tanh, key=jax.random.key(0))
        >>> net(jnp.ones(4)).shape
        (3,)
    """
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
        raise TypeError(f"mlp: expected a sequence of layer sizes, got {sizes!r}")
    if len(sizes) < 2:
        raise ValueError(f"mlp needs at least two positive sizes (input and output), got {sizes}")
    sizes = [_size(f"mlp size {i}", s) for i, s in enumerate(sizes)]
    keys = jax.random.split(as_key(key, "mlp key"), len(sizes) - 1)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        last = i == len(sizes) - 2
        layers.append(
            Dense(
                n_in,
                n_out,
                key=keys[i],
                activation=final_activation if last else activation,
                use_bias=use_bias,
            )
        )
    return Sequential(layers)


def lenet(
    *,
    key: jax.Array | int,
    in_shape: Sequence[int] = (1, 32, 32),
    n_classes: int = 10,
    activation: Callable = jax.nn.relu,
) -> Sequential:
    """LeNet-5 as in the published feedback-alignment benchmarks (Sanfiz & Akrout 2021).

    conv 5x5 (6) - σ - maxpool 2 - conv 5x5 (16) - σ - maxpool 2 - conv 5x5 (120) - σ -
    dense 84 - σ - dense ``n_classes``; on 32x32 inputs the last conv yields 120x1x1.

    Args:
        key: a PRNG key or an int seed.
        in_shape: ``(C, H, W)`` of one example.
        n_classes: outputs.
        activation: ``σ``.

    Returns:
        A ``Sequential`` acting on one ``(C, H, W)`` example.
    """
    if len(tuple(in_shape)) != 3:
        raise ValueError(f"lenet: expected in_shape (C, H, W), got {in_shape!r}")
    c, h, w = (_size(f"lenet in_shape[{i}]", v) for i, v in enumerate(in_shape))
    k = jax.random.split(as_key(key, "lenet key"), 5)
    c1 = Conv2d(c, 6, 5, input_hw=(h, w), key=k[0], activation=activation)
    p1 = MaxPool2d(2)
    h1, w1 = c1.out_shape[1] // 2, c1.out_shape[2] // 2
    c2 = Conv2d(6, 16, 5, input_hw=(h1, w1), key=k[1], activation=activation)
    h2, w2 = c2.out_shape[1] // 2, c2.out_shape[2] // 2
    c3 = Conv2d(16, 120, 5, input_hw=(h2, w2), key=k[2], activation=activation)
    flat = c3.out_shape[0] * c3.out_shape[1] * c3.out_shape[2]
    return Sequential(
        [
            c1,
            p1,
            c2,
            MaxPool2d(2),
            c3,
            Flatten(),
            Dense(flat, 84, key=k[3], activation=activation),
            Dense(84, n_classes, key=k[4]),
        ]
    )
