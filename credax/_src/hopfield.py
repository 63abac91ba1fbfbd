"""Hopfield networks: associative memory as attractors of a recurrent network.

- The classic network (Hopfield 1982; paper 004 of credax's sources): ``N`` binary units
  ``x_i = ±1``, symmetric weights from Hebb's rule, ``W = (1/N) Σ_μ ξ^μ ξ^μᵀ`` with a zero
  diagonal (``store``), and the dynamics ``x_i ← sign(Σ_j w_ij x_j)`` (``recall``), which never
  increase the energy ``E = -½ Σ_ij w_ij x_i x_j`` (``energy``) when units update one at a time.
  Stored patterns are attractors, recalled from partial or noisy cues, up to a load
  ``α = P/N ≈ 0.138`` (Amit, Gutfreund & Sompolinsky 1985; "~0.14N" in paper 004).
- The modern dense network (Ramsauer et al. 2020): ``ξ ← Xᵀ softmax(β X ξ)`` for patterns
  ``X`` (``modern_recall``), one step of which retrieves a pattern at loads exponential in
  ``N``.

Every function is pure and acts on one network (one weight matrix, one state): ``jax.vmap``
maps it over pattern sets, cues and keys, as ``benchmarks/hopfield_capacity.py`` does. Values
(``±1`` patterns) are checked where arrays are concrete.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from credax._src.checks import as_key, check_count, check_flag, check_positive


def _concrete(a: Any) -> bool:
    return not isinstance(a, jax.core.Tracer)


def _check_values(name: str, a: jax.Array, allowed: tuple[float, ...], what: str) -> None:
    if _concrete(a):
        values = np.unique(np.asarray(a))
        bad = [v for v in values.tolist() if v not in allowed]
        if bad:
            raise ValueError(f"expected {name} to hold {what}, found values such as {bad[:3]}")


def store(patterns: jax.typing.ArrayLike) -> jax.Array:
    """Hebbian storage: ``W = (1/N) Σ_μ ξ^μ ξ^μᵀ`` with ``w_ii = 0``.

    Args:
        patterns: ``(P, N)`` patterns of ``±1``.

    Returns:
        The ``(N, N)`` symmetric weight matrix (float32, or the patterns' float dtype).

    Examples:
        >>> import jax.numpy as jnp, credax
        >>> w = credax.hopfield.store(jnp.array([[1, -1, 1, -1], [1, 1, -1, -1]]))
        >>> w.shape, float(w[0, 0]), bool((w == w.T).all())
        ((4, 4), 0.0, True)
    """
    p = jnp.asarray(patterns)
    if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] < 2:
        raise ValueError(f"expected patterns of shape (P, N) with P >= 1 and N >= 2, got {p.shape}")
    _check_values("patterns", p, (-1.0, 1.0), "±1 values (the classic network's binary units)")
    dtype = p.dtype if jnp.issubdtype(p.dtype, jnp.floating) else jnp.float32
    p = p.astype(dtype)
    n = p.shape[1]
    w = p.T @ p / n
    return w * (1.0 - jnp.eye(n, dtype=dtype))


def _check_network(weights: Any, state: Any, name: str) -> tuple[jax.Array, jax.Array]:
    w, x = jnp.asarray(weights), jnp.asarray(state)
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"expected weights of shape (N, N), got {w.shape}")
    if x.shape != (w.shape[0],):
        raise ValueError(
            f"expected {name} of shape ({w.shape[0]},) for weights {w.shape} (map over cues with "
            f"jax.vmap), got {x.shape}"
        )
    return w, x.astype(w.dtype)


def energy(weights: jax.typing.ArrayLike, state: jax.typing.ArrayLike) -> jax.Array:
    """``E = -½ Σ_ij w_ij x_i x_j`` of a state ``x`` ``(N,)``."""
    w, x = _check_network(weights, state, "state")
    return -0.5 * x @ w @ x


def _sign(h: jax.Array, previous: jax.Array) -> jax.Array:
    """``sign(h)``, keeping the previous value where ``h = 0``."""
    return jnp.where(h > 0, 1.0, jnp.where(h < 0, -1.0, previous)).astype(previous.dtype)


def recall(
    weights: jax.typing.ArrayLike,
    cue: jax.typing.ArrayLike,
    *,
    key: Any = None,
    steps: int = 10,
    asynchronous: bool = True,
) -> jax.Array:
    """The classic dynamics from a cue: ``x_i ← sign(Σ_j w_ij x_j)``.

    Asynchronous (the default): each step is a sweep over every unit, one at a time, in a random
    order drawn from ``key`` (a new order each sweep); the energy never increases. Synchronous:
    every unit at once each step, ``x ← sign(W x)`` (which may end in a two-cycle). A unit with
    zero input keeps its value. Either stops early once a step changes nothing (a fixed point
    stays fixed), so ``steps`` is a budget: ``recall(..., steps=s)`` equals ``s`` steps.

    Under ``jax.vmap`` over keys every run reads ``W`` in its own order (a gather per unit);
    runs that share one key (vmap over cues only) read rows in one order, measured 3-6x faster
    on a CPU at ``N = 2000``.

    Args:
        weights: ``(N, N)`` symmetric weights (e.g. from ``store``).
        cue: ``(N,)`` start state of ``±1``, or ``0`` for unknown units (a partial cue).
        key: a PRNG key or int seed for the update order (asynchronous only).
        steps: at most this many sweeps (asynchronous) or parallel updates (synchronous), ≥ 1.
        asynchronous: update one unit at a time.

    Returns:
        The state ``(N,)`` after ``steps``.

    Examples:
        >>> import jax, jax.numpy as jnp, credax
        >>> xi = jnp.sign(jax.random.normal(jax.random.key(0), (3, 64)))
        >>> w = credax.hopfield.store(xi)
        >>> cue = xi[0].at[:16].set(0.0)                  # a quarter of the pattern unknown
        >>> x = credax.hopfield.recall(w, cue, key=1, steps=3)
        >>> bool((x == xi[0]).all())
        True
    """
    w, x = _check_network(weights, cue, "cue")
    _check_values("cue", x, (-1.0, 0.0, 1.0), "±1 values, or 0 for unknown units")
    steps = check_count("steps", steps)
    asynchronous = check_flag("asynchronous", asynchronous)
    if asynchronous:
        if key is None:
            raise TypeError("recall: the asynchronous dynamics need key=... (the update order)")
        keys = jax.random.split(as_key(key, "recall key"), steps)
        n = w.shape[0]

        def step(t, x):
            order = jax.random.permutation(keys[t], n)

            def unit(j, x):
                i = order[j]
                return x.at[i].set(_sign(w[i] @ x, x[i]))

            return jax.lax.fori_loop(0, n, unit, x)

    else:

        def step(t, x):
            return _sign(w @ x, x)

    def go(carry):
        t, x, _ = carry
        new = step(t, x)
        return t + 1, new, jnp.any(new != x)

    def more(carry):
        t, _, changed = carry
        return (t < steps) & changed

    return jax.lax.while_loop(more, go, (jnp.int32(0), x, jnp.bool_(True)))[1]


def overlap(patterns: jax.typing.ArrayLike, state: jax.typing.ArrayLike) -> jax.Array:
    """``m_μ = ξ^μ · x / N`` for every pattern ``(P,)``: 1 for a state equal to a pattern."""
    p, x = jnp.asarray(patterns), jnp.asarray(state)
    if p.ndim != 2 or x.shape != p.shape[1:]:
        raise ValueError(f"expected patterns (P, N) and a state (N,), got {p.shape} and {x.shape}")
    dtype = jnp.result_type(p.dtype, x.dtype, jnp.float32)
    return p.astype(dtype) @ x.astype(dtype) / p.shape[1]


def modern_recall(
    patterns: jax.typing.ArrayLike,
    cue: jax.typing.ArrayLike,
    *,
    beta: float,
    steps: int = 1,
) -> jax.Array:
    """The modern Hopfield network's update, ``ξ ← Xᵀ softmax(β X ξ)`` (Ramsauer et al. 2020,
    eq. 3), from a cue ``ξ``, ``steps`` times.

    With well-separated patterns one step retrieves the pattern closest to the cue; the number
    of patterns that can be stored grows exponentially with ``N`` (their Theorem 3), far beyond
    the classic network's ``0.138 N``. ``β`` is the inverse temperature: large ``β`` retrieves a
    single pattern, small ``β`` averages several (a metastable state).

    Args:
        patterns: ``X``, ``(P, N)`` real patterns.
        cue: ``ξ``, ``(N,)``.
        beta: ``β`` > 0 (a number, checked, or a traced array, e.g. mapped over by ``vmap``).
        steps: updates, ≥ 1.

    Returns:
        The state ``(N,)``.

    References:
        Ramsauer, Schäfl, Lehner, Seidl, Widrich, Gruber, Holzleitner, Pavlović, Sandve, Greiff,
        Kreil, Kopp, Klambauer, Brandstetter & Hochreiter (2020). Hopfield networks is all you
        need. arXiv:2008.02217 (ICLR 2021).
    """
    x = jnp.asarray(patterns)
    xi = jnp.asarray(cue)
    if x.ndim != 2 or xi.shape != x.shape[1:]:
        raise ValueError(f"expected patterns (P, N) and a cue (N,), got {x.shape} and {xi.shape}")
    if not isinstance(beta, jax.core.Tracer):
        beta = check_positive("beta", beta)
    steps = check_count("steps", steps)
    dtype = jnp.result_type(x.dtype, jnp.float32)
    x = x.astype(dtype)

    def step(s, _):
        return x.T @ jax.nn.softmax(beta * (x @ s)), None

    return jax.lax.scan(step, xi.astype(dtype), length=steps)[0]
