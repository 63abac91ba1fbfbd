"""``credax.hopfield``: the classic network's energy never increases under asynchronous updates,
stored patterns are fixed points at low load and are completed from partial or noisy cues, the
modern network retrieves at loads far past ``N``, everything vmaps, and bad input is refused."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import credax
from credax import hopfield


def patterns(p, n, key=0):
    return jnp.where(jax.random.bernoulli(jax.random.key(key), 0.5, (p, n)), 1.0, -1.0)


def flip(x, fraction, key):
    """``x`` with a random ``fraction`` of its entries negated."""
    n = x.shape[-1]
    idx = jax.random.permutation(jax.random.key(key), n)[: int(fraction * n)]
    return x.at[idx].multiply(-1.0)


def test_store_is_hebbian_symmetric_with_zero_diagonal():
    xi = patterns(3, 20)
    w = hopfield.store(xi)
    expected = (np.asarray(xi).T @ np.asarray(xi)) / 20.0
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(w, expected, rtol=1e-6)
    np.testing.assert_array_equal(w, w.T)


def test_energy_never_increases_under_asynchronous_updates():
    # Past capacity (α = 0.3) the dynamics wander far from the patterns before settling.
    n = 60
    w = hopfield.store(patterns(18, n))
    starts = patterns(16, n, key=1)

    def energies(x, key):
        def sweep(x, k):
            x = hopfield.recall(w, x, key=k, steps=1)
            return x, hopfield.energy(w, x)

        _, es = jax.lax.scan(sweep, x, jax.random.split(key, 8))
        return jnp.concatenate([hopfield.energy(w, x)[None], es])

    es = jax.jit(jax.vmap(energies))(starts, jax.random.split(jax.random.key(2), 16))
    assert bool(jnp.all(jnp.diff(es, axis=1) <= 1e-5)), jnp.diff(es, axis=1).max()
    assert bool(jnp.any(jnp.diff(es, axis=1) < -0.1))  # and it does fall


def test_stored_patterns_are_fixed_points_at_low_load():
    n, p = 200, 10  # α = 0.05
    xi = patterns(p, n)
    w = hopfield.store(xi)
    out = jax.vmap(lambda x: hopfield.recall(w, x, key=0, steps=2))(xi)
    np.testing.assert_array_equal(out, xi)
    sync = jax.vmap(lambda x: hopfield.recall(w, x, steps=2, asynchronous=False))(xi)
    np.testing.assert_array_equal(sync, xi)


def test_patterns_are_completed_from_partial_and_noisy_cues():
    n, p = 200, 10
    xi = patterns(p, n, key=3)
    w = hopfield.store(xi)
    partial = xi.at[:, : n // 3].set(0.0)  # a third unknown
    noisy = jax.vmap(flip, (0, None, 0))(xi, 0.15, jnp.arange(p))
    for cues in (partial, noisy):
        out = jax.vmap(lambda x, k: hopfield.recall(w, x, key=k, steps=5))(
            cues, jax.random.split(jax.random.key(0), p)
        )
        m = jax.vmap(hopfield.overlap, (None, 0))(xi, out)  # (cue, pattern)
        np.testing.assert_allclose(jnp.diag(m), 1.0)


def test_past_capacity_the_patterns_are_no_longer_attractors():
    n = 200
    xi = patterns(60, n, key=4)  # α = 0.3, twice the critical load
    w = hopfield.store(xi)
    out = jax.vmap(lambda x, k: hopfield.recall(w, x, key=k, steps=5))(
        xi, jax.random.split(jax.random.key(0), 60)
    )
    m = jnp.diag(jax.vmap(hopfield.overlap, (None, 0))(xi, out))
    assert float(jnp.mean(m)) < 0.6, float(jnp.mean(m))


def test_recall_vmaps_over_pattern_sets_and_keys_like_a_loop():
    sets = jnp.stack([patterns(5, 40, key=k) for k in range(3)])
    cues = jax.vmap(lambda s: s[0].at[:10].set(0.0))(sets)
    keys = jax.random.split(jax.random.key(5), 3)

    def one(s, cue, key):
        return hopfield.recall(hopfield.store(s), cue, key=key, steps=3)

    batched = jax.jit(jax.vmap(one))(sets, cues, keys)
    looped = jnp.stack([one(s, c, k) for s, c, k in zip(sets, cues, keys)])
    np.testing.assert_array_equal(batched, looped)


def test_the_update_order_comes_from_the_key():
    n = 60
    w = hopfield.store(patterns(18, n))
    x = patterns(1, n, key=6)[0]
    a = hopfield.recall(w, x, key=1, steps=1)
    b = hopfield.recall(w, x, key=1, steps=1)
    others = [hopfield.recall(w, x, key=k, steps=1) for k in range(2, 8)]
    np.testing.assert_array_equal(a, b)
    assert any(bool(jnp.any(o != a)) for o in others)


def test_modern_network_retrieves_far_past_n():
    n, p = 64, 64 * 20  # 20 N patterns, past any classic capacity
    xi = patterns(p, n, key=7)
    cues = jax.vmap(flip, (0, None, 0))(xi[:50], 0.1, jnp.arange(50))
    out = jax.vmap(lambda c: hopfield.modern_recall(xi, c, beta=1.0))(cues)
    np.testing.assert_array_equal(jnp.sign(out), xi[:50])
    # The classic network at the same load retrieves nothing.
    w = hopfield.store(xi)
    classic = jax.vmap(lambda c: hopfield.recall(w, c, key=0, steps=3))(cues[:5])
    assert float(jnp.mean(classic * xi[:5])) < 0.5  # mean overlap with the cued patterns


def test_modern_network_at_low_beta_averages_patterns():
    xi = patterns(4, 32, key=8)
    out = hopfield.modern_recall(xi, xi[0], beta=1e-4)
    np.testing.assert_allclose(out, jnp.mean(xi, 0), atol=1e-2)


# --- bad inputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: hopfield.store(jnp.asarray([[1.0, 0.5], [1.0, -1.0]])), ValueError, "±1 values"),
        (lambda: hopfield.store(jnp.asarray([[0, 1, 1]])), ValueError, "±1 values"),
        (lambda: hopfield.store(jnp.ones(5)), ValueError, r"shape \(P, N\)"),
        (
            lambda: hopfield.recall(jnp.eye(4), jnp.ones(5), key=0),
            ValueError,
            r"cue of shape \(4,\)",
        ),
        (lambda: hopfield.recall(jnp.ones((4, 3)), jnp.ones(4), key=0), ValueError, r"\(N, N\)"),
        (
            lambda: hopfield.recall(jnp.eye(4), jnp.full(4, 2.0), key=0),
            ValueError,
            "±1 values, or 0",
        ),
        (lambda: hopfield.recall(jnp.eye(4), jnp.ones(4)), TypeError, "need key="),
        (lambda: hopfield.recall(jnp.eye(4), jnp.ones(4), key=0, steps=0), ValueError, "steps"),
        (lambda: hopfield.energy(jnp.eye(4), jnp.ones(3)), ValueError, r"state of shape \(4,\)"),
        (lambda: hopfield.overlap(jnp.ones((2, 4)), jnp.ones(3)), ValueError, r"\(P, N\)"),
        (
            lambda: hopfield.modern_recall(jnp.ones((2, 4)), jnp.ones(3), beta=1.0),
            ValueError,
            "cue",
        ),
        (
            lambda: hopfield.modern_recall(jnp.ones((2, 4)), jnp.ones(4), beta=0.0),
            ValueError,
            "beta",
        ),
        (
            lambda: hopfield.modern_recall(jnp.ones((2, 4)), jnp.ones(4), beta=-1.0),
            ValueError,
            "beta",
        ),
    ],
)
def test_bad_input_is_refused(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_hopfield_is_public():
    assert credax.hopfield is hopfield
    assert set(hopfield.__all__) == {"energy", "modern_recall", "overlap", "recall", "store"}


def test_recall_stops_once_stable_and_equals_the_full_budget():
    n = 80
    xi = patterns(20, n, key=9)  # α = 0.25: several sweeps before a fixed point
    w = hopfield.store(xi)
    cue = flip(xi[0], 0.2, 3)
    key = jax.random.key(4)
    keys = jax.random.split(key, 30)

    wn = np.asarray(w)

    def by_hand(x, k):  # one sweep in NumPy
        for i in np.asarray(jax.random.permutation(k, n)):
            h = wn[i] @ x
            x[i] = 1.0 if h > 0 else (-1.0 if h < 0 else x[i])
        return x

    x, history = np.array(cue), []
    for k in keys:  # all 30 sweeps, no early stop
        x = by_hand(x, k)
        history.append(x.copy())
    assert not np.array_equal(history[0], history[-1])  # it took more than one sweep
    np.testing.assert_array_equal(hopfield.recall(w, cue, key=key, steps=30), x)


def test_modern_recall_maps_over_beta():
    xi = patterns(4, 32, key=8)
    out = jax.vmap(lambda b: hopfield.modern_recall(xi, xi[0], beta=b))(jnp.asarray([1e-4, 1.0]))
    np.testing.assert_allclose(out[0], jnp.mean(xi, 0), atol=1e-2)
    np.testing.assert_array_equal(jnp.sign(out[1]), xi[0])
