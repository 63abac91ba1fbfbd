"""Option and argument checks shared by every module: one helper per kind of check, each raising
an error that names the option and what was expected."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def is_number(value: Any) -> bool:
    """A real Python or NumPy number, not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """A finite number ``> 0`` (or ``>= 0``), as a float (strings are refused, not parsed)."""
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise TypeError(f"expected {name} to be a number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"expected {name} to be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"expected {name} to be a finite number, got {v}")
    if not (v > 0 or (allow_zero and v == 0)):
        raise ValueError(f"expected {name} {'>= 0' if allow_zero else '> 0'}, got {v}")
    return v


def check_count(name: str, value: Any, *, minimum: int = 1) -> int:
    """An int ``>= minimum`` (bools and non-integral numbers are refused, not rounded)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"expected {name} to be an int >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"expected {name} >= {minimum}, got {value}")
    return int(value)


def check_flag(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"expected {name} to be True or False, got {value!r}")
    return bool(value)


def check_callable(name: str, value: Any, expected: str) -> Callable:
    """A callable; ``expected`` says what it should be, e.g. ``"init(key, shape, dtype)"``."""
    if not callable(value):
        raise TypeError(f"expected {name} to be a callable {expected}, got {value!r}")
    return value


def as_key(key: Any, what: str = "key") -> jax.Array:
    """A PRNG key from a key or an int seed; anything else is a ``TypeError`` naming ``what``.

    Typed keys (``jax.random.key``) and legacy ``uint32[2]`` keys (``jax.random.PRNGKey``) pass
    through unchanged, tracers included; a Python or NumPy int becomes ``jax.random.key(seed)``.
    """
    if isinstance(key, (numbers.Integral, np.integer)) and not isinstance(key, (bool, np.bool_)):
        return jax.random.key(int(key))
    if isinstance(key, (jax.Array, np.ndarray)) or hasattr(key, "dtype"):
        dtype = key.dtype
        if jnp.issubdtype(dtype, jax.dtypes.prng_key):
            return key
        if dtype == jnp.uint32 and key.shape[-1:] == (2,):
            return key
        if key.shape == () and jnp.issubdtype(dtype, jnp.integer):
            if isinstance(key, jax.core.Tracer):
                raise TypeError(
                    f"expected {what} to be a PRNG key (jax.random.key(seed)); a traced integer "
                    "cannot be used as a seed, make the key outside"
                )
            return jax.random.key(int(key))
    raise TypeError(
        f"expected {what} to be a PRNG key (jax.random.key(seed)) or an int seed, got "
        f"{type(key).__name__} {key!r}"[:200]
    )


def positional_arity(fn: Callable) -> tuple[int, float] | None:
    """How many positional arguments ``fn`` takes, ``(required, maximum)``; None if unknown."""
    import inspect

    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    required, maximum = 0, 0.0
    for p in sig.parameters.values():
        if p.kind == p.VAR_POSITIONAL:
            maximum = math.inf
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            maximum += 1
            required += p.default is p.empty
    return required, maximum


def check_arity(name: str, fn: Callable, n: int, expected: str) -> None:
    """``fn`` can be called with ``n`` positional arguments (when its signature can be read)."""
    arity = positional_arity(fn)
    if arity is not None and not arity[0] <= n <= arity[1]:
        raise TypeError(f"expected {name} to take {n} argument(s), {expected}; got {fn!r}"[:300])
