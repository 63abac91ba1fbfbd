"""The values of a batch, checked: what the trace-time checks of rules cannot see."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

from credax._src.batches import BATCHES, MODULATED, SUPERVISED, TASK_NAMES, UNSUPERVISED


def _concrete(*arrays) -> bool:
    return not any(isinstance(a, jax.core.Tracer) for a in arrays)


def check(params: Any, batch: Any, *, task: str = SUPERVISED, loss: Callable | None = None):
    """Checks a batch's values against the model, beyond the shapes a rule checks when traced.

    Rules check shapes and dtypes when their ``update`` is traced, never values: under
    ``jax.jit`` the values are unknown, so an integer label outside ``[0, n_out)`` becomes a
    zero one-hot row and a rule gives finite updates. This checks the values: finite inputs;
    for a supervised batch, integer labels in ``[0, n_out)`` for the model's ``n_out`` outputs
    (and, given the ``loss``, the targets through it: e.g. soft targets of
    ``softmax_cross_entropy`` must be distributions); for a modulated batch, a finite modulator.

    On concrete arrays it raises at once (call it on each batch before a jitted step of your own).
    Inside ``jax.jit`` it is a ``jax.experimental.checkify`` check: functionalize the step with
    ``checkify.checkify`` and read the error it returns (plain ``jax.jit`` refuses to stage it,
    saying so). ``credax.train.make_fit`` checks the data it is given this way before compiling.

    Args:
        params: the model.
        batch: a batch of ``task``.
        task: ``"supervised"``, ``"unsupervised"`` or ``"modulated"``.
        loss: optional, the loss whose own checks the targets must pass (concrete arrays).

    Returns:
        The checked batch as the task parses it.

    Raises:
        ValueError: naming the first value that fails, on concrete arrays.

    Examples:
        >>> import jax.numpy as jnp, credax
        >>> net = credax.nets.mlp([3, 4, 2], activation=jnp.tanh, key=0)
        >>> credax.tasks.check(net, (jnp.ones((2, 3)), jnp.array([0, 2])))
        Traceback (most recent call last):
        ...
        ValueError: labels must lie in [0, 2) for the model's 2 outputs, got values in [0, 2]
    """
    if task not in TASK_NAMES:
        raise ValueError(f"check: unknown task {task!r}; expected one of {', '.join(TASK_NAMES)}")
    parsed = BATCHES[task](params, batch)
    x = parsed if task == UNSUPERVISED else parsed[0]
    checks = [(jnp.all(jnp.isfinite(x)), "expected finite inputs x, found NaN or inf", x)]
    if task == SUPERVISED:
        y = parsed[1]
        out = eqx.filter_eval_shape(lambda p, xx: jax.vmap(p)(xx), params, x)
        if jnp.issubdtype(y.dtype, jnp.integer) and out.ndim == 2:
            n = out.shape[1]
            lo, hi = jnp.min(y), jnp.max(y)
            checks.append(
                (
                    (lo >= 0) & (hi < n),
                    f"labels must lie in [0, {n}) for the model's {n} outputs, got values in "
                    "[{lo}, {hi}]",
                    y,
                )
            )
        elif jnp.issubdtype(y.dtype, jnp.floating):
            checks.append((jnp.all(jnp.isfinite(y)), "expected finite targets y", y))
        if loss is not None and _concrete(y):
            try:
                loss(np.zeros(out.shape, np.float32), np.asarray(y))
            except (ValueError, TypeError) as e:
                raise ValueError(f"targets: {e}") from None
    elif task == MODULATED:
        checks.append(
            (jnp.all(jnp.isfinite(parsed[1])), "expected a finite modulator m", parsed[1])
        )
    for ok, message, arr in checks:
        if _concrete(arr):
            if not bool(ok):
                if "{lo}" in message:
                    message = message.format(lo=int(jnp.min(arr)), hi=int(jnp.max(arr)))
                raise ValueError(message)
        elif "{lo}" in message:
            checkify.check(ok, message, lo=jnp.min(arr), hi=jnp.max(arr))
        else:
            checkify.check(ok, message)
    return parsed
